"""Tickets: mine, one, renaming, transfer, voiding."""
from flask import Response
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.common import page_of
from server.schemas.order import QrArgs, TicketListArgs, TicketOut, TicketUpdate, TransferIn
from server.platform import ratelimits
from server.platform.security import auth_required
from server.services import orders

blp = Blueprint("tickets", __name__, url_prefix="/api/tickets", description="Tickets")


@blp.get("")
@auth_required()
@blp.arguments(TicketListArgs, location="query")
@blp.response(200, page_of(TicketOut))
def list_my_tickets(args):
    """My tickets, soonest event first."""
    return orders.list_my_tickets(user=current_user, **args)


@blp.get("/<int:ticket_id>")
@auth_required()
@blp.response(200, TicketOut)
def get_ticket(ticket_id):
    """One ticket (its holder, the event's organizer or staff, admins)."""
    return orders.get_ticket(ticket_id=ticket_id, viewer=current_user)


@blp.patch("/<int:ticket_id>")
@auth_required()
@blp.arguments(TicketUpdate)
@blp.response(200, TicketOut)
def rename_holder(data, ticket_id):
    """Change the name on my ticket."""
    return orders.rename_holder(ticket_id=ticket_id, actor=current_user, **data)


@blp.post("/<int:ticket_id>/transfer")
@auth_required()
@ratelimits.transfer
@blp.arguments(TransferIn)
@blp.response(200, TicketOut)
def transfer_ticket(data, ticket_id):
    """Give my ticket to another registered user; its old code stops working."""
    return orders.transfer_ticket(ticket_id=ticket_id, actor=current_user, **data)


@blp.delete("/<int:ticket_id>")
@auth_required()
@blp.response(200, TicketOut)
def void_ticket(ticket_id):
    """Void a ticket (the event's organizer, admins)."""
    return orders.void_ticket(ticket_id=ticket_id, actor=current_user)


@blp.get("/<int:ticket_id>/qr")
@auth_required()
@blp.arguments(QrArgs, location="query")
@blp.response(200, content_type="image/png",
              description="The QR of the ticket's signed code: PNG, or SVG with `format=svg`.")
def ticket_qr(args, ticket_id):
    """The QR code to show at the gate (the ticket's holder only)."""
    image, mimetype = orders.ticket_qr(ticket_id=ticket_id, viewer=current_user, **args)
    return Response(image, mimetype=mimetype, headers={"Cache-Control": "private, no-store"})
