"""SQLAlchemy models, one module per aggregate."""
from server.models.audit import AUDIT_TARGET_TYPES, AuditAction, AuditEntry
from server.models.base import Base, utcnow
from server.models.email import EmailDelivery, EmailStatus
from server.models.event import Event, EventStatus, TicketType, event_staff
from server.models.gate import CheckinScan, ScanResult
from server.models.order import OrderStatus, PaymentMethod, TicketOrder, TicketOrderItem
from server.models.payment import (Payment, PaymentEvent, PaymentFlag, PaymentProvider,
                                   PaymentStatus, ProviderToken, Refund, RefundMethod,
                                   RefundStatus, StripeWebhookEvent)
from server.models.review import Review
from server.models.ticket import Ticket, TicketStatus
from server.models.user import RevokedToken, Role, RoleName, User, user_roles

__all__ = ["AUDIT_TARGET_TYPES", "AuditAction", "AuditEntry", "Base", "utcnow", "EmailDelivery", "EmailStatus", "CheckinScan", "ScanResult", "Event", "EventStatus", "TicketType", "event_staff", "OrderStatus",
           "PaymentMethod", "TicketOrder", "TicketOrderItem", "Payment", "PaymentEvent",
           "PaymentFlag", "PaymentProvider", "PaymentStatus", "ProviderToken", "Refund",
           "RefundMethod", "RefundStatus", "StripeWebhookEvent", "Review", "Ticket", "TicketStatus",
           "RevokedToken", "Role", "RoleName", "User", "user_roles"]
