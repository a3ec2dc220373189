"""The `flask create-admin` command."""
from sqlalchemy import select

from server.extensions import db
from server.models import User


def run(app, *args):
    return app.test_cli_runner().invoke(args=["create-admin", *args])


def test_create_admin_creates_a_usable_admin(app, client):
    result = run(app, "--email", "Root@Ticksy.test", "--password", "long-password", "--name", "Root")
    assert result.exit_code == 0, result.output
    assert "Created root@ticksy.test" in result.output
    user = db.session.scalar(select(User).where(User.email == "root@ticksy.test"))
    assert user.role_names == ["admin", "attendee"]
    resp = client.post("/api/auth/login", json={"email": "root@ticksy.test", "password": "long-password"})
    assert resp.status_code == 200 and "admin" in resp.get_json()["user"]["roles"]


def test_create_admin_promotes_an_existing_account(app, make_user):
    user = make_user("organizer", email="promote@example.com")
    result = run(app, "--email", "promote@example.com", "--password", "ignored-pass", "--name", "X")
    assert result.exit_code == 0 and "Granted admin" in result.output
    db.session.refresh(user)
    assert user.role_names == ["admin", "attendee", "organizer"]


def test_create_admin_requires_every_option(app):
    result = run(app, "--email", "a@b.test")
    assert result.exit_code != 0 and "Missing option" in result.output


def test_purge_revoked_tokens_keeps_live_revocations(app, attendee):
    from datetime import timedelta

    from server.models import RevokedToken, utcnow

    db.session.add_all([RevokedToken(jti="old", user_id=attendee.id, expires_at=utcnow() - timedelta(hours=1)),
                        RevokedToken(jti="live", user_id=attendee.id, expires_at=utcnow() + timedelta(hours=1))])
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["purge-revoked-tokens"])
    assert "Purged 1 expired revocations" in result.output
    assert [t.jti for t in db.session.scalars(select(RevokedToken))] == ["live"]


def test_reconcile_payments_reports_what_it_did(app):
    result = app.test_cli_runner().invoke(args=["reconcile-payments"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == ("Queried 0 pending M-Pesa payments and 0 lapsed card "
                                     "payments, resent 0 refunds")


def test_mpesa_simulator_command_is_available(app):
    result = app.test_cli_runner().invoke(args=["mpesa-simulator", "--help"])
    assert result.exit_code == 0 and "--delay" in result.output
