"""Who may act on what: the checks every domain makes before it changes an event's things."""
from server.platform.errors import Forbidden, NotFound
from server.extensions import db
from server.models import Event, EventStatus, User


def get_managed_event(*, event_id: int, actor: User, not_found: str = "No such event.") -> Event:
    """An event `actor` may change: 404 (`not_found`) if they cannot see it, 403 if not theirs."""
    event = db.session.get(Event, event_id)
    if event is None or (event.status == EventStatus.DRAFT and not event.is_managed_by(actor)):
        raise NotFound(not_found)
    if not event.is_managed_by(actor):
        raise Forbidden("Only the event's organizer or an admin can do this.")
    return event
