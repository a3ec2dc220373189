"""Order transitions after placing: pay, cancel, expire, refund, and the event-cancellation cascade.

Every transition locks the order row first, so concurrent cancel, expiry and payment of one order
serialise and exactly one of them wins; each moves inventory with a guarded statement in the same
transaction as the status change.
"""
import logging

from sqlalchemy import select

from server.platform.errors import Conflict, Forbidden, NotFound
from server.extensions import db
from server.models import AuditAction, OrderStatus, PaymentMethod, TicketOrder, User, utcnow
from server.services.common import audit
from server.services.orders import inventory
from server.tasks import jobs
from server.services.orders.tickets import issue_tickets

log = logging.getLogger(__name__)
CLOSED = (OrderStatus.CANCELLED, OrderStatus.EXPIRED)


def lock_order(order_id: int) -> TicketOrder | None:
    """The order, row-locked for the rest of the transaction."""
    return db.session.scalar(select(TicketOrder).where(TicketOrder.id == order_id)
                             .with_for_update().execution_options(populate_existing=True))


def order_for(order_id: int, actor: User, *, buyer_allowed: bool, status: OrderStatus,
              refusal: str, code: str) -> TicketOrder:
    """The locked order if `actor` may act on it and it is in `status`.

    404 if they cannot see it, 403 if they may not act on it, 409 `code` (`refusal`) if it is not
    in `status`.
    """
    order = lock_order(order_id)
    is_buyer = order is not None and order.buyer_id == actor.id
    manages = order is not None and order.event.is_managed_by(actor)
    if not (is_buyer or manages):
        raise NotFound("No such order.")
    if not (manages or (buyer_allowed and is_buyer)):
        raise Forbidden("Only the event's organizer or an admin can do this.")
    if order.status != status:
        raise Conflict(refusal, code=code, details={"status": order.status.value})
    return order


def close(order: TicketOrder, status: OrderStatus) -> None:
    for item in order.items:
        inventory.release_hold(item.ticket_type_id, item.quantity)
    order.status, order.closed_at = status, utcnow()


def _retake(order: TicketOrder) -> bool:
    """Sell a closed order's tickets again for a late payment; False (nothing taken) if gone."""
    savepoint = db.session.begin_nested()
    for item in order.items:
        if not inventory.take(item.ticket_type_id, item.quantity):
            savepoint.rollback()
            return False
    savepoint.commit()
    return True


def apply_payment(order: TicketOrder) -> bool:
    """Mark a locked order paid and issue its tickets (no commit). Idempotent.

    A payment for an expired order re-takes the inventory when it still can; otherwise, and
    always for a cancelled order, the order keeps its status and is flagged for refund.
    Returns True when paid.
    """
    if order.status in (OrderStatus.PAID, OrderStatus.REFUNDED):
        return order.status == OrderStatus.PAID
    if order.status == OrderStatus.PENDING:
        for item in order.items:
            inventory.confirm_hold(item.ticket_type_id, item.quantity)
    elif order.status != OrderStatus.EXPIRED or not _retake(order):
        order.needs_refund = True
        return False
    order.status, order.paid_at, order.closed_at = OrderStatus.PAID, utcnow(), None
    order.expires_at = None
    issue_tickets(order)
    return True


def mark_order_paid(*, order_id: int) -> TicketOrder:
    """Record that an order's payment was confirmed (see `apply_payment`)."""
    order = lock_order(order_id)
    if order is None:
        raise NotFound("No such order.")
    apply_payment(order)
    db.session.commit()
    return order


def cancel_order(*, order_id: int, actor: User) -> TicketOrder:
    """Cancel a pending order (its buyer, the event's organizer or an admin)."""
    order = order_for(order_id, actor, buyer_allowed=True, status=OrderStatus.PENDING,
                      refusal="Only a pending order can be cancelled.", code="order_not_cancellable")
    close(order, OrderStatus.CANCELLED)
    if order.buyer_id != actor.id:  # the buyer's own cancellation is not a decision about others
        audit.record(AuditAction.ORDER_CANCELLED, actor=actor, target_type="order",
                     target_id=order.id, event_id=order.event_id, buyer_id=order.buyer_id)
    if order.payment_method == PaymentMethod.STRIPE:
        jobs.after_commit("stripe.expire_sessions", order.id)
    db.session.commit()
    return order


def expire_order(*, order_id: int) -> bool:
    """Expire one pending order past its hold; True when it expired now."""
    order = lock_order(order_id)
    expired = (order is not None and order.status == OrderStatus.PENDING
               and order.expires_at <= utcnow())
    if expired:
        close(order, OrderStatus.EXPIRED)
    db.session.commit()
    return expired


def expire_due_orders(*, limit: int = 500) -> int:
    """Expire pending orders whose hold has run out, one transaction each; returns how many."""
    due = list(db.session.scalars(
        select(TicketOrder.id).where(TicketOrder.status == OrderStatus.PENDING,
                                     TicketOrder.expires_at <= utcnow())
        .order_by(TicketOrder.expires_at).limit(limit)))
    db.session.rollback()
    return sum(expire_order(order_id=order_id) for order_id in due)


def release_pending(order: TicketOrder) -> None:
    """A locked pending order whose payment attempt is over: release its tickets now (no commit)."""
    close(order, OrderStatus.EXPIRED)


@jobs.job("orders.expire_due")
def _expire_orders() -> None:
    """Expire the pending orders whose hold has run out (a periodic job)."""
    if count := expire_due_orders():
        log.info("expired %d orders", count)
