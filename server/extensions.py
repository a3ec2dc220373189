"""Flask extensions, created unbound and initialised in `create_app`.

The flask-smorest `Api` holds one OpenAPI document per app, so `create_app` builds its own.
"""
from flask_cors import CORS
from flask_jwt_extended import JWTManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy

from server.models.base import Base
from server.schemas.common import ErrorSchema


class TicksyApi(Api):
    """flask-smorest Api documenting the house error envelope."""

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Errors are handled by `server.errors`, not by flask-smorest."""


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
jwt = JWTManager()
cors = CORS()
