"""Ticket emails: sent after the commit, once, with each ticket's QR inline; SMTP failures are
recorded and retried and never touch the order."""
import email
import socket
from datetime import timedelta
from decimal import Decimal
from email import policy
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from server.extensions import db
from server.codes.signing import code_for
from server.codes.qr import qr_image
from server.models import (EmailDelivery, EmailStatus, OrderStatus, Ticket, TicketOrder,
                           TicketStatus, utcnow)
from server.tasks import jobs


class Outbox:
    """The .eml files the outbox backend wrote for this test, parsed."""

    def __init__(self, folder: Path):
        self.folder = folder

    def messages(self, subject_prefix: str = "") -> list[email.message.EmailMessage]:
        files = sorted(self.folder.glob("*.eml")) if self.folder.exists() else []
        parsed = [email.message_from_bytes(path.read_bytes(), policy=policy.default)
                  for path in files]
        return [message for message in parsed if message["Subject"].startswith(subject_prefix)]


@pytest.fixture
def outbox(app, tmp_path, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_ENABLED", True)
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "outbox")
    monkeypatch.setitem(app.config, "MAIL_OUTBOX_DIR", str(tmp_path / "outbox"))
    return Outbox(tmp_path / "outbox")


@pytest.fixture
def event(make_event):
    starts = (utcnow() + timedelta(days=30)).replace(hour=16, minute=0, second=0, microsecond=0)
    return make_event(title="Sauti Sol Live", venue="Carnivore Grounds", city="Nairobi",
                      starts_at=starts, ends_at=starts + timedelta(hours=5),
                      tiers=[{"name": "VIP", "price": Decimal("2500.00"), "quantity": 20}])


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def broken_smtp(app, monkeypatch):
    """SMTP pointed at a port where nothing listens, with credentials that must never leak."""
    for name, value in {"MAIL_ENABLED": True, "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1",
                        "MAIL_PORT": closed_port(), "MAIL_USE_TLS": False, "MAIL_TIMEOUT": 2,
                        "MAIL_USERNAME": "ticksy", "MAIL_PASSWORD": "hunter2-secret"}.items():
        monkeypatch.setitem(app.config, name, value)


def deliveries(kind: str) -> list[EmailDelivery]:
    return list(db.session.scalars(select(EmailDelivery).where(EmailDelivery.kind == kind)
                                   .order_by(EmailDelivery.id)
                                   .execution_options(populate_existing=True)))


def images_of(message) -> list:
    return [part for part in message.walk() if part.get_content_type() == "image/png"]


def assert_qr_inline(message, tickets) -> None:
    """One inline PNG per ticket, shown by the HTML part, whose content is that ticket's QR."""
    html = message.get_body(("html",)).get_content()
    images = images_of(message)
    assert len(images) == len(tickets)
    for ticket, image in zip(tickets, images):
        cid = image["Content-ID"].strip("<>")
        assert f'src="cid:{cid}"' in html
        assert image.get_content_disposition() == "inline"
        assert image.get_filename() == f"ticket-{ticket.id}.png"
        assert image.get_content() == qr_image(code_for(ticket), "png")[0]


# --- the order's tickets ----------------------------------------------------------------------

def test_a_paid_order_emails_the_buyer_their_tickets(outbox, event, make_order, attendee):
    order = make_order(event, {event.ticket_types[0]: 2}, paid=True)

    (message,) = outbox.messages()
    assert message["To"] == attendee.email
    assert message["From"] == "Ticksy <tickets@ticksy.test>"
    assert message["Subject"] == "Your tickets for Sauti Sol Live"
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    for fact in ("Sauti Sol Live", "Carnivore Grounds, Nairobi", "19:00 (Nairobi time, EAT)",
                 "KES 5,000.00", f"order #{order.id}"):
        assert fact in text
    tickets = order.tickets
    for ticket in tickets:
        assert f"VIP ticket #{ticket.id}, holder {attendee.name}" in text
    assert_qr_inline(message, tickets)
    (delivery,) = deliveries("order_paid")
    assert (delivery.reference, delivery.recipient, delivery.status, delivery.attempts) == (
        f"order:{order.id}", attendee.email, EmailStatus.SENT, 1)


def test_the_same_job_twice_sends_one_email(app, outbox, event, make_order):
    order = make_order(event, paid=True)

    jobs.run(app, "email.order_paid", order.id)
    jobs.run(app, "orders.paid", order.id)

    assert len(outbox.messages()) == 1
    assert len(deliveries("order_paid")) == 1


def test_a_pending_order_sends_nothing(outbox, event, make_order):
    make_order(event)
    assert outbox.messages() == []


def test_emails_can_be_turned_off(app, outbox, event, make_order, monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_ENABLED", False)
    make_order(event, paid=True)
    assert outbox.messages() == [] and deliveries("order_paid") == []


def test_an_order_paid_through_mpesa_emails_once(outbox, event, attendee_client, client, mpesa,
                                                 attendee):
    body = {"event_id": event.id, "items": [{"ticket_type_id": event.ticket_types[0].id,
                                             "quantity": 1}], "payment_method": "mpesa"}
    order = attendee_client.post("/api/orders", json=body).get_json()
    push = attendee_client.post("/api/payments/mpesa/stk-push",
                                json={"order_id": order["id"], "phone": "0712345678"})
    assert push.status_code == 202, push.get_json()
    for url, callback in mpesa.take_callbacks():
        assert client.post(urlsplit(url).path, json=callback).status_code == 200

    assert attendee_client.get(f"/api/orders/{order['id']}").get_json()["status"] == "paid"
    (message,) = outbox.messages()
    assert message["To"] == attendee.email
    tickets = db.session.get(TicketOrder, order["id"]).tickets
    assert_qr_inline(message, tickets)


# --- transfers --------------------------------------------------------------------------------

def test_a_transfer_emails_the_new_holder_the_new_code(outbox, event, make_order, make_user,
                                                       attendee_client, client_for):
    order = make_order(event, paid=True)
    ticket_id = order.tickets[0].id
    friend, third = make_user(name="Achieng Otieno"), make_user(name="Kip Rop")

    response = attendee_client.post(f"/api/tickets/{ticket_id}/transfer",
                                    json={"email": friend.email})
    assert response.status_code == 200
    again = client_for(friend).post(f"/api/tickets/{ticket_id}/transfer",
                                    json={"email": third.email})
    assert again.status_code == 200

    first, second = outbox.messages("A ticket for")
    assert (first["To"], second["To"]) == (friend.email, third.email)
    assert "Achieng Otieno" in first.get_body(("plain",)).get_content()
    ticket = db.session.get(Ticket, ticket_id, populate_existing=True)
    assert_qr_inline(second, [ticket])
    assert images_of(first)[0].get_content() != images_of(second)[0].get_content()
    assert [d.reference.rsplit(":", 1)[0] for d in deliveries("ticket_transferred")] == [
        f"ticket:{ticket_id}"] * 2


# --- cancellation -----------------------------------------------------------------------------

def test_a_cancelled_event_emails_each_holder_once(outbox, event, make_order, make_user, attendee,
                                                   attendee_client, organizer_client):
    other, friend = make_user(name="Other Buyer"), make_user(name="Gift Receiver")
    order = make_order(event, {event.ticket_types[0]: 3}, paid=True)
    make_order(event, {event.ticket_types[0]: 1}, buyer=other, paid=True)
    attendee_client.post(f"/api/tickets/{order.tickets[0].id}/transfer",
                         json={"email": friend.email})

    response = organizer_client.patch(f"/api/events/{event.id}", json={"status": "cancelled"})
    assert response.status_code == 200

    messages = outbox.messages("Cancelled:")
    assert sorted(message["To"] for message in messages) == sorted(
        [attendee.email, other.email, friend.email])
    by_recipient = {message["To"]: message.get_body(("plain",)).get_content()
                    for message in messages}
    assert all("has been cancelled" in text for text in by_recipient.values())
    refunded = f"Your order #{order.id} (KES 7,500.00) has been refunded"
    assert refunded in by_recipient[attendee.email]
    assert "bought the tickets transferred to you has been refunded" in by_recipient[friend.email]
    assert all(images_of(message) == [] for message in messages)
    assert {d.reference for d in deliveries("event_cancelled")} == {f"event:{event.id}"}


def test_cancelling_an_event_twice_emails_nobody_twice(app, outbox, event, make_order,
                                                       organizer_client):
    make_order(event, paid=True)
    organizer_client.patch(f"/api/events/{event.id}", json={"status": "cancelled"})

    jobs.run(app, "email.event_cancelled", event.id)

    assert len(outbox.messages("Cancelled:")) == 1


# --- failures ---------------------------------------------------------------------------------

def test_a_failing_smtp_server_never_fails_the_order(broken_smtp, eager_celery, event,
                                                     make_order):
    order = make_order(event, {event.ticket_types[0]: 2}, paid=True)  # no exception here

    paid = db.session.scalar(select(TicketOrder).where(TicketOrder.id == order.id)
                             .execution_options(populate_existing=True))
    assert paid.status == OrderStatus.PAID
    assert [t.status for t in paid.tickets] == [TicketStatus.VALID] * 2
    (delivery,) = deliveries("order_paid")
    assert (delivery.status, delivery.attempts) == (EmailStatus.FAILED, 3)  # 1 + 2 retries
    assert delivery.last_error.startswith("ConnectionRefusedError")
    assert "hunter2" not in delivery.last_error


def test_a_failed_email_is_sent_by_a_later_run(app, broken_smtp, event, make_order, outbox,
                                               monkeypatch):
    monkeypatch.setitem(app.config, "MAIL_BACKEND", "smtp")
    order = make_order(event, paid=True)  # eager mode: one attempt, so it is the last
    (delivery,) = deliveries("order_paid")
    assert (delivery.status, delivery.attempts) == (EmailStatus.FAILED, 1)

    error = jobs.attempt(app, "email.order_paid", (order.id,), final=False)
    assert isinstance(error, ConnectionRefusedError)
    (delivery,) = deliveries("order_paid")
    assert (delivery.status, delivery.attempts) == (EmailStatus.PENDING, 2)

    monkeypatch.setitem(app.config, "MAIL_BACKEND", "outbox")
    jobs.run(app, "email.order_paid", order.id)
    (delivery,) = deliveries("order_paid")
    assert (delivery.status, delivery.attempts) == (EmailStatus.SENT, 3)
    assert len(outbox.messages()) == 1
