"""Structured logs: a request id per request, one JSON line per request, no secrets."""
import io
import json
import logging

import pytest

import config as settings
from server.platform import logs


@pytest.fixture
def log_lines():
    """Everything logged at INFO and above while the test runs, as JSON objects."""
    stream = io.StringIO()
    handler = logs.make_handler("json", stream)
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def request_lines(lines):
    return [line for line in lines if line["logger"] == "ticksy.request"]


def test_a_sane_request_id_is_echoed(client):
    resp = client.get("/api/health", headers={"X-Request-ID": "lb-7f3a9c:01.2"})
    assert resp.headers["X-Request-ID"] == "lb-7f3a9c:01.2"


@pytest.mark.parametrize("sent", [None, "", "has space", "x" * 65, "tab\tin", "<script>",
                                  "-starts-with-dash"])
def test_a_missing_or_odd_request_id_is_replaced(client, sent):
    headers = {} if sent is None else {"X-Request-ID": sent}
    first = client.get("/api/health", headers=headers).headers["X-Request-ID"]
    second = client.get("/api/health", headers=headers).headers["X-Request-ID"]
    assert first != second and len(first) == 32 and int(first, 16) >= 0


def test_errors_and_unknown_routes_carry_a_request_id(client):
    resp = client.get("/api/no-such-thing", headers={"X-Request-ID": "abc-404"})
    assert resp.status_code == 404 and resp.headers["X-Request-ID"] == "abc-404"


def test_one_json_line_per_request_with_its_fields(attendee_client, attendee, log_lines):
    resp = attendee_client.get("/api/orders?status=paid", headers={"X-Request-ID": "req-42"})
    assert resp.status_code == 200
    [line] = request_lines(log_lines())
    assert line["request_id"] == "req-42"
    assert (line["method"], line["path"], line["status"]) == ("GET", "/api/orders", 200)
    assert line["user_id"] == attendee.id and line["ip"] == "127.0.0.1"
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
    assert line["level"] == "INFO" and line["time"].endswith("+00:00")


def test_anonymous_requests_have_no_user(client, log_lines):
    client.get("/api/health")
    [line] = request_lines(log_lines())
    assert line["user_id"] is None and line["status"] == 200


def test_every_record_during_a_request_carries_its_id(attendee_client, attendee, monkeypatch,
                                                      log_lines):
    """A record from deep inside (here the 500 handler's) has the request's id and user."""
    from server.services import orders

    def broken(**kwargs):
        logging.getLogger("server.services.orders.queries").warning("about to fail")
        raise RuntimeError("boom")

    monkeypatch.setattr(orders, "list_orders", broken)
    resp = attendee_client.get("/api/orders", headers={"X-Request-ID": "req-500"})
    assert resp.status_code == 500
    lines = log_lines()
    assert {line["logger"] for line in lines} >= {"server.services.orders.queries",
                                                   "server.platform.errors", "ticksy.request"}
    assert all(line["request_id"] == "req-500" for line in lines)
    assert all(line["user_id"] == attendee.id for line in lines)
    assert request_lines(lines)[0]["status"] == 500


def test_records_outside_a_request_have_no_id(log_lines):
    logging.getLogger("server.tasks").info("periodic sweep")
    [line] = log_lines()
    assert line["request_id"] == "-" and "user_id" not in line


def test_no_secrets_are_logged(client, attendee_client, make_user, log_lines):
    make_user(email="secretive@example.com", password="hunter2-very-secret")
    login = client.post("/api/auth/login", json={"email": "secretive@example.com",
                                                 "password": "hunter2-very-secret"})
    assert login.status_code == 200
    client.post("/api/auth/login", json={"email": "secretive@example.com",
                                         "password": "wrong-password-xyz"})
    attendee_client.get("/api/users/me")
    client.post("/api/payments/mpesa/callback/" + "a" * 40 + "?q=tok-in-query", json={})
    text = json.dumps(log_lines())
    for secret in ("hunter2-very-secret", "wrong-password-xyz", attendee_client.token,
                   login.get_json()["access_token"], login.get_json()["refresh_token"],
                   "a" * 40, "tok-in-query", "Authorization", "Bearer"):
        assert secret not in text
    assert "/api/payments/mpesa/callback/***" in text


def test_text_format_has_the_request_id(client):
    stream = io.StringIO()
    handler = logs.make_handler("text", stream)
    logger = logging.getLogger("ticksy.request")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        client.get("/api/health", headers={"X-Request-ID": "txt-1"})
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert "INFO [txt-1] ticksy.request: GET /api/health 200 " in stream.getvalue()


def test_configure_logging_replaces_its_own_handler():
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    try:
        logs.configure_logging("json", "WARNING")
        logs.configure_logging("text", "DEBUG")
        added = [h for h in root.handlers if h not in before]
        assert len(added) == 1 and root.level == logging.DEBUG
        assert not isinstance(added[0].formatter, logs.JsonFormatter)
    finally:
        for handler in root.handlers[:]:
            if handler not in before:
                root.removeHandler(handler)
        root.setLevel(level)


def test_log_format_defaults_json_in_production_text_in_development(monkeypatch):
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    monkeypatch.delenv("LOG_LEVEL", raising=False)
    assert settings.ProductionConfig().LOG_FORMAT == "json"
    assert settings.DevelopmentConfig().LOG_FORMAT == "text"
    assert settings.DevelopmentConfig().LOG_LEVEL == "INFO"


@pytest.mark.parametrize("name, value", [("LOG_FORMAT", "xml"), ("LOG_LEVEL", "LOUD")])
def test_bad_log_settings_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(RuntimeError, match=name):
        settings.DevelopmentConfig().validate()
