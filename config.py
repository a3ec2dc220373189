"""Configuration classes, read from the environment (and `.env` when present)."""
import os
from datetime import timedelta

from dotenv import load_dotenv

load_dotenv()


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    """Settings shared by every environment, read when the class is instantiated."""

    ENV_NAME = "base"
    JWT_ACCESS_TOKEN_EXPIRES = timedelta(minutes=15)
    JWT_REFRESH_TOKEN_EXPIRES = timedelta(days=30)
    JWT_TOKEN_LOCATION = ["headers"]

    API_TITLE = "Ticksy API"
    API_VERSION = "1.0.0"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"
    OPENAPI_SWAGGER_UI_URL = "/api/docs/assets/"

    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY = env.get("SECRET_KEY")
        self.JWT_SECRET_KEY = env.get("JWT_SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL")
        # A request waits at most this long for a row lock, then gets 409 `busy` + Retry-After.
        lock_timeout_ms = int(env.get("DB_LOCK_TIMEOUT_MS", "5000"))
        # No pre-ping round trip per request: a connection found dead fails that one request
        # (503) and SQLAlchemy then replaces the pool's connections.
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            "pool_recycle": 1800,
            "connect_args": {"options": f"-c lock_timeout={lock_timeout_ms}"}}
        self.REDIS_URL = env.get("REDIS_URL")
        self.CORS_ORIGINS = _env_list("CORS_ORIGINS")
        self.BCRYPT_LOG_ROUNDS = int(env.get("BCRYPT_LOG_ROUNDS", "12"))
        self.MAX_CONTENT_LENGTH = int(env.get("MAX_CONTENT_LENGTH", str(1024 * 1024)))
        # How long a pending order holds its tickets; card checkout sessions live at least 30 min.
        self.ORDER_HOLD_MINUTES = int(env.get("ORDER_HOLD_MINUTES", "10"))
        self.CARD_ORDER_HOLD_MINUTES = max(30, int(env.get("CARD_ORDER_HOLD_MINUTES", "30")))
        # In-process periodic jobs (order expiry) for running without a broker.
        self.PERIODIC_JOBS = env.get("PERIODIC_JOBS", "0") == "1"
        self.ORDER_SWEEP_SECONDS = float(env.get("ORDER_SWEEP_SECONDS", "30"))
        # With no database URL, development and tests start an embedded PostgreSQL here.
        self.EMBEDDED_DATABASE_DIR = env.get("EMBEDDED_DATABASE_DIR")

    def validate(self) -> None:
        """Refuse to start when a required setting is missing."""


DEVELOPMENT_SECRETS = {"SECRET_KEY": "development-only-secret-key",
                       "JWT_SECRET_KEY": "development-only-jwt-secret-key-0123456789"}


class DevelopmentConfig(Config):
    """Local development: embedded database and development-only secrets."""

    ENV_NAME = "development"
    DEBUG = True

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = self.SECRET_KEY or DEVELOPMENT_SECRETS["SECRET_KEY"]
        self.JWT_SECRET_KEY = self.JWT_SECRET_KEY or DEVELOPMENT_SECRETS["JWT_SECRET_KEY"]
        self.CORS_ORIGINS = self.CORS_ORIGINS or ["http://127.0.0.1:5173", "http://localhost:5173"]
        self.PERIODIC_JOBS = os.environ.get("PERIODIC_JOBS", "1") == "1"


class TestingConfig(Config):
    """The test suite: a real PostgreSQL, cheap hashes."""

    ENV_NAME = "testing"
    TESTING = True

    def __init__(self) -> None:
        super().__init__()
        self.SECRET_KEY = "testing-secret-key"
        self.JWT_SECRET_KEY = "testing-jwt-secret-key-0123456789abcdef"
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL")
        self.BCRYPT_LOG_ROUNDS = 4


class ProductionConfig(Config):
    """Production: every secret comes from the environment; nothing is embedded."""

    ENV_NAME = "production"
    REQUIRED = {"SECRET_KEY": "SECRET_KEY", "JWT_SECRET_KEY": "JWT_SECRET_KEY",
                "SQLALCHEMY_DATABASE_URI": "DATABASE_URL"}

    def __init__(self) -> None:
        super().__init__()
        self.BCRYPT_LOG_ROUNDS = max(12, self.BCRYPT_LOG_ROUNDS)

    def validate(self) -> None:
        """Refuse to start without the production secrets and database."""
        missing = [env for attr, env in self.REQUIRED.items() if not getattr(self, attr)]
        if missing:
            raise RuntimeError(f"Production configuration is missing: {', '.join(missing)}")
        if len(self.JWT_SECRET_KEY) < 32:
            raise RuntimeError("JWT_SECRET_KEY must be at least 32 characters in production")
        reused = [name for name, value in DEVELOPMENT_SECRETS.items() if getattr(self, name) == value]
        if reused:
            raise RuntimeError(f"Development secrets cannot be used in production: {', '.join(reused)}")


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def get_config(name: str | None = None) -> Config:
    """The settings for `name`, or for $TICKSY_ENV (default development)."""
    name = name or os.environ.get("TICKSY_ENV", "development")
    try:
        return CONFIGS[name]()
    except KeyError:
        raise RuntimeError(f"Unknown configuration {name!r}; use one of {sorted(CONFIGS)}") from None
