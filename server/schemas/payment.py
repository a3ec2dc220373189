"""Payments, refunds and the provider messages that reach us."""
from marshmallow import Schema, fields, validate

from server.models import PaymentFlag, PaymentProvider, PaymentStatus, RefundStatus
from server.schemas.common import Money, PageArgs, UTCDateTime, WholeNumber, text
from server.schemas.order import ID


def _value(attr):
    return fields.Function(lambda obj: getattr(obj, attr).value if getattr(obj, attr) else None)


class StkPushIn(Schema):
    order_id = WholeNumber(required=True, **ID)
    phone = fields.String(required=True, validate=validate.Length(min=9, max=20))


class CheckoutIn(Schema):
    order_id = WholeNumber(required=True, **ID)


class PaymentOut(Schema):
    id = fields.Integer()
    order_id = fields.Integer()
    provider = _value("provider")
    status = _value("status")
    amount = Money()
    currency = fields.String()
    receipt = fields.String(allow_none=True)
    result_code = fields.String(allow_none=True)
    result_desc = fields.String(allow_none=True)
    phone = fields.String(allow_none=True)
    checkout_request_id = fields.String(allow_none=True)
    checkout_url = fields.String(allow_none=True)
    flag = _value("flag")
    needs_refund = fields.Boolean()
    created_at = UTCDateTime()
    updated_at = UTCDateTime()
    confirmed_at = UTCDateTime(allow_none=True)


class StkPushOut(Schema):
    payment_id = fields.Integer(attribute="id")
    status = _value("status")
    checkout_request_id = fields.String(allow_none=True)
    customer_message = fields.Function(lambda payment: getattr(
        payment, "customer_message", "Check your phone and enter your M-Pesa PIN."))


class CheckoutOut(Schema):
    payment_id = fields.Integer(attribute="id")
    status = _value("status")
    session_id = fields.String(attribute="stripe_session_id")
    checkout_url = fields.String()


class CallbackAck(Schema):
    ResultCode = fields.Integer()
    ResultDesc = fields.String()


class WebhookAck(Schema):
    received = fields.Boolean()
    result = fields.String()


class PaymentListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in PaymentStatus]))
    provider = fields.String(validate=validate.OneOf([p.value for p in PaymentProvider]))
    flag = fields.String(validate=validate.OneOf([f.value for f in PaymentFlag]))
    flagged = fields.Boolean(metadata={"description": "true: carrying any flag; false: none"})
    needs_refund = fields.Boolean()
    order_id = fields.Integer(**ID)


class RefundOut(Schema):
    id = fields.Integer()
    payment_id = fields.Integer()
    amount = Money()
    currency = fields.String()
    method = _value("method")
    status = _value("status")
    stripe_refund_id = fields.String(allow_none=True)
    reference = fields.String(allow_none=True)
    reason = fields.String(allow_none=True)
    created_at = UTCDateTime()
    completed_at = UTCDateTime(allow_none=True)


class RefundListArgs(PageArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in RefundStatus]))
    method = fields.String(validate=validate.OneOf(["stripe", "manual"]))


class RefundCompleteIn(Schema):
    reference = text(255, required=True)
