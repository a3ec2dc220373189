"""The Daraja simulator end to end over real HTTP, driven by the Daraja client and raw requests."""
import logging
import re
import threading
import time

import flask
import pytest
import requests

from server.payments.loopback import serve_in_thread
from server.payments.mpesa import simulator as simulator_module
from server.payments.mpesa.callback import Outcome, classify, needs_alert, parse_callback
from server.payments.mpesa.daraja import DarajaClient, DarajaError, DarajaSettings, password, timestamp
from server.payments.mpesa.simulator import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, SCENARIOS, Simulator

pytestmark = pytest.mark.own_app

PUSH = "/mpesa/stkpush/v1/processrequest"
QUERY = "/mpesa/stkpushquery/v1/query"
CALLBACK = "https://example.com/payments/mpesa/callback/tok"


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


@pytest.fixture(scope="module")
def served():
    clock = Clock()
    simulator = Simulator(callback_delay=None, clock=clock, no_answer_after=30)
    simulator.url = simulator.serve()
    yield simulator, clock
    simulator.shutdown()


@pytest.fixture
def sim(served):
    simulator, clock = served
    simulator.reset()
    clock.now = 100.0
    return simulator


@pytest.fixture
def clock(served):
    return served[1]


@pytest.fixture
def client(sim):
    return DarajaClient(DarajaSettings(base_url=sim.url, consumer_key="simulator", consumer_secret="simulator",
                                       shortcode=SANDBOX_SHORTCODE, passkey=SANDBOX_PASSKEY))


def push(client, phone, amount=150, callback_url=CALLBACK):
    return client.stk_push(amount=amount, phone=phone, account_reference="TCK-42", description="Ticksy",
                           callback_url=callback_url)


def raw(sim, path, body, token=None):
    """POST to the simulator with a freshly issued token (or the one given)."""
    if token is None:
        token = requests.get(f"{sim.url}/oauth/v1/generate", params={"grant_type": "client_credentials"},
                             auth=("simulator", "simulator"), timeout=5).json()["access_token"]
    return requests.post(sim.url + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=5)


def push_body(**changes):
    ts = timestamp()
    body = {"BusinessShortCode": SANDBOX_SHORTCODE, "Password": password(SANDBOX_SHORTCODE, SANDBOX_PASSKEY, ts),
            "Timestamp": ts, "TransactionType": "CustomerPayBillOnline", "Amount": "10",
            "PartyA": "254712345678", "PartyB": SANDBOX_SHORTCODE, "PhoneNumber": "254712345678",
            "CallBackURL": CALLBACK, "AccountReference": "TCK-42", "TransactionDesc": "Ticksy"}
    return {**body, **changes}


@pytest.mark.parametrize("phone, code, callbacks", [
    ("254700000001", "1032", 1), ("254700000003", "1", 1), ("254700000004", "2001", 1),
    ("254700000005", "0", 2), ("254700000006", "1032", 1), ("254700000009", "7777", 1),
    ("254700000010", "2028", 1), ("254712345678", "0", 1), ("254110000000", "0", 1),
])
def test_scenarios_with_callbacks(sim, client, phone, code, callbacks):
    accepted = push(client, phone)
    assert client.stk_query(accepted.checkout_request_id).result_code is None
    assert client.stk_query(accepted.checkout_request_id).result_code is None
    taken = sim.take_callbacks()
    assert len(taken) == callbacks and sim.take_callbacks() == []
    for url, body in taken:
        cb = parse_callback(body)
        assert url == CALLBACK and cb.checkout_request_id == accepted.checkout_request_id
        assert cb.merchant_request_id == accepted.merchant_request_id and cb.result_code == code
    answer = client.stk_query(accepted.checkout_request_id)
    assert answer.result_code == code
    assert set(answer.exchange.response) == {"ResponseCode", "ResponseDescription", "MerchantRequestID",
                                             "CheckoutRequestID", "ResultCode", "ResultDesc"}


def test_success_callback_has_darajas_shape(sim, client):
    push(client, "254712345678", amount=1)
    [(_, body)] = sim.take_callbacks()
    stk = body["Body"]["stkCallback"]
    assert stk["ResultCode"] == 0
    items = {item["Name"]: item for item in stk["CallbackMetadata"]["Item"]}
    assert items["Amount"]["Value"] == 1.0 and isinstance(items["Amount"]["Value"], float)
    assert re.fullmatch(r"SIM[A-Z0-9]{7}", items["MpesaReceiptNumber"]["Value"])
    assert "Value" not in items["Balance"]
    assert isinstance(items["TransactionDate"]["Value"], int) and len(str(items["TransactionDate"]["Value"])) == 14
    assert items["PhoneNumber"]["Value"] == 254712345678
    cb = parse_callback(body)
    assert cb.is_success and str(cb.amount) == "1.0" and cb.phone == "254712345678"


def test_failure_callback_has_no_metadata(sim, client):
    push(client, "254700000001")
    [(_, body)] = sim.take_callbacks()
    assert body["Body"]["stkCallback"]["ResultCode"] == 1032
    assert "CallbackMetadata" not in body["Body"]["stkCallback"]


def test_string_result_code_scenario(sim, client):
    push(client, "254700000006")
    [(_, body)] = sim.take_callbacks()
    assert body["Body"]["stkCallback"]["ResultCode"] == "1032"


def test_duplicate_callbacks_are_identical(sim, client):
    push(client, "254700000005")
    first, second = sim.take_callbacks()
    assert first == second


def test_unknown_and_misconfiguration_codes(sim, client):
    push(client, "254700000009")
    push(client, "254700000010")
    unknown, misconfigured = (parse_callback(body).result_code for _, body in sim.take_callbacks())
    assert classify(unknown) is Outcome.UNKNOWN
    assert classify(misconfigured) is Outcome.FAILED and needs_alert(misconfigured)


def test_no_answer_ends_in_1037_after_the_timeout(sim, client, clock):
    accepted = push(client, "254700000002")
    assert sim.take_callbacks() == []
    clock.now += 29
    assert client.stk_query(accepted.checkout_request_id).result_code is None
    clock.now += 1
    assert client.stk_query(accepted.checkout_request_id).result_code == "1037"


def test_lost_callback_is_found_by_the_query_at_once(sim, client):
    accepted = push(client, "254700000007")
    assert sim.take_callbacks() == []
    assert client.stk_query(accepted.checkout_request_id).result_code == "0"


def test_push_refused_scenario(sim, client):
    with pytest.raises(DarajaError) as raised:
        push(client, "254700000008")
    assert raised.value.error_code == "500.001.1001" and raised.value.exchange.status == 500
    assert "already in process" in str(raised.value)
    assert sim.transactions == {}


def test_in_flight_query_alternates_between_500_and_4999(sim, client):
    accepted = push(client, "254712345678")
    body = {**push_body(), "CheckoutRequestID": accepted.checkout_request_id}
    first, second = raw(sim, QUERY, body), raw(sim, QUERY, body)
    assert first.status_code == 500 and first.json()["errorCode"] == "500.001.1001"
    assert first.json()["errorMessage"] == "The transaction is being processed"
    assert second.status_code == 200 and second.json()["ResultCode"] == "4999"


def test_query_of_an_unknown_id(sim):
    answer = raw(sim, QUERY, {**push_body(), "CheckoutRequestID": "ws_CO_0"})
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "400.002.02"
    assert answer.json()["errorMessage"] == "Bad Request - Invalid CheckoutRequestID"


@pytest.mark.parametrize("changes, field", [
    ({"Password": "d3Jvbmc="}, "Password"),
    ({"BusinessShortCode": "600000"}, "BusinessShortCode"),
    ({"Timestamp": "2021-06-28"}, "Timestamp"),
    ({"TransactionType": "CustomerPay"}, "TransactionType"),
    ({"Amount": "10.5"}, "Amount"), ({"Amount": 0}, "Amount"), ({"Amount": 250_001}, "Amount"),
    ({"PartyA": "0712345678", "PhoneNumber": "0712345678"}, "PartyA"),
    ({"PhoneNumber": "254712345679"}, "PhoneNumber"),
    ({"PartyB": "12"}, "PartyB"),
    ({"CallBackURL": "ftp://example.com/cb"}, "CallBackURL"), ({"CallBackURL": "not a url"}, "CallBackURL"),
    ({"AccountReference": "X" * 13}, "AccountReference"),
    ({"TransactionDesc": "X" * 14}, "TransactionDesc"),
])
def test_push_validation(sim, changes, field):
    answer = raw(sim, PUSH, push_body(**changes))
    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "400.002.02"
    assert answer.json()["errorMessage"] == f"Bad Request - Invalid {field}"
    assert set(answer.json()) == {"requestId", "errorCode", "errorMessage"}


def test_push_accepts_numbers_and_buy_goods(sim):
    answer = raw(sim, PUSH, push_body(Amount=10, BusinessShortCode=174379, PartyA=254712345678,
                                      PhoneNumber=254712345678, TransactionType="CustomerBuyGoodsOnline",
                                      PartyB="5432100"))
    assert answer.status_code == 200 and answer.json()["ResponseCode"] == "0"
    assert re.fullmatch(r"ws_CO_\d+", answer.json()["CheckoutRequestID"])


@pytest.mark.parametrize("token", ["", "forged"])
def test_api_requires_an_issued_token(sim, token):
    for path in (PUSH, QUERY):
        answer = raw(sim, path, push_body(), token=token)
        assert answer.status_code == 404
        assert answer.json()["errorCode"] == "404.001.03" and answer.json()["errorMessage"] == "Invalid Access Token"


def test_tokens_expire(sim, clock):
    token = requests.get(f"{sim.url}/oauth/v1/generate?grant_type=client_credentials", auth=("simulator", "simulator"),
                         timeout=5).json()
    assert token["expires_in"] == "3599"
    assert raw(sim, PUSH, push_body(), token=token["access_token"]).status_code == 200
    clock.now += 3600
    assert raw(sim, PUSH, push_body(), token=token["access_token"]).status_code == 404


def test_oauth_rejects_bad_credentials(sim):
    answer = requests.get(f"{sim.url}/oauth/v1/generate?grant_type=client_credentials", auth=("simulator", "nope"),
                          timeout=5)
    assert answer.status_code == 400 and answer.json()["errorCode"].startswith("400.008")


def test_callback_body_overrides_and_reset(sim, client):
    accepted = push(client, "254712345678")
    tx = sim.transactions[accepted.checkout_request_id]
    body = sim.callback_body(tx, result_code="1032", ResultDesc=None, CheckoutRequestID="ws_CO_other")
    assert body == {"Body": {"stkCallback": {"MerchantRequestID": tx.merchant_request_id,
                                             "CheckoutRequestID": "ws_CO_other", "ResultCode": "1032"}}}
    assert tx.scenario.name == "success" and tx.amount == 150 and tx.account_reference == "TCK-42"
    sim.reset()
    assert sim.transactions == {} and sim.take_callbacks() == []


@pytest.fixture
def receiver():
    posts, arrived = [], threading.Event()
    app = flask.Flask("receiver")

    @app.post("/callback/<token>")
    def collect(token):
        posts.append((time.monotonic(), token, flask.request.get_json()))
        arrived.set()
        return {"ResultCode": 0, "ResultDesc": "Accepted"}

    server, url = serve_in_thread(app)
    yield url, posts, arrived
    server.shutdown()


def test_timer_mode_posts_the_callback_after_the_delay(receiver):
    url, posts, arrived = receiver
    sim = Simulator(callback_delay=0.5)
    base = sim.serve()
    try:
        client = DarajaClient(DarajaSettings(base_url=base, consumer_key="simulator", consumer_secret="simulator",
                                             shortcode=SANDBOX_SHORTCODE, passkey=SANDBOX_PASSKEY))
        started = time.monotonic()
        accepted = push(client, "254712345678", callback_url=f"{url}/callback/secret")
        assert posts == [] and client.stk_query(accepted.checkout_request_id).result_code is None
        assert arrived.wait(5)
        at, token, body = posts[0]
        assert at - started >= 0.5 and token == "secret"
        assert parse_callback(body).checkout_request_id == accepted.checkout_request_id
        assert client.stk_query(accepted.checkout_request_id).result_code == "0"
        assert sim.take_callbacks() == []
    finally:
        sim.shutdown()


def test_unreachable_callback_url_is_logged_not_raised(caplog, monkeypatch):
    monkeypatch.setattr(simulator_module.log, "disabled", False)  # logging.config.fileConfig disables it
    caplog.set_level(logging.WARNING, logger=simulator_module.log.name)
    sim = Simulator(callback_delay=0)
    base = sim.serve()
    try:
        client = DarajaClient(DarajaSettings(base_url=base, consumer_key="simulator", consumer_secret="simulator",
                                             shortcode=SANDBOX_SHORTCODE, passkey=SANDBOX_PASSKEY))
        accepted = push(client, "254712345678", callback_url="http://127.0.0.1:9/cb")
        deadline = time.monotonic() + 5
        while "failed" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Simulated callback to http://127.0.0.1:9/cb failed" in caplog.text
        assert sim.transactions[accepted.checkout_request_id].callbacks_sent == 1
    finally:
        sim.shutdown()


def test_scenario_table_covers_the_documented_phones():
    assert set(SCENARIOS) == {f"2547000000{n:02d}" for n in range(1, 11)}
    assert SCENARIOS["254700000002"].query_code == "1037" and SCENARIOS["254700000007"].query_code == "0"
    assert SCENARIOS["254700000008"].push_error[0] == 500
