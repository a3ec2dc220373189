"""Fifty gates scan one ticket at the same instant: it is admitted exactly once."""
import threading
import time
from datetime import timedelta
from decimal import Decimal
from unittest import mock

import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import func, select, text

import config
from server import create_app
from server.extensions import db
from server.codes.signing import code_for
from server.models import CheckinScan, Ticket, utcnow
from server.services.accounts import users as accounts
from server.services.gate import checkin
from server.services.catalog import events
from server.services.orders import lifecycle as order_lifecycle, ordering
from tests.test_concurrency import _truncate

pytestmark = pytest.mark.own_app

SCANNERS = 50


@pytest.fixture(scope="module")
def gate_app(app):
    """An app on the migrated test database with a connection per scanner."""
    settings = config.TestingConfig()
    settings.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": SCANNERS, "max_overflow": 0,
                                          "pool_timeout": 60}
    race = create_app(settings)
    yield race
    _truncate(race)
    with race.app_context():
        db.engine.dispose()


def _stage(app, scanners: int = SCANNERS,
           domain: str = "race.test") -> tuple[str, list[str], int]:
    """A paid ticket's code and a token for each of the scanners (staff of the event)."""
    with app.app_context():
        owner = accounts.build_user(name="Owner", email=f"owner@{domain}", password="password123",
                                    phone=None, roles=("organizer",))
        buyer = accounts.build_user(name="Buyer", email=f"buyer@{domain}", password="password123",
                                    phone=None, roles=())
        staff = [accounts.build_user(name=f"Gate {n}", email=f"gate{n}@{domain}",
                                     password="password123", phone=None, roles=())
                 for n in range(scanners)]
        db.session.commit()
        starts = utcnow() + timedelta(days=3)
        event = events.create_event(organizer=owner, data={
            "title": "Race", "description": "d", "venue": "v", "city": "c", "category": "music",
            "starts_at": starts, "ends_at": starts + timedelta(hours=2), "status": "published",
            "ticket_types": [{"name": "Regular", "price": Decimal("100.00"), "quantity": 5}]})
        event.staff.extend(staff)
        db.session.commit()
        order = ordering.place_order(buyer=buyer, data={"event_id": event.id, "items": [
            {"ticket_type_id": event.ticket_types[0].id, "quantity": 1}]})
        order = order_lifecycle.mark_order_paid(order_id=order.id)
        found = (code_for(order.tickets[0]), [create_access_token(identity=u) for u in staff],
                 order.tickets[0].id)
        db.session.remove()
    return found


def test_fifty_simultaneous_scans_admit_once(gate_app):
    code, tokens, ticket_id = _stage(gate_app)
    gate, answers = threading.Barrier(SCANNERS), [None] * SCANNERS

    def scan(index):
        client = gate_app.test_client()
        gate.wait()
        with gate_app.app_context():
            response = client.post("/api/checkin", json={"code": code, "device_id": f"g{index}"},
                                   headers={"Authorization": f"Bearer {tokens[index]}"})
        answers[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=scan, args=(n,)) for n in range(SCANNERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] + [409] * (SCANNERS - 1)
    winner = next(body for status, body in answers if status == 200)
    losers = [body["error"] for status, body in answers if status == 409]
    assert {error["code"] for error in losers} == {"already_checked_in"}
    assert {error["details"]["device_id"] for error in losers} == {
        f"g{answers.index((200, winner))}"}
    with gate_app.app_context():
        ticket = db.session.get(Ticket, ticket_id)
        assert ticket.status.value == "used"
        counts = dict(db.session.execute(select(CheckinScan.result, func.count())
                                         .group_by(CheckinScan.result)).all())
        assert {result.value: n for result, n in counts.items()} == {
            "admitted": 1, "already_checked_in": SCANNERS - 1}


def _wait_for_a_lock_wait(app, timeout: float = 10.0) -> None:
    with app.app_context():
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = db.session.scalar(text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND datname = current_database()"))
            db.session.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the scan never waited for the ticket's row")


def test_a_scan_that_waited_for_the_row_answers_with_the_admission_it_waited_for(gate_app):
    """The scanning statement saw the ticket valid, then found it admitted by another gate: the
    statement runs again, answers with that gate's admission, and the scan is recorded once."""
    code, tokens, ticket_id = _stage(gate_app, scanners=2, domain="wait.race.test")
    answer = {}

    def scan():
        with gate_app.app_context():
            response = gate_app.test_client().post(
                "/api/checkin", json={"code": code, "device_id": "g0"},
                headers={"Authorization": f"Bearer {tokens[0]}"})
        answer.update(status=response.status_code, body=response.get_json())

    with gate_app.app_context(), mock.patch.object(checkin, "execute_alone",
                                                   wraps=checkin.execute_alone) as statement:
        other_gate = db.engine.connect()
        other_gate.execute(text(
            "UPDATE tickets SET status = 'used', checked_in_at = now(), checked_in_device = 'g1', "
            "checked_in_by_id = (SELECT id FROM users WHERE email = 'gate1@wait.race.test') "
            "WHERE id = :id"), {"id": ticket_id})
        scanning = threading.Thread(target=scan)
        scanning.start()
        _wait_for_a_lock_wait(gate_app)
        other_gate.commit()
        other_gate.close()
        scanning.join(30)
        assert statement.call_count - 1 == 1  # one second look, on a fresh view of the row

    assert answer["status"] == 409, answer
    error = answer["body"]["error"]
    assert error["code"] == "already_checked_in"
    assert error["details"]["device_id"] == "g1"
    assert error["details"]["checked_in_by"]["name"] == "Gate 1"
    with gate_app.app_context():
        results = db.session.scalars(select(CheckinScan.result)
                                     .where(CheckinScan.ticket_id == ticket_id)).all()
    assert [result.value for result in results] == ["already_checked_in"]
