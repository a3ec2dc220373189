"""The Ticksy application factory."""
import os

from flask import Flask

from config import Config, get_config
from server import cli
from server.platform import hardening, logs, nul_guard, ratelimits
from server.platform.errors import register_error_handlers
from server.codes import signing as ticket_codes
from server.api.gate_lane import CheckinLane
from server.api.openapi import TicksyApi
from server.extensions import cors, db, jwt, migrate
from server.platform.flask_app import TicksyFlask
from server.platform.prepared import AUTOCOMMIT_BIND
from server import services, tasks  # noqa: F401  (services: every domain's jobs registered)


def _database_url(app: Flask, config: Config) -> str:
    if config.SQLALCHEMY_DATABASE_URI:
        return config.SQLALCHEMY_DATABASE_URI
    if config.ENV_NAME == "production":
        raise RuntimeError("Production configuration is missing: DATABASE_URL")
    from server.platform.embedded_db import embedded_database_url

    data_dir = config.EMBEDDED_DATABASE_DIR or os.path.join(app.instance_path, "pgdata")
    return embedded_database_url(data_dir)


def create_app(config: str | Config | None = None) -> Flask:
    """Build the app for a config name ('development', 'testing', 'production') or object."""
    config = config if isinstance(config, Config) else get_config(config)
    config.validate()
    app = TicksyFlask(__name__, instance_relative_config=True)
    app.config.from_object(config)
    url = app.config["SQLALCHEMY_DATABASE_URI"] = _database_url(app, config)
    # Single statements that are a transaction by themselves (the gate's admission) run on
    # connections that stay in autocommit mode: no BEGIN/COMMIT round trips, no mode switches.
    app.config["SQLALCHEMY_BINDS"] = {AUTOCOMMIT_BIND: {"url": url,
                                                        "isolation_level": "AUTOCOMMIT"}}
    app.json.sort_keys = False
    logs.init_app(app)  # first: its response hook then runs after every other one

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(os.path.dirname(app.root_path), "migrations"))
    jwt.init_app(app)
    cors.init_app(app, resources={r"/api/*": {"origins": config.CORS_ORIGINS}})
    ratelimits.init_app(app)
    # Inside the proxy fix of hardening: the lane sees the real client address.
    app.wsgi_app = app.extensions["checkin_lane"] = CheckinLane(app, app.wsgi_app)
    hardening.init_app(app)
    nul_guard.init_app(app)
    api = TicksyApi(app, spec_kwargs={"components": {"securitySchemes": {
        "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}}})

    from server.platform import security  # noqa: F401  (registers the JWT callbacks)
    from server.api import register_blueprints

    register_blueprints(api, app)
    register_error_handlers(app)
    cli.register(app)
    ticket_codes.init_app(app)
    tasks.init_app(app)
    return app
