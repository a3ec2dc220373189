"""Health reporting and a database that cannot be reached."""
import pytest

import config
from server import create_app


def _app_without_database():
    settings = config.TestingConfig()
    settings.SQLALCHEMY_DATABASE_URI = "postgresql://postgres@127.0.0.1:1/unreachable"
    return create_app(settings)


def test_health_ok(client):
    resp = client.get("/api/health")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "database": "ok"}


@pytest.mark.own_app
def test_health_reports_database_down():
    resp = _app_without_database().test_client().get("/api/health")
    assert resp.status_code == 503
    assert resp.get_json()["database"] == "unavailable"


@pytest.mark.own_app
def test_database_outage_is_503_without_internals():
    resp = _app_without_database().test_client().get("/api/events")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["error"]["code"] == "service_unavailable"
    text = resp.get_data(as_text=True)
    assert "psycopg2" not in text and "127.0.0.1" not in text and "unreachable" not in text
