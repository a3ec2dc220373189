"""Declarative base with a constraint naming convention and shared column helpers."""
from datetime import datetime, timezone

from sqlalchemy import DateTime, Enum, MetaData, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, registry

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base class of every model."""

    registry = registry(metadata=MetaData(naming_convention=NAMING_CONVENTION),
                        type_annotation_map={datetime: DateTime(timezone=True)})


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
