"""Test data shaped for a scenario, shared by the permission matrix and the fuzz test."""
from datetime import timedelta

from server.extensions import db
from server.models import utcnow


def went_to(event, buyers, make_order):
    """Each buyer gets a paid ticket, then the event is moved to have started (test data only)."""
    for buyer in buyers:
        make_order(event, buyer=buyer, paid=True)
    event.starts_at, event.ends_at = utcnow() - timedelta(hours=2), utcnow() + timedelta(hours=2)
    db.session.commit()
    return event
