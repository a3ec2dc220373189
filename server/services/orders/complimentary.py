"""Complimentary tickets issued by an event's organizer."""
from server.platform.errors import Conflict, ValidationError
from server.extensions import db
from server.models import (AuditAction, EventStatus, OrderStatus, PaymentMethod, TicketOrder,
                           TicketOrderItem, TicketType, User, utcnow)
from server.services.common import audit
from server.services.orders import inventory
from server.services.accounts import find_user_by_email
from server.services.common.access import get_managed_event
from server.services.orders.tickets import issue_tickets


def issue_complimentary(*, event_id: int, actor: User, ticket_type_id: int, email: str,
                        quantity: int) -> TicketOrder:
    """Give free tickets to a registered user; they count against the tier's inventory."""
    event = get_managed_event(event_id=event_id, actor=actor)
    if event.status == EventStatus.CANCELLED or event.ends_at <= utcnow():
        raise Conflict("Tickets can no longer be issued for this event.", code="sales_closed")
    tier = db.session.get(TicketType, ticket_type_id)
    if tier is None or tier.event_id != event.id:
        raise ValidationError(fields={"ticket_type_id": ["Not a ticket type of this event."]})
    recipient = find_user_by_email(email)
    if recipient is None or not recipient.is_active:
        raise ValidationError(fields={"email": ["No active Ticksy account uses this email."]})
    if not inventory.take(tier.id, quantity):
        raise inventory.sold_out(tier)
    order = TicketOrder(buyer=recipient, event=event, status=OrderStatus.PAID, total=0,
                        currency=tier.currency, payment_method=PaymentMethod.COMPLIMENTARY,
                        paid_at=utcnow(),
                        items=[TicketOrderItem(ticket_type_id=tier.id, quantity=quantity,
                                               unit_price=0)])
    db.session.add(order)
    issue_tickets(order)
    db.session.flush()
    audit.record(AuditAction.TICKETS_COMPLIMENTARY, actor=actor, target_type="order",
                 target_id=order.id, event_id=event.id, ticket_type_id=tier.id,
                 recipient_id=recipient.id, quantity=quantity)
    db.session.commit()
    return order
