"""Events: the public catalogue and the organizer's CRUD."""
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.common import page_of
from server.schemas.order import ComplimentaryIn, OrderOut
from server.schemas.event import (EventDetailOut, EventIn, EventListArgs, EventOut, EventUpdate,
                                  TicketTypeIn, TicketTypeOut)
from server.platform.security import auth_required, roles_required, optional_user
from server.services import catalog, orders

blp = Blueprint("events", __name__, url_prefix="/api/events", description="Events")


@blp.get("")
@blp.arguments(EventListArgs, location="query")
@blp.response(200, page_of(EventOut))
def list_events(args):
    """Search published events."""
    return catalog.list_events(**args)


@blp.post("")
@roles_required("organizer", "admin")
@blp.arguments(EventIn)
@blp.response(201, EventDetailOut)
def create_event(data):
    """Create an event, optionally with its ticket types."""
    return catalog.create_event(organizer=current_user, data=data)


@blp.get("/<int:event_id>")
@auth_required(optional=True)
@blp.response(200, EventDetailOut)
def get_event(event_id):
    """An event with its ticket types (drafts: owner and admins only)."""
    return catalog.get_visible_event(event_id=event_id, viewer=optional_user())


@blp.patch("/<int:event_id>")
@auth_required()
@blp.arguments(EventUpdate)
@blp.response(200, EventDetailOut)
def update_event(data, event_id):
    """Change an event; `status: cancelled` cancels it."""
    return catalog.update_event(event_id=event_id, actor=current_user, data=data)


@blp.delete("/<int:event_id>")
@auth_required()
@blp.response(204)
def delete_event(event_id):
    """Delete an event that has no orders."""
    catalog.delete_event(event_id=event_id, actor=current_user)


@blp.get("/<int:event_id>/ticket-types")
@auth_required(optional=True)
@blp.response(200, TicketTypeOut(many=True))
def list_ticket_types(event_id):
    """The event's ticket types."""
    return catalog.get_visible_event(event_id=event_id, viewer=optional_user()).ticket_types


@blp.post("/<int:event_id>/ticket-types")
@auth_required()
@blp.arguments(TicketTypeIn)
@blp.response(201, TicketTypeOut)
def create_ticket_type(data, event_id):
    """Add a ticket type to an event."""
    return catalog.create_ticket_type(event_id=event_id, actor=current_user, data=data)


@blp.post("/<int:event_id>/tickets")
@auth_required()
@blp.arguments(ComplimentaryIn)
@blp.response(201, OrderOut)
def issue_complimentary(data, event_id):
    """Issue complimentary tickets to a registered user (they count against inventory)."""
    return orders.issue_complimentary(event_id=event_id, actor=current_user, **data)
