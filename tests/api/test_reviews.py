"""Reviews: eligibility, one per user and event, listing with a summary, author changes."""
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from server.extensions import db
from server.models import EventStatus, Review, TicketStatus, utcnow
from server.services.orders import refunding, tickets
from server.services.catalog import reviews

STARTED = timedelta(hours=-2)


def start(event):
    """Move `event` so it began two hours ago (test data: the API refuses dates in the past)."""
    event.starts_at = utcnow() + STARTED
    event.ends_at = event.starts_at + timedelta(hours=4)
    db.session.commit()
    return event


@pytest.fixture
def make_past_event(make_event, make_order):
    """make_past_event(*holders, **fields): each holder buys a ticket, then the event starts."""

    def factory(*holders, **fields):
        event = make_event(**fields)
        for user in holders:
            make_order(event, buyer=user, paid=True)
        return start(event)

    return factory


@pytest.fixture
def guests(make_user):
    return [make_user(), make_user()]


@pytest.fixture
def past_event(make_past_event, attendee, other_organizer, guests):
    return make_past_event(attendee, other_organizer, *guests)


@pytest.fixture
def review(past_event, attendee):
    return reviews.create_review(event_id=past_event.id, user=attendee,
                                 data={"rating": 4, "comment": "Good sound"})


def url(event):
    return f"/api/events/{event.id}/reviews"


def error_code(resp):
    return resp.get_json()["error"]["code"]


def stored(review_id):
    db.session.expire_all()
    return db.session.get(Review, review_id)


def assert_not_allowed(resp):
    assert resp.status_code == 403, resp.get_json()
    assert error_code(resp) == "review_not_allowed"


# creating


def test_attendee_reviews_a_started_event(attendee_client, attendee, past_event):
    resp = attendee_client.post(url(past_event), json={"rating": 5, "comment": "  Superb  "})
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["event_id"] == past_event.id and body["rating"] == 5
    assert body["comment"] == "Superb"
    assert body["user"] == {"id": attendee.id, "name": attendee.name}
    assert body["created_at"].endswith("Z") and body["updated_at"].endswith("Z")
    review = stored(body["id"])
    assert (review.user_id, review.event_id, review.rating) == (attendee.id, past_event.id, 5)


def test_comment_is_optional(attendee_client, past_event):
    resp = attendee_client.post(url(past_event), json={"rating": 3})
    assert resp.status_code == 201
    assert resp.get_json()["comment"] is None


def test_anonymous_cannot_review(client, past_event):
    resp = client.post(url(past_event), json={"rating": 5})
    assert resp.status_code == 401
    assert error_code(resp) == "unauthorized"


def test_second_review_is_a_conflict(attendee_client, past_event, review):
    resp = attendee_client.post(url(past_event), json={"rating": 1})
    assert resp.status_code == 409
    assert error_code(resp) == "already_reviewed"
    assert stored(review.id).rating == 4


def test_lost_insert_race_is_a_conflict(attendee_client, past_event, review, monkeypatch):
    monkeypatch.setattr(reviews, "_find_review", lambda **kwargs: None)
    resp = attendee_client.post(url(past_event), json={"rating": 1})
    assert resp.status_code == 409
    assert error_code(resp) == "already_reviewed"
    count = db.session.scalar(select(func.count(Review.id)).where(Review.event_id == past_event.id))
    assert count == 1


def test_event_not_started_cannot_be_reviewed(attendee_client, make_event):
    resp = attendee_client.post(url(make_event()), json={"rating": 5})
    assert_not_allowed(resp)


# who went: a used ticket, or a valid one once the event has started


def test_no_ticket_no_review(attendee_client, make_past_event, make_user):
    event = make_past_event(make_user())
    assert_not_allowed(attendee_client.post(url(event), json={"rating": 5}))


def test_valid_ticket_before_the_start_is_not_enough(attendee_client, make_event, make_order):
    event = make_event()
    make_order(event, paid=True)
    assert_not_allowed(attendee_client.post(url(event), json={"rating": 5}))


def test_valid_ticket_after_the_start_may_review(attendee_client, make_past_event, attendee):
    event = make_past_event(attendee)
    assert attendee_client.post(url(event), json={"rating": 5}).status_code == 201


def test_unpaid_order_is_no_ticket(attendee_client, make_event, make_order):
    event = make_event()
    make_order(event)
    start(event)
    assert_not_allowed(attendee_client.post(url(event), json={"rating": 5}))


def test_void_ticket_may_not_review(attendee_client, make_event, make_order, organizer):
    event = make_event()
    ticket = make_order(event, paid=True).tickets[0]
    start(event)
    tickets.void_ticket(ticket_id=ticket.id, actor=organizer)
    assert_not_allowed(attendee_client.post(url(event), json={"rating": 5}))


def test_refunded_order_may_not_review(attendee_client, make_event, make_order, organizer):
    event = make_event()
    order = make_order(event, paid=True)
    refunding.refund_order(order_id=order.id, actor=organizer)
    start(event)
    assert_not_allowed(attendee_client.post(url(event), json={"rating": 5}))


def test_used_ticket_may_review_before_the_start(attendee_client, make_event, make_order):
    event = make_event()
    ticket = make_order(event, paid=True).tickets[0]
    ticket.status, ticket.checked_in_at = TicketStatus.USED, utcnow()
    db.session.commit()
    assert attendee_client.post(url(event), json={"rating": 5}).status_code == 201


def test_a_transferred_ticket_moves_the_right_to_review(client_for, attendee, make_user,
                                                        make_event, make_order):
    event, friend = make_event(), make_user()
    ticket = make_order(event, paid=True).tickets[0]
    tickets.transfer_ticket(ticket_id=ticket.id, actor=attendee, email=friend.email)
    start(event)
    assert_not_allowed(client_for(attendee).post(url(event), json={"rating": 5}))
    assert client_for(friend).post(url(event), json={"rating": 5}).status_code == 201


def test_cancelled_event_cannot_be_reviewed(attendee_client, make_event):
    event = make_event(starts_in=STARTED, status="cancelled")
    assert_not_allowed(attendee_client.post(url(event), json={"rating": 5}))


def test_organizer_cannot_review_own_event(organizer_client, past_event):
    assert_not_allowed(organizer_client.post(url(past_event), json={"rating": 5}))


def test_other_organizer_may_review(client_for, other_organizer, past_event):
    resp = client_for(other_organizer).post(url(past_event), json={"rating": 2})
    assert resp.status_code == 201


def test_draft_event_is_hidden_from_others(attendee_client, make_event):
    event = make_event(starts_in=STARTED, status="draft")
    resp = attendee_client.post(url(event), json={"rating": 5})
    assert resp.status_code == 404


def test_draft_event_is_not_reviewable_by_admin(admin_client, make_event):
    event = make_event(starts_in=STARTED, status="draft")
    assert_not_allowed(admin_client.post(url(event), json={"rating": 5}))


def test_unknown_event_is_404(attendee_client):
    resp = attendee_client.post("/api/events/999999/reviews", json={"rating": 5})
    assert resp.status_code == 404
    assert error_code(resp) == "not_found"


@pytest.mark.parametrize("body, field", [
    ({}, "rating"),
    ({"rating": 0}, "rating"),
    ({"rating": 6}, "rating"),
    ({"rating": 4.5}, "rating"),
    ({"rating": "5"}, "rating"),
    ({"rating": True}, "rating"),
    ({"rating": None}, "rating"),
    ({"rating": 5, "comment": "x" * 2001}, "comment"),
    ({"rating": 5, "user_id": 1}, "user_id"),
])
def test_invalid_review_is_422(attendee_client, past_event, body, field):
    resp = attendee_client.post(url(past_event), json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert db.session.scalar(select(Review.id).where(Review.event_id == past_event.id)) is None


# listing


def test_list_is_newest_first_with_summary(client, past_event, review, guests):
    later = reviews.create_review(event_id=past_event.id, user=guests[0], data={"rating": 1})
    resp = client.get(url(past_event))
    assert resp.status_code == 200
    body = resp.get_json()
    assert [r["id"] for r in body["items"]] == [later.id, review.id]
    assert body["summary"] == {"rating_avg": 2.5, "rating_count": 2}
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 20, 2, 1)
    assert body["items"][1]["user"]["name"] == review.user.name


def test_list_paginates(client, past_event, review, guests):
    reviews.create_review(event_id=past_event.id, user=guests[0], data={"rating": 2})
    body = client.get(url(past_event) + "?page=2&per_page=1").get_json()
    assert [r["id"] for r in body["items"]] == [review.id]
    assert (body["total"], body["pages"]) == (2, 2)
    assert body["summary"]["rating_count"] == 2


def test_list_without_reviews(client, past_event):
    body = client.get(url(past_event)).get_json()
    assert body["items"] == [] and body["total"] == 0
    assert body["summary"] == {"rating_avg": None, "rating_count": 0}


def test_list_only_shows_the_events_reviews(client, past_event, review, make_past_event, guests):
    other = make_past_event(guests[0])
    reviews.create_review(event_id=other.id, user=guests[0], data={"rating": 1})
    body = client.get(url(past_event)).get_json()
    assert [r["id"] for r in body["items"]] == [review.id]


def test_list_rejects_bad_paging(client, past_event):
    resp = client.get(url(past_event) + "?per_page=101")
    assert resp.status_code == 422
    assert "per_page" in resp.get_json()["error"]["fields"]


def test_list_of_draft_event(client, organizer_client, admin_client, make_event):
    event = make_event(status="draft")
    assert client.get(url(event)).status_code == 404
    assert organizer_client.get(url(event)).status_code == 200
    assert admin_client.get(url(event)).status_code == 200


def test_list_of_unknown_event_is_404(client):
    assert client.get("/api/events/999999/reviews").status_code == 404


def test_event_list_and_detail_reflect_reviews(client, past_event, review, guests):
    reviews.create_review(event_id=past_event.id, user=guests[0], data={"rating": 5})
    detail = client.get(f"/api/events/{past_event.id}").get_json()
    assert (detail["rating_avg"], detail["rating_count"]) == (4.5, 2)
    listed = client.get("/api/events").get_json()["items"]
    item = next(e for e in listed if e["id"] == past_event.id)
    assert (item["rating_avg"], item["rating_count"]) == (4.5, 2)


# changing


def test_author_updates_review(attendee_client, review):
    resp = attendee_client.patch(f"/api/reviews/{review.id}", json={"rating": 2})
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["rating"], body["comment"]) == (2, "Good sound")
    assert stored(review.id).rating == 2


def test_author_clears_comment(attendee_client, review):
    resp = attendee_client.patch(f"/api/reviews/{review.id}", json={"comment": None})
    assert resp.status_code == 200
    assert stored(review.id).comment is None


@pytest.mark.parametrize("body, field", [
    ({"rating": 9}, "rating"),
    ({"rating": None}, "rating"),
    ({"comment": "x" * 2001}, "comment"),
    ({"event_id": 1}, "event_id"),
])
def test_invalid_update_is_422(attendee_client, review, body, field):
    resp = attendee_client.patch(f"/api/reviews/{review.id}", json=body)
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]
    assert stored(review.id).rating == 4


def test_only_the_author_updates(client, client_for, organizer_client, admin_client, make_user,
                                 review):
    path = f"/api/reviews/{review.id}"
    assert client.patch(path, json={"rating": 1}).status_code == 401
    assert client_for(make_user()).patch(path, json={"rating": 1}).status_code == 403
    assert organizer_client.patch(path, json={"rating": 1}).status_code == 403
    assert admin_client.patch(path, json={"rating": 1}).status_code == 403
    assert stored(review.id).rating == 4


def test_review_of_hidden_event_is_404(client_for, make_user, past_event, review):
    past_event.status = EventStatus.DRAFT
    db.session.commit()
    resp = client_for(make_user()).patch(f"/api/reviews/{review.id}", json={"rating": 1})
    assert resp.status_code == 404


def test_unknown_review_is_404(attendee_client):
    assert attendee_client.patch("/api/reviews/999999", json={"rating": 1}).status_code == 404
    assert attendee_client.delete("/api/reviews/999999").status_code == 404


# deleting


def test_author_deletes_review(attendee_client, review):
    assert attendee_client.delete(f"/api/reviews/{review.id}").status_code == 204
    assert stored(review.id) is None


def test_admin_deletes_review(admin_client, review):
    assert admin_client.delete(f"/api/reviews/{review.id}").status_code == 204
    assert stored(review.id) is None


def test_others_cannot_delete(client, client_for, organizer_client, make_user, review):
    path = f"/api/reviews/{review.id}"
    assert client.delete(path).status_code == 401
    resp = client_for(make_user()).delete(path)
    assert resp.status_code == 403 and error_code(resp) == "forbidden"
    assert organizer_client.delete(path).status_code == 403
    assert stored(review.id) is not None


def test_deleting_review_updates_summary(client, attendee_client, past_event, review):
    attendee_client.delete(f"/api/reviews/{review.id}")
    body = client.get(url(past_event)).get_json()
    assert body["summary"] == {"rating_avg": None, "rating_count": 0}
