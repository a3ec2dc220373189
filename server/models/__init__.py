"""SQLAlchemy models, one module per aggregate."""
from server.models.base import Base, utcnow
from server.models.event import Event, EventStatus, TicketType, event_staff
from server.models.review import Review
from server.models.user import RevokedToken, Role, RoleName, User, user_roles

__all__ = ["Base", "utcnow", "Event", "EventStatus", "TicketType", "event_staff", "Review",
           "RevokedToken", "Role", "RoleName", "User", "user_roles"]
