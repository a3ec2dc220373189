"""The audit log as admins read it."""
from marshmallow import Schema, fields, validate

from server.models import AUDIT_TARGET_TYPES, AuditAction
from server.schemas.common import PageArgs, PersonOut, UTCDateTime


class AuditListArgs(PageArgs):
    action = fields.String(validate=validate.OneOf([action.value for action in AuditAction]))
    actor_id = fields.Integer(validate=validate.Range(min=1))
    target_type = fields.String(validate=validate.OneOf(AUDIT_TARGET_TYPES))
    target_id = fields.Integer(validate=validate.Range(min=1))


class AuditEntryOut(Schema):
    id = fields.Integer()
    action = fields.String(metadata={"example": "user.roles_changed"})
    actor = fields.Nested(PersonOut, allow_none=True,
                          metadata={"description": "who decided; null for a command-line action"})
    target_type = fields.String(metadata={"example": "user"})
    target_id = fields.Integer()
    details = fields.Dict(keys=fields.String(), values=fields.Raw(), metadata={
        "example": {"before": ["attendee"], "after": ["attendee", "organizer"]}})
    ip_address = fields.String(allow_none=True)
    request_id = fields.String(allow_none=True)
    created_at = UTCDateTime()
