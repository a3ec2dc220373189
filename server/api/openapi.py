"""The OpenAPI document: flask-smorest's Api with the house error envelope and money format."""
from flask_smorest import Api

from server.schemas.common import ErrorSchema, Money


class TicksyApi(Api):
    """flask-smorest Api documenting the house error envelope.

    It holds one OpenAPI document per app, so `create_app` builds its own.
    """

    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self):
        """Errors are handled by `server.platform.errors`, not by flask-smorest."""

    def _init_spec(self, *args, **kwargs):
        """Money is sent as a decimal string ("1500.00"), not a JSON number."""
        super()._init_spec(*args, **kwargs)
        self.register_field(Money, "string", "decimal")
