"""Check-in over HTTP: signed codes, exactly-once admission, staff, offline sync, figures."""
from datetime import timedelta
from unittest import mock

import pytest
import time_machine
from flask_jwt_extended import create_access_token
from sqlalchemy import event, func, select, text

from server.extensions import db
from server.codes.signing import code_for, ticket_codes
from server.models import CheckinScan, Ticket, utcnow
from server.services.gate import invalid_scans

CHECKIN = "/api/checkin"


@pytest.fixture
def paid(make_event, make_order, organizer):
    """A paid order of two tickets for the organizer's event."""
    event = make_event(organizer)
    return make_order(event, {event.ticket_types[0]: 2}, paid=True)


@pytest.fixture
def code(paid):
    return code_for(paid.tickets[0])


@pytest.fixture
def staff(make_user, organizer_client, paid):
    """A gate staff member of the event, and their client."""
    user = make_user(email="gate@example.com")
    response = organizer_client.put(f"/api/events/{paid.event_id}/staff",
                                    json={"emails": ["Gate@Example.com"]})
    assert response.status_code == 200
    return user


def scans(result=None) -> int:
    query = select(func.count()).select_from(CheckinScan)
    if result:
        query = query.where(CheckinScan.result == result)
    return db.session.scalar(query)


def test_owner_admits_a_ticket_once(organizer_client, paid, code):
    first = organizer_client.post(CHECKIN, json={"code": code, "device_id": "gate-1"})

    assert first.status_code == 200
    body = first.get_json()
    assert body["result"] == "admitted"
    assert body["ticket"]["id"] == paid.tickets[0].id
    assert body["ticket"]["status"] == "used" and body["ticket"]["ticket_type"]["name"] == "Regular"

    again = organizer_client.post(CHECKIN, json={"code": code, "device_id": "gate-2"})

    assert again.status_code == 409
    error = again.get_json()["error"]
    assert error["code"] == "already_checked_in"
    assert error["details"]["checked_in_by"]["id"] == paid.event.organizer_id
    assert error["details"]["device_id"] == "gate-1"
    assert error["details"]["checked_in_at"] == body["ticket"]["checked_in_at"]
    assert (scans("admitted"), scans("already_checked_in")) == (1, 1)


def test_staff_scan_their_event_only(client_for, staff, code, make_event, make_order, organizer):
    staff_client = client_for(staff)
    assert staff_client.post(CHECKIN, json={"code": code}).status_code == 200
    other_event = make_event(organizer)
    other_code = code_for(make_order(other_event, paid=True).tickets[0])

    refused = staff_client.post(CHECKIN, json={"code": other_code})

    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "forbidden"
    assert scans("forbidden") == 1
    assert db.session.scalar(select(Ticket.status).where(Ticket.event_id == other_event.id)).value == "valid"


def test_attendees_and_other_organizers_cannot_scan(attendee_client, other_organizer, client_for,
                                                    code):
    for caller in (attendee_client, client_for(other_organizer)):
        assert caller.post(CHECKIN, json={"code": code}).status_code == 403


def test_admin_scans_any_event(admin_client, code):
    assert admin_client.post(CHECKIN, json={"code": code}).status_code == 200


@pytest.mark.parametrize("tamper", [
    lambda c: c[:-4] + ("AAAA" if not c.endswith("AAAA") else "BBBB"),  # signature
    lambda c: c[: len(c) // 2],  # truncated
    lambda c: c + ".x",
    lambda c: "not-a-code",
])
def test_forged_codes_are_404_without_a_query(organizer_client, code, tamper):
    """A forged code is answered from the signatures alone: not one statement, the token's
    account included; its scan goes to the batch writer."""
    statements = []

    def remember(conn, cursor, statement, *args):
        statements.append(statement)

    engine = db.engines[None]
    event.listen(engine, "before_cursor_execute", remember)
    try:
        with mock.patch.object(invalid_scans.jobs, "enqueue") as enqueue:
            response = organizer_client.post(CHECKIN, json={"code": tamper(code)})
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "invalid_ticket"
    assert statements == []
    assert enqueue.call_args.args[0] == "gate.record_invalid_scans"


def test_a_forged_scan_is_still_recorded_for_the_organizer(organizer_client, code, organizer):
    organizer_client.post(CHECKIN, json={"code": code[:-4] + "AAAA", "device_id": "gate-9"})
    row = db.session.scalar(select(CheckinScan).where(CheckinScan.result == "invalid_ticket"))
    assert (row.scanner_id, row.device_id, row.ticket_id) == (organizer.id, "gate-9", None)


def test_forged_scans_are_written_together(app, organizer_client, code, organizer):
    """With a flush interval, forged scans wait in memory and are written in one statement."""
    app.config["INVALID_SCAN_FLUSH_SECONDS"] = 60
    inserts = []

    def remember(conn, cursor, statement, *args):
        inserts.append(statement) if "checkin_scans" in statement else None

    try:
        for device in ("a", "b", "c"):
            organizer_client.post(CHECKIN, json={"code": "forged", "device_id": device})
        assert invalid_scans.pending() == 3
        assert scans("invalid_ticket") == 0
        invalid_scans._timer.cancel()
        event.listen(db.engines[None], "before_cursor_execute", remember)
        assert invalid_scans.flush(app) == 3
    finally:
        event.remove(db.engines[None], "before_cursor_execute", remember)
        app.config["INVALID_SCAN_FLUSH_SECONDS"] = 0
    assert len(inserts) == 1
    rows = db.session.scalars(select(CheckinScan).where(CheckinScan.result == "invalid_ticket")
                              .order_by(CheckinScan.device_id)).all()
    assert [(r.scanner_id, r.device_id) for r in rows] == [(organizer.id, d) for d in "abc"]
    assert invalid_scans.pending() == 0


def test_a_revoked_token_admits_nothing(organizer_client, paid, code):
    assert organizer_client.post("/api/auth/logout").status_code == 204
    response = organizer_client.post(CHECKIN, json={"code": code})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert db.session.get(Ticket, paid.tickets[0].id).status.value == "valid"
    assert scans() == 0
    # Anyone with the public keys can tell a forged code: that answer needs no account check.
    assert organizer_client.post(CHECKIN, json={"code": "forged"}).status_code == 404


def test_a_deactivated_scanner_admits_nothing(client_for, staff, paid, code):
    gate = client_for(staff)
    staff.is_active = False
    db.session.commit()
    assert gate.post(CHECKIN, json={"code": code}).status_code == 401
    assert db.session.get(Ticket, paid.tickets[0].id).status.value == "valid"


def test_an_admin_role_taken_away_stops_at_once(make_user, client_for, code):
    """The token still says admin; the statement reads the roles the account has now."""
    former = make_user("admin")
    gate = client_for(former)
    db.session.execute(text("DELETE FROM user_roles WHERE user_id = :id"), {"id": former.id})
    db.session.commit()
    assert gate.post(CHECKIN, json={"code": code}).status_code == 403


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer   ", "Basic abc", "Bearer not.a.jwt"])
def test_a_missing_or_malformed_token_is_401(client, code, header):
    response = client.post(CHECKIN, json={"code": code}, headers={"Authorization": header})
    assert response.status_code == 401
    assert response.get_json()["error"]["code"] == "unauthorized"


def test_a_refresh_or_expired_token_is_401(app, organizer_client, organizer, code):
    refresh = organizer_client.refresh_token()
    with app.app_context():
        expired = create_access_token(identity=organizer, expires_delta=timedelta(seconds=-1))
    for token in (refresh, expired):
        response = organizer_client.post(CHECKIN, json={"code": code},
                                         headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


def test_a_token_already_used_at_the_gate_is_refused_once_revoked_or_expired(
        organizer_client, paid):
    """A scanner's verified token is remembered; its revocation and expiry still count."""
    first, second = (code_for(ticket) for ticket in paid.tickets)
    assert organizer_client.post(CHECKIN, json={"code": first}).status_code == 200
    with time_machine.travel(utcnow() + timedelta(minutes=16), tick=False):
        assert organizer_client.post(CHECKIN, json={"code": second}).status_code == 401
    assert organizer_client.post("/api/auth/logout").status_code == 204
    assert organizer_client.post(CHECKIN, json={"code": second}).status_code == 401
    assert db.session.get(Ticket, paid.tickets[1].id).status.value == "valid"


def test_a_code_for_another_event_is_refused(organizer_client, paid):
    ticket = paid.tickets[0]
    wrong = ticket_codes().sign(ticket_id=ticket.id, event_id=ticket.event_id + 1000,
                                nonce=ticket.nonce)
    response = organizer_client.post(CHECKIN, json={"code": wrong})
    assert response.status_code in (403, 404), response.get_json()


def test_a_transferred_tickets_old_code_is_refused(attendee_client, organizer_client, paid,
                                                   make_user):
    ticket = paid.tickets[0]
    old = code_for(ticket)
    friend = make_user(email="friend@example.com")
    assert attendee_client.post(f"/api/tickets/{ticket.id}/transfer",
                                json={"email": friend.email}).status_code == 200

    assert organizer_client.post(CHECKIN, json={"code": old}).status_code == 404
    db.session.refresh(ticket)
    assert organizer_client.post(CHECKIN, json={"code": code_for(ticket)}).status_code == 200


def test_a_void_ticket_is_refused(organizer_client, paid, code):
    assert organizer_client.delete(f"/api/tickets/{paid.tickets[0].id}").status_code == 200
    response = organizer_client.post(CHECKIN, json={"code": code})
    assert response.status_code == 409 and response.get_json()["error"]["code"] == "ticket_void"


def test_holder_sees_the_code_and_its_qr(attendee_client, organizer_client, paid, code):
    ticket_id = paid.tickets[0].id
    mine = attendee_client.get(f"/api/tickets/{ticket_id}").get_json()
    assert mine["code"] == code
    assert organizer_client.get(f"/api/tickets/{ticket_id}").get_json()["code"] is None

    png = attendee_client.get(f"/api/tickets/{ticket_id}/qr")
    svg = attendee_client.get(f"/api/tickets/{ticket_id}/qr?format=svg")

    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.data.startswith(b"\x89PNG")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml" and b"<svg" in svg.data
    assert organizer_client.get(f"/api/tickets/{ticket_id}/qr").status_code == 403
    assert attendee_client.get(f"/api/tickets/{ticket_id}/qr?format=gif").status_code == 422


def test_public_keys_verify_codes(client, code):
    response = client.get("/api/checkin/public-key")
    assert response.status_code == 200
    [key] = response.get_json()["keys"]
    assert (key["kty"], key["crv"]) == ("OKP", "Ed25519") and key["x"] and key["kid"]


# --- staff -------------------------------------------------------------------------------------

def test_staff_list_is_replaced_and_validated(organizer_client, paid, make_user):
    make_user(email="a@example.com")
    make_user(email="b@example.com")
    url = f"/api/events/{paid.event_id}/staff"

    assert [u["email"] for u in organizer_client.put(url, json={
        "emails": ["a@example.com", "b@example.com"]}).get_json()] == ["a@example.com", "b@example.com"]
    assert [u["email"] for u in organizer_client.put(url, json={
        "emails": ["b@example.com"]}).get_json()] == ["b@example.com"]
    unknown = organizer_client.put(url, json={"emails": ["b@example.com", "nobody@example.com"]})
    assert unknown.status_code == 422
    assert "nobody@example.com" in unknown.get_json()["error"]["fields"]["emails"][0]
    assert [u["email"] for u in organizer_client.get(url).get_json()] == ["b@example.com"]
    assert organizer_client.put(url, json={"emails": []}).get_json() == []


def test_staff_see_stats_and_list_but_cannot_change_staff(client_for, staff, paid, code):
    staff_client = client_for(staff)
    staff_client.post(CHECKIN, json={"code": code})

    stats = staff_client.get(f"/api/events/{paid.event_id}/checkin-stats").get_json()

    assert (stats["issued"], stats["checked_in"]) == (2, 1)
    assert stats["by_ticket_type"][0]["checked_in"] == 1
    assert stats["scans"] == {"admitted": 1}
    assert staff_client.get(f"/api/events/{paid.event_id}/checkin-list").status_code == 200
    assert staff_client.put(f"/api/events/{paid.event_id}/staff",
                            json={"emails": []}).status_code == 403


# --- offline ---------------------------------------------------------------------------------------

def test_checkin_list_lets_a_scanner_work_offline(organizer_client, paid, code):
    listing = organizer_client.get(f"/api/events/{paid.event_id}/checkin-list").get_json()
    tickets = {t["id"]: t for t in listing["tickets"]}
    claims = ticket_codes().verify(code)
    assert tickets[claims.ticket_id]["nonce"] == claims.nonce
    assert tickets[claims.ticket_id]["status"] == "valid"
    assert listing["keys"] == organizer_client.get("/api/checkin/public-key").get_json()["keys"]

    organizer_client.post(CHECKIN, json={"code": code})
    later = organizer_client.get(f"/api/events/{paid.event_id}/checkin-list",
                                 query_string={"since": listing["generated_at"]}).get_json()
    assert (claims.ticket_id, "used") in [(t["id"], t["status"]) for t in later["tickets"]]


def test_sync_admits_offline_scans_and_reports_conflicts(organizer_client, paid):
    first, second = (code_for(t) for t in paid.tickets)
    at = (utcnow() - timedelta(minutes=5)).isoformat()
    organizer_client.post(CHECKIN, json={"code": second, "device_id": "online"})

    response = organizer_client.post("/api/checkin/sync", json=[
        {"code": first, "scanned_at": at, "device_id": "phone-a"},
        {"code": first, "scanned_at": at, "device_id": "phone-b"},
        {"code": second, "scanned_at": at, "device_id": "phone-a"},
        {"code": "forged", "scanned_at": at, "device_id": "phone-a"},
        {"code": first, "scanned_at": at, "device_id": "phone-a"},  # phone-a resending
    ])

    assert response.status_code == 200
    body = response.get_json()
    assert [r["result"] for r in body["results"]] == [
        "admitted", "conflict", "conflict", "invalid_ticket", "admitted"]
    conflict = body["results"][1]["first_check_in"]
    assert conflict["device_id"] == "phone-a"
    assert body["results"][2]["first_check_in"]["device_id"] == "online"
    assert body["summary"]["admitted"] == 2 and body["summary"]["conflict"] == 2
    admitted = db.session.get(Ticket, paid.tickets[0].id)
    db.session.refresh(admitted)
    assert admitted.checked_in_device == "phone-a"
    assert admitted.checked_in_at.isoformat().startswith(at[:19])


def test_sync_validates_its_items(organizer_client):
    bad = organizer_client.post("/api/checkin/sync", json=[{"code": "x"}])
    assert bad.status_code == 422
    assert organizer_client.post("/api/checkin/sync", json={"code": "x"}).status_code == 422


def test_an_admission_writes_no_index_entry(organizer_client, paid, code):
    """Check-in changes no indexed column and the ticket's page has room: a heap-only update."""
    def updates():
        return db.session.execute(text(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables "
            "WHERE relname = 'tickets'")).one()

    assert db.session.scalar(text(
        "SELECT reloptions FROM pg_class WHERE relname = 'tickets'")) == ["fillfactor=80"]
    indexed = db.session.scalars(text(
        "SELECT a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid "
        "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = ANY(i.indkey) "
        "WHERE c.relname = 'tickets'")).all()
    assert not {"status", "checked_in_at", "checked_in_by_id", "checked_in_device",
                "updated_at"} & set(indexed)
    before = updates()
    assert organizer_client.post(CHECKIN, json={"code": code}).status_code == 200
    after = updates()
    assert (after.n_tup_upd - before.n_tup_upd, after.n_tup_hot_upd - before.n_tup_hot_upd) == (1, 1)


def test_a_ticket_that_keeps_changing_under_the_scan_is_409_busy(organizer_client, code):
    """Each run saw the ticket valid yet another gate changed it first: after ATTEMPTS runs the
    scanner is told to scan again, and nothing is admitted."""
    from types import SimpleNamespace

    from server.services.gate import checkin

    raced = SimpleNamespace(authenticated=True, allowed=True, id=None, refusal=None)
    with mock.patch.object(checkin, "execute_alone", return_value=raced) as statement:
        response = organizer_client.post(CHECKIN, json={"code": code})
    assert statement.call_count == checkin.ATTEMPTS
    assert response.status_code == 409 and response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["code"] == "busy"
    assert scans() == 0
