"""Liveness and database reachability."""
from flask_smorest import Blueprint
from marshmallow import Schema, fields

from server.platform.health import database_ok

blp = Blueprint("health", __name__, url_prefix="/api", description="Health")


class HealthOut(Schema):
    status = fields.String()
    database = fields.String()


@blp.get("/health")
@blp.response(200, HealthOut)
@blp.alt_response(503, schema=HealthOut, description="The database is unreachable")
def health():
    """Report whether the API and its database are up."""
    if database_ok():
        return {"status": "ok", "database": "ok"}
    return {"status": "degraded", "database": "unavailable"}, 503
