"""Registration, login, tokens, logout."""


def register(client, **overrides):
    body = {"name": "Wanjiku", "email": "wanjiku@example.com", "password": "s3cret-pass"}
    body.update(overrides)
    return client.post("/api/auth/register", json=body)


def test_register_returns_user_and_tokens(client):
    resp = register(client, phone="0712 345 678")
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["user"]["email"] == "wanjiku@example.com"
    assert body["user"]["phone"] == "254712345678"
    assert body["user"]["roles"] == ["attendee"]
    assert body["access_token"] and body["refresh_token"]
    assert "password_hash" not in body["user"]


def test_register_as_organizer(client):
    resp = register(client, role="organizer")
    assert resp.get_json()["user"]["roles"] == ["attendee", "organizer"]


def test_register_cannot_make_admin(client):
    resp = register(client, role="admin")
    assert resp.status_code == 422
    assert "role" in resp.get_json()["error"]["fields"]


def test_email_taken_case_insensitively(client):
    register(client)
    resp = register(client, email="WANJIKU@Example.com")
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "email_taken"


def test_login_and_me(client):
    register(client)
    resp = client.post("/api/auth/login", json={"email": "Wanjiku@example.com", "password": "s3cret-pass"})
    assert resp.status_code == 200
    token = resp.get_json()["access_token"]
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.get_json()["email"] == "wanjiku@example.com"


def test_login_failures_look_the_same(client, make_user):
    make_user(email="gone@example.com", active=False)
    register(client)
    answers = [
        client.post("/api/auth/login", json={"email": "nobody@example.com", "password": "s3cret-pass"}),
        client.post("/api/auth/login", json={"email": "wanjiku@example.com", "password": "wrong-pass"}),
        client.post("/api/auth/login", json={"email": "gone@example.com", "password": "password123"}),
    ]
    assert {r.status_code for r in answers} == {401}
    assert len({r.get_data() for r in answers}) == 1
    assert answers[0].get_json()["error"]["code"] == "invalid_credentials"


def test_refresh_issues_access_token(app, client, attendee):
    from tests.conftest import ApiClient

    refresh = ApiClient(app, attendee).refresh_token()
    resp = client.post("/api/auth/refresh", headers={"Authorization": f"Bearer {refresh}"})
    assert resp.status_code == 200
    assert resp.get_json()["access_token"]


def test_refresh_rejects_access_token(attendee_client):
    resp = attendee_client.post("/api/auth/refresh")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "unauthorized"


def test_logout_revokes_the_token(attendee_client):
    assert attendee_client.get("/api/auth/me").status_code == 200
    assert attendee_client.post("/api/auth/logout").status_code == 204
    resp = attendee_client.get("/api/auth/me")
    assert resp.status_code == 401
    assert resp.get_json()["error"]["message"] == "The token has been revoked."


def test_logout_with_refresh_token_revokes_it(app, client, attendee):
    from tests.conftest import ApiClient

    refresh = ApiClient(app, attendee).refresh_token()
    headers = {"Authorization": f"Bearer {refresh}"}
    assert client.post("/api/auth/logout", headers=headers).status_code == 204
    assert client.post("/api/auth/refresh", headers=headers).status_code == 401


def test_garbage_and_missing_tokens_get_envelope(client):
    for headers in ({}, {"Authorization": "Bearer not.a.jwt"}, {"Authorization": "Basic abc"}):
        resp = client.get("/api/auth/me", headers=headers)
        assert resp.status_code == 401
        assert resp.get_json()["error"]["code"] == "unauthorized"
        assert "msg" not in resp.get_json()


def test_expired_token_rejected(app, client, attendee):
    from datetime import timedelta

    from flask_jwt_extended import create_access_token

    with app.app_context():
        token = create_access_token(identity=attendee, expires_delta=timedelta(seconds=-1))
    resp = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["message"] == "The token has expired."


def test_access_token_carries_roles(app, client, make_user):
    from flask_jwt_extended import decode_token

    make_user("organizer", email="org@example.com")
    resp = client.post("/api/auth/login", json={"email": "org@example.com", "password": "password123"})
    with app.app_context():
        claims = decode_token(resp.get_json()["access_token"])
    assert claims["roles"] == ["attendee", "organizer"]


def test_password_is_stored_as_bcrypt_hash(client, app):
    from server.models import User
    from server.extensions import db
    from sqlalchemy import select

    register(client)
    user = db.session.scalar(select(User).where(User.email == "wanjiku@example.com"))
    assert user.password_hash.startswith("$2b$")
    assert "s3cret-pass" not in user.password_hash


# Found by the OpenAPI fuzz test: bcrypt reads 72 bytes and bcrypt 5 raises beyond them (a 500).
def test_password_over_72_bytes_is_refused_not_a_500(client, make_user):
    emoji = "🎟" * 20  # 20 characters, 80 bytes
    resp = client.post("/api/auth/register", json={"name": "W", "email": "w@example.com",
                                                     "password": emoji})
    assert resp.status_code == 422
    assert "password" in resp.get_json()["error"]["fields"]
    make_user(email="long@example.com")
    resp = client.post("/api/auth/login", json={"email": "long@example.com", "password": "x" * 100})
    assert resp.status_code == 401
    assert resp.get_json()["error"]["code"] == "invalid_credentials"


def test_password_change_with_a_long_current_password_is_refused(attendee_client):
    resp = attendee_client.patch("/api/users/me", json={"password": "new-password-1",
                                                        "current_password": "é" * 40})
    assert resp.status_code == 422
    assert "current_password" in resp.get_json()["error"]["fields"]
