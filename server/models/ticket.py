"""Tickets: one admission each."""
import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, TimestampMixin, enum_column, utcnow
from server.models.event import Event, TicketType
from server.models.order import TicketOrder
from server.models.user import User


class TicketStatus(str, enum.Enum):
    """valid → used (check-in, once) | void (refund, cancellation, organizer)."""

    VALID = "valid"
    USED = "used"
    VOID = "void"


class Ticket(TimestampMixin, Base):
    """One admission to an event, held by one user."""

    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint("status <> 'used' OR checked_in_at IS NOT NULL", name="used_has_check_in"),
        Index("ix_tickets_holder_id_event_id", "holder_id", "event_id"),
        # No index holds a column a check-in changes (status, checked_in_*), and the table's
        # pages keep a fifth free (fillfactor 80, migration 0006): admitting a ticket is then a
        # heap-only update, which writes no index entry.
        Index("ix_tickets_event_id", "event_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ticket_orders.id"), index=True)
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_types.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    holder_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    holder_name: Mapped[str] = mapped_column(String(120))
    status: Mapped[TicketStatus] = mapped_column(enum_column(TicketStatus, "ticket_status"),
                                                 default=TicketStatus.VALID)
    # Changes on transfer, so a code issued for the previous holder stops working.
    nonce: Mapped[str] = mapped_column(String(32))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    checked_in_at: Mapped[datetime | None]
    checked_in_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    checked_in_device: Mapped[str | None] = mapped_column(String(64))
    voided_at: Mapped[datetime | None]

    order: Mapped[TicketOrder] = relationship(back_populates="tickets")
    ticket_type: Mapped[TicketType] = relationship(lazy="joined", innerjoin=True)
    event: Mapped[Event] = relationship(lazy="joined", innerjoin=True)
    holder: Mapped[User] = relationship(foreign_keys=[holder_id])
    checked_in_by: Mapped[User | None] = relationship(foreign_keys=[checked_in_by_id])
