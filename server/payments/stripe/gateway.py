"""Stripe Checkout adapter: sessions and refunds through a per-instance `stripe.StripeClient`."""
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import stripe

# Stripe's minor-unit exponents (https://docs.stripe.com/currencies); every other currency has two.
_ZERO_DECIMAL = frozenset("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf".split())
_THREE_DECIMAL = frozenset("bhd jod kwd omr tnd".split())


class StripeError(Exception):
    """A Stripe call failed; `retryable` is true for network errors, rate limits, conflicts and 5xx."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None,
                 code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.code = code


@dataclass(frozen=True)
class LineItem:
    """One Checkout line; `unit_amount` is in the currency's smallest unit."""

    name: str
    unit_amount: int
    quantity: int

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a line item needs a name")
        if type(self.unit_amount) is not int or self.unit_amount < 0:
            raise ValueError(f"unit_amount must be a non-negative int, got {self.unit_amount!r}")
        if type(self.quantity) is not int or self.quantity < 1:
            raise ValueError(f"quantity must be a positive int, got {self.quantity!r}")


def _exponent(currency: str) -> int:
    code = currency.lower()
    return 0 if code in _ZERO_DECIMAL else 3 if code in _THREE_DECIMAL else 2


def to_minor(amount: Decimal, currency: str) -> int:
    """Convert a Decimal amount to Stripe's smallest unit; ValueError if that is not exact."""
    if not isinstance(amount, (Decimal, int)) or isinstance(amount, bool):
        raise TypeError(f"amount must be a Decimal, got {type(amount).__name__}")
    exponent = _exponent(currency)
    scaled = Decimal(amount).scaleb(exponent)
    # Stripe requires three-decimal amounts to end in 0 (a whole hundredth).
    step = 10 if exponent == 3 else 1
    if not scaled.is_finite() or scaled != scaled.to_integral_value() or int(scaled) % step:
        raise ValueError(f"{amount} {currency.upper()} is not a whole number of minor units")
    return int(scaled)


def from_minor(amount: int, currency: str) -> Decimal:
    """Convert an amount in Stripe's smallest unit back to a Decimal."""
    return Decimal(amount).scaleb(-_exponent(currency))


def _is_retryable(exc: stripe.StripeError) -> bool:
    if isinstance(exc, (stripe.APIConnectionError, stripe.RateLimitError)):
        return True
    status = exc.http_status or 0
    return status >= 500 or status == 409  # 409: lock timeout or the same key still in flight


def _translate(exc: stripe.StripeError, action: str) -> StripeError:
    reason = " ".join((exc.user_message or type(exc).__name__).split())  # one line, even for network errors
    status = f" (HTTP {exc.http_status})" if exc.http_status else ""
    return StripeError(f"Stripe could not {action}{status}: {reason}", retryable=_is_retryable(exc),
                       status=exc.http_status, code=exc.code)


class StripeGateway:
    """The few Stripe calls Ticksy makes; every method returns plain dicts or raises StripeError."""

    def __init__(self, *, secret_key: str, api_base: str | None = None, timeout: float = 20.0,
                 max_network_retries: int = 2) -> None:
        bases = {"api": api_base.rstrip("/")} if api_base else None
        # Retried POSTs reuse the same Idempotency-Key, so library retries never double-charge.
        self._client = stripe.StripeClient(
            secret_key, base_addresses=bases, max_network_retries=max_network_retries,
            http_client=stripe.RequestsClient(timeout=timeout))

    def _call(self, action: str, request: Callable[[], Any]) -> dict:
        try:
            return request().to_dict()
        except stripe.StripeError as exc:
            raise _translate(exc, action) from exc

    def create_checkout_session(self, *, payment_id: int, order_id: int, currency: str,
                                line_items: list[LineItem], success_url: str, cancel_url: str,
                                expires_at: datetime, customer_email: str | None = None) -> dict:
        """Create a hosted Checkout Session for one payment attempt (idempotent per payment)."""
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be timezone-aware")
        if not line_items:
            raise ValueError("a checkout session needs at least one line item")
        metadata = {"payment_id": str(payment_id), "order_id": str(order_id)}
        params: dict[str, Any] = {
            "mode": "payment",
            "line_items": [{"price_data": {"currency": currency.lower(), "unit_amount": item.unit_amount,
                                           "product_data": {"name": item.name}},
                            "quantity": item.quantity} for item in line_items],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": str(order_id),
            "metadata": metadata,
            "payment_intent_data": {"metadata": metadata},
            "expires_at": int(expires_at.timestamp()),
        }
        if customer_email:
            params["customer_email"] = customer_email
        options = {"idempotency_key": f"ticksy-payment-{payment_id}-checkout"}
        return self._call("create the checkout session",
                          lambda: self._client.v1.checkout.sessions.create(params, options))

    def retrieve_session(self, session_id: str) -> dict:
        """Fetch a Checkout Session by id."""
        return self._call(f"retrieve checkout session {session_id}",
                          lambda: self._client.v1.checkout.sessions.retrieve(session_id))

    def expire_session(self, session_id: str) -> dict:
        """Expire an open session; one already complete or expired is returned as it is."""
        try:
            return self._call(f"expire checkout session {session_id}",
                              lambda: self._client.v1.checkout.sessions.expire(session_id))
        except StripeError as exc:
            if exc.status != 400:
                raise
            session = self.retrieve_session(session_id)
            if session.get("status") == "open":
                raise
            return session

    def create_refund(self, *, payment_intent: str, amount: int, refund_id: int) -> dict:
        """Refund `amount` (smallest unit) of a payment intent (idempotent per refund id)."""
        params = {"payment_intent": payment_intent, "amount": amount,
                  "metadata": {"refund_id": str(refund_id)}}
        options = {"idempotency_key": f"ticksy-refund-{refund_id}"}
        return self._call(f"refund {payment_intent}",
                          lambda: self._client.v1.refunds.create(params, options))
