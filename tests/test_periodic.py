"""The in-process periodic job runner."""
import threading

from server.tasks import periodic


def test_jobs_run_on_their_interval_until_stopped(app):
    calls = {"fast": 0, "slow": 0}
    stop = threading.Event()

    def fast():
        calls["fast"] += 1
        if calls["fast"] >= 6:
            stop.set()

    def slow():
        calls["slow"] += 1

    periodic.run_forever(app, [(0.01, fast), (0.03, slow)], stop)
    assert calls == {"fast": 6, "slow": 2}


def test_a_failing_job_does_not_stop_the_others(app):
    calls = []
    stop = threading.Event()

    def broken():
        raise RuntimeError("boom")

    def counter():
        calls.append(1)
        if len(calls) == 3:
            stop.set()

    periodic.run_forever(app, [(0.01, broken), (0.01, counter)], stop)
    assert len(calls) == 3


def test_expiry_and_reconciliation_are_default_jobs(app):
    assert [job.__name__ for _, job in periodic.default_jobs(app)] == [
        "_expire_orders", "_reconcile_payments"]
    assert app.config["PERIODIC_JOBS"] is False
