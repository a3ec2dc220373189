"""StripeGateway against the loopback fake of the Stripe API; money conversion helpers."""
import socket
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from server.payments.stripe.gateway import (LineItem, StripeError, StripeGateway, from_minor,
                                            to_minor)
from tests.fakes.stripe_api import FakeStripe

pytestmark = pytest.mark.own_app


@pytest.fixture(scope="module")
def served():
    fake = FakeStripe()
    fake.serve()
    yield fake
    fake.shutdown()


@pytest.fixture
def fake(served):
    served.reset()
    return served


@pytest.fixture
def gateway(fake):
    return StripeGateway(secret_key=fake.secret_key, api_base=fake.base_url, timeout=5,
                         max_network_retries=0)


def _expires() -> datetime:
    return datetime.now(timezone.utc) + timedelta(hours=1)


def _create(gateway, *, payment_id=7, order_id=42, expires_at=None, **extra) -> dict:
    return gateway.create_checkout_session(
        payment_id=payment_id, order_id=order_id, currency="USD",
        line_items=[LineItem("VIP", 2500, 2), LineItem("Parking", 1000, 1)],
        success_url="https://ticksy.test/paid?session={CHECKOUT_SESSION_ID}",
        cancel_url="https://ticksy.test/cancelled", expires_at=expires_at or _expires(), **extra)


def _posts(fake, path):
    return [r for r in fake.requests if r[0] == "POST" and r[1] == path]


def test_create_checkout_session_sends_the_exact_fields(fake, gateway):
    expires_at = _expires()
    session = _create(gateway, expires_at=expires_at, customer_email="ann@example.com")

    (_, _, form, headers), = _posts(fake, "/v1/checkout/sessions")
    assert form["mode"] == "payment"
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert form["line_items[0][price_data][unit_amount]"] == "2500"
    assert form["line_items[0][price_data][product_data][name]"] == "VIP"
    assert form["line_items[0][quantity]"] == "2"
    assert form["line_items[1][price_data][unit_amount]"] == "1000"
    assert form["client_reference_id"] == "42"
    for prefix in ("metadata", "payment_intent_data[metadata]"):
        assert form[f"{prefix}[payment_id]"] == "7"
        assert form[f"{prefix}[order_id]"] == "42"
    assert form["expires_at"] == str(int(expires_at.timestamp()))
    assert form["success_url"] == "https://ticksy.test/paid?session={CHECKOUT_SESSION_ID}"
    assert form["customer_email"] == "ann@example.com"
    assert headers["Idempotency-Key"] == "ticksy-payment-7-checkout"
    assert headers["Authorization"] == f"Bearer {fake.secret_key}"

    assert type(session) is dict and type(session["metadata"]) is dict
    assert session["id"].startswith("cs_")
    assert session["url"] == f"https://checkout.stripe.test/c/pay/{session['id']}"
    assert (session["status"], session["payment_status"]) == ("open", "unpaid")
    assert (session["amount_total"], session["currency"]) == (6000, "usd")
    assert session["client_reference_id"] == "42"
    assert session["metadata"] == {"payment_id": "7", "order_id": "42"}
    assert session["expires_at"] == int(expires_at.timestamp())


def test_same_payment_twice_gives_the_same_session(fake, gateway):
    # One expiry for both, as a retry sends: two computed a second apart differ (another test).
    expires_at = _expires()
    first, second = (_create(gateway, expires_at=expires_at) for _ in range(2))
    assert first["id"] == second["id"]
    assert len(fake.sessions) == 1
    assert _create(gateway, payment_id=8, expires_at=expires_at)["id"] != first["id"]


def test_same_payment_with_other_parameters_is_refused(gateway):
    """Stripe replays a key only for identical parameters: a retry must reuse expires_at."""
    _create(gateway)
    with pytest.raises(StripeError) as caught:
        _create(gateway, expires_at=_expires() + timedelta(minutes=5))
    assert not caught.value.retryable
    assert "same parameters" in caught.value.message


def test_expires_at_under_30_minutes_is_refused(gateway):
    with pytest.raises(StripeError) as caught:
        _create(gateway, expires_at=datetime.now(timezone.utc) + timedelta(minutes=10))
    assert "expires_at" in caught.value.message and not caught.value.retryable


def test_retrieve_session_sees_completion(fake, gateway):
    session = _create(gateway)
    fake.complete(session["id"])
    seen = gateway.retrieve_session(session["id"])
    assert (seen["status"], seen["payment_status"]) == ("complete", "paid")
    assert seen["payment_intent"].startswith("pi_")


def test_expire_open_session(gateway):
    session = _create(gateway)
    assert gateway.expire_session(session["id"])["status"] == "expired"


@pytest.mark.parametrize("finish", ["complete", "expire"])
def test_expire_finished_session_returns_it(fake, gateway, finish):
    session = _create(gateway)
    if finish == "complete":
        fake.complete(session["id"])
    else:
        gateway.expire_session(session["id"])
    again = gateway.expire_session(session["id"])
    assert again["id"] == session["id"]
    assert again["status"] == ("complete" if finish == "complete" else "expired")


def test_create_refund_is_idempotent_per_refund_id(fake, gateway):
    session = fake.complete(_create(gateway)["id"])
    first = gateway.create_refund(payment_intent=session["payment_intent"], amount=1000, refund_id=5)
    second = gateway.create_refund(payment_intent=session["payment_intent"], amount=1000, refund_id=5)

    assert first["id"] == second["id"] and first["id"].startswith("re_")
    assert (first["status"], first["amount"], first["payment_intent"]) == (
        "succeeded", 1000, session["payment_intent"])
    assert len(fake.refunds) == 1
    _, _, form, headers = _posts(fake, "/v1/refunds")[0]
    assert headers["Idempotency-Key"] == "ticksy-refund-5"
    assert form == {"payment_intent": session["payment_intent"], "amount": "1000",
                    "metadata[refund_id]": "5"}


def test_charge_refunded_lists_api_and_dashboard_refunds(fake, gateway):
    session = fake.complete(_create(gateway)["id"])
    refund = gateway.create_refund(payment_intent=session["payment_intent"], amount=1000, refund_id=5)
    charge = fake.charge_refunded(session["id"], [500])
    assert (charge["payment_intent"], charge["amount"], charge["amount_refunded"]) == (
        session["payment_intent"], 6000, 1500)
    assert [(r["id"] == refund["id"], r["amount"], r["status"]) for r in charge["refunds"]["data"]] == [
        (True, 1000, "succeeded"), (False, 500, "succeeded")]
    assert charge["metadata"] == {"payment_id": "7", "order_id": "42"}


def test_refund_over_the_amount_is_a_clear_error(fake, gateway):
    session = fake.complete(_create(gateway)["id"])
    with pytest.raises(StripeError) as caught:
        gateway.create_refund(payment_intent=session["payment_intent"], amount=6001, refund_id=1)
    assert not caught.value.retryable
    assert "greater than unrefunded amount" in caught.value.message


def test_bad_key_is_not_retryable(fake):
    gateway = StripeGateway(secret_key="sk_test_wrong_key", api_base=fake.base_url)
    with pytest.raises(StripeError) as caught:
        _create(gateway)
    assert not caught.value.retryable
    assert caught.value.status == 401
    assert "Invalid API Key" in caught.value.message


def test_unknown_session_is_not_retryable(gateway):
    with pytest.raises(StripeError) as caught:
        gateway.retrieve_session("cs_test_missing")
    assert not caught.value.retryable
    assert "No such checkout.session" in caught.value.message


@pytest.mark.parametrize("status", [500, 503, 429])
def test_server_errors_and_rate_limits_are_retryable(fake, gateway, status):
    fake.fail_next(status)
    with pytest.raises(StripeError) as caught:
        _create(gateway)
    assert caught.value.retryable
    assert caught.value.status == status


def test_library_retries_a_500_with_the_same_idempotency_key(fake):
    gateway = StripeGateway(secret_key=fake.secret_key, api_base=fake.base_url)  # default retries
    fake.fail_next(500)
    assert _create(gateway)["status"] == "open"
    keys = [headers["Idempotency-Key"] for *_, headers in _posts(fake, "/v1/checkout/sessions")]
    assert keys == ["ticksy-payment-7-checkout"] * 2


def test_unreachable_stripe_is_retryable():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    gateway = StripeGateway(secret_key="sk_test_x", api_base=f"http://127.0.0.1:{port}",
                            timeout=2, max_network_retries=0)
    with pytest.raises(StripeError) as caught:
        gateway.retrieve_session("cs_test_1")
    assert caught.value.retryable


def test_naive_expires_at_is_refused(gateway):
    with pytest.raises(ValueError):
        _create(gateway, expires_at=datetime.now() + timedelta(hours=1))


@pytest.mark.parametrize(("amount", "currency", "minor"), [
    ("10.00", "USD", 1000), ("10.5", "usd", 1050), ("0.01", "KES", 1), ("1500", "JPY", 1500),
    ("5000", "UGX", 5000), ("1.230", "KWD", 1230),
])
def test_to_minor_and_back(amount, currency, minor):
    assert to_minor(Decimal(amount), currency) == minor
    assert from_minor(minor, currency) == Decimal(amount)


@pytest.mark.parametrize(("amount", "currency"), [
    ("10.005", "USD"), ("10.5", "JPY"), ("0.5", "ugx"), ("1.235", "KWD"), ("NaN", "USD"),
])
def test_to_minor_refuses_inexact_amounts(amount, currency):
    with pytest.raises(ValueError):
        to_minor(Decimal(amount), currency)


def test_to_minor_refuses_floats():
    with pytest.raises(TypeError):
        to_minor(10.5, "USD")
