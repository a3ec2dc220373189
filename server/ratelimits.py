"""Rate limits (flask-limiter): who is counted on which route, and the 429 answer.

Each limit is a fixed window counted per key (client IP, account email, user, phone, scanning
device) in `RATELIMIT_STORAGE_URI` (Redis when REDIS_URL is set, memory otherwise). The limits
are settings (config.RATE_LIMITS); docs/security.md explains them. A view is limited by putting
one of the decorators below under its route decorator (and under its auth guard when the key is
the user), above `@blp.arguments`: a request over the limit is refused before its body is
validated or any password hashed.
"""
import math
import time
from functools import lru_cache

from flask import Flask, current_app, g, request
from flask_jwt_extended import current_user
from flask_limiter import RateLimitExceeded
from limits import parse_many
from sqlalchemy import select

from server.errors import RateLimited, handle_app_error
from server.extensions import db, limiter
from server.models import Payment
from server.phone import normalize_phone
from server.services import mpesa_payments

MAX_KEY_CHARS = 128  # a body field used as a key is cut to this (keys live in Redis)


def client_ip() -> str:
    """The client's address (the real one behind TRUSTED_PROXY_HOPS proxies)."""
    return f"ip:{request.remote_addr or '-'}"


def _body_field(name: str) -> str | None:
    """A non-empty string field of the JSON body, or None (the schema answers for bad bodies)."""
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # the JSON guard refuses such bodies first; never a 500 here
        return None
    value = body.get(name) if isinstance(body, dict) else None
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()[:MAX_KEY_CHARS]


def account_email() -> str:
    """The account a login or registration is for: the body's email, lower-cased."""
    return f"email:{(_body_field('email') or '').lower()}"


def no_email() -> bool:
    return _body_field("email") is None


def user_key() -> str:
    """The authenticated user (the view's own guard has run)."""
    return f"user:{current_user.id}"


def phone_key() -> str:
    """The phone an STK push would prompt, normalised so 07…, +2547… and 2547… are one phone."""
    raw = _body_field("phone") or ""
    return f"phone:{normalize_phone(raw) or raw}"


def no_phone() -> bool:
    return _body_field("phone") is None


def device_key() -> str:
    """The scanning device (`device_id`) of the token's user; the user alone without one.

    Scoped by user so nobody can throttle another organizer's gate by naming its device.
    """
    user = g.token_claims["sub"]
    device = _body_field("device_id")
    return f"device:{user}:{device}" if device else f"user:{user}"


def _idempotent_replay() -> bool:
    """An STK push repeating an earlier one (same Idempotency-Key) prompts nobody: not counted."""
    key = request.headers.get("Idempotency-Key")
    if not key or current_user is None:
        return False
    return db.session.scalar(select(Payment.id).where(
        Payment.user_id == current_user.id, Payment.idempotency_key == key).limit(1)) is not None


def _order_already_prompting() -> bool:
    """The order has a prompt on a phone: the push will be 409 `payment_in_progress`, no prompt."""
    body = request.get_json(silent=True)
    order_id = body.get("order_id") if isinstance(body, dict) else None
    if not isinstance(order_id, int) or isinstance(order_id, bool) or not 0 < order_id < 2**31:
        return False
    return mpesa_payments.prompt_in_flight(order_id, current_user)


def _prompt_may_have_gone_out(response) -> bool:
    """Count a push against the phone unless it was refused before any prompt could go out.

    A 4xx never reached M-Pesa; a 502 whose payment failed was refused by Daraja (retrying
    at once is allowed); a timeout leaves the payment pending: the phone may have been prompted.
    """
    if 400 <= response.status_code < 500:
        return False
    if response.status_code == 502:
        body = response.get_json(silent=True) or {}
        details = (body.get("error") or {}).get("details") or {}
        return details.get("payment_status") != "failed"
    return True


def _setting(name: str):
    """The limit string of setting `name`, read per request so tests and apps may differ."""
    return lambda: current_app.config[name]


def _limit(setting: str, key_func, message: str, exempt_when=None, deduct_when=None):
    return limiter.limit(_setting(setting), key_func=key_func, error_message=message,
                         exempt_when=exempt_when, deduct_when=deduct_when)


def _all(*decorators):
    def apply(view):
        for decorator in reversed(decorators):
            view = decorator(view)
        return view
    return apply


TOO_MANY_LOGINS = "Too many login attempts."
TOO_MANY_REGISTRATIONS = "Too many registrations."

login = _all(_limit("RATELIMIT_LOGIN_IP", client_ip, TOO_MANY_LOGINS),
             _limit("RATELIMIT_LOGIN_ACCOUNT", account_email, "Too many login attempts for "
                    "this account.", exempt_when=no_email))
register = _all(_limit("RATELIMIT_REGISTER_IP", client_ip, TOO_MANY_REGISTRATIONS),
                _limit("RATELIMIT_REGISTER_ACCOUNT", account_email, TOO_MANY_REGISTRATIONS,
                       exempt_when=no_email))
stk_push = _all(
    _limit("RATELIMIT_STK_PUSH_USER", user_key, "Too many payment prompts.",
           exempt_when=_idempotent_replay),
    _limit("RATELIMIT_STK_PUSH_PHONE", phone_key, "This phone was sent a payment prompt "
           "moments ago; answer it or wait.",
           exempt_when=lambda: (no_phone() or _idempotent_replay()
                                or _order_already_prompting()),
           deduct_when=_prompt_may_have_gone_out))
place_order = _limit("RATELIMIT_ORDER_USER", user_key, "Too many orders.")
transfer = _limit("RATELIMIT_TRANSFER_USER", user_key, "Too many ticket transfers.")
check_in = _limit("RATELIMIT_CHECKIN_DEVICE", device_key, "Too many scans from this device.")


def _retry_after() -> int:
    """Seconds until the breached window resets (at least 1)."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.window.reset_time - time.time()))


def _rate_limit_exceeded(err: RateLimitExceeded):
    seconds = _retry_after()
    message = f"{err.description} Please try again in {seconds} second{'s' * (seconds != 1)}."
    return handle_app_error(RateLimited(message, retry_after=seconds))


@lru_cache(maxsize=64)
def _check_limit_string(value: str) -> None:
    if not parse_many(value):
        raise ValueError(value)


def init_app(app: Flask) -> None:
    """Bind the limiter to `app` and answer 429 in the house envelope with Retry-After."""
    from config import RATE_LIMITS

    for name in RATE_LIMITS:
        try:
            _check_limit_string(app.config[name])
        except ValueError:
            raise RuntimeError(f"{name} is not a rate limit like '5/minute;30/hour': "
                               f"{app.config[name]!r}") from None
    limiter.init_app(app)
    app.register_error_handler(RateLimitExceeded, _rate_limit_exceeded)
