"""Refunding orders: tickets voided, inventory given back, and the money owed recorded.

A refund of money is a Refund row against the payment that paid, written in the order's own
transaction; the payments domain sends it to the provider after commit (job "refunds.execute").
"""
from sqlalchemy import select

from server.extensions import db
from server.models import (AuditAction, OrderStatus, Payment, PaymentProvider, PaymentStatus,
                           Refund, RefundMethod, TicketOrder, User, utcnow)
from server.services.common import audit
from server.services.orders.lifecycle import close, order_for
from server.services.orders.tickets import void_ticket_row
from server.tasks import jobs


def start_refund(payment: Payment, actor: User | None, reason: str) -> Refund:
    """Turn a locked confirmed payment into a refunded one and record the refund (no commit)."""
    method = RefundMethod.STRIPE if payment.provider == PaymentProvider.STRIPE else RefundMethod.MANUAL
    refund = Refund(payment=payment, amount=payment.amount, currency=payment.currency, method=method,
                    requested_by_id=actor.id if actor else None, reason=reason)
    payment.status, payment.needs_refund = PaymentStatus.REFUNDED, False
    db.session.add(refund)
    if method == RefundMethod.STRIPE:
        db.session.flush()
        jobs.after_commit("refunds.execute", refund.id)
    return refund


def record_for_order(order: TicketOrder, actor: User | None, reason: str) -> Refund | None:
    """Refund the payment that paid a locked order being refunded (no commit)."""
    payment = db.session.scalar(
        select(Payment).where(Payment.order_id == order.id,
                              Payment.status == PaymentStatus.CONFIRMED,
                              Payment.needs_refund.is_(False)).with_for_update())
    return start_refund(payment, actor, reason) if payment else None


def _refund(order: TicketOrder, actor: User | None, reason: str | None) -> None:
    """Void a paid order's tickets and mark it refunded; with a `reason`, the payment that paid
    it is refunded too (without one, the money already went back at the provider)."""
    voided = sum(void_ticket_row(ticket) for ticket in order.tickets)
    order.status, order.closed_at = OrderStatus.REFUNDED, utcnow()
    audit.record(AuditAction.ORDER_REFUNDED, actor=actor, target_type="order", target_id=order.id,
                 reason=reason or "Refunded at the payment provider.", event_id=order.event_id,
                 total=str(order.total), currency=order.currency, tickets_voided=voided)
    if reason:
        record_for_order(order, actor, reason)


def refund_paid_order(order: TicketOrder) -> bool:
    """A locked order whose money was refunded at the provider: refund it here too (no commit)."""
    if order.status != OrderStatus.PAID:
        return False
    _refund(order, None, None)
    return True


def refund_order(*, order_id: int, actor: User) -> TicketOrder:
    """Refund a paid order: its valid tickets are voided and their inventory given back."""
    order = order_for(order_id, actor, buyer_allowed=False, status=OrderStatus.PAID,
                      refusal="Only a paid order can be refunded.", code="order_not_refundable")
    _refund(order, actor, "Order refunded.")
    db.session.commit()
    return order


def close_event_orders(event_id: int, actor: User | None = None) -> dict:
    """Cancel an event's pending orders and refund its paid ones (no commit); how many of each."""
    orders = db.session.scalars(
        select(TicketOrder).where(TicketOrder.event_id == event_id,
                                  TicketOrder.status.in_([OrderStatus.PENDING, OrderStatus.PAID]))
        .order_by(TicketOrder.id).with_for_update())
    counts = {"orders_cancelled": 0, "orders_refunded": 0}
    for order in orders:
        if order.status == OrderStatus.PENDING:
            close(order, OrderStatus.CANCELLED)
            counts["orders_cancelled"] += 1
        else:
            _refund(order, actor, "Event cancelled.")
            counts["orders_refunded"] += 1
    return counts
