"""M-Pesa STK Push: start a prompt, take Daraja's callback, verify, reconcile.

A callback only triggers a check: success is confirmed with an STK Push Query and the amount is
compared before the order is paid. No HTTP call to Daraja is made while a row lock is held, and a
push is never retried by itself (Safaricom would prompt the payer twice).
"""
import hashlib
import ipaddress
import json
import logging
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from server.platform.errors import AppError, Conflict, NotFound, UpstreamError, ValidationError
from server.extensions import db
from server.models import (Payment, PaymentEvent, PaymentFlag, PaymentMethod, PaymentProvider,
                           PaymentStatus, User, utcnow)
from server.platform import ratelimits
from server.services.payments import providers
from server.payments.mpesa.callback import (MalformedCallback, Outcome, StkCallback, classify,
                                            needs_alert, parse_callback)
from server.payments.mpesa.daraja import DarajaError, QueryAnswer
from server.platform.phone import normalize_phone
from server.services.payments import ledger
from server.tasks import jobs

log = logging.getLogger(__name__)

CALLBACK_KIND = "mpesa.callback"
# A new prompt for an order waits until the previous one has surely timed out on the phone.
PROMPT_SECONDS = 90
# Without any answer to a push whose outcome is unknown, give up after this long.
NO_RESPONSE_WINDOW = timedelta(minutes=5)
# Keep asking about a pending payment for an hour, slowly after the first three minutes.
FAST_QUERIES = timedelta(minutes=3)
SLOW_QUERY_INTERVAL = timedelta(minutes=2)
GIVE_UP_AFTER = timedelta(hours=1)
REFRESH_MIN_INTERVAL = timedelta(seconds=10)
CLOSING = {Outcome.FAILED: PaymentStatus.FAILED, Outcome.CANCELLED: PaymentStatus.CANCELLED}


class BadCallback(AppError):
    """A callback body that is not a Daraja STK callback."""

    status, code, message = 400, "bad_request", "Malformed callback."


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _whole_shillings(order) -> int:
    if order.currency != "KES" or order.total != order.total.to_integral_value():
        raise ValidationError("M-Pesa takes whole Kenyan shillings only.",
                              fields={"order_id": ["The order's total is not a whole KES amount."]})
    return int(order.total)


def _prompt_in_flight(order) -> None:
    recent = utcnow() - timedelta(seconds=PROMPT_SECONDS)
    for attempt in ledger.open_attempts(order, PaymentProvider.MPESA):
        if attempt.created_at > recent:
            raise Conflict("A payment prompt for this order is still on the phone; wait for it.",
                           code="payment_in_progress", details={"payment_id": attempt.id})


def _create_attempt(user: User, order_id: int, phone: str, key, request_hash) -> tuple[Payment, str]:
    order = ledger.payable_order(order_id, user)
    amount = _whole_shillings(order)
    _prompt_in_flight(order)
    ratelimits.take_phone_prompt(phone)
    token = secrets.token_hex(20)
    payment = Payment(order=order, user=user, provider=PaymentProvider.MPESA, amount=amount,
                      currency=order.currency, phone=phone, callback_token_hash=_token_hash(token),
                      idempotency_key=key, request_hash=request_hash,
                      next_query_at=utcnow() + NO_RESPONSE_WINDOW)
    order.payment_method = PaymentMethod.MPESA
    ledger.extend_hold(order, current_app.config["MPESA_HOLD_SECONDS"])
    db.session.add(payment)
    db.session.commit()
    return payment, token


def start_stk_push(*, user: User, order_id: int, phone: str, idempotency_key=None) -> Payment:
    """Prompt the payer's phone for the order's total; 202-style: the result comes later."""
    msisdn = normalize_phone(phone)
    if msisdn is None:
        raise ValidationError(fields={"phone": [
            "Use a Kenyan mobile number: 07XXXXXXXX, 01XXXXXXXX, +2547XXXXXXXX or 2541XXXXXXXX."]})
    request_hash = ledger.fingerprint(order_id, msisdn)
    if earlier := ledger.replay(user, idempotency_key, request_hash):
        return earlier
    ratelimits.take_user_prompt(user.id)
    client = providers.daraja()
    try:
        payment, token = _create_attempt(user, order_id, msisdn, idempotency_key, request_hash)
    except IntegrityError:
        db.session.rollback()
        ratelimits.give_back_phone_prompt(msisdn)
        if earlier := ledger.replay(user, idempotency_key, request_hash):
            return earlier
        raise
    callback_url = f"{providers.mpesa_callback_base()}/api/payments/mpesa/callback/{token}"
    try:
        accepted = client.stk_push(amount=int(payment.amount), phone=msisdn,
                                   account_reference=f"TICKSY{payment.order_id}"[:12],
                                   description="Tickets", callback_url=callback_url)
    except DarajaError as exc:
        status = _push_failed(payment.id, exc)
        if status == PaymentStatus.FAILED:
            ratelimits.give_back_phone_prompt(msisdn)
        raise UpstreamError(f"M-Pesa did not accept the payment request: {exc}", details={
            "payment_id": payment.id, "payment_status": status.value}) from None
    return _push_accepted(payment.id, accepted)


def _push_failed(payment_id: int, exc: DarajaError) -> PaymentStatus:
    """Record a push Daraja did not accept; the attempt's status (pending when it may have
    reached the phone, failed when it certainly did not)."""
    order, payment = ledger.lock(payment_id)
    ledger.record_exchange(payment.id, "mpesa.stk_push", exc.exchange)
    if exc.outcome_unknown:
        # The prompt may have gone out: a callback (which carries our token) or the
        # no-response window settles it.
        payment.status, payment.next_query_at = PaymentStatus.PENDING, utcnow()
        payment.result_desc = str(exc)[:255]
    else:
        ledger.close(payment, PaymentStatus.FAILED, exc.error_code, str(exc))
        payment.idempotency_key = None  # the key may be used again: nothing was started
    db.session.commit()
    return payment.status


def _push_accepted(payment_id: int, accepted) -> Payment:
    order, payment = ledger.lock(payment_id)
    ledger.record_exchange(payment.id, "mpesa.stk_push", accepted.exchange)
    payment.checkout_request_id = payment.checkout_request_id or accepted.checkout_request_id
    payment.merchant_request_id = payment.merchant_request_id or accepted.merchant_request_id
    if payment.status == PaymentStatus.CREATED:
        payment.status = PaymentStatus.PENDING
        payment.next_query_at = utcnow() + timedelta(
            seconds=current_app.config["MPESA_QUERY_FIRST_SECONDS"])
    db.session.commit()
    payment.customer_message = accepted.customer_message
    return payment


# --- the callback ---------------------------------------------------------------------------

def _ip_allowed(remote_addr: str | None) -> bool:
    allowed = current_app.config["MPESA_ALLOWED_IPS"]
    if not allowed:
        return True
    try:
        address = ipaddress.ip_address(remote_addr or "")
    except ValueError:
        return False
    return any(address in ipaddress.ip_network(net, strict=False) for net in allowed)


def _payment_for_token(token: str) -> int | None:
    """Tokens are stored and looked up as sha256 digests: a lookup's timing reveals nothing
    about the token, and the database never holds a usable one."""
    return db.session.scalar(select(Payment.id).where(
        Payment.callback_token_hash == _token_hash(token)))


def handle_callback(*, token: str, raw: bytes, remote_addr: str | None) -> None:
    """Take one Daraja callback: log it, settle failures, queue success for verification."""
    payment_id = _payment_for_token(token)
    if payment_id is None or not _ip_allowed(remote_addr):
        log.warning("M-Pesa callback refused from %s (unknown token or address)", remote_addr)
        raise NotFound()
    try:
        callback = parse_callback(json.loads(raw))
    except (ValueError, MalformedCallback) as exc:
        ledger.record(payment_id, "mpesa.callback.malformed", raw)
        db.session.commit()
        raise BadCallback(f"Malformed callback: {exc}") from None
    order, payment = ledger.lock(payment_id)
    entry = ledger.record(payment.id, CALLBACK_KIND, raw)
    if payment.checkout_request_id is None:
        payment.checkout_request_id = callback.checkout_request_id
    if payment.checkout_request_id != callback.checkout_request_id:
        log.warning("payment %s: callback for another CheckoutRequestID ignored", payment.id)
    elif callback.is_success:
        db.session.flush()
        jobs.after_commit("mpesa.verify_callback", entry.id)
    else:
        _settle(order, payment, callback.result_code, callback.result_desc)
    db.session.commit()


def _settle(order, payment: Payment, code: str | None, desc: str | None) -> None:
    """Apply a non-success result code (from a callback or a query) to a locked payment."""
    outcome = classify(code)
    if outcome in CLOSING:
        ledger.close(payment, CLOSING[outcome], code, desc)
        if needs_alert(code):
            ledger.flag(payment, PaymentFlag.MERCHANT_CONFIG)
    elif outcome == Outcome.UNKNOWN and payment.status in ledger.OPEN:
        payment.result_code, payment.result_desc = code, (desc or "")[:255] or None
        ledger.flag(payment, PaymentFlag.UNKNOWN_RESULT)


# --- verification, on demand and by reconciliation -------------------------------------------

def _success_callback(payment_id: int, event_id: int | None = None) -> StkCallback | None:
    """The payer's success callback for the payment (the given one, else the latest), if any."""
    query = select(PaymentEvent.body).where(PaymentEvent.payment_id == payment_id,
                                            PaymentEvent.kind == CALLBACK_KIND)
    query = query.where(PaymentEvent.id == event_id) if event_id else query
    for body in db.session.scalars(query.order_by(PaymentEvent.id.desc())):
        callback = parse_callback(json.loads(body))
        if callback.is_success:
            return callback
    return None


def _next_query_at(payment: Payment):
    age = utcnow() - payment.created_at
    if age > GIVE_UP_AFTER:
        ledger.flag(payment, PaymentFlag.UNRESOLVED)
        return None
    interval = (timedelta(seconds=current_app.config["MPESA_QUERY_INTERVAL_SECONDS"])
                if age < FAST_QUERIES else SLOW_QUERY_INTERVAL)
    return utcnow() + interval


def _apply_answer(payment_id: int, answer: QueryAnswer | None, callback: StkCallback | None) -> None:
    order, payment = ledger.lock(payment_id)
    if answer is not None:
        ledger.record_exchange(payment.id, "mpesa.query", answer.exchange)
        payment.queried_at, payment.query_count = utcnow(), payment.query_count + 1
    if payment.status not in ledger.OPEN and not (answer and answer.result_code == "0"):
        db.session.commit()
        return
    if payment.status in ledger.SETTLED or payment.flag == PaymentFlag.AMOUNT_MISMATCH:
        db.session.commit()
        return
    code = answer.result_code if answer else None
    if code is None:
        payment.next_query_at = _next_query_at(payment)
    elif code != "0":
        if callback is not None:
            ledger.flag(payment, PaymentFlag.QUERY_DISAGREES)
        _settle(order, payment, code, answer.result_desc)
        if classify(code) in (Outcome.PENDING, Outcome.UNKNOWN):
            payment.next_query_at = _next_query_at(payment)
    elif callback is not None and callback.amount is not None and callback.amount != payment.amount:
        payment.result_code, payment.next_query_at = "0", None
        ledger.flag(payment, PaymentFlag.AMOUNT_MISMATCH)
    else:
        payment.result_code, payment.result_desc = "0", answer.result_desc
        payment.mpesa_receipt = callback.receipt if callback else None
        ledger.confirm(order, payment)
    db.session.commit()


def _query(payment_id: int, checkout_request_id: str) -> QueryAnswer:
    """Ask Daraja about the payment; a refusal counts as "no answer yet"."""
    try:
        return providers.daraja().stk_query(checkout_request_id)
    except DarajaError as exc:
        log.warning("STK query for payment %s refused: %s", payment_id, exc)
        return QueryAnswer(result_code=None, result_desc=str(exc), exchange=exc.exchange)


def _give_up_without_answer(payment_id: int) -> None:
    order, payment = ledger.lock(payment_id)
    if payment.status in ledger.OPEN and payment.checkout_request_id is None:
        ledger.close(payment, PaymentStatus.FAILED, None, "No answer from M-Pesa.")
    db.session.commit()


def check(payment_id: int, *, event_id: int | None = None) -> None:
    """Ask Daraja about one open M-Pesa payment now and apply the answer."""
    row = db.session.execute(select(Payment.status, Payment.checkout_request_id, Payment.created_at)
                             .where(Payment.id == payment_id)).first()
    callback = _success_callback(payment_id, event_id) if row else None
    db.session.rollback()  # no transaction stays open while Daraja answers
    # A success callback may still turn a failed attempt into a confirmed one, if the query agrees.
    if row is None or row.status in ledger.SETTLED or (row.status not in ledger.OPEN and not event_id):
        return
    if row.checkout_request_id is None:
        if utcnow() - row.created_at > NO_RESPONSE_WINDOW:
            _give_up_without_answer(payment_id)
        return
    _apply_answer(payment_id, _query(payment_id, row.checkout_request_id), callback)


@jobs.job("mpesa.verify_callback")
def verify_callback(event_id: int) -> None:
    """Verify a success callback with an STK Push Query before the order is paid."""
    payment_id = db.session.scalar(select(PaymentEvent.payment_id)
                                   .where(PaymentEvent.id == event_id))
    if payment_id is not None:
        check(payment_id, event_id=event_id)


def refresh(payment: Payment) -> None:
    """On demand: query now unless the payment was queried moments ago or is too young."""
    now = utcnow()
    first = timedelta(seconds=current_app.config["MPESA_QUERY_FIRST_SECONDS"])
    if (payment.status in ledger.OPEN and now - payment.created_at >= first
            and not (payment.queried_at and now - payment.queried_at < REFRESH_MIN_INTERVAL)):
        check(payment.id)


def _claim_due(limit: int) -> list[int]:
    """Push the due payments' next query a minute ahead (so parallel runs skip them)."""
    now = utcnow()
    due = (select(Payment.id)
           .where(Payment.provider == PaymentProvider.MPESA, Payment.status.in_(ledger.OPEN),
                  Payment.next_query_at <= now)
           .order_by(Payment.next_query_at).limit(limit).with_for_update(skip_locked=True))
    ids = list(db.session.scalars(
        update(Payment).where(Payment.id.in_(due.scalar_subquery()))
        .values(next_query_at=now + timedelta(minutes=1)).returning(Payment.id)))
    db.session.commit()
    return ids


def reconcile_due(*, limit: int = 50) -> int:
    """Query every M-Pesa payment left pending past its window; returns how many were asked."""
    ids = _claim_due(limit)
    for payment_id in ids:
        check(payment_id)
    return len(ids)
