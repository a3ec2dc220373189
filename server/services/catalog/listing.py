"""The event catalogue: one page of events with their figures from a single SQL statement.

The listing is the busiest read of the API, so it is plain SQL: the filters pick a page of
events (with the total count from a window function), and two LATERAL aggregates add each
event's ticket and rating figures for that page only. Rows go to the response as dicts.
"""
from sqlalchemy import text

from server.extensions import db
from server.models import EventStatus, utcnow
from server.services.catalog.events import EventStats
from server.services.common.pagination import Page

_SQL = """
WITH page AS (
    SELECT e.*, count(*) OVER () AS full_count FROM events e
    WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset)
SELECT e.id, e.title, e.description, e.venue, e.city, e.category, e.starts_at, e.ends_at,
       e.image_url, e.status, e.created_at, e.full_count, u.id AS organizer_id,
       u.name AS organizer_name, t.price_from, t.currency, t.total, t.available, r.avg, r.count
FROM page e
JOIN users u ON u.id = e.organizer_id
LEFT JOIN LATERAL (
    SELECT min(price) AS price_from, min(currency) AS currency, sum(quantity) AS total,
           sum(greatest(quantity - sold - held, 0)) AS available
    FROM ticket_types WHERE event_id = e.id) t ON true
LEFT JOIN LATERAL (
    SELECT avg(rating) AS avg, count(*) AS count FROM reviews WHERE event_id = e.id) r ON true
ORDER BY {order}
"""
_ORDERS = {"starts_at": "e.starts_at, e.id", "-starts_at": "e.starts_at DESC, e.id",
           "title": "lower(e.title), e.id"}
_CONDITIONS = {
    "q": "(e.title ILIKE :q OR e.description ILIKE :q OR e.venue ILIKE :q)",
    "category": "lower(e.category) = lower(:category)",
    "city": "lower(e.city) = lower(:city)",
    "starts_after": "e.starts_at >= :starts_after",
    "starts_before": "e.starts_at < :starts_before",
    "organizer_id": "e.organizer_id = :organizer_id",
    "status": "e.status = :status",
}


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _where(filters: dict, include_unpublished: bool) -> tuple[str, dict]:
    params = {name: filters[name] for name in _CONDITIONS if filters.get(name)}
    if "q" in params:
        params["q"] = _like(params["q"])
    conditions = [_CONDITIONS[name] for name in params]
    if not filters.get("include_past", True):
        conditions.append("e.ends_at > :now")
        params["now"] = utcnow()
    if not include_unpublished:
        conditions.append("e.status = 'published'")
    return " AND ".join(conditions) or "true", params


def _item(row) -> dict:
    item = dict(row._mapping)
    item["status"] = EventStatus(item["status"])
    item["organizer"] = {"id": item.pop("organizer_id"), "name": item.pop("organizer_name")}
    item["stats"] = EventStats.from_aggregates(
        *(item.pop(name) for name in ("price_from", "currency", "total", "available", "avg", "count")))
    return item


def _count(where: str, params: dict) -> int:
    # `where` is built by _where from constant fragments; every value is a bound parameter.
    return db.session.scalar(text(f"SELECT count(*) FROM events e WHERE {where}"), params)  # nosec B608


def list_events(*, page: int, per_page: int, include_unpublished: bool = False,
                sort: str = "starts_at", **filters) -> Page:
    """A page of events with their figures; only published ones unless `include_unpublished`."""
    where, params = _where(filters, include_unpublished)
    sql = text(_SQL.format(where=where, order=_ORDERS[sort]))
    rows = db.session.execute(sql, {**params, "limit": per_page,
                                    "offset": (page - 1) * per_page}).all()
    total = rows[0].full_count if rows else (_count(where, params) if page > 1 else 0)
    return Page(items=[_item(row) for row in rows], page=page, per_page=per_page, total=total)
