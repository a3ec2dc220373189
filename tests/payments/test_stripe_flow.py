"""Stripe Checkout end to end through HTTP: checkout, signed webhooks, refunds, against the fake."""
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
import stripe
from sqlalchemy import func, select, update

from server.extensions import db
from server.models import (Payment, PaymentEvent, StripeWebhookEvent, TicketOrder, TicketType,
                           utcnow)
from server.services.orders import lifecycle as order_lifecycle
from server.services.payments import refunds, stripe as stripe_payments
from tests.invariants import assert_money_invariants

CHECKOUT = "/api/payments/stripe/checkout"
WEBHOOK = "/api/payments/stripe/webhook"
SESSIONS = "/v1/checkout/sessions"
TOTAL_MINOR = 450050  # 1 × VIP 2500.50 + 2 × Regular 1000.00, in cents


@pytest.fixture(autouse=True)
def _no_backoff(monkeypatch):
    """The stripe library waits between its own retries; the fake answers at once."""
    monkeypatch.setattr(stripe._http_client.HTTPClient, "_sleep_time_seconds", lambda self, n: 0)


@pytest.fixture
def event(make_event):
    return make_event(tiers=[{"name": "VIP", "price": Decimal("2500.50"), "quantity": 5},
                             {"name": "Regular", "price": Decimal("1000.00"), "quantity": 5}])


@pytest.fixture
def order(event, attendee_client):
    return place(attendee_client, event)


# --- helpers ------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _money_stays_consistent():
    """Whatever a scenario did, inventory, orders and payments still agree afterwards."""
    yield
    assert_money_invariants()

def place(client, event, pairs=None, **extra) -> dict:
    pairs = pairs or [(event.ticket_types[0], 1), (event.ticket_types[1], 2)]
    body = {"event_id": event.id, **extra,
            "items": [{"ticket_type_id": tier.id, "quantity": n} for tier, n in pairs]}
    response = client.post("/api/orders", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def checkout(client, order, **kwargs):
    return client.post(CHECKOUT, json={"order_id": order["id"]}, **kwargs)


def started(client, order) -> dict:
    response = checkout(client, order)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post_event(client, app, fake, event, **sign):
    body, headers = fake.signed(event, app.config["STRIPE_WEBHOOK_SECRET"], **sign)
    return client.post(WEBHOOK, data=body, headers=headers)


def deliver(client, app, fake, kind, obj) -> dict:
    """Sign and post one event; it must be answered 200."""
    response = post_event(client, app, fake, fake.event(kind, obj))
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def order_of(client, order) -> dict:
    return client.get(f"/api/orders/{order['id']}").get_json()


def payment_of(client, payment) -> dict:
    return client.get(f"/api/payments/{payment['payment_id']}").get_json()


def counts(tier) -> tuple[int, int]:
    db.session.expire_all()
    row = db.session.get(TicketType, tier.id)
    return row.sold, row.held


def posts(fake, path) -> list:
    return [r for r in fake.requests if r[0] == "POST" and r[1] == path]


def expire(order) -> None:
    """Let the order's hold run out and the sweeper expire it."""
    db.session.execute(update(TicketOrder).where(TicketOrder.id == order["id"])
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert in_process(order_lifecycle.expire_due_orders) == 1


def in_process(job, *args):
    """Run a periodic job from the test; its session must not sit inside an older savepoint
    of the test's session, or the job's rollback would undo what the requests did."""
    db.session.commit()
    return job(*args)


def when(value) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


# --- starting a checkout ------------------------------------------------------------------------

def test_checkout_creates_a_session_for_the_order(attendee_client, order, stripe_fake, attendee):
    assert when(order["expires_at"]) - datetime.now(timezone.utc) < timedelta(minutes=11)

    response = checkout(attendee_client, order)

    assert response.status_code == 201
    started_ = response.get_json()
    assert {"payment_id", "session_id", "checkout_url"} <= started_.keys()
    assert started_["session_id"].startswith("cs_")
    session = stripe_fake.sessions[started_["session_id"]]
    assert started_["checkout_url"] == session["url"]
    (_, _, form, headers), = posts(stripe_fake, SESSIONS)
    assert form["mode"] == "payment"
    assert [(form[f"line_items[{i}][price_data][unit_amount]"], form[f"line_items[{i}][quantity]"],
             form[f"line_items[{i}][price_data][currency]"]) for i in (0, 1)] == [
        ("250050", "1", "kes"), ("100000", "2", "kes")]
    assert form["line_items[0][price_data][product_data][name]"].endswith("VIP")
    assert form["client_reference_id"] == str(order["id"])
    for prefix in ("metadata", "payment_intent_data[metadata]"):
        assert form[f"{prefix}[order_id]"] == str(order["id"])
        assert form[f"{prefix}[payment_id]"] == str(started_["payment_id"])
    assert form["customer_email"] == attendee.email
    assert "{CHECKOUT_SESSION_ID}" in form["success_url"]
    assert headers["Idempotency-Key"] == f"ticksy-payment-{started_['payment_id']}-checkout"
    assert (session["amount_total"], session["currency"]) == (TOTAL_MINOR, "kes")

    # The hold now outlasts the session: Stripe cannot take money for released tickets.
    hold = when(order_of(attendee_client, order)["expires_at"])
    assert hold >= datetime.fromtimestamp(session["expires_at"], timezone.utc)
    assert hold - datetime.now(timezone.utc) >= timedelta(minutes=30)
    payment = payment_of(attendee_client, started_)
    assert (payment["provider"], payment["status"], payment["amount"], payment["currency"]) == (
        "stripe", "pending", "4500.50", "KES")
    assert payment["order_id"] == order["id"] and payment["receipt"] is None
    assert order_of(attendee_client, order)["status"] == "pending"
    assert_money_invariants()


def test_checkout_again_returns_the_same_open_session(attendee_client, order, stripe_fake):
    first = started(attendee_client, order)
    again = checkout(attendee_client, order, headers={"Idempotency-Key": "another-try"})

    assert again.status_code == 201
    assert {k: again.get_json()[k] for k in ("payment_id", "session_id", "checkout_url")} == {
        k: first[k] for k in ("payment_id", "session_id", "checkout_url")}
    assert len(posts(stripe_fake, SESSIONS)) == 1 and len(stripe_fake.sessions) == 1
    assert_money_invariants()


def test_idempotency_key_replays_and_refuses_another_order(attendee_client, event, stripe_fake):
    one, two = place(attendee_client, event), place(attendee_client, event)
    key = {"Idempotency-Key": "pay-once"}
    first = checkout(attendee_client, one, headers=key)
    assert first.status_code == 201

    other = checkout(attendee_client, two, headers=key)
    replay = checkout(attendee_client, one, headers=key)

    assert other.status_code == 422
    assert other.get_json()["error"]["code"] == "validation_error"
    assert replay.status_code == 201
    assert replay.get_json()["payment_id"] == first.get_json()["payment_id"]
    assert len(posts(stripe_fake, SESSIONS)) == 1
    assert order_of(attendee_client, two)["status"] == "pending"
    assert_money_invariants()


def test_someone_elses_order_is_not_found(client_for, make_user, order, stripe_fake):
    response = checkout(client_for(make_user()), order)

    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"
    assert stripe_fake.requests == []
    assert_money_invariants()


@pytest.mark.parametrize("state", ["paid", "cancelled", "expired"])
def test_an_order_that_cannot_be_paid_is_409(state, attendee_client, event, make_order, stripe_fake):
    if state == "paid":
        order = {"id": make_order(event, paid=True).id}
    else:
        order = place(attendee_client, event)
        if state == "cancelled":
            assert attendee_client.post(f"/api/orders/{order['id']}/cancel").status_code == 200
        else:
            expire(order)
    assert order_of(attendee_client, order)["status"] == state

    response = checkout(attendee_client, order)

    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "order_not_payable" and error["details"]["status"] == state
    assert stripe_fake.requests == []
    assert_money_invariants()


def test_stripe_failing_is_a_502_and_the_attempt_failed(attendee_client, admin_client, order,
                                                       stripe_fake):
    stripe_fake.fail_next(500, times=3)  # the first call and the library's two retries

    response = checkout(attendee_client, order, headers={"Idempotency-Key": "card-1"})

    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_error"
    assert len(posts(stripe_fake, SESSIONS)) == 3 and stripe_fake.sessions == {}
    listed = admin_client.get(f"/api/admin/payments?order_id={order['id']}").get_json()["items"]
    assert [(p["status"], p["result_code"]) for p in listed] == [("failed", "stripe_error")]
    assert order_of(attendee_client, order)["status"] == "pending"

    # The buyer may try again, even with the same key: a new attempt, a new session.
    retry = checkout(attendee_client, order, headers={"Idempotency-Key": "card-1"}).get_json()
    assert retry["payment_id"] != listed[0]["id"] and retry["session_id"] in stripe_fake.sessions
    assert_money_invariants()


def test_without_a_secret_key_card_payments_are_unavailable(app, monkeypatch, attendee_client,
                                                          admin_client, order, stripe_fake):
    monkeypatch.setitem(app.config, "STRIPE_SECRET_KEY", None)

    response = checkout(attendee_client, order)

    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "payments_unavailable"
    assert stripe_fake.requests == []
    assert admin_client.get(f"/api/admin/payments?order_id={order['id']}").get_json()["total"] == 0
    assert_money_invariants()


# --- webhooks: fulfilment -----------------------------------------------------------------------

def test_paid_session_fulfils_the_order(app, client, attendee_client, event, order, stripe_fake):
    payment = started(attendee_client, order)
    session = stripe_fake.complete(payment["session_id"])

    answer = deliver(client, app, stripe_fake, "checkout.session.completed", session)

    assert answer == {"received": True, "result": "handled"}
    paid = order_of(attendee_client, order)
    assert paid["status"] == "paid" and paid["payment_method"] == "stripe"
    assert len(paid["tickets"]) == 3 and {t["status"] for t in paid["tickets"]} == {"valid"}
    confirmed = payment_of(attendee_client, payment)
    assert confirmed["status"] == "confirmed" and confirmed["receipt"] == session["payment_intent"]
    assert confirmed["needs_refund"] is False and confirmed["flag"] is None
    assert [counts(tier) for tier in event.ticket_types] == [(1, 0), (2, 0)]
    assert_money_invariants()


def test_the_same_event_twice_fulfils_once(app, client, attendee_client, event, order, stripe_fake):
    payment = started(attendee_client, order)
    event_ = stripe_fake.event("checkout.session.completed",
                               stripe_fake.complete(payment["session_id"]))

    first = post_event(client, app, stripe_fake, event_)
    second = post_event(client, app, stripe_fake, event_)

    assert (first.status_code, second.status_code) == (200, 200)
    assert second.get_json()["result"] == "duplicate"
    assert len(order_of(attendee_client, order)["tickets"]) == 3
    assert payment_of(attendee_client, payment)["status"] == "confirmed"
    assert [counts(tier) for tier in event.ticket_types] == [(1, 0), (2, 0)]
    assert_money_invariants()


def test_completed_and_async_succeeded_fulfil_once(app, client, attendee_client, event, order,
                                                   stripe_fake):
    payment = started(attendee_client, order)
    session = stripe_fake.complete(payment["session_id"])

    deliver(client, app, stripe_fake, "checkout.session.completed", session)
    deliver(client, app, stripe_fake, "checkout.session.async_payment_succeeded", session)

    paid = order_of(attendee_client, order)
    assert paid["status"] == "paid" and len(paid["tickets"]) == 3
    assert payment_of(attendee_client, payment)["status"] == "confirmed"
    assert [counts(tier) for tier in event.ticket_types] == [(1, 0), (2, 0)]
    assert_money_invariants()


def test_completed_but_unpaid_is_not_fulfilled(app, client, attendee_client, event, order,
                                               stripe_fake):
    payment = started(attendee_client, order)
    waiting = dict(stripe_fake.sessions[payment["session_id"]], status="complete",
                   payment_status="unpaid")  # a delayed payment method still settling

    deliver(client, app, stripe_fake, "checkout.session.completed", waiting)

    assert order_of(attendee_client, order)["status"] == "pending"
    assert order_of(attendee_client, order)["tickets"] == []
    assert payment_of(attendee_client, payment)["status"] == "pending"
    assert [counts(tier) for tier in event.ticket_types] == [(0, 1), (0, 2)]

    # The money settles later.
    deliver(client, app, stripe_fake, "checkout.session.async_payment_succeeded",
            stripe_fake.complete(payment["session_id"]))
    assert order_of(attendee_client, order)["status"] == "paid"
    assert_money_invariants()


def test_amount_mismatch_is_flagged_not_fulfilled(app, client, attendee_client, admin_client,
                                                  order, stripe_fake):
    payment = started(attendee_client, order)
    session = stripe_fake.complete(payment["session_id"])

    deliver(client, app, stripe_fake, "checkout.session.completed",
            dict(session, amount_total=TOTAL_MINOR - 100))

    assert order_of(attendee_client, order)["status"] == "pending"
    assert order_of(attendee_client, order)["tickets"] == []
    seen = payment_of(attendee_client, payment)
    assert (seen["status"], seen["flag"]) == ("pending", "amount_mismatch")
    flagged = admin_client.get("/api/admin/payments?flag=amount_mismatch").get_json()["items"]
    assert [p["id"] for p in flagged] == [payment["payment_id"]]
    assert_money_invariants()


def test_event_for_an_unknown_session_is_ignored(app, client, attendee_client, order, stripe_fake):
    payment = started(attendee_client, order)
    stranger = dict(stripe_fake.complete(payment["session_id"]), id="cs_test_not_ours")

    answer = deliver(client, app, stripe_fake, "checkout.session.completed", stranger)

    assert answer == {"received": True, "result": "ignored"}
    assert order_of(attendee_client, order)["status"] == "pending"
    assert payment_of(attendee_client, payment)["status"] == "pending"
    assert_money_invariants()


def test_expired_session_releases_the_pending_order(app, client, attendee_client, event, order,
                                                    stripe_fake):
    payment = started(attendee_client, order)
    expired = dict(stripe_fake.sessions[payment["session_id"]], status="expired")

    deliver(client, app, stripe_fake, "checkout.session.expired", expired)

    failed = payment_of(attendee_client, payment)
    assert (failed["status"], failed["result_code"]) == ("failed", "expired")
    assert order_of(attendee_client, order)["status"] == "expired"
    assert [counts(tier) for tier in event.ticket_types] == [(0, 0), (0, 0)]
    assert_money_invariants()


def test_failed_delayed_payment_ends_the_attempt(app, client, attendee_client, event, order,
                                                 stripe_fake):
    payment = started(attendee_client, order)
    waiting = dict(stripe_fake.sessions[payment["session_id"]], status="complete")

    deliver(client, app, stripe_fake, "checkout.session.async_payment_failed", waiting)

    failed = payment_of(attendee_client, payment)
    assert (failed["status"], failed["result_code"]) == ("failed", "payment_failed")
    assert order_of(attendee_client, order)["status"] == "expired"
    assert_money_invariants()


def test_late_payment_for_an_expired_order_retakes_its_tickets(app, client, attendee_client, event,
                                                               order, stripe_fake):
    payment = started(attendee_client, order)
    expire(order)
    assert [counts(tier) for tier in event.ticket_types] == [(0, 0), (0, 0)]

    deliver(client, app, stripe_fake, "checkout.session.completed",
            stripe_fake.complete(payment["session_id"]))

    paid = order_of(attendee_client, order)
    assert paid["status"] == "paid" and len(paid["tickets"]) == 3
    assert paid["needs_refund"] is False
    confirmed = payment_of(attendee_client, payment)
    assert confirmed["status"] == "confirmed" and confirmed["needs_refund"] is False
    assert [counts(tier) for tier in event.ticket_types] == [(1, 0), (2, 0)]
    assert_money_invariants()


def test_late_payment_when_tickets_are_gone_is_refunded_by_an_admin(
        app, client, attendee_client, admin_client, make_event, make_order, make_user, stripe_fake):
    event = make_event(tiers=[{"name": "Last seat", "price": Decimal("1500.00"), "quantity": 1}])
    order = place(attendee_client, event, [(event.ticket_types[0], 1)])
    payment = started(attendee_client, order)
    expire(order)
    make_order(event, buyer=make_user(), paid=True)  # someone else buys the seat meanwhile

    session = stripe_fake.complete(payment["session_id"])
    deliver(client, app, stripe_fake, "checkout.session.completed", session)

    late = order_of(attendee_client, order)
    assert late["status"] == "expired" and late["tickets"] == []
    kept = payment_of(attendee_client, payment)
    assert (kept["status"], kept["needs_refund"], kept["receipt"]) == (
        "confirmed", True, session["payment_intent"])
    assert counts(event.ticket_types[0]) == (1, 0)
    to_refund = admin_client.get("/api/admin/payments?needs_refund=true").get_json()["items"]
    assert [p["id"] for p in to_refund] == [payment["payment_id"]]
    assert_money_invariants()

    response = admin_client.post(f"/api/admin/payments/{payment['payment_id']}/refund")

    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["needs_refund"]) == ("refunded", False)
    (refund,) = stripe_fake.refunds.values()
    assert (refund["payment_intent"], refund["amount"]) == (session["payment_intent"], 150000)
    (row,) = admin_client.get("/api/admin/refunds").get_json()["items"]
    assert (row["payment_id"], row["status"], row["method"], row["amount"]) == (
        payment["payment_id"], "succeeded", "stripe", "1500.00")
    assert row["stripe_refund_id"] == refund["id"]
    assert admin_client.get("/api/admin/payments?needs_refund=true").get_json()["items"] == []
    assert order_of(attendee_client, order)["status"] == "expired"
    assert counts(event.ticket_types[0]) == (1, 0)
    assert_money_invariants()


# --- webhooks: signatures -----------------------------------------------------------------------

def _tampered(app, fake, event):
    body, headers = fake.signed(event, app.config["STRIPE_WEBHOOK_SECRET"])
    return body.replace(event["id"].encode(), b"evt_forged"), headers


def _stale(app, fake, event):
    return fake.signed(event, app.config["STRIPE_WEBHOOK_SECRET"], timestamp=int(time.time()) - 301)


def _unsigned(app, fake, event):
    body, headers = fake.signed(event, app.config["STRIPE_WEBHOOK_SECRET"])
    del headers["Stripe-Signature"]
    return body, headers


def _no_secret(app, fake, event):
    signed = fake.signed(event, app.config["STRIPE_WEBHOOK_SECRET"])
    app.config["STRIPE_WEBHOOK_SECRET"] = None  # restored by the test's monkeypatch
    return signed


@pytest.mark.parametrize("forge", [_tampered, _stale, _unsigned, _no_secret])
def test_unverifiable_webhooks_are_refused(forge, app, monkeypatch, client, attendee_client, order,
                                           stripe_fake):
    monkeypatch.setitem(app.config, "STRIPE_WEBHOOK_SECRET", app.config["STRIPE_WEBHOOK_SECRET"])
    payment = started(attendee_client, order)
    event = stripe_fake.event("checkout.session.completed",
                              stripe_fake.complete(payment["session_id"]))
    body, headers = forge(app, stripe_fake, event)

    response = client.post(WEBHOOK, data=body, headers=headers)

    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_signature"
    assert db.session.scalar(select(func.count()).select_from(StripeWebhookEvent)) == 0
    assert db.session.scalar(select(func.count(PaymentEvent.id))
                             .where(PaymentEvent.kind.like("stripe.webhook%"))) == 0
    assert order_of(attendee_client, order)["status"] == "pending"
    assert payment_of(attendee_client, payment)["status"] == "pending"
    assert_money_invariants()

    # The refusal did not use up the event: Stripe's genuine delivery still counts.
    monkeypatch.undo()
    assert post_event(client, app, stripe_fake, event).get_json()["result"] == "handled"
    assert order_of(attendee_client, order)["status"] == "paid"
    assert_money_invariants()


# --- refunds ------------------------------------------------------------------------------------

@pytest.fixture
def card_paid(app, client, attendee_client, order, stripe_fake) -> dict:
    """The order, paid by card through a webhook; with its payment and session."""
    payment = started(attendee_client, order)
    session = stripe_fake.complete(payment["session_id"])
    deliver(client, app, stripe_fake, "checkout.session.completed", session)
    assert order_of(attendee_client, order)["status"] == "paid"
    return {"order": order, "payment": payment, "session": session}


def test_organizer_refund_is_executed_at_stripe_once(app, client, organizer_client, admin_client,
                                                     attendee_client, event, card_paid,
                                                     stripe_fake):
    order, payment = card_paid["order"], card_paid["payment"]

    response = organizer_client.post(f"/api/orders/{order['id']}/refund")

    assert response.status_code == 200
    refunded = order_of(attendee_client, order)
    assert refunded["status"] == "refunded"
    assert {t["status"] for t in refunded["tickets"]} == {"void"}
    assert payment_of(attendee_client, payment)["status"] == "refunded"
    assert [counts(tier) for tier in event.ticket_types] == [(0, 0), (0, 0)]
    (refund,) = stripe_fake.refunds.values()
    assert (refund["payment_intent"], refund["amount"]) == (
        card_paid["session"]["payment_intent"], TOTAL_MINOR)
    (row,) = admin_client.get("/api/admin/refunds").get_json()["items"]
    assert (row["status"], row["method"], row["amount"], row["stripe_refund_id"]) == (
        "succeeded", "stripe", "4500.50", refund["id"])
    assert refund["metadata"] == {"refund_id": str(row["id"])}
    (_, _, _, headers), = posts(stripe_fake, "/v1/refunds")
    assert headers["Idempotency-Key"] == f"ticksy-refund-{row['id']}"
    assert_money_invariants()

    # Stripe then reports the refund it made for us: already known, nothing changes.
    answer = deliver(client, app, stripe_fake, "charge.refunded",
                     stripe_fake.charge_refunded(payment["session_id"], []))

    assert answer["result"] == "handled"
    assert admin_client.get("/api/admin/refunds").get_json()["items"] == [row]
    assert order_of(attendee_client, order)["status"] == "refunded"
    assert payment_of(attendee_client, payment)["status"] == "refunded"
    assert len(stripe_fake.refunds) == 1
    assert_money_invariants()


def test_refund_made_in_the_dashboard_refunds_the_order(app, client, admin_client, attendee_client,
                                                        event, card_paid, stripe_fake):
    order, payment = card_paid["order"], card_paid["payment"]
    charge = stripe_fake.charge_refunded(payment["session_id"], [TOTAL_MINOR])

    answer = deliver(client, app, stripe_fake, "charge.refunded", charge)

    assert answer["result"] == "handled"
    refunded = order_of(attendee_client, order)
    assert refunded["status"] == "refunded"
    assert {t["status"] for t in refunded["tickets"]} == {"void"}
    assert payment_of(attendee_client, payment)["status"] == "refunded"
    assert [counts(tier) for tier in event.ticket_types] == [(0, 0), (0, 0)]
    (row,) = admin_client.get("/api/admin/refunds").get_json()["items"]
    assert (row["status"], row["amount"], row["stripe_refund_id"]) == (
        "succeeded", "4500.50", charge["refunds"]["data"][0]["id"])
    assert posts(stripe_fake, "/v1/refunds") == []  # nothing asked of Stripe: it was done there
    assert_money_invariants()


def test_refund_stripe_could_not_take_is_retried_later(organizer_client, admin_client,
                                                       attendee_client, card_paid, stripe_fake):
    order, payment = card_paid["order"], card_paid["payment"]
    stripe_fake.fail_next(500, times=3)

    response = organizer_client.post(f"/api/orders/{order['id']}/refund")

    assert response.status_code == 200
    assert order_of(attendee_client, order)["status"] == "refunded"
    assert stripe_fake.refunds == {}
    (row,) = admin_client.get("/api/admin/refunds").get_json()["items"]
    assert (row["status"], row["stripe_refund_id"]) == ("pending", None)
    assert_money_invariants()

    assert in_process(refunds.retry_pending) == 1

    (refund,) = stripe_fake.refunds.values()
    (row,) = admin_client.get("/api/admin/refunds").get_json()["items"]
    assert (row["status"], row["stripe_refund_id"]) == ("succeeded", refund["id"])
    keys = {headers["Idempotency-Key"] for _, _, _, headers in posts(stripe_fake, "/v1/refunds")}
    assert keys == {f"ticksy-refund-{row['id']}"}  # every try was the same request to Stripe
    assert in_process(refunds.retry_pending) == 0
    assert_money_invariants()


# --- cancel, refresh, reading -------------------------------------------------------------------

def test_cancelling_a_card_order_expires_its_session(attendee_client, event, stripe_fake):
    order = place(attendee_client, event, payment_method="stripe")
    payment = started(attendee_client, order)

    response = attendee_client.post(f"/api/orders/{order['id']}/cancel")

    assert response.status_code == 200 and response.get_json()["status"] == "cancelled"
    assert stripe_fake.sessions[payment["session_id"]]["status"] == "expired"
    assert payment_of(attendee_client, payment)["status"] == "failed"
    assert [counts(tier) for tier in event.ticket_types] == [(0, 0), (0, 0)]
    assert_money_invariants()


def test_refresh_confirms_a_session_paid_without_a_webhook(attendee_client, order, stripe_fake):
    payment = started(attendee_client, order)
    session = stripe_fake.complete(payment["session_id"])

    response = attendee_client.post(f"/api/payments/{payment['payment_id']}/refresh")

    assert response.status_code == 200
    assert (response.get_json()["status"], response.get_json()["receipt"]) == (
        "confirmed", session["payment_intent"])
    paid = order_of(attendee_client, order)
    assert paid["status"] == "paid" and len(paid["tickets"]) == 3
    assert_money_invariants()


def test_a_payment_is_visible_to_its_buyer_and_admins(attendee_client, admin_client, client_for,
                                                     make_user, order, stripe_fake):
    payment = started(attendee_client, order)
    url = f"/api/payments/{payment['payment_id']}"

    mine = attendee_client.get(url)
    assert mine.status_code == 200
    assert {"id", "order_id", "provider", "status", "amount", "currency", "receipt", "result_code",
            "result_desc", "created_at", "updated_at"} <= mine.get_json().keys()
    assert client_for(make_user()).get(url).status_code == 404
    assert client_for(make_user()).post(f"{url}/refresh").status_code == 404
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url).get_json() == mine.get_json()
    assert_money_invariants()



def test_a_refunded_charge_without_a_payment_intent_is_not_ours(
        app, client, attendee_client, admin_client, make_event, mpesa, stripe_fake):
    """A charge made outside Checkout (no payment intent) must not be matched, through
    `payment_intent IS NULL`, to some payment that has none, such as an M-Pesa one."""
    event = make_event(tiers=[{"name": "Regular", "price": Decimal("1000.00"), "quantity": 5}])
    order = place(attendee_client, event, [(event.ticket_types[0], 1)], payment_method="mpesa")
    pushed = attendee_client.post("/api/payments/mpesa/stk-push",
                                  json={"order_id": order["id"], "phone": "0712345678"})
    assert pushed.status_code == 202
    for url, body in mpesa.take_callbacks():
        assert client.post(urlsplit(url).path, json=body).status_code == 200
    assert order_of(attendee_client, order)["status"] == "paid"
    charge = {"id": "ch_elsewhere", "object": "charge", "payment_intent": None, "amount": 100000,
              "amount_refunded": 100000, "refunded": True, "currency": "kes",
              "refunds": {"object": "list", "has_more": False, "data": [
                  {"id": "re_elsewhere", "object": "refund", "amount": 100000, "charge": "ch_elsewhere",
                   "payment_intent": None, "status": "succeeded", "metadata": {}}]}}

    answer = deliver(client, app, stripe_fake, "charge.refunded", charge)

    assert answer["result"] == "ignored"
    kept = order_of(attendee_client, order)
    assert kept["status"] == "paid" and {t["status"] for t in kept["tickets"]} == {"valid"}
    (payment,) = admin_client.get(f"/api/admin/payments?order_id={order['id']}").get_json()["items"]
    assert payment["status"] == "confirmed"
    assert admin_client.get("/api/admin/refunds").get_json()["items"] == []
    assert_money_invariants()


def test_a_session_event_without_a_session_id_is_not_ours(app, client, attendee_client,
                                                         admin_client, make_event, stripe_fake):
    """Likewise a session object without an id must not match a payment that has no session."""
    event = make_event(tiers=[{"name": "Regular", "price": Decimal("1000.00"), "quantity": 5}])
    order = place(attendee_client, event, [(event.ticket_types[0], 1)], payment_method="mpesa")
    pushed = attendee_client.post("/api/payments/mpesa/stk-push",
                                  json={"order_id": order["id"], "phone": "0712345678"})
    assert pushed.status_code == 202

    answer = deliver(client, app, stripe_fake, "checkout.session.expired",
                     {"object": "checkout.session", "status": "expired"})

    assert answer["result"] == "ignored"
    assert order_of(attendee_client, order)["status"] == "pending"
    assert payment_of(attendee_client, pushed.get_json())["status"] == "pending"
    assert counts(event.ticket_types[0]) == (0, 1)
    assert_money_invariants()


def _lapse(payment) -> None:
    db.session.execute(update(Payment).where(Payment.id == payment["payment_id"])
                       .values(expires_at=utcnow() - timedelta(minutes=10)))
    db.session.commit()


def test_reconciliation_finds_a_payment_whose_webhook_was_lost(attendee_client, order, stripe_fake):
    payment = started(attendee_client, order)
    stripe_fake.complete(payment["session_id"])
    _lapse(payment)

    assert stripe_payments.reconcile_lapsed() == 1

    assert payment_of(attendee_client, payment)["status"] == "confirmed"
    assert order_of(attendee_client, order)["status"] == "paid"
    assert stripe_payments.reconcile_lapsed() == 0


def test_reconciliation_closes_a_lapsed_unpaid_session(attendee_client, order, stripe_fake):
    payment = started(attendee_client, order)
    _lapse(payment)

    assert stripe_payments.reconcile_lapsed() == 1

    assert payment_of(attendee_client, payment)["status"] == "failed"
