"""Events: creation, visibility, changes of status and deletion."""
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Select, exists, func, select, true
from sqlalchemy.orm import selectinload

from server.platform.errors import Conflict, NotFound, ValidationError
from server.extensions import db
from server.models import (AuditAction, Event, EventStatus, Review, TicketOrder, TicketType, User,
                           utcnow)
from server.services import orders
from server.services.common import audit
from server.services.common.access import get_managed_event
from server.tasks import jobs

EVENT_CANCELLED = Conflict("The event is cancelled and can no longer be changed.",
                           code="event_cancelled")


def check_currency(currencies) -> None:
    """All tiers of one event are priced in one currency."""
    if len(set(currencies)) > 1:
        raise ValidationError(fields={"currency": ["All ticket types of an event use one currency."]})


@dataclass
class EventStats:
    """Figures derived from an event's ticket types and reviews."""

    price_from: Decimal | None
    currency: str | None
    tickets_total: int
    tickets_available: int
    rating_avg: float | None
    rating_count: int

    @property
    def sold_out(self) -> bool:
        return self.tickets_total > 0 and self.tickets_available == 0

    @classmethod
    def from_aggregates(cls, price_from, currency, total, available, avg, count) -> "EventStats":
        """Stats from the SQL aggregates (NULL sums and averages when there is nothing)."""
        return cls(price_from=price_from, currency=currency, tickets_total=int(total or 0),
                   tickets_available=int(available or 0),
                   rating_avg=round(float(avg), 2) if avg is not None else None,
                   rating_count=int(count or 0))


def _with_stats_query() -> Select:
    """Events with their stats columns, computed per row by two LATERAL aggregates."""
    tiers = (select(func.min(TicketType.price).label("price_from"),
                    func.min(TicketType.currency).label("currency"),
                    func.coalesce(func.sum(TicketType.quantity), 0).label("total"),
                    func.coalesce(func.sum(func.greatest(
                        TicketType.quantity - TicketType.sold - TicketType.held, 0)), 0)
                    .label("available"))
             .where(TicketType.event_id == Event.id).lateral("tiers"))
    ratings = (select(func.avg(Review.rating).label("avg"), func.count(Review.id).label("count"))
               .where(Review.event_id == Event.id).lateral("ratings"))
    return (select(Event, tiers.c.price_from, tiers.c.currency, tiers.c.total, tiers.c.available,
                   ratings.c.avg, ratings.c.count)
            .select_from(Event).outerjoin(tiers, true()).outerjoin(ratings, true()))


def _attach(row) -> Event:
    event, *aggregates = row
    event.stats = EventStats.from_aggregates(*aggregates)
    return event


def get_visible_event(*, event_id: int, viewer: User | None,
                      not_found: str = "No such event.") -> Event:
    """The event with its stats and tiers; drafts only for their owner and admins, else 404."""
    row = db.session.execute(_with_stats_query().where(Event.id == event_id)
                             .options(selectinload(Event.ticket_types))).first()
    event = _attach(row) if row is not None else None
    if event is None or (event.status == EventStatus.DRAFT and not event.is_managed_by(viewer)):
        raise NotFound(not_found)
    return event


def create_event(*, organizer: User, data: dict) -> Event:
    """Create an event (and its ticket types) owned by `organizer`."""
    tiers = data.pop("ticket_types", [])
    check_currency([tier.get("currency", "KES") for tier in tiers])
    status = EventStatus(data.pop("status", EventStatus.DRAFT.value))
    event = Event(organizer=organizer, status=status, **data)
    event.ticket_types = [TicketType(**tier) for tier in tiers]
    db.session.add(event)
    db.session.commit()
    return get_visible_event(event_id=event.id, viewer=organizer)


def _check_transition(event: Event, new: EventStatus) -> None:
    if new == event.status:
        return
    if event.status == EventStatus.CANCELLED:
        raise EVENT_CANCELLED
    if new == EventStatus.DRAFT and any(t.sold or t.held for t in event.ticket_types):
        raise Conflict("An event with sales cannot go back to draft; cancel it instead.",
                       code="event_has_sales")


def _check_times(event: Event, data: dict) -> None:
    starts_at, ends_at = data.get("starts_at", event.starts_at), data.get("ends_at", event.ends_at)
    if ends_at <= starts_at:
        raise ValidationError(fields={"ends_at": ["The event must end after it starts."]})
    if "starts_at" in data and data["starts_at"] != event.starts_at and starts_at <= utcnow():
        raise ValidationError(fields={"starts_at": ["The event must start in the future."]})


def update_event(*, event_id: int, actor: User, data: dict) -> Event:
    """Change an event's details or status; cancelling closes its orders and voids its tickets."""
    event = get_managed_event(event_id=event_id, actor=actor)
    if event.status == EventStatus.CANCELLED and data:
        raise EVENT_CANCELLED
    if "status" in data:
        data["status"] = EventStatus(data["status"])
        _check_transition(event, data["status"])
    _check_times(event, data)
    if data.get("status") == EventStatus.CANCELLED and event.status != EventStatus.CANCELLED:
        closed = orders.close_event_orders(event.id, actor)
        audit.record(AuditAction.EVENT_CANCELLED, actor=actor, target_type="event",
                     target_id=event.id, title=event.title, status_before=event.status.value,
                     **closed)
        jobs.after_commit("email.event_cancelled", event.id)
    for key, value in data.items():
        setattr(event, key, value)
    db.session.commit()
    return get_visible_event(event_id=event.id, viewer=actor)


def delete_event(*, event_id: int, actor: User) -> None:
    """Delete an event that has never sold or held a ticket; otherwise 409."""
    event = get_managed_event(event_id=event_id, actor=actor)
    if db.session.scalar(select(exists().where(TicketOrder.event_id == event.id))):
        raise Conflict("This event has orders; cancel it instead.", code="event_has_orders")
    audit.record(AuditAction.EVENT_DELETED, actor=actor, target_type="event", target_id=event.id,
                 title=event.title, status=event.status.value, organizer_id=event.organizer_id)
    db.session.delete(event)
    db.session.commit()
