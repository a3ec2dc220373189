"""Background jobs that run once the transaction that asked for them has committed.

A service calls `after_commit("name", id)` inside its transaction; nothing runs if the transaction
rolls back. Jobs receive ids, never objects, and load what they need in their own session.
`JOBS_MODE` chooses where they run: "celery" (a Celery worker, through Redis), "thread" (an
in-process pool) or "eager" (inline, for tests).

A job that raises one of its `retry_on` exceptions (`RetryLater` unless registered otherwise) runs
again after JOBS_RETRY_DELAY seconds, doubling each time, at most JOBS_MAX_RETRIES times; while
it runs, `final_attempt()` says whether a failure would still be retried. Eager mode never retries.
"""
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from contextvars import ContextVar
from typing import Callable

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.extensions import db

log = logging.getLogger(__name__)

JOBS: dict[str, Callable] = {}
RETRY_ON: dict[str, tuple[type[Exception], ...]] = {}
_PENDING = "ticksy_jobs"
_POOL = "ticksy_job_pool"
_pool_lock = threading.Lock()
_final: ContextVar[bool] = ContextVar("ticksy_job_final_attempt", default=True)


class RetryLater(Exception):
    """Raised by a job that should run again later, with backoff."""


def job(name: str, *, retry_on: tuple[type[Exception], ...] = (RetryLater,)):
    """Register the decorated function as the job `name`; `retry_on` exceptions are retried."""

    def register(fn: Callable) -> Callable:
        JOBS[name], RETRY_ON[name] = fn, tuple(retry_on)
        return fn

    return register


def final_attempt() -> bool:
    """True while the running job is on its last attempt (a failure now is final)."""
    return _final.get()


def after_commit(name: str, *args) -> None:
    """Run job `name` with `args` once the current transaction commits (once per transaction)."""
    if name not in JOBS:
        raise KeyError(f"Unknown job {name!r}")
    session = db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback before any query still drops the job
    pending = session.info.setdefault(_PENDING, [])
    if (name, args) not in pending:
        pending.append((name, args))


def enqueue(name: str, *args) -> None:
    """Start job `name` now, the way JOBS_MODE says: for jobs and schedulers, already committed."""
    if name not in JOBS:
        raise KeyError(f"Unknown job {name!r}")
    _dispatch(current_app._get_current_object(), [(name, args)])


def backoff(app: Flask, retries_done: int) -> float:
    """Seconds to wait before retry number `retries_done + 1`."""
    return app.config["JOBS_RETRY_DELAY"] * 2 ** retries_done


def attempt(app: Flask, name: str, args: tuple, *, final: bool = True) -> Exception | None:
    """Run one attempt of a job in its own app context and session.

    Returns the exception when the job asked to be retried and `final` is false; any other
    failure is logged, never raised.
    """
    token = _final.set(final)
    try:
        with app.app_context():
            try:
                JOBS[name](*args)
            except Exception as exc:
                db.session.rollback()
                if not final and isinstance(exc, RETRY_ON[name]):
                    log.warning("job %s%r failed, will retry: %s", name, args, exc)
                    return exc
                log.exception("job %s%r failed", name, args)
            finally:
                db.session.remove()
    finally:
        _final.reset(token)
    return None


def run(app: Flask, name: str, *args) -> None:
    """Run one job once (no retry), in its own app context and session; never raises."""
    attempt(app, name, args, final=True)


def _pool(app: Flask) -> ThreadPoolExecutor:
    with _pool_lock:
        pool = app.extensions.get(_POOL)
        if pool is None:
            pool = app.extensions[_POOL] = ThreadPoolExecutor(
                max_workers=4, thread_name_prefix="ticksy-job")
        return pool


def submit(app: Flask, name: str, args: tuple, retries_done: int = 0) -> None:
    """Run a job on the in-process pool; a retry is resubmitted by a timer after its backoff."""
    _pool(app).submit(_run_in_thread, app, name, args, retries_done)


def _run_in_thread(app: Flask, name: str, args: tuple, retries_done: int) -> None:
    final = retries_done >= app.config["JOBS_MAX_RETRIES"]
    if attempt(app, name, args, final=final) is not None:
        timer = threading.Timer(backoff(app, retries_done), submit,
                                (app, name, args, retries_done + 1))
        timer.daemon = True
        timer.start()


def _run_inline(app: Flask, jobs: list[tuple[str, tuple]]) -> None:
    for name, args in jobs:
        run(app, name, *args)


def _submit_all(app: Flask, jobs: list[tuple[str, tuple]]) -> None:
    for name, args in jobs:
        submit(app, name, args)


# JOBS_MODE -> how committed jobs are started; `server.tasks.celery_app` adds "celery".
QUEUES: dict[str, Callable[[Flask, list[tuple[str, tuple]]], None]] = {
    "eager": _run_inline, "thread": _submit_all}


def _dispatch(app: Flask, jobs: list[tuple[str, tuple]]) -> None:
    QUEUES[app.config["JOBS_MODE"]](app, jobs)


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    jobs = session.info.pop(_PENDING, None)
    if jobs:
        _dispatch(current_app._get_current_object(), jobs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
