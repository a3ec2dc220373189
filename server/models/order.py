"""Ticket orders and their items."""
import enum
from typing import TYPE_CHECKING
from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Index, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from server.models.base import Base, TimestampMixin, enum_column
from server.models.event import Event, TicketType
from server.models.user import User

if TYPE_CHECKING:
    from server.models.ticket import Ticket


class OrderStatus(str, enum.Enum):
    """pending → paid | cancelled | expired; paid → refunded; expired → paid (late payment)."""

    PENDING = "pending"
    PAID = "paid"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    REFUNDED = "refunded"


class PaymentMethod(str, enum.Enum):
    """How an order is (to be) paid."""

    MPESA = "mpesa"
    STRIPE = "stripe"
    FREE = "free"
    COMPLIMENTARY = "complimentary"


class TicketOrder(TimestampMixin, Base):
    """One purchase by one buyer for one event; holds inventory while pending."""

    __tablename__ = "ticket_orders"
    __table_args__ = (
        UniqueConstraint("buyer_id", "idempotency_key"),
        CheckConstraint("total >= 0", name="total_not_negative"),
        CheckConstraint("status <> 'paid' OR paid_at IS NOT NULL", name="paid_has_paid_at"),
        CheckConstraint("status <> 'pending' OR expires_at IS NOT NULL",
                        name="pending_has_expiry"),
        Index("ix_ticket_orders_buyer_id_created_at", "buyer_id", "created_at"),
        Index("ix_ticket_orders_event_id_status", "event_id", "status"),
        Index("ix_ticket_orders_pending_expiry", "expires_at",
              postgresql_where="status = 'pending'"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    buyer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    status: Mapped[OrderStatus] = mapped_column(enum_column(OrderStatus, "order_status"),
                                                default=OrderStatus.PENDING)
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    payment_method: Mapped[PaymentMethod | None] = mapped_column(
        enum_column(PaymentMethod, "payment_method"))
    expires_at: Mapped[datetime | None]
    paid_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # A confirmed payment that could not be honoured (order expired and inventory gone).
    needs_refund: Mapped[bool] = mapped_column(default=False, server_default="false")
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    buyer: Mapped[User] = relationship()
    event: Mapped[Event] = relationship()
    items: Mapped[list["TicketOrderItem"]] = relationship(
        back_populates="order", order_by="TicketOrderItem.ticket_type_id",
        cascade="all, delete-orphan")
    tickets: Mapped[list["Ticket"]] = relationship(back_populates="order", order_by="Ticket.id")


class TicketOrderItem(Base):
    """A quantity of one ticket type in an order, at the price frozen when ordered."""

    __tablename__ = "ticket_order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "ticket_type_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price >= 0", name="unit_price_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("ticket_orders.id", ondelete="CASCADE"))
    ticket_type_id: Mapped[int] = mapped_column(ForeignKey("ticket_types.id"), index=True)
    quantity: Mapped[int]
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))

    order: Mapped[TicketOrder] = relationship(back_populates="items")
    ticket_type: Mapped[TicketType] = relationship(lazy="joined", innerjoin=True)

    @property
    def name(self) -> str:
        return self.ticket_type.name

    @property
    def subtotal(self) -> Decimal:
        return self.unit_price * self.quantity
