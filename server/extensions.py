"""Flask extensions, created unbound and initialised in `create_app`.

The flask-smorest `Api` holds one OpenAPI document per app, so `create_app` builds its own.
"""
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from server.models.base import Base
from server.schemas.common import ErrorSchema, Money


class TicksyApi(Api):
    """flask-smorest Api documenting the house error envelope."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Errors are handled by `server.errors`, not by flask-smorest."""

    def _init_spec(self, *args, **kwargs):
        """Money is sent as a decimal string ("1500.00"), not a JSON number."""
        super()._init_spec(*args, **kwargs)
        self.register_field(Money, "string", "decimal")


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
cors = CORS()
# Limits are declared per route (server/ratelimits.py); settings come from RATELIMIT_* config.
limiter = Limiter(key_func=get_remote_address)
