"""Reading orders: a buyer's own, an event's, every order for admins."""
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from server.platform.errors import NotFound
from server.extensions import db
from server.models import OrderStatus, TicketOrder, User
from server.services.common.pagination import Page, paginate


def _listing(**filters):
    query = (select(TicketOrder).options(selectinload(TicketOrder.items),
                                         selectinload(TicketOrder.tickets))
             .order_by(TicketOrder.created_at.desc(), TicketOrder.id.desc()))
    for name in ("buyer_id", "event_id"):
        if filters.get(name):
            query = query.where(getattr(TicketOrder, name) == filters[name])
    if filters.get("status"):
        query = query.where(TicketOrder.status == OrderStatus(filters["status"]))
    return query


def list_orders(*, page: int, per_page: int, **filters) -> Page:
    """Orders newest first, filtered by buyer_id, event_id and status."""
    return paginate(_listing(**filters), page=page, per_page=per_page)


def get_order(*, order_id: int, viewer: User) -> TicketOrder:
    """An order, for its buyer, the event's organizer or an admin; else 404."""
    order = db.session.get(TicketOrder, order_id)
    if order is None or not (order.buyer_id == viewer.id or order.event.is_managed_by(viewer)):
        raise NotFound("No such order.")
    return order
