"""Fifty gates scan one ticket at the same instant: it is admitted exactly once."""
import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import func, select

import config
from server import create_app
from server.extensions import db
from server.gate.codes import code_for
from server.models import CheckinScan, Ticket, utcnow
from server.services import accounts, events, order_lifecycle, ordering
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


def _stage(app) -> tuple[str, list[str], int]:
    """A paid ticket's code and a token for each of the scanners (staff of the event)."""
    with app.app_context():
        owner = accounts.build_user(name="Owner", email="owner@race.test", password="password123",
                                    phone=None, roles=("organizer",))
        buyer = accounts.build_user(name="Buyer", email="buyer@race.test", password="password123",
                                    phone=None, roles=())
        staff = [accounts.build_user(name=f"Gate {n}", email=f"gate{n}@race.test",
                                     password="password123", phone=None, roles=())
                 for n in range(SCANNERS)]
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
