"""The audit log: who decided what, and when (admin and organizer decisions, refunds, voids)."""
import enum
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, utcnow
from server.models.user import User


class AuditAction(str, enum.Enum):
    """What an entry records. Stored as text without a CHECK: a new action needs no migration."""

    USER_ADMIN_CREATED = "user.admin_created"
    USER_ROLES_CHANGED = "user.roles_changed"
    USER_UPDATED = "user.updated"
    USER_DEACTIVATED = "user.deactivated"
    USER_REACTIVATED = "user.reactivated"
    ORDER_CANCELLED = "order.cancelled"
    ORDER_REFUNDED = "order.refunded"
    TICKET_VOIDED = "ticket.voided"
    TICKETS_COMPLIMENTARY = "tickets.complimentary_issued"
    EVENT_CANCELLED = "event.cancelled"
    EVENT_DELETED = "event.deleted"
    EVENT_STAFF_CHANGED = "event.staff_changed"
    REVIEW_REMOVED = "review.removed"
    PAYMENT_REFUND_REQUESTED = "payment.refund_requested"
    REFUND_COMPLETED_MANUALLY = "refund.completed_manually"


AUDIT_TARGET_TYPES = ("user", "order", "ticket", "event", "review", "payment", "refund")


class AuditEntry(Base):
    """One recorded decision; append-only (a database trigger refuses UPDATE and DELETE)."""

    __tablename__ = "audit_entries"
    __table_args__ = (
        Index("ix_audit_entries_target", "target_type", "target_id"),
        Index("ix_audit_entries_action", "action"),
        Index("ix_audit_entries_actor_id", "actor_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    # Null when nobody signed in made the decision (the `flask create-admin` command).
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str] = mapped_column(String(32))
    target_id: Mapped[int] = mapped_column(BigInteger)
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")
    ip_address: Mapped[str | None] = mapped_column(String(45))
    request_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship(lazy="joined")
