"""Fields and schemas shared by every resource: errors, pagination, times, money."""
from datetime import timezone
from functools import cache

from marshmallow import Schema, ValidationError, fields, validate

MAX_PER_PAGE = 100


class UTCDateTime(fields.AwareDateTime):
    """ISO 8601 in and out; naive input is taken as UTC; output is UTC with a `Z`."""

    def __init__(self, **kwargs):
        super().__init__(default_timezone=timezone.utc, **kwargs)

    def _serialize(self, value, attr, obj, **kwargs):
        if value is None:
            return None
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).astimezone(timezone.utc)


def _money_range(value) -> None:
    if not 0 <= value < 10**10:
        raise ValidationError("Must be between 0 and 9999999999.99.")


class Money(fields.Decimal):
    """A non-negative amount with two decimal places, sent as a string."""

    def __init__(self, **kwargs):
        kwargs.setdefault("validate", _money_range)
        metadata = {"example": "1500.00", "pattern": r"^\d{1,10}(\.\d{1,2})?$",
                    **kwargs.pop("metadata", {})}
        super().__init__(places=2, as_string=True, metadata=metadata, **kwargs)


class WholeNumber(fields.Integer):
    """An integer in a JSON body: 1.5 or "3" are refused rather than coerced."""

    def __init__(self, **kwargs):
        super().__init__(strict=True, **kwargs)


class Trimmed(fields.String):
    """A string with surrounding white space removed; blank is refused when required."""

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value, attr, data, **kwargs).strip()


def text(max_length: int, *, required: bool = False, min_length: int = 1, **kwargs) -> Trimmed:
    """A trimmed string field of bounded length."""
    return Trimmed(required=required, validate=validate.Length(min=min_length, max=max_length),
                   **kwargs)


class PartialSchema(Schema):
    """Every field optional: the base of the `XUpdate` (PATCH) schemas."""

    def __init__(self, **kwargs):
        kwargs.setdefault("partial", True)
        super().__init__(**kwargs)


class PersonOut(Schema):
    """A user as others see them: id and name only."""

    id = fields.Integer()
    name = fields.String()


class ErrorDetailSchema(Schema):
    code = fields.String(required=True, metadata={"example": "validation_error"})
    message = fields.String(required=True)
    field_errors = fields.Dict(keys=fields.String(), values=fields.Raw(), data_key="fields")
    details = fields.Dict(keys=fields.String(), values=fields.Raw())


class ErrorSchema(Schema):
    """The single error envelope of the API."""

    error = fields.Nested(ErrorDetailSchema, required=True)


class PageArgs(Schema):
    """`?page=&per_page=` of every list."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


@cache
def page_of(item_schema: type[Schema]) -> type[Schema]:
    """The paginated list schema wrapping `item_schema` (one class per item schema)."""
    name = item_schema.__name__.removesuffix("Schema").removesuffix("Out") + "Page"
    return Schema.from_dict({
        "items": fields.List(fields.Nested(item_schema), required=True),
        "page": fields.Integer(required=True),
        "per_page": fields.Integer(required=True),
        "total": fields.Integer(required=True),
        "pages": fields.Integer(required=True),
    }, name=name)
