"""Stripe Checkout: start a session, take signed webhooks, fulfil once.

Fulfilment is one function (`_session_update`) fed by the webhook and by an on-demand refresh; it
may run many times, concurrently, for one session and confirms the payment once.
"""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError

from server.platform.errors import AppError, UpstreamError
from server.extensions import db
from server.models import (OrderStatus, Payment, PaymentFlag, PaymentMethod, PaymentProvider,
                           PaymentStatus, StripeWebhookEvent, User, utcnow)
from server.services.payments import providers
from server.payments.stripe.gateway import LineItem, StripeError, to_minor
from server.payments.stripe.webhook import InvalidSignature, verify_event
from server.services.payments import ledger
from server.services.payments import refunds
from server.services.orders import release_pending
from server.tasks import jobs

log = logging.getLogger(__name__)

# Stripe wants expires_at at least 30 minutes ahead; the order holds a little longer than that.
SESSION_LIFETIME = timedelta(minutes=31)
WEBHOOK_GRACE = timedelta(minutes=2)
PAID_EVENTS = ("checkout.session.completed", "checkout.session.async_payment_succeeded")
OVER_EVENTS = ("checkout.session.expired", "checkout.session.async_payment_failed")


class BadSignature(AppError):
    """A webhook whose signature does not verify."""

    status, code = 400, "invalid_signature"


def _create_attempt(user: User, order_id: int, key, request_hash) -> Payment:
    order = ledger.payable_order(order_id, user)
    for attempt in ledger.open_attempts(order, PaymentProvider.STRIPE):
        if attempt.checkout_url and attempt.expires_at > utcnow() + timedelta(minutes=5):
            return attempt
    expires_at = utcnow() + SESSION_LIFETIME
    payment = Payment(order=order, user=user, provider=PaymentProvider.STRIPE, amount=order.total,
                      currency=order.currency, expires_at=expires_at, idempotency_key=key,
                      request_hash=request_hash)
    order.payment_method = PaymentMethod.STRIPE
    ledger.extend_hold(order, (expires_at + WEBHOOK_GRACE - utcnow()).total_seconds())
    db.session.add(payment)
    db.session.commit()
    return payment


def start_checkout(*, user: User, order_id: int, idempotency_key=None) -> Payment:
    """A Checkout Session for the order's total; the buyer pays on Stripe's page."""
    request_hash = ledger.fingerprint(order_id)
    if earlier := ledger.replay(user, idempotency_key, request_hash):
        return earlier
    gateway = providers.stripe_gateway()
    try:
        payment = _create_attempt(user, order_id, idempotency_key, request_hash)
    except IntegrityError:
        db.session.rollback()
        if earlier := ledger.replay(user, idempotency_key, request_hash):
            return earlier
        raise
    if payment.stripe_session_id:
        return payment
    order, base = payment.order, providers.app_base_url()
    items = [LineItem(name=f"{order.event.title} – {item.name}", quantity=item.quantity,
                      unit_amount=to_minor(item.unit_price, order.currency)) for item in order.items]
    try:
        session = gateway.create_checkout_session(
            payment_id=payment.id, order_id=order.id, currency=order.currency, line_items=items,
            success_url=f"{base}/orders/{order.id}?payment={payment.id}&session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=f"{base}/orders/{order.id}?payment={payment.id}&cancelled=1",
            expires_at=payment.expires_at, customer_email=order.buyer.email)
    except StripeError as exc:
        _closed_on_error(payment.id, exc)
        raise UpstreamError(f"Stripe did not create the checkout: {exc.message}") from None
    return _session_created(payment.id, session)


def _closed_on_error(payment_id: int, exc: StripeError) -> None:
    order, payment = ledger.lock(payment_id)
    ledger.record(payment.id, "stripe.checkout.error", exc.message, exc.status)
    ledger.close(payment, PaymentStatus.FAILED, "stripe_error", exc.message)
    payment.idempotency_key = None  # the key may be used again: nothing was started
    db.session.commit()


def _session_created(payment_id: int, session: dict) -> Payment:
    order, payment = ledger.lock(payment_id)
    ledger.record(payment.id, "stripe.checkout.session", session)
    payment.stripe_session_id, payment.checkout_url = session["id"], session.get("url")
    if payment.status == PaymentStatus.CREATED:
        payment.status = PaymentStatus.PENDING
    db.session.commit()
    return payment


# --- fulfilment ---------------------------------------------------------------------------------

def _payment_for_session(session: dict) -> int | None:
    payment_id = None
    if session.get("id"):  # without one, `== None` would match any payment with no session
        payment_id = db.session.scalar(select(Payment.id).where(
            Payment.stripe_session_id == session["id"]))
    if payment_id is None:
        log.info("Stripe session %s belongs to no payment; ignored", session.get("id"))
    return payment_id


def _session_update(payment_id: int, session: dict, *, over: bool = False) -> None:
    """Apply what a Checkout Session says (no commit); paid once, whatever the repeats."""
    order, payment = ledger.lock(payment_id)
    if session.get("payment_status") == "paid":
        expected = to_minor(payment.amount, payment.currency)
        if (session.get("amount_total") != expected
                or (session.get("currency") or "").upper() != payment.currency):
            ledger.flag(payment, PaymentFlag.AMOUNT_MISMATCH)
            return
        payment.stripe_payment_intent = payment.stripe_payment_intent or session.get("payment_intent")
        payment.result_code, payment.result_desc = "paid", "Paid by card."
        ledger.confirm(order, payment)
    elif session.get("status") == "expired" or over:
        code = "expired" if session.get("status") == "expired" else "payment_failed"
        ledger.close(payment, PaymentStatus.FAILED, code, "The card payment did not complete.")
        others = [p for p in ledger.open_attempts(order, PaymentProvider.MPESA)] + [
            p for p in ledger.open_attempts(order, PaymentProvider.STRIPE) if p.id != payment.id]
        if order.status == OrderStatus.PENDING and not others:
            release_pending(order)


def refresh(payment: Payment) -> None:
    """On demand: read the session from Stripe and apply it."""
    if payment.status not in ledger.OPEN or not payment.stripe_session_id:
        return
    try:
        session = providers.stripe_gateway().retrieve_session(payment.stripe_session_id)
    except StripeError as exc:
        raise UpstreamError(f"Stripe could not be asked: {exc.message}") from None
    ledger.record(payment.id, "stripe.checkout.session", session)
    _session_update(payment.id, session)
    db.session.commit()


def reconcile_lapsed(*, limit: int = 50) -> int:
    """Settle card attempts whose session should be over by now (a webhook may have been lost)."""
    lapsed = list(db.session.scalars(
        select(Payment.id).where(Payment.provider == PaymentProvider.STRIPE,
                                 Payment.status.in_(ledger.OPEN),
                                 Payment.expires_at < utcnow() - WEBHOOK_GRACE)
        .order_by(Payment.expires_at).limit(limit)))
    db.session.rollback()
    for payment_id in lapsed:
        payment = db.session.get(Payment, payment_id)
        try:
            refresh(payment)
        except UpstreamError:
            db.session.rollback()  # Stripe unreachable: ask again next round
            continue
        if payment.status in ledger.OPEN:  # no session, or Stripe still says open
            order, payment = ledger.lock(payment_id)
            ledger.close(payment, PaymentStatus.FAILED, "expired", "The checkout session expired.")
            db.session.commit()
    return len(lapsed)


def _first_delivery(event: dict) -> bool:
    inserted = db.session.execute(
        insert(StripeWebhookEvent).values(id=event["id"], type=event.get("type", "?"))
        .on_conflict_do_nothing().returning(StripeWebhookEvent.id)).first()
    return inserted is not None


def handle_webhook(*, payload: bytes, signature: str | None) -> str:
    """Verify, de-duplicate and apply one Stripe event; returns what was done."""
    try:
        event = verify_event(payload, signature, current_app.config["STRIPE_WEBHOOK_SECRET"])
    except InvalidSignature as exc:
        log.warning("Stripe webhook refused: %s", exc.message)
        raise BadSignature(f"Invalid webhook: {exc.message}") from None
    if not isinstance(event, dict) or not event.get("id"):
        raise BadSignature("Invalid webhook: not an event.")
    if not _first_delivery(event):
        db.session.rollback()
        return "duplicate"
    kind, obj = event.get("type"), (event.get("data") or {}).get("object") or {}
    payment_id = None
    if kind in PAID_EVENTS or kind in OVER_EVENTS:
        if payment_id := _payment_for_session(obj):
            ledger.record(payment_id, f"stripe.webhook.{kind}", payload)
            _session_update(payment_id, obj, over=kind in OVER_EVENTS)
    elif kind == "charge.refunded":
        payment_id = refunds.charge_refunded(obj, payload)
    db.session.commit()
    return "handled" if payment_id else "ignored"


@jobs.job("stripe.expire_sessions")
def expire_open_sessions(order_id: int) -> None:
    """A cancelled order's open Checkout Sessions are expired so nobody can pay them."""
    sessions = list(db.session.scalars(select(Payment.stripe_session_id).where(
        Payment.order_id == order_id, Payment.provider == PaymentProvider.STRIPE,
        Payment.status.in_(ledger.OPEN), Payment.stripe_session_id.is_not(None))))
    db.session.rollback()
    for session_id in sessions:
        session = providers.stripe_gateway().expire_session(session_id)
        if payment_id := _payment_for_session(session):
            _session_update(payment_id, session)
            db.session.commit()
