"""Users and authentication payloads."""
from marshmallow import Schema, ValidationError, fields, validate

from server.models import RoleName
from server.schemas.common import UTCDateTime, text
from server.platform.passwords import MAX_PASSWORD_BYTES


def _within_bcrypt_bytes(value: str) -> None:
    """bcrypt reads MAX_PASSWORD_BYTES bytes; as many characters outside ASCII (e.g. emoji) are
    more than that."""
    if len(value.encode()) > MAX_PASSWORD_BYTES:
        raise ValidationError(f"Too long: use at most {MAX_PASSWORD_BYTES} bytes (fewer "
                              "characters outside ASCII).")


PASSWORD = {"validate": [validate.Length(min=8, max=MAX_PASSWORD_BYTES,
                                         error="Use between {min} and {max} characters."),
                         _within_bcrypt_bytes]}


class UserOut(Schema):
    id = fields.Integer()
    name = fields.String()
    email = fields.String()
    phone = fields.String(allow_none=True)
    roles = fields.List(fields.String(), attribute="role_names")
    is_active = fields.Boolean()
    created_at = UTCDateTime()


class RegisterIn(Schema):
    name = text(120, required=True)
    email = fields.Email(required=True, validate=validate.Length(max=254))
    password = fields.String(required=True, **PASSWORD)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20),
                          metadata={"example": "0712345678"})
    role = fields.String(load_default=RoleName.ATTENDEE.value,
                         validate=validate.OneOf([RoleName.ATTENDEE.value, RoleName.ORGANIZER.value]))


class LoginIn(Schema):
    email = fields.String(required=True, validate=validate.Length(min=1, max=254))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))


class AuthOut(Schema):
    user = fields.Nested(UserOut)
    access_token = fields.String()
    refresh_token = fields.String()


class AccessTokenOut(Schema):
    access_token = fields.String()


class MeUpdate(Schema):
    name = text(120)
    phone = fields.String(allow_none=True, validate=validate.Length(max=20))
    password = fields.String(**PASSWORD)
    current_password = fields.String(validate=validate.Length(max=1024))
