"""Emails sent (or still to send) to users, one row per message."""
import enum
from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, TimestampMixin, enum_column


class EmailStatus(str, enum.Enum):
    """pending → sent | failed (after the last retry)."""

    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"


class EmailDelivery(TimestampMixin, Base):
    """One email to one recipient about one thing; sending it twice is refused by the key."""

    __tablename__ = "email_deliveries"
    __table_args__ = (UniqueConstraint("kind", "reference", "recipient"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    # What the email is about, e.g. "order:12" or "ticket:7:3" (ticket 7, third holder).
    reference: Mapped[str] = mapped_column(String(64))
    recipient: Mapped[str] = mapped_column(String(255))
    subject: Mapped[str] = mapped_column(String(255))
    status: Mapped[EmailStatus] = mapped_column(enum_column(EmailStatus, "email_status"),
                                                default=EmailStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]
