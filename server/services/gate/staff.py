"""Running the gate: who staffs it, what an offline scanner needs, how far check-in has come."""
from datetime import datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select

from server.platform.errors import Forbidden, NotFound, ValidationError
from server.extensions import db
from server.codes.signing import ticket_codes
from server.models import (AuditAction, CheckinScan, Event, EventStatus, Ticket, TicketStatus,
                           TicketType, User, event_staff, utcnow)
from server.services.common import audit
from server.services.common.access import get_managed_event
from server.services.common.pagination import Page, paginate
from server.services.orders import is_staff

MAX_STAFF = 200
SINCE_OVERLAP = timedelta(minutes=1)
GATE_AFTER_END = timedelta(hours=6)


def gate_event(*, event_id: int, viewer: User) -> Event:
    """An event whose gate `viewer` may run (owner, staff, admin); else 404 (drafts) or 403."""
    event = db.session.get(Event, event_id)
    runs_gate = event is not None and (event.is_managed_by(viewer) or is_staff(viewer, event.id))
    if event is None or (event.status == EventStatus.DRAFT and not runs_gate):
        raise NotFound("No such event.")
    if not runs_gate:
        raise Forbidden("Only the event's organizer, its gate staff or an admin can do this.")
    return event


def gate_events(*, viewer: User, page: int, per_page: int) -> Page:
    """Published events whose gate `viewer` runs and that are not long over, soonest first.

    The ones they own or staff; every one for an admin. An event stays listed for
    GATE_AFTER_END after it ends (late arrivals, offline scans to sync).
    """
    query = select(Event).where(Event.status == EventStatus.PUBLISHED,
                                Event.ends_at > utcnow() - GATE_AFTER_END)
    if not viewer.has_role("admin"):
        staffed = select(event_staff.c.event_id).where(event_staff.c.user_id == viewer.id)
        query = query.where(or_(Event.organizer_id == viewer.id, Event.id.in_(staffed)))
    return paginate(query.order_by(Event.starts_at, Event.id), page=page, per_page=per_page)


def list_staff(*, event_id: int, actor: User) -> list[User]:
    """The event's gate staff."""
    get_managed_event(event_id=event_id, actor=actor)
    return _staff(event_id)


def _staff(event_id: int) -> list[User]:
    return list(db.session.scalars(select(User).join(event_staff, event_staff.c.user_id == User.id)
                                   .where(event_staff.c.event_id == event_id).order_by(User.id)))


def set_staff(*, event_id: int, actor: User, emails: list[str]) -> list[User]:
    """Make exactly these registered users the event's gate staff."""
    event = get_managed_event(event_id=event_id, actor=actor)
    wanted = sorted({email.strip().lower() for email in emails})
    if len(wanted) > MAX_STAFF:
        raise ValidationError(fields={"emails": [f"At most {MAX_STAFF} staff per event."]})
    users = list(db.session.scalars(select(User).where(User.email.in_(wanted),
                                                       User.is_active.is_(True))))
    unknown = sorted(set(wanted) - {user.email for user in users})
    if unknown:
        raise ValidationError(fields={"emails": [
            f"No active Ticksy account uses {email}." for email in unknown]})
    before = [user.id for user in _staff(event.id)]
    after = sorted(user.id for user in users)
    db.session.execute(delete(event_staff).where(event_staff.c.event_id == event.id))
    if users:
        db.session.execute(insert(event_staff), [{"event_id": event.id, "user_id": user.id}
                                                 for user in users])
    if before != after:
        audit.record(AuditAction.EVENT_STAFF_CHANGED, actor=actor, target_type="event",
                     target_id=event.id, before=before, after=after)
    db.session.commit()
    return _staff(event.id)


def checkin_list(*, event_id: int, viewer: User, since: datetime | None = None) -> dict:
    """Everything a scanner needs to keep admitting through a network outage."""
    event = gate_event(event_id=event_id, viewer=viewer)
    query = (select(Ticket.id, Ticket.nonce, Ticket.status, Ticket.ticket_type_id,
                    Ticket.holder_name, Ticket.checked_in_at)
             .where(Ticket.event_id == event.id).order_by(Ticket.id))
    if since is not None:  # overlapping: a change committed just after `since` is not missed
        query = query.where(Ticket.updated_at >= since - SINCE_OVERLAP)
    return {"event": event, "generated_at": utcnow(), "since": since,
            "keys": ticket_codes().jwks()["keys"],
            "tickets": [row._asdict() for row in db.session.execute(query)]}


def checkin_stats(*, event_id: int, viewer: User) -> dict:
    """Issued and checked-in tickets, per tier, and what the scans answered."""
    event = gate_event(event_id=event_id, viewer=viewer)
    live = Ticket.status != TicketStatus.VOID
    used = func.count().filter(Ticket.status == TicketStatus.USED)
    tiers = db.session.execute(
        select(TicketType.id, TicketType.name, func.count(Ticket.id).filter(live), used)
        .outerjoin(Ticket, Ticket.ticket_type_id == TicketType.id)
        .where(TicketType.event_id == event.id).group_by(TicketType.id).order_by(TicketType.id))
    by_tier = [{"ticket_type_id": tier_id, "name": name, "issued": issued, "checked_in": checked}
               for tier_id, name, issued, checked in tiers]
    scans = dict(db.session.execute(select(CheckinScan.result, func.count())
                                    .where(CheckinScan.event_id == event.id)
                                    .group_by(CheckinScan.result)).all())
    return {"event_id": event.id, "issued": sum(t["issued"] for t in by_tier),
            "checked_in": sum(t["checked_in"] for t in by_tier), "by_ticket_type": by_tier,
            "scans": {result.value: count for result, count in scans.items()}}
