"""Background jobs that run once the transaction that asked for them has committed.

A service calls `after_commit("name", id)` inside its transaction; nothing runs if the transaction
rolls back. Jobs receive ids, never objects, and load what they need in their own session.
`JOBS_MODE` chooses where they run: "thread" (an in-process pool) or "eager" (inline, for tests).
"""
import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from flask import Flask, current_app
from sqlalchemy import event
from sqlalchemy.orm import Session

from server.extensions import db

log = logging.getLogger(__name__)

JOBS: dict[str, Callable] = {}
_PENDING = "ticksy_jobs"


def job(name: str):
    """Register the decorated function as the job `name`."""

    def register(fn: Callable) -> Callable:
        JOBS[name] = fn
        return fn

    return register


def after_commit(name: str, *args) -> None:
    """Run job `name` with `args` once the current transaction commits."""
    if name not in JOBS:
        raise KeyError(f"Unknown job {name!r}")
    db.session().info.setdefault(_PENDING, []).append((name, args))


def run(app: Flask, name: str, *args) -> None:
    """Run one job in its own app context and session; failures are logged, never raised."""
    with app.app_context():
        try:
            JOBS[name](*args)
        except Exception:
            log.exception("job %s%r failed", name, args)
            db.session.rollback()
        finally:
            db.session.remove()


def _dispatch(app: Flask, jobs: list[tuple[str, tuple]]) -> None:
    if app.config["JOBS_MODE"] == "eager":
        for name, args in jobs:
            run(app, name, *args)
        return
    pool = app.extensions.get("ticksy_job_pool")
    if pool is None:
        pool = app.extensions["ticksy_job_pool"] = ThreadPoolExecutor(
            max_workers=4, thread_name_prefix="ticksy-job")
    for name, args in jobs:
        pool.submit(run, app, name, *args)


@event.listens_for(Session, "after_commit")
def _run_pending(session: Session) -> None:
    jobs = session.info.pop(_PENDING, None)
    if jobs:
        _dispatch(current_app._get_current_object(), jobs)


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
