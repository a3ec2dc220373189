"""Logging: JSON or text records, a request id on every record, one line per request.

The request id comes from a sane `X-Request-ID` header or is generated, is returned in the
response's `X-Request-ID` and lives in a context variable for the request, so every record
logged while serving it (and every audit entry written by it) carries it. Headers and bodies
are never logged: the one line per request has the method, the path (with URL secrets masked),
the status, the duration and the user id.
"""
import logging
import re
import sys
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from flask import Flask, Response, g, has_request_context, request
from pythonjsonlogger.json import JsonFormatter
from sqlalchemy import inspect as sa_inspect

REQUEST_ID_HEADER = "X-Request-ID"
# What a load balancer or client may send: UUIDs, hex, base64url-ish ids; anything else is replaced.
SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
# URL parts that are secrets (the M-Pesa callback's per-payment token) are masked in the log.
SECRET_VIEW_ARGS = ("token",)
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
TEXT_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"

request_log = logging.getLogger("ticksy.request")


@dataclass
class RequestInfo:
    """What the logs and the audit log know about the request being served."""

    request_id: str
    ip: str | None
    started: float


_current: ContextVar[RequestInfo | None] = ContextVar("ticksy_request", default=None)


def current_request() -> RequestInfo | None:
    """The request being served in this context, if any."""
    return _current.get()


def _user_id() -> int | None:
    """The authenticated user's id, once the request's token has been verified."""
    loaded = (g.get("_jwt_extended_jwt_user") or {}).get("loaded_user")
    if loaded is not None:
        # Its identity key, not `loaded.id`: after a failed flush (a dropped connection) the
        # user is expired, and reading an attribute would query a session awaiting rollback.
        return sa_inspect(loaded).identity[0]
    claims = g.get("token_claims") or g.get("_jwt_extended_jwt") or {}
    subject = str(claims.get("sub", ""))
    return int(subject) if subject.isdigit() else None


class RequestContextFilter(logging.Filter):
    """Adds `request_id` (and `user_id` when known) to every record that reaches the handler."""

    def filter(self, record: logging.LogRecord) -> bool:
        info = _current.get()
        if not hasattr(record, "request_id"):
            record.request_id = info.request_id if info else "-"
        if info is not None and not hasattr(record, "user_id") and has_request_context():
            record.user_id = _user_id()
        return True


def make_formatter(fmt: str) -> logging.Formatter:
    """The formatter for LOG_FORMAT `fmt` ("json" or "text")."""
    if fmt == "json":
        return JsonFormatter(JSON_FIELDS, rename_fields={"levelname": "level", "name": "logger"},
                             timestamp="time")  # ISO 8601, UTC
    return logging.Formatter(TEXT_FORMAT)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time of each record (servers and pytest swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def make_handler(fmt: str, stream=None) -> logging.Handler:
    """A handler (to `stream`, default stderr) with `fmt`'s formatter and the request filter."""
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(make_formatter(fmt))
    handler.addFilter(RequestContextFilter())
    return handler


def configure_logging(fmt: str, level: str) -> None:
    """Send the root logger's records to stderr in `fmt`; replaces a previous Ticksy handler."""
    root = logging.getLogger()
    for handler in [h for h in root.handlers if getattr(h, "ticksy", False)]:
        root.removeHandler(handler)
    handler = make_handler(fmt)
    handler.ticksy = True
    root.addHandler(handler)
    root.setLevel(level.upper())


def begin_request(sent_id: str, ip: str | None):
    """Start serving a request: its id (the sane one sent, else a new one) and its clock.

    Returns the context variable's token for `end_request`.
    """
    request_id = sent_id if SANE_REQUEST_ID.fullmatch(sent_id) else uuid.uuid4().hex
    return _current.set(RequestInfo(request_id=request_id, ip=ip, started=time.perf_counter()))


def end_request(token) -> None:
    """The request of `begin_request`'s token is served."""
    _current.reset(token)


def log_request(info: RequestInfo, method: str, path: str, status: int,
                user_id: int | None) -> None:
    """The one line per request."""
    duration_ms = round((time.perf_counter() - info.started) * 1000, 1)
    request_log.info("%s %s %s %.1fms user=%s", method, path, status, duration_ms,
                     user_id if user_id is not None else "-",
                     extra={"method": method, "path": path, "status": status,
                            "duration_ms": duration_ms, "user_id": user_id, "ip": info.ip})


def _begin() -> None:
    g.request_log_token = begin_request(request.headers.get(REQUEST_ID_HEADER, ""),
                                        request.remote_addr)


def _logged_path() -> str:
    path = request.path
    for name in SECRET_VIEW_ARGS:
        value = (request.view_args or {}).get(name)
        if value:
            path = path.replace(str(value), "***")
    return path


def _finish(response: Response) -> Response:
    info = _current.get()
    if info is None:  # a before_request hook answered before ours ran
        _begin()
        info = _current.get()
    response.headers[REQUEST_ID_HEADER] = info.request_id
    log_request(info, request.method, _logged_path(), response.status_code, _user_id())
    return response


def _end(_exc) -> None:
    token = g.pop("request_log_token", None)
    if token is not None:
        end_request(token)


def init_app(app: Flask) -> None:
    """Request ids and the per-request log line; the root handler unless LOG_FORMAT is unset."""
    if app.config.get("LOG_FORMAT"):
        configure_logging(app.config["LOG_FORMAT"], app.config.get("LOG_LEVEL", "INFO"))
    # First, so the id and the clock are set before any other hook (a rate limit) answers.
    app.before_request_funcs.setdefault(None, []).insert(0, _begin)
    app.after_request(_finish)
    app.teardown_request(_end)
