"""gunicorn settings for `make serve`: `gunicorn -c python:server.gunicorn_conf server.wsgi:app`.

Everything comes from the environment (docs/deploy.md): PORT or BIND, WEB_CONCURRENCY,
GUNICORN_TIMEOUT. The app logs one line per request itself (server/logs.py), so gunicorn's
access log stays off, and gunicorn's own messages use the app's LOG_FORMAT.
"""
import os

from server.logs import TEXT_FORMAT


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers, taskset)
    except AttributeError:
        return os.cpu_count() or 1


bind = os.environ.get("BIND") or f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY") or 2 * _cores() + 1)
worker_class = "sync"
# A request running longer than this is killed and its worker replaced; the longest legitimate
# requests are provider calls (Daraja, Stripe) with their own 10-30 s timeouts.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
keepalive = 5
# Build the app once in the master: a missing secret stops the server before any worker forks,
# and workers share its memory. Each worker drops the master's database pool (post_fork).
preload_app = True
# Recycle workers now and then so a slow leak never grows without bound; jitter avoids all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "2000"))
max_requests_jitter = max_requests // 10
accesslog = None
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

# gunicorn's own messages in the app's format; the root logger is left to the app (create_app).
_json = os.environ.get("LOG_FORMAT", "json" if os.environ.get("TICKSY_ENV", "production")
                       == "production" else "text") == "json"
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"ticksy": {"()": "server.logs.make_formatter", "fmt": "json"} if _json else
                   {"format": TEXT_FORMAT.replace("[%(request_id)s] ", "")}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "ticksy",
                            "stream": "ext://sys.stderr"}},
    "root": {"level": loglevel.upper(), "handlers": []},
    "loggers": {"gunicorn.error": {"handlers": ["stderr"], "level": loglevel.upper(),
                                   "propagate": False},
                "gunicorn.access": {"handlers": [], "propagate": False}},
}


def post_fork(server, worker):
    """A worker opens its own database connections, never the master's."""
    from server.extensions import db
    from server.wsgi import app

    with app.app_context():
        for engine in db.engines.values():
            engine.dispose(close=False)
