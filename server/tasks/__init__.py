"""The job runner: jobs run after the commit that asked for them, or on a schedule.

It knows no domain. A service registers its jobs beside their functions (`jobs.job("name")`) and
asks for them by name (`jobs.after_commit`); PERIODIC_SCHEDULE (config.py) lists the periodic
ones. JOBS_MODE chooses where jobs run: inline, on an in-process pool, or on Celery.
"""
from flask import Flask

from server.tasks import celery_app, periodic  # noqa: F401  (celery_app adds the Celery queue)


def init_app(app: Flask) -> None:
    """Start the in-process periodic jobs when the app's settings ask for them."""
    periodic.install(app)
