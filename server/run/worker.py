"""The Celery worker's app: `celery -A server.run.worker worker -B` (what `make worker` runs).

The Flask app is built from the environment on first use of the module's `celery` attribute, so
importing this module has no side effect.
"""
from celery import Celery
from celery.signals import setup_logging, worker_process_init
from flask import Flask

from server import create_app
from server.extensions import db
from server.tasks.celery_app import celery_for

_worker_celery: Celery | None = None


def __getattr__(name: str):
    """`celery`: the worker's Celery app, built with the Flask app from the environment."""
    global _worker_celery
    if name != "celery":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    if _worker_celery is None:
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
