"""Ticket types (tiers): creation, changes and deletion, guarded against sold inventory."""
from sqlalchemy import select

from server.platform.errors import Conflict, NotFound, ValidationError
from server.extensions import db
from server.models import EventStatus, TicketType, User
from server.services.catalog.events import EVENT_CANCELLED, check_currency, get_managed_event
from server.services.common.transactions import commit_or_conflict

NO_SUCH_TICKET_TYPE = "No such ticket type."
NAME_TAKEN = Conflict("This event already has a ticket type with that name.",
                      code="ticket_type_exists")


def create_ticket_type(*, event_id: int, actor: User, data: dict) -> TicketType:
    """Add a tier to an event the actor manages."""
    event = get_managed_event(event_id=event_id, actor=actor)
    if event.status == EventStatus.CANCELLED:
        raise EVENT_CANCELLED
    check_currency([t.currency for t in event.ticket_types] + [data["currency"]])
    if any(t.name.lower() == data["name"].lower() for t in event.ticket_types):
        raise NAME_TAKEN
    ticket_type = TicketType(**data)
    event.ticket_types.append(ticket_type)
    commit_or_conflict(NAME_TAKEN)
    return ticket_type


def _locked_ticket_type(*, ticket_type_id: int, actor: User) -> TicketType:
    """The ticket type, row-locked, if `actor` manages its event (404/403 otherwise)."""
    ticket_type = db.session.scalar(
        select(TicketType).where(TicketType.id == ticket_type_id).with_for_update())
    if ticket_type is None:
        raise NotFound(NO_SUCH_TICKET_TYPE)
    get_managed_event(event_id=ticket_type.event_id, actor=actor, not_found=NO_SUCH_TICKET_TYPE)
    return ticket_type


def update_ticket_type(*, ticket_type_id: int, actor: User, data: dict) -> TicketType:
    """Change a tier; its quantity can never drop below what is sold or held."""
    ticket_type = _locked_ticket_type(ticket_type_id=ticket_type_id, actor=actor)
    if "quantity" in data and data["quantity"] < ticket_type.sold + ticket_type.held:
        raise Conflict("The quantity cannot drop below the tickets already sold or held.",
                       code="quantity_below_sold",
                       details={"sold": ticket_type.sold, "held": ticket_type.held})
    siblings = [t for t in ticket_type.event.ticket_types if t.id != ticket_type.id]
    if "currency" in data:
        check_currency([t.currency for t in siblings] + [data["currency"]])
    if "name" in data and any(t.name.lower() == data["name"].lower() for t in siblings):
        raise NAME_TAKEN
    start, end = (data.get("sales_start", ticket_type.sales_start),
                  data.get("sales_end", ticket_type.sales_end))
    if start and end and end <= start:
        raise ValidationError(fields={"sales_end": ["The sales window must end after it starts."]})
    for key, value in data.items():
        setattr(ticket_type, key, value)
    commit_or_conflict(NAME_TAKEN)
    return ticket_type


def delete_ticket_type(*, ticket_type_id: int, actor: User) -> None:
    """Delete a tier that has never sold or held a ticket."""
    ticket_type = _locked_ticket_type(ticket_type_id=ticket_type_id, actor=actor)
    if ticket_type.sold or ticket_type.held:
        raise Conflict("This ticket type has sales and cannot be deleted.",
                       code="ticket_type_has_sales")
    db.session.delete(ticket_type)
    db.session.commit()
