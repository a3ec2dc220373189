"""Events: creation, catalogue, visibility, changes and deletion."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import update

from server.extensions import db
from server.models import TicketType
from server.services.orders import lifecycle as order_lifecycle


def iso(delta: timedelta) -> str:
    return (datetime.now(timezone.utc) + delta).isoformat()


def event_body(**overrides):
    body = {"title": "Sauti Sol Live", "description": "An evening of music", "venue": "KICC",
            "city": "Nairobi", "category": "music", "starts_at": iso(timedelta(days=10)),
            "ends_at": iso(timedelta(days=10, hours=4)), "status": "published",
            "ticket_types": [{"name": "VIP", "price": "5000", "quantity": 50},
                             {"name": "Regular", "price": "1500.5", "quantity": 200}]}
    body.update(overrides)
    return body


def set_counts(ticket_type_id, **counts):
    db.session.execute(update(TicketType).where(TicketType.id == ticket_type_id).values(**counts))
    db.session.commit()


def test_organizer_creates_event_with_tiers(organizer_client, organizer):
    resp = organizer_client.post("/api/events", json=event_body())
    assert resp.status_code == 201
    event = resp.get_json()
    assert event["organizer"] == {"id": organizer.id, "name": organizer.name}
    assert event["status"] == "published"
    assert event["starts_at"].endswith("Z")
    assert [t["name"] for t in event["ticket_types"]] == ["VIP", "Regular"]
    assert event["ticket_types"][1]["price"] == "1500.50"
    assert event["ticket_types"][1]["currency"] == "KES"
    assert event["ticket_types"][1]["max_per_order"] == 10
    assert event["price_from"] == "1500.50" and event["currency"] == "KES"
    assert event["tickets_total"] == 250 and event["tickets_available"] == 250
    assert event["sold_out"] is False and event["rating_count"] == 0


def test_event_defaults_to_draft(organizer_client):
    body = event_body()
    del body["status"], body["ticket_types"]
    resp = organizer_client.post("/api/events", json=body)
    assert resp.status_code == 201
    assert resp.get_json()["status"] == "draft"
    assert resp.get_json()["ticket_types"] == []


def test_attendee_cannot_create_event(attendee_client, client):
    assert attendee_client.post("/api/events", json=event_body()).status_code == 403
    assert client.post("/api/events", json=event_body()).status_code == 401


@pytest.mark.parametrize("overrides, field", [
    ({"starts_at": iso(timedelta(days=-1)), "ends_at": iso(timedelta(days=1))}, "starts_at"),
    ({"ends_at": iso(timedelta(days=9))}, "ends_at"),
    ({"title": "   "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"venue": None}, "venue"),
    ({"starts_at": "next friday"}, "starts_at"),
    ({"image_url": "javascript:alert(1)"}, "image_url"),
    ({"status": "cancelled"}, "status"),
    ({"ticket_types": [{"name": "VIP", "price": "-1", "quantity": 5}]}, "ticket_types"),
    ({"ticket_types": [{"name": "VIP", "price": "10", "quantity": -5}]}, "ticket_types"),
    ({"ticket_types": [{"name": "VIP", "price": "10", "quantity": 5, "currency": "kes"}]},
     "ticket_types"),
    ({"ticket_types": [{"name": "VIP", "price": "10", "quantity": 5},
                       {"name": "vip", "price": "20", "quantity": 5}]}, "ticket_types"),
    ({"ticket_types": [{"name": "VIP", "price": "10", "quantity": 5, "currency": "USD"},
                       {"name": "Reg", "price": "20", "quantity": 5}]}, "currency"),
    ({"ticket_types": [{"name": "VIP", "price": "10", "quantity": 5,
                        "sales_start": iso(timedelta(days=2)),
                        "sales_end": iso(timedelta(days=1))}]}, "ticket_types"),
    ({"ticket_types": [{"name": "VIP", "price": "10", "quantity": 5, "max_per_order": 0}]},
     "ticket_types"),
    ({"surprise": True}, "surprise"),
])
def test_event_validation(organizer_client, overrides, field):
    resp = organizer_client.post("/api/events", json=event_body(**overrides))
    assert resp.status_code == 422
    error = resp.get_json()["error"]
    assert error["code"] == "validation_error"
    assert field in error["fields"]


def test_invalid_event_writes_nothing(organizer_client, client):
    organizer_client.post("/api/events", json=event_body(ticket_types=[
        {"name": "VIP", "price": "10", "quantity": 5, "currency": "USD"},
        {"name": "Reg", "price": "20", "quantity": 5}]))
    assert client.get("/api/events").get_json()["total"] == 0


def test_list_shows_only_published(client, make_event):
    published = make_event()
    make_event(status="draft")
    cancelled = make_event()
    cancelled.status = cancelled.status.CANCELLED
    db.session.commit()
    body = client.get("/api/events").get_json()
    assert [e["id"] for e in body["items"]] == [published.id]
    assert body["total"] == 1 and body["pages"] == 1


def test_list_search_filters_and_sort(client, make_event, other_organizer):
    jazz = make_event(title="Jazz Night", city="Mombasa", category="music",
                      starts_in=timedelta(days=5))
    derby = make_event(title="Mashemeji Derby", venue="Nyayo Stadium", category="sports",
                       starts_in=timedelta(days=2))
    expo = make_event(other_organizer, title="Tech Expo", description="All about jazz robots",
                      category="tech", starts_in=timedelta(days=9))

    def ids(query):
        return [e["id"] for e in client.get(f"/api/events?{query}").get_json()["items"]]

    assert ids("q=jazz") == [jazz.id, expo.id]
    assert ids("q=nyayo") == [derby.id]
    assert ids("category=SPORTS") == [derby.id]
    assert ids("city=mombasa") == [jazz.id]
    assert ids(f"organizer_id={other_organizer.id}") == [expo.id]
    assert ids("sort=-starts_at") == [expo.id, jazz.id, derby.id]
    assert ids("sort=title") == [jazz.id, derby.id, expo.id]
    after = (datetime.now(timezone.utc) + timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = (datetime.now(timezone.utc) + timedelta(days=6)).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert ids(f"starts_after={after}") == [jazz.id, expo.id]
    assert ids(f"starts_after={after}&starts_before={before}") == [jazz.id]


def test_pagination(client, make_event):
    for _ in range(5):
        make_event()
    body = client.get("/api/events?page=2&per_page=2").get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (2, 2, 5, 3)
    assert len(body["items"]) == 2
    assert client.get("/api/events?page=9&per_page=2").get_json()["items"] == []


@pytest.mark.parametrize("query", ["per_page=101", "per_page=0", "page=0", "sort=price",
                                   "starts_after=yesterday", "organizer_id=abc"])
def test_list_rejects_bad_query(client, query):
    resp = client.get(f"/api/events?{query}")
    assert resp.status_code == 422
    assert resp.get_json()["error"]["code"] == "validation_error"


def test_availability_excludes_held_and_shows_sold_out(client, make_event):
    event = make_event(tiers=[{"name": "VIP", "price": 100, "quantity": 10},
                              {"name": "Regular", "price": 50, "quantity": 5}])
    vip, regular = event.ticket_types
    set_counts(vip.id, sold=6, held=3)
    detail = client.get(f"/api/events/{event.id}").get_json()
    assert detail["ticket_types"][0]["available"] == 1
    assert detail["ticket_types"][0]["sold"] == 6
    assert detail["tickets_available"] == 6 and detail["sold_out"] is False
    set_counts(vip.id, sold=10, held=0)
    set_counts(regular.id, sold=4, held=1)
    listed = client.get("/api/events").get_json()["items"][0]
    assert listed["tickets_available"] == 0 and listed["sold_out"] is True


def test_on_sale_follows_window_and_status(client, make_event):
    now = datetime.now(timezone.utc)
    event = make_event(tiers=[
        {"name": "Open", "price": 10, "quantity": 5},
        {"name": "Later", "price": 10, "quantity": 5, "sales_start": now + timedelta(days=1)},
        {"name": "Over", "price": 10, "quantity": 5, "sales_end": now - timedelta(minutes=1),
         "sales_start": now - timedelta(days=1)}])
    tiers = client.get(f"/api/events/{event.id}/ticket-types").get_json()
    assert [t["on_sale"] for t in tiers] == [True, False, False]


def test_draft_visible_only_to_owner_and_admin(client, client_for, make_event, organizer,
                                               other_organizer, admin, attendee):
    draft = make_event(status="draft")
    for user in (organizer, admin):
        assert client_for(user).get(f"/api/events/{draft.id}").status_code == 200
    for caller in (client, client_for(other_organizer), client_for(attendee)):
        assert caller.get(f"/api/events/{draft.id}").status_code == 404
        assert caller.get(f"/api/events/{draft.id}/ticket-types").status_code == 404
    assert client.get("/api/events/999999").get_json()["error"]["code"] == "not_found"


def test_owner_updates_event(organizer_client, make_event):
    event = make_event()
    resp = organizer_client.patch(f"/api/events/{event.id}",
                                  json={"title": "New title", "city": "Kisumu"})
    assert resp.status_code == 200
    assert resp.get_json()["title"] == "New title" and resp.get_json()["city"] == "Kisumu"


def test_update_permissions(client, client_for, make_event, other_organizer, admin):
    event = make_event()
    draft = make_event(status="draft")
    assert client.patch(f"/api/events/{event.id}", json={"title": "x"}).status_code == 401
    other = client_for(other_organizer)
    assert other.patch(f"/api/events/{event.id}", json={"title": "x"}).status_code == 403
    assert other.patch(f"/api/events/{draft.id}", json={"title": "x"}).status_code == 404
    assert client_for(admin).patch(f"/api/events/{event.id}", json={"title": "By admin"}) \
        .get_json()["title"] == "By admin"


def test_update_time_rules(organizer_client, make_event):
    event = make_event()
    resp = organizer_client.patch(f"/api/events/{event.id}", json={"ends_at": iso(timedelta(days=1))})
    assert resp.status_code == 422 and "ends_at" in resp.get_json()["error"]["fields"]
    resp = organizer_client.patch(f"/api/events/{event.id}",
                                  json={"starts_at": iso(timedelta(hours=-1))})
    assert resp.status_code == 422 and "starts_at" in resp.get_json()["error"]["fields"]


def test_status_transitions(organizer_client, make_event):
    event = make_event(status="draft")
    url = f"/api/events/{event.id}"
    assert organizer_client.patch(url, json={"status": "published"}).get_json()["status"] == "published"
    assert organizer_client.patch(url, json={"status": "cancelled"}).get_json()["status"] == "cancelled"
    resp = organizer_client.patch(url, json={"status": "published"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "event_cancelled"
    assert organizer_client.patch(url, json={"title": "Again"}).status_code == 409


def test_event_with_sales_cannot_return_to_draft(organizer_client, make_event):
    event = make_event()
    set_counts(event.ticket_types[0].id, held=1)
    resp = organizer_client.patch(f"/api/events/{event.id}", json={"status": "draft"})
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "event_has_sales"


def test_delete_event(client, organizer_client, client_for, make_event, other_organizer):
    event = make_event()
    assert client_for(other_organizer).delete(f"/api/events/{event.id}").status_code == 403
    assert organizer_client.delete(f"/api/events/{event.id}").status_code == 204
    assert client.get(f"/api/events/{event.id}").status_code == 404


def test_delete_event_with_orders_conflicts(organizer_client, make_event, make_order):
    event = make_event()
    order_lifecycle.cancel_order(order_id=make_order(event).id, actor=event.organizer)
    resp = organizer_client.delete(f"/api/events/{event.id}")
    assert resp.status_code == 409 and resp.get_json()["error"]["code"] == "event_has_orders"


def test_ended_events_are_listed_only_on_request(client, admin_client, make_event):
    upcoming = make_event()
    running = make_event(starts_in=timedelta(hours=-1), duration=timedelta(hours=3))
    ended = make_event(starts_in=timedelta(days=-2))
    ids = [e["id"] for e in client.get("/api/events").get_json()["items"]]
    assert ids == [running.id, upcoming.id]
    ids = [e["id"] for e in client.get("/api/events?include_past=true").get_json()["items"]]
    assert ids == [ended.id, running.id, upcoming.id]
    assert client.get(f"/api/events/{ended.id}").status_code == 200
    assert admin_client.get("/api/admin/events").get_json()["total"] == 3


def test_search_treats_wildcards_literally(client, make_event):
    percent = make_event(title="100% Kenyan Hits")
    make_event(title="Plain Night", description="no symbols here")
    ids = [e["id"] for e in client.get("/api/events?q=%25").get_json()["items"]]
    assert ids == [percent.id]
    assert client.get("/api/events?q=_").get_json()["total"] == 0
