"""Admin API: users, roles, every event and order, platform figures; admins only."""
from datetime import timedelta
from decimal import Decimal

import pytest

from server.extensions import db
from server.models import TicketStatus, User, utcnow
from server.services.orders import complimentary, lifecycle as order_lifecycle, refunding

ROUTES = [
    ("GET", "/api/admin/users", None),
    ("GET", "/api/admin/users/{id}", None),
    ("PATCH", "/api/admin/users/{id}", {"name": "Renamed"}),
    ("DELETE", "/api/admin/users/{id}", None),
    ("PUT", "/api/admin/users/{id}/roles", {"roles": ["admin"]}),
    ("GET", "/api/admin/events", None),
    ("GET", "/api/admin/orders", None),
    ("GET", "/api/admin/stats", None),
]


def stored(user_id):
    db.session.expire_all()
    return db.session.get(User, user_id)


def error_code(resp):
    return resp.get_json()["error"]["code"]


def event_body():
    return {"title": "Launch", "venue": "KICC", "starts_at": "2099-06-01T18:00:00Z",
            "ends_at": "2099-06-01T22:00:00Z"}


# permissions


@pytest.mark.parametrize("method, path, body", ROUTES)
def test_anonymous_is_401(client, attendee, method, path, body):
    resp = client.request(method, path.format(id=attendee.id), json=body)
    assert resp.status_code == 401
    assert error_code(resp) == "unauthorized"


@pytest.mark.parametrize("role", [(), ("organizer",)])
@pytest.mark.parametrize("method, path, body", ROUTES)
def test_non_admin_is_403(client_for, make_user, attendee, role, method, path, body):
    resp = client_for(make_user(*role)).request(method, path.format(id=attendee.id), json=body)
    assert resp.status_code == 403
    assert error_code(resp) == "forbidden"
    assert stored(attendee.id).is_active and stored(attendee.id).role_names == ["attendee"]


# users


def test_list_users_newest_first(admin_client, make_user):
    first, second = make_user(), make_user()
    body = admin_client.get("/api/admin/users?per_page=2").get_json()
    assert [u["id"] for u in body["items"]] == [second.id, first.id]
    assert body["per_page"] == 2 and body["total"] >= 3
    assert {"email", "roles", "is_active", "created_at"} <= set(body["items"][0])


def test_list_users_filters(admin_client, make_user):
    wanjiku = make_user(name="Wanjiku Kamau", email="wk@example.com")
    boss = make_user("organizer", name="Otieno", email="otieno@events.example.com")
    gone = make_user(name="Gone Person", email="gone@example.com", active=False)

    def ids(query):
        return {u["id"] for u in admin_client.get(f"/api/admin/users?{query}").get_json()["items"]}

    assert ids("q=kamau") == {wanjiku.id}
    assert ids("q=EVENTS.example") == {boss.id}
    assert ids("role=organizer") == {boss.id}
    assert gone.id in ids("is_active=false") and wanjiku.id not in ids("is_active=false")
    assert gone.id not in ids("is_active=true")


@pytest.mark.parametrize("query, field", [
    ("role=superuser", "role"), ("is_active=maybe", "is_active"), ("per_page=101", "per_page"),
    ("page=0", "page"),
])
def test_list_users_rejects_bad_query(admin_client, query, field):
    resp = admin_client.get(f"/api/admin/users?{query}")
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


def test_get_user(admin_client, attendee):
    resp = admin_client.get(f"/api/admin/users/{attendee.id}")
    assert resp.status_code == 200
    assert resp.get_json()["email"] == attendee.email


def test_unknown_user_is_404(admin_client):
    for method, path, body in ROUTES[1:5]:
        resp = admin_client.request(method, path.format(id=999999), json=body)
        assert resp.status_code == 404, (method, path)
        assert error_code(resp) == "not_found"


def test_update_user(admin_client, attendee):
    resp = admin_client.patch(f"/api/admin/users/{attendee.id}",
                              json={"name": " Akinyi ", "phone": "0712 345 678"})
    assert resp.status_code == 200
    assert resp.get_json()["name"] == "Akinyi"
    user = stored(attendee.id)
    assert (user.name, user.phone) == ("Akinyi", "254712345678")


def test_reactivate_user(admin_client, make_user):
    user = make_user(active=False)
    resp = admin_client.patch(f"/api/admin/users/{user.id}", json={"is_active": True})
    assert resp.status_code == 200 and resp.get_json()["is_active"] is True
    assert stored(user.id).is_active


@pytest.mark.parametrize("body, field", [
    ({"phone": "12345"}, "phone"),
    ({"name": ""}, "name"),
    ({"is_active": "sometimes"}, "is_active"),
    ({"email": "new@example.com"}, "email"),
    ({"roles": ["admin"]}, "roles"),
])
def test_invalid_user_update_is_422(admin_client, attendee, body, field):
    resp = admin_client.patch(f"/api/admin/users/{attendee.id}", json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert stored(attendee.id).role_names == ["attendee"]


def test_admin_cannot_deactivate_self(admin_client, admin):
    resp = admin_client.patch(f"/api/admin/users/{admin.id}", json={"is_active": False})
    assert resp.status_code == 409 and error_code(resp) == "cannot_deactivate_self"
    resp = admin_client.delete(f"/api/admin/users/{admin.id}")
    assert resp.status_code == 409 and error_code(resp) == "cannot_deactivate_self"
    assert stored(admin.id).is_active


def test_deactivation_stops_existing_token_at_once(admin_client, attendee_client, attendee):
    assert attendee_client.get("/api/auth/me").status_code == 200
    assert admin_client.delete(f"/api/admin/users/{attendee.id}").status_code == 204
    assert stored(attendee.id).is_active is False
    resp = attendee_client.get("/api/auth/me")
    assert resp.status_code == 401 and error_code(resp) == "unauthorized"


def test_deactivation_by_patch_stops_token(admin_client, attendee_client, attendee):
    admin_client.patch(f"/api/admin/users/{attendee.id}", json={"is_active": False})
    assert attendee_client.get("/api/users/me").status_code == 401


# roles


def test_granting_organizer_works_with_the_old_token(admin_client, attendee_client, attendee):
    assert attendee_client.post("/api/events", json=event_body()).status_code == 403
    resp = admin_client.put(f"/api/admin/users/{attendee.id}/roles", json={"roles": ["organizer"]})
    assert resp.status_code == 200
    assert resp.get_json()["roles"] == ["attendee", "organizer"]
    assert attendee_client.post("/api/events", json=event_body()).status_code == 201


def test_removing_organizer_takes_effect_at_once(admin_client, organizer_client, organizer):
    resp = admin_client.put(f"/api/admin/users/{organizer.id}/roles", json={"roles": ["attendee"]})
    assert resp.get_json()["roles"] == ["attendee"]
    assert stored(organizer.id).role_names == ["attendee"]
    assert organizer_client.post("/api/events", json=event_body()).status_code == 403


def test_granting_admin(admin_client, client_for, attendee):
    admin_client.put(f"/api/admin/users/{attendee.id}/roles", json={"roles": ["admin"]})
    assert client_for(attendee).get("/api/admin/stats").status_code == 200


def test_admin_cannot_drop_own_admin_role(admin_client, admin):
    resp = admin_client.put(f"/api/admin/users/{admin.id}/roles", json={"roles": ["organizer"]})
    assert resp.status_code == 409 and error_code(resp) == "cannot_remove_own_admin"
    assert stored(admin.id).role_names == ["admin", "attendee"]


@pytest.mark.parametrize("body", [{}, {"roles": []}, {"roles": ["root"]}, {"roles": "admin"},
                                  {"roles": ["admin"], "extra": 1}])
def test_invalid_roles_are_422(admin_client, attendee, body):
    resp = admin_client.put(f"/api/admin/users/{attendee.id}/roles", json=body)
    assert resp.status_code == 422
    fields = resp.get_json()["error"]["fields"]
    assert "roles" in fields or "extra" in fields
    assert stored(attendee.id).role_names == ["attendee"]


# events


def test_admin_lists_every_event(admin_client, make_event, other_organizer):
    published = make_event()
    draft = make_event(other_organizer, status="draft")
    cancelled = make_event(status="cancelled", starts_in=timedelta(days=-3))
    body = admin_client.get("/api/admin/events?per_page=100").get_json()
    assert {published.id, draft.id, cancelled.id} <= {e["id"] for e in body["items"]}
    statuses = {e["id"]: e["status"] for e in body["items"]}
    assert statuses[draft.id] == "draft" and statuses[cancelled.id] == "cancelled"


def test_admin_filters_events(admin_client, make_event):
    make_event()
    draft = make_event(status="draft", title="Secret Gig")
    body = admin_client.get("/api/admin/events?status=draft").get_json()
    assert [e["id"] for e in body["items"]] == [draft.id]
    body = admin_client.get("/api/admin/events?q=secret").get_json()
    assert [e["id"] for e in body["items"]] == [draft.id]


def test_admin_events_rejects_bad_status(admin_client):
    resp = admin_client.get("/api/admin/events?status=archived")
    assert resp.status_code == 422
    assert "status" in resp.get_json()["error"]["fields"]


# orders


@pytest.fixture
def orders(make_event, make_order, make_user, other_organizer):
    first, second = make_event(), make_event(other_organizer)
    buyer = make_user()
    return [make_order(first, paid=True), make_order(second, buyer=buyer),
            make_order(first, buyer=buyer, paid=True)]


def test_admin_lists_every_order(admin_client, orders):
    body = admin_client.get("/api/admin/orders").get_json()
    assert [o["id"] for o in body["items"]] == [o.id for o in reversed(orders)]
    assert body["total"] == 3
    assert {o["buyer"]["id"] for o in body["items"]} == {o.buyer_id for o in orders}


def test_admin_filters_orders(admin_client, orders):
    def ids(query):
        return [o["id"] for o in admin_client.get(f"/api/admin/orders?{query}").get_json()["items"]]

    assert ids("status=pending") == [orders[1].id]
    assert ids(f"event_id={orders[0].event_id}") == [orders[2].id, orders[0].id]
    assert ids(f"event_id={orders[0].event_id}&status=pending") == []
    body = admin_client.get("/api/admin/orders?per_page=2&page=2").get_json()
    assert [o["id"] for o in body["items"]] == [orders[0].id]
    assert (body["total"], body["pages"]) == (3, 2)


@pytest.mark.parametrize("query, field", [
    ("status=lost", "status"), ("event_id=0", "event_id"), ("event_id=abc", "event_id"),
    ("per_page=101", "per_page"),
])
def test_admin_orders_reject_bad_filters(admin_client, query, field):
    resp = admin_client.get(f"/api/admin/orders?{query}")
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


# stats


def test_stats_shape(admin_client):
    body = admin_client.get("/api/admin/stats").get_json()
    assert set(body) == {"users", "events", "orders", "revenue", "tickets"}
    assert set(body["users"]["by_role"]) == {"admin", "organizer", "attendee"}
    assert set(body["events"]["by_status"]) == {"draft", "published", "cancelled"}
    assert set(body["orders"]) == {"total", "by_status"}
    assert set(body["orders"]["by_status"]) == {"pending", "paid", "cancelled", "expired",
                                                "refunded"}
    assert body["orders"]["total"] == sum(body["orders"]["by_status"].values())
    assert set(body["tickets"]) == {"issued", "checked_in"}


def _delta(before: dict, after: dict) -> dict:
    return {key: after[key] - before[key] for key in after}


def _revenue_delta(before: dict, after: dict, currency: str) -> Decimal:
    return Decimal(after.get(currency, "0")) - Decimal(before.get(currency, "0"))


@pytest.fixture
def platform_sales(make_event, make_order, make_user, organizer):
    """Orders in every state, a complimentary ticket, a USD sale and one check-in."""
    event = make_event(organizer)
    paid = make_order(event, {event.ticket_types[0]: 2}, paid=True)
    make_order(event)
    order_lifecycle.cancel_order(order_id=make_order(event).id, actor=organizer)
    refunded = make_order(event, paid=True)
    refunding.refund_order(order_id=refunded.id, actor=organizer)
    expired = make_order(event)
    expired.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    order_lifecycle.expire_order(order_id=expired.id)
    complimentary.issue_complimentary(event_id=event.id, actor=organizer,
                                      ticket_type_id=event.ticket_types[0].id,
                                      email=make_user().email, quantity=1)
    usd = make_event(organizer, tiers=[{"name": "GA", "price": Decimal("10.50"), "currency": "USD",
                                        "quantity": 5}])
    make_order(usd, paid=True)
    ticket = paid.tickets[0]
    ticket.status, ticket.checked_in_at = TicketStatus.USED, utcnow()
    db.session.commit()


def test_stats_count_orders_revenue_and_tickets(admin_client, request):
    before = admin_client.get("/api/admin/stats").get_json()
    request.getfixturevalue("platform_sales")
    after = admin_client.get("/api/admin/stats").get_json()
    assert after["orders"]["total"] - before["orders"]["total"] == 7
    assert _delta(before["orders"]["by_status"], after["orders"]["by_status"]) == {
        "pending": 1, "paid": 3, "cancelled": 1, "expired": 1, "refunded": 1}
    assert _revenue_delta(before["revenue"], after["revenue"], "KES") == Decimal("2000.00")
    assert _revenue_delta(before["revenue"], after["revenue"], "USD") == Decimal("10.50")
    assert after["revenue"]["USD"].endswith(".50") and after["revenue"]["KES"].endswith(".00")
    assert _delta(before["tickets"], after["tickets"]) == {"issued": 4, "checked_in": 1}


def test_stats_count_users_and_events(admin_client, make_user, make_event, organizer):
    before = admin_client.get("/api/admin/stats").get_json()
    make_user(), make_user("organizer"), make_user("admin", active=False)
    make_event(organizer), make_event(organizer, status="draft")
    make_event(organizer, status="cancelled")
    after = admin_client.get("/api/admin/stats").get_json()
    assert after["users"]["total"] - before["users"]["total"] == 3
    role_delta = {role: after["users"]["by_role"][role] - before["users"]["by_role"][role]
                  for role in before["users"]["by_role"]}
    assert role_delta == {"admin": 1, "organizer": 1, "attendee": 3}
    status_delta = {status: after["events"]["by_status"][status]
                    - before["events"]["by_status"][status]
                    for status in before["events"]["by_status"]}
    assert status_delta == {"draft": 1, "published": 1, "cancelled": 1}
    assert after["events"]["total"] - before["events"]["total"] == 3
