"""Refunds: recorded against the payment that paid; Stripe's executed by its API, M-Pesa's by an admin.

Safaricom's reversal needs separate credentials, so an M-Pesa refund is a manual task: it stays
pending until an admin records what they did.
"""
import logging

from sqlalchemy import select

from server.platform.errors import Conflict, NotFound
from server.extensions import db
from server.models import (AuditAction, Payment, PaymentStatus, Refund, RefundMethod, RefundStatus,
                           User, utcnow)
from server.services.payments import providers
from server.payments.stripe.gateway import StripeError, from_minor, to_minor
from server.services import orders
from server.services.common import audit
from server.services.payments import ledger
from server.tasks import jobs

log = logging.getLogger(__name__)


def refund_payment(*, payment_id: int, actor: User) -> Payment:
    """An admin refunds money that could not buy its order (a payment flagged for refund)."""
    order, payment = ledger.lock(payment_id)
    if payment.status != PaymentStatus.CONFIRMED or not payment.needs_refund:
        raise Conflict("Only a confirmed payment flagged for refund can be refunded here; "
                       "refund a paid order through its order.", code="payment_not_refundable",
                       details={"status": payment.status.value})
    refund = orders.start_refund(payment, actor, "Payment could not buy its order.")
    db.session.flush()
    audit.record(AuditAction.PAYMENT_REFUND_REQUESTED, actor=actor, target_type="payment",
                 target_id=payment.id, order_id=order.id, refund_id=refund.id,
                 method=refund.method.value, provider=payment.provider.value,
                 amount=str(payment.amount), currency=payment.currency)
    order.needs_refund = db.session.scalar(select(Payment.id).where(
        Payment.order_id == order.id, Payment.needs_refund.is_(True)).limit(1)) is not None
    db.session.commit()
    return payment


def complete_manual(*, refund_id: int, reference: str, actor: User) -> Refund:
    """An admin records that they executed a manual (M-Pesa) refund."""
    refund = db.session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    if refund is None:
        raise NotFound("No such refund.")
    if refund.method != RefundMethod.MANUAL or refund.status != RefundStatus.PENDING:
        raise Conflict("Only a pending manual refund can be completed.", code="refund_not_pending",
                       details={"status": refund.status.value, "method": refund.method.value})
    refund.status, refund.reference, refund.completed_at = RefundStatus.SUCCEEDED, reference, utcnow()
    audit.record(AuditAction.REFUND_COMPLETED_MANUALLY, actor=actor, target_type="refund",
                 target_id=refund.id, payment_id=refund.payment_id, reference=reference,
                 amount=str(refund.amount), currency=refund.currency)
    db.session.commit()
    return refund


@jobs.job("refunds.execute")
def execute(refund_id: int) -> None:
    """Ask Stripe to refund; a failure Stripe may recover from is retried by reconciliation."""
    refund = db.session.get(Refund, refund_id)
    if refund is None or refund.method != RefundMethod.STRIPE or refund.stripe_refund_id:
        return
    intent, amount = refund.payment.stripe_payment_intent, to_minor(refund.amount, refund.currency)
    db.session.rollback()
    try:
        answer = providers.stripe_gateway().create_refund(payment_intent=intent, amount=amount,
                                                          refund_id=refund_id)
    except StripeError as exc:
        _refund_failed(refund_id, exc)
        return
    refund = db.session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    ledger.record(refund.payment_id, "stripe.refund", answer)
    _apply_stripe_refund(refund, answer)
    db.session.commit()


def _refund_failed(refund_id: int, exc: StripeError) -> None:
    refund = db.session.scalar(select(Refund).where(Refund.id == refund_id).with_for_update())
    ledger.record(refund.payment_id, "stripe.refund.error", exc.message, exc.status)
    if not exc.retryable:
        refund.status, refund.reference = RefundStatus.FAILED, exc.message[:255]
    db.session.commit()


def _apply_stripe_refund(refund: Refund, answer: dict) -> None:
    refund.stripe_refund_id = refund.stripe_refund_id or answer.get("id")
    status = answer.get("status")
    if status == "succeeded" and refund.status != RefundStatus.SUCCEEDED:
        refund.status, refund.completed_at = RefundStatus.SUCCEEDED, utcnow()
    elif status in ("failed", "canceled"):
        refund.status = RefundStatus.FAILED


def retry_pending(*, limit: int = 50) -> int:
    """Send again the Stripe refunds that never reached Stripe; returns how many."""
    ids = list(db.session.scalars(select(Refund.id).where(
        Refund.method == RefundMethod.STRIPE, Refund.status == RefundStatus.PENDING,
        Refund.stripe_refund_id.is_(None)).order_by(Refund.id).limit(limit)))
    db.session.rollback()
    for refund_id in ids:
        execute(refund_id)
    return len(ids)


def charge_refunded(charge: dict, payload: bytes) -> int | None:
    """A `charge.refunded` webhook: record each refund once; a full refund refunds the order.

    Refunds Ticksy asked for are matched by the refund id in their metadata; refunds made in
    Stripe's dashboard are recorded as they come. Returns the payment id, or None if unknown.
    """
    intent = charge.get("payment_intent")
    if not intent:  # a charge made outside Checkout; `== None` would match every payment without one
        return None
    payment_id = db.session.scalar(select(Payment.id).where(Payment.stripe_payment_intent == intent))
    if payment_id is None:
        return None
    order, payment = ledger.lock(payment_id)
    ledger.record(payment.id, "stripe.webhook.charge.refunded", payload)
    for data in ((charge.get("refunds") or {}).get("data") or []):
        _record_stripe_refund(payment, data)
    refunded = from_minor(charge.get("amount_refunded") or 0, payment.currency)
    if refunded >= payment.amount and payment.status == PaymentStatus.CONFIRMED:
        if not payment.needs_refund:
            orders.refund_paid_order(order)
        payment.status, payment.needs_refund = PaymentStatus.REFUNDED, False
    return payment.id


def _record_stripe_refund(payment: Payment, data: dict) -> None:
    known = db.session.scalar(select(Refund).where(Refund.stripe_refund_id == data.get("id")))
    metadata_id = (data.get("metadata") or {}).get("refund_id")
    if known is None and metadata_id:
        known = db.session.get(Refund, int(metadata_id))
    if known is None:
        known = Refund(payment=payment, method=RefundMethod.STRIPE, currency=payment.currency,
                       amount=from_minor(data.get("amount") or 0, payment.currency),
                       reason="Refunded in Stripe.")
        db.session.add(known)
    _apply_stripe_refund(known, data)
