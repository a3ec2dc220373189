"""The job runner: after commit only, in every mode, with retries that give up."""
import threading
import time

import pytest

import config as settings
from server.extensions import db
from server.tasks import celery_app, jobs, periodic


@pytest.fixture
def register():
    """register(name, fn, **options): a job for this test only."""
    names = []

    def add(name, fn, **options):
        jobs.job(name, **options)(fn)
        names.append(name)

    yield add
    for name in names:
        jobs.JOBS.pop(name, None)
        jobs.RETRY_ON.pop(name, None)


class Recorder:
    """A job that records each call (thread, final_attempt()) and fails its first `failures`."""

    def __init__(self, failures=0, error=jobs.RetryLater):
        self.calls, self.failures, self.error = [], failures, error
        self.done = threading.Event()

    def __call__(self, *args):
        self.calls.append((args, threading.current_thread().name, jobs.final_attempt()))
        if len(self.calls) <= self.failures:
            if jobs.final_attempt():
                self.done.set()
            raise self.error("not yet")
        self.done.set()


def wait_until(condition, seconds=5.0):
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


@pytest.fixture
def thread_mode(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_MODE", "thread")
    monkeypatch.setitem(app.config, "JOBS_MAX_RETRIES", 3)
    monkeypatch.setitem(app.config, "JOBS_RETRY_DELAY", 0.01)
    return app


# --- eager (the test suite's mode) ------------------------------------------------------------

def test_a_job_runs_after_commit_and_with_its_ids(app, register):
    recorder = Recorder()
    register("test.record", recorder)

    jobs.after_commit("test.record", 7, 8)
    assert recorder.calls == []
    db.session.commit()

    assert [args for args, _, _ in recorder.calls] == [(7, 8)]


def test_a_rolled_back_transaction_runs_nothing(app, register):
    recorder = Recorder()
    register("test.record", recorder)

    jobs.after_commit("test.record", 1)
    db.session.rollback()
    db.session.commit()

    assert recorder.calls == []


def test_the_same_job_asked_twice_in_a_transaction_runs_once(app, register):
    recorder = Recorder()
    register("test.record", recorder)

    jobs.after_commit("test.record", 1)
    jobs.after_commit("test.record", 1)
    jobs.after_commit("test.record", 2)
    db.session.commit()

    assert [args for args, _, _ in recorder.calls] == [(1,), (2,)]


def test_an_unknown_job_is_refused(app):
    with pytest.raises(KeyError):
        jobs.after_commit("test.nobody", 1)


def test_eager_mode_does_not_retry(app, register):
    recorder = Recorder(failures=1)
    register("test.flaky", recorder)

    jobs.after_commit("test.flaky", 1)
    db.session.commit()

    assert [final for _, _, final in recorder.calls] == [True]


# --- thread -----------------------------------------------------------------------------------

def test_thread_mode_runs_the_job_in_the_pool(thread_mode, register):
    recorder = Recorder()
    register("test.record", recorder)

    jobs.after_commit("test.record", 3)
    db.session.commit()

    assert recorder.done.wait(5)
    (args, thread, final), = recorder.calls
    assert args == (3,) and thread.startswith("ticksy-job") and final is False


def test_thread_mode_retries_until_the_job_succeeds(thread_mode, register):
    recorder = Recorder(failures=2)
    register("test.flaky", recorder)

    jobs.after_commit("test.flaky", 1)
    db.session.commit()

    assert recorder.done.wait(5)
    assert len(recorder.calls) == 3


def test_thread_mode_gives_up_after_the_last_retry(thread_mode, register):
    recorder = Recorder(failures=99)
    register("test.broken", recorder)

    jobs.after_commit("test.broken", 1)
    db.session.commit()

    assert recorder.done.wait(5)
    time.sleep(0.1)  # no further attempt comes
    assert [final for _, _, final in recorder.calls] == [False, False, False, True]


def test_an_error_that_is_not_retryable_is_logged_once(thread_mode, register):
    recorder = Recorder(failures=99, error=ValueError)
    register("test.wrong", recorder)

    jobs.after_commit("test.wrong", 1)
    db.session.commit()

    assert wait_until(lambda: len(recorder.calls) == 1)
    time.sleep(0.1)
    assert len(recorder.calls) == 1


def test_a_job_can_retry_on_any_error(thread_mode, register):
    recorder = Recorder(failures=1, error=ValueError)
    register("test.any", recorder, retry_on=(Exception,))

    jobs.after_commit("test.any", 1)
    db.session.commit()

    assert recorder.done.wait(5)
    assert len(recorder.calls) == 2


def test_backoff_doubles(app, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_RETRY_DELAY", 30)
    assert [jobs.backoff(app, n) for n in range(4)] == [30, 60, 120, 240]


# --- celery -----------------------------------------------------------------------------------

def test_celery_mode_sends_the_job_as_a_task(eager_celery, register, monkeypatch):
    sent = []
    task = eager_celery.tasks[celery_app.TASK_NAME]
    monkeypatch.setattr(task, "apply_async", lambda args: sent.append(args))
    register("test.record", Recorder())

    jobs.after_commit("test.record", 5, 6)
    db.session.commit()

    assert sent == [("test.record", [5, 6])]


def test_the_celery_task_runs_the_job_and_retries_it(eager_celery, register):
    recorder = Recorder(failures=1)
    register("test.flaky", recorder)

    jobs.after_commit("test.flaky", 9)
    db.session.commit()

    assert [(args, final) for args, _, final in recorder.calls] == [((9,), False), ((9,), False)]


def test_the_celery_task_gives_up_after_max_retries(eager_celery, register):
    recorder = Recorder(failures=99)
    register("test.broken", recorder)

    jobs.after_commit("test.broken", 1)
    db.session.commit()

    assert [final for _, _, final in recorder.calls] == [False, False, True]


def test_an_unreachable_broker_runs_the_job_in_process(app, register, monkeypatch):
    monkeypatch.setitem(app.config, "JOBS_MODE", "celery")
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.setitem(app.extensions, "celery", celery_app.make_celery(app))
    recorder = Recorder()
    register("test.record", recorder)

    jobs.after_commit("test.record", 4)
    db.session.commit()  # does not raise: the order (or whatever committed) stays committed

    assert recorder.done.wait(15)
    assert recorder.calls[0][1].startswith("ticksy-job")


def test_celery_needs_a_broker(app, monkeypatch):
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", None)
    with pytest.raises(RuntimeError, match="REDIS_URL"):
        celery_app.make_celery(app)


def test_beat_runs_the_periodic_jobs_on_their_intervals(app, monkeypatch):
    monkeypatch.setitem(app.config, "ORDER_SWEEP_SECONDS", 30.0)
    monkeypatch.setitem(app.config, "RECONCILE_SECONDS", 15.0)
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "memory://")
    schedule = celery_app.make_celery(app).conf.beat_schedule

    assert {name: (entry["task"], entry["args"], entry["schedule"])
            for name, entry in schedule.items()} == {
        "orders.expire_due": ("ticksy.run_job", ("orders.expire_due", []), 30.0),
        "payments.reconcile": ("ticksy.run_job", ("payments.reconcile", []), 15.0)}
    assert all(name in jobs.JOBS for name in schedule)


def test_periodic_jobs_come_from_beat_in_celery_mode(app, monkeypatch):
    before = len(app.before_request_funcs.get(None, []))
    monkeypatch.setitem(app.config, "PERIODIC_JOBS", True)
    monkeypatch.setitem(app.config, "JOBS_MODE", "celery")
    periodic.install(app)
    assert len(app.before_request_funcs.get(None, [])) == before


def test_the_in_process_loop_runs_the_registered_periodic_jobs(app):
    assert [job for _, job in periodic.default_jobs(app)] == [
        jobs.JOBS["orders.expire_due"], jobs.JOBS["payments.reconcile"]]


# --- settings ---------------------------------------------------------------------------------

@pytest.fixture
def job_env(monkeypatch):
    for name in ("JOBS_MODE", "REDIS_URL", "CELERY_BROKER_URL", "CELERY_RESULT_BACKEND",
                 "MAIL_BACKEND", "MAIL_SERVER", "MAIL_FROM"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize("env, mode, broker", [
    ({}, "thread", None),
    ({"REDIS_URL": "redis://r:6379/0"}, "celery", "redis://r:6379/0"),
    ({"CELERY_BROKER_URL": "redis://b:6379/1"}, "celery", "redis://b:6379/1"),
    ({"REDIS_URL": "redis://r:6379/0", "CELERY_BROKER_URL": "redis://b:6379/1"}, "celery",
     "redis://b:6379/1"),
    ({"REDIS_URL": "redis://r:6379/0", "JOBS_MODE": "thread"}, "thread", "redis://r:6379/0"),
])
def test_the_mode_follows_the_broker_settings(job_env, env, mode, broker):
    for name, value in env.items():
        job_env.setenv(name, value)
    config = settings.DevelopmentConfig()
    config.validate()
    assert (config.JOBS_MODE, config.CELERY_BROKER_URL) == (mode, broker)


def test_the_tests_run_jobs_eagerly_even_with_redis_set(job_env):
    job_env.setenv("REDIS_URL", "redis://r:6379/0")
    assert settings.TestingConfig().JOBS_MODE == "eager"


@pytest.mark.parametrize("env, message", [
    ({"JOBS_MODE": "cron"}, "JOBS_MODE must be one of"),
    ({"JOBS_MODE": "celery"}, "JOBS_MODE=celery needs REDIS_URL"),
    ({"MAIL_BACKEND": "pigeon"}, "MAIL_BACKEND must be one of"),
])
def test_bad_job_and_mail_settings_are_refused(job_env, env, message):
    for name, value in env.items():
        job_env.setenv(name, value)
    with pytest.raises(RuntimeError, match=message):
        settings.DevelopmentConfig().validate()
