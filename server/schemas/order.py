"""Orders, their items and tickets."""
from flask import has_request_context
from flask_jwt_extended import get_current_user
from marshmallow import Schema, fields, validate

from server.codes.signing import code_for

from server.models import OrderStatus, TicketStatus
from server.schemas.common import Money, PageArgs, PersonOut, UTCDateTime, WholeNumber, text

ID = {"validate": validate.Range(min=1, max=2**31 - 1)}


class OrderItemIn(Schema):
    ticket_type_id = WholeNumber(required=True, **ID)
    quantity = WholeNumber(required=True, validate=validate.Range(min=1, max=100))


class OrderIn(Schema):
    event_id = WholeNumber(required=True, **ID)
    items = fields.List(fields.Nested(OrderItemIn), required=True,
                        validate=validate.Length(min=1, max=20))
    payment_method = fields.String(validate=validate.OneOf(["mpesa", "stripe"]), allow_none=True)


class IdempotencyHeader(Schema):
    idempotency_key = fields.String(data_key="Idempotency-Key",
                                    validate=validate.Length(min=1, max=255))


class OrderListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in OrderStatus]))


class AdminOrderListArgs(OrderListArgs):
    event_id = fields.Integer(**ID)


class EventRefOut(Schema):
    id = fields.Integer()
    title = fields.String()
    starts_at = UTCDateTime()
    venue = fields.String()


class TicketTypeRefOut(Schema):
    id = fields.Integer()
    name = fields.String()


def _code_for_holder(ticket) -> str | None:
    """The signed code, shown to the ticket's holder only and only while it can be used."""
    holder_id = getattr(ticket, "holder_id", None)  # a check-in answer carries none
    viewer = get_current_user() if holder_id and has_request_context() else None
    if viewer is None or holder_id != viewer.id:
        return None
    return code_for(ticket) if ticket.status == TicketStatus.VALID else None


class TicketOut(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    event = fields.Nested(EventRefOut)
    ticket_type = fields.Nested(TicketTypeRefOut)
    holder_name = fields.String()
    status = fields.Function(lambda ticket: ticket.status.value)
    issued_at = UTCDateTime()
    checked_in_at = UTCDateTime(allow_none=True)
    code = fields.Function(_code_for_holder, metadata={
        "description": "The signed code (compact JWS) its QR encodes; for the holder of a valid "
                       "ticket only, otherwise null."})


class OrderItemOut(Schema):
    ticket_type_id = fields.Integer()
    name = fields.String()
    quantity = fields.Integer()
    unit_price = Money()
    subtotal = Money()


class OrderOut(Schema):
    id = fields.Integer()
    status = fields.Function(lambda order: order.status.value)
    buyer = fields.Nested(PersonOut)
    event = fields.Nested(EventRefOut)
    items = fields.List(fields.Nested(OrderItemOut))
    total = Money()
    currency = fields.String()
    payment_method = fields.Function(
        lambda order: order.payment_method.value if order.payment_method else None)
    expires_at = UTCDateTime(allow_none=True)
    created_at = UTCDateTime()
    paid_at = UTCDateTime(allow_none=True)
    needs_refund = fields.Boolean()
    tickets = fields.List(fields.Nested(TicketOut))


class TicketListArgs(PageArgs):
    event_id = fields.Integer(**ID)
    status = fields.String(validate=validate.OneOf([s.value for s in TicketStatus]))


class TicketUpdate(Schema):
    holder_name = text(120, required=True)


class QrArgs(Schema):
    format = fields.String(load_default="png", validate=validate.OneOf(["png", "svg"]))


class TransferIn(Schema):
    email = fields.Email(required=True, validate=validate.Length(max=254))


class ComplimentaryIn(Schema):
    ticket_type_id = WholeNumber(required=True, **ID)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    quantity = WholeNumber(load_default=1, validate=validate.Range(min=1, max=100))
