"""Administration: user filters and changes, role assignment, platform figures."""
from marshmallow import Schema, fields, validate

from server.models import RoleName
from server.schemas.common import PageArgs, PartialSchema, text

ROLE_NAMES = [role.value for role in RoleName]


class AdminUserListArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=200))
    role = fields.String(validate=validate.OneOf(ROLE_NAMES))
    is_active = fields.Boolean()


class AdminUserUpdate(PartialSchema):
    name = text(120)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20),
                          metadata={"example": "0712345678"})
    is_active = fields.Boolean()


class RolesIn(Schema):
    roles = fields.List(fields.String(validate=validate.OneOf(ROLE_NAMES)), required=True,
                        validate=validate.Length(min=1, max=10))


def _counts(example: dict) -> fields.Dict:
    return fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"example": example})


class UserStatsOut(Schema):
    total = fields.Integer()
    by_role = _counts({"admin": 1, "organizer": 4, "attendee": 120})


class EventStatsOut(Schema):
    total = fields.Integer()
    by_status = _counts({"draft": 2, "published": 8, "cancelled": 1})


class OrderStatsOut(Schema):
    total = fields.Integer()
    by_status = _counts({"pending": 3, "paid": 40, "cancelled": 5, "expired": 7, "refunded": 1})


class TicketStatsOut(Schema):
    issued = fields.Integer()
    checked_in = fields.Integer()


class StatsOut(Schema):
    users = fields.Nested(UserStatsOut)
    events = fields.Nested(EventStatsOut)
    orders = fields.Nested(OrderStatsOut)
    revenue = fields.Dict(keys=fields.String(), values=fields.String(),
                          metadata={"example": {"KES": "125000.00"}})
    tickets = fields.Nested(TicketStatsOut)
