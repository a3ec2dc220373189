"""Organizer reports: attendee lists (JSON and CSV), event figures and the dashboard."""
import csv
import io

from marshmallow import Schema, fields, validate

from server.models import EventStatus, TicketStatus
from server.schemas.common import Money, PageArgs, UTCDateTime

# A spreadsheet treats a cell starting with one of these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


class AttendeeListArgs(PageArgs):
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]),
                           metadata={"description": "`csv` downloads the whole list."})


class AttendeeOut(Schema):
    ticket_id = fields.Integer()
    holder_name = fields.String()
    holder_email = fields.String()
    ticket_type = fields.String()
    status = fields.Enum(TicketStatus, by_value=True)
    order_id = fields.Integer()
    checked_in_at = UTCDateTime(allow_none=True)


def _safe_cell(value):
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def attendees_csv(rows) -> str:
    """The attendee rows as CSV text with a header line, formula-like cells defused."""
    schema = AttendeeOut(many=True)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(schema.dump_fields))
    writer.writeheader()
    writer.writerows({key: _safe_cell(value) for key, value in row.items()}
                     for row in schema.dump(rows))
    return buffer.getvalue()


class DashboardEventOut(Schema):
    id = fields.Integer()
    title = fields.String()
    starts_at = UTCDateTime()
    status = fields.Enum(EventStatus, by_value=True)
    tickets_sold = fields.Integer()
    tickets_total = fields.Integer()
    revenue = Money()
    currency = fields.String(allow_none=True, metadata={"example": "KES"})
    checked_in = fields.Integer()


class DashboardTotalsOut(Schema):
    events = fields.Integer()
    tickets_sold = fields.Integer()
    tickets_total = fields.Integer()
    revenue = Money()
    currency = fields.String(allow_none=True, metadata={
        "description": "The currency of every event; null when there are none or they differ."})
    checked_in = fields.Integer()


class DashboardOut(Schema):
    events = fields.List(fields.Nested(DashboardEventOut))
    totals = fields.Nested(DashboardTotalsOut)


class TicketTypeFiguresOut(Schema):
    ticket_type_id = fields.Integer()
    name = fields.String()
    sold = fields.Integer()
    held = fields.Integer()
    quantity = fields.Integer()
    revenue = Money()


class DaySalesOut(Schema):
    date = fields.Date(metadata={"description": "The UTC day the orders were paid."})
    tickets = fields.Integer()
    revenue = Money()


class OrderCountsOut(Schema):
    pending = fields.Integer()
    paid = fields.Integer()
    cancelled = fields.Integer()
    expired = fields.Integer()
    refunded = fields.Integer()


class EventFiguresOut(Schema):
    tickets_sold = fields.Integer()
    tickets_total = fields.Integer()
    revenue = Money()
    currency = fields.String(allow_none=True, metadata={"example": "KES"})
    by_ticket_type = fields.List(fields.Nested(TicketTypeFiguresOut))
    sales_by_day = fields.List(fields.Nested(DaySalesOut))
    orders_by_status = fields.Nested(OrderCountsOut)
    checked_in = fields.Integer()
    check_in_rate = fields.Float(
        metadata={"description": "checked_in / tickets not void; 0 when none."})
