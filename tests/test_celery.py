"""The Celery path for real: Redis, a worker started in the test, an SMTP server on loopback.

An order paid through the services commits for real; its after-commit job goes through Redis to
the worker, which sends the ticket email over SMTP to an aiosmtpd sink. Nothing is mocked. Skipped
when Redis is not reachable (e.g. on a laptop without it); CI and the project machine have it.
"""
import email
import os
import threading
import time
import uuid
from datetime import timedelta
from decimal import Decimal
from email import policy

import pytest
import redis
from celery.signals import task_prerun
from sqlalchemy import select

import config
from server import create_app
from server.extensions import db
from server.codes.signing import code_for
from server.codes.qr import qr_image
from server.models import EmailDelivery, EmailStatus, TicketOrder, utcnow
from server.services.accounts import users as accounts
from server.services.catalog import events
from server.services.orders import lifecycle as order_lifecycle, ordering
from server.tasks import celery_app
from tests.test_concurrency import _truncate

pytestmark = pytest.mark.own_app

REDIS_URL = os.environ.get("TICKSY_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")
WAIT_SECONDS = 20


def _redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"Redis is not reachable at {REDIS_URL} ({error}); start redis-server or "
                    f"set TICKSY_TEST_REDIS_URL to run the Celery test")
    return client


@pytest.fixture
def celery_app_and_worker(app, smtp_sink):
    """(Flask app, Celery app) in celery mode on Redis, with a worker running in this process."""
    from celery.contrib.testing import tasks  # noqa: F401  (registers celery.ping for start_worker)
    from celery.contrib.testing.worker import start_worker

    broker = _redis_or_skip()
    settings = config.TestingConfig()
    settings.JOBS_MODE = "celery"
    settings.CELERY_BROKER_URL = settings.CELERY_RESULT_BACKEND = REDIS_URL
    settings.JOBS_RETRY_DELAY = 0.2
    settings.MAIL_ENABLED, settings.MAIL_BACKEND, settings.MAIL_SERVER = True, "smtp", "127.0.0.1"
    settings.MAIL_PORT, settings.MAIL_USE_TLS, settings.MAIL_TIMEOUT = smtp_sink[1], False, 5
    flask_app = create_app(settings)
    celery = celery_app.celery_for(flask_app)
    # A queue of this run's own, so nothing left in Redis by another run reaches this worker.
    celery.conf.task_default_queue = f"ticksy-test-{uuid.uuid4().hex[:8]}"
    celery.set_current()
    try:
        with start_worker(celery, pool="solo", perform_ping_check=True, shutdown_timeout=15):
            yield flask_app, celery
    finally:
        _truncate(flask_app)
        with flask_app.app_context():
            db.engine.dispose()
        broker.flushdb()


def _paid_order(flask_app) -> int:
    """A buyer, an event and an order of two tickets, committed, then paid through the service."""
    with flask_app.app_context():
        stamp = time.time_ns()
        buyer = accounts.build_user(name="Wanjiru Kamau", email=f"wanjiru{stamp}@example.com",
                                    password="password123", phone=None, roles=())
        organizer = accounts.build_user(name="Org", email=f"org{stamp}@example.com",
                                        password="password123", phone=None, roles=("organizer",))
        db.session.commit()
        starts = utcnow() + timedelta(days=20)
        event = events.create_event(organizer=organizer, data={
            "title": "Blankets & Wine", "venue": "Ngong Racecourse", "city": "Nairobi",
            "category": "music", "starts_at": starts, "ends_at": starts + timedelta(hours=6),
            "status": "published",
            "ticket_types": [{"name": "Regular", "price": Decimal("3000.00"), "quantity": 10}]})
        order = ordering.place_order(buyer=buyer, data={
            "event_id": event.id, "items": [{"ticket_type_id": event.ticket_types[0].id,
                                             "quantity": 2}]})
        order_lifecycle.mark_order_paid(order_id=order.id)  # its jobs are queued on commit
        order_id = order.id
        db.session.remove()
    return order_id


@pytest.fixture
def tasks_run():
    """(task name, args) of every task the worker starts."""
    started = []

    def record(sender=None, task=None, args=None, **kwargs):
        started.append((task.name, tuple(args or ()), threading.current_thread().name))

    task_prerun.connect(record, weak=False)
    yield started
    task_prerun.disconnect(record)


def test_a_paid_order_is_emailed_by_the_celery_worker(celery_app_and_worker, smtp_sink, tasks_run):
    flask_app, _ = celery_app_and_worker
    sink, _ = smtp_sink

    order_id = _paid_order(flask_app)

    assert sink.arrived.wait(WAIT_SECONDS), "no email reached the SMTP sink"
    # Both jobs went through Redis to the worker (not the in-process fallback).
    assert [(name, args) for name, args, _ in tasks_run if name != "celery.ping"] == [
        ("ticksy.run_job", ("orders.paid", [order_id])),
        ("ticksy.run_job", ("email.order_paid", [order_id]))]
    assert all(not thread.startswith("ticksy-job") for _, _, thread in tasks_run)
    (envelope,) = sink.envelopes
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    with flask_app.app_context():
        order = db.session.get(TicketOrder, order_id)
        assert envelope.rcpt_tos == [order.buyer.email] and message["To"] == order.buyer.email
        assert message["Subject"] == "Your tickets for Blankets & Wine"
        assert "Ngong Racecourse, Nairobi" in message.get_body(("plain",)).get_content()
        images = [part for part in message.walk() if part.get_content_type() == "image/png"]
        assert len(images) == 2
        for ticket, image in zip(order.tickets, images):
            assert image.get_content_disposition() == "inline"
            assert image.get_filename() == f"ticket-{ticket.id}.png"
            assert image.get_content() == qr_image(code_for(ticket), "png")[0]
        delivery = _wait_for_sent(order_id)
        assert (delivery.recipient, delivery.attempts) == (order.buyer.email, 1)


def _wait_for_sent(order_id: int) -> EmailDelivery:
    """The delivery row, once the worker has committed it as sent (just after the SMTP send)."""
    deadline = time.monotonic() + 5
    while True:
        delivery = db.session.scalar(
            select(EmailDelivery).where(EmailDelivery.reference == f"order:{order_id}")
            .execution_options(populate_existing=True))
        if (delivery and delivery.status == EmailStatus.SENT) or time.monotonic() > deadline:
            assert delivery is not None and delivery.status == EmailStatus.SENT
            return delivery
        db.session.rollback()
        time.sleep(0.05)
