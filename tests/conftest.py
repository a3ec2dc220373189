"""Test fixtures: one real PostgreSQL, migrated once; every test rolled back."""
import itertools
import logging
from datetime import timedelta
from decimal import Decimal
import os
import socket
import tempfile
import threading

import pytest
from flask_jwt_extended import create_access_token, create_refresh_token
from flask_migrate import upgrade
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import create_engine, text

from server import create_app
from server.extensions import db, limiter
from server.models import utcnow
from server.payments.mpesa.simulator import Simulator
from server.services.accounts import users as accounts
from server.services.catalog import events
from server.services.orders import lifecycle as order_lifecycle, ordering
from tests.fakes.stripe_api import FakeStripe


def _database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        return url
    from server.platform.embedded_db import embedded_database_url

    return embedded_database_url(tempfile.mkdtemp(prefix="ticksy-test-pg-"), "ticksy_test")


def _reset_schema(url: str) -> None:
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


@pytest.fixture(scope="session")
def mpesa_simulator():
    """The M-Pesa simulator on a loopback port; callbacks wait for `take_callbacks()`."""
    simulator = Simulator(callback_delay=None, no_answer_after=0)
    simulator.base_url = simulator.serve()
    yield simulator
    simulator.shutdown()


@pytest.fixture(scope="session")
def stripe_api():
    """A fake of Stripe's API on a loopback port."""
    fake = FakeStripe()
    fake.serve()
    yield fake
    fake.shutdown()


@pytest.fixture(scope="session")
def app(mpesa_simulator, stripe_api):
    url = _database_url()
    os.environ["TEST_DATABASE_URL"] = url
    _reset_schema(url)
    app = create_app("testing")
    app.config.update(MPESA_BASE_URL=mpesa_simulator.base_url, STRIPE_API_BASE=stripe_api.base_url,
                      STRIPE_SECRET_KEY=stripe_api.secret_key)
    with app.app_context():
        upgrade()
    yield app


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A loopback port nothing listens on (yet)."""
    return _free_port()


class SmtpSink:
    """An aiosmtpd handler keeping every message it receives."""

    def __init__(self):
        self.envelopes, self.arrived = [], threading.Event()

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        self.arrived.set()
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_sink():
    """(SmtpSink, port): an SMTP server on a loopback port that keeps what it is sent."""
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    controller = Controller(sink, hostname="127.0.0.1", port=_free_port())
    controller.start()
    yield sink, controller.port
    controller.stop()


@pytest.fixture
def silent_port():
    """A loopback port that accepts TCP connections and never says a word (a hung server)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    yield listener.getsockname()[1]
    listener.close()


@pytest.fixture
def mpesa(mpesa_simulator):
    """The simulator, emptied for this test."""
    mpesa_simulator.reset()
    return mpesa_simulator


@pytest.fixture
def eager_celery(app, monkeypatch):
    """JOBS_MODE=celery with a Celery app that runs its tasks (and their retries) inline."""
    from server.tasks import celery_app

    monkeypatch.setitem(app.config, "JOBS_MODE", "celery")
    monkeypatch.setitem(app.config, "CELERY_BROKER_URL", "memory://")
    monkeypatch.setitem(app.config, "JOBS_MAX_RETRIES", 2)
    celery = celery_app.make_celery(app)
    celery.conf.task_always_eager = True
    monkeypatch.setitem(app.extensions, "celery", celery)
    return celery


@pytest.fixture
def stripe_fake(stripe_api):
    """The Stripe fake, emptied for this test."""
    stripe_api.reset()
    return stripe_api


class _ConnectionSession(FlaskSession):
    """Flask-SQLAlchemy's session ignores `bind`; the tests pin it to their connection."""

    def get_bind(self, *args, **kwargs):
        return self.bind


@pytest.fixture(autouse=True)
def _root_logging_restored():
    """A test that builds a production or development app gets its logging set up (LOG_FORMAT):
    the handler and level it leaves on the root logger are taken away again afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(autouse=True)
def _rollback(request):
    """Run each test inside a transaction that is rolled back afterwards.

    Tests marked `own_app` build their own app (e.g. on an unreachable database) and
    keep the real session.
    """
    if request.node.get_closest_marker("own_app"):
        yield
        return
    app = request.getfixturevalue("app")
    with app.app_context():
        connection = db.engine.connect()
        transaction = connection.begin()
        original = db.session
        db.session = db._make_scoped_session({"class_": _ConnectionSession, "bind": connection,
                                              "join_transaction_mode": "create_savepoint"})
        try:
            yield
        finally:
            db.session.remove()
            db.session = original
            transaction.rollback()
            connection.close()


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test starts with empty rate-limit counters; the limits themselves stay on."""
    if limiter.initialized:
        limiter.reset()
    yield


_seq = itertools.count(1)


@pytest.fixture
def make_user(app):
    """Create a user through the service: make_user(role="organizer", email=..., ...)."""

    def factory(*roles, email=None, name=None, password="password123", phone=None, active=True):
        n = next(_seq)
        user = accounts.build_user(name=name or f"User {n}", email=email or f"user{n}@example.com",
                                   password=password, phone=phone, roles=roles)
        user.is_active = active
        db.session.commit()
        return user

    return factory


class ApiClient:
    """A test client that sends JSON and, when it has a user, that user's bearer token."""

    def __init__(self, app, user=None, token=None):
        self.app, self.user = app, user
        self._client = app.test_client()
        self.token = token
        if user is not None and token is None:
            with app.app_context():
                self.token = create_access_token(identity=user)

    def refresh_token(self) -> str:
        with self.app.app_context():
            return create_refresh_token(identity=self.user)

    def request(self, method, url, *, json=None, headers=None, **kwargs):
        headers = dict(headers or {})
        if self.token and "Authorization" not in headers:
            headers["Authorization"] = f"Bearer {self.token}"
        # A fresh app context gives the request its own session, as in production.
        with self.app.app_context():
            return self._client.open(url, method=method, json=json, headers=headers, **kwargs)

    def get(self, url, **kw):
        return self.request("GET", url, **kw)

    def post(self, url, json=None, **kw):
        return self.request("POST", url, json=json, **kw)

    def put(self, url, json=None, **kw):
        return self.request("PUT", url, json=json, **kw)

    def patch(self, url, json=None, **kw):
        return self.request("PATCH", url, json=json, **kw)

    def delete(self, url, **kw):
        return self.request("DELETE", url, **kw)


@pytest.fixture
def client(app):
    """An anonymous client."""
    return ApiClient(app)


@pytest.fixture
def client_for(app):
    """client_for(user) → a client authenticated as `user`."""
    return lambda user: ApiClient(app, user)


@pytest.fixture
def make_event(organizer):
    """Create an event through the service: make_event(owner, status=..., starts_in=..., tiers=[...])."""

    def factory(owner=None, *, status="published", starts_in=timedelta(days=30),
                duration=timedelta(hours=4), tiers=None, **fields):
        n = next(_seq)
        starts_at = utcnow() + starts_in
        data = {"title": f"Event {n}", "description": "A fine evening", "venue": "KICC",
                "city": "Nairobi", "category": "music", "starts_at": starts_at,
                "ends_at": starts_at + duration, "status": status,
                "ticket_types": tiers if tiers is not None else [
                    {"name": "Regular", "price": Decimal("1000.00"), "quantity": 100}]}
        data.update(fields)
        return events.create_event(organizer=owner or organizer, data=data)

    return factory


@pytest.fixture
def make_order(attendee):
    """Place an order through the service: make_order(event, {tier: qty}, buyer=..., paid=True)."""

    def factory(event, quantities=None, *, buyer=None, paid=False, **data):
        quantities = quantities or {event.ticket_types[0]: 1}
        items = [{"ticket_type_id": tier.id, "quantity": n} for tier, n in quantities.items()]
        order = ordering.place_order(buyer=buyer or attendee,
                                     data={"event_id": event.id, "items": items, **data})
        if paid:
            order = order_lifecycle.mark_order_paid(order_id=order.id)
        return order

    return factory


@pytest.fixture
def attendee(make_user):
    return make_user()


@pytest.fixture
def organizer(make_user):
    return make_user("organizer")


@pytest.fixture
def other_organizer(make_user):
    return make_user("organizer")


@pytest.fixture
def admin(make_user):
    return make_user("admin")


@pytest.fixture
def attendee_client(client_for, attendee):
    return client_for(attendee)


@pytest.fixture
def organizer_client(client_for, organizer):
    return client_for(organizer)


@pytest.fixture
def admin_client(client_for, admin):
    return client_for(admin)
