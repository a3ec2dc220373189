"""My account: read, update, password change, deactivation."""


def login(client, email, password):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_me_routes_agree(attendee_client, attendee):
    for url in ("/api/users/me", "/api/auth/me"):
        body = attendee_client.get(url).get_json()
        assert body["id"] == attendee.id and body["roles"] == ["attendee"]
        assert set(body) == {"id", "name", "email", "phone", "roles", "is_active", "created_at"}


def test_update_name_and_phone(attendee_client):
    resp = attendee_client.patch("/api/users/me", json={"name": "Achieng O.", "phone": "+254 110 123456"})
    assert resp.status_code == 200
    assert resp.get_json()["name"] == "Achieng O." and resp.get_json()["phone"] == "254110123456"
    assert attendee_client.patch("/api/users/me", json={"phone": None}).get_json()["phone"] is None


def test_bad_phone_is_422(attendee_client):
    resp = attendee_client.patch("/api/users/me", json={"phone": "12345"})
    assert resp.status_code == 422 and "phone" in resp.get_json()["error"]["fields"]


def test_cannot_change_roles_or_email_here(attendee_client):
    for body in ({"roles": ["admin"]}, {"email": "x@example.com"}, {"is_active": False}):
        resp = attendee_client.patch("/api/users/me", json=body)
        assert resp.status_code == 422


def test_password_change_needs_current_password(client, client_for, make_user):
    user = make_user(email="pw@example.com")
    me = client_for(user)
    resp = me.patch("/api/users/me", json={"password": "new-password-1"})
    assert resp.status_code == 422 and "current_password" in resp.get_json()["error"]["fields"]
    resp = me.patch("/api/users/me", json={"password": "new-password-1", "current_password": "nope"})
    assert resp.status_code == 422
    assert login(client, "pw@example.com", "password123").status_code == 200
    resp = me.patch("/api/users/me", json={"password": "new-password-1",
                                           "current_password": "password123"})
    assert resp.status_code == 200
    assert login(client, "pw@example.com", "password123").status_code == 401
    assert login(client, "pw@example.com", "new-password-1").status_code == 200


def test_short_password_rejected(attendee_client):
    resp = attendee_client.patch("/api/users/me", json={"password": "short", "current_password": "password123"})
    assert resp.status_code == 422 and "password" in resp.get_json()["error"]["fields"]


def test_deactivate_me(client, client_for, make_user):
    user = make_user(email="leaving@example.com")
    me = client_for(user)
    assert me.delete("/api/users/me").status_code == 204
    resp = me.get("/api/users/me")
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "unauthorized"
    assert login(client, "leaving@example.com", "password123").status_code == 401


def test_me_requires_token(client):
    for method in ("get", "patch", "delete"):
        assert getattr(client, method)("/api/users/me").status_code == 401
