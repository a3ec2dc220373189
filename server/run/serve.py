"""`make serve`: the production web server, granian, serving `server.run.wsgi:app`.

granian (a Rust HTTP server) keeps client connections alive and parses HTTP outside Python, so
a request costs its workers about half the CPU a gunicorn sync worker spends on it
(bench/README.md, "Check-in"). Everything comes from the environment (docs/deploy.md):

- `PORT` (8000) or `BIND` (`host:port`, or `unix:/path/to.sock`);
- `WEB_CONCURRENCY`: worker processes (the usable CPU cores); `WEB_THREADS`: threads per worker (4);
- `WEB_GRACEFUL_TIMEOUT`: seconds running requests get on a restart or stop (30);
- `WEB_WORKER_LIFETIME`: seconds before a worker is replaced (21600), `WEB_WORKER_MAX_RSS`: MiB
  of memory after which it is replaced (1024), so a slow leak never grows without bound.

The app is built once here before any worker starts, so a missing or unsafe setting stops the
server with its message instead of failing in every worker. The app logs one line per request
itself (server/platform/logs.py), so granian's access log stays off; its own messages use LOG_FORMAT.
"""
import os
import sys
from pathlib import Path

from config import usable_cores

APP = "server.run.wsgi:app"


def _number(env: dict, name: str, default: int, minimum: int = 1) -> int:
    raw = env.get(name) or str(default)
    try:
        value = int(raw)
    except ValueError:
        raise SystemExit(f"Error: {name} must be a whole number, not {raw!r}") from None
    if value < minimum:
        raise SystemExit(f"Error: {name} must be at least {minimum}")
    return value


def _address(env: dict) -> dict:
    bind = env.get("BIND") or f"0.0.0.0:{env.get('PORT') or '8000'}"
    if bind.startswith("unix:"):
        return {"uds": Path(bind.removeprefix("unix:"))}
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise SystemExit(f"Error: BIND must be host:port or unix:/path, not {bind!r}")
    return {"address": host.strip("[]"), "port": int(port)}


def log_config(fmt: str, level: str) -> dict:
    """granian's own messages through the app's log handler (LOG_FORMAT `fmt`, on stderr, with
    the request filter), at `level`; its access log off."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"stderr": {"()": "server.platform.logs.make_handler", "fmt": fmt}},
        "loggers": {"_granian": {"handlers": ["stderr"], "level": level, "propagate": False},
                    "granian.access": {"handlers": [], "propagate": False}},
    }


def settings(env: dict) -> dict:
    """granian's settings for the environment `env` (its logging: `log_config`)."""
    return {
        **_address(env),
        "interface": "wsgi",
        "websockets": False,
        "workers": _number(env, "WEB_CONCURRENCY", usable_cores()),
        "blocking_threads": _number(env, "WEB_THREADS", 4),
        "workers_kill_timeout": _number(env, "WEB_GRACEFUL_TIMEOUT", 30),
        "workers_lifetime": _number(env, "WEB_WORKER_LIFETIME", 21600, minimum=60),
        "workers_max_rss": _number(env, "WEB_WORKER_MAX_RSS", 1024),
        "respawn_failed_workers": True,  # a worker that dies is replaced
        "log_access": False,
    }


def built_app(env_name: str):
    """The app, built once: a missing or unsafe setting stops the server here, with its message.

    Its database pools are dropped: the workers build their own app and connections.
    """
    from server import create_app
    from server.extensions import db

    try:
        app = create_app(env_name)
    except RuntimeError as exc:
        raise SystemExit(f"Error: {exc}") from None
    with app.app_context():
        for engine in db.engines.values():
            engine.dispose()
    return app


def main(target: str = APP) -> None:
    """Serve `target` (`module:app`) with the environment's settings."""
    from granian import Granian
    from granian.constants import Interfaces

    env = dict(os.environ)
    options = settings(env)
    config = built_app(env.get("TICKSY_ENV", "production")).config
    options.update(interface=Interfaces(options["interface"]),
                   log_dictconfig=log_config(config["LOG_FORMAT"], config["LOG_LEVEL"]))
    sys.stdout.flush()
    Granian(target, **options).serve()


if __name__ == "__main__":
    main()
