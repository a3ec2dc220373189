"""Changing and deleting one ticket type."""
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.event import TicketTypeOut, TicketTypeUpdate
from server.platform.security import auth_required
from server.services import catalog

blp = Blueprint("ticket_types", __name__, url_prefix="/api/ticket-types",
                description="Ticket types")


@blp.patch("/<int:ticket_type_id>")
@auth_required()
@blp.arguments(TicketTypeUpdate)
@blp.response(200, TicketTypeOut)
def update_ticket_type(data, ticket_type_id):
    """Change a ticket type (its quantity never below what is sold or held)."""
    return catalog.update_ticket_type(ticket_type_id=ticket_type_id, actor=current_user,
                                      data=data)


@blp.delete("/<int:ticket_type_id>")
@auth_required()
@blp.response(204)
def delete_ticket_type(ticket_type_id):
    """Delete a ticket type that has no sales."""
    catalog.delete_ticket_type(ticket_type_id=ticket_type_id, actor=current_user)
