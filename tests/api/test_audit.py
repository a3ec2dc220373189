"""The audit log: every recorded decision, written with its change or not at all; admins read it."""
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from server.extensions import db
from server.models import AuditEntry, OrderStatus
from server.services.accounts import admin as admin_users
from server.services.orders import lifecycle as order_lifecycle, refunding
from server.services.catalog import reviews
from tests.world import flagged_payment, manual_refund, went_to


def entries(action=None):
    """The audit entries written so far (oldest first), optionally of one action."""
    db.session.expire_all()
    query = select(AuditEntry).order_by(AuditEntry.id)
    if action:
        query = query.where(AuditEntry.action == action)
    return list(db.session.scalars(query))


def only(action):
    found = entries(action)
    assert len(found) == 1, [(e.action, e.details) for e in entries()]
    return found[0]


@pytest.fixture
def paid_order(make_event, make_order, organizer):
    return make_order(make_event(organizer), paid=True)


# user decisions


def test_role_change_records_before_and_after_who_and_where(admin_client, admin, attendee):
    resp = admin_client.put(f"/api/admin/users/{attendee.id}/roles", json={"roles": ["organizer"]},
                            headers={"X-Request-ID": "req-roles-1"})
    assert resp.status_code == 200
    entry = only("user.roles_changed")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (admin.id, "user", attendee.id)
    assert entry.details == {"before": ["attendee"], "after": ["attendee", "organizer"]}
    assert entry.request_id == "req-roles-1" and entry.ip_address == "127.0.0.1"
    assert entry.created_at is not None


def test_setting_the_same_roles_records_nothing(admin_client, attendee):
    assert admin_client.put(f"/api/admin/users/{attendee.id}/roles",
                            json={"roles": ["attendee"]}).status_code == 200
    assert entries() == []


def test_admin_deactivation_and_reactivation(admin_client, admin, attendee):
    assert admin_client.delete(f"/api/admin/users/{attendee.id}").status_code == 204
    assert admin_client.patch(f"/api/admin/users/{attendee.id}",
                              json={"is_active": True}).status_code == 200
    assert [(e.action, e.actor_id, e.target_id) for e in entries()] == [
        ("user.deactivated", admin.id, attendee.id), ("user.reactivated", admin.id, attendee.id)]


def test_admin_edit_records_the_changed_fields(admin_client, make_user):
    user = make_user(name="Old Name", phone="0712345678")
    resp = admin_client.patch(f"/api/admin/users/{user.id}",
                              json={"name": "New Name", "phone": "0712345678"})
    assert resp.status_code == 200
    assert only("user.updated").details == {"before": {"name": "Old Name"},
                                            "after": {"name": "New Name"}}


def test_self_deactivation(attendee_client, attendee):
    assert attendee_client.delete("/api/users/me").status_code == 204
    entry = only("user.deactivated")
    assert (entry.actor_id, entry.target_id, entry.details) == (attendee.id, attendee.id,
                                                                {"by_self": True})


def test_create_admin_command_is_recorded_without_actor(app, attendee):
    admin_users.ensure_admin(email="ops@example.com", password="password123", name="Ops")
    admin_users.ensure_admin(email=attendee.email, password="ignored-pass", name="Ignored")
    created, promoted = only("user.admin_created"), only("user.roles_changed")
    assert created.actor_id is None and created.details["source"] == "command line"
    assert (promoted.actor_id, promoted.target_id) == (None, attendee.id)
    assert promoted.details["after"] == ["admin", "attendee"]


# order, ticket and event decisions


def test_order_refund(organizer_client, organizer, paid_order):
    assert organizer_client.post(f"/api/orders/{paid_order.id}/refund").status_code == 200
    entry = only("order.refunded")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (organizer.id, "order",
                                                                    paid_order.id)
    assert entry.details == {"reason": "Order refunded.", "event_id": paid_order.event_id,
                             "total": "1000.00", "currency": "KES", "tickets_voided": 1}


def test_refund_made_at_the_provider_has_no_actor(paid_order):
    order = order_lifecycle.lock_order(paid_order.id)
    assert refunding.refund_paid_order(order)
    db.session.commit()
    entry = only("order.refunded")
    assert entry.actor_id is None and entry.details["reason"] == "Refunded at the payment provider."


def test_cancelling_someone_elses_order_is_recorded_the_buyers_own_is_not(
        organizer_client, attendee_client, organizer, attendee, make_event, make_order):
    event = make_event(organizer)
    theirs, mine = make_order(event), make_order(event)
    assert organizer_client.post(f"/api/orders/{theirs.id}/cancel").status_code == 200
    assert attendee_client.post(f"/api/orders/{mine.id}/cancel").status_code == 200
    entry = only("order.cancelled")
    assert (entry.actor_id, entry.target_id) == (organizer.id, theirs.id)
    assert entry.details == {"event_id": event.id, "buyer_id": attendee.id}


def test_ticket_void(admin_client, admin, paid_order):
    ticket = paid_order.tickets[0]
    assert admin_client.delete(f"/api/tickets/{ticket.id}").status_code == 200
    entry = only("ticket.voided")
    assert (entry.actor_id, entry.target_type, entry.target_id) == (admin.id, "ticket", ticket.id)
    assert entry.details == {"event_id": paid_order.event_id, "order_id": paid_order.id,
                             "holder_id": paid_order.buyer_id}


def test_event_cancellation_records_the_event_and_each_refund(
        organizer_client, organizer, make_event, make_order):
    event = make_event(organizer)
    paid, pending = make_order(event, paid=True), make_order(event)
    resp = organizer_client.patch(f"/api/events/{event.id}", json={"status": "cancelled"})
    assert resp.status_code == 200
    cancelled = only("event.cancelled")
    assert (cancelled.actor_id, cancelled.target_id) == (organizer.id, event.id)
    assert cancelled.details == {"title": event.title, "status_before": "published",
                                 "orders_cancelled": 1, "orders_refunded": 1}
    refunded = only("order.refunded")
    assert refunded.target_id == paid.id and refunded.details["reason"] == "Event cancelled."
    assert pending.id not in [e.target_id for e in entries() if e.target_type == "order"]


def test_event_deletion_outlives_the_event(organizer_client, organizer, make_event):
    event = make_event(organizer, status="draft")
    event_id, title = event.id, event.title
    assert organizer_client.delete(f"/api/events/{event_id}").status_code == 204
    entry = only("event.deleted")
    assert entry.target_id == event_id
    assert entry.details == {"title": title, "status": "draft", "organizer_id": organizer.id}


def test_complimentary_tickets(organizer_client, organizer, attendee, make_event):
    event = make_event(organizer)
    resp = organizer_client.post(f"/api/events/{event.id}/tickets", json={
        "ticket_type_id": event.ticket_types[0].id, "email": attendee.email, "quantity": 2})
    assert resp.status_code == 201
    entry = only("tickets.complimentary_issued")
    assert (entry.target_type, entry.target_id) == ("order", resp.get_json()["id"])
    assert entry.details == {"event_id": event.id, "ticket_type_id": event.ticket_types[0].id,
                             "recipient_id": attendee.id, "quantity": 2}


def test_gate_staff_change(organizer_client, organizer, make_user, make_event):
    event, staff = make_event(organizer), make_user()
    body = {"emails": [staff.email]}
    assert organizer_client.put(f"/api/events/{event.id}/staff", json=body).status_code == 200
    assert organizer_client.put(f"/api/events/{event.id}/staff", json=body).status_code == 200
    assert only("event.staff_changed").details == {"before": [], "after": [staff.id]}


def test_review_removed_by_an_admin_but_not_by_its_author(
        admin_client, admin, client_for, make_user, make_event, make_order, organizer):
    authors = [make_user(), make_user()]
    event = went_to(make_event(organizer), authors, make_order)
    first, second = (reviews.create_review(event_id=event.id, user=author,
                                           data={"rating": 2, "comment": "Meh"}).id
                     for author in authors)
    assert client_for(authors[0]).delete(f"/api/reviews/{first}").status_code == 204
    assert admin_client.delete(f"/api/reviews/{second}").status_code == 204
    entry = only("review.removed")
    assert (entry.actor_id, entry.target_id) == (admin.id, second)
    assert entry.details == {"event_id": event.id, "author_id": authors[1].id, "rating": 2,
                             "comment": "Meh"}


# manual payment decisions


def test_admin_refunds_a_flagged_payment_then_completes_the_manual_refund(
        admin_client, admin, make_event, make_order, organizer):
    order = make_order(make_event(organizer), paid=True)
    payment = flagged_payment(order)
    assert admin_client.post(f"/api/admin/payments/{payment.id}/refund").status_code == 200
    requested = only("payment.refund_requested")
    refund_id = requested.details["refund_id"]
    assert (requested.actor_id, requested.target_id) == (admin.id, payment.id)
    assert requested.details == {"order_id": order.id, "refund_id": refund_id, "method": "manual",
                                 "provider": "mpesa", "amount": "1000.00", "currency": "KES"}
    resp = admin_client.post(f"/api/admin/refunds/{refund_id}/complete",
                             json={"reference": "QWE123RTY"})
    assert resp.status_code == 200
    completed = only("refund.completed_manually")
    assert (completed.actor_id, completed.target_type, completed.target_id) == (admin.id, "refund",
                                                                                refund_id)
    assert completed.details == {"payment_id": payment.id, "reference": "QWE123RTY",
                                 "amount": "1000.00", "currency": "KES"}


# nothing is recorded for what did not happen


def test_refused_decisions_record_nothing(admin_client, admin, organizer_client, make_event,
                                          make_order, organizer):
    pending = make_order(make_event(organizer))
    refund = manual_refund(pending)
    assert admin_client.put(f"/api/admin/users/{admin.id}/roles",
                            json={"roles": ["attendee"]}).status_code == 409
    assert admin_client.delete(f"/api/admin/users/{admin.id}").status_code == 409
    assert organizer_client.post(f"/api/orders/{pending.id}/refund").status_code == 409
    assert admin_client.post(f"/api/admin/refunds/{refund.id}/complete",
                             json={"reference": "R"}).status_code == 200
    assert admin_client.post(f"/api/admin/refunds/{refund.id}/complete",
                             json={"reference": "R2"}).status_code == 409
    assert [e.action for e in entries()] == ["refund.completed_manually"]


def test_a_change_that_rolls_back_leaves_no_entry(organizer_client, paid_order, monkeypatch):
    """The entry is written before the refund's last step; that step fails, so nothing stays."""
    from server.services.orders import refunding as refunds

    def broken(*args, **kwargs):
        raise RuntimeError("provider adapter exploded")

    monkeypatch.setattr(refunds, "record_for_order", broken)
    resp = organizer_client.post(f"/api/orders/{paid_order.id}/refund")
    assert resp.status_code == 500
    assert entries() == []
    db.session.expire_all()
    assert db.session.get(type(paid_order), paid_order.id).status == OrderStatus.PAID


def test_the_log_is_append_only(admin_client, attendee):
    admin_client.delete(f"/api/admin/users/{attendee.id}")
    for statement in ("UPDATE audit_entries SET action = 'user.reactivated'",
                      "DELETE FROM audit_entries"):
        with pytest.raises(DBAPIError, match="append-only"):
            with db.session.begin_nested():
                db.session.execute(text(statement))
    assert [e.action for e in entries()] == ["user.deactivated"]


# reading the log


def test_admins_read_the_log_newest_first_with_filters(admin_client, admin, make_user):
    users = [make_user(), make_user()]
    for user in users:
        admin_client.put(f"/api/admin/users/{user.id}/roles", json={"roles": ["organizer"]})
    admin_client.delete(f"/api/admin/users/{users[0].id}")
    page = admin_client.get("/api/admin/audit-log").get_json()
    assert [(i["action"], i["target_id"]) for i in page["items"]] == [
        ("user.deactivated", users[0].id), ("user.roles_changed", users[1].id),
        ("user.roles_changed", users[0].id)]
    assert page["total"] == 3 and page["pages"] == 1
    first = page["items"][0]
    assert first["actor"] == {"id": admin.id, "name": admin.name}
    assert first["target_type"] == "user" and first["created_at"].endswith("Z")
    assert set(first) == {"id", "action", "actor", "target_type", "target_id", "details",
                          "ip_address", "request_id", "created_at"}

    def ids(query):
        body = admin_client.get(f"/api/admin/audit-log?{query}").get_json()
        return [(i["action"], i["target_id"]) for i in body["items"]]

    assert ids("action=user.roles_changed&per_page=1") == [("user.roles_changed", users[1].id)]
    assert ids(f"target_type=user&target_id={users[0].id}") == [
        ("user.deactivated", users[0].id), ("user.roles_changed", users[0].id)]
    assert len(ids(f"actor_id={admin.id}")) == 3
    assert ids(f"actor_id={users[1].id}") == []


@pytest.mark.parametrize("query, field", [("action=user.hacked", "action"),
                                          ("target_type=planet", "target_type"),
                                          ("actor_id=abc", "actor_id"),
                                          ("per_page=101", "per_page")])
def test_bad_filters_are_422(admin_client, query, field):
    resp = admin_client.get(f"/api/admin/audit-log?{query}")
    assert resp.status_code == 422
    assert field in resp.get_json()["error"]["fields"]


def test_only_admins_read_the_log(client, attendee_client, organizer_client):
    assert client.get("/api/admin/audit-log").status_code == 401
    assert attendee_client.get("/api/admin/audit-log").status_code == 403
    assert organizer_client.get("/api/admin/audit-log").status_code == 403
