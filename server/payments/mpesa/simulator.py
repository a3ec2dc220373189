"""A Daraja-compatible fake for development and tests: OAuth, STK push, STK query and callbacks.

The payer's phone number picks the scenario (see SCENARIOS); state lives in memory only.
"""
from __future__ import annotations

import copy
import logging
import re
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable
from urllib.parse import urlparse

import flask
import requests
from werkzeug.serving import run_simple

from server.payments.loopback import serve_in_thread
from server.payments.mpesa.daraja import NAIROBI, password

log = logging.getLogger(__name__)

SANDBOX_SHORTCODE = "174379"
SANDBOX_PASSKEY = "bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"
TOKEN_LIFETIME = 3599
TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
CALLBACK_TIMEOUT = 10
BUSY = "The transaction is being processed"
_PHONE = re.compile(r"254[71]\d{8}")
_RECEIPT_ALPHABET = string.ascii_uppercase + string.digits
_RESULT_DESCS = {
    "0": "The service request is processed successfully.",
    "1": "The balance is insufficient for the transaction.",
    "1032": "Request cancelled by user",
    "1037": "DS timeout user cannot be reached",
    "2001": "The initiator information is invalid.",
    "2028": "The request is not permitted according to product assignment",
}


@dataclass(frozen=True)
class Scenario:
    """How the simulated payer answers; `result_code` None means no callback is ever sent."""

    name: str
    result_code: str | int | None
    callbacks: int = 1
    query_code: str | None = None
    push_error: tuple[int, str, str] | None = None
    description: str = ""

    def __post_init__(self):
        if self.query_code is None and self.result_code is not None:
            object.__setattr__(self, "query_code", str(self.result_code))


SUCCESS = Scenario("success", 0, description="paid")
SCENARIOS: dict[str, Scenario] = {
    "254700000001": Scenario("cancelled", 1032, description="cancelled by the payer"),
    "254700000002": Scenario("no_answer", None, callbacks=0, query_code="1037",
                             description="no answer: no callback, the query ends in 1037"),
    "254700000003": Scenario("insufficient_funds", 1, description="insufficient funds"),
    "254700000004": Scenario("wrong_pin", 2001, description="wrong PIN"),
    "254700000005": Scenario("duplicate_callback", 0, callbacks=2, description="paid, callback delivered twice"),
    "254700000006": Scenario("cancelled_string_code", "1032", description="cancelled, ResultCode as a string"),
    "254700000007": Scenario("lost_callback", 0, callbacks=0, description="paid, callback lost"),
    "254700000008": Scenario("push_refused", None, callbacks=0, push_error=(
        500, "500.001.1001",
        "Unable to lock subscriber, a transaction is already in process for the current subscriber"),
        description="push refused"),
    "254700000009": Scenario("unknown_code", 7777, description="unknown result code"),
    "254700000010": Scenario("merchant_misconfigured", 2028, description="merchant misconfiguration"),
}


@dataclass
class Transaction:
    """One accepted push."""

    checkout_request_id: str
    merchant_request_id: str
    phone: str
    amount: int
    account_reference: str
    callback_url: str
    scenario: Scenario
    created_at: float
    request: dict
    callbacks_sent: int = 0
    receipt: str = field(default_factory=lambda: "SIM" + "".join(
        secrets.choice(_RECEIPT_ALPHABET) for _ in range(7)))
    queries: int = 0


class Simulator:
    """The fake Daraja: `app` serves the routes, `transactions` holds the pushes by CheckoutRequestID."""

    def __init__(self, *, shortcode: str = SANDBOX_SHORTCODE, passkey: str = SANDBOX_PASSKEY,
                 consumer_key: str = "simulator", consumer_secret: str = "simulator",
                 callback_delay: float | None = 2.0, no_answer_after: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, session: requests.Session | None = None):
        self.shortcode, self.passkey = shortcode, passkey
        self.credentials = (consumer_key, consumer_secret)
        self.callback_delay, self.no_answer_after = callback_delay, no_answer_after
        self.clock = clock
        self.session = session or requests.Session()
        self.transactions: dict[str, Transaction] = {}
        self._queue: list[tuple[str, dict, Transaction]] = []
        self._tokens: dict[str, float] = {}
        self._timers: list[threading.Timer] = []
        self._lock = threading.Lock()
        self._server = None
        self.app = self._build_app()

    def take_callbacks(self) -> list[tuple[str, dict]]:
        """Manual mode: the queued (callback_url, body) pairs, now counted as sent."""
        with self._lock:
            queued, self._queue = self._queue, []
            for _, _, tx in queued:
                tx.callbacks_sent += 1
        return [(url, body) for url, body, _ in queued]

    def callback_body(self, tx: Transaction, result_code: str | int | None = None, **overrides) -> dict:
        """The Daraja callback JSON for `tx`; `overrides` replace stkCallback keys (None removes one)."""
        scenario = tx.scenario
        code = next(c for c in (result_code, scenario.result_code, scenario.query_code, 0) if c is not None)
        stk = {"MerchantRequestID": tx.merchant_request_id, "CheckoutRequestID": tx.checkout_request_id,
               "ResultCode": code, "ResultDesc": _RESULT_DESCS.get(str(code), "Simulated result")}
        if str(code).strip() == "0":
            stk["CallbackMetadata"] = {"Item": [
                {"Name": "Amount", "Value": float(tx.amount)},
                {"Name": "MpesaReceiptNumber", "Value": tx.receipt},
                {"Name": "Balance"},
                {"Name": "TransactionDate", "Value": int(datetime.now(NAIROBI).strftime("%Y%m%d%H%M%S"))},
                {"Name": "PhoneNumber", "Value": int(tx.phone)}]}
        stk.update(overrides)
        return {"Body": {"stkCallback": {k: v for k, v in stk.items() if v is not None}}}

    def revoke_tokens(self) -> None:
        """Forget every issued token, as when Daraja expires them early."""
        with self._lock:
            self._tokens.clear()

    def reset(self) -> None:
        """Forget transactions, queued callbacks and pending callback timers."""
        with self._lock:
            for timer in self._timers:
                timer.cancel()
            self._timers.clear()
            self._queue.clear()
            self.transactions.clear()

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> str:
        """Serve from a background thread; returns the base URL."""
        self._server, base_url = serve_in_thread(self.app, host, port)
        return base_url

    def shutdown(self) -> None:
        """Stop serving and cancel pending callbacks."""
        self.reset()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _build_app(self) -> flask.Flask:
        app = flask.Flask(__name__)
        app.add_url_rule("/oauth/v1/generate", "oauth", self._oauth, methods=["GET"])
        app.add_url_rule("/mpesa/stkpush/v1/processrequest", "push", self._push, methods=["POST"])
        app.add_url_rule("/mpesa/stkpushquery/v1/query", "query", self._query, methods=["POST"])
        return app

    def _oauth(self):
        auth = flask.request.authorization
        if flask.request.args.get("grant_type") != "client_credentials":
            return _error(400, "400.008.02", "Invalid grant type passed")
        if auth is None or auth.type != "basic" or (auth.username, auth.password) != self.credentials:
            return _error(400, "400.008.01", "Invalid Authentication passed")
        token = secrets.token_urlsafe(21)
        with self._lock:
            self._tokens[token] = self.clock() + TOKEN_LIFETIME
        return {"access_token": token, "expires_in": str(TOKEN_LIFETIME)}

    def _push(self):
        body = flask.request.get_json(silent=True)
        refusal = self._authorize(body) or self._refuse_push(body)
        if refusal:
            return refusal
        phone = str(body["PhoneNumber"])
        scenario = SCENARIOS.get(phone, SUCCESS)
        if scenario.push_error:
            return _error(*scenario.push_error)
        tx = self._record(body, phone, scenario)
        if scenario.result_code is not None and scenario.callbacks:
            self._schedule(tx, self.callback_body(tx))
        message = "Success. Request accepted for processing"
        return {"MerchantRequestID": tx.merchant_request_id, "CheckoutRequestID": tx.checkout_request_id,
                "ResponseCode": "0", "ResponseDescription": message, "CustomerMessage": message}

    def _query(self):
        body = flask.request.get_json(silent=True)
        refusal = self._authorize(body)
        if refusal:
            return refusal
        tx = self.transactions.get(str(body.get("CheckoutRequestID")))
        if tx is None:
            return _error(400, "400.002.02", "Bad Request - Invalid CheckoutRequestID")
        code = self._result_of(tx)
        ids = {"MerchantRequestID": tx.merchant_request_id, "CheckoutRequestID": tx.checkout_request_id}
        if code is None:
            with self._lock:
                tx.queries += 1
            if tx.queries % 2:
                return _error(500, "500.001.1001", BUSY)
            return {"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
                    **ids, "ResultCode": "4999", "ResultDesc": "The transaction is still under processing"}
        return {"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
                **ids, "ResultCode": code, "ResultDesc": _RESULT_DESCS.get(code, "Simulated result")}

    def _authorize(self, body: object):
        """The error answer for a missing token or bad credentials, or None."""
        header = flask.request.headers.get("Authorization", "")
        expires = self._tokens.get(header.removeprefix("Bearer ").strip()) if header.startswith("Bearer ") else None
        if expires is None or expires <= self.clock():
            return _error(404, "404.001.03", "Invalid Access Token")
        if not isinstance(body, dict):
            return _error(400, "400.002.02", "Bad Request - Invalid JSON")
        ts = str(body.get("Timestamp", ""))
        checks = {"BusinessShortCode": str(body.get("BusinessShortCode")) == self.shortcode,
                  "Timestamp": _valid_timestamp(ts),
                  "Password": body.get("Password") == password(self.shortcode, self.passkey, ts)}
        return _first_invalid(checks)

    def _refuse_push(self, body: dict):
        """The 400 answer for the first invalid push field, or None."""
        checks = {"TransactionType": body.get("TransactionType") in TRANSACTION_TYPES,
                  "Amount": _whole_amount(body.get("Amount")) is not None,
                  "PartyA": bool(_PHONE.fullmatch(str(body.get("PartyA")))),
                  "PhoneNumber": str(body.get("PhoneNumber")) == str(body.get("PartyA")),
                  "PartyB": bool(re.fullmatch(r"\d{5,7}", str(body.get("PartyB")))),
                  "CallBackURL": _valid_url(body.get("CallBackURL")),
                  "AccountReference": _short_text(body.get("AccountReference"), 12),
                  "TransactionDesc": _short_text(body.get("TransactionDesc"), 13)}
        return _first_invalid(checks)

    def _record(self, body: dict, phone: str, scenario: Scenario) -> Transaction:
        with self._lock:
            checkout_id = _checkout_request_id()
            while checkout_id in self.transactions:
                checkout_id = _checkout_request_id()
            tx = Transaction(checkout_request_id=checkout_id, merchant_request_id=str(uuid.uuid4()), phone=phone,
                             amount=_whole_amount(body["Amount"]), account_reference=body["AccountReference"],
                             callback_url=body["CallBackURL"], scenario=scenario, created_at=self.clock(),
                             request=dict(body))
            self.transactions[checkout_id] = tx
        return tx

    def _schedule(self, tx: Transaction, body: dict) -> None:
        if self.callback_delay is None:
            with self._lock:
                self._queue.extend((tx.callback_url, copy.deepcopy(body), tx) for _ in range(tx.scenario.callbacks))
            return
        timer = threading.Timer(self.callback_delay, self._deliver, (tx, body))
        timer.daemon = True
        with self._lock:
            self._timers.append(timer)
        timer.start()

    def _deliver(self, tx: Transaction, body: dict) -> None:
        """POST the callback; the transaction counts as complete before, so a receiver's query sees it."""
        for _ in range(tx.scenario.callbacks):
            with self._lock:
                tx.callbacks_sent += 1
            try:
                self.session.post(tx.callback_url, json=body, timeout=CALLBACK_TIMEOUT)
            except requests.RequestException as exc:
                log.warning("Simulated callback to %s failed: %s", tx.callback_url, exc)

    def _result_of(self, tx: Transaction) -> str | None:
        """The query's ResultCode once the transaction is complete, else None."""
        scenario = tx.scenario
        if scenario.callbacks:
            return scenario.query_code if tx.callbacks_sent else None
        wait = self.no_answer_after if scenario.result_code is None else 0
        return scenario.query_code if self.clock() - tx.created_at >= wait else None


def run(host: str = "127.0.0.1", port: int = 5055, callback_delay: float | None = 2.0) -> None:
    """Serve a simulator in the foreground until interrupted."""
    run_simple(host, port, Simulator(callback_delay=callback_delay).app, threaded=True)


def _error(status: int, code: str, message: str):
    return {"requestId": f"sim-{uuid.uuid4().hex[:12]}", "errorCode": code, "errorMessage": message}, status


def _first_invalid(checks: dict[str, bool]):
    field_name = next((name for name, ok in checks.items() if not ok), None)
    return _error(400, "400.002.02", f"Bad Request - Invalid {field_name}") if field_name else None


def _valid_timestamp(ts: str) -> bool:
    try:
        return len(ts) == 14 and ts.isdigit() and bool(datetime.strptime(ts, "%Y%m%d%H%M%S"))
    except ValueError:
        return False


def _whole_amount(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    return value if isinstance(value, int) and 1 <= value <= 250_000 else None


def _valid_url(value: object) -> bool:
    url = urlparse(value) if isinstance(value, str) else None
    return bool(url and url.scheme in ("http", "https") and url.netloc)


def _short_text(value: object, limit: int) -> bool:
    return isinstance(value, str) and 0 < len(value) <= limit


def _checkout_request_id() -> str:
    stamp = datetime.now(NAIROBI).strftime("%d%m%Y%H%M%S")
    return f"ws_CO_{stamp}{secrets.randbelow(10**9):09d}"

