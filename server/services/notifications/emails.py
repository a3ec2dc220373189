"""Ticket emails: an order's tickets once it is paid, a transferred ticket, a cancelled event.

Each is a job that receives an id and runs after the commit that caused it. A message goes out at
most once: one EmailDelivery row per (kind, reference, recipient), row-locked while it is sent and
marked sent after. Any failure is recorded on the row and raised, so the job runner retries it;
on the last attempt the row is marked failed.
"""
import functools
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from typing import Callable, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, render_template
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from server.platform import mail
from server.extensions import db
from server.codes.signing import code_for
from server.codes.qr import qr_image
from server.models import (EmailDelivery, EmailStatus, Event, EventStatus, OrderStatus, Ticket,
                           TicketOrder, TicketStatus, utcnow)
from server.tasks import jobs

RETRY_ANY = (Exception,)

try:
    NAIROBI = ZoneInfo("Africa/Nairobi")
except ZoneInfoNotFoundError:  # no time zone database here; Kenya keeps UTC+3 all year
    NAIROBI = timezone(timedelta(hours=3), "EAT")


class TicketView(NamedTuple):
    """What an email shows of one ticket; `cid` names its inline QR image (None: no QR)."""

    id: int
    tier: str
    holder_name: str
    cid: str | None


def nairobi_time(moment: datetime) -> str:
    """A time as the emails show it: in Nairobi, and saying so."""
    local = moment.astimezone(NAIROBI)
    return f"{local:%A} {local.day} {local:%B %Y, %H:%M} (Nairobi time, EAT)"


def money(amount, currency: str) -> str:
    """An amount as the emails show it."""
    return f"{currency} {amount:,.2f}" if amount else "Free"


def _event_context(event: Event) -> dict:
    return {"event": event, "starts": nairobi_time(event.starts_at),
            "base_url": (current_app.config.get("APP_BASE_URL") or "").rstrip("/")}


def _qr(ticket: Ticket) -> mail.InlineImage:
    data, mimetype = qr_image(code_for(ticket), "png")
    return mail.InlineImage(cid=f"ticket-{ticket.id}@ticksy", data=data, mimetype=mimetype,
                            filename=f"ticket-{ticket.id}.png")


def _message(template: str, *, to: str, subject: str, tickets: list[Ticket], with_qr: bool,
             **context) -> EmailMessage:
    images = [_qr(ticket) for ticket in tickets] if with_qr else [None] * len(tickets)
    views = [TicketView(ticket.id, ticket.ticket_type.name, ticket.holder_name,
                        image.cid if image else None) for ticket, image in zip(tickets, images)]
    context.update(tickets=views, subject=subject)
    return mail.build_message(
        to=to, subject=subject, text=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
        images=tuple(image for image in images if image))


def email_job(name: str):
    """Register an email job: retried on any error, and doing nothing while MAIL_ENABLED is off."""

    def register(fn):
        @functools.wraps(fn)
        def run(*ids) -> None:
            if current_app.config["MAIL_ENABLED"]:
                fn(*ids)

        return jobs.job(name, retry_on=RETRY_ANY)(run)

    return register


def _key(kind: str, reference: str, recipient: str) -> dict:
    return {"kind": kind, "reference": reference, "recipient": recipient}


def _claim(key: dict, subject: str) -> EmailDelivery:
    """The delivery row for `key`, created pending if new, row-locked for this transaction."""
    db.session.execute(insert(EmailDelivery).values(
        **key, subject=subject[:255], status=EmailStatus.PENDING, attempts=0)
        .on_conflict_do_nothing(index_elements=list(key)))
    return db.session.scalar(select(EmailDelivery).filter_by(**key).with_for_update()
                             .execution_options(populate_existing=True))


def deliver(*, kind: str, reference: str, recipient: str, subject: str,
            build: Callable[[], EmailMessage]) -> bool:
    """Send one email unless it was sent already; True when sent now. Failures are recorded
    on the delivery row (failed on the job's last attempt) and raised for a retry."""
    key = _key(kind, reference, recipient)
    if db.session.scalar(select(EmailDelivery.status).filter_by(**key)) == EmailStatus.SENT:
        return False
    delivery = _claim(key, subject)
    if delivery.status == EmailStatus.SENT:  # another run sent it meanwhile
        db.session.rollback()
        return False
    delivery.attempts += 1
    try:
        mail.send(build())
    except Exception as error:
        delivery.last_error = mail.describe_error(error)
        delivery.status = EmailStatus.FAILED if jobs.final_attempt() else EmailStatus.PENDING
        db.session.commit()
        raise
    delivery.status, delivery.sent_at = EmailStatus.SENT, utcnow()
    db.session.commit()
    return True


@email_job("email.order_paid")
def send_order_paid(order_id: int) -> None:
    """Email the buyer of a paid order their tickets, each with its QR code inline."""
    order = db.session.get(TicketOrder, order_id)
    if order is None or order.status != OrderStatus.PAID:
        return
    tickets = [ticket for ticket in order.tickets
               if ticket.status == TicketStatus.VALID and ticket.holder_id == order.buyer_id]
    if not tickets:
        return
    to, subject = order.buyer.email, f"Your tickets for {order.event.title}"
    deliver(kind="order_paid", reference=f"order:{order.id}", recipient=to, subject=subject,
            build=lambda: _message("order_paid", to=to, subject=subject, tickets=tickets,
                                   with_qr=True, order=order, buyer=order.buyer,
                                   total=money(order.total, order.currency),
                                   **_event_context(order.event)))


@email_job("email.ticket_transferred")
def send_ticket_transferred(ticket_id: int) -> None:
    """Email a transferred ticket, with its new QR code, to its new holder."""
    ticket = db.session.get(Ticket, ticket_id)
    if ticket is None or ticket.status != TicketStatus.VALID:
        return
    to, subject = ticket.holder.email, f"A ticket for {ticket.event.title} is now yours"
    deliver(kind="ticket_transferred", reference=f"ticket:{ticket.id}:{ticket.nonce}",
            recipient=to, subject=subject,
            build=lambda: _message("ticket_transferred", to=to, subject=subject,
                                   tickets=[ticket], with_qr=True, holder=ticket.holder,
                                   **_event_context(ticket.event)))


@email_job("email.event_cancelled")
def send_event_cancelled(event_id: int) -> None:
    """Tell every holder of a cancelled event's tickets, once each, that it is off and refunded.

    Every holder is tried; if any email failed, the job fails afterwards and is retried (the
    emails already sent are skipped then)."""
    event = db.session.get(Event, event_id)
    if event is None or event.status != EventStatus.CANCELLED:
        return
    held = defaultdict(list)
    for ticket in db.session.scalars(select(Ticket).where(Ticket.event_id == event_id)
                                     .order_by(Ticket.id)):
        held[ticket.holder_id].append(ticket)
    errors = []
    for tickets in held.values():
        try:
            _send_cancellation(event, tickets)
        except Exception as error:  # the other holders are still told; the job retries this one
            db.session.rollback()
            errors.append(error)
    if errors:
        raise errors[0]


def _send_cancellation(event: Event, tickets: list[Ticket]) -> None:
    holder = tickets[0].holder
    to, subject = holder.email, f"Cancelled: {event.title}"
    orders = {ticket.order.id: ticket.order for ticket in tickets}
    own = [order for order in orders.values() if order.buyer_id == holder.id]
    refunded = [{"id": order.id, "total": money(order.total, order.currency)}
                for order in own if order.total > 0]
    deliver(kind="event_cancelled", reference=f"event:{event.id}", recipient=to, subject=subject,
            build=lambda: _message("event_cancelled", to=to, subject=subject, tickets=tickets,
                                   with_qr=False, holder=holder, own_orders=refunded,
                                   gifted=len(own) < len(orders), **_event_context(event)))
