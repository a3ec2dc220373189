"""`make serve`: granian's settings from the environment, and the server itself."""
import base64
import json
import logging
import logging.config
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from server.run import serve

ROOT = Path(__file__).resolve().parent.parent


def test_defaults(monkeypatch):
    monkeypatch.setattr(serve, "usable_cores", lambda: 3)
    options = serve.settings({})
    assert (options["address"], options["port"]) == ("0.0.0.0", 8000)
    assert options["interface"] == "wsgi" and options["workers"] == 3
    assert options["blocking_threads"] == 4 and options["workers_kill_timeout"] == 30
    assert options["workers_lifetime"] == 21600 and options["workers_max_rss"] == 1024
    assert options["respawn_failed_workers"] and not options["log_access"]


@pytest.mark.parametrize("env, address", [
    ({"PORT": "9000"}, {"address": "0.0.0.0", "port": 9000}),
    ({"BIND": "127.0.0.1:8001", "PORT": "9000"}, {"address": "127.0.0.1", "port": 8001}),
    ({"BIND": "[::]:8002"}, {"address": "::", "port": 8002}),
    ({"BIND": "unix:/run/ticksy.sock"}, {"uds": Path("/run/ticksy.sock")}),
])
def test_where_it_listens(env, address):
    options = serve.settings(env)
    assert {k: options[k] for k in address} == address
    assert not ({"address", "port", "uds"} - set(address)) & set(options)


@pytest.mark.parametrize("env, message", [
    ({"BIND": "8000"}, "BIND must be host:port"),
    ({"BIND": "localhost:http"}, "BIND must be host:port"),
    ({"WEB_CONCURRENCY": "two"}, "WEB_CONCURRENCY must be a whole number"),
    ({"WEB_THREADS": "0"}, "WEB_THREADS must be at least 1"),
    ({"WEB_WORKER_LIFETIME": "30"}, "WEB_WORKER_LIFETIME must be at least 60"),
])
def test_a_bad_setting_stops_the_server_with_its_message(env, message):
    with pytest.raises(SystemExit, match=message):
        serve.settings(env)


@pytest.fixture
def granian_logger():
    """granian's logger, put back as it was after the test configures it."""
    logger = logging.getLogger("_granian")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    yield logger
    logger.handlers[:], logger.level, logger.propagate = saved


def test_its_own_messages_use_the_apps_format(granian_logger, capsys):
    production = serve.log_config("json", "INFO")
    assert production["handlers"]["stderr"]["()"] == "server.platform.logs.make_handler"
    assert production["loggers"]["granian.access"]["handlers"] == []
    logging.config.dictConfig(production)
    granian_logger.info("Started worker-1")
    record = json.loads(capsys.readouterr().err)
    assert (record["level"], record["logger"], record["message"]) == ("INFO", "_granian",
                                                                     "Started worker-1")
    assert record["request_id"] == "-"
    logging.config.dictConfig(serve.log_config("text", "INFO"))
    granian_logger.info("Started worker-2")
    assert "INFO [-] _granian: Started worker-2" in capsys.readouterr().err
    assert serve.log_config("json", "WARNING")["loggers"]["_granian"]["level"] == "WARNING"


def _production_env(port: int, **extra) -> dict:
    seed = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("TICKSY_", "MPESA_", "MAIL_", "REDIS", "CELERY", "STRIPE_"))}
    env.update(TICKSY_ENV="production", SECRET_KEY=secrets.token_urlsafe(32),
               JWT_SECRET_KEY=secrets.token_urlsafe(48), TICKET_SIGNING_KEY=seed,
               DATABASE_URL=os.environ["TEST_DATABASE_URL"], MPESA_ENV="disabled",
               MAIL_BACKEND="outbox", MAIL_OUTBOX_DIR=str(ROOT / "instance" / "test-outbox"),
               MAIL_FROM="Ticksy <tickets@example.com>", PERIODIC_JOBS="0",
               BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="1", WEB_THREADS="2", **extra)
    return env


def test_missing_production_settings_stop_it_before_any_worker(app, free_port):
    env = _production_env(free_port)
    del env["SECRET_KEY"], env["JWT_SECRET_KEY"]
    done = subprocess.run([sys.executable, "-m", "server.run.serve"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert done.returncode == 1
    assert "Error: Production configuration is missing: SECRET_KEY, JWT_SECRET_KEY" in done.stderr
    assert "Spawning worker" not in done.stderr


def test_it_serves_the_app_and_stops_cleanly(app, free_port):
    server = subprocess.Popen([sys.executable, "-m", "server.run.serve"], cwd=ROOT,
                              env=_production_env(free_port), stdin=subprocess.DEVNULL,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{free_port}"
    try:
        deadline, health = time.monotonic() + 30, None
        while time.monotonic() < deadline and health is None:
            try:
                health = requests.get(f"{base}/api/health", timeout=2)
            except requests.ConnectionError:
                time.sleep(0.2)
        assert health is not None and health.status_code == 200
        assert health.json()["database"] == "ok" and health.headers["X-Request-ID"]
        scan = requests.post(f"{base}/api/checkin", json={"code": "x"}, timeout=5,
                             headers={"Authorization": "Bearer not.a.jwt"})
        assert scan.status_code == 401 and scan.json()["error"]["code"] == "unauthorized"
    finally:
        server.send_signal(signal.SIGTERM)
        output, _ = server.communicate(timeout=60)
    assert server.returncode == 0, output
    assert '"logger": "ticksy.request"' in output and "GET /api/health 200" in output
    assert '"logger": "_granian"' in output  # the server's own messages, in the app's format
