"""Placing, reading, cancelling and refunding orders."""
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import Ticket, TicketOrder, TicketType
from server.services.orders import lifecycle as order_lifecycle


def counts(tier):
    db.session.expire_all()
    row = db.session.get(TicketType, tier.id)
    return row.sold, row.held


def order_count():
    return db.session.scalar(select(func.count(TicketOrder.id)))


def body(event, *pairs, **extra):
    return {"event_id": event.id,
            "items": [{"ticket_type_id": t.id, "quantity": n} for t, n in pairs], **extra}


@pytest.fixture
def event(make_event):
    return make_event(tiers=[{"name": "VIP", "price": Decimal("5000"), "quantity": 10,
                              "max_per_order": 4},
                             {"name": "Regular", "price": Decimal("1500.50"), "quantity": 5}])


def test_place_order_holds_inventory(attendee_client, event):
    vip, regular = event.ticket_types
    resp = attendee_client.post("/api/orders", json=body(event, (regular, 2), (vip, 1)))
    assert resp.status_code == 201
    order = resp.get_json()
    assert order["status"] == "pending" and order["tickets"] == []
    assert order["total"] == "8001.00" and order["currency"] == "KES"
    assert [(i["name"], i["quantity"], i["unit_price"], i["subtotal"]) for i in order["items"]] == [
        ("VIP", 1, "5000.00", "5000.00"), ("Regular", 2, "1500.50", "3001.00")]
    expires = datetime.fromisoformat(order["expires_at"].replace("Z", "+00:00"))
    assert timedelta(minutes=9) < expires - datetime.now(timezone.utc) <= timedelta(minutes=10)
    assert counts(vip) == (0, 1) and counts(regular) == (0, 2)
    detail = attendee_client.get(f"/api/events/{event.id}").get_json()
    assert [t["available"] for t in detail["ticket_types"]] == [9, 3]


def test_card_orders_hold_at_least_30_minutes(attendee_client, event):
    order = attendee_client.post("/api/orders", json=body(event, (event.ticket_types[0], 1),
                                                          payment_method="stripe")).get_json()
    expires = datetime.fromisoformat(order["expires_at"].replace("Z", "+00:00"))
    assert expires - datetime.now(timezone.utc) > timedelta(minutes=29)
    assert order["payment_method"] == "stripe"


def test_free_order_is_paid_with_tickets(attendee_client, make_event, attendee):
    event = make_event(tiers=[{"name": "Community", "price": 0, "quantity": 3}])
    tier = event.ticket_types[0]
    order = attendee_client.post("/api/orders", json=body(event, (tier, 2))).get_json()
    assert order["status"] == "paid" and order["payment_method"] == "free"
    assert order["paid_at"] and order["expires_at"] is None
    assert len(order["tickets"]) == 2
    assert {t["holder_name"] for t in order["tickets"]} == {attendee.name}
    assert counts(tier) == (2, 0)


def test_prices_are_frozen_at_order_time(attendee_client, organizer_client, event):
    vip = event.ticket_types[0]
    order = attendee_client.post("/api/orders", json=body(event, (vip, 1))).get_json()
    organizer_client.patch(f"/api/ticket-types/{vip.id}", json={"price": "9999"})
    again = attendee_client.get(f"/api/orders/{order['id']}").get_json()
    assert again["items"][0]["unit_price"] == "5000.00" and again["total"] == "5000.00"


def test_idempotency_key_replays_the_first_answer(attendee_client, event):
    vip = event.ticket_types[0]
    headers = {"Idempotency-Key": "checkout-42"}
    first = attendee_client.post("/api/orders", json=body(event, (vip, 2)), headers=headers)
    second = attendee_client.post("/api/orders", json=body(event, (vip, 2)), headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["id"] == second.get_json()["id"]
    assert order_count() == 1 and counts(vip) == (0, 2)


def test_idempotency_key_with_another_body_is_422(attendee_client, event):
    vip = event.ticket_types[0]
    headers = {"Idempotency-Key": "checkout-43"}
    attendee_client.post("/api/orders", json=body(event, (vip, 2)), headers=headers)
    resp = attendee_client.post("/api/orders", json=body(event, (vip, 3)), headers=headers)
    assert resp.status_code == 422
    assert order_count() == 1 and counts(vip) == (0, 2)


def test_idempotency_keys_are_per_user(client_for, make_user, event):
    vip = event.ticket_types[0]
    headers = {"Idempotency-Key": "same"}
    ids = {client_for(make_user()).post("/api/orders", json=body(event, (vip, 1)),
                                        headers=headers).get_json()["id"] for _ in range(2)}
    assert len(ids) == 2


def test_sold_out_is_409_with_what_is_left_and_holds_nothing(attendee_client, event, make_order):
    vip, regular = event.ticket_types
    make_order(event, {regular: 4})
    resp = attendee_client.post("/api/orders", json=body(event, (vip, 2), (regular, 2)))
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "sold_out"
    assert error["details"] == {"ticket_type_id": regular.id, "available": 1}
    assert counts(vip) == (0, 0) and counts(regular) == (0, 4)
    assert order_count() == 1


def test_sold_out_flag_on_event(client, make_event, make_order):
    event = make_event(tiers=[{"name": "Only", "price": 10, "quantity": 2}])
    make_order(event, {event.ticket_types[0]: 2})
    listed = client.get("/api/events").get_json()["items"][0]
    assert listed["sold_out"] is True and listed["tickets_available"] == 0


@pytest.mark.parametrize("make_items, field", [
    (lambda e, other: [{"ticket_type_id": 999999, "quantity": 1}], "items"),
    (lambda e, other: [{"ticket_type_id": other.ticket_types[0].id, "quantity": 1}], "items"),
    (lambda e, other: [{"ticket_type_id": e.ticket_types[0].id, "quantity": 0}], "items"),
    (lambda e, other: [{"ticket_type_id": e.ticket_types[0].id, "quantity": 10000}], "items"),
    (lambda e, other: [{"ticket_type_id": e.ticket_types[0].id, "quantity": 5}], "items"),
    (lambda e, other: [{"ticket_type_id": e.ticket_types[0].id, "quantity": "two"}], "items"),
    (lambda e, other: [{"ticket_type_id": str(e.ticket_types[0].id), "quantity": 1}], "items"),
    (lambda e, other: [{"ticket_type_id": e.ticket_types[0].id, "quantity": 1},
                       {"ticket_type_id": e.ticket_types[0].id, "quantity": 1}], "items"),
    (lambda e, other: [{"ticket_type_id": e.ticket_types[0].id}], "items"),
    (lambda e, other: [], "items"),
    (lambda e, other: "all of them", "items"),
])
def test_bad_items_are_422_and_leave_nothing(attendee_client, event, make_event, make_items,
                                             field):
    other = make_event()
    resp = attendee_client.post("/api/orders", json={"event_id": event.id,
                                                     "items": make_items(event, other)})
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert order_count() == 0
    assert all(counts(t) == (0, 0) for t in event.ticket_types + other.ticket_types)


@pytest.mark.parametrize("payload, field", [
    ({"items": [{"ticket_type_id": 1, "quantity": 1}]}, "event_id"),
    ({"event_id": "one", "items": [{"ticket_type_id": 1, "quantity": 1}]}, "event_id"),
    ({"event_id": 1}, "items"),
    ({"event_id": 1, "items": [{"ticket_type_id": 1, "quantity": 1}], "payment_method": "cash"},
     "payment_method"),
    ({"event_id": 1, "items": [{"ticket_type_id": 1, "quantity": 1}], "total": "1.00"}, "total"),
])
def test_bad_order_body_is_422(attendee_client, payload, field):
    resp = attendee_client.post("/api/orders", json=payload)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


def test_unknown_or_draft_event_is_404(attendee_client, make_event):
    draft = make_event(status="draft")
    for event_id in (draft.id, 999999):
        resp = attendee_client.post("/api/orders", json={
            "event_id": event_id, "items": [{"ticket_type_id": draft.ticket_types[0].id,
                                             "quantity": 1}]})
        assert resp.status_code == 404


def test_sales_closed_cases(attendee_client, organizer_client, make_event):
    now = datetime.now(timezone.utc)
    later = make_event(tiers=[{"name": "Soon", "price": 10, "quantity": 5,
                               "sales_start": now + timedelta(days=1)}])
    resp = attendee_client.post("/api/orders", json=body(later, (later.ticket_types[0], 1)))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "sales_closed"
    assert resp.get_json()["error"]["details"] == {"ticket_type_id": later.ticket_types[0].id}

    started = make_event(starts_in=timedelta(hours=-1))
    resp = attendee_client.post("/api/orders", json=body(started, (started.ticket_types[0], 1)))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "sales_closed"

    cancelled = make_event()
    organizer_client.patch(f"/api/events/{cancelled.id}", json={"status": "cancelled"})
    resp = attendee_client.post("/api/orders", json=body(cancelled, (cancelled.ticket_types[0], 1)))
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "sales_closed"


def test_my_orders_newest_first_and_private(attendee_client, client_for, make_user, event,
                                            make_order, attendee):
    vip = event.ticket_types[0]
    first = make_order(event, {vip: 1})
    second = make_order(event, {vip: 1}, paid=True)
    stranger_order = make_order(event, {vip: 1}, buyer=make_user())
    listed = attendee_client.get("/api/orders").get_json()
    assert [o["id"] for o in listed["items"]] == [second.id, first.id]
    paid = attendee_client.get("/api/orders?status=paid").get_json()
    assert [o["id"] for o in paid["items"]] == [second.id]
    assert attendee_client.get(f"/api/orders/{stranger_order.id}").status_code == 404
    assert attendee_client.get("/api/orders?status=lost").status_code == 422


def test_buyer_cancels_pending_order(attendee_client, event, make_order):
    vip = event.ticket_types[0]
    order = make_order(event, {vip: 3})
    resp = attendee_client.post(f"/api/orders/{order.id}/cancel")
    assert resp.status_code == 200 and resp.get_json()["status"] == "cancelled"
    assert counts(vip) == (0, 0)
    again = attendee_client.post(f"/api/orders/{order.id}/cancel")
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "order_not_cancellable"


def test_buyer_cannot_cancel_a_paid_order(attendee_client, event, make_order):
    order = make_order(event, paid=True)
    resp = attendee_client.post(f"/api/orders/{order.id}/cancel")
    assert resp.status_code == 409


def test_cancel_permissions(client_for, event, make_order, organizer, other_organizer, admin,
                            make_user):
    for actor, status in ((make_user(), 404), (other_organizer, 404), (organizer, 200)):
        order = make_order(event)
        assert client_for(actor).post(f"/api/orders/{order.id}/cancel").status_code == status
    order = make_order(event)
    assert client_for(admin).post(f"/api/orders/{order.id}/cancel").status_code == 200


def test_refund_voids_tickets_and_releases_inventory(organizer_client, attendee_client, event,
                                                     make_order):
    vip = event.ticket_types[0]
    order = make_order(event, {vip: 2}, paid=True)
    assert counts(vip) == (2, 0)
    assert attendee_client.post(f"/api/orders/{order.id}/refund").status_code == 403
    resp = organizer_client.post(f"/api/orders/{order.id}/refund")
    assert resp.status_code == 200
    refunded = resp.get_json()
    assert refunded["status"] == "refunded"
    assert {t["status"] for t in refunded["tickets"]} == {"void"}
    assert counts(vip) == (0, 0)
    again = organizer_client.post(f"/api/orders/{order.id}/refund")
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "order_not_refundable"


def test_refund_of_pending_order_conflicts(organizer_client, event, make_order):
    order = make_order(event)
    assert organizer_client.post(f"/api/orders/{order.id}/refund").status_code == 409


def test_mark_order_paid_is_idempotent(event, make_order):
    vip = event.ticket_types[0]
    order = make_order(event, {vip: 2})
    for _ in range(3):
        order_lifecycle.mark_order_paid(order_id=order.id)
    assert counts(vip) == (2, 0)
    assert db.session.scalar(select(func.count(Ticket.id)).where(Ticket.order_id == order.id)) == 2


def test_event_cancellation_closes_orders(organizer_client, attendee_client, event, make_order):
    vip, regular = event.ticket_types
    pending = make_order(event, {vip: 1})
    paid = make_order(event, {regular: 2}, paid=True)
    assert organizer_client.patch(f"/api/events/{event.id}", json={"status": "cancelled"}) \
        .status_code == 200
    assert attendee_client.get(f"/api/orders/{pending.id}").get_json()["status"] == "cancelled"
    paid_now = attendee_client.get(f"/api/orders/{paid.id}").get_json()
    assert paid_now["status"] == "refunded"
    assert {t["status"] for t in paid_now["tickets"]} == {"void"}
    assert counts(vip) == (0, 0) and counts(regular) == (0, 0)


def test_order_detail_for_event_owner_and_admin(client_for, event, make_order, organizer, admin,
                                                other_organizer):
    order = make_order(event)
    assert client_for(organizer).get(f"/api/orders/{order.id}").status_code == 200
    assert client_for(admin).get(f"/api/orders/{order.id}").status_code == 200
    assert client_for(other_organizer).get(f"/api/orders/{order.id}").status_code == 404


def test_idempotency_key_older_than_a_day_starts_afresh(attendee_client, event):
    vip = event.ticket_types[0]
    headers = {"Idempotency-Key": "old-key"}
    first = attendee_client.post("/api/orders", json=body(event, (vip, 1)), headers=headers).get_json()
    old = db.session.get(TicketOrder, first["id"])
    old.created_at = old.created_at - timedelta(hours=25)
    db.session.commit()
    second = attendee_client.post("/api/orders", json=body(event, (vip, 2)), headers=headers)
    assert second.status_code == 201 and second.get_json()["id"] != first["id"]
    assert order_count() == 2
