"""M-Pesa STK Push end to end through HTTP, against the bundled simulator."""
import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select, text, update

from server.extensions import db
from server.models import Payment, PaymentEvent, TicketOrder, utcnow
from server.services.payments import mpesa as mpesa_payments
from server.services.orders import lifecycle as order_lifecycle
from tests.invariants import assert_money_invariants

PUSH = "/api/payments/mpesa/stk-push"


@pytest.fixture(autouse=True)
def _money_stays_consistent():
    """Whatever a scenario did, inventory, orders and payments still agree afterwards."""
    yield
    assert_money_invariants()
PAYER = "0712345678"


@pytest.fixture
def event(make_event):
    return make_event(tiers=[{"name": "Regular", "price": Decimal("1000.00"), "quantity": 5}])


@pytest.fixture
def order(event, attendee_client):
    body = {"event_id": event.id, "items": [{"ticket_type_id": event.ticket_types[0].id,
                                             "quantity": 2}], "payment_method": "mpesa"}
    response = attendee_client.post("/api/orders", json=body)
    assert response.status_code == 201
    return response.get_json()


def push(client, order, phone=PAYER, **kwargs):
    return client.post(PUSH, json={"order_id": order["id"], "phone": phone}, **kwargs)


def started(client, order, phone=PAYER) -> dict:
    response = push(client, order, phone)
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def deliver(client, mpesa) -> list:
    """Post every queued simulator callback to the app; returns the responses."""
    return [client.post(urlsplit(url).path, json=body) for url, body in mpesa.take_callbacks()]


def callback_path(mpesa, payment) -> str:
    return urlsplit(mpesa.transactions[payment["checkout_request_id"]].callback_url).path


def order_of(client, order) -> dict:
    return client.get(f"/api/orders/{order['id']}").get_json()


def payment_of(client, payment) -> dict:
    return client.get(f"/api/payments/{payment['payment_id']}").get_json()


def reconcile_now() -> int:
    db.session.execute(update(Payment).values(next_query_at=utcnow() - timedelta(seconds=1))
                       .where(Payment.next_query_at.is_not(None)))
    db.session.commit()
    return mpesa_payments.reconcile_due()


# --- the outcomes ------------------------------------------------------------------------------

def test_payer_who_pays_gets_their_tickets(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order)
    assert payment["status"] == "pending" and payment["checkout_request_id"].startswith("ws_CO_")
    assert payment["customer_message"]
    assert order_of(attendee_client, order)["status"] == "pending"

    acks = deliver(client, mpesa)

    assert [(a.status_code, a.get_json()) for a in acks] == [
        (200, {"ResultCode": 0, "ResultDesc": "Accepted"})]
    paid = order_of(attendee_client, order)
    assert paid["status"] == "paid" and len(paid["tickets"]) == 2
    detail = payment_of(attendee_client, payment)
    assert detail["status"] == "confirmed" and detail["receipt"].startswith("SIM")
    assert detail["amount"] == "2000.00" and detail["result_code"] == "0"
    assert_money_invariants()


def test_daraja_gets_a_plain_well_formed_request(attendee_client, order, mpesa):
    payment = started(attendee_client, order, "+254 712 345 678")
    sent = mpesa.transactions[payment["checkout_request_id"]].request
    assert sent["Amount"] == 2000 and sent["PartyA"] == sent["PhoneNumber"] == "254712345678"
    assert len(sent["AccountReference"]) <= 12 and str(order["id"]) in sent["AccountReference"]
    assert "attendee" not in sent["AccountReference"].lower()
    assert sent["CallBackURL"].startswith("http://localhost/api/payments/mpesa/callback/")
    assert sent["CallBackURL"] == sent["CallBackURL"].lower()


@pytest.mark.parametrize("phone, status, code", [
    ("0700000001", "cancelled", "1032"),
    ("0700000003", "failed", "1"),
    ("0700000004", "failed", "2001"),
    ("0700000006", "cancelled", "1032"),  # ResultCode sent as a string
])
def test_failed_prompts_leave_the_order_payable(attendee_client, client, order, mpesa,
                                               phone, status, code):
    payment = started(attendee_client, order, phone)

    assert [a.status_code for a in deliver(client, mpesa)] == [200]

    detail = payment_of(attendee_client, payment)
    assert (detail["status"], detail["result_code"]) == (status, code)
    assert order_of(attendee_client, order)["status"] == "pending"
    retry = started(attendee_client, order)  # a new prompt is allowed at once
    deliver(client, mpesa)
    assert payment_of(attendee_client, retry)["status"] == "confirmed"
    assert order_of(attendee_client, order)["status"] == "paid"
    assert_money_invariants()


def test_unanswered_prompt_is_resolved_by_reconciliation(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order, "0700000002")
    assert deliver(client, mpesa) == []  # no callback at all

    assert reconcile_now() == 1

    assert payment_of(attendee_client, payment)["status"] == "failed"
    assert payment_of(attendee_client, payment)["result_code"] == "1037"
    assert order_of(attendee_client, order)["status"] == "pending"
    assert_money_invariants()


def test_lost_success_callback_is_found_by_reconciliation(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order, "0700000007")
    assert deliver(client, mpesa) == []

    assert reconcile_now() == 1

    assert payment_of(attendee_client, payment)["status"] == "confirmed"
    assert order_of(attendee_client, order)["status"] == "paid"
    assert reconcile_now() == 0  # nothing left to ask about
    assert_money_invariants()


def test_refresh_asks_daraja_on_demand(attendee_client, client, make_user, client_for, order, mpesa):
    payment = started(attendee_client, order, "0700000007")
    stranger = client_for(make_user())
    assert stranger.post(f"/api/payments/{payment['payment_id']}/refresh").status_code == 404

    refreshed = attendee_client.post(f"/api/payments/{payment['payment_id']}/refresh")

    assert refreshed.status_code == 200 and refreshed.get_json()["status"] == "confirmed"
    assert order_of(attendee_client, order)["status"] == "paid"


def test_unknown_result_code_stays_pending_and_flagged(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order, "0700000009")
    deliver(client, mpesa)
    detail = payment_of(attendee_client, payment)
    assert (detail["status"], detail["flag"]) == ("pending", "unknown_result")
    assert order_of(attendee_client, order)["status"] == "pending"
    assert_money_invariants()


def test_merchant_misconfiguration_fails_and_alerts(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order, "0700000010")
    deliver(client, mpesa)
    detail = payment_of(attendee_client, payment)
    assert (detail["status"], detail["result_code"], detail["flag"]) == (
        "failed", "2028", "merchant_config")


def test_refused_push_is_a_502_with_safaricoms_message(attendee_client, order, mpesa, admin_client):
    response = push(attendee_client, order, "0700000008")

    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "upstream_error" and "already in process" in error["message"]
    [payment] = admin_client.get(f"/api/admin/payments?order_id={order['id']}").get_json()["items"]
    assert (payment["status"], payment["result_code"]) == ("failed", "500.001.1001")
    assert order_of(attendee_client, order)["status"] == "pending"
    listed = f"/api/admin/payments?order_id={order['id']}"
    assert admin_client.get(f"{listed}&status=failed&provider=mpesa").get_json()["total"] == 1
    assert admin_client.get(f"{listed}&status=pending").get_json()["total"] == 0
    assert admin_client.get(f"{listed}&provider=stripe").get_json()["total"] == 0


def test_a_refused_push_can_be_retried_with_the_same_key(attendee_client, order, mpesa,
                                                        admin_client):
    headers = {"Idempotency-Key": "retry-me"}
    assert push(attendee_client, order, "0700000008", headers=headers).status_code == 502
    assert push(attendee_client, order, "0700000008", headers=headers).status_code == 502
    attempts = admin_client.get(f"/api/admin/payments?order_id={order['id']}").get_json()
    assert attempts["total"] == 2


def test_reference_callback_bytes_with_amount_1_00(attendee_client, client, make_event, mpesa):
    event = make_event(tiers=[{"name": "Shilling", "price": Decimal("1.00"), "quantity": 5}])
    order = attendee_client.post("/api/orders", json={"event_id": event.id, "items": [
        {"ticket_type_id": event.ticket_types[0].id, "quantity": 1}]}).get_json()
    payment = started(attendee_client, order)
    mpesa.take_callbacks()
    raw = ('{"Body": {"stkCallback": {"MerchantRequestID": "29115-34620561-1", '
           f'"CheckoutRequestID": "{payment["checkout_request_id"]}", "ResultCode": 0, '
           '"ResultDesc": "The service request is processed successfully.", "CallbackMetadata": '
           '{"Item": [{"Name": "Amount", "Value": 1.00}, {"Name": "MpesaReceiptNumber", '
           '"Value": "NLJ7RT61SV"}, {"Name": "Balance"}, {"Name": "TransactionDate", '
           '"Value": 20191219102115}, {"Name": "PhoneNumber", "Value": 254708374149}]}}}}')

    ack = client.post(callback_path(mpesa, payment), data=raw.encode(),
                      headers={"Content-Type": "application/json"})

    assert ack.status_code == 200
    assert payment_of(attendee_client, payment)["receipt"] == "NLJ7RT61SV"
    assert order_of(attendee_client, order)["status"] == "paid"


# --- callbacks that must change nothing ----------------------------------------------------------

def test_duplicated_callback_pays_once(attendee_client, client, order, mpesa):
    started(attendee_client, order, "0700000005")
    acks = deliver(client, mpesa)
    assert [a.status_code for a in acks] == [200, 200]
    assert len(order_of(attendee_client, order)["tickets"]) == 2
    assert_money_invariants()


def test_late_failure_after_success_changes_nothing(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order)
    path = callback_path(mpesa, payment)
    deliver(client, mpesa)
    tx = mpesa.transactions[payment["checkout_request_id"]]

    late = client.post(path, json=mpesa.callback_body(tx, result_code=1032))

    assert late.status_code == 200
    assert payment_of(attendee_client, payment)["status"] == "confirmed"
    assert order_of(attendee_client, order)["status"] == "paid"


def test_forged_callback_with_a_bad_token_is_404_and_changes_nothing(attendee_client, client,
                                                                    order, mpesa):
    payment = started(attendee_client, order)
    tx = mpesa.transactions[payment["checkout_request_id"]]
    events_before = db.session.scalar(text("SELECT count(*) FROM payment_events"))

    forged = client.post("/api/payments/mpesa/callback/" + "0" * 40, json=mpesa.callback_body(tx))

    assert forged.status_code == 404 and forged.get_json()["error"]["code"] == "not_found"
    assert payment_of(attendee_client, payment)["status"] == "pending"
    assert order_of(attendee_client, order)["status"] == "pending"
    assert db.session.scalar(text("SELECT count(*) FROM payment_events")) == events_before


def test_malformed_callback_is_400_and_kept_in_the_log(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order)
    path = callback_path(mpesa, payment)

    for body in (b"not json", b'{"Body": {}}', b'{"Body": {"stkCallback": {"ResultCode": 0}}}'):
        response = client.post(path, data=body, headers={"Content-Type": "application/json"})
        assert response.status_code == 400 and response.get_json()["error"]["code"] == "bad_request"

    logged = db.session.scalars(select(PaymentEvent.body).where(
        PaymentEvent.payment_id == payment["payment_id"],
        PaymentEvent.kind == "mpesa.callback.malformed")).all()
    assert logged == ["not json", '{"Body": {}}', '{"Body": {"stkCallback": {"ResultCode": 0}}}']
    assert payment_of(attendee_client, payment)["status"] == "pending"


def test_reference_shaped_success_callback_is_accepted(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order)
    mpesa.take_callbacks()
    body = {"Body": {"stkCallback": {
        "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": payment["checkout_request_id"],
        "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
        "CallbackMetadata": {"Item": [
            {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"}, {"Name": "Balance"},
            {"Name": "Amount", "Value": 2000.00}, {"Name": "TransactionDate", "Value": 20191219102115},
            {"Name": "PhoneNumber", "Value": 254712345678}]}}}}

    assert client.post(callback_path(mpesa, payment), json=body).status_code == 200

    assert payment_of(attendee_client, payment)["receipt"] == "NLJ7RT61SV"
    assert order_of(attendee_client, order)["status"] == "paid"


def test_success_callback_the_query_contradicts_is_not_fulfilled(attendee_client, client, order,
                                                                 mpesa):
    payment = started(attendee_client, order, "0700000001")  # Daraja will say: cancelled
    tx = mpesa.transactions[payment["checkout_request_id"]]
    mpesa.take_callbacks()

    forged = client.post(callback_path(mpesa, payment), json=mpesa.callback_body(tx, result_code=0))

    assert forged.status_code == 200
    detail = payment_of(attendee_client, payment)
    assert (detail["status"], detail["flag"]) == ("cancelled", "query_disagrees")
    assert order_of(attendee_client, order)["status"] == "pending"
    assert_money_invariants()


def test_amount_mismatch_is_not_fulfilled_and_flagged(attendee_client, client, order, mpesa,
                                                      admin_client):
    payment = started(attendee_client, order)
    tx = mpesa.transactions[payment["checkout_request_id"]]
    mpesa.take_callbacks()
    body = mpesa.callback_body(tx)
    for item in body["Body"]["stkCallback"]["CallbackMetadata"]["Item"]:
        if item["Name"] == "Amount":
            item["Value"] = 1.00

    assert client.post(callback_path(mpesa, payment), json=body).status_code == 200

    detail = payment_of(attendee_client, payment)
    assert (detail["status"], detail["flag"]) == ("pending", "amount_mismatch")
    assert order_of(attendee_client, order)["status"] == "pending"
    flagged = admin_client.get("/api/admin/payments?flag=amount_mismatch").get_json()["items"]
    assert [p["id"] for p in flagged] == [payment["payment_id"]]
    any_flag = admin_client.get("/api/admin/payments?flagged=true").get_json()["items"]
    assert [p["id"] for p in any_flag] == [payment["payment_id"]]
    assert admin_client.get("/api/admin/payments?flagged=false").get_json()["total"] == 0
    assert reconcile_now() == 0  # an admin decides, not the job
    assert_money_invariants()


def test_success_after_a_failure_counts_once_daraja_confirms(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order, "0700000007")  # Daraja's query will say: paid
    tx = mpesa.transactions[payment["checkout_request_id"]]
    path = callback_path(mpesa, payment)
    client.post(path, json=mpesa.callback_body(tx, result_code=1037))
    assert payment_of(attendee_client, payment)["status"] == "failed"

    client.post(path, json=mpesa.callback_body(tx, result_code=0))

    assert payment_of(attendee_client, payment)["status"] == "confirmed"
    assert order_of(attendee_client, order)["status"] == "paid"
    assert_money_invariants()


def test_callback_from_outside_the_allow_list_is_refused(app, attendee_client, client, order, mpesa):
    payment = started(attendee_client, order)
    app.config["MPESA_ALLOWED_IPS"] = ["196.201.214.0/24"]
    try:
        refused = deliver(client, mpesa)
        assert [r.status_code for r in refused] == [404]
        assert payment_of(attendee_client, payment)["status"] == "pending"
        tx = mpesa.transactions[payment["checkout_request_id"]]
        allowed = client.post(callback_path(mpesa, payment), json=mpesa.callback_body(tx),
                              environ_base={"REMOTE_ADDR": "196.201.214.200"})
        assert allowed.status_code == 200
    finally:
        app.config["MPESA_ALLOWED_IPS"] = []
    assert payment_of(attendee_client, payment)["status"] == "confirmed"


def test_an_attempt_that_never_reached_daraja_fails_after_the_window(attendee_client, order):
    """A crash between recording the attempt and sending the push leaves nothing pending forever."""
    stuck = Payment(order_id=order["id"], user_id=order["buyer"]["id"], provider="mpesa",
                    amount=Decimal("2000.00"), currency="KES",
                    next_query_at=utcnow() - timedelta(seconds=1))
    db.session.add(stuck)
    db.session.commit()
    db.session.execute(update(Payment).where(Payment.id == stuck.id)
                       .values(created_at=utcnow() - mpesa_payments.NO_RESPONSE_WINDOW * 2))
    db.session.commit()

    assert mpesa_payments.reconcile_due() == 1

    assert db.session.get(Payment, stuck.id).status.value == "failed"


# --- late payments ------------------------------------------------------------------------------

def _expire(order) -> None:
    db.session.execute(update(TicketOrder).where(TicketOrder.id == order["id"])
                       .values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    assert order_lifecycle.expire_due_orders() == 1


def test_late_payment_retakes_tickets_still_on_sale(attendee_client, client, order, mpesa):
    started(attendee_client, order)
    _expire(order)
    assert order_of(attendee_client, order)["status"] == "expired"

    deliver(client, mpesa)

    paid = order_of(attendee_client, order)
    assert paid["status"] == "paid" and len(paid["tickets"]) == 2
    assert_money_invariants()


def test_late_payment_for_sold_out_tickets_is_flagged_for_refund(
        attendee_client, client, order, mpesa, event, make_user, client_for, admin_client):
    payment = started(attendee_client, order)
    _expire(order)
    rival = client_for(make_user())
    sold = rival.post("/api/orders", json={"event_id": event.id, "items": [
        {"ticket_type_id": event.ticket_types[0].id, "quantity": 5}]})
    assert sold.status_code == 201

    deliver(client, mpesa)

    assert order_of(attendee_client, order)["status"] == "expired"
    assert order_of(attendee_client, order)["needs_refund"] is True
    detail = payment_of(attendee_client, payment)
    assert (detail["status"], detail["needs_refund"]) == ("confirmed", True)
    flagged = admin_client.get("/api/admin/payments?needs_refund=true").get_json()["items"]
    assert [p["id"] for p in flagged] == [payment["payment_id"]]
    assert_money_invariants()

    refunded = admin_client.post(f"/api/admin/payments/{payment['payment_id']}/refund")
    assert refunded.status_code == 200 and refunded.get_json()["status"] == "refunded"
    [refund] = admin_client.get("/api/admin/refunds?status=pending").get_json()["items"]
    assert (refund["method"], refund["amount"]) == ("manual", "2000.00")
    assert order_of(attendee_client, order)["needs_refund"] is False
    done = admin_client.post(f"/api/admin/refunds/{refund['id']}/complete",
                             json={"reference": "REVERSAL-QK12"})
    assert done.status_code == 200 and done.get_json()["status"] == "succeeded"
    again = admin_client.post(f"/api/admin/refunds/{refund['id']}/complete", json={"reference": "x"})
    assert again.status_code == 409
    assert_money_invariants()


def test_refunding_an_mpesa_order_records_a_manual_refund(attendee_client, client, order, mpesa,
                                                           organizer_client, admin_client):
    payment = started(attendee_client, order)
    deliver(client, mpesa)

    refunded = organizer_client.post(f"/api/orders/{order['id']}/refund")

    assert refunded.status_code == 200 and refunded.get_json()["status"] == "refunded"
    assert payment_of(attendee_client, payment)["status"] == "refunded"
    [refund] = admin_client.get("/api/admin/refunds").get_json()["items"]
    assert (refund["method"], refund["status"], refund["payment_id"]) == (
        "manual", "pending", payment["payment_id"])
    assert_money_invariants()


# --- starting a payment -------------------------------------------------------------------------

@pytest.mark.parametrize("phone", ["0812345678", "12345", "+1 415 555 0100", "07123456789"])
def test_bad_phone_numbers_are_422(attendee_client, order, phone):
    response = push(attendee_client, order, phone)
    assert response.status_code == 422
    assert "phone" in response.get_json()["error"]["fields"]


@pytest.mark.parametrize("phone", ["0712345678", "0112345678", "+254712345678", "254112345678",
                                   "0712 345 678"])
def test_accepted_phone_formats(attendee_client, order, mpesa, phone):
    assert push(attendee_client, order, phone).status_code == 202
    mpesa.reset()
    db.session.execute(update(Payment).values(status="failed"))
    db.session.commit()


def test_fractional_shillings_are_422(attendee_client, make_event, mpesa):
    event = make_event(tiers=[{"name": "Odd", "price": Decimal("10.50"), "quantity": 5}])
    order = attendee_client.post("/api/orders", json={"event_id": event.id, "items": [
        {"ticket_type_id": event.ticket_types[0].id, "quantity": 1}]}).get_json()
    response = push(attendee_client, order)
    assert response.status_code == 422 and "order_id" in response.get_json()["error"]["fields"]
    assert mpesa.transactions == {}


def test_only_the_buyer_can_pay_a_pending_order(attendee_client, client_for, make_user, order,
                                               organizer_client, mpesa):
    assert push(client_for(make_user()), order).status_code == 404
    assert push(organizer_client, order).status_code == 404
    attendee_client.post(f"/api/orders/{order['id']}/cancel")
    response = push(attendee_client, order)
    assert response.status_code == 409
    assert response.get_json()["error"]["code"] == "order_not_payable"
    assert mpesa.transactions == {}


def test_one_prompt_at_a_time(attendee_client, order, mpesa):
    first = started(attendee_client, order)
    second = push(attendee_client, order)
    assert second.status_code == 409
    assert second.get_json()["error"]["details"] == {"payment_id": first["payment_id"]}
    assert len(mpesa.transactions) == 1


def test_idempotency_key_replays_without_a_second_prompt(attendee_client, order, mpesa):
    headers = {"Idempotency-Key": "pay-once"}
    first = push(attendee_client, order, headers=headers)
    again = push(attendee_client, order, headers=headers)
    other = push(attendee_client, order, "0711111111", headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.get_json()["payment_id"] == first.get_json()["payment_id"]
    assert other.status_code == 422
    assert len(mpesa.transactions) == 1


def test_the_prompt_extends_the_hold(app, attendee_client, order, mpesa):
    db.session.execute(update(TicketOrder).where(TicketOrder.id == order["id"])
                       .values(expires_at=utcnow() + timedelta(seconds=30)))
    db.session.commit()
    started(attendee_client, order)
    expires = db.session.scalar(select(TicketOrder.expires_at).where(TicketOrder.id == order["id"]))
    assert expires >= utcnow() + timedelta(seconds=app.config["MPESA_HOLD_SECONDS"] - 5)


def test_disabled_mpesa_is_503(app, attendee_client, order):
    app.config["MPESA_ENV"] = "disabled"
    try:
        response = push(attendee_client, order)
    finally:
        app.config["MPESA_ENV"] = "simulator"
    assert response.status_code == 503
    assert response.get_json()["error"]["code"] == "payments_unavailable"


# --- the audit log -------------------------------------------------------------------------------

def test_every_message_is_logged_without_the_password(attendee_client, client, order, mpesa):
    payment = started(attendee_client, order)
    deliver(client, mpesa)
    kinds = db.session.scalars(select(PaymentEvent.kind).where(
        PaymentEvent.payment_id == payment["payment_id"]).order_by(PaymentEvent.id)).all()
    assert kinds == ["mpesa.stk_push.request", "mpesa.stk_push.response", "mpesa.callback",
                     "mpesa.query.request", "mpesa.query.response"]
    bodies = db.session.scalars(select(PaymentEvent.body)).all()
    assert all(mpesa.passkey not in (body or "") for body in bodies)
    push_request = json.loads(bodies[0])
    assert push_request["Password"] == "***"


def test_the_payment_log_is_append_only(attendee_client, order, mpesa):
    started(attendee_client, order)
    with pytest.raises(Exception, match="append-only"):
        with db.session.begin_nested():
            db.session.execute(text("UPDATE payment_events SET body = 'x'"))
