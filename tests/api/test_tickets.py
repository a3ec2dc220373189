"""My tickets, renaming, transfer, voiding and complimentary tickets."""
from datetime import timedelta

import pytest
from sqlalchemy import insert

from server.extensions import db
from server.models import Ticket, TicketStatus, TicketType, event_staff, utcnow


def tier_counts(tier):
    db.session.expire_all()
    row = db.session.get(TicketType, tier.id)
    return row.sold, row.held


@pytest.fixture
def event(make_event):
    return make_event(tiers=[{"name": "VIP", "price": 100, "quantity": 5},
                             {"name": "Regular", "price": 50, "quantity": 5}])


@pytest.fixture
def ticket(event, make_order):
    return make_order(event, paid=True).tickets[0]


def test_my_tickets_with_filters(attendee_client, event, make_order, make_event):
    make_order(event, {event.ticket_types[0]: 2}, paid=True)
    other = make_event()
    make_order(other, paid=True)
    make_order(event)  # pending: no tickets yet
    body = attendee_client.get("/api/tickets").get_json()
    assert body["total"] == 3
    first = body["items"][0]
    assert first["event"]["id"] == event.id and first["ticket_type"]["name"] == "VIP"
    assert first["status"] == "valid"
    assert attendee_client.get(f"/api/tickets?event_id={other.id}").get_json()["total"] == 1
    assert attendee_client.get("/api/tickets?status=void").get_json()["total"] == 0
    assert attendee_client.get("/api/tickets?status=lost").status_code == 422


def test_ticket_visibility(client_for, ticket, attendee, organizer, other_organizer, admin,
                           make_user, client):
    staff = make_user()
    db.session.execute(insert(event_staff).values(event_id=ticket.event_id, user_id=staff.id))
    db.session.commit()
    url = f"/api/tickets/{ticket.id}"
    for user in (attendee, organizer, admin, staff):
        assert client_for(user).get(url).status_code == 200
    for user in (other_organizer, make_user()):
        assert client_for(user).get(url).status_code == 404
    assert client.get(url).status_code == 401
    assert client_for(attendee).get("/api/tickets/999999").status_code == 404


def test_holder_renames_ticket(attendee_client, organizer_client, ticket):
    resp = attendee_client.patch(f"/api/tickets/{ticket.id}", json={"holder_name": "  Mama Mboga "})
    assert resp.status_code == 200 and resp.get_json()["holder_name"] == "Mama Mboga"
    assert attendee_client.patch(f"/api/tickets/{ticket.id}", json={"holder_name": ""}).status_code == 422
    assert attendee_client.patch(f"/api/tickets/{ticket.id}", json={"status": "used"}).status_code == 422
    assert organizer_client.patch(f"/api/tickets/{ticket.id}", json={"holder_name": "X"}).status_code == 403


def test_transfer_moves_ticket_and_retires_old_code(attendee_client, client_for, make_user, ticket):
    friend = make_user(email="friend@example.com", name="Friend")
    old_nonce = ticket.nonce
    resp = attendee_client.post(f"/api/tickets/{ticket.id}/transfer", json={"email": "Friend@Example.com"})
    assert resp.status_code == 200
    assert resp.get_json()["holder_name"] == "Friend"
    db.session.expire_all()
    moved = db.session.get(Ticket, ticket.id)
    assert moved.holder_id == friend.id and moved.nonce != old_nonce
    assert attendee_client.get(f"/api/tickets/{ticket.id}").status_code == 404
    assert [t["id"] for t in client_for(friend).get("/api/tickets").get_json()["items"]] == [ticket.id]


@pytest.mark.parametrize("email", ["nobody@example.com", "not-an-email"])
def test_transfer_to_unknown_user_is_422(attendee_client, ticket, email):
    resp = attendee_client.post(f"/api/tickets/{ticket.id}/transfer", json={"email": email})
    assert resp.status_code == 422 and "email" in resp.get_json()["error"]["fields"]


def test_transfer_to_self_or_inactive_is_422(attendee_client, ticket, attendee, make_user):
    make_user(email="gone@example.com", active=False)
    for email in (attendee.email, "gone@example.com"):
        resp = attendee_client.post(f"/api/tickets/{ticket.id}/transfer", json={"email": email})
        assert resp.status_code == 422


def test_transfer_only_valid_tickets_before_start(attendee_client, make_user, ticket):
    make_user(email="friend@example.com")
    ticket.event.starts_at = utcnow() - timedelta(minutes=5)
    db.session.commit()
    resp = attendee_client.post(f"/api/tickets/{ticket.id}/transfer", json={"email": "friend@example.com"})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["code"] == "ticket_not_transferable"


def test_transfer_of_void_ticket_conflicts(attendee_client, organizer_client, make_user, ticket):
    make_user(email="friend@example.com")
    organizer_client.delete(f"/api/tickets/{ticket.id}")
    resp = attendee_client.post(f"/api/tickets/{ticket.id}/transfer", json={"email": "friend@example.com"})
    assert resp.status_code == 409


def test_organizer_voids_ticket(organizer_client, attendee_client, ticket, event):
    vip = event.ticket_types[0]
    assert tier_counts(vip) == (1, 0)
    assert attendee_client.delete(f"/api/tickets/{ticket.id}").status_code == 403
    resp = organizer_client.delete(f"/api/tickets/{ticket.id}")
    assert resp.status_code == 200 and resp.get_json()["status"] == "void"
    assert tier_counts(vip) == (0, 0)
    assert organizer_client.delete(f"/api/tickets/{ticket.id}").status_code == 200
    assert tier_counts(vip) == (0, 0)


def test_used_ticket_cannot_be_voided(organizer_client, ticket):
    ticket.status, ticket.checked_in_at = TicketStatus.USED, utcnow()
    db.session.commit()
    resp = organizer_client.delete(f"/api/tickets/{ticket.id}")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "ticket_used"


def test_complimentary_tickets(organizer_client, client_for, make_user, event):
    guest = make_user(email="guest@example.com")
    regular = event.ticket_types[1]
    resp = organizer_client.post(f"/api/events/{event.id}/tickets", json={
        "ticket_type_id": regular.id, "email": "guest@example.com", "quantity": 3})
    assert resp.status_code == 201
    order = resp.get_json()
    assert order["status"] == "paid" and order["payment_method"] == "complimentary"
    assert order["total"] == "0.00" and len(order["tickets"]) == 3
    assert tier_counts(regular) == (3, 0)
    assert client_for(guest).get("/api/tickets").get_json()["total"] == 3


def test_complimentary_tickets_count_against_inventory(organizer_client, make_user, event):
    make_user(email="guest@example.com")
    regular = event.ticket_types[1]
    resp = organizer_client.post(f"/api/events/{event.id}/tickets", json={
        "ticket_type_id": regular.id, "email": "guest@example.com", "quantity": 6})
    assert resp.status_code == 409
    assert resp.get_json()["error"]["details"] == {"ticket_type_id": regular.id, "available": 5}
    assert tier_counts(regular) == (0, 0)


@pytest.mark.parametrize("overrides, field", [
    ({"email": "nobody@example.com"}, "email"),
    ({"ticket_type_id": 999999}, "ticket_type_id"),
    ({"quantity": 0}, "quantity"),
    ({"quantity": 101}, "quantity"),
])
def test_complimentary_validation(organizer_client, make_user, event, overrides, field):
    make_user(email="guest@example.com")
    payload = {"ticket_type_id": event.ticket_types[0].id, "email": "guest@example.com",
               "quantity": 1, **overrides}
    resp = organizer_client.post(f"/api/events/{event.id}/tickets", json=payload)
    assert resp.status_code == 422 and field in resp.get_json()["error"]["fields"]


def test_complimentary_for_another_events_tier_is_422(organizer_client, make_user, event, make_event):
    make_user(email="guest@example.com")
    other = make_event()
    resp = organizer_client.post(f"/api/events/{event.id}/tickets", json={
        "ticket_type_id": other.ticket_types[0].id, "email": "guest@example.com"})
    assert resp.status_code == 422
