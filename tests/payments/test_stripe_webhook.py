"""Stripe-Signature verification: the reference vector, tampering, freshness, rotation, fail closed."""
import time

import pytest

from server.payments.stripe.webhook import InvalidSignature, sign, verify_event
from tests.fakes.stripe_api import FakeStripe

pytestmark = pytest.mark.own_app

SECRET = "whsec_test_secret"
T = 1700000000
BODY = b'{"id":"evt_test","object":"event"}'
V1 = "8042376f6ca064adbe037642a718227dfd59047137eb49497a54c49eb0cfb724"


def _refused(payload, header, secret=SECRET, now=T) -> str:
    with pytest.raises(InvalidSignature) as caught:
        verify_event(payload, header, secret, now=now)
    return caught.value.message


def test_reference_vector():
    assert sign(BODY, SECRET, T) == f"t={T},v1={V1}"
    assert verify_event(BODY, f"t={T},v1={V1}", SECRET, now=T) == {"id": "evt_test", "object": "event"}


def test_tampered_body_is_refused():
    assert _refused(BODY.replace(b"evt_test", b"evt_evil"), f"t={T},v1={V1}") == "no valid signature"


def test_wrong_secret_is_refused():
    assert _refused(BODY, f"t={T},v1={V1}", secret="whsec_other") == "no valid signature"


@pytest.mark.parametrize("now", [T + 301, T - 301])
def test_stale_or_future_timestamp_is_refused(now):
    assert _refused(BODY, f"t={T},v1={V1}", now=now) == "timestamp outside the tolerance"


@pytest.mark.parametrize("now", [T + 300, T - 300])
def test_timestamp_at_the_tolerance_is_accepted(now):
    assert verify_event(BODY, f"t={T},v1={V1}", SECRET, now=now)["id"] == "evt_test"


@pytest.mark.parametrize("header", [None, ""])
def test_missing_header_is_refused(header):
    assert _refused(BODY, header) == "missing signature header"


@pytest.mark.parametrize("header", [
    "garbage", f"t=soon,v1={V1}", f"v1={V1}", f"t={T}", f"t={T},v1=", f"t={T},v1=é{V1}",
])
def test_garbage_header_is_refused(header):
    assert _refused(BODY, header) == "no valid signature"


@pytest.mark.parametrize("secret", [None, "", "  "])
def test_missing_secret_fails_closed(secret):
    assert _refused(BODY, f"t={T},v1={V1}", secret=secret) == "webhook secret not configured"


@pytest.mark.parametrize("header", [f"t={T},v1={'0' * 64},v1={V1}", f"t={T},v1={V1},v1={'0' * 64}",
                                    f"t={T},v0=abc,v1={V1}"])
def test_any_valid_v1_is_accepted(header):
    assert verify_event(BODY, header, SECRET, now=T)["id"] == "evt_test"


def test_v0_only_is_refused():
    assert _refused(BODY, f"t={T},v0={V1}") == "no valid signature"


def test_signed_body_that_is_not_json_is_refused():
    assert _refused(b"not json", sign(b"not json", SECRET, T)) == "body is not JSON"


def test_default_clock_is_now():
    assert verify_event(BODY, sign(BODY, SECRET, int(time.time())), SECRET)["id"] == "evt_test"
    assert _refused(BODY, f"t={T},v1={V1}", now=None) == "timestamp outside the tolerance"


def test_fake_events_verify():
    fake = FakeStripe()
    event = fake.event("checkout.session.completed", {"id": "cs_test_1"}, event_id="evt_1")
    body, headers = fake.signed(event, SECRET)
    assert verify_event(body, headers["Stripe-Signature"], SECRET) == event
    assert event["data"]["object"] == {"id": "cs_test_1"} and event["object"] == "event"
