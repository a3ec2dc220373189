"""Periodic jobs: registered jobs run on an interval, as PERIODIC_SCHEDULE (config.py) lists them.

With JOBS_MODE=celery, Celery beat runs them (see `celery_app.beat_schedule`). Otherwise the
first request a serving process handles starts one daemon thread that runs each job on its
interval inside an app context (PERIODIC_JOBS). Every job is idempotent and locks what it
changes, so several processes running it at once is harmless.
"""
import logging
import threading
from typing import Callable

from flask import Flask

from server.extensions import db
from server.tasks import jobs

log = logging.getLogger(__name__)


def default_jobs(app: Flask) -> list[tuple[float, Callable[[], None]]]:
    """(interval in seconds, job) pairs to run in-process."""
    return [(app.config[setting], jobs.JOBS[name])
            for name, setting in app.config["PERIODIC_SCHEDULE"]]


def run_forever(app: Flask, schedule, stop: threading.Event) -> None:
    """Run the (interval, job) pairs of `schedule` on their intervals until `stop` is set."""
    tick = min(interval for interval, _ in schedule)
    every = [(max(1, round(interval / tick)), job) for interval, job in schedule]
    ticks = 0
    while not stop.wait(tick):
        ticks += 1
        for period, job in every:
            if ticks % period == 0:
                _run_once(app, job)


def _run_once(app: Flask, job) -> None:
    with app.app_context():
        try:
            job()
        except Exception:  # a failing job must not kill the loop; it runs again next time
            log.exception("periodic job %s failed", job.__name__)
            db.session.rollback()
        finally:
            db.session.remove()


def install(app: Flask) -> None:
    """Start the periodic jobs with the first request, when PERIODIC_JOBS is on.

    With JOBS_MODE=celery they come from Celery beat instead, never from both.
    """
    if not app.config["PERIODIC_JOBS"] or app.config["JOBS_MODE"] == "celery":
        return
    started = threading.Lock()
    stop = threading.Event()
    app.extensions["periodic_jobs_stop"] = stop

    @app.before_request
    def _start_periodic_jobs() -> None:
        if started.acquire(blocking=False):
            threading.Thread(target=run_forever, args=(app, default_jobs(app), stop),
                             name="ticksy-periodic", daemon=True).start()

    app.extensions["periodic_jobs_start"] = _start_periodic_jobs
