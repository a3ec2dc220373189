"""What happens at the gate: every scan attempt, admitted or not."""
import enum
from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, enum_column, utcnow


class ScanResult(str, enum.Enum):
    """The answer a scan got."""

    ADMITTED = "admitted"
    ALREADY_CHECKED_IN = "already_checked_in"
    VOID = "ticket_void"
    INVALID = "invalid_ticket"
    FORBIDDEN = "forbidden"
    CONFLICT = "conflict"


class CheckinScan(Base):
    """One scan of one code by one scanner (online, or synced from an offline device)."""

    __tablename__ = "checkin_scans"
    __table_args__ = (Index("ix_checkin_scans_event_id_scanned_at", "event_id", "scanned_at"),)

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id"))
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), index=True)
    scanner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    result: Mapped[ScanResult] = mapped_column(enum_column(ScanResult, "scan_result"))
    offline: Mapped[bool] = mapped_column(default=False, server_default="false")
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
