"""The gate's lane answers well-formed scans in front of Flask, exactly as the Flask view would."""
import contextlib
import logging
from unittest import mock

import pytest
from sqlalchemy.exc import OperationalError

from server.extensions import db, limiter
from server.api import gate_lane as lane
from server.codes.signing import code_for
from server.models import CheckinScan, Ticket

CHECKIN = "/api/checkin"
PER_REQUEST = {"X-Request-ID"}  # a header whose value differs from one request to the next


@pytest.fixture
def handed_on(app):
    """The paths of the requests the lane handed on to Flask while the test runs."""
    checkin_lane = app.extensions["checkin_lane"]
    original, seen = checkin_lane.next, []

    def next_app(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return original(environ, start_response)

    checkin_lane.next = next_app
    yield seen
    checkin_lane.next = original


@pytest.fixture
def via_flask(monkeypatch):
    """A context in which every request goes to Flask, as if there were no lane."""
    @contextlib.contextmanager
    def context():
        with monkeypatch.context() as patch:
            patch.setattr(lane, "_candidate", lambda environ: False)
            yield
    return context


@pytest.fixture
def tickets(make_event, make_order, organizer):
    """Four tickets of one paid order for the organizer's event."""
    event = make_event(organizer)
    return make_order(event, {event.ticket_types[0]: 4}, paid=True).tickets


@pytest.fixture
def request_log(caplog):
    """The fields of each request log line (the duration left out)."""
    caplog.set_level(logging.INFO, logger="ticksy.request")
    fields = ("method", "path", "status", "user_id", "ip")
    return lambda: [{name: getattr(record, name) for name in fields}
                    for record in caplog.records if record.name == "ticksy.request"]


def seen(response) -> tuple:
    """What a client sees: status, body, headers (but the per-request ones)."""
    headers = sorted((name, value) for name, value in response.headers.items()
                     if name not in PER_REQUEST)
    return response.status_code, response.get_json(), headers


def both_ways(via_flask, send):
    """What `send()` gets through the lane, then through Flask."""
    through_lane = seen(send())
    with via_flask():
        through_flask = seen(send())
    return through_lane, through_flask


def test_a_well_formed_scan_is_answered_by_the_lane(organizer_client, tickets, handed_on):
    response = organizer_client.post(CHECKIN, json={"code": code_for(tickets[0]),
                                                    "device_id": "gate-1"})
    assert response.status_code == 200 and response.get_json()["result"] == "admitted"
    assert handed_on == []
    db.session.expire_all()
    assert db.session.get(Ticket, tickets[0].id).status.value == "used"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"]


def test_an_admission_is_answered_as_flask_answers_it(organizer_client, tickets, via_flask,
                                                      request_log):
    codes = iter([code_for(tickets[0]), code_for(tickets[1])])
    through_lane, through_flask = both_ways(
        via_flask, lambda: organizer_client.post(CHECKIN, json={"code": next(codes),
                                                                 "device_id": "gate-1"}))

    def without_ticket_details(answer):  # what differs between two tickets of one order
        status, body, headers = answer
        ticket = {k: v for k, v in body["ticket"].items() if k not in ("id", "checked_in_at", "issued_at")}
        return status, {**body, "ticket": ticket}, [h for h in headers if h[0] != "Content-Length"]

    assert without_ticket_details(through_lane) == without_ticket_details(through_flask)
    assert through_lane[0] == 200 and through_lane[1]["ticket"]["id"] == tickets[0].id
    lane_line, flask_line = request_log()
    assert lane_line == flask_line
    assert lane_line["user_id"] == tickets[0].event.organizer_id and lane_line["status"] == 200


def _admitted_first(client, tickets):
    assert client.post(CHECKIN, json={"code": code_for(tickets[0]),
                                      "device_id": "gate-1"}).status_code == 200


def _voided(client, tickets):
    assert client.delete(f"/api/tickets/{tickets[0].id}").status_code == 200


def _logged_out(client, tickets):
    assert client.post("/api/auth/logout").status_code == 204


@pytest.mark.parametrize("before, code, status, error", [
    (_admitted_first, None, 409, "already_checked_in"),
    (_voided, None, 409, "ticket_void"),
    (None, "forged", 404, "invalid_ticket"),
    (_logged_out, None, 401, "unauthorized"),
])
def test_a_refusal_is_answered_as_flask_answers_it(organizer_client, tickets, via_flask,
                                                   request_log, handed_on, before, code, status,
                                                   error):
    if before:
        before(organizer_client, tickets)
    body = {"code": code or code_for(tickets[0]), "device_id": "gate-2"}
    through_lane, through_flask = both_ways(via_flask,
                                            lambda: organizer_client.post(CHECKIN, json=body))
    assert through_lane == through_flask
    assert through_lane[0] == status and through_lane[1]["error"]["code"] == error
    assert handed_on.count(CHECKIN) == 1  # the one sent with the lane out of the way
    lines = request_log()
    assert lines[-1] == lines[-2] and lines[-1]["status"] == status


def test_a_scan_of_another_organizers_event_is_403_both_ways(client_for, other_organizer,
                                                             tickets, via_flask):
    gate = client_for(other_organizer)
    through_lane, through_flask = both_ways(
        via_flask, lambda: gate.post(CHECKIN, json={"code": code_for(tickets[0])}))
    assert through_lane == through_flask and through_lane[0] == 403
    assert db.session.query(CheckinScan).filter_by(result="forbidden").count() == 2


def test_the_rate_limit_is_answered_as_flask_answers_it(app, organizer_client, via_flask,
                                                        monkeypatch):
    monkeypatch.setitem(app.config, "RATELIMIT_CHECKIN_DEVICE", "1/minute")
    # The extension is shared: an app another test made with limits off may have turned it off.
    monkeypatch.setattr(limiter, "enabled", True)

    def second_scan():
        limiter.reset()
        organizer_client.post(CHECKIN, json={"code": "forged", "device_id": "gate-1"})
        return organizer_client.post(CHECKIN, json={"code": "forged", "device_id": " gate-1 "})

    through_lane, through_flask = both_ways(via_flask, second_scan)
    assert through_lane == through_flask
    assert through_lane[0] == 429 and ("Retry-After", "60") in through_lane[2]


@pytest.mark.parametrize("error, status, code", [
    (OperationalError("EXECUTE", {}, Exception("connection lost")), 503, "service_unavailable"),
    (RuntimeError("bug"), 500, "internal_error"),
])
def test_a_failure_is_answered_as_flask_answers_it(organizer_client, tickets, via_flask, caplog,
                                                   error, status, code):
    with mock.patch("server.services.gate.check_in", side_effect=error):
        through_lane, through_flask = both_ways(
            via_flask, lambda: organizer_client.post(CHECKIN, json={"code": code_for(tickets[0])}))
    assert through_lane == through_flask
    assert through_lane[0] == status and through_lane[1]["error"]["code"] == code
    assert "connection lost" not in str(through_lane[1]) and "bug" not in str(through_lane[1])
    if status == 500:
        assert [r.getMessage() for r in caplog.records].count("unhandled error") == 2


@pytest.mark.parametrize("kwargs, status", [
    ({"json": {"device_id": "gate-1"}}, 422),                          # no code
    ({"json": {"code": "x", "extra": 1}}, 422),                        # unknown field
    ({"json": {"code": "x" * 600}}, 422),                              # a code over 512 characters
    ({"json": {"code": "x", "pad": "y" * 5000}}, 422),                 # a body over 4 KiB
    ({"json": ["x"]}, 422),                                            # not an object
    ({"data": "{", "content_type": "application/json"}, 400),          # malformed JSON
    ({"data": '{"code": "x"}', "content_type": "text/plain"}, 422),    # not JSON
    ({"json": {"code": "a\x00b"}}, 422),                               # NUL in the body
    ({"json": {"code": "x"}, "headers": {"X-Note": "a\x00b"}}, 422),   # NUL in a header
    ({"json": {"code": "x"}, "headers": {"Authorization": "Bearer not.a.jwt"}}, 401),
    ({"json": {"code": "x"}, "headers": {"Authorization": "Basic abc"}}, 401),
])
def test_what_the_lane_cannot_vouch_for_goes_to_flask(organizer_client, handed_on, kwargs,
                                                      status):
    response = organizer_client.post(CHECKIN, **kwargs)
    assert response.status_code == status, response.get_json()
    assert handed_on == [CHECKIN]
    if status == 422 and "json" in kwargs and isinstance(kwargs["json"], dict):
        assert response.get_json()["error"]["fields"]


def test_an_anonymous_scan_goes_to_flask(client, tickets, handed_on):
    response = client.post(CHECKIN, json={"code": code_for(tickets[0])})
    assert response.status_code == 401 and handed_on == [CHECKIN]


def test_a_cross_origin_scan_goes_to_flask_for_its_cors_headers(organizer_client, tickets,
                                                                handed_on):
    response = organizer_client.post(CHECKIN, json={"code": code_for(tickets[0])},
                                     headers={"Origin": "https://tickets.example"})
    assert response.status_code == 200 and handed_on == [CHECKIN]


def test_other_routes_go_to_flask(client, handed_on):
    assert client.get("/api/events").status_code == 200
    assert client.get(CHECKIN).status_code == 405
    assert handed_on == ["/api/events", CHECKIN]


def test_the_lane_keeps_the_request_id_sent(organizer_client, tickets):
    response = organizer_client.post(CHECKIN, json={"code": code_for(tickets[0])},
                                     headers={"X-Request-ID": "gate-7-scan-42"})
    assert response.status_code == 200
    assert response.headers["X-Request-ID"] == "gate-7-scan-42"


def test_a_scan_through_the_lane_starts_the_periodic_jobs(app, organizer_client, tickets):
    start = mock.Mock()
    with mock.patch.dict(app.extensions, {"periodic_jobs_start": start}):
        organizer_client.post(CHECKIN, json={"code": code_for(tickets[0])})
    start.assert_called_once_with()


def test_a_token_without_a_users_subject_is_401_both_ways(app, tickets, via_flask):
    """Only this app's user tokens scan; a token naming no user is refused, not a 500."""
    from types import SimpleNamespace

    from flask_jwt_extended import create_access_token

    from tests.conftest import ApiClient

    with app.app_context():
        token = create_access_token(identity=SimpleNamespace(id="gate-robot", role_names=[]))
    robot = ApiClient(app, token=token)
    through_lane, through_flask = both_ways(
        via_flask, lambda: robot.post(CHECKIN, json={"code": code_for(tickets[0])}))
    assert through_lane == through_flask
    assert through_lane[0] == 401 and through_lane[1]["error"]["code"] == "unauthorized"
