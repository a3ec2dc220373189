"""Check-in, offline scanning, gate staff and the verification keys."""
from marshmallow import Schema, fields, validate

from server.schemas.common import PersonOut, UTCDateTime
from server.schemas.order import EventRefOut, TicketOut

MAX_CODE = 512
SCAN_RESULTS = ["admitted", "already_checked_in", "conflict", "ticket_void", "invalid_ticket",
                "forbidden"]


class CheckinIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=MAX_CODE))
    device_id = fields.String(validate=validate.Length(min=1, max=64))


class CheckinOut(Schema):
    result = fields.String(metadata={"example": "admitted"})
    ticket = fields.Nested(TicketOut)


class OfflineScanIn(Schema):
    code = fields.String(required=True, validate=validate.Length(min=1, max=MAX_CODE))
    scanned_at = UTCDateTime(required=True)
    device_id = fields.String(required=True, validate=validate.Length(min=1, max=64))


class FirstCheckinOut(Schema):
    checked_in_at = UTCDateTime()
    checked_in_by = fields.Nested(PersonOut)
    device_id = fields.String(allow_none=True)


class SyncResultOut(Schema):
    index = fields.Integer(metadata={"description": "Position of the scan in the request."})
    result = fields.String(validate=validate.OneOf(SCAN_RESULTS), metadata={
        "description": "`conflict`: another device or gate had already admitted this ticket."})
    ticket_id = fields.Integer(allow_none=True)
    device_id = fields.String(allow_none=True)
    first_check_in = fields.Nested(FirstCheckinOut, allow_none=True, metadata={
        "description": "The admission that came first, for conflicts."})


class SyncOut(Schema):
    results = fields.List(fields.Nested(SyncResultOut))
    summary = fields.Dict(keys=fields.String(), values=fields.Integer())


class JwkOut(Schema):
    kty = fields.String(metadata={"example": "OKP"})
    crv = fields.String(metadata={"example": "Ed25519"})
    x = fields.String()
    kid = fields.String()
    alg = fields.String(metadata={"example": "EdDSA"})
    use = fields.String(metadata={"example": "sig"})


class JwksOut(Schema):
    keys = fields.List(fields.Nested(JwkOut))


class CheckinListArgs(Schema):
    since = UTCDateTime(metadata={"description": "Only tickets changed since (a later sync)."})


class GateTicketOut(Schema):
    id = fields.Integer()
    nonce = fields.String(metadata={"description": "A code's `n` must equal it (transfers change it)."})
    status = fields.Function(lambda row: row["status"].value)
    ticket_type_id = fields.Integer()
    holder_name = fields.String()
    checked_in_at = UTCDateTime(allow_none=True)


class CheckinListOut(Schema):
    event = fields.Nested(EventRefOut)
    generated_at = UTCDateTime()
    since = UTCDateTime(allow_none=True)
    keys = fields.List(fields.Nested(JwkOut))
    tickets = fields.List(fields.Nested(GateTicketOut))


class TierCheckinOut(Schema):
    ticket_type_id = fields.Integer()
    name = fields.String()
    issued = fields.Integer()
    checked_in = fields.Integer()


class CheckinStatsOut(Schema):
    event_id = fields.Integer()
    issued = fields.Integer()
    checked_in = fields.Integer()
    by_ticket_type = fields.List(fields.Nested(TierCheckinOut))
    scans = fields.Dict(keys=fields.String(), values=fields.Integer())


class StaffIn(Schema):
    emails = fields.List(fields.Email(validate=validate.Length(max=254)), required=True,
                         validate=validate.Length(max=200))


class StaffOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()


class GateEventOut(Schema):
    """An event whose gate the caller runs."""

    id = fields.Integer()
    title = fields.String()
    venue = fields.String()
    city = fields.String(allow_none=True)
    starts_at = UTCDateTime()
    ends_at = UTCDateTime()
