"""The declarative base (`server.extensions.Base`) and the column helpers every model shares."""
from datetime import datetime, timezone

from sqlalchemy import Enum, func
from sqlalchemy.orm import Mapped, mapped_column

from server.extensions import Base  # noqa: F401  (the models import it from here)


def utcnow() -> datetime:
    """The current time, timezone-aware, in UTC."""
    return datetime.now(timezone.utc)


class TimestampMixin:
    """created_at / updated_at kept by the database and the ORM."""

    created_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(server_default=func.now(), default=utcnow,
                                                 onupdate=utcnow)


def enum_column(enum_cls, name: str) -> Enum:
    """A VARCHAR + CHECK column storing the enum's values (no native PostgreSQL type to migrate)."""
    return Enum(enum_cls, name=name, native_enum=False, create_constraint=True, length=20,
                values_callable=lambda members: [m.value for m in members])
