"""Ticket types: adding, changing and deleting tiers."""
import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import TicketType


def set_counts(ticket_type_id, **counts):
    db.session.execute(update(TicketType).where(TicketType.id == ticket_type_id).values(**counts))
    db.session.commit()


def test_owner_adds_ticket_type(organizer_client, make_event):
    event = make_event()
    resp = organizer_client.post(f"/api/events/{event.id}/ticket-types", json={
        "name": "Early bird", "price": "750", "quantity": 30, "max_per_order": 4,
        "description": "First 30 only"})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["event_id"] == event.id and body["price"] == "750.00"
    assert body["available"] == 30 and body["on_sale"] is True and body["max_per_order"] == 4


def test_ticket_type_permissions(client, client_for, make_event, attendee, other_organizer, admin):
    event = make_event()
    draft = make_event(status="draft")
    body = {"name": "VIP", "price": "10", "quantity": 1}
    url = f"/api/events/{event.id}/ticket-types"
    assert client.post(url, json=body).status_code == 401
    assert client_for(attendee).post(url, json=body).status_code == 403
    assert client_for(other_organizer).post(url, json=body).status_code == 403
    assert client_for(other_organizer).post(f"/api/events/{draft.id}/ticket-types",
                                            json=body).status_code == 404
    assert client_for(admin).post(url, json=body).status_code == 201


def test_ticket_type_name_unique_per_event(organizer_client, make_event):
    event = make_event()
    resp = organizer_client.post(f"/api/events/{event.id}/ticket-types",
                                 json={"name": "regular", "price": "10", "quantity": 1})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "ticket_type_exists"


def test_ticket_type_currency_must_match_event(organizer_client, make_event):
    event = make_event()
    resp = organizer_client.post(f"/api/events/{event.id}/ticket-types",
                                 json={"name": "VIP", "price": "10", "quantity": 1, "currency": "USD"})
    assert resp.status_code == 422 and "currency" in resp.get_json()["error"]["fields"]


@pytest.mark.parametrize("body, field", [
    ({"price": "10", "quantity": 1}, "name"),
    ({"name": "VIP", "quantity": 1}, "price"),
    ({"name": "VIP", "price": "abc", "quantity": 1}, "price"),
    ({"name": "VIP", "price": "10", "quantity": "many"}, "quantity"),
    ({"name": "VIP", "price": "10", "quantity": 1.5}, "quantity"),
    ({"name": "VIP", "price": "NaN", "quantity": 1}, "price"),
    ({"name": "VIP", "price": "10", "quantity": 1, "max_per_order": 1000}, "max_per_order"),
    ({"name": "VIP", "price": "10", "quantity": 1, "sold": 5}, "sold"),
])
def test_ticket_type_validation(organizer_client, make_event, body, field):
    event = make_event()
    resp = organizer_client.post(f"/api/events/{event.id}/ticket-types", json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


def test_update_ticket_type(organizer_client, make_event):
    tier = make_event().ticket_types[0]
    resp = organizer_client.patch(f"/api/ticket-types/{tier.id}", json={"price": "1200", "quantity": 80})
    assert resp.status_code == 200
    assert resp.get_json()["price"] == "1200.00" and resp.get_json()["quantity"] == 80


def test_quantity_cannot_drop_below_sold_and_held(organizer_client, make_event):
    tier = make_event().ticket_types[0]
    set_counts(tier.id, sold=40, held=10)
    resp = organizer_client.patch(f"/api/ticket-types/{tier.id}", json={"quantity": 49})
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "quantity_below_sold" and error["details"] == {"sold": 40, "held": 10}
    assert organizer_client.patch(f"/api/ticket-types/{tier.id}", json={"quantity": 50}).status_code == 200


def test_update_ticket_type_permissions(client, client_for, make_event, other_organizer, admin):
    tier = make_event().ticket_types[0]
    draft_tier = make_event(status="draft").ticket_types[0]
    url = f"/api/ticket-types/{tier.id}"
    assert client.patch(url, json={"price": "1"}).status_code == 401
    assert client_for(other_organizer).patch(url, json={"price": "1"}).status_code == 403
    assert client_for(other_organizer).patch(f"/api/ticket-types/{draft_tier.id}",
                                             json={"price": "1"}).status_code == 404
    assert client_for(admin).patch(url, json={"price": "1"}).status_code == 200
    assert client_for(admin).patch("/api/ticket-types/999999", json={"price": "1"}).status_code == 404


def test_rename_to_existing_name_conflicts(organizer_client, make_event):
    event = make_event(tiers=[{"name": "VIP", "price": 1, "quantity": 1},
                              {"name": "Regular", "price": 1, "quantity": 1}])
    resp = organizer_client.patch(f"/api/ticket-types/{event.ticket_types[1].id}", json={"name": "vip"})
    assert resp.status_code == 409


def test_delete_ticket_type(organizer_client, make_event):
    event = make_event(tiers=[{"name": "VIP", "price": 1, "quantity": 1},
                              {"name": "Regular", "price": 1, "quantity": 1}])
    vip, regular = event.ticket_types
    set_counts(vip.id, sold=1)
    resp = organizer_client.delete(f"/api/ticket-types/{vip.id}")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "ticket_type_has_sales"
    assert organizer_client.delete(f"/api/ticket-types/{regular.id}").status_code == 204
    names = [t["name"] for t in organizer_client.get(f"/api/events/{event.id}/ticket-types").get_json()]
    assert names == ["VIP"]


@pytest.mark.parametrize("values", [{"sold": 60, "held": 41}, {"sold": -1}, {"held": -1},
                                    {"quantity": -1}, {"price": -5}])
def test_database_refuses_broken_inventory(make_event, values):
    tier = make_event().ticket_types[0]
    with pytest.raises(IntegrityError):
        set_counts(tier.id, **values)
    db.session.rollback()
