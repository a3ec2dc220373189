"""What both providers share: starting an attempt, the payment state machine, the audit log.

Lock order is always the order row first, then the payment row, so a callback, a webhook, the
reconciliation job and a cancellation of the same order serialise without deadlocks.
"""
import hashlib
import json
import logging
from datetime import timedelta

from sqlalchemy import select

from server.platform.errors import Conflict, NotFound, ValidationError
from server.extensions import db
from server.models import (OrderStatus, Payment, PaymentEvent, PaymentFlag, PaymentMethod,
                           PaymentProvider, PaymentStatus, TicketOrder, User, utcnow)
from server.services.orders import apply_payment, lock_order
from server.tasks import jobs

log = logging.getLogger(__name__)

IDEMPOTENCY_WINDOW = timedelta(hours=24)
OPEN = (PaymentStatus.CREATED, PaymentStatus.PENDING)
SETTLED = (PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED)


def fingerprint(*parts) -> str:
    """A stable hash of a payment start's body, to tell a replay from a different request."""
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


def replay(user: User, key: str | None, request_hash: str) -> Payment | None:
    """The payment started earlier with this Idempotency-Key, or None when the key is new."""
    if not key:
        return None
    payment = db.session.scalar(select(Payment).where(Payment.user_id == user.id,
                                                      Payment.idempotency_key == key))
    if payment is None:
        return None
    if payment.created_at < utcnow() - IDEMPOTENCY_WINDOW:
        payment.idempotency_key = None
        db.session.commit()
        return None
    if payment.request_hash != request_hash:
        raise ValidationError("This Idempotency-Key was used with a different request.",
                              fields={"Idempotency-Key": ["Already used with another body."]})
    return payment


def payable_order(order_id: int, user: User) -> TicketOrder:
    """The caller's pending order, row-locked; 404 for someone else's, 409 when not payable."""
    order = lock_order(order_id)
    if order is None or order.buyer_id != user.id:
        raise NotFound("No such order.")
    if order.status != OrderStatus.PENDING or order.expires_at <= utcnow() or order.total <= 0:
        raise Conflict("This order cannot be paid.", code="order_not_payable",
                       details={"status": order.status.value})
    return order


def extend_hold(order: TicketOrder, seconds: float) -> None:
    """Keep the order's tickets held at least `seconds` from now."""
    order.expires_at = max(order.expires_at, utcnow() + timedelta(seconds=seconds))


def open_attempts(order: TicketOrder, provider) -> list[Payment]:
    """The order's attempts with `provider` that may still succeed, newest first."""
    return list(db.session.scalars(
        select(Payment).where(Payment.order_id == order.id, Payment.provider == provider,
                              Payment.status.in_(OPEN)).order_by(Payment.id.desc())))


def lock(payment_id: int) -> tuple[TicketOrder, Payment]:
    """The payment and its order, both row-locked (order first)."""
    order_id = db.session.scalar(select(Payment.order_id).where(Payment.id == payment_id))
    if order_id is None:
        raise NotFound("No such payment.")
    order = lock_order(order_id)
    payment = db.session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update()
                                .execution_options(populate_existing=True))
    return order, payment


def record(payment_id: int | None, kind: str, body, http_status: int | None = None) -> PaymentEvent:
    """Append one raw provider message to the audit log (no commit)."""
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    elif body is not None and not isinstance(body, str):
        body = json.dumps(body, default=str)
    if body is not None and "\x00" in body:  # PostgreSQL text cannot hold NUL: keep the rest
        body = body.replace("\x00", "\ufffd")
    entry = PaymentEvent(payment_id=payment_id, kind=kind, http_status=http_status, body=body)
    db.session.add(entry)
    return entry


def record_exchange(payment_id: int, kind: str, exchange) -> None:
    """Log what was sent and what came back for one HTTP round trip (no commit)."""
    if exchange is None:
        return
    record(payment_id, f"{kind}.request", exchange.request)
    record(payment_id, f"{kind}.response", exchange.response_text, exchange.status)


def confirm(order: TicketOrder, payment: Payment) -> bool:
    """Money arrived for `payment`: confirm it and pay the order if the order can still take it.

    Both rows must be locked. Idempotent. Money that cannot buy the order (already paid by another
    attempt, cancelled, expired and sold out, refunded) stays confirmed and is flagged for refund.
    Returns True when this call confirmed the payment.
    """
    if payment.status in SETTLED:
        return False
    payment.status, payment.confirmed_at, payment.next_query_at = (
        PaymentStatus.CONFIRMED, utcnow(), None)
    if order.status == OrderStatus.PAID or not apply_payment(order):
        payment.needs_refund = True
        log.warning("payment %s confirmed for order %s (%s): flagged for refund",
                    payment.id, order.id, order.status.value)
        return True
    order.payment_method = PaymentMethod(payment.provider.value)
    return True


def record_settled(*, order_id: int, provider: PaymentProvider, receipt: str,
                   phone: str | None = None) -> Payment:
    """A payment whose money is known to have arrived outside the provider flow (demo data)."""
    order = lock_order(order_id)
    payment = Payment(order=order, user_id=order.buyer_id, provider=provider, amount=order.total,
                      currency=order.currency, phone=phone, status=PaymentStatus.PENDING,
                      mpesa_receipt=receipt if provider == PaymentProvider.MPESA else None,
                      result_code="0", result_desc="Recorded without the provider.")
    db.session.add(payment)
    confirm(order, payment)
    db.session.commit()
    return payment


def close(payment: Payment, status: PaymentStatus, code: str | None, desc: str | None) -> None:
    """An open attempt ended without money (failed or cancelled); settled ones are kept."""
    if payment.status not in OPEN:
        return
    payment.status, payment.next_query_at = status, None
    payment.result_code, payment.result_desc = code, (desc or "")[:255] or None


def flag(payment: Payment, reason: PaymentFlag) -> None:
    """Mark a payment for an admin's attention."""
    payment.flag = reason
    log.warning("payment %s flagged: %s", payment.id, reason.value)


@jobs.job("orders.paid")
def order_paid(order_id: int) -> None:
    """After an order is paid (its tickets issued): email the buyer their tickets."""
    log.info("order %s paid", order_id)
    jobs.enqueue("email.order_paid", order_id)
