"""Events, their gate staff and their ticket types (tiers)."""
import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (CheckConstraint, Column, ForeignKey, Index, Numeric, String, Table, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, TimestampMixin, enum_column, utcnow
from server.models.user import User


class EventStatus(str, enum.Enum):
    """Where an event is in its life."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CANCELLED = "cancelled"


event_staff = Table(
    "event_staff",
    Base.metadata,
    Column("event_id", ForeignKey("events.id", ondelete="CASCADE"), primary_key=True),
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Event(TimestampMixin, Base):
    """Something people buy tickets for."""

    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        Index("ix_events_status_starts_at", "status", "starts_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organizer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="", server_default="")
    venue: Mapped[str] = mapped_column(String(200))
    city: Mapped[str | None] = mapped_column(String(100))
    category: Mapped[str | None] = mapped_column(String(50))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    image_url: Mapped[str | None] = mapped_column(String(500))
    status: Mapped[EventStatus] = mapped_column(
        enum_column(EventStatus, "event_status"),
        default=EventStatus.DRAFT, server_default=EventStatus.DRAFT.value)

    organizer: Mapped[User] = relationship(lazy="joined", innerjoin=True)
    staff: Mapped[list[User]] = relationship(secondary=event_staff, lazy="select")

    def is_managed_by(self, user: User | None) -> bool:
        """Owners and admins manage an event."""
        return user is not None and (user.id == self.organizer_id or user.has_role("admin"))
    ticket_types: Mapped[list["TicketType"]] = relationship(
        back_populates="event", order_by="TicketType.id",
        cascade="all, delete-orphan", passive_deletes=True)


class TicketType(TimestampMixin, Base):
    """A tier of tickets for one event, with its own price and inventory."""

    __tablename__ = "ticket_types"
    __table_args__ = (
        UniqueConstraint("event_id", "name"),
        CheckConstraint("price >= 0", name="price_not_negative"),
        CheckConstraint("quantity >= 0", name="quantity_not_negative"),
        CheckConstraint("sold >= 0", name="sold_not_negative"),
        CheckConstraint("held >= 0", name="held_not_negative"),
        CheckConstraint("sold + held <= quantity", name="not_oversold"),
        CheckConstraint("max_per_order >= 1", name="max_per_order_positive"),
        CheckConstraint("sales_end IS NULL OR sales_start IS NULL OR sales_end > sales_start",
                        name="sales_window_ordered"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3), default="KES", server_default="KES")
    quantity: Mapped[int]
    sold: Mapped[int] = mapped_column(default=0, server_default="0")
    held: Mapped[int] = mapped_column(default=0, server_default="0")
    sales_start: Mapped[datetime | None]
    sales_end: Mapped[datetime | None]
    max_per_order: Mapped[int] = mapped_column(default=10, server_default="10")

    event: Mapped[Event] = relationship(back_populates="ticket_types")

    @property
    def available(self) -> int:
        """Tickets neither sold nor held by a pending order."""
        return max(self.quantity - self.sold - self.held, 0)

    @property
    def on_sale(self) -> bool:
        """True while the event is published, not started, and the sales window is open."""
        now = utcnow()
        return (self.event.status == EventStatus.PUBLISHED and now < self.event.starts_at
                and (self.sales_start is None or self.sales_start <= now)
                and (self.sales_end is None or now < self.sales_end))
