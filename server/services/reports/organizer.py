"""Organizer reports: an event's orders and attendees, its figures, and the dashboard.

Every figure is aggregated by the database (GROUP BY, or an aggregate with FILTER), so the cost
of a report does not grow with a loop over orders or a query per event. Revenue counts paid
orders only; an event sells in one currency.
"""
from sqlalchemy import Date, Select, case, cast, func, select

from server.extensions import db
from server.models import (Event, OrderStatus, Ticket, TicketOrder, TicketOrderItem, TicketStatus,
                           TicketType, User)
from server.services import orders
from server.services.reports.platform_stats import grouped_counts, ticket_counts
from server.services.common.access import get_managed_event
from server.services.common.pagination import Page, paginate

ADMITTED = (TicketStatus.VALID, TicketStatus.USED)
PAID = TicketOrder.status == OrderStatus.PAID
ITEM_REVENUE = func.sum(TicketOrderItem.unit_price * TicketOrderItem.quantity)


def _zero(column):
    return func.coalesce(column, 0)


def list_event_orders(*, event_id: int, actor: User, page: int, per_page: int,
                      status: str | None = None) -> Page:
    """A page of the event's orders, newest first (its organizer, admins)."""
    event = get_managed_event(event_id=event_id, actor=actor)
    return orders.list_orders(event_id=event.id, status=status, page=page, per_page=per_page)


def _attendees(event_id: int) -> Select:
    """One row per valid or used ticket of the event, in issue order."""
    return (select(Ticket.id.label("ticket_id"), Ticket.holder_name,
                   User.email.label("holder_email"), TicketType.name.label("ticket_type"),
                   Ticket.status, Ticket.order_id, Ticket.checked_in_at)
            .join(User, User.id == Ticket.holder_id)
            .join(TicketType, TicketType.id == Ticket.ticket_type_id)
            .where(Ticket.event_id == event_id, Ticket.status.in_(ADMITTED))
            .order_by(Ticket.id))


def list_attendees(*, event_id: int, actor: User, page: int, per_page: int) -> Page:
    """A page of the event's attendees (its organizer, admins)."""
    event = get_managed_event(event_id=event_id, actor=actor)
    return paginate(_attendees(event.id), page=page, per_page=per_page, scalars=False)


def all_attendees(*, event_id: int, actor: User) -> list:
    """Every attendee row of the event, for a download (its organizer, admins)."""
    event = get_managed_event(event_id=event_id, actor=actor)
    return list(db.session.execute(_attendees(event.id)))


def _owned_event_figures(owner_id: int) -> Select:
    """One row of figures per event of `owner_id`, soonest first."""
    owned = select(Event.id).where(Event.organizer_id == owner_id)
    tiers = (select(TicketType.event_id, func.sum(TicketType.quantity).label("total"),
                    func.sum(TicketType.sold).label("sold"),
                    func.min(TicketType.currency).label("currency"))
             .where(TicketType.event_id.in_(owned)).group_by(TicketType.event_id).subquery())
    paid = (select(TicketOrder.event_id, func.sum(TicketOrder.total).label("revenue"))
            .where(TicketOrder.event_id.in_(owned), PAID).group_by(TicketOrder.event_id).subquery())
    used = (select(Ticket.event_id, func.count().label("checked_in"))
            .where(Ticket.event_id.in_(owned), Ticket.status == TicketStatus.USED)
            .group_by(Ticket.event_id).subquery())
    return (select(Event.id, Event.title, Event.starts_at, Event.status,
                   _zero(tiers.c.sold).label("tickets_sold"),
                   _zero(tiers.c.total).label("tickets_total"),
                   _zero(paid.c.revenue).label("revenue"), tiers.c.currency,
                   _zero(used.c.checked_in).label("checked_in"))
            .outerjoin(tiers, tiers.c.event_id == Event.id)
            .outerjoin(paid, paid.c.event_id == Event.id)
            .outerjoin(used, used.c.event_id == Event.id)
            .where(Event.organizer_id == owner_id).order_by(Event.starts_at, Event.id))


def _totals(per_event: Select) -> dict:
    """The per-event figures summed; `currency` only when every event sells in the same one."""
    rows = per_event.order_by(None).subquery()
    one_currency = func.count(func.distinct(rows.c.currency)) == 1
    return db.session.execute(select(
        func.count().label("events"), _zero(func.sum(rows.c.tickets_sold)).label("tickets_sold"),
        _zero(func.sum(rows.c.tickets_total)).label("tickets_total"),
        _zero(func.sum(rows.c.revenue)).label("revenue"),
        _zero(func.sum(rows.c.checked_in)).label("checked_in"),
        case((one_currency, func.min(rows.c.currency))).label("currency"))).mappings().one()


def get_dashboard(*, user: User) -> dict:
    """Sales, revenue and check-ins of each of `user`'s events, and their totals."""
    per_event = _owned_event_figures(user.id)
    return {"events": list(db.session.execute(per_event).mappings()),
            "totals": _totals(per_event)}


def _event_totals(event_id: int) -> dict:
    revenue = (select(_zero(func.sum(TicketOrder.total)))
               .where(TicketOrder.event_id == event_id, PAID).scalar_subquery())
    return db.session.execute(
        select(_zero(func.sum(TicketType.sold)).label("tickets_sold"),
               _zero(func.sum(TicketType.quantity)).label("tickets_total"),
               func.min(TicketType.currency).label("currency"), revenue.label("revenue"))
        .where(TicketType.event_id == event_id)).mappings().one()


def _paid_items(event_id: int, *columns) -> Select:
    """`columns` over the items of the event's paid orders."""
    return (select(*columns).select_from(TicketOrderItem)
            .join(TicketOrder, TicketOrder.id == TicketOrderItem.order_id)
            .where(TicketOrder.event_id == event_id, PAID))


def _by_ticket_type(event_id: int) -> list:
    revenue = (_paid_items(event_id, TicketOrderItem.ticket_type_id, ITEM_REVENUE.label("revenue"))
               .group_by(TicketOrderItem.ticket_type_id).subquery())
    return list(db.session.execute(
        select(TicketType.id.label("ticket_type_id"), TicketType.name, TicketType.sold,
               TicketType.held, TicketType.quantity, _zero(revenue.c.revenue).label("revenue"))
        .outerjoin(revenue, revenue.c.ticket_type_id == TicketType.id)
        .where(TicketType.event_id == event_id).order_by(TicketType.id)).mappings())


def _sales_by_day(event_id: int) -> list:
    day = cast(func.timezone("UTC", TicketOrder.paid_at), Date)
    query = _paid_items(event_id, day.label("date"),
                        func.sum(TicketOrderItem.quantity).label("tickets"),
                        ITEM_REVENUE.label("revenue"))
    return list(db.session.execute(query.group_by(day).order_by(day)).mappings())


def _check_ins(event_id: int) -> dict:
    issued, checked_in = ticket_counts(Ticket.event_id == event_id).values()
    return {"checked_in": checked_in,
            "check_in_rate": round(checked_in / issued, 4) if issued else 0.0}


def get_event_figures(*, event_id: int, actor: User) -> dict:
    """Sales, revenue, orders and check-ins of one event (its organizer, admins)."""
    event = get_managed_event(event_id=event_id, actor=actor)
    by_status = (select(TicketOrder.status, func.count())
                 .where(TicketOrder.event_id == event.id).group_by(TicketOrder.status))
    return {**_event_totals(event.id), "by_ticket_type": _by_ticket_type(event.id),
            "sales_by_day": _sales_by_day(event.id),
            "orders_by_status": grouped_counts(by_status, [s.value for s in OrderStatus]),
            **_check_ins(event.id)}
