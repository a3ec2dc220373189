"""Payments: one row per attempt to pay an order, its raw provider messages, refunds."""
import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (BigInteger, CheckConstraint, ForeignKey, Index, Numeric, String, Text,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, TimestampMixin, enum_column, utcnow
from server.models.order import TicketOrder
from server.models.user import User


class PaymentProvider(str, enum.Enum):
    """Who moves the money."""

    MPESA = "mpesa"
    STRIPE = "stripe"


class PaymentStatus(str, enum.Enum):
    """created → pending → confirmed | failed | cancelled; confirmed → refunded;
    failed | cancelled → confirmed only when the provider confirms the money arrived."""

    CREATED = "created"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    FAILED = "failed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class PaymentFlag(str, enum.Enum):
    """Why a payment needs an admin's eyes."""

    UNKNOWN_RESULT = "unknown_result"
    AMOUNT_MISMATCH = "amount_mismatch"
    QUERY_DISAGREES = "query_disagrees"
    MERCHANT_CONFIG = "merchant_config"
    UNRESOLVED = "unresolved"


class Payment(TimestampMixin, Base):
    """One attempt to pay one order with one provider."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("user_id", "idempotency_key"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("status NOT IN ('confirmed', 'refunded') OR confirmed_at IS NOT NULL",
                        name="confirmed_has_confirmed_at"),
        Index("ix_payments_order_id_status", "order_id", "status"),
        Index("ix_payments_due_queries", "next_query_at", postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ticket_orders.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    provider: Mapped[PaymentProvider] = mapped_column(enum_column(PaymentProvider, "payment_provider"))
    status: Mapped[PaymentStatus] = mapped_column(enum_column(PaymentStatus, "payment_status"),
                                                  default=PaymentStatus.CREATED)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    phone: Mapped[str | None] = mapped_column(String(12))
    # sha256 of the secret token in the M-Pesa callback URL.
    callback_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    checkout_request_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    merchant_request_id: Mapped[str | None] = mapped_column(String(64))
    mpesa_receipt: Mapped[str | None] = mapped_column(String(32), unique=True)
    stripe_session_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_payment_intent: Mapped[str | None] = mapped_column(String(255), unique=True)
    checkout_url: Mapped[str | None] = mapped_column(Text)
    result_code: Mapped[str | None] = mapped_column(String(32))
    result_desc: Mapped[str | None] = mapped_column(String(255))
    flag: Mapped[PaymentFlag | None] = mapped_column(enum_column(PaymentFlag, "payment_flag"))
    # Money that arrived but could not buy the order (expired and sold out, cancelled, paid twice).
    needs_refund: Mapped[bool] = mapped_column(default=False, server_default="false")
    confirmed_at: Mapped[datetime | None]
    expires_at: Mapped[datetime | None]
    next_query_at: Mapped[datetime | None]
    queried_at: Mapped[datetime | None]
    query_count: Mapped[int] = mapped_column(default=0, server_default="0")
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    order: Mapped[TicketOrder] = relationship()
    user: Mapped[User] = relationship()
    refunds: Mapped[list["Refund"]] = relationship(back_populates="payment", order_by="Refund.id")

    @property
    def receipt(self) -> str | None:
        """The provider's reference for the money: M-Pesa receipt or Stripe PaymentIntent."""
        return self.mpesa_receipt or self.stripe_payment_intent


class PaymentEvent(Base):
    """Append-only log of every raw message sent to or received from a provider."""

    __tablename__ = "payment_events"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    kind: Mapped[str] = mapped_column(String(64))
    http_status: Mapped[int | None]
    body: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class StripeWebhookEvent(Base):
    """A Stripe event already processed (webhooks may arrive more than once)."""

    __tablename__ = "stripe_webhook_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)


class RefundMethod(str, enum.Enum):
    """Stripe refunds through its API; M-Pesa reversals are executed by an admin."""

    STRIPE = "stripe"
    MANUAL = "manual"


class RefundStatus(str, enum.Enum):
    """pending → succeeded | failed."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(TimestampMixin, Base):
    """Money given back for one payment."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    method: Mapped[RefundMethod] = mapped_column(enum_column(RefundMethod, "refund_method"))
    status: Mapped[RefundStatus] = mapped_column(enum_column(RefundStatus, "refund_status"),
                                                 default=RefundStatus.PENDING)
    stripe_refund_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    # What the admin did for a manual refund (e.g. the reversal's receipt), or why it failed.
    reference: Mapped[str | None] = mapped_column(String(255))
    reason: Mapped[str | None] = mapped_column(String(255))
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    completed_at: Mapped[datetime | None]

    payment: Mapped[Payment] = relationship(back_populates="refunds")


class ProviderToken(Base):
    """A provider access token shared by every worker (Daraja allows one live token)."""

    __tablename__ = "provider_tokens"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
