"""The invariants no money path may break: inventory, order status and payment status agree."""
from collections import Counter, defaultdict

from sqlalchemy import select

from server.extensions import db
from server.models import (OrderStatus, Payment, PaymentStatus, Ticket, TicketOrder, TicketStatus,
                           TicketType)

PROVIDER_METHODS = ("mpesa", "stripe")


def _inventory_problems(orders: list[TicketOrder]) -> list[str]:
    held, issued = Counter(), Counter()
    for order in orders:
        if order.status == OrderStatus.PENDING:
            for item in order.items:
                held[item.ticket_type_id] += item.quantity
    for ticket in db.session.scalars(select(Ticket).where(Ticket.status != TicketStatus.VOID)):
        issued[ticket.ticket_type_id] += 1
    problems = []
    for tier in db.session.scalars(select(TicketType)):
        if tier.held != held[tier.id]:
            problems.append(f"tier {tier.id}: held {tier.held}, pending orders hold {held[tier.id]}")
        if tier.sold != issued[tier.id]:
            problems.append(f"tier {tier.id}: sold {tier.sold}, live tickets {issued[tier.id]}")
        if tier.sold + tier.held > tier.quantity:
            problems.append(f"tier {tier.id}: oversold")
    return problems


def _order_problems(order: TicketOrder, payments: list[Payment]) -> list[str]:
    live_tickets = [t for t in order.tickets if t.status != TicketStatus.VOID]
    wanted = sum(item.quantity for item in order.items)
    paying = [p for p in payments if p.status == PaymentStatus.CONFIRMED and not p.needs_refund]
    refunded = [p for p in payments if p.status == PaymentStatus.REFUNDED]
    problems = []
    if order.status == OrderStatus.PAID and len(order.tickets) != wanted:
        problems.append(f"order {order.id}: paid with {len(order.tickets)} of {wanted} tickets")
    if order.status != OrderStatus.PAID and live_tickets:
        problems.append(f"order {order.id}: {order.status.value} but has live tickets")
    method = order.payment_method.value if order.payment_method else None
    if order.status == OrderStatus.PAID and method in PROVIDER_METHODS and len(paying) != 1:
        problems.append(f"order {order.id}: paid by {method} with {len(paying)} confirmed payments")
    if order.status != OrderStatus.PAID and paying:
        problems.append(f"order {order.id}: {order.status.value} but payment {paying[0].id} "
                        "is confirmed and not flagged for refund")
    if order.status == OrderStatus.REFUNDED and method in PROVIDER_METHODS and not refunded:
        problems.append(f"order {order.id}: refunded but no payment is")
    for payment in payments:
        if payment.status == PaymentStatus.CONFIRMED and payment.amount != order.total:
            problems.append(f"payment {payment.id}: confirmed {payment.amount} for {order.total}")
        if payment.status == PaymentStatus.REFUNDED and not payment.refunds:
            problems.append(f"payment {payment.id}: refunded without a refund record")
    return problems


def money_problems() -> list[str]:
    """Every disagreement between inventory, orders, tickets and payments, as sentences."""
    db.session.expire_all()
    orders = list(db.session.scalars(select(TicketOrder).order_by(TicketOrder.id)))
    payments = defaultdict(list)
    for payment in db.session.scalars(select(Payment)):
        payments[payment.order_id].append(payment)
    problems = _inventory_problems(orders)
    for order in orders:
        problems += _order_problems(order, payments[order.id])
    return problems


def assert_money_invariants() -> None:
    """Fail with every problem found."""
    problems = money_problems()
    assert not problems, "\n".join(problems)
