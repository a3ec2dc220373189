"""Stripe webhook signatures: verify `Stripe-Signature` over the raw body, and sign for tests.

Written out rather than delegated to `stripe.WebhookSignature` because that one cannot take an
injected clock, does not refuse future timestamps and decodes the body before hashing it.
"""
import hashlib
import hmac
import json
import time

TOLERANCE = 300


class InvalidSignature(Exception):
    """The webhook request cannot be trusted; `message` is a short reason."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _digest(payload: bytes, secret: str, timestamp: int) -> str:
    signed = f"{timestamp}.".encode() + payload
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


def _parse(header: str) -> tuple[int, list[str]]:
    """Return the timestamp and every v1 signature; v0 and unknown schemes are ignored."""
    timestamp, signatures = None, []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and timestamp is None:
            timestamp = value
        elif key == "v1":
            signatures.append(value)
    try:
        return int(timestamp), signatures
    except (TypeError, ValueError):
        raise InvalidSignature("no valid signature") from None


def sign(payload: bytes, secret: str, timestamp: int) -> str:
    """The `Stripe-Signature` header value Stripe would send for this body."""
    return f"t={timestamp},v1={_digest(payload, secret, timestamp)}"


def verify_event(payload: bytes, header: str | None, secret: str | None, *,
                 tolerance: int = TOLERANCE, now: float | None = None) -> dict:
    """Check the signature and freshness of a webhook body and return the parsed event."""
    if not secret or not secret.strip():
        raise InvalidSignature("webhook secret not configured")  # fail closed
    if not header:
        raise InvalidSignature("missing signature header")
    timestamp, signatures = _parse(header)
    expected = _digest(payload, secret, timestamp).encode()
    if not any(hmac.compare_digest(expected, s.encode("utf-8", "replace")) for s in signatures):
        raise InvalidSignature("no valid signature")
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise InvalidSignature("timestamp outside the tolerance")
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidSignature("body is not JSON") from None
    if not isinstance(event, dict):
        raise InvalidSignature("body is not JSON")  # not a JSON object, so not an event
    return event
