"""Each test's writes are rolled back, even the ones the code under test commits.

The two tests below run in file order: the first commits a user (through a service and through
a request), the second proves neither is there any more.
"""
import os

from sqlalchemy import create_engine, select, text

from server.extensions import db
from server.models import User
from server.services.accounts.users import register_user

SERVICE_EMAIL = "rollback-service@example.com"
REQUEST_EMAIL = "rollback-request@example.com"


def _emails() -> set[str]:
    return set(db.session.scalars(select(User.email).where(
        User.email.in_([SERVICE_EMAIL, REQUEST_EMAIL]))))


def _visible_to_another_connection() -> set[str]:
    engine = create_engine(os.environ["TEST_DATABASE_URL"])
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT email FROM users WHERE email IN (:a, :b)"),
                                {"a": SERVICE_EMAIL, "b": REQUEST_EMAIL})
            return {row.email for row in rows}
    finally:
        engine.dispose()


def test_1_writes_and_commits(client):
    register_user(name="Committed", email=SERVICE_EMAIL, password="password123")
    resp = client.post("/api/auth/register", json={"name": "Committed", "email": REQUEST_EMAIL,
                                                   "password": "password123"})
    assert resp.status_code == 201
    assert _emails() == {SERVICE_EMAIL, REQUEST_EMAIL}
    # The commits only released savepoints: the outer test transaction is still open.
    assert _visible_to_another_connection() == set()


def test_2_sees_nothing_of_the_previous_test():
    assert _emails() == set()
    assert _visible_to_another_connection() == set()
