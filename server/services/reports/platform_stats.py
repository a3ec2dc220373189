"""Platform-wide figures for the admin dashboard, each aggregated by the database."""
from sqlalchemy import Select, func, select

from server.extensions import db
from server.models import (Event, EventStatus, OrderStatus, Role, RoleName, Ticket, TicketOrder,
                           TicketStatus, User, user_roles)


def grouped_counts(query: Select, keys: list[str]) -> dict[str, int]:
    """`{key: count}` from a `(key, count)` GROUP BY query, with a zero for every missing key."""
    counts = dict.fromkeys(keys, 0)
    for key, count in db.session.execute(query):
        counts[getattr(key, "value", key)] = count
    return counts


def _user_stats() -> dict:
    by_role = (select(Role.name, func.count(user_roles.c.user_id))
               .join(user_roles, user_roles.c.role_id == Role.id).group_by(Role.name))
    return {"total": db.session.scalar(select(func.count(User.id))),
            "by_role": grouped_counts(by_role, [role.value for role in RoleName])}


def _status_stats(status_column, statuses) -> dict:
    """`{total, by_status}` of a table with a status column, every status present."""
    by_status = select(status_column, func.count()).group_by(status_column)
    counts = grouped_counts(by_status, [status.value for status in statuses])
    return {"total": sum(counts.values()), "by_status": counts}


def _revenue() -> dict[str, str]:
    """Revenue of paid orders per currency, as decimal strings with two places."""
    per_currency = (select(TicketOrder.currency, func.sum(TicketOrder.total))
                    .where(TicketOrder.status == OrderStatus.PAID).group_by(TicketOrder.currency))
    return {currency: f"{amount:.2f}" for currency, amount in db.session.execute(per_currency)}


def ticket_counts(*conditions) -> dict:
    """Tickets issued (every ticket not void) and checked in, among those matching `conditions`."""
    issued, checked_in = db.session.execute(
        select(func.count().filter(Ticket.status != TicketStatus.VOID),
               func.count().filter(Ticket.status == TicketStatus.USED))
        .select_from(Ticket).where(*conditions)).one()
    return {"issued": issued, "checked_in": checked_in}


def get_platform_stats() -> dict:
    """Counts of users, events, orders and tickets, and revenue per currency."""
    return {"users": _user_stats(), "events": _status_stats(Event.status, EventStatus),
            "orders": _status_stats(TicketOrder.status, OrderStatus), "revenue": _revenue(),
            "tickets": ticket_counts()}
