"""Abuse resistance: bcrypt slots, body and JSON bounds, pagination caps, security headers,
CORS, trusted proxies, and no account enumeration beyond what API.md requires."""
import base64
import hashlib
import json
import multiprocessing
import os
import re

import bcrypt
import pytest

import config
from server import create_app
from server.platform.host_slots import HostSlots
from server.services import payments
from tests.test_rate_limits import allowed

LOGIN = "/api/auth/login"


def assert_envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)[:300]
    error = response.get_json()["error"]
    assert error["code"] == code and error["message"]
    return error


# ------------------------------------------------------------------ bcrypt work


@pytest.fixture
def slots_taken(app):
    """Every bcrypt slot of the host busy, as during a flood of logins."""
    slots = app.extensions["bcrypt_slots"]
    taken = []
    while (slot := slots.try_acquire()) is not None:
        taken.append(slot)
    assert len(taken) == app.config["BCRYPT_MAX_CONCURRENT"]
    yield
    for slot in taken:
        slots.release(slot)


def test_login_gets_429_at_once_when_every_bcrypt_slot_is_busy(client, slots_taken):
    response = client.post(LOGIN, json={"email": "busy@example.com", "password": "password123"})
    assert_envelope(response, 429, "rate_limited")
    assert response.headers["Retry-After"] == "1"


def test_register_gets_429_when_every_bcrypt_slot_is_busy(client, slots_taken):
    response = client.post("/api/auth/register", json={"name": "N", "email": "n@example.com",
                                                       "password": "password123"})
    assert_envelope(response, 429, "rate_limited")


def test_a_slot_is_given_back_after_each_hash(app, client, make_user):
    make_user(email="slot@example.com", password="password123")
    for password in ("password123", "wrong-password"):
        client.post(LOGIN, json={"email": "slot@example.com", "password": password})
    slots = app.extensions["bcrypt_slots"]
    got = [slots.try_acquire() for _ in range(app.config["BCRYPT_MAX_CONCURRENT"])]
    assert None not in got
    for slot in got:
        slots.release(slot)


def _hold_a_slot(directory: str, held, done) -> None:
    slots = HostSlots(directory, 1)
    slot = slots.try_acquire()
    held.set()
    done.wait(10)
    slots.release(slot)


def test_the_slots_are_shared_by_every_process_of_the_host(tmp_path):
    """A gunicorn worker's hash takes the slot from the other workers too (not per process)."""
    context = multiprocessing.get_context("fork")
    held, done = context.Event(), context.Event()
    worker = context.Process(target=_hold_a_slot, args=(str(tmp_path), held, done))
    worker.start()
    try:
        assert held.wait(10)
        assert HostSlots(str(tmp_path), 1).try_acquire() is None
    finally:
        done.set()
        worker.join(10)
    assert HostSlots(str(tmp_path), 1).try_acquire() is not None


def test_a_slot_comes_back_when_its_holder_dies(tmp_path):
    context = multiprocessing.get_context("fork")
    held, never = context.Event(), context.Event()
    worker = context.Process(target=_hold_a_slot, args=(str(tmp_path), held, never))
    worker.start()
    assert held.wait(10)
    worker.kill()
    worker.join(10)
    assert HostSlots(str(tmp_path), 1).try_acquire() is not None


@pytest.fixture
def hashes(monkeypatch):
    """Counts the bcrypt computations made."""
    counted = []
    real_hashpw, real_checkpw = bcrypt.hashpw, bcrypt.checkpw
    monkeypatch.setattr(bcrypt, "hashpw", lambda *a: counted.append("hashpw") or real_hashpw(*a))
    monkeypatch.setattr(bcrypt, "checkpw", lambda *a: counted.append("checkpw") or real_checkpw(*a))
    return counted


@pytest.mark.parametrize("case", ["unknown email", "wrong password", "deactivated"])
def test_every_failed_login_spends_one_hash_and_answers_the_same(client, make_user, hashes, case):
    make_user(email="known@example.com", password="password123")
    make_user(email="gone@example.com", password="password123", active=False)
    email, password = {"unknown email": ("nobody@example.com", "password123"),
                       "wrong password": ("known@example.com", "password999"),
                       "deactivated": ("gone@example.com", "password123")}[case]
    hashes.clear()
    response = client.post(LOGIN, json={"email": email, "password": password})
    assert response.get_json() == {"error": {"code": "invalid_credentials",
                                             "message": "The email or password is incorrect."}}
    assert len(hashes) == 1


def test_transfer_checks_the_ticket_before_the_email(client_for, make_user, make_event,
                                                    make_order):
    """Someone else's ticket tells nothing about whether an email has an account."""
    owner = make_user()
    ticket = make_order(make_event(), buyer=owner, paid=True).tickets[0]
    stranger = client_for(make_user())
    for email in ("nobody@example.com", owner.email):
        response = stranger.post(f"/api/tickets/{ticket.id}/transfer", json={"email": email})
        assert_envelope(response, 404, "not_found")


# ------------------------------------------------------------------ bodies


def test_a_body_over_max_content_length_is_413_in_the_envelope(app, client):
    body = b'{"email": "' + b"a" * app.config["MAX_CONTENT_LENGTH"] + b'"}'
    response = client.post(LOGIN, data=body, headers={"Content-Type": "application/json"})
    assert_envelope(response, 413, "payload_too_large")


def nested(depth: int) -> str:
    return '{"email": ' + "[" * (depth - 1) + "1" + "]" * (depth - 1) + "}"


def post_raw(client, url, body: str):
    return client.post(url, data=body, headers={"Content-Type": "application/json"})


def test_json_nested_deeper_than_the_bound_is_400(app, client):
    depth = app.config["JSON_MAX_DEPTH"]
    error = assert_envelope(post_raw(client, LOGIN, nested(depth + 1)), 400, "bad_request")
    assert str(depth) in error["message"]
    # At the bound the body reaches the schema, which refuses the field as usual.
    assert_envelope(post_raw(client, LOGIN, nested(depth)), 422, "validation_error")


def test_absurdly_deep_json_is_400_not_500(client):
    assert_envelope(post_raw(client, LOGIN, "[" * 200_000 + "]" * 200_000), 400, "bad_request")


def test_an_array_longer_than_the_bound_is_422(app, client):
    n = app.config["JSON_MAX_ARRAY_ITEMS"]
    body = json.dumps({"email": "a@b.co", "password": "x" * 8, "junk": [0] * (n + 1)})
    error = assert_envelope(post_raw(client, LOGIN, body), 422, "validation_error")
    assert str(n) in error["fields"]["_schema"][0]
    body = json.dumps({"email": "a@b.co", "password": "x" * 8, "junk": [0] * n})
    assert "junk" in assert_envelope(post_raw(client, LOGIN, body), 422,
                                     "validation_error")["fields"]


def test_brackets_and_commas_inside_strings_are_not_structure(client):
    body = json.dumps({"email": "a@b.co", "password": "[{," * 300})
    assert_envelope(post_raw(client, LOGIN, body), 401, "invalid_credentials")


def test_malformed_json_with_many_brackets_is_still_400_bad_request(client):
    assert_envelope(post_raw(client, LOGIN, "{" * 100), 400, "bad_request")


# ------------------------------------------------------------------ pagination


def test_every_list_caps_per_page_at_100(app, admin_client):
    spec = admin_client.get("/api/openapi.json").get_json()
    lists = []
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if not isinstance(operation, dict):
                continue
            params = {p["name"]: p for p in operation.get("parameters", [])
                      if isinstance(p, dict) and p.get("in") == "query"}
            if "per_page" in params:
                assert params["per_page"]["schema"]["maximum"] == 100, path
                lists.append((method, re.sub(r"\{[^}]+\}", "1", path)))
    assert len(lists) >= 8
    for method, path in lists:
        response = admin_client.request(method.upper(), f"{path}?per_page=101")
        assert response.status_code == 422, (path, response.status_code)
        assert "per_page" in response.get_json()["error"]["fields"], path


# ------------------------------------------------------------------ headers


def test_security_headers_on_api_answers_and_errors(client):
    for response in (client.get("/api/health"), client.get("/api/no-such-route"),
                     client.post(LOGIN, json={})):
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert "Strict-Transport-Security" not in headers  # not configured outside production


def csp(response) -> dict:
    policy = {}
    for directive in response.headers["Content-Security-Policy"].split(";"):
        name, *sources = directive.split()
        policy[name] = sources
    return policy


def test_the_client_pages_policy_allows_only_its_own_scripts_and_qr_images(app, client):
    policy = csp(client.get("/"))
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert {"blob:", "data:"} <= set(policy["img-src"])
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]


def test_the_built_client_needs_nothing_beyond_the_policy(app):
    """Every script and stylesheet of the built client is a file of this origin."""
    index = os.path.join(app.config["CLIENT_DIST"], "index.html")
    if not os.path.isfile(index):
        pytest.skip("client not built (make client)")
    page = open(index, encoding="utf-8").read()
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page), "inline script in index.html"
    assert "style=" not in page and "<style" not in page
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith("/") and not url.startswith("//"), url


def test_the_docs_page_policy_allows_its_one_inline_script_by_hash(client):
    response = client.get("/api/docs")
    assert response.status_code == 200
    scripts = re.findall(r"<script>(.*?)</script>", response.get_data(as_text=True), re.S)
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in csp(response)["script-src"]
    assert "'unsafe-inline'" not in csp(response)["script-src"]


def test_production_sends_hsts_by_default():
    assert config.ProductionConfig().HSTS_SECONDS == 31536000
    assert config.DevelopmentConfig().HSTS_SECONDS == 0


# ------------------------------------------------------------------ proxies and CORS


@pytest.fixture(scope="module")
def proxied_app(app):
    """The app behind one trusted proxy, with HSTS, a CORS origin and M-Pesa's addresses."""
    settings = config.TestingConfig()
    settings.TRUSTED_PROXY_HOPS = 1
    settings.HSTS_SECONDS = 600
    settings.CORS_ORIGINS = ["https://tickets.example"]
    settings.MPESA_ALLOWED_IPS = ["196.201.214.0/24"]
    return create_app(settings)


def post_as(app, url, *, forwarded_for=None, remote="127.0.0.1", **kwargs):
    headers = kwargs.pop("headers", {})
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    with app.app_context():
        return app.test_client().post(url, headers=headers,
                                      environ_base={"REMOTE_ADDR": remote}, **kwargs)


def test_behind_a_trusted_proxy_limits_count_the_forwarded_client(app, proxied_app):
    n = allowed(proxied_app, "RATELIMIT_LOGIN_IP")
    body = {"email": "x@example.com", "password": "password123"}
    for i in range(n):
        # The spoofed leftmost entry is ignored: one hop trusts the proxy's own entry only.
        forwarded = f"198.51.100.{i}, 203.0.113.7"
        body["email"] = f"x{i}@example.com"
        assert post_as(proxied_app, LOGIN, forwarded_for=forwarded, json=body).status_code == 401
    assert post_as(proxied_app, LOGIN, forwarded_for="203.0.113.7", json=body).status_code == 429
    assert post_as(proxied_app, LOGIN, forwarded_for="203.0.113.8", json=body).status_code == 401


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored(app):
    n = allowed(app, "RATELIMIT_LOGIN_IP")
    for i in range(n):
        body = {"email": f"y{i}@example.com", "password": "password123"}
        post_as(app, LOGIN, forwarded_for=f"198.51.100.{i}", json=body)
    response = post_as(app, LOGIN, forwarded_for="198.51.100.250",
                       json={"email": "y@example.com", "password": "password123"})
    assert response.status_code == 429


def test_mpesa_allowed_ips_see_the_forwarded_address_only_behind_a_proxy(app, proxied_app,
                                                                         monkeypatch):
    seen = []
    monkeypatch.setattr(payments, "handle_callback",
                        lambda **kwargs: seen.append(kwargs["remote_addr"]))
    path = "/api/payments/mpesa/callback/some-token"
    post_as(proxied_app, path, forwarded_for="196.201.214.200", remote="10.0.0.5", json={})
    post_as(app, path, forwarded_for="196.201.214.200", remote="10.0.0.5", json={})
    assert seen == ["196.201.214.200", "10.0.0.5"]


def test_hsts_when_configured_and_https_seen_through_the_proxy(proxied_app):
    with proxied_app.app_context():
        response = proxied_app.test_client().get("/api/health",
                                                 headers={"X-Forwarded-Proto": "https"})
    assert response.headers["Strict-Transport-Security"] == "max-age=600"


def test_cors_answers_only_the_configured_origins(proxied_app):
    with proxied_app.app_context():
        client = proxied_app.test_client()
        allowed = client.options("/api/events", headers={
            "Origin": "https://tickets.example", "Access-Control-Request-Method": "GET"})
        refused = client.options("/api/events", headers={
            "Origin": "https://evil.example", "Access-Control-Request-Method": "GET"})
        plain = client.get("/api/events", headers={"Origin": "https://evil.example"})
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://tickets.example"
    assert "Access-Control-Allow-Origin" not in refused.headers
    assert "Access-Control-Allow-Origin" not in plain.headers


def test_no_session_cookie_is_ever_set_or_written(app, attendee_client):
    """Bearer tokens authenticate every request: no cookie session is opened or sent."""
    from flask import session

    response = attendee_client.get("/api/users/me")
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    with app.test_request_context("/"):
        with pytest.raises(RuntimeError):
            session["user"] = 1
