"""Daraja misbehaving on STK push and STK query (fault injection), end to end through HTTP.

A fault proxy sits between the app and the bundled simulator: it forwards, or answers late (past
the client's read timeout), or answers HTTP 500 with an HTML page, or answers 200 with bytes that
are not JSON; on the push it does so either after forwarding (the prompt did reach the payer) or
without forwarding (Daraja never processed it). What the design says (mpesa_payments.py,
DESIGN.md): the buyer gets 502 `upstream_error`, the push is never retried, and since the outcome
is unknown the attempt is kept *pending* (not failed: the payer may be typing their PIN); the
callback (whose URL carries the attempt's token) settles it, or reconciliation fails it once the
no-response window has passed. A refusal that Daraja states (HTTP 500 with `errorCode`) fails the
attempt at once: tests/payments/test_mpesa_flow.py::
test_refused_push_is_a_502_with_safaricoms_message. The client-level parsing of these answers is
tests/payments/test_daraja.py (read timeout, gateway error without body, connection refused).
"""
import time
from collections import Counter
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import flask
import pytest
import requests
from sqlalchemy import update

from server.extensions import db
from server.models import Payment, utcnow
from server.services.payments import providers
from server.payments.loopback import serve_in_thread
from server.payments.mpesa.daraja import DarajaClient
from server.services.payments.token_cache import DatabaseTokenCache
from server.services.payments import mpesa as mpesa_payments
from tests.invariants import assert_money_invariants

PUSH, QUERY, OAUTH = ("/mpesa/stkpush/v1/processrequest", "/mpesa/stkpushquery/v1/query",
                      "/oauth/v1/generate")
READ_TIMEOUT = 0.5
GARBAGE = b"\x00\x9f<<not json>>{"


class FaultProxy:
    """Forwards to the simulator; `push` / `query` name the fault to inject on that path."""

    def __init__(self):
        self.target, self.push, self.query, self.hits = None, "forward", "forward", Counter()
        app = flask.Flask("daraja-fault-proxy")
        app.add_url_rule(OAUTH, "oauth", self._oauth)
        app.add_url_rule("/<path:path>", "api", self._api, methods=["POST"])
        self.server, self.url = serve_in_thread(app)

    def _forward(self, method, path):
        request = flask.request
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("authorization",
                                                                            "content-type")}
        return requests.request(method, self.target + path, params=request.args,
                                data=request.get_data(), headers=headers, timeout=5)

    def _oauth(self):
        answer = self._forward("GET", OAUTH)
        return flask.Response(answer.content, answer.status_code, mimetype="application/json")

    def _api(self, path):
        path = "/" + path
        self.hits[path] += 1
        fault = self.push if path == PUSH else self.query
        forwarded = self._forward("POST", path) if fault in ("forward", "timeout_after",
                                                             "500_after", "garbage_after") else None
        if fault == "forward":
            return flask.Response(forwarded.content, forwarded.status_code,
                                  mimetype="application/json")
        if fault.startswith("timeout"):
            time.sleep(READ_TIMEOUT * 3)
            return {"late": True}
        if fault.startswith("500"):
            return flask.Response("<html><body>Internal Server Error</body></html>", 500,
                                  mimetype="text/html")
        return flask.Response(GARBAGE, 200, mimetype="application/json")


@pytest.fixture(scope="module")
def served_proxy():
    proxy = FaultProxy()
    yield proxy
    proxy.server.shutdown()


@pytest.fixture
def proxy(app, served_proxy, mpesa, monkeypatch):
    """The app's Daraja client pointed at the fault proxy, with a short read timeout."""
    served_proxy.target, served_proxy.hits = mpesa.base_url, Counter()
    served_proxy.push = served_proxy.query = "forward"
    settings = replace(providers._daraja_settings(app), base_url=served_proxy.url,
                       read_timeout=READ_TIMEOUT)
    monkeypatch.setitem(app.extensions, "daraja",
                        DarajaClient(settings, tokens=DatabaseTokenCache()))
    return served_proxy


@pytest.fixture(autouse=True)
def _money_stays_consistent():
    yield
    assert_money_invariants()


@pytest.fixture
def order(make_event, attendee_client):
    event = make_event(tiers=[{"name": "Regular", "price": Decimal("1000.00"), "quantity": 5}])
    response = attendee_client.post("/api/orders", json={
        "event_id": event.id, "items": [{"ticket_type_id": event.ticket_types[0].id,
                                         "quantity": 2}], "payment_method": "mpesa"})
    assert response.status_code == 201
    return response.get_json()


def _push(client, order, phone="0712345678"):
    return client.post("/api/payments/mpesa/stk-push",
                       json={"order_id": order["id"], "phone": phone})


def _only_payment(admin_client, order) -> dict:
    [payment] = admin_client.get(f"/api/admin/payments?order_id={order['id']}").get_json()["items"]
    return payment


def _order_status(client, order) -> str:
    return client.get(f"/api/orders/{order['id']}").get_json()["status"]


def _reconcile_now() -> int:
    db.session.execute(update(Payment).values(next_query_at=utcnow() - timedelta(seconds=1))
                       .where(Payment.next_query_at.is_not(None)))
    db.session.commit()
    return mpesa_payments.reconcile_due()


def _assert_upstream_502(response) -> None:
    assert response.status_code == 502, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "upstream_error"
    assert error["details"]["payment_status"] == "pending"  # the prompt may have gone out


# --- the push ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", ["timeout_after", "500_after", "garbage_after"])
def test_push_fault_after_the_prompt_went_out_is_settled_by_the_callback(
        attendee_client, client, admin_client, order, proxy, mpesa, fault):
    """Protection: an unknown push outcome (`DarajaError.outcome_unknown`: timeout, 5xx without
    Daraja's error body, unparseable answer) keeps the attempt pending in
    mpesa_payments._push_failed, and the callback's token finds it without a CheckoutRequestID.

    Verified failing without it: with `_push_failed` closing every error as FAILED (the
    `if exc.outcome_unknown:` branch replaced by the refusal branch) the payment is "failed"
    right after the 502; with daraja._json not catching ValueError, the 500 and garbage cases
    answer 500 `internal_error` instead of 502; before the fix in payment_ledger.record, the
    garbage case (a NUL byte in the answer, which PostgreSQL text cannot store) answered 500.
    """
    proxy.push = fault

    _assert_upstream_502(_push(attendee_client, order))

    assert proxy.hits[PUSH] == 1                      # never retried by itself
    payment = _only_payment(admin_client, order)
    assert payment["status"] == "pending"
    assert _order_status(attendee_client, order) == "pending"
    [(url, body)] = mpesa.take_callbacks()            # the payer paid after all

    assert client.post(urlsplit(url).path, json=body).status_code == 200

    assert _only_payment(admin_client, order)["status"] == "confirmed"
    assert _order_status(attendee_client, order) == "paid"


@pytest.mark.parametrize("fault", ["timeout", "500", "garbage"])
def test_push_fault_never_processed_is_failed_by_reconciliation(
        attendee_client, client, admin_client, order, proxy, mpesa, fault):
    """Protection: the same pending-on-unknown rule, and reconciliation closing an attempt that
    never got a CheckoutRequestID once NO_RESPONSE_WINDOW has passed (nothing stays pending
    forever); the order stays payable and a new prompt then works.

    Verified failing without it: with `_push_failed` closing every error as FAILED the payment
    is "failed" right after the 502 (pending expected); with `_give_up_without_answer` not
    called from `check` the attempt stays pending after the window.
    """
    proxy.push = fault
    _assert_upstream_502(_push(attendee_client, order))
    assert mpesa.take_callbacks() == []
    payment = _only_payment(admin_client, order)
    assert payment["status"] == "pending"

    assert _reconcile_now() == 1                      # inside the window: nothing to decide yet
    assert _only_payment(admin_client, order)["status"] == "pending"

    db.session.execute(update(Payment).where(Payment.id == payment["id"]).values(
        created_at=utcnow() - mpesa_payments.NO_RESPONSE_WINDOW - timedelta(seconds=1)))
    db.session.commit()
    assert _reconcile_now() == 1

    assert _only_payment(admin_client, order)["status"] == "failed"
    assert _order_status(attendee_client, order) == "pending"
    proxy.push = "forward"                            # Daraja is back: the buyer tries again
    assert _push(attendee_client, order, "0712345679").status_code == 202  # (1 prompt/phone/min)
    for url, body in mpesa.take_callbacks():
        client.post(urlsplit(url).path, json=body)
    assert _order_status(attendee_client, order) == "paid"


# --- the query (reconciliation) -----------------------------------------------------------------

@pytest.mark.parametrize("fault", ["timeout", "500", "garbage"])
def test_query_fault_leaves_the_payment_pending_until_daraja_answers(
        attendee_client, admin_client, order, proxy, mpesa, fault):
    """Protection: an STK query that times out, answers 5xx or answers garbage means "ask again
    later" (DarajaClient.stk_query → QueryAnswer(None), mpesa_payments._apply_answer schedules
    the next query), never "failed"; the next reconciliation run settles it.

    Verified failing without it: with `_apply_answer` closing the payment as FAILED when the
    answer has no result code, the payment is "failed" after the faulty query (and the money
    the payer sent, found by the next query, would be flagged instead of paying the order).
    """
    assert _push(attendee_client, order, "0700000007").status_code == 202  # paid, callback lost
    proxy.query = fault

    assert _reconcile_now() == 1

    payment = _only_payment(admin_client, order)
    assert payment["status"] == "pending"
    stored = db.session.get(Payment, payment["id"], populate_existing=True)
    assert stored.next_query_at is not None and stored.next_query_at > utcnow()
    proxy.query = "forward"

    assert _reconcile_now() == 1

    assert _only_payment(admin_client, order)["status"] == "confirmed"
    assert _order_status(attendee_client, order) == "paid"
