"""Platform-wide figures for the admin dashboard."""
from sqlalchemy import Select, func, select

from server.extensions import db
from server.models import Event, EventStatus, Role, RoleName, User, user_roles


def _grouped_counts(query: Select, keys: list[str]) -> dict[str, int]:
    """`{key: count}` from a `(key, count)` GROUP BY query, with a zero for every missing key."""
    counts = dict.fromkeys(keys, 0)
    for key, count in db.session.execute(query):
        counts[getattr(key, "value", key)] = count
    return counts


def _user_stats() -> dict:
    by_role = (select(Role.name, func.count(user_roles.c.user_id))
               .join(user_roles, user_roles.c.role_id == Role.id).group_by(Role.name))
    return {"total": db.session.scalar(select(func.count(User.id))),
            "by_role": _grouped_counts(by_role, [role.value for role in RoleName])}


def _event_stats() -> dict:
    by_status = select(Event.status, func.count(Event.id)).group_by(Event.status)
    counts = _grouped_counts(by_status, [status.value for status in EventStatus])
    return {"total": sum(counts.values()), "by_status": counts}


def _order_stats() -> dict:
    """Orders by status; there are no orders before the order model exists."""
    return {"total": 0, "by_status": {}}


def _revenue() -> dict[str, str]:
    """Paid revenue per currency, as decimal strings; none before the order model exists."""
    return {}


def _ticket_stats() -> dict:
    """Tickets issued and checked in; none before the ticket model exists."""
    return {"issued": 0, "checked_in": 0}


def get_platform_stats() -> dict:
    """Counts of users, events, orders and tickets, and revenue per currency."""
    return {"users": _user_stats(), "events": _event_stats(), "orders": _order_stats(),
            "revenue": _revenue(), "tickets": _ticket_stats()}
