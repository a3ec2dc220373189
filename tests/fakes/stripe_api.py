"""An in-memory fake of the Stripe API endpoints Ticksy uses, served on loopback for tests.

It speaks the wire format of the `stripe` library (form-encoded bodies with nested keys,
Bearer key, Idempotency-Key, `{"error": {...}}` bodies) and checks what real Stripe checks
for these calls: lower-case currency, integer amounts, expires_at 30 min to 24 h ahead,
expire only while open, refunds no larger than what is left.
"""
import copy
import json
import secrets
import threading
import time
from collections.abc import Callable

from flask import Flask, jsonify, request

from server.payments.loopback import serve_in_thread
from server.payments.stripe.webhook import sign

SECRET_KEY = "sk_test_ticksy_fake"
_ERROR_TYPES = {401: "authentication_error", 402: "card_error", 429: "rate_limit_error"}


class FakeStripeError(Exception):
    """Raised inside the fake; rendered as a Stripe-style error response."""

    def __init__(self, status: int, message: str, *, code: str | None = None,
                 param: str | None = None, type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = {"message": message, "code": code, "param": param,
                     "type": type or _ERROR_TYPES.get(status, "api_error" if status >= 500
                                                      else "invalid_request_error")}


def _invalid(param: str, message: str, code: str = "parameter_invalid") -> FakeStripeError:
    return FakeStripeError(400, message, code=code, param=param)


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _nest(form: dict[str, str]) -> dict:
    """`a[b][0][c]=v` keys → nested dicts, with all-digit keys turned into lists."""
    root: dict = {}
    for key, value in form.items():
        parts = key.replace("]", "").split("[")
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _listify(root)


def _listify(node):
    if not isinstance(node, dict):
        return node
    items = {key: _listify(value) for key, value in node.items()}
    if items and all(key.isdigit() for key in items):
        return [items[key] for key in sorted(items, key=int)]
    return items


def _line_item(item) -> tuple[str, int]:
    """Validate one line item; return its currency and total."""
    try:
        price = item["price_data"]
        price["product_data"]["name"]
        currency, unit, quantity = price["currency"], int(price["unit_amount"]), int(item["quantity"])
    except (KeyError, TypeError, ValueError):
        raise _invalid("line_items", "Each line item needs price_data[currency], an integer "
                       "price_data[unit_amount], price_data[product_data][name] and a quantity.")
    if currency != currency.lower() or len(currency) != 3:
        raise _invalid("line_items", f"Invalid currency: {currency}. Use a lower-case ISO code.")
    if unit < 0 or quantity < 1:
        raise _invalid("line_items", "unit_amount must be >= 0 and quantity >= 1.")
    return currency, unit * quantity


class FakeStripe:
    """Checkout Sessions and refunds in memory; see the module docstring."""

    secret_key = SECRET_KEY

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = None
        self.reset()
        self.app = self._build_app()

    def reset(self) -> None:
        """Forget every object, request and pending failure (lets tests share one server)."""
        with self._lock:
            self.sessions: dict[str, dict] = {}
            self.refunds: dict[str, dict] = {}
            self.requests: list[tuple[str, str, dict, dict]] = []
            self._intents: dict[str, dict] = {}  # payment intent → session id, charge id, metadata
            self._intent_metadata: dict[str, dict] = {}  # session id → payment_intent_data[metadata]
            self._replays: dict[str, tuple[str, dict, dict]] = {}  # idempotency key → path, form, body
            self._failures: list[int] = []

    # --- HTTP ---------------------------------------------------------------------------

    def _build_app(self) -> Flask:
        app = Flask(__name__)
        app.before_request(self._gate)
        app.register_error_handler(FakeStripeError, lambda e: (jsonify(error=e.body), e.status))
        app.register_error_handler(404, lambda e: (jsonify(error={
            "type": "invalid_request_error", "message": f"Unrecognized request URL ({request.method}: "
            f"{request.path})."}), 404))
        app.add_url_rule("/v1/checkout/sessions", "create_session", methods=["POST"],
                         view_func=self._idempotent(self._create_session))
        app.add_url_rule("/v1/checkout/sessions/<sid>", "get_session", methods=["GET"],
                         view_func=self._get_session)
        app.add_url_rule("/v1/checkout/sessions/<sid>/expire", "expire_session", methods=["POST"],
                         view_func=self._idempotent(self._expire_session))
        app.add_url_rule("/v1/refunds", "create_refund", methods=["POST"],
                         view_func=self._idempotent(self._create_refund))
        return app

    def _gate(self) -> None:
        """Record the call, then apply injected failures and the API key check."""
        form = (request.form if request.method == "POST" else request.args).to_dict()
        with self._lock:
            self.requests.append((request.method, request.path, form, dict(request.headers)))
            failure = self._failures.pop(0) if self._failures else None
        if failure:
            raise FakeStripeError(failure, f"Injected failure (HTTP {failure}) from the fake.")
        auth = request.headers.get("Authorization", "")
        if auth != f"Bearer {self.secret_key}":
            key = auth.removeprefix("Bearer ")
            raise FakeStripeError(401, f"Invalid API Key provided: {key[:8]}****{key[-4:]}")

    def _idempotent(self, view: Callable[..., dict]) -> Callable:
        """Same Idempotency-Key and parameters → the first response again; other parameters → 400."""
        def wrapped(**kwargs):
            key, form = request.headers.get("Idempotency-Key"), request.form.to_dict()
            with self._lock:
                if key in self._replays:
                    path, first_form, body = self._replays[key]
                    if (path, first_form) != (request.path, form):
                        raise FakeStripeError(400, "Keys for idempotent requests can only be used with "
                                              f"the same parameters they were first used with ({key}).",
                                              type="idempotency_error")
                    return jsonify(body), 200, {"Idempotent-Replayed": "true"}
                body = copy.deepcopy(view(_nest(form), **kwargs))
                if key:
                    self._replays[key] = (request.path, form, body)
                return jsonify(body)
        return wrapped

    def _session(self, sid: str) -> dict:
        session = self.sessions.get(sid)
        if session is None:
            raise FakeStripeError(404, f"No such checkout.session: '{sid}'", code="resource_missing",
                                  param="session")
        if session["status"] == "open" and time.time() >= session["expires_at"]:
            session["status"] = "expired"  # Stripe expires sessions on its own at expires_at
        return session

    def _get_session(self, sid: str):
        with self._lock:
            return jsonify(self._session(sid))

    def _create_session(self, params: dict) -> dict:
        if params.get("mode") != "payment":
            raise _invalid("mode", "This fake only supports mode=payment.")
        for required in ("success_url", "cancel_url"):
            if not params.get(required):
                raise _invalid(required, f"Missing required param: {required}.", "parameter_missing")
        items = params.get("line_items")
        if not isinstance(items, list) or not items:
            raise _invalid("line_items", "Missing required param: line_items.", "parameter_missing")
        totals = [_line_item(item) for item in items]
        if len({currency for currency, _ in totals}) != 1:
            raise _invalid("line_items", "All line items must use the same currency.")
        expires_at = self._expires_at(params.get("expires_at"))
        sid = _new_id("cs_test")
        self.sessions[sid] = {
            "id": sid, "object": "checkout.session", "mode": "payment", "livemode": False,
            "url": f"https://checkout.stripe.test/c/pay/{sid}", "status": "open",
            "payment_status": "unpaid", "payment_intent": None,
            "amount_total": sum(total for _, total in totals), "currency": totals[0][0],
            "client_reference_id": params.get("client_reference_id"),
            "metadata": params.get("metadata", {}), "expires_at": expires_at,
            "customer_email": params.get("customer_email"), "created": int(time.time()),
            "success_url": params["success_url"], "cancel_url": params["cancel_url"],
        }
        self._intent_metadata[sid] = params.get("payment_intent_data", {}).get("metadata", {})
        return self.sessions[sid]

    @staticmethod
    def _expires_at(value: str | None) -> int:
        now = int(time.time())
        if value is None:
            return now + 24 * 3600
        try:
            expires_at = int(value)
        except ValueError:
            raise _invalid("expires_at", "expires_at must be an integer unix timestamp.") from None
        if not now + 30 * 60 <= expires_at <= now + 24 * 3600:
            raise _invalid("expires_at", "The `expires_at` timestamp must be at least 30 minutes and "
                           "less than 24 hours from Checkout Session creation.")
        return expires_at

    def _expire_session(self, params: dict, sid: str) -> dict:
        session = self._session(sid)
        if session["status"] != "open":
            raise FakeStripeError(400, 'Only Checkout Sessions with a status in ["open"] can be '
                                  f"expired. This session has status {session['status']!r}.",
                                  code="checkout_session_not_open")  # hypothetical code name
        session["status"] = "expired"
        return session

    def _create_refund(self, params: dict) -> dict:
        pi = params.get("payment_intent")
        if pi not in self._intents:
            raise FakeStripeError(404, f"No such payment_intent: '{pi}'", code="resource_missing",
                                  param="payment_intent")
        left = self.sessions[self._intents[pi]["session_id"]]["amount_total"] - self._refunded(pi)
        if left == 0:
            raise _invalid("payment_intent", f"Charge {self._intents[pi]['charge']} has already been "
                           "refunded.", "charge_already_refunded")
        try:
            amount = int(params.get("amount", left))
        except ValueError:
            raise _invalid("amount", "amount must be an integer.") from None
        if not 0 < amount <= left:
            raise _invalid("amount", f"Refund amount ({amount}) is greater than unrefunded amount on "
                           f"charge ({left}).", "amount_too_large")
        return self._add_refund(pi, amount, params.get("metadata", {}))

    def _refunded(self, pi: str) -> int:
        return sum(r["amount"] for r in self.refunds.values() if r["payment_intent"] == pi)

    def _add_refund(self, pi: str, amount: int, metadata: dict) -> dict:
        intent = self._intents[pi]
        refund = {"id": _new_id("re"), "object": "refund", "amount": amount, "charge": intent["charge"],
                  "currency": self.sessions[intent["session_id"]]["currency"], "metadata": metadata,
                  "payment_intent": pi, "status": "succeeded", "created": int(time.time())}
        self.refunds[refund["id"]] = refund
        return refund

    # --- test controls ------------------------------------------------------------------

    def complete(self, session_id: str) -> dict:
        """Mark an open session paid, as if the customer finished Checkout; returns the session."""
        with self._lock:
            session = self._session(session_id)
            if session["status"] != "open":
                raise ValueError(f"session {session_id} is {session['status']}, not open")
            pi = _new_id("pi")
            session.update(status="complete", payment_status="paid", payment_intent=pi)
            self._intents[pi] = {"session_id": session_id, "charge": _new_id("ch"),
                                 "metadata": self._intent_metadata[session_id]}
            return copy.deepcopy(session)

    def fail_next(self, status: int = 500, times: int = 1) -> None:
        """Make the next `times` API calls answer `status` with a Stripe-style error."""
        with self._lock:
            self._failures.extend([status] * times)

    def event(self, type: str, obj: dict, *, event_id: str | None = None) -> dict:
        """An Event envelope around `obj`, as Stripe posts it to the webhook."""
        return {"id": event_id or _new_id("evt"), "object": "event", "type": type,
                "created": int(time.time()), "livemode": False, "data": {"object": copy.deepcopy(obj)}}

    def charge_refunded(self, session_id: str, refunds: list[int]) -> dict:
        """The charge of a paid session after refunds: those made through POST /v1/refunds,
        then one new refund per amount in `refunds` (as if made in the Dashboard)."""
        with self._lock:
            pi = self.sessions[session_id]["payment_intent"]
            if pi is None:
                raise ValueError(f"session {session_id} is not paid")
            amount = self.sessions[session_id]["amount_total"]
            if self._refunded(pi) + sum(refunds) > amount:
                raise ValueError("refunds exceed the amount charged")
            for refund in refunds:
                self._add_refund(pi, refund, {})
            data = [copy.deepcopy(r) for r in self.refunds.values() if r["payment_intent"] == pi]
            intent = self._intents[pi]
            return {"id": intent["charge"], "object": "charge", "payment_intent": pi,
                    "amount": amount, "amount_captured": amount, "amount_refunded": self._refunded(pi),
                    "refunded": self._refunded(pi) == amount, "status": "succeeded",
                    "currency": self.sessions[session_id]["currency"],
                    "metadata": dict(intent["metadata"]),
                    "refunds": {"object": "list", "data": data, "has_more": False}}

    def signed(self, event: dict, secret: str, *, timestamp: int | None = None
               ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST for `event` (signed with `secret`)."""
        body = json.dumps(event).encode()
        stamp = int(time.time()) if timestamp is None else timestamp
        return body, {"Content-Type": "application/json", "Stripe-Signature": sign(body, secret, stamp)}

    def serve(self) -> str:
        """Serve on a loopback port; returns the base URL (use as api_base)."""
        self._server, self.base_url = serve_in_thread(self.app)
        return self.base_url

    def shutdown(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
