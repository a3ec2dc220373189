"""Jobs on Celery with Redis: one task runs any registered job by name; beat runs the periodic ones.

The web processes send tasks with the Celery app kept in their own Flask app (JOBS_MODE=celery);
the worker process gets its Celery app from `server.run.worker`.
"""
import logging
import os
import threading

from celery import Celery
from flask import Flask

from server.tasks import jobs

log = logging.getLogger(__name__)

TASK_NAME = "ticksy.run_job"
_EXTENSION = "celery"
_lock = threading.Lock()


def make_celery(app: Flask) -> Celery:
    """A Celery app configured from the Flask app's settings, with the task that runs jobs."""
    broker = app.config.get("CELERY_BROKER_URL")
    if not broker:
        raise RuntimeError("Celery needs Redis: set REDIS_URL (or CELERY_BROKER_URL), "
                           "e.g. REDIS_URL=redis://127.0.0.1:6379/0")
    celery = Celery(app.import_name, broker=broker,
                    backend=app.config.get("CELERY_RESULT_BACKEND"))
    celery.conf.update(
        task_acks_late=True,  # a job whose worker died runs again (jobs are idempotent)
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        broker_transport_options={"socket_connect_timeout": 5},
        # A web request sends after its commit: give up quickly and run the job in-process instead.
        task_publish_retry_policy={"max_retries": 2, "interval_start": 0, "interval_step": 0.5,
                                   "interval_max": 1},
        timezone="UTC", enable_utc=True,
        beat_schedule=beat_schedule(app),
        beat_schedule_filename=os.path.join(app.instance_path, "celerybeat-schedule"))
    _register_task(celery, app)
    return celery


def _register_task(celery: Celery, app: Flask) -> None:
    max_retries = app.config["JOBS_MAX_RETRIES"]

    @celery.task(name=TASK_NAME, bind=True, shared=False, ignore_result=True,
                 max_retries=max_retries)
    def run_job(self, name: str, args: list) -> None:
        """Run one registered job in the app's context; retry it with backoff when it asks."""
        retries = self.request.retries
        error = jobs.attempt(app, name, tuple(args), final=retries >= max_retries)
        if error is not None:
            raise self.retry(exc=error, countdown=jobs.backoff(app, retries))


def beat_schedule(app: Flask) -> dict:
    """The periodic jobs for Celery beat, each on its configured interval."""
    return {name: {"task": TASK_NAME, "schedule": app.config[setting], "args": (name, []),
                   # A run nobody picked up before the next one is due is dropped, not piled up.
                   "options": {"expires": app.config[setting]}}
            for name, setting in app.config["PERIODIC_SCHEDULE"]}


def celery_for(app: Flask) -> Celery:
    """The Celery app of a Flask app, built once."""
    with _lock:
        celery = app.extensions.get(_EXTENSION)
        if celery is None:
            celery = app.extensions[_EXTENSION] = make_celery(app)
        return celery


def send_job(app: Flask, name: str, args: tuple) -> None:
    """Queue job `name` with `args` (ids) for a worker."""
    celery_for(app).tasks[TASK_NAME].apply_async(args=(name, list(args)))


def send_jobs(app: Flask, queued: list[tuple[str, tuple]]) -> None:
    """Queue committed jobs on Celery; one that cannot be queued runs in-process instead."""
    for name, args in queued:
        try:
            send_job(app, name, args)
        except Exception:  # the commit has happened: the job must not be lost, nor fail the request
            log.exception("job %s%r could not be queued on Celery; running it in-process",
                          name, args)
            jobs.submit(app, name, args)


jobs.QUEUES["celery"] = send_jobs
