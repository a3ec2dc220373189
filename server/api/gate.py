"""At the gate: check-in, offline scans, gate staff, check-in figures, verification keys."""
from flask_jwt_extended import current_user, get_jwt
from flask_smorest import Blueprint

from server.platform.errors import ValidationError
from server.codes.signing import ticket_codes
from server.schemas.common import PageArgs, page_of
from server.schemas.gate import (CheckinIn, CheckinListArgs, CheckinListOut, CheckinOut,
                                 CheckinStatsOut, GateEventOut, JwksOut, OfflineScanIn, StaffIn,
                                 StaffOut, SyncOut)
from server.platform import ratelimits
from server.platform.security import access_claims_required, auth_required, token_claims
from server.services import gate

blp = Blueprint("gate", __name__, url_prefix="/api", description="Check-in at the gate")

MAX_SYNC = 1000


@blp.post("/checkin")
@access_claims_required
@ratelimits.check_in
@blp.arguments(CheckinIn)
@blp.response(200, CheckinOut)
def check_in(data):
    """Admit the ticket a scanned code names, exactly once (event owner, staff, admins)."""
    claims = token_claims()
    return gate.check_in(code=data["code"], scanner_id=int(claims["sub"]),
                         token_id=claims["jti"], device_id=data.get("device_id"))


@blp.post("/checkin/sync")
@auth_required()
@blp.arguments(OfflineScanIn(many=True))
@blp.response(200, SyncOut)
def sync_offline_scans(scans):
    """Scans made offline (`[{code, scanned_at, device_id}]`): admitted, refused or in conflict."""
    if len(scans) > MAX_SYNC:
        raise ValidationError(fields={"_schema": [f"At most {MAX_SYNC} scans per request."]})
    return gate.sync_offline_scans(scanner=current_user, token_id=get_jwt()["jti"],
                                   scans=scans)


@blp.get("/checkin/events")
@auth_required()
@blp.arguments(PageArgs, location="query")
@blp.response(200, page_of(GateEventOut))
def gate_events(args):
    """Events whose gate the caller runs (owned or staffed; all for admins), soonest first."""
    return gate.gate_events(viewer=current_user, **args)


@blp.get("/checkin/public-key")
@blp.response(200, JwksOut)
def public_keys():
    """The JWKS that verifies ticket codes (compact JWS, EdDSA over Ed25519), for offline scanners."""
    return ticket_codes().jwks(), 200, {"Cache-Control": "public, max-age=300"}


@blp.get("/events/<int:event_id>/checkin-list")
@auth_required()
@blp.arguments(CheckinListArgs, location="query")
@blp.response(200, CheckinListOut)
def checkin_list(args, event_id):
    """Every ticket of the event with its nonce and status, plus the keys: verify codes offline."""
    return gate.checkin_list(event_id=event_id, viewer=current_user, **args)


@blp.get("/events/<int:event_id>/checkin-stats")
@auth_required()
@blp.response(200, CheckinStatsOut)
def checkin_stats(event_id):
    """Issued and checked-in tickets per tier, and the scans' results (owner, staff, admins)."""
    return gate.checkin_stats(event_id=event_id, viewer=current_user)


@blp.get("/events/<int:event_id>/staff")
@auth_required()
@blp.response(200, StaffOut(many=True))
def list_staff(event_id):
    """The event's gate staff (owner, admins)."""
    return gate.list_staff(event_id=event_id, actor=current_user)


@blp.put("/events/<int:event_id>/staff")
@auth_required()
@blp.arguments(StaffIn)
@blp.response(200, StaffOut(many=True))
def set_staff(data, event_id):
    """Make exactly these registered users the event's gate staff (owner, admins)."""
    return gate.set_staff(event_id=event_id, actor=current_user, emails=data["emails"])
