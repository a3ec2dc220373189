"""Every error, whatever raised it, leaves the API as the one envelope of API.md."""
import re

import pytest
from flask import abort
from sqlalchemy import select, text
from werkzeug.exceptions import default_exceptions

from server import create_app
from server.platform.errors import HTTP_CODES
from server.extensions import db
from server.models import User
from server.services.accounts.users import build_user

SECRET = "internal detail 7f3a that must never reach a client"
API_MD_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                405: "method_not_allowed", 422: "validation_error", 429: "rate_limited",
                500: "internal_error", 502: "upstream_error"}


@pytest.fixture(scope="module")
def raw_app(app):
    """A second app with throwaway routes that fail in every way (the shared app is sealed)."""
    second = create_app("testing")

    @second.get("/_test/abort/<int:code>")
    def abort_with(code):
        abort(code)

    @second.get("/_test/crash")
    def crash():
        raise RuntimeError(SECRET)

    @second.post("/_test/write-then-crash")
    def write_then_crash():
        build_user(name="Ghost", email="ghost@example.com", password="password123")
        db.session.flush()
        raise RuntimeError(SECRET)

    @second.get("/_test/integrity")
    def integrity():
        db.session.execute(text("INSERT INTO roles (name) VALUES ('admin')"))

    @second.get("/_test/programming")
    def programming():
        db.session.execute(text(f"SELECT * FROM no_such_table_7f3a WHERE x = '{SECRET}'"))

    return second


def envelope(resp) -> dict:
    """The `error` object of an enveloped JSON response (fails if the shape is wrong)."""
    assert resp.is_json, resp.get_data(as_text=True)
    body = resp.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error["code"], str) and re.fullmatch(r"[a-z][a-z_]*", error["code"])
    assert isinstance(error["message"], str) and error["message"]
    assert set(error) <= {"code", "message", "fields", "details"}
    return error


@pytest.mark.parametrize("status", sorted(default_exceptions))
def test_every_werkzeug_error_is_enveloped(raw_app, status):
    resp = raw_app.test_client().get(f"/_test/abort/{status}")
    assert resp.status_code == status
    error = envelope(resp)
    assert error["code"] == HTTP_CODES[status]
    if status in API_MD_CODES:
        assert error["code"] == API_MD_CODES[status]


def test_malformed_json_is_bad_request(client):
    resp = client.post("/api/auth/register", data='{"name": "Wanjiku", ',
                       content_type="application/json")
    assert resp.status_code == 400
    assert envelope(resp)["code"] == "bad_request"


def test_unknown_field_is_validation_error(client):
    resp = client.post("/api/auth/register", json={
        "name": "Wanjiku", "email": "wanjiku@example.com", "password": "s3cret-pass",
        "is_admin": True})
    assert resp.status_code == 422
    error = envelope(resp)
    assert error["code"] == "validation_error"
    assert set(error["fields"]) == {"is_admin"}


def test_missing_and_invalid_fields_are_listed(client):
    resp = client.post("/api/auth/register", json={"email": "not-an-email", "password": "short"})
    assert resp.status_code == 422
    assert set(envelope(resp)["fields"]) == {"name", "email", "password"}


def test_body_over_the_limit_is_413(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    resp = client.post("/api/auth/register", data=b"x" * (limit + 1),
                       content_type="application/json")
    assert resp.status_code == 413
    assert envelope(resp)["code"] == HTTP_CODES[413]


def test_unknown_route_is_404(client):
    resp = client.get("/api/no-such-thing")
    assert resp.status_code == 404
    assert envelope(resp)["code"] == "not_found"


def test_wrong_method_is_405(client):
    resp = client.delete("/api/health")
    assert resp.status_code == 405
    assert envelope(resp)["code"] == "method_not_allowed"
    assert "GET" in resp.headers["Allow"]


def test_unhandled_exception_is_500_without_internals(raw_app):
    resp = raw_app.test_client().get("/_test/crash")
    assert resp.status_code == 500
    assert envelope(resp)["code"] == "internal_error"
    assert "7f3a" not in resp.get_data(as_text=True)
    assert "RuntimeError" not in resp.get_data(as_text=True)


def test_failed_request_writes_nothing(raw_app):
    resp = raw_app.test_client().post("/_test/write-then-crash")
    assert resp.status_code == 500
    assert db.session.scalar(select(User).where(User.email == "ghost@example.com")) is None


@pytest.mark.parametrize("route, status, code", [("/_test/integrity", 409, "conflict"),
                                                 ("/_test/programming", 500, "internal_error")])
def test_database_error_text_never_reaches_the_client(raw_app, route, status, code):
    resp = raw_app.test_client().get(route)
    assert resp.status_code == status
    assert envelope(resp)["code"] == code
    body = resp.get_data(as_text=True).lower()
    for leak in ("7f3a", "roles", "duplicate", "unique", "sql", "psycopg", "relation", "insert"):
        assert leak not in body


class _PgError(Exception):
    def __init__(self, pgcode):
        super().__init__("raw database text that must not leak")
        self.pgcode = pgcode


@pytest.mark.parametrize("pgcode", ["55P03", "40P01", "40001"])
def test_lock_timeouts_and_deadlocks_are_409_busy_with_retry_after(app, pgcode):
    from sqlalchemy.exc import OperationalError

    from server.platform.errors import handle_database_error

    with app.test_request_context():
        response, status = handle_database_error(OperationalError("stmt", {}, _PgError(pgcode)))
    assert status == 409 and response.headers["Retry-After"] == "1"
    assert response.get_json()["error"]["code"] == "busy"
    assert "raw database text" not in response.get_data(as_text=True)


def test_connections_wait_for_row_locks_only_briefly(app):
    from sqlalchemy import text

    from server.extensions import db

    with app.app_context():
        assert db.session.execute(text("SHOW lock_timeout")).scalar() == "5s"


def test_no_statement_runs_for_ever(app):
    """A statement past DB_STATEMENT_TIMEOUT_MS is cancelled and the request answered 503."""
    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from server.platform.errors import error_response_for
    from server.extensions import db

    with app.app_context():
        assert db.session.execute(text("SHOW statement_timeout")).scalar() == "30s"
        db.session.execute(text("SET LOCAL statement_timeout = 50"))
        with pytest.raises(OperationalError) as caught:
            db.session.execute(text("SELECT pg_sleep(2)"))
        db.session.rollback()
        assert caught.value.orig.pgcode == "57014"  # query_canceled
        response, status = error_response_for(caught.value)
        assert status == 503 and "pg_sleep" not in response.get_data(as_text=True)


# Found by the OpenAPI fuzz test: PostgreSQL text cannot hold NUL; the driver raised (a 500).
@pytest.mark.parametrize("method, url, body, field", [
    ("POST", "/api/auth/login", {"email": "a\x00@example.com", "password": "password123"}, "email"),
    ("POST", "/api/auth/register", {"name": "N\x00", "email": "n@example.com",
                                    "password": "password123"}, "name"),
    ("GET", "/api/events?q=a%00b", None, "q"),
    ("POST", "/api/payments/mpesa/callback/ab%00cd", {"Body": {}}, "_path"),
])
def test_nul_characters_are_a_validation_error(client, method, url, body, field):
    resp = client.request(method, url, json=body)
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error" and field in error["fields"]


def test_nul_in_a_signed_in_update_writes_nothing(attendee_client, attendee):
    resp = attendee_client.patch("/api/users/me", json={"name": "Wan\x00jiru"})
    assert resp.status_code == 422 and "name" in resp.get_json()["error"]["fields"]
    assert attendee_client.get("/api/users/me").get_json()["name"] == attendee.name


@pytest.mark.parametrize("url, headers, field", [
    ("/api/events?a%00=1", {}, "_query"),
    ("/api/events", {"X-Client-Note": "a\x00b"}, "X-Client-Note"),
])
def test_nul_in_a_query_name_or_a_header_is_a_validation_error(client, url, headers, field):
    resp = client.get(url, headers=headers)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
