"""GET /api/checkin/events: the events whose gate the caller runs, for the scanner's event picker."""
from datetime import timedelta

from server.extensions import db
from server.models import utcnow

EVENTS = "/api/checkin/events"


def titles(client, **query) -> list[str]:
    response = client.get(EVENTS, query_string=query)
    assert response.status_code == 200, response.get_json()
    return [event["title"] for event in response.get_json()["items"]]


def test_staff_see_the_events_they_staff_and_nothing_else(make_user, make_event, organizer,
                                                         organizer_client, client_for):
    gate = make_user(email="gate@example.com")
    later = make_event(title="Later", starts_in=timedelta(days=9))
    sooner = make_event(title="Sooner", starts_in=timedelta(days=2))
    make_event(title="Not staffed")
    for event in (later, sooner):
        organizer_client.put(f"/api/events/{event.id}/staff", json={"emails": [gate.email]})
    assert titles(client_for(gate)) == ["Sooner", "Later"]


def test_an_organizer_sees_their_own_events_but_not_drafts_or_others(make_user, make_event,
                                                                     organizer, organizer_client):
    make_event(title="Mine")
    make_event(title="My draft", status="draft")
    make_event(make_user("organizer"), title="Someone else's")
    assert titles(organizer_client) == ["Mine"]


def test_an_admin_sees_every_event_that_is_not_over(make_user, make_event, client_for):
    admin = make_user("admin")
    make_event(make_user("organizer"), title="Anyone's")
    over = make_event(title="Long over")
    over.starts_at, over.ends_at = utcnow() - timedelta(days=2), utcnow() - timedelta(days=1)
    just_ended = make_event(title="Just ended")
    just_ended.starts_at = utcnow() - timedelta(hours=5)
    just_ended.ends_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert titles(client_for(admin)) == ["Just ended", "Anyone's"]


def test_cancelled_events_are_not_listed(make_event, organizer_client):
    event = make_event(title="Cancelled")
    response = organizer_client.patch(f"/api/events/{event.id}", json={"status": "cancelled"})
    assert response.status_code == 200, response.get_json()
    assert titles(organizer_client) == []


def test_an_attendee_gets_an_empty_page_and_anonymous_401(attendee_client, client, make_event):
    make_event()
    assert attendee_client.get(EVENTS).get_json() == {"items": [], "page": 1, "per_page": 20,
                                                      "total": 0, "pages": 0}
    assert client.get(EVENTS).status_code == 401


def test_the_list_is_paginated(make_event, organizer_client):
    for day in range(3):
        make_event(title=f"Day {day}", starts_in=timedelta(days=day + 1))
    page = organizer_client.get(EVENTS, query_string={"per_page": 2, "page": 2}).get_json()
    assert [e["title"] for e in page["items"]] == ["Day 2"] and page["total"] == 3
    assert organizer_client.get(EVENTS, query_string={"per_page": 101}).status_code == 422
