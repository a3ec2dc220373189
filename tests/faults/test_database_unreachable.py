"""A database that cannot be reached: /api/health and the API answer 503 quickly.

tests/test_health.py covers a refused connection (nothing listens on the port: libpq fails at
once). The harder case is a server that accepts the TCP connection and then never says a word (a
hung server, a half-open firewall, an overloaded host): libpq then waits forever unless the
connection has a timeout. Here a loopback socket listens and never answers.
"""
import threading
import time

import pytest

import config
from server import create_app

pytestmark = pytest.mark.own_app

BOUND = 3 + 2.5     # DB_CONNECT_TIMEOUT's default (3 s), plus slack for a loaded machine
GIVE_UP = 20        # the test's own limit, so a regression fails instead of hanging the suite


@pytest.fixture
def silent_database(silent_port):
    """A PostgreSQL URL whose server accepts connections and never answers."""
    return f"postgresql://postgres@127.0.0.1:{silent_port}/silent"


def _timed_get(app, path) -> tuple[object, float]:
    """GET `path` in a thread; (response or None if still waiting after GIVE_UP, seconds)."""
    result = {}

    def get():
        result["response"] = app.test_client().get(path)

    started = time.monotonic()
    worker = threading.Thread(target=get, daemon=True)
    worker.start()
    worker.join(GIVE_UP)
    return result.get("response"), time.monotonic() - started


def _app_on(url):
    settings = config.TestingConfig()       # the default engine options, connect timeout included
    settings.SQLALCHEMY_DATABASE_URI = url
    return create_app(settings)


def test_health_reports_a_silent_database_quickly(silent_database):
    """Protection: the engine's `connect_timeout` (config.py, DB_CONNECT_TIMEOUT, default 3 s).

    Verified failing without it: with `connect_timeout` removed from the engine's connect_args,
    /api/health was still waiting after 20 s (libpq's default is to wait forever).
    """
    response, seconds = _timed_get(_app_on(silent_database), "/api/health")

    assert response is not None, f"/api/health still waiting after {GIVE_UP} s"
    assert response.status_code == 503
    assert response.get_json() == {"status": "degraded", "database": "unavailable"}
    assert seconds < BOUND, f"/api/health took {seconds:.1f} s"


def test_an_api_request_on_a_silent_database_is_a_quick_clean_503(silent_database):
    """Protection: the same connect timeout, and the OperationalError handler's envelope.

    Verified failing without it: without `connect_timeout` the request never answered.
    """
    response, seconds = _timed_get(_app_on(silent_database), "/api/events")

    assert response is not None, f"/api/events still waiting after {GIVE_UP} s"
    assert response.status_code == 503 and seconds < BOUND
    assert response.get_json()["error"]["code"] == "service_unavailable"
    text = response.get_data(as_text=True)
    assert "psycopg2" not in text and "timeout" not in text.lower() and "127.0.0.1" not in text
