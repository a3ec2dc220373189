"""The database connection drops in the middle of a request (fault injection).

Each test cuts the request's own connection with `pg_terminate_backend` at a chosen statement
(tests/faults/killswitch.py) while an order is placed or a payment confirmed, then checks that the
request failed cleanly (503 `service_unavailable` in the house envelope, no database text), that
nothing was half-written (inventory counters, orders, items, payments and tickets still agree:
tests/invariants.py) and that the app recovers on its own: the pool drops the dead connection and
the next request succeeds.

These run on committed data (`own_app`): the connection being killed must be the request's real
one, not the rollback harness's. Every table except roles is truncated after each test.
"""
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select, update

import config
from server import create_app
from server.extensions import db
from server.models import Payment, Ticket, TicketOrder, TicketOrderItem, TicketType, utcnow
from server.services.payments import mpesa as mpesa_payments
from tests.faults.killswitch import KillSwitch
from tests.invariants import assert_money_invariants
from tests.test_concurrency import _stage, _truncate

pytestmark = pytest.mark.own_app

DATABASE_WORDS = ("psycopg2", "terminat", "server closed", "OperationalError", "SQL", "backend",
                  "ticket_types", "ticket_orders")


@pytest.fixture(scope="module")
def fault_app(app, mpesa_simulator):
    """An app on the migrated test database, with a small pool, talking to the simulator."""
    settings = config.TestingConfig()
    settings.SQLALCHEMY_ENGINE_OPTIONS = {**settings.SQLALCHEMY_ENGINE_OPTIONS,
                                          "pool_size": 2, "max_overflow": 0}
    settings.RATELIMIT_ENABLED = False     # retries of one purchase are not what is tested here
    faulty = create_app(settings)
    faulty.config.update(MPESA_BASE_URL=mpesa_simulator.base_url)
    yield faulty
    with faulty.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _empty_database_afterwards(fault_app, mpesa_simulator):
    mpesa_simulator.reset()
    yield
    _truncate(fault_app)


@pytest.fixture
def shop(fault_app):
    """(buyer's headers, event id, tier id): a published event with ten KES 1,000 tickets."""
    stage = _stage(fault_app, [("Regular", "1000.00", 10)], 1)
    [(_, token)] = stage.buyers
    return {"Authorization": f"Bearer {token}"}, stage.event_id, stage.tier_ids[0]


def _kill_at(app, point: str) -> KillSwitch:
    """A KillSwitch on `app`'s engine (tests/faults/killswitch.py)."""
    with app.app_context():
        return KillSwitch(db.engine, point)


def _post(app, url, headers=None, json=None):
    return app.test_client().post(url, json=json, headers=headers or {})


def _order_body(shop) -> dict:
    _, event_id, tier_id = shop
    return {"event_id": event_id, "items": [{"ticket_type_id": tier_id, "quantity": 2}],
            "payment_method": "mpesa"}


def _assert_clean_503(response) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "service_unavailable"
    text = response.get_data(as_text=True)
    leaked = [word for word in DATABASE_WORDS if word.lower() in text.lower()]
    assert not leaked, f"database details in the answer: {leaked}: {text}"


def _counts(app, tier_id) -> dict:
    with app.app_context():
        tier = db.session.get(TicketType, tier_id)
        counts = {"orders": db.session.scalar(select(func.count()).select_from(TicketOrder)),
                  "items": db.session.scalar(select(func.count()).select_from(TicketOrderItem)),
                  "tickets": db.session.scalar(select(func.count()).select_from(Ticket)),
                  "held": tier.held, "sold": tier.sold}
        assert_money_invariants()
        db.session.remove()
    return counts


# --- placing an order -------------------------------------------------------------------------

@pytest.mark.parametrize("point", [
    "UPDATE ticket_types",          # while the tickets are being held
    "INSERT INTO ticket_orders",    # tickets held, order not written yet
    "INSERT INTO ticket_order_items",  # order written, its items not yet
    "COMMIT",                       # everything written, the commit never arrives
])
def test_connection_dropped_while_placing_an_order(fault_app, shop, point):
    """Protection: placing an order is one transaction (holds, order and items commit together
    or not at all), a dropped connection is answered 503 by server/platform/errors.py
    (handle_database_error), and SQLAlchemy's disconnect handling replaces the dead connection.

    Verified failing without it: (1) with `db.session.commit()` added after `_hold_all(...)` in
    ordering._reserve (holds committed on their own), the INSERT INTO ticket_orders and
    ticket_order_items cases leave `held 2` with no order and the invariants fail; (2) with the
    OperationalError handler unregistered in errors.register_error_handlers every case answers
    500 `internal_error` instead of 503; (3) before the fix in server/platform/logs.py (`_user_id` read
    `loaded.id` of the expired user after the failed flush), the INSERT cases answered 500.
    """
    headers, _, tier_id = shop
    with _kill_at(fault_app, point) as switch:
        response = _post(fault_app, "/api/orders", headers, _order_body(shop))

    assert switch.killed, f"the request never reached {point!r}: {switch.seen}"
    _assert_clean_503(response)
    assert _counts(fault_app, tier_id) == {"orders": 0, "items": 0, "tickets": 0,
                                           "held": 0, "sold": 0}

    again = _post(fault_app, "/api/orders", headers, _order_body(shop))  # the app recovers

    assert again.status_code == 201, again.get_json()
    assert _counts(fault_app, tier_id) == {"orders": 1, "items": 1, "tickets": 0,
                                           "held": 2, "sold": 0}


def test_connection_dropped_with_an_idempotency_key_then_retried(fault_app, shop):
    """Protection: an Idempotency-Key retry after a dropped connection creates one order.

    Verified failing without it: same negative control as above (holds committed separately):
    the retry then holds two more tickets, `held 4` for one order of 2.
    """
    headers, _, tier_id = shop
    keyed = {**headers, "Idempotency-Key": "drop-then-retry"}
    with _kill_at(fault_app, "INSERT INTO ticket_order_items"):
        _assert_clean_503(_post(fault_app, "/api/orders", keyed, _order_body(shop)))

    first = _post(fault_app, "/api/orders", keyed, _order_body(shop))
    replay = _post(fault_app, "/api/orders", keyed, _order_body(shop))

    assert (first.status_code, replay.status_code) == (201, 201)
    assert first.get_json()["id"] == replay.get_json()["id"]
    assert _counts(fault_app, tier_id) == {"orders": 1, "items": 1, "tickets": 0,
                                           "held": 2, "sold": 0}


# --- confirming a payment ---------------------------------------------------------------------

def _pending_mpesa_payment(app, shop, phone="0700000007") -> tuple[dict, dict]:
    """An M-Pesa order and its pending payment; 0700000007: paid, callback lost."""
    headers = shop[0]
    order = _post(app, "/api/orders", headers, _order_body(shop))
    assert order.status_code == 201, order.get_json()
    push = _post(app, "/api/payments/mpesa/stk-push", headers,
                 {"order_id": order.get_json()["id"], "phone": phone})
    assert push.status_code == 202, push.get_json()
    return order.get_json(), push.get_json()


def _state(app, order, payment) -> tuple[str, str, int]:
    with app.app_context():
        found = db.session.get(TicketOrder, order["id"])
        paid = db.session.get(Payment, payment["payment_id"])
        state = (found.status.value, paid.status.value, len(found.tickets))
        db.session.remove()
    return state


@pytest.mark.parametrize("point", ["INSERT INTO tickets", "COMMIT"])
def test_connection_dropped_while_confirming_a_payment(fault_app, shop, point):
    """Protection: confirming a payment, paying its order, issuing the tickets and moving the
    inventory from held to sold are one transaction (ledger.confirm, no commit of its own), and
    the refresh that confirms it fails cleanly with 503 and can simply be asked again.

    Verified failing without it: with `db.session.commit()` added in payment_ledger.confirm right
    after the payment is set CONFIRMED (before apply_payment), the drop at INSERT INTO tickets
    leaves a confirmed payment on a pending order ('pending', 'confirmed', 0); with the
    OperationalError handler unregistered both cases answer 500.
    """
    headers, _, tier_id = shop
    order, payment = _pending_mpesa_payment(fault_app, shop)
    refresh = f"/api/payments/{payment['payment_id']}/refresh"
    with _kill_at(fault_app, point) as switch:
        response = _post(fault_app, refresh, headers)

    assert switch.killed, f"the request never reached {point!r}: {switch.seen}"
    _assert_clean_503(response)
    assert _state(fault_app, order, payment) == ("pending", "pending", 0)
    assert _counts(fault_app, tier_id)["held"] == 2

    again = _post(fault_app, refresh, headers)  # the app recovers; Daraja is asked again

    assert again.status_code == 200 and again.get_json()["status"] == "confirmed"
    assert _state(fault_app, order, payment) == ("paid", "confirmed", 2)
    assert _counts(fault_app, tier_id) == {"orders": 1, "items": 1, "tickets": 2,
                                           "held": 0, "sold": 2}


def test_verification_losing_its_connection_is_settled_by_reconciliation(
        fault_app, shop, mpesa_simulator):
    """Protection: Daraja's callback is committed before it is verified (an after-commit job),
    a job that fails is logged and never fails the callback (Daraja always gets its 200), and the
    reconciliation job confirms the payment later.

    Verified failing without it: with jobs.attempt() re-raising the job's exception instead of
    logging it, the callback answers 503 to Daraja; with the confirm-commit control above the
    payment is left confirmed on a pending order.
    """
    headers, _, tier_id = shop
    order, payment = _pending_mpesa_payment(fault_app, shop, phone="0712345678")
    [(url, body)] = mpesa_simulator.take_callbacks()
    with _kill_at(fault_app, "INSERT INTO tickets") as switch:
        callback = _post(fault_app, urlsplit(url).path, json=body)

    assert switch.killed
    assert callback.status_code == 200
    assert callback.get_json() == {"ResultCode": 0, "ResultDesc": "Accepted"}
    assert _state(fault_app, order, payment) == ("pending", "pending", 0)

    with fault_app.app_context():
        db.session.execute(update(Payment).values(next_query_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()
        assert mpesa_payments.reconcile_due() == 1
        db.session.remove()

    assert _state(fault_app, order, payment) == ("paid", "confirmed", 2)
    assert _counts(fault_app, tier_id)["sold"] == 2


def test_commit_applied_but_its_answer_lost_then_retried_with_the_key(fault_app, shop):
    """The connection dies after the server applied the COMMIT, before the app heard so: the
    buyer gets a 503 although the order exists. Protection: the Idempotency-Key (the retry finds
    the order instead of placing another) and the 503 envelope for the lost connection.

    Verified failing without it: with server/api/orders.py passing `idempotency_key=None` to
    place_order, the retry placed a second order (2 orders, held 4, for one purchase).
    """
    headers, _, tier_id = shop
    keyed = {**headers, "Idempotency-Key": "commit-lost"}
    with _kill_at(fault_app, "COMMIT LOST") as switch:
        lost = _post(fault_app, "/api/orders", keyed, _order_body(shop))

    assert switch.killed
    _assert_clean_503(lost)
    assert _counts(fault_app, tier_id)["orders"] == 1  # durable, though the buyer got a 503

    retry = _post(fault_app, "/api/orders", keyed, _order_body(shop))

    assert retry.status_code == 201
    assert _counts(fault_app, tier_id) == {"orders": 1, "items": 1, "tickets": 0,
                                           "held": 2, "sold": 0}
