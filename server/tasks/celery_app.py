"""Jobs on Celery with Redis: one task runs any registered job by name; beat runs the periodic ones.

`celery -A server.tasks.celery_app worker -B` (what `make worker` runs) builds the Flask app from
the environment on first use of the module's `celery` attribute, so importing this module has no
side effect. The web processes send tasks with the Celery app kept in their own Flask app.
"""
import os
import threading

from celery import Celery
from celery.signals import setup_logging, worker_process_init
from flask import Flask

from server.extensions import db
from server.tasks import jobs, periodic

TASK_NAME = "ticksy.run_job"
_EXTENSION = "celery"
_lock = threading.Lock()
_worker_celery: Celery | None = None


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
            for name, setting in periodic.SCHEDULE}


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


def __getattr__(name: str):
    """`celery`: the worker's Celery app, built with the Flask app from the environment."""
    global _worker_celery
    if name != "celery":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _worker_celery is None:
        from server import create_app

        flask_app = create_app()
        _worker_celery = celery_for(flask_app)
        worker_process_init.connect(lambda **_: _forget_connections(flask_app), weak=False)
        if flask_app.config.get("LOG_FORMAT"):  # create_app set up LOG_FORMAT logs: keep them
            setup_logging.connect(lambda **_: None, weak=False)
    return _worker_celery


def _forget_connections(app: Flask) -> None:
    """A forked worker process opens its own database connections, never its parent's."""
    with app.app_context():
        db.engine.dispose(close=False)
