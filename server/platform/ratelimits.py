"""Rate limits (flask-limiter): who is counted on which route, and the 429 answer.

Each limit is a fixed window counted per key (client IP, account email, user, phone, scanning
device) in `RATELIMIT_STORAGE_URI` (Redis when REDIS_URL is set, memory otherwise). The limits
are settings (config.RATE_LIMITS); docs/security.md explains them. A view is limited by putting
one of the decorators below under its route decorator (and under its auth guard when the key is
the user), above `@blp.arguments`: a request over the limit is refused before its body is
validated or any password hashed. An STK push is counted by the payment service itself
(`take_user_prompt`, `take_phone_prompt`): it alone knows when a push is a replay that prompts
nobody, and when a prompt is about to go out.
"""
import logging
import math
import time
from functools import lru_cache, wraps

from flask import Flask, current_app, request
from flask_jwt_extended import current_user
from flask_limiter import RateLimitExceeded
from limits import parse_many

from server.platform.errors import RateLimited, handle_app_error
from server.extensions import limiter
from server.platform.security import token_claims

logger = logging.getLogger(__name__)
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
    return _key_field(body.get(name) if isinstance(body, dict) else None)


def _key_field(value) -> str | None:
    """A non-empty string, stripped and cut to MAX_KEY_CHARS, or None."""
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


def device_key() -> str:
    """The scanning device (`device_id`) of the token's user; the user alone without one.

    Scoped by user so nobody can throttle another organizer's gate by naming its device.
    """
    return scan_key(token_claims()["sub"], _body_field("device_id"))


def scan_key(user: str, device_id: str | None) -> str:
    """The key of `device_key` for the token subject `user` and the body's `device_id`."""
    device = _key_field(device_id)
    return f"device:{user}:{device}" if device else f"user:{user}"


def _setting(name: str):
    """The limit string of setting `name`, read per request so tests and apps may differ."""
    return lambda: current_app.config[name]


def _limit(setting: str, key_func, message: str, exempt_when=None):
    return limiter.limit(_setting(setting), key_func=key_func, error_message=message,
                         exempt_when=exempt_when)


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
place_order = _limit("RATELIMIT_ORDER_USER", user_key, "Too many orders.")
transfer = _limit("RATELIMIT_TRANSFER_USER", user_key, "Too many ticket transfers.")
PHONE_PROMPTED = "This phone was sent a payment prompt moments ago; answer it or wait."
TOO_MANY_SCANS = "Too many scans from this device."


def _take(setting: str, scope: str, key: str, message: str) -> None:
    """Count one against every window of `setting` for `key`, atomically; 429 when one is over.

    The counters of a refused attempt are given back. When the limiter's storage is down the
    attempt is let through, as flask-limiter does (RATELIMIT_SWALLOW_ERRORS).
    """
    if not limiter.enabled:
        return
    strategy, taken = limiter.limiter, []
    try:
        for item in _parsed(current_app.config[setting]):
            taken.append(item)
            if not strategy.hit(item, scope, key):
                reset_at = strategy.get_window_stats(item, scope, key).reset_time
                _give_back(taken, scope, key)
                seconds = max(1, math.ceil(reset_at - time.time()))
                raise RateLimited(f"{message} Please try again in {seconds} second"
                                  f"{'s' * (seconds != 1)}.", retry_after=seconds)
    except RateLimited:
        raise
    except Exception:  # noqa: BLE001 (storage down: never refuse a payment or a scan for it)
        logger.warning("rate-limit storage unavailable: %s was not counted", scope, exc_info=True)


def _give_back(items, scope: str, key: str) -> None:
    try:
        for item in items:
            limiter.limiter.hit(item, scope, key, cost=-1)
    except Exception:  # noqa: BLE001
        logger.warning("rate-limit storage unavailable: %s was not given back", scope,
                       exc_info=True)


def check_in(view):
    """RATELIMIT_CHECKIN_DEVICE per scanning device: one counter increment per scan.

    The gate's hot path is counted here directly rather than by a flask-limiter decorator,
    whose evaluation costs several times more per request (make bench-limiter).
    """
    @wraps(view)
    def wrapper(*args, **kwargs):
        take_scan(device_key())
        return view(*args, **kwargs)

    return wrapper


def take_scan(key: str) -> None:
    """Count one scan of the device (or user) `key` (`scan_key`), or 429 when over the limit."""
    _take("RATELIMIT_CHECKIN_DEVICE", "checkin-device", key, TOO_MANY_SCANS)


def take_user_prompt(user_id: int) -> None:
    """Count one STK push by this user (RATELIMIT_STK_PUSH_USER), or 429 when over it.

    Called by the payment service after it has found the push is not a replay of an earlier one
    (same Idempotency-Key), which prompts nobody and is not counted.
    """
    _take("RATELIMIT_STK_PUSH_USER", "stk-user", str(user_id), "Too many payment prompts.")


def take_phone_prompt(msisdn: str) -> None:
    """Count one payment prompt to `msisdn` (RATELIMIT_STK_PUSH_PHONE), or 429 when over it.

    Called by the payment service once the order is known to be payable, right before the
    prompt: a push that is refused earlier (404, 409 a prompt in flight, 422) counts nothing.
    Each counter is incremented atomically (one INCR), so simultaneous pushes cannot all pass.
    """
    _take("RATELIMIT_STK_PUSH_PHONE", "stk-phone", msisdn, PHONE_PROMPTED)


def give_back_phone_prompt(msisdn: str) -> None:
    """No prompt went out after all (Daraja refused the push): the phone's count is returned."""
    if limiter.enabled:
        _give_back(_parsed(current_app.config["RATELIMIT_STK_PUSH_PHONE"]), "stk-phone", msisdn)


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
def _parsed(value: str):
    return parse_many(value)


def _check_limit_string(value: str) -> None:
    if not _parsed(value):
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
    if not (app.config.get("RATELIMIT_DEFAULT") or app.config.get("RATELIMIT_APPLICATION")):
        # Every limit here is a view's decorator, which checks its limits when the view runs.
        # The extension's hook before every request serves default and application-wide limits;
        # with none set it would only cost each request (every catalogue page, every scan) a
        # lookup of limits that do not exist.
        app.before_request_funcs[None] = [
            hook for hook in app.before_request_funcs[None]
            if getattr(hook, "__self__", None) is not limiter]
    app.register_error_handler(RateLimitExceeded, _rate_limit_exceeded)

