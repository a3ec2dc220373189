"""Accounts: users, roles and revoked tokens."""
import enum
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, TimestampMixin


class RoleName(str, enum.Enum):
    """The platform roles."""

    ADMIN = "admin"
    ORGANIZER = "organizer"
    ATTENDEE = "attendee"


user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class Role(Base):
    """A named role; the three rows are created by the initial migration."""

    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(20), unique=True)


class User(TimestampMixin, Base):
    """A person with an account. Email is stored lower-cased, so unique case-insensitively."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(12))
    password_hash: Mapped[str] = mapped_column(String(60))
    is_active: Mapped[bool] = mapped_column(default=True, server_default="true")

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin",
                                             order_by=Role.name)

    @property
    def role_names(self) -> list[str]:
        """The user's role names, sorted."""
        return sorted(role.name for role in self.roles)

    def has_role(self, *names: str) -> bool:
        """True when the user holds any of `names`."""
        return any(role.name in names for role in self.roles)


class RevokedToken(Base):
    """A JWT revoked before its expiry (logout). Rows past `expires_at` may be purged."""

    __tablename__ = "revoked_tokens"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
