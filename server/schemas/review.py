"""Reviews of events and their rating summary."""
from marshmallow import Schema, fields, validate

from server.schemas.common import PartialSchema, PersonOut, UTCDateTime, WholeNumber, page_of, text


class ReviewIn(Schema):
    rating = WholeNumber(required=True, validate=validate.Range(min=1, max=5))
    comment = text(2000, min_length=0, allow_none=True)


class ReviewUpdate(PartialSchema, ReviewIn):
    """A new rating or comment, or both."""


class ReviewOut(Schema):
    id = fields.Integer()
    event_id = fields.Integer()
    rating = fields.Integer()
    comment = fields.String(allow_none=True)
    user = fields.Nested(PersonOut)
    created_at = UTCDateTime()
    updated_at = UTCDateTime()


class RatingSummaryOut(Schema):
    rating_avg = fields.Float(allow_none=True)
    rating_count = fields.Integer()


class ReviewPage(page_of(ReviewOut)):
    """A page of an event's reviews with the event's rating summary."""

    summary = fields.Nested(RatingSummaryOut, required=True)
