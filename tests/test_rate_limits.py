"""Rate limits: each limited route at its configured limit, keyed as documented, windows resetting."""
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
import time_machine
from limits import parse_many

from server.platform import ratelimits
from server.platform.errors import RateLimited
from server.extensions import limiter

LOGIN, REGISTER, PUSH, ORDERS, CHECKIN = ("/api/auth/login", "/api/auth/register",
                                          "/api/payments/mpesa/stk-push", "/api/orders",
                                          "/api/checkin")


def allowed(app, setting: str) -> int:
    """How many requests the smallest window of `setting` lets through."""
    return min(parse_many(app.config[setting]), key=lambda item: item.get_expiry()).amount


def ip(address: str) -> dict:
    return {"environ_base": {"REMOTE_ADDR": address}}


def assert_rate_limited(response, message_part: str = "") -> int:
    """The house envelope, a human message and Retry-After; returns Retry-After."""
    assert response.status_code == 429, response.get_json()
    error = response.get_json()["error"]
    assert error["code"] == "rate_limited"
    assert message_part in error["message"] and "try again in" in error["message"]
    assert "fields" not in error
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 3600
    return retry_after


@pytest.fixture
def later():
    """later(seconds): travel that far ahead (the fixed windows reset)."""
    with time_machine.travel(datetime.now(timezone.utc), tick=True) as traveller:
        yield lambda seconds: traveller.shift(timedelta(seconds=seconds))


def login(client, email, password="wrong-password", address="10.0.0.1"):
    return client.post(LOGIN, json={"email": email, "password": password}, **ip(address))


def test_limits_are_on_in_the_tests(app):
    assert app.config["RATELIMIT_ENABLED"] and limiter.enabled and limiter.initialized


# ------------------------------------------------------------------ login


def test_login_is_limited_per_ip(app, client, later):
    n = allowed(app, "RATELIMIT_LOGIN_IP")
    answers = [login(client, f"nobody{i}@example.com").status_code for i in range(n)]
    assert answers == [401] * n
    retry_after = assert_rate_limited(login(client, "nobody-else@example.com"), "login attempts")
    assert retry_after <= 60
    assert login(client, "someone@example.com", address="10.0.0.2").status_code == 401
    later(61)
    assert login(client, "nobody@example.com").status_code == 401


def test_login_is_limited_per_account_whatever_the_ip(app, client, make_user, later):
    victim = make_user(email="victim@example.com", password="right-password")
    n = allowed(app, "RATELIMIT_LOGIN_ACCOUNT")
    for i in range(n):
        assert login(client, "Victim@Example.com ", address=f"10.1.0.{i}").status_code == 401
    assert_rate_limited(login(client, victim.email, address="10.2.0.1"), "this account")
    # Even the right password waits for the window: guessing has to stop, not just fail.
    assert_rate_limited(login(client, victim.email, "right-password", address="10.2.0.2"))
    assert login(client, "other@example.com", address="10.1.0.1").status_code == 401
    later(61)
    assert login(client, victim.email, "right-password", address="10.2.0.3").status_code == 200


def test_a_login_without_email_is_counted_per_ip_only(app, client):
    for _ in range(allowed(app, "RATELIMIT_LOGIN_ACCOUNT") + 1):
        assert client.post(LOGIN, json={"password": "x"}, **ip("10.3.0.1")).status_code == 422


# ------------------------------------------------------------------ register


def register(client, email, address="10.0.0.1"):
    return client.post(REGISTER, json={"name": "New", "email": email, "password": "password123"},
                       **ip(address))


def test_register_is_limited_per_ip(app, client, later):
    n = allowed(app, "RATELIMIT_REGISTER_IP")
    assert [register(client, f"new{i}@example.com").status_code for i in range(n)] == [201] * n
    assert_rate_limited(register(client, "one-more@example.com"), "registrations")
    assert register(client, "elsewhere@example.com", address="10.0.0.9").status_code == 201
    later(61)
    assert register(client, "next-minute@example.com").status_code == 201


def test_register_is_limited_per_email(app, client, make_user):
    make_user(email="taken@example.com")
    n = allowed(app, "RATELIMIT_REGISTER_ACCOUNT")
    # Probing one address for `email_taken` from many IPs stops after a few answers.
    for i in range(n):
        assert register(client, "taken@example.com", address=f"10.4.0.{i}").status_code == 409
    assert_rate_limited(register(client, "TAKEN@example.com", address="10.4.1.1"))
    assert register(client, "free@example.com", address="10.4.1.1").status_code == 201


# ------------------------------------------------------------------ STK push


@pytest.fixture
def new_order(make_event, client_for):
    event = make_event(tiers=[{"name": "Regular", "price": Decimal("100.00"), "quantity": 50}])

    def factory(user):
        response = client_for(user).post(ORDERS, json={
            "event_id": event.id, "items": [{"ticket_type_id": event.ticket_types[0].id,
                                             "quantity": 1}], "payment_method": "mpesa"})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["id"]

    return factory


def push(client, order_id, phone, **kwargs):
    return client.post(PUSH, json={"order_id": order_id, "phone": phone}, **kwargs)


def test_one_prompt_per_phone_per_minute(app, mpesa, make_user, client_for, new_order, later):
    assert allowed(app, "RATELIMIT_STK_PUSH_PHONE") == 1
    alice, bob = make_user(), make_user()
    assert push(client_for(alice), new_order(alice), "0712345678").status_code == 202
    # The same phone written another way, by another buyer: still that phone.
    assert_rate_limited(push(client_for(bob), new_order(bob), "+254 712 345 678"), "phone")
    assert push(client_for(bob), new_order(bob), "0722000111").status_code == 202
    later(61)
    assert push(client_for(bob), new_order(bob), "254712345678").status_code == 202


def test_a_push_daraja_refused_does_not_use_the_phones_minute(mpesa, attendee, client_for,
                                                               new_order):
    client, order_id = client_for(attendee), new_order(attendee)
    # 0700000008: the simulator refuses the push ("already in process"): nobody was prompted.
    refused = push(client, order_id, "0700000008")
    assert refused.status_code == 502
    assert refused.get_json()["error"]["details"]["payment_status"] == "failed"
    assert push(client, order_id, "0700000008").status_code == 502
    assert push(client, new_order(attendee), "0712345678").status_code == 202
    assert_rate_limited(push(client, new_order(attendee), "0712345678"), "phone")


def test_simultaneous_prompts_to_one_phone_pass_once(app):
    """The phone's count is one atomic increment: pushes at the same instant cannot all pass."""
    results, start = [], threading.Barrier(20)

    def prompt():
        with app.app_context():
            start.wait()
            try:
                ratelimits.take_phone_prompt("254712345678")
                results.append("prompted")
            except RateLimited:
                results.append("429")

    threads = [threading.Thread(target=prompt) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert sorted(results) == ["429"] * 19 + ["prompted"]


def test_a_second_push_for_a_prompting_order_is_409_not_429(mpesa, attendee, client_for,
                                                            new_order):
    client, order_id = client_for(attendee), new_order(attendee)
    first = push(client, order_id, "0712345678")
    second = push(client, order_id, "0712345678")
    assert (first.status_code, second.status_code) == (202, 409)
    assert second.get_json()["error"]["code"] == "payment_in_progress"


def test_a_replayed_push_is_not_a_new_prompt(mpesa, attendee, client_for, new_order):
    client, order_id = client_for(attendee), new_order(attendee)
    key = {"headers": {"Idempotency-Key": "push-once"}}
    first = push(client, order_id, "0712345678", **key)
    again = push(client, order_id, "0712345678", **key)
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.get_json()["payment_id"] == first.get_json()["payment_id"]


def test_stk_push_is_limited_per_user(app, mpesa, make_user, client_for, new_order):
    greedy, other = make_user(), make_user()
    n = allowed(app, "RATELIMIT_STK_PUSH_USER")
    orders = [new_order(greedy) for _ in range(n + 1)]
    for i, order_id in enumerate(orders[:n]):
        assert push(client_for(greedy), order_id, f"07120000{i:02d}").status_code == 202
    assert_rate_limited(push(client_for(greedy), orders[n], "0712999999"), "payment prompts")
    assert push(client_for(other), new_order(other), "0712888888").status_code == 202


# ------------------------------------------------------------------ orders


def test_order_creation_is_limited_per_user(app, make_user, client_for, new_order, later):
    buyer, other = make_user(), make_user()
    for _ in range(allowed(app, "RATELIMIT_ORDER_USER")):
        new_order(buyer)
    event_orders = client_for(buyer).get(ORDERS).get_json()["items"]
    body = {"event_id": event_orders[0]["event"]["id"],
            "items": [{"ticket_type_id": event_orders[0]["items"][0]["ticket_type_id"],
                       "quantity": 1}]}
    assert_rate_limited(client_for(buyer).post(ORDERS, json=body), "orders")
    assert client_for(other).post(ORDERS, json=body).status_code == 201
    later(61)
    assert client_for(buyer).post(ORDERS, json=body).status_code == 201


# ------------------------------------------------------------------ check-in


@pytest.fixture
def frozen():
    """Time standing still one second ahead (tokens made now stay valid), then moved by hand."""
    start = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    with time_machine.travel(start, tick=False) as traveller:
        yield traveller


def scan(client, device=None, code="not-a-ticket-code"):
    body = {"code": code} if device is None else {"code": code, "device_id": device}
    return client.post(CHECKIN, json=body).status_code


def test_check_in_is_limited_per_device(app, make_user, client_for, frozen):
    gate, other_gate = client_for(make_user("organizer")), client_for(make_user("organizer"))
    n = allowed(app, "RATELIMIT_CHECKIN_DEVICE")
    assert [scan(gate, "gate-1") for _ in range(n)] == [404] * n
    response = gate.post(CHECKIN, json={"code": "x", "device_id": "gate-1"})
    assert assert_rate_limited(response, "this device") == 1
    assert scan(gate, "gate-2") == 404                # another device of the same account
    assert scan(other_gate, "gate-1") == 404          # another account's device of that name
    frozen.shift(timedelta(seconds=1))
    assert scan(gate, "gate-1") == 404


def test_check_in_without_device_is_limited_per_user(app, make_user, client_for, frozen):
    gate = client_for(make_user("organizer"))
    n = allowed(app, "RATELIMIT_CHECKIN_DEVICE")
    assert [scan(gate) for _ in range(n)] == [404] * n
    assert_rate_limited(gate.post(CHECKIN, json={"code": "x"}))
    assert scan(gate, "gate-1") == 404


def test_a_limited_scan_still_admits_nothing_twice(app, make_user, client_for, make_event,
                                                   make_order, frozen):
    """A valid code scanned past the limit is refused before it reaches the database."""
    from server.codes.signing import code_for

    organizer = make_user("organizer")
    ticket = make_order(make_event(organizer), paid=True).tickets[0]
    gate = client_for(organizer)
    for _ in range(allowed(app, "RATELIMIT_CHECKIN_DEVICE")):
        scan(gate, "gate-1")
    assert scan(gate, "gate-1", code_for(ticket)) == 429
    assert scan(gate, "gate-2", code_for(ticket)) == 200


# ------------------------------------------------------------------ transfer


def test_transfers_are_limited_per_user(app, attendee_client, later):
    n = allowed(app, "RATELIMIT_TRANSFER_USER")
    for _ in range(n):
        response = attendee_client.post("/api/tickets/999999/transfer", json={"email": "a@b.co"})
        assert response.status_code == 404
    assert_rate_limited(attendee_client.post("/api/tickets/999999/transfer",
                                             json={"email": "a@b.co"}), "transfers")


# ------------------------------------------------------------------ storage


def test_limits_are_counted_in_redis_when_configured(app, client):
    """REDIS_URL shares the counters between processes (Redis db 11; skipped without Redis)."""
    redis = pytest.importorskip("redis")
    url = "redis://127.0.0.1:6379/11"
    try:
        server = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        server.ping()
    except redis.RedisError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    server.flushdb()
    original = app.config["RATELIMIT_STORAGE_URI"]
    app.config["RATELIMIT_STORAGE_URI"] = url
    try:
        limiter.init_app(app)
        assert type(limiter.storage).__name__ == "RedisStorage"
        n = allowed(app, "RATELIMIT_LOGIN_IP")
        for i in range(n):
            assert login(client, f"r{i}@example.com", address="10.9.0.1").status_code == 401
        assert_rate_limited(login(client, "r@example.com", address="10.9.0.1"))
        assert any(b"ticksy" in key for key in server.keys("*"))
    finally:
        server.flushdb()
        app.config["RATELIMIT_STORAGE_URI"] = original
        limiter.init_app(app)
    assert type(limiter.storage).__name__ == "MemoryStorage"


def test_redis_storage_selected_by_redis_url(monkeypatch):
    import config

    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    monkeypatch.delenv("RATELIMIT_STORAGE_URI", raising=False)
    assert config.DevelopmentConfig().RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/0"
    monkeypatch.delenv("REDIS_URL")
    assert config.DevelopmentConfig().RATELIMIT_STORAGE_URI == "memory://"


def test_limits_cannot_be_turned_off_in_production(monkeypatch):
    import config

    monkeypatch.setenv("RATELIMIT_ENABLED", "0")
    assert config.DevelopmentConfig().RATELIMIT_ENABLED is False
    settings = config.ProductionConfig()
    settings.SECRET_KEY, settings.JWT_SECRET_KEY = "s" * 40, "j" * 40
    settings.SQLALCHEMY_DATABASE_URI = "postgresql://x/y"
    with pytest.raises(RuntimeError, match="RATELIMIT_ENABLED"):
        settings.validate()


def test_a_malformed_limit_setting_refuses_to_start(monkeypatch):
    import config
    from server import create_app

    monkeypatch.setenv("RATELIMIT_LOGIN_IP", "lots")
    settings = config.TestingConfig()
    settings.RATELIMIT_LOGIN_IP = "lots"
    with pytest.raises(RuntimeError, match="RATELIMIT_LOGIN_IP"):
        create_app(settings)


def test_a_default_limit_when_set_still_covers_every_route(app):
    """Unset, flask-limiter's before-request hook is left out (nothing for it to check); a
    deployment that sets a default limit gets the hook, and every route is counted."""
    import config
    from server import create_app

    settings = config.TestingConfig()
    settings.SQLALCHEMY_DATABASE_URI = app.config["SQLALCHEMY_DATABASE_URI"]
    settings.RATELIMIT_DEFAULT = "2/minute"
    try:
        limited = create_app(settings)
        client = limited.test_client()
        address = ip("10.9.9.9")
        assert [client.get("/api/events", **address).status_code for _ in range(2)] == [200, 200]
        assert_rate_limited(client.get("/api/events", **address))
        assert app.test_client().get("/api/events", **address).status_code == 200
    finally:
        limiter.limit_manager.set_default_limits([])  # the extension object is shared by apps
