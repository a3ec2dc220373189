"""The app served over real HTTP, speaking plain Daraja to a Daraja-compatible server.

`MPESA_ENV=sandbox` with `MPESA_BASE_URL` pointing at the simulator: the app uses its sandbox
settings and credentials and nothing of the simulator's own, the callback really travels over HTTP
to the app, and jobs run on the in-process pool as they do in development.
"""
import threading
import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from sqlalchemy import func, select

import config
from server import create_app
from server.extensions import db
from server.models import Payment, PaymentEvent, Ticket, utcnow
from server.payments.loopback import serve_in_thread
from server.payments.mpesa.simulator import Simulator
from server.services.accounts import users as accounts
from server.services.catalog import events
from server.services.payments import mpesa as mpesa_payments
from tests.invariants import assert_money_invariants
from tests.test_concurrency import _truncate

pytestmark = pytest.mark.own_app

CREDENTIALS = {"consumer_key": "live-key", "consumer_secret": "live-secret",
               "shortcode": "600999", "passkey": "live-passkey"}


@pytest.fixture(scope="module")
def daraja():
    simulator = Simulator(callback_delay=0.2, no_answer_after=0.5, **CREDENTIALS)
    simulator.base_url = simulator.serve()
    yield simulator
    simulator.shutdown()


@pytest.fixture(scope="module")
def live(app, daraja):
    """(app, base URL) of the app served on a loopback port, on the migrated test database."""
    settings = config.TestingConfig()
    settings.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": 12, "max_overflow": 0, "pool_timeout": 30}
    settings.JOBS_MODE = "thread"
    settings.MPESA_ENV, settings.MPESA_BASE_URL = "sandbox", daraja.base_url
    settings.MPESA_CONSUMER_KEY = CREDENTIALS["consumer_key"]
    settings.MPESA_CONSUMER_SECRET = CREDENTIALS["consumer_secret"]
    settings.MPESA_SHORTCODE, settings.MPESA_PASSKEY = "600999", "live-passkey"
    settings.MPESA_CALLBACK_BASE_URL = "http://127.0.0.1:1"  # replaced once the port is known
    live_app = create_app(settings)
    server, base_url = serve_in_thread(live_app)
    live_app.config["MPESA_CALLBACK_BASE_URL"] = base_url
    yield live_app, base_url
    server.shutdown()
    _truncate(live_app)
    with live_app.app_context():
        db.engine.dispose()


@pytest.fixture
def shop(live):
    """A buyer's bearer headers and a published event with one KES 500 tier."""
    live_app, starts = live[0], utcnow() + timedelta(days=30)
    with live_app.app_context():
        buyer = accounts.build_user(name="Wanjiru", email=f"w{time.time_ns()}@example.com",
                                    password="password123", phone=None, roles=())
        organizer = accounts.build_user(name="Org", email=f"o{time.time_ns()}@example.com",
                                        password="password123", phone=None, roles=("organizer",))
        db.session.commit()
        event = events.create_event(organizer=organizer, data={
            "title": "Live", "description": "Over HTTP", "venue": "KICC", "city": "Nairobi",
            "category": "music", "starts_at": starts, "ends_at": starts + timedelta(hours=3),
            "status": "published",
            "ticket_types": [{"name": "Regular", "price": Decimal("500.00"), "quantity": 10}]})
        found = (live, buyer.email, event.ticket_types[0].id, event.id)
        db.session.remove()
    return found


def _login(base_url, email) -> dict:
    response = requests.post(f"{base_url}/api/auth/login",
                             json={"email": email, "password": "password123"}, timeout=10)
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _order(base_url, headers, event_id, tier_id, quantity=2) -> dict:
    response = requests.post(f"{base_url}/api/orders", headers=headers, timeout=10, json={
        "event_id": event_id, "items": [{"ticket_type_id": tier_id, "quantity": quantity}]})
    assert response.status_code == 201, response.text
    return response.json()


def _wait_for(fetch, done, seconds=10.0):
    deadline = time.monotonic() + seconds
    while True:
        value = fetch()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def test_paid_over_http_with_the_callback_arriving_by_itself(shop, daraja):
    (live_app, base_url), email, tier_id, event_id = shop
    headers = _login(base_url, email)
    order = _order(base_url, headers, event_id, tier_id)

    push = requests.post(f"{base_url}/api/payments/mpesa/stk-push", headers=headers, timeout=10,
                         json={"order_id": order["id"], "phone": "0722000000"})

    assert push.status_code == 202, push.text
    sent = daraja.transactions[push.json()["checkout_request_id"]].request
    assert sent["BusinessShortCode"] == "600999" and sent["CallBackURL"].startswith(base_url)
    paid = _wait_for(lambda: requests.get(f"{base_url}/api/orders/{order['id']}", headers=headers,
                                          timeout=10).json(), lambda o: o["status"] == "paid")
    assert paid["status"] == "paid" and len(paid["tickets"]) == 2
    with live_app.app_context():
        assert_money_invariants()


def test_unanswered_prompt_resolved_by_the_reconciliation_job(shop, daraja):
    (live_app, base_url), email, tier_id, event_id = shop
    headers = _login(base_url, email)
    order = _order(base_url, headers, event_id, tier_id)
    push = requests.post(f"{base_url}/api/payments/mpesa/stk-push", headers=headers, timeout=10,
                         json={"order_id": order["id"], "phone": "0700000002"}).json()
    time.sleep(0.6)  # the simulator's prompt times out unanswered

    with live_app.app_context():
        assert mpesa_payments.reconcile_due() >= 1
        payment = db.session.get(Payment, push["payment_id"])
        assert (payment.status.value, payment.result_code) == ("failed", "1037")
        assert_money_invariants()


def test_ten_identical_success_callbacks_at_once_pay_once(shop, daraja):
    (live_app, base_url), email, tier_id, event_id = shop
    headers = _login(base_url, email)
    order = _order(base_url, headers, event_id, tier_id, quantity=3)
    push = requests.post(f"{base_url}/api/payments/mpesa/stk-push", headers=headers, timeout=10,
                         json={"order_id": order["id"], "phone": "0700000007"}).json()
    tx = daraja.transactions[push["checkout_request_id"]]
    body, gate, answers = daraja.callback_body(tx), threading.Barrier(10), []

    def post():
        gate.wait()
        answers.append(requests.post(tx.callback_url, json=body, timeout=30).status_code)

    threads = [threading.Thread(target=post) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [200] * 10
    _wait_for(lambda: requests.get(f"{base_url}/api/payments/{push['payment_id']}",
                                   headers=headers, timeout=10).json()["status"],
              lambda status: status == "confirmed")
    time.sleep(0.5)  # let every verification job finish
    with live_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Ticket)
                                 .where(Ticket.order_id == order["id"])) == 3
        assert db.session.scalar(select(func.count()).select_from(PaymentEvent).where(
            PaymentEvent.payment_id == push["payment_id"],
            PaymentEvent.kind == "mpesa.callback")) == 10
        assert db.session.get(Payment, push["payment_id"]).status.value == "confirmed"
        assert_money_invariants()
