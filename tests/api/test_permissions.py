"""The permission matrix: every route × {anonymous, attendee, owner, other organizer, admin}."""
import itertools
import re
from datetime import timedelta

import pytest
from sqlalchemy import insert

from server.extensions import db
from server.codes.signing import code_for
from server.models import event_staff
from server.services.catalog import reviews
from tests.world import flagged_payment, manual_refund, pending_payment, went_to

ROLES = ("anonymous", "attendee", "owner", "other_organizer", "admin")
_emails = itertools.count(1)


def expect(anonymous, attendee, owner, other_organizer, admin):
    return dict(zip(ROLES, (anonymous, attendee, owner, other_organizer, admin)))


EVERYONE = expect(200, 200, 200, 200, 200)
SIGNED_IN = expect(401, 200, 200, 200, 200)
ADMIN_ONLY = expect(401, 403, 403, 403, 200)
MANAGERS = expect(401, 403, 200, 403, 200)


def _register_body(world):
    return {"name": "New", "email": f"new{next(_emails)}@example.com", "password": "password123"}


def _order_body(world):
    return {"event_id": world["ids"]["sales_event"],
            "items": [{"ticket_type_id": world["ids"]["sales_tier"], "quantity": 1}]}


def _complimentary_body(world):
    return {"ticket_type_id": world["ids"]["ticket_type"], "email": "attendee@example.com"}


def _transfer_body(world):
    return {"email": world["target_email"]}


def _pay_body(order, **extra):
    return lambda world: {"order_id": world["ids"][order], **extra}


def _callback_body(world):
    return {"Body": {"stkCallback": {"CheckoutRequestID": "ws_CO_1", "ResultCode": 0}}}


ORDER_READERS = expect(401, 200, 200, 404, 200)
PAYERS_ONLY = expect(401, 201, 404, 404, 404)
PAYMENT_READERS = expect(401, 200, 404, 404, 200)
TICKET_HOLDER_ONLY = expect(401, 200, 403, 404, 403)


# (method, path template, body or body factory, expected status per role)
MATRIX = [
    ("GET", "/api/health", None, EVERYONE),
    ("POST", "/api/auth/register", _register_body, expect(201, 201, 201, 201, 201)),
    ("POST", "/api/auth/login", {"email": "attendee@example.com", "password": "password123"},
     EVERYONE),
    ("POST", "/api/auth/refresh", None, expect(401, 401, 401, 401, 401)),
    ("POST", "/api/auth/logout", None, expect(401, 204, 204, 204, 204)),
    ("GET", "/api/auth/me", None, SIGNED_IN),
    ("GET", "/api/users/me", None, SIGNED_IN),
    ("PATCH", "/api/users/me", {"name": "Renamed"}, SIGNED_IN),
    ("DELETE", "/api/users/me", None, expect(401, 204, 204, 204, 204)),
    ("GET", "/api/events", None, EVERYONE),
    ("POST", "/api/events", lambda w: w["event_body"], expect(401, 403, 201, 201, 201)),
    ("GET", "/api/events/{event}", None, EVERYONE),
    ("GET", "/api/events/{draft}", None, expect(404, 404, 200, 404, 200)),
    ("PATCH", "/api/events/{event}", {"title": "Changed"}, MANAGERS),
    ("PATCH", "/api/events/{draft}", {"title": "Changed"}, expect(401, 404, 200, 404, 200)),
    ("DELETE", "/api/events/{event}", None, expect(401, 403, 204, 403, 204)),
    ("DELETE", "/api/events/{draft}", None, expect(401, 404, 204, 404, 204)),
    ("GET", "/api/events/{event}/ticket-types", None, EVERYONE),
    ("GET", "/api/events/{draft}/ticket-types", None, expect(404, 404, 200, 404, 200)),
    ("POST", "/api/events/{event}/ticket-types", {"name": "VIP", "price": "10", "quantity": 5},
     expect(401, 403, 201, 403, 201)),
    ("PATCH", "/api/ticket-types/{ticket_type}", {"price": "99"}, MANAGERS),
    ("DELETE", "/api/ticket-types/{ticket_type}", None, expect(401, 403, 204, 403, 204)),
    ("GET", "/api/events/{past_event}/reviews", None, EVERYONE),
    ("GET", "/api/events/{draft}/reviews", None, expect(404, 404, 200, 404, 200)),
    ("POST", "/api/events/{past_event}/reviews", {"rating": 4},
     expect(401, 409, 403, 201, 201)),
    ("PATCH", "/api/reviews/{review}", {"rating": 2}, expect(401, 200, 403, 403, 403)),
    ("DELETE", "/api/reviews/{review}", None, expect(401, 204, 403, 403, 204)),
    ("GET", "/api/admin/users", None, ADMIN_ONLY),
    ("GET", "/api/admin/users/{target}", None, ADMIN_ONLY),
    ("PATCH", "/api/admin/users/{target}", {"name": "Edited"}, ADMIN_ONLY),
    ("DELETE", "/api/admin/users/{target}", None, expect(401, 403, 403, 403, 204)),
    ("PUT", "/api/admin/users/{target}/roles", {"roles": ["organizer"]}, ADMIN_ONLY),
    ("GET", "/api/admin/events", None, ADMIN_ONLY),
    ("GET", "/api/admin/orders", None, ADMIN_ONLY),
    ("GET", "/api/admin/stats", None, ADMIN_ONLY),
    ("POST", "/api/orders", _order_body, expect(401, 201, 201, 201, 201)),
    ("GET", "/api/orders", None, SIGNED_IN),
    ("GET", "/api/orders/{pending_order}", None, ORDER_READERS),
    ("GET", "/api/orders/{paid_order}", None, ORDER_READERS),
    ("POST", "/api/orders/{pending_order}/cancel", None, ORDER_READERS),
    ("POST", "/api/orders/{paid_order}/cancel", None, expect(401, 409, 409, 404, 409)),
    ("POST", "/api/orders/{paid_order}/refund", None, expect(401, 403, 200, 404, 200)),
    ("POST", "/api/orders/{pending_order}/refund", None, expect(401, 403, 409, 404, 409)),
    ("GET", "/api/tickets", None, SIGNED_IN),
    ("GET", "/api/tickets/{ticket}", None, ORDER_READERS),
    ("PATCH", "/api/tickets/{ticket}", {"holder_name": "Wanjiru"}, TICKET_HOLDER_ONLY),
    ("DELETE", "/api/tickets/{ticket}", None, expect(401, 403, 200, 404, 200)),
    ("POST", "/api/tickets/{ticket}/transfer", _transfer_body, TICKET_HOLDER_ONLY),
    ("POST", "/api/events/{event}/tickets", _complimentary_body, expect(401, 403, 201, 403, 201)),
    ("GET", "/api/events/{sales_event}/orders", None, MANAGERS),
    ("GET", "/api/events/{draft}/orders", None, expect(401, 404, 200, 404, 200)),
    ("GET", "/api/events/{sales_event}/attendees", None, MANAGERS),
    ("GET", "/api/events/{sales_event}/attendees?format=csv", None, MANAGERS),
    ("GET", "/api/events/{draft}/attendees", None, expect(401, 404, 200, 404, 200)),
    ("GET", "/api/events/{sales_event}/stats", None, MANAGERS),
    ("GET", "/api/events/{draft}/stats", None, expect(401, 404, 200, 404, 200)),
    ("GET", "/api/dashboard", None, expect(401, 403, 200, 200, 200)),
    ("POST", "/api/payments/mpesa/stk-push", _pay_body("push_order", phone="0712345678"),
     expect(401, 202, 404, 404, 404)),
    ("POST", "/api/payments/mpesa/callback/{bad_token}", _callback_body,
     expect(404, 404, 404, 404, 404)),
    ("POST", "/api/payments/stripe/checkout", _pay_body("card_order"), PAYERS_ONLY),
    ("POST", "/api/payments/stripe/webhook", {"id": "evt_unsigned"}, expect(400, 400, 400, 400, 400)),
    ("GET", "/api/payments/{payment}", None, PAYMENT_READERS),
    ("POST", "/api/payments/{payment}/refresh", None, PAYMENT_READERS),
    ("GET", "/api/admin/payments", None, ADMIN_ONLY),
    ("POST", "/api/admin/payments/{flagged_payment}/refund", None, ADMIN_ONLY),
    ("GET", "/api/admin/refunds", None, ADMIN_ONLY),
    ("POST", "/api/admin/refunds/{manual_refund}/complete", {"reference": "R1"}, ADMIN_ONLY),
    ("GET", "/api/admin/audit-log", None, ADMIN_ONLY),
    ("GET", "/api/admin/audit-log?action=user.roles_changed&target_type=user", None, ADMIN_ONLY),
    ("GET", "/api/tickets/{ticket}/qr", None, TICKET_HOLDER_ONLY),
    ("POST", "/api/checkin", lambda w: {"code": w["code"]}, expect(401, 403, 200, 403, 200)),
    ("POST", "/api/checkin/sync", lambda w: [{"code": w["code"], "device_id": "d1",
                                              "scanned_at": "2026-01-01T10:00:00Z"}], SIGNED_IN),
    ("GET", "/api/checkin/public-key", None, EVERYONE),
    ("GET", "/api/checkin/events", None, SIGNED_IN),
    ("GET", "/api/events/{sales_event}/checkin-list", None, MANAGERS),
    ("GET", "/api/events/{draft}/checkin-list", None, expect(401, 404, 200, 404, 200)),
    ("GET", "/api/events/{sales_event}/checkin-stats", None, MANAGERS),
    ("GET", "/api/events/{draft}/checkin-stats", None, expect(401, 404, 200, 404, 200)),
    ("GET", "/api/events/{sales_event}/staff", None, MANAGERS),
    ("PUT", "/api/events/{sales_event}/staff", {"emails": ["attendee@example.com"]}, MANAGERS),
    ("GET", "/api/openapi.json", None, EVERYONE),
    ("GET", "/api/docs", None, EVERYONE),
]


def _payments(order, other_order) -> dict:
    """A pending M-Pesa attempt; a confirmed one flagged for refund with its manual refund."""
    return {"payment": pending_payment(order).id,
            "flagged_payment": flagged_payment(other_order).id,
            "manual_refund": manual_refund(other_order).id, "bad_token": "0" * 40}


@pytest.fixture
def world(make_user, make_event, make_order, mpesa, stripe_fake):
    """Users of every role; the owner's events; the attendee's review, orders and ticket."""
    users = {
        "attendee": make_user(email="attendee@example.com"),
        "owner": make_user("organizer"),
        "other_organizer": make_user("organizer"),
        "admin": make_user("admin"),
    }
    owner, attendee = users["owner"], users["attendee"]
    event, sales_event = make_event(owner), make_event(owner)
    past_event = went_to(make_event(owner), [attendee, users["other_organizer"], users["admin"]],
                         make_order)
    review = reviews.create_review(event_id=past_event.id, user=attendee,
                                   data={"rating": 5, "comment": "Great"})
    paid_order = make_order(sales_event, buyer=attendee, paid=True)
    target = make_user()
    ids = {"event": event.id, "draft": make_event(owner, status="draft").id,
           "past_event": past_event.id, "ticket_type": event.ticket_types[0].id,
           "review": review.id, "target": target.id, "sales_event": sales_event.id,
           "sales_tier": sales_event.ticket_types[0].id,
           "pending_order": make_order(sales_event, buyer=attendee).id,
           "paid_order": paid_order.id, "ticket": paid_order.tickets[0].id,
           "push_order": make_order(sales_event, buyer=attendee).id,
           "card_order": make_order(sales_event, buyer=attendee).id}
    ids.update(_payments(make_order(sales_event, buyer=attendee), paid_order))
    starts = (event.starts_at + timedelta(days=1)).isoformat()
    ends = (event.starts_at + timedelta(days=1, hours=3)).isoformat()
    event_body = {"title": "New", "venue": "Here", "starts_at": starts, "ends_at": ends}
    return {"users": users, "ids": ids, "event_body": event_body, "target_email": target.email,
            "code": code_for(paid_order.tickets[0])}


CASES = [(method, path, body, role, expected[role])
         for method, path, body, expected in MATRIX for role in ROLES]


@pytest.mark.parametrize("method, path, body, role, status", CASES,
                         ids=[f"{m} {p} as {r}" for m, p, _, r, _ in CASES])
def test_permission_matrix(client, client_for, world, method, path, body, role, status):
    caller = client if role == "anonymous" else client_for(world["users"][role])
    json = body(world) if callable(body) else body
    resp = caller.request(method, path.format(**world["ids"]), json=json)
    assert resp.status_code == status, resp.get_data(as_text=True)
    if status >= 400:
        assert resp.get_json()["error"]["code"]


def test_matrix_covers_every_route(app):
    """A new route must be added to the matrix above."""
    templates = {(m, p) for m, p, _, _ in MATRIX}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api") or rule.rule.startswith("/api/docs/assets"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if not any(m == method and _same_shape(t, path) for m, t in templates):
                missing.append(f"{method} {path}")
    assert missing == []


def _same_shape(template: str, path: str) -> bool:
    a, b = template.split("?")[0].split("/"), path.split("/")
    return len(a) == len(b) and all(x == y or (x.startswith("{") and y.startswith("{"))
                                    for x, y in zip(a, b))


def test_authentication_is_checked_before_the_body(client, attendee_client):
    """An anonymous caller learns nothing about validation rules: 401 comes first."""
    assert client.post("/api/events", json={"bogus": 1}).status_code == 401
    assert attendee_client.post("/api/events", json={"bogus": 1}).status_code == 403
    assert client.patch("/api/users/me", json={"bogus": 1}).status_code == 401


def test_event_staff_read_tickets_but_not_orders(client_for, world, make_user):
    """Gate staff see the event's tickets (to check them in), not its orders."""
    staff = make_user()
    db.session.execute(insert(event_staff).values(event_id=world["ids"]["sales_event"],
                                                  user_id=staff.id))
    db.session.commit()
    caller = client_for(staff)
    assert caller.get(f"/api/tickets/{world['ids']['ticket']}").status_code == 200
    assert caller.patch(f"/api/tickets/{world['ids']['ticket']}",
                        json={"holder_name": "X"}).status_code == 403
    assert caller.get(f"/api/orders/{world['ids']['paid_order']}").status_code == 404
    assert caller.get(f"/api/events/{world['ids']['sales_event']}/attendees").status_code == 403
