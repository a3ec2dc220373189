"""Tickets: issuing, reading, renaming, transferring and voiding."""
import secrets

from sqlalchemy import exists, or_, select

from server.platform.errors import Conflict, Forbidden, NotFound, ValidationError
from server.extensions import db
from server.codes.signing import code_for
from server.codes.qr import qr_image
from server.models import (AuditAction, Event, Ticket, TicketOrder, TicketStatus, User,
                           event_staff, utcnow)
from server.services.common import audit
from server.services.orders import inventory
from server.services.accounts import find_user_by_email
from server.services.common.pagination import Page, paginate
from server.tasks import jobs

NO_SUCH_TICKET = "No such ticket."


def new_nonce() -> str:
    """A fresh per-issue value; a ticket code names it, so changing it retires old codes."""
    return secrets.token_hex(8)


def issue_tickets(order: TicketOrder) -> list[Ticket]:
    """One valid ticket per admission of a paid order, held by its buyer (no commit)."""
    tickets = [Ticket(order=order, ticket_type_id=item.ticket_type_id, event=order.event,
                      holder=order.buyer, holder_name=order.buyer.name, nonce=new_nonce())
               for item in order.items for _ in range(item.quantity)]
    db.session.add_all(tickets)
    if order.id is None:
        db.session.flush()  # the job below receives the order's id
    jobs.after_commit("orders.paid", order.id)
    return tickets


def void_ticket_row(ticket: Ticket) -> bool:
    """Void a valid ticket and give its place back to the inventory (no commit)."""
    if ticket.status != TicketStatus.VALID:
        return False
    inventory.release_sold(ticket.ticket_type_id, 1)
    ticket.status, ticket.voided_at = TicketStatus.VOID, utcnow()
    return True


def is_staff(user: User, event_id: int) -> bool:
    """True when `user` is gate staff of the event."""
    return db.session.scalar(select(exists().where(event_staff.c.event_id == event_id,
                                                   event_staff.c.user_id == user.id)))


def _visible_ticket(ticket_id: int, viewer: User, *, lock: bool = False) -> Ticket:
    """The ticket for its holder, the event's organizer or staff, or an admin; else 404."""
    query = select(Ticket).where(Ticket.id == ticket_id)
    if lock:
        query = query.with_for_update(of=Ticket).execution_options(populate_existing=True)
    ticket = db.session.scalar(query)
    if ticket is None or not (ticket.holder_id == viewer.id or ticket.event.is_managed_by(viewer)
                              or is_staff(viewer, ticket.event_id)):
        raise NotFound(NO_SUCH_TICKET)
    return ticket


def _held_by(ticket_id: int, user: User) -> Ticket:
    ticket = _visible_ticket(ticket_id, user, lock=True)
    if ticket.holder_id != user.id:
        raise Forbidden("Only the ticket's holder can do this.")
    return ticket


def list_my_tickets(*, user: User, page: int, per_page: int, event_id: int | None = None,
                    status: str | None = None) -> Page:
    """The user's tickets, soonest event first."""
    query = (select(Ticket).join(Ticket.event).where(Ticket.holder_id == user.id)
             .order_by(Event.starts_at, Ticket.id))
    if event_id:
        query = query.where(Ticket.event_id == event_id)
    if status:
        query = query.where(Ticket.status == TicketStatus(status))
    return paginate(query, page=page, per_page=per_page)


def get_ticket(*, ticket_id: int, viewer: User) -> Ticket:
    """One ticket, for its holder, the event's organizer or staff, or an admin."""
    return _visible_ticket(ticket_id, viewer)


def ticket_qr(*, ticket_id: int, viewer: User, format: str = "png") -> tuple[bytes, str]:
    """The QR image of a valid ticket's code, for its holder (others who see the ticket: 403)."""
    ticket = _visible_ticket(ticket_id, viewer)
    if ticket.holder_id != viewer.id:
        raise Forbidden("Only the ticket's holder can show its code.")
    if ticket.status != TicketStatus.VALID:
        raise Conflict(f"This ticket is {ticket.status.value}: it has no code to show.",
                       code="ticket_void" if ticket.status == TicketStatus.VOID else "ticket_used")
    return qr_image(code_for(ticket), format)


def rename_holder(*, ticket_id: int, actor: User, holder_name: str) -> Ticket:
    """Change the name printed on a ticket (its holder only)."""
    ticket = _held_by(ticket_id, actor)
    ticket.holder_name = holder_name
    db.session.commit()
    return ticket


def transfer_ticket(*, ticket_id: int, actor: User, email: str) -> Ticket:
    """Give a valid ticket to another registered user before the event starts."""
    ticket = _held_by(ticket_id, actor)
    if ticket.status != TicketStatus.VALID or ticket.event.starts_at <= utcnow():
        raise Conflict("Only a valid ticket can be transferred, before the event starts.",
                       code="ticket_not_transferable")
    recipient = find_user_by_email(email)
    if recipient is None or not recipient.is_active:
        raise ValidationError(fields={"email": ["No active Ticksy account uses this email."]})
    if recipient.id == actor.id:
        raise ValidationError(fields={"email": ["You already hold this ticket."]})
    ticket.holder_id, ticket.holder_name, ticket.nonce = recipient.id, recipient.name, new_nonce()
    jobs.after_commit("email.ticket_transferred", ticket.id)
    db.session.commit()
    return ticket


def void_ticket(*, ticket_id: int, actor: User) -> Ticket:
    """Void a ticket (the event's organizer or an admin); a used ticket stays used."""
    ticket = _visible_ticket(ticket_id, actor, lock=True)
    if not ticket.event.is_managed_by(actor):
        raise Forbidden("Only the event's organizer or an admin can void a ticket.")
    if ticket.status == TicketStatus.USED:
        raise Conflict("This ticket has already been used.", code="ticket_used")
    if void_ticket_row(ticket):
        audit.record(AuditAction.TICKET_VOIDED, actor=actor, target_type="ticket",
                     target_id=ticket.id, event_id=ticket.event_id, order_id=ticket.order_id,
                     holder_id=ticket.holder_id)
    db.session.commit()
    return ticket


def holds_review_ticket(*, user: User, event: Event) -> bool:
    """A used ticket for the event, or a valid one once it has started (DESIGN.md)."""
    condition = Ticket.status == TicketStatus.USED
    if event.starts_at <= utcnow():
        condition = or_(condition, Ticket.status == TicketStatus.VALID)
    return db.session.scalar(select(exists().where(Ticket.holder_id == user.id,
                                                   Ticket.event_id == event.id, condition)))
