"""The Daraja client over real HTTP, against the simulator and a scripted fake Daraja."""
import socket
import time
from collections import Counter
from datetime import datetime, timezone

import flask
import pytest

from server.payments.loopback import serve_in_thread
from server.payments.mpesa.daraja import (
    NAIROBI, DarajaClient, DarajaError, DarajaSettings, MemoryTokenCache, password, timestamp)
from server.payments.mpesa.simulator import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, Simulator

pytestmark = pytest.mark.own_app

VECTOR = ("MTc0Mzc5YmZiMjc5ZjlhYTliZGJjZjE1OGU5N2RkNzFhNDY3Y2QyZTBjODkzMDU5YjEwZjc4ZTZiNzJhZGExZWQy"
          "YzkxOTIwMjEwNjI4MDkyNDA4")
PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
OAUTH = "/oauth/v1/generate"
PAYMENT = dict(amount=100, phone="254712345678", account_reference="TCK-1", description="Ticksy order",
               callback_url="https://example.com/cb/tok")


def settings(base_url, **overrides):
    values = dict(base_url=base_url, consumer_key="simulator", consumer_secret="simulator",
                  shortcode=SANDBOX_SHORTCODE, passkey=SANDBOX_PASSKEY)
    return DarajaSettings(**{**values, **overrides})


class Recorder:
    """WSGI middleware counting requests by path."""

    def __init__(self, app):
        self.app, self.hits = app, Counter()

    def __call__(self, environ, start_response):
        self.hits[environ["PATH_INFO"]] += 1
        return self.app(environ, start_response)


class FixedTokens:
    """A TokenCache that always has a token, so tests reach the API call directly."""

    def token(self, key, fetch):
        return "fixed-token"

    def invalidate(self, key):
        pass


class FakeDaraja:
    """A scripted Daraja: each POST path answers its queued (status, body, delay); the last one repeats."""

    def __init__(self):
        self.hits, self.script, self.bearers = Counter(), {}, []
        app = flask.Flask("fake-daraja")
        app.add_url_rule(OAUTH, "oauth", self._oauth)
        app.add_url_rule("/<path:path>", "api", self._answer, methods=["POST"])
        self.server, self.url = serve_in_thread(app)

    def answer(self, path, *answers):
        self.script[path] = list(answers)

    def _oauth(self):
        self.hits[OAUTH] += 1
        return {"access_token": f"token-{self.hits[OAUTH]}", "expires_in": 3599}

    def _answer(self, path):
        path = "/" + path
        self.hits[path] += 1
        self.bearers.append(flask.request.headers["Authorization"])
        queue = self.script[path]
        status, body, delay = queue.pop(0) if len(queue) > 1 else queue[0]
        time.sleep(delay)
        return (body, status) if isinstance(body, dict) else flask.Response(body, status, mimetype="text/html")


@pytest.fixture(scope="module")
def served_simulator():
    simulator = Simulator(callback_delay=None)
    simulator.app.wsgi_app = recorder = Recorder(simulator.app.wsgi_app)
    simulator.hits = recorder.hits
    simulator.url = simulator.serve()
    yield simulator
    simulator.shutdown()


@pytest.fixture
def sim(served_simulator):
    served_simulator.reset()
    served_simulator.hits.clear()
    return served_simulator


@pytest.fixture(scope="module")
def served_fake():
    daraja = FakeDaraja()
    yield daraja
    daraja.server.shutdown()


@pytest.fixture
def fake(served_fake):
    served_fake.hits.clear()
    served_fake.script.clear()
    served_fake.bearers.clear()
    return served_fake


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def test_password_matches_safaricoms_test_vector():
    assert password(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, "20210628092408") == VECTOR


def test_timestamp_is_nairobi_wall_time():
    assert timestamp(datetime(2021, 6, 28, 6, 24, 8, tzinfo=timezone.utc)) == "20210628092408"
    assert timestamp(datetime(2021, 6, 28, 6, 24, 8)) == "20210628092408"
    now = timestamp()
    assert len(now) == 14 and now.isdigit()
    assert abs(datetime.strptime(now, "%Y%m%d%H%M%S").replace(tzinfo=NAIROBI) - datetime.now(NAIROBI)).seconds < 5


@pytest.mark.parametrize("change", [
    {"amount": 0}, {"amount": 250_001}, {"amount": 10.5}, {"amount": "100"}, {"amount": True},
    {"phone": "0712345678"}, {"phone": "+254712345678"}, {"phone": "254812345678"},
    {"account_reference": "X" * 13}, {"account_reference": ""}, {"callback_url": "ftp://example.com"},
])
def test_invalid_push_arguments_raise_before_sending(change):
    client = DarajaClient(settings(closed_port_url()), tokens=FixedTokens())
    with pytest.raises(ValueError):
        client.stk_push(**{**PAYMENT, **change})


def test_push_sends_daraja_fields_and_truncates_the_description(sim):
    accepted = DarajaClient(settings(sim.url)).stk_push(**{**PAYMENT, "amount": 250_000,
                                                           "description": "A very long description"})
    request = sim.transactions[accepted.checkout_request_id].request
    assert request["TransactionDesc"] == "A very long d"
    assert request["Amount"] == 250_000 and request["PartyB"] == SANDBOX_SHORTCODE
    assert request["PartyA"] == request["PhoneNumber"] == "254712345678"
    assert accepted.checkout_request_id.startswith("ws_CO_") and accepted.merchant_request_id
    assert accepted.customer_message == "Success. Request accepted for processing"


def test_exchange_never_contains_the_password(sim):
    real = password(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, timestamp())
    client = DarajaClient(settings(sim.url))
    accepted = client.stk_push(**PAYMENT)
    answer = client.stk_query(accepted.checkout_request_id)
    with pytest.raises(DarajaError) as refused:
        DarajaClient(settings(sim.url, passkey="wrong")).stk_push(**PAYMENT)
    for exchange in (accepted.exchange, answer.exchange, refused.value.exchange):
        assert exchange.request["Password"] == "***"
        assert real[:40] not in repr(exchange)
        assert SANDBOX_PASSKEY not in repr(exchange)


def test_token_is_cached_and_shared_between_clients(sim):
    tokens = MemoryTokenCache()
    first, second = DarajaClient(settings(sim.url), tokens=tokens), DarajaClient(settings(sim.url), tokens=tokens)
    first.stk_push(**PAYMENT)
    second.stk_push(**PAYMENT)
    first.stk_push(**PAYMENT)
    assert sim.hits[OAUTH] == 1 and sim.hits[PUSH] == 3


def test_token_cache_refreshes_five_minutes_before_expiry():
    now, fetches = [1000.0], []
    cache = MemoryTokenCache(clock=lambda: now[0])

    def fetch():
        fetches.append(now[0])
        return f"t{len(fetches)}", 3599

    assert cache.token("k", fetch) == "t1"
    now[0] += 3599 - 301
    assert cache.token("k", fetch) == "t1"
    now[0] += 2
    assert cache.token("k", fetch) == "t2"
    assert cache.token("other", fetch) == "t3"
    cache.invalidate("k")
    assert cache.token("k", fetch) == "t4"


def test_stale_token_is_replaced_and_the_request_retried_once(sim):
    client = DarajaClient(settings(sim.url))
    client.stk_push(**PAYMENT)
    sim.revoke_tokens()
    client.stk_push(**PAYMENT)
    assert sim.hits[OAUTH] == 2 and sim.hits[PUSH] == 3
    assert len(sim.transactions) == 2


def test_a_second_invalid_token_answer_is_not_retried_again(fake):
    fake.answer(PUSH, (404, {"requestId": "r", "errorCode": "404.001.03", "errorMessage": "Invalid Access Token"}, 0))
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(fake.url)).stk_push(**PAYMENT)
    assert raised.value.error_code == "404.001.03" and raised.value.outcome_unknown is False
    assert fake.hits[PUSH] == 2 and fake.bearers == ["Bearer token-1", "Bearer token-2"]


def test_push_error_body_raises_with_safaricoms_message(sim):
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(sim.url)).stk_push(**{**PAYMENT, "phone": "254700000008"})
    error = raised.value
    assert str(error).startswith("Unable to lock subscriber")
    assert error.error_code == "500.001.1001" and error.outcome_unknown is False
    assert error.exchange.status == 500


def test_invalid_field_answer_raises_with_its_code(sim):
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(sim.url, passkey="wrong")).stk_push(**PAYMENT)
    assert str(raised.value) == "Bad Request - Invalid Password"
    assert raised.value.error_code == "400.002.02" and raised.value.outcome_unknown is False


def test_non_zero_response_code_is_a_refusal(fake):
    fake.answer(PUSH, (200, {"ResponseCode": "1", "ResponseDescription": "Rejected"}, 0))
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(fake.url)).stk_push(**PAYMENT)
    assert str(raised.value) == "Rejected" and raised.value.outcome_unknown is False


def test_gateway_error_without_body_leaves_the_outcome_unknown(fake):
    fake.answer(PUSH, (504, "<html>Gateway Timeout</html>", 0))
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(fake.url)).stk_push(**PAYMENT)
    assert raised.value.outcome_unknown is True and raised.value.exchange.response is None
    assert raised.value.exchange.response_text == "<html>Gateway Timeout</html>"


def test_read_timeout_on_push_is_unknown_and_not_retried(fake):
    fake.answer(PUSH, (200, {"ResponseCode": "0", "CheckoutRequestID": "ws_CO_1"}, 1.0))
    client = DarajaClient(settings(fake.url, read_timeout=0.2))
    with pytest.raises(DarajaError) as raised:
        client.stk_push(**PAYMENT)
    assert raised.value.outcome_unknown is True and raised.value.exchange.status is None
    time.sleep(0.1)
    assert fake.hits[PUSH] == 1


def test_connection_refused_on_push_is_certainly_not_processed():
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(closed_port_url()), tokens=FixedTokens()).stk_push(**PAYMENT)
    assert raised.value.outcome_unknown is False


def test_oauth_failures_raise_certain_errors(sim):
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(sim.url, consumer_secret="wrong")).stk_push(**PAYMENT)
    assert raised.value.outcome_unknown is False and raised.value.error_code == "400.008.01"
    assert sim.hits[PUSH] == 0
    with pytest.raises(DarajaError) as unreachable:
        DarajaClient(settings(closed_port_url())).stk_query("ws_CO_1")
    assert unreachable.value.outcome_unknown is False


@pytest.mark.parametrize("answer", [
    (500, {"requestId": "r", "errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}, 0),
    (503, "Service Unavailable", 0),
    (200, {"ResponseCode": "0", "ResultCode": "4999", "ResultDesc": "still processing"}, 0),
    (200, {"ResponseCode": "0", "ResultCode": "0", "ResultDesc": "late"}, 1.0),
])
def test_query_in_flight_answers_have_no_result_code(fake, answer):
    fake.answer(QUERY, answer)
    result = DarajaClient(settings(fake.url, read_timeout=0.2)).stk_query("ws_CO_1")
    assert result.result_code is None and result.exchange.request["Password"] == "***"


def test_query_connection_error_has_no_result_code():
    result = DarajaClient(settings(closed_port_url()), tokens=FixedTokens()).stk_query("ws_CO_1")
    assert result.result_code is None


@pytest.mark.parametrize("code, expected", [("0", "0"), (1032, "1032"), (" 1037 ", "1037")])
def test_query_result_code_is_a_stripped_string(fake, code, expected):
    fake.answer(QUERY, (200, {"ResponseCode": "0", "ResultCode": code, "ResultDesc": "done"}, 0))
    result = DarajaClient(settings(fake.url)).stk_query("ws_CO_1")
    assert result.result_code == expected and result.result_desc == "done"


def test_query_bad_request_raises(sim):
    with pytest.raises(DarajaError) as raised:
        DarajaClient(settings(sim.url)).stk_query("ws_CO_unknown")
    assert raised.value.error_code == "400.002.02" and raised.value.outcome_unknown is False
