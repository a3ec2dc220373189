"""Events and ticket types."""
from datetime import datetime, timezone

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from server.models import EventStatus
from server.schemas.common import (Money, PageArgs, PartialSchema, PersonOut, UTCDateTime,
                                   WholeNumber, text)



def _require_order(data: dict, first: str, second: str, message: str) -> None:
    if data.get(first) and data.get(second) and data[second] <= data[first]:
        raise ValidationError(message, second)


class TicketTypeIn(Schema):
    name = text(100, required=True)
    description = text(2000, min_length=0, allow_none=True)
    price = Money(required=True)
    currency = fields.String(load_default="KES",
                             validate=validate.Regexp(r"^[A-Z]{3}$", error="Use a 3-letter ISO code."))
    quantity = WholeNumber(required=True, validate=validate.Range(min=0, max=1_000_000))
    sales_start = UTCDateTime(allow_none=True)
    sales_end = UTCDateTime(allow_none=True)
    max_per_order = WholeNumber(load_default=10, validate=validate.Range(min=1, max=100))

    @validates_schema
    def _window(self, data, **kwargs):
        _require_order(data, "sales_start", "sales_end", "The sales window must end after it starts.")


class TicketTypeUpdate(PartialSchema, TicketTypeIn):
    """Any subset of a ticket type's fields."""


class TicketTypeOut(Schema):
    id = fields.Integer()
    event_id = fields.Integer()
    name = fields.String()
    description = fields.String(allow_none=True)
    price = Money()
    currency = fields.String()
    quantity = fields.Integer()
    sold = fields.Integer()
    available = fields.Integer()
    sales_start = UTCDateTime(allow_none=True)
    sales_end = UTCDateTime(allow_none=True)
    max_per_order = fields.Integer()
    on_sale = fields.Boolean()


class EventIn(Schema):
    title = text(200, required=True)
    description = text(10_000, min_length=0, load_default="")
    venue = text(200, required=True)
    city = text(100, allow_none=True)
    category = text(50, allow_none=True)
    starts_at = UTCDateTime(required=True)
    ends_at = UTCDateTime(required=True)
    image_url = fields.URL(allow_none=True, schemes={"http", "https"},
                           validate=validate.Length(max=500))
    status = fields.String(load_default=EventStatus.DRAFT.value,
                           validate=validate.OneOf([EventStatus.DRAFT.value,
                                                    EventStatus.PUBLISHED.value]))
    ticket_types = fields.List(fields.Nested(TicketTypeIn), load_default=list,
                               validate=validate.Length(max=20))

    @validates_schema
    def _times(self, data, partial=None, **kwargs):
        starts_at = data.get("starts_at")
        if starts_at and not partial and starts_at <= datetime.now(timezone.utc):
            raise ValidationError("The event must start in the future.", "starts_at")
        _require_order(data, "starts_at", "ends_at", "The event must end after it starts.")
        names = [t["name"].lower() for t in data.get("ticket_types", [])]
        if len(names) != len(set(names)):
            raise ValidationError("Ticket type names must be unique.", "ticket_types")


class EventUpdate(PartialSchema, EventIn):
    class Meta:
        exclude = ("ticket_types",)

    status = fields.String(validate=validate.OneOf([s.value for s in EventStatus]))


class EventOut(Schema):
    id = fields.Integer()
    title = fields.String()
    description = fields.String()
    venue = fields.String()
    city = fields.String(allow_none=True)
    category = fields.String(allow_none=True)
    starts_at = UTCDateTime()
    ends_at = UTCDateTime()
    image_url = fields.String(allow_none=True)
    status = fields.Enum(EventStatus, by_value=True)
    organizer = fields.Nested(PersonOut)
    price_from = Money(attribute="stats.price_from", allow_none=True)
    currency = fields.String(attribute="stats.currency", allow_none=True)
    tickets_total = fields.Integer(attribute="stats.tickets_total")
    tickets_available = fields.Integer(attribute="stats.tickets_available")
    sold_out = fields.Boolean(attribute="stats.sold_out")
    rating_avg = fields.Float(attribute="stats.rating_avg", allow_none=True)
    rating_count = fields.Integer(attribute="stats.rating_count")
    created_at = UTCDateTime()


class EventDetailOut(EventOut):
    ticket_types = fields.List(fields.Nested(TicketTypeOut))


class EventListArgs(PageArgs):
    q = fields.String(validate=validate.Length(max=200))
    category = fields.String(validate=validate.Length(max=50))
    city = fields.String(validate=validate.Length(max=100))
    starts_after = UTCDateTime()
    starts_before = UTCDateTime()
    organizer_id = fields.Integer(validate=validate.Range(min=1))
    sort = fields.String(load_default="starts_at",
                         validate=validate.OneOf(["starts_at", "-starts_at", "title"]))
    include_past = fields.Boolean(load_default=False,
                                  metadata={"description": "Also list events that have ended."})


class AdminEventListArgs(EventListArgs):
    status = fields.String(validate=validate.OneOf([s.value for s in EventStatus]))
    include_past = fields.Boolean(load_default=True)
