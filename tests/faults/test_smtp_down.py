"""The SMTP server hangs (fault injection): orders still succeed, the email is retried and the
failure recorded, and it is sent once SMTP is back.

tests/test_emails.py covers a *refused* SMTP connection with Celery's retries run inline
(test_a_failing_smtp_server_never_fails_the_order) and a later successful run
(test_a_failed_email_is_sent_by_a_later_run). What is added here: a server that accepts the
connection and never greets (only MAIL_TIMEOUT ends the wait), with jobs on the in-process pool as
in development (JOBS_MODE=thread), so the order's HTTP answer must not wait for SMTP at all.
Committed data (`own_app`): the pool's threads use their own sessions.
"""
import time

import pytest
from sqlalchemy import select

import config
from server import create_app
from server.extensions import db
from server.models import EmailDelivery, EmailStatus, OrderStatus, TicketOrder
from server.tasks import jobs
from tests.test_concurrency import _stage, _truncate

pytestmark = pytest.mark.own_app

MAIL_TIMEOUT = 0.5
RETRIES = 2


@pytest.fixture
def mail_app(app, silent_port):
    """The app with jobs on the in-process pool, sending email to an SMTP server that hangs."""
    settings = config.TestingConfig()
    settings.JOBS_MODE = "thread"
    settings.RATELIMIT_ENABLED = False
    settings.MAIL_ENABLED, settings.MAIL_BACKEND = True, "smtp"
    settings.MAIL_SERVER, settings.MAIL_PORT = "127.0.0.1", silent_port
    settings.MAIL_USE_TLS = False
    settings.MAIL_TIMEOUT = MAIL_TIMEOUT
    settings.JOBS_MAX_RETRIES, settings.JOBS_RETRY_DELAY = RETRIES, 0.05
    mail = create_app(settings)
    yield mail
    _truncate(mail)
    with mail.app_context():
        db.engine.dispose()


def _delivery(app):
    with app.app_context():
        found = db.session.scalar(select(EmailDelivery).where(EmailDelivery.kind == "order_paid"))
        row = (found.status, found.attempts, found.last_error) if found else None
        db.session.remove()
    return row


def _wait_for(app, predicate, timeout=15.0):
    limit = time.monotonic() + timeout
    while time.monotonic() < limit:
        row = _delivery(app)
        if row and predicate(row):
            return row
        time.sleep(0.05)
    return _delivery(app)


def test_a_hung_smtp_server_never_delays_nor_fails_the_order(mail_app, smtp_sink):
    """Protection: emails are jobs run after the commit, off the request (jobs.after_commit,
    thread pool), each SMTP attempt bounded by MAIL_TIMEOUT, retried JOBS_MAX_RETRIES times
    (emails.email_job registers RETRY_ANY) and recorded in email_deliveries.

    Verified failing without it: with email_job registered with `retry_on=()` (no retries) the
    delivery is left after 1 attempt (pending, never retried) instead of FAILED after 3.
    """
    stage = _stage(mail_app, [("Free", "0.00", 10)], 1)
    _, token = stage.buyers[0]
    started = time.monotonic()
    response = mail_app.test_client().post(
        "/api/orders", headers={"Authorization": f"Bearer {token}"},
        json={"event_id": stage.event_id, "items": [{"ticket_type_id": stage.tier_ids[0],
                                                     "quantity": 2}]})
    answered_in = time.monotonic() - started

    assert response.status_code == 201, response.get_json()
    order = response.get_json()
    assert order["status"] == "paid" and len(order["tickets"]) == 2
    assert answered_in < MAIL_TIMEOUT, f"the order waited {answered_in:.2f} s for SMTP"

    status, attempts, error = _wait_for(mail_app, lambda row: row[0] == EmailStatus.FAILED)
    assert (status, attempts) == (EmailStatus.FAILED, 1 + RETRIES)
    assert "timed out" in error.lower() or "timeout" in error.lower(), error
    with mail_app.app_context():
        assert db.session.get(TicketOrder, order["id"]).status == OrderStatus.PAID
        db.session.remove()

    sink, port = smtp_sink                            # SMTP is back: a later run sends it
    mail_app.config["MAIL_PORT"] = port
    jobs.run(mail_app, "email.order_paid", order["id"])
    assert _delivery(mail_app)[:2] == (EmailStatus.SENT, 2 + RETRIES)
    assert len(sink.envelopes) == 1
