"""Configuration classes, read from the environment (and `.env` when present)."""
import hashlib
import os
import tempfile
from datetime import timedelta

from dotenv import load_dotenv

load_dotenv()

ROOT_DIR = os.path.dirname(os.path.abspath(__file__))


def _host_slots_dir(purpose: str, deployment: str) -> str:
    """A folder shared by the processes of one deployment on this host (same user, same database)."""
    digest = hashlib.sha256(deployment.encode()).hexdigest()[:12]
    return os.path.join(tempfile.gettempdir(), f"ticksy-{purpose}-{os.getuid()}-{digest}")


def usable_cores() -> int:
    """The CPUs this process may use (containers, taskset), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _env_list(name: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, "").split(",") if item.strip()]


class Config:
    """Settings shared by every environment, read when the class is instantiated."""

    ENV_NAME = "base"
    DEFAULT_MPESA_ENV = "simulator"
    DEFAULT_MAIL_BACKEND = "outbox"
    DEFAULT_MAIL_FROM = "Ticksy <tickets@ticksy.test>"
    DEFAULT_LOG_FORMAT = "text"
    DEFAULT_HSTS_SECONDS = 0
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
    # The periodic jobs, each with the setting holding its interval in seconds: the in-process
    # loop and Celery beat both read this list; the services register the jobs themselves.
    PERIODIC_SCHEDULE = (("orders.expire_due", "ORDER_SWEEP_SECONDS"),
                         ("payments.reconcile", "RECONCILE_SECONDS"))

    def __init__(self) -> None:
        env = os.environ
        self.SECRET_KEY = env.get("SECRET_KEY")
        self.JWT_SECRET_KEY = env.get("JWT_SECRET_KEY")
        self.SQLALCHEMY_DATABASE_URI = env.get("DATABASE_URL")
        # A request waits at most this long for a row lock, then gets 409 `busy` + Retry-After.
        lock_timeout_ms = int(env.get("DB_LOCK_TIMEOUT_MS", "5000"))
        # No statement runs longer than this (0: no bound), so no request or job waits on the
        # database for ever; migrations lift it for their own connection (migrations/env.py).
        statement_timeout_ms = int(env.get("DB_STATEMENT_TIMEOUT_MS", "30000"))
        # libpq waits forever for a server that accepts the connection but never answers: a
        # short connect timeout turns an unreachable database into a quick 503 (and /api/health).
        connect_timeout = int(env.get("DB_CONNECT_TIMEOUT", "3"))
        # No pre-ping round trip per request: a connection found dead fails that one request
        # (503) and SQLAlchemy then replaces the pool's connections.
        self.SQLALCHEMY_ENGINE_OPTIONS = {
            "pool_recycle": 1800,
            "connect_args": {"options": f"-c lock_timeout={lock_timeout_ms} "
                                        f"-c statement_timeout={statement_timeout_ms}",
                             "connect_timeout": connect_timeout}}
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
        # Public URL of the web client (Stripe's redirects); unset: the URL of the request.
        self.APP_BASE_URL = env.get("APP_BASE_URL")
        # Scans of forged codes are written in batches at most this many seconds apart.
        self.INVALID_SCAN_FLUSH_SECONDS = float(env.get("INVALID_SCAN_FLUSH_SECONDS", "1"))
        # The built web client served at `/` (`make client` builds it).
        self.CLIENT_DIST = env.get("TICKSY_CLIENT_DIST") or os.path.join(ROOT_DIR, "client", "dist")
        # Logs on stderr: "json" (one object per line, production's default) or "text".
        self.LOG_FORMAT = env.get("LOG_FORMAT", self.DEFAULT_LOG_FORMAT)
        self.LOG_LEVEL = env.get("LOG_LEVEL", "INFO").upper()
        self._payment_settings(env)
        self._job_and_mail_settings(env)
        self._ticket_key_settings(env)
        self._abuse_settings(env)

    def _payment_settings(self, env) -> None:
        # M-Pesa: "simulator" (the bundled fake), "sandbox", "production" or "disabled".
        self.MPESA_ENV = env.get("MPESA_ENV", self.DEFAULT_MPESA_ENV)
        self.MPESA_BASE_URL = env.get("MPESA_BASE_URL")
        self.MPESA_CONSUMER_KEY = env.get("MPESA_CONSUMER_KEY")
        self.MPESA_CONSUMER_SECRET = env.get("MPESA_CONSUMER_SECRET")
        self.MPESA_SHORTCODE = env.get("MPESA_SHORTCODE")
        self.MPESA_PASSKEY = env.get("MPESA_PASSKEY")
        self.MPESA_TRANSACTION_TYPE = env.get("MPESA_TRANSACTION_TYPE", "CustomerPayBillOnline")
        # Till number for CustomerBuyGoodsOnline; unset: the shortcode.
        self.MPESA_PARTY_B = env.get("MPESA_PARTY_B")
        self.MPESA_CALLBACK_BASE_URL = env.get("MPESA_CALLBACK_BASE_URL")
        self.MPESA_ALLOWED_IPS = _env_list("MPESA_ALLOWED_IPS")
        # How long a prompt keeps its order's tickets held, and when to ask Daraja about it.
        self.MPESA_HOLD_SECONDS = int(env.get("MPESA_HOLD_SECONDS", "240"))
        self.MPESA_QUERY_FIRST_SECONDS = int(env.get("MPESA_QUERY_FIRST_SECONDS", "20"))
        self.MPESA_QUERY_INTERVAL_SECONDS = int(env.get("MPESA_QUERY_INTERVAL_SECONDS", "20"))
        self.RECONCILE_SECONDS = float(env.get("RECONCILE_SECONDS", "15"))
        # The simulator answers after this many seconds; a prompt nobody answers times out later.
        self.MPESA_SIMULATOR_DELAY = float(env.get("MPESA_SIMULATOR_DELAY", "3"))
        self.MPESA_SIMULATOR_NO_ANSWER_SECONDS = float(
            env.get("MPESA_SIMULATOR_NO_ANSWER_SECONDS", "30"))
        self.STRIPE_SECRET_KEY = env.get("STRIPE_SECRET_KEY")
        self.STRIPE_WEBHOOK_SECRET = env.get("STRIPE_WEBHOOK_SECRET")
        self.STRIPE_API_BASE = env.get("STRIPE_API_BASE")

    def _job_and_mail_settings(self, env) -> None:
        # Jobs after a commit and periodic jobs: "celery" (a worker, through Redis), "thread"
        # (in-process pool) or "eager" (inline, after commit); Celery whenever a broker is set.
        self.CELERY_BROKER_URL = env.get("CELERY_BROKER_URL") or self.REDIS_URL
        self.CELERY_RESULT_BACKEND = env.get("CELERY_RESULT_BACKEND")
        self.JOBS_MODE = env.get("JOBS_MODE", "celery" if self.CELERY_BROKER_URL else "thread")
        # A job asking to be retried runs again after 30 s, 60 s, 120 s … at most this many times.
        self.JOBS_MAX_RETRIES = int(env.get("JOBS_MAX_RETRIES", "5"))
        self.JOBS_RETRY_DELAY = float(env.get("JOBS_RETRY_DELAY", "30"))
        # Email: "outbox" writes .eml files to MAIL_OUTBOX_DIR (unset: <instance>/outbox); "smtp".
        # MAIL_ENABLED=0 turns the ticket emails off (the test suite, except the email tests).
        self.MAIL_ENABLED = env.get("MAIL_ENABLED", "1") == "1"
        self.MAIL_BACKEND = env.get("MAIL_BACKEND", self.DEFAULT_MAIL_BACKEND)
        self.MAIL_OUTBOX_DIR = env.get("MAIL_OUTBOX_DIR")
        self.MAIL_FROM = env.get("MAIL_FROM", self.DEFAULT_MAIL_FROM)
        self.MAIL_SERVER = env.get("MAIL_SERVER")
        self.MAIL_PORT = int(env.get("MAIL_PORT", "587"))
        self.MAIL_USERNAME = env.get("MAIL_USERNAME")
        self.MAIL_PASSWORD = env.get("MAIL_PASSWORD")
        self.MAIL_USE_TLS = env.get("MAIL_USE_TLS", "1") == "1"     # STARTTLS
        self.MAIL_USE_SSL = env.get("MAIL_USE_SSL", "0") == "1"     # TLS from the start (port 465)
        self.MAIL_TIMEOUT = float(env.get("MAIL_TIMEOUT", "10"))

    def _ticket_key_settings(self, env) -> None:
        # The Ed25519 key that signs ticket codes: PEM (PKCS#8) or base64url of the 32-byte seed,
        # inline or in a file. Unset: development keeps one in the instance folder; tests make one.
        self.TICKET_SIGNING_KEY = env.get("TICKET_SIGNING_KEY")
        self.TICKET_SIGNING_KEY_FILE = env.get("TICKET_SIGNING_KEY_FILE")
        # The kid in every code; unset: the key's RFC 7638 thumbprint (16 characters).
        self.TICKET_KEY_ID = env.get("TICKET_KEY_ID")
        # Retired public keys whose codes are still honoured, as a JWKS JSON string.
        self.TICKET_VERIFY_KEYS = env.get("TICKET_VERIFY_KEYS")

    def _abuse_settings(self, env) -> None:
        # Rate limits (flask-limiter, fixed windows): shared in Redis when REDIS_URL is set (or
        # RATELIMIT_STORAGE_URI), else counted per process in memory. Limits use the
        # flask-limiter notation ("5/minute;30/hour"); docs/security.md lists what each guards.
        self.RATELIMIT_ENABLED = env.get("RATELIMIT_ENABLED", "1") == "1"
        self.RATELIMIT_STORAGE_URI = (env.get("RATELIMIT_STORAGE_URI") or self.REDIS_URL
                                      or "memory://")
        self.RATELIMIT_STRATEGY = "fixed-window"  # one counter per key: the cheapest check
        self.RATELIMIT_KEY_PREFIX = env.get("RATELIMIT_KEY_PREFIX", "ticksy")
        # Redis down: count in memory meanwhile rather than fail every limited request.
        self.RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
        self.RATELIMIT_SWALLOW_ERRORS = True
        self.RATELIMIT_HEADERS_ENABLED = False  # X-RateLimit-* would cost a read per request
        for name, default in RATE_LIMITS.items():
            setattr(self, name, env.get(name, default))
        # bcrypt hashes at once on this host, across every worker process (file locks in
        # BCRYPT_SLOTS_DIR); one more login or registration gets 429 at once. By default half
        # the usable cores: a flood of logins leaves the other half to everything else.
        self.BCRYPT_MAX_CONCURRENT = max(1, int(env.get("BCRYPT_MAX_CONCURRENT",
                                                        str(usable_cores() // 2))))
        self.BCRYPT_SLOTS_DIR = env.get("BCRYPT_SLOTS_DIR") or _host_slots_dir(
            "bcrypt", env.get("DATABASE_URL") or ROOT_DIR)
        # JSON bodies: deeper nesting is 400, a longer array 422, before any schema runs.
        self.JSON_MAX_DEPTH = int(env.get("JSON_MAX_DEPTH", "32"))
        self.JSON_MAX_ARRAY_ITEMS = int(env.get("JSON_MAX_ARRAY_ITEMS", "1000"))
        # Reverse proxies in front of the app whose X-Forwarded-For/-Proto are trusted (0: none).
        self.TRUSTED_PROXY_HOPS = int(env.get("TRUSTED_PROXY_HOPS", "0"))
        self.HSTS_SECONDS = int(env.get("HSTS_SECONDS", str(self.DEFAULT_HSTS_SECONDS)))
        self.CONTENT_SECURITY_POLICY = env.get("CONTENT_SECURITY_POLICY", DEFAULT_CSP)

    def validate(self) -> None:
        """Refuse to start when a required setting is missing."""
        if self.LOG_FORMAT is not None and self.LOG_FORMAT not in LOG_FORMATS:
            raise RuntimeError(f"LOG_FORMAT must be one of {', '.join(LOG_FORMATS)}")
        if self.LOG_LEVEL not in LOG_LEVELS:
            raise RuntimeError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}")
        if self.JOBS_MODE not in JOBS_MODES:
            raise RuntimeError(f"JOBS_MODE must be one of {', '.join(JOBS_MODES)}")
        if self.JOBS_MODE == "celery" and not self.CELERY_BROKER_URL:
            raise RuntimeError("JOBS_MODE=celery needs REDIS_URL (or CELERY_BROKER_URL)")
        if self.MAIL_BACKEND not in MAIL_BACKENDS:
            raise RuntimeError(f"MAIL_BACKEND must be one of {', '.join(MAIL_BACKENDS)}")
        if self.MPESA_ENV not in MPESA_ENVS:
            raise RuntimeError(f"MPESA_ENV must be one of {', '.join(MPESA_ENVS)}")
        if self.MPESA_ENV in ("sandbox", "production"):
            missing = [name for name in MPESA_CREDENTIALS if not getattr(self, name)]
            if missing:
                raise RuntimeError(f"MPESA_ENV={self.MPESA_ENV} needs {', '.join(missing)}")


# Per-route rate limits (name → default); each is a setting read from the same env variable.
RATE_LIMITS = {
    "RATELIMIT_LOGIN_IP": "20/minute;200/hour",
    "RATELIMIT_LOGIN_ACCOUNT": "5/minute;30/hour",
    "RATELIMIT_REGISTER_IP": "10/minute;50/hour",
    "RATELIMIT_REGISTER_ACCOUNT": "3/minute;10/hour",
    "RATELIMIT_STK_PUSH_USER": "5/minute;30/hour",
    "RATELIMIT_STK_PUSH_PHONE": "1/minute;10/hour",
    "RATELIMIT_ORDER_USER": "20/minute;300/hour",
    "RATELIMIT_TRANSFER_USER": "10/minute;50/hour",
    "RATELIMIT_CHECKIN_DEVICE": "10/second",
}
# The API and the built client (scripts and styles from this origin only; QR codes are blob:
# and data: images); nothing may frame any page.
DEFAULT_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; "
               "img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; "
               "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
JOBS_MODES = ("eager", "thread", "celery")
LOG_FORMATS = ("json", "text")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
MAIL_BACKENDS = ("outbox", "smtp")
MPESA_ENVS = ("simulator", "sandbox", "production", "disabled")
MPESA_CREDENTIALS = ("MPESA_CONSUMER_KEY", "MPESA_CONSUMER_SECRET", "MPESA_SHORTCODE",
                     "MPESA_PASSKEY", "MPESA_CALLBACK_BASE_URL")

# Placeholders for development only: ProductionConfig.validate refuses them.
DEVELOPMENT_SECRETS = {"SECRET_KEY": "development-only-secret-key",  # nosec B105
                       "JWT_SECRET_KEY": "development-only-jwt-secret-key-0123456789"}  # nosec B105


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
        # Test-suite values (bandit B105): they sign nothing outside the tests.
        self.SECRET_KEY = "testing-secret-key"  # nosec B105
        self.JWT_SECRET_KEY = "testing-jwt-secret-key-0123456789abcdef"  # nosec B105
        self.SQLALCHEMY_DATABASE_URI = os.environ.get("TEST_DATABASE_URL")
        self.BCRYPT_LOG_ROUNDS = 4
        # The root logger is pytest's: no handler is installed unless LOG_FORMAT is set.
        self.LOG_FORMAT = os.environ.get("LOG_FORMAT")
        self.JOBS_MODE = "eager"
        self.INVALID_SCAN_FLUSH_SECONDS = 0  # forged scans written at once; a test batches them
        # The bcrypt slots of this test process alone (the slots are shared per host otherwise).
        self.BCRYPT_MAX_CONCURRENT = 2
        self.BCRYPT_SLOTS_DIR = os.path.join(tempfile.gettempdir(),
                                             f"ticksy-test-bcrypt-{os.getpid()}")
        # Building a QR per ticket of every paid order would slow the whole suite by half: the
        # email tests turn emails on, and write them to a throwaway folder, never instance/outbox.
        self.MAIL_ENABLED = False
        self.MAIL_BACKEND = "outbox"
        self.MAIL_OUTBOX_DIR = os.path.join(tempfile.gettempdir(), "ticksy-test-outbox")
        self.MPESA_ENV = "simulator"
        self.MPESA_QUERY_FIRST_SECONDS = 0
        # The keys of the tests' fake Stripe (bandit B105).
        self.STRIPE_SECRET_KEY = "sk_test_ticksy"  # nosec B105
        self.STRIPE_WEBHOOK_SECRET = "whsec_ticksy_tests"  # nosec B105
        # A fresh in-memory ticket key per app; a test that needs a given key configures it.
        self.TICKET_SIGNING_KEY = self.TICKET_SIGNING_KEY_FILE = None
        self.TICKET_KEY_ID = self.TICKET_VERIFY_KEYS = None
        # The limits are on, per process, at their defaults: each test starts with fresh counters.
        self.RATELIMIT_ENABLED = True
        self.RATELIMIT_STORAGE_URI = "memory://"
        for name, default in RATE_LIMITS.items():
            setattr(self, name, default)


class ProductionConfig(Config):
    """Production: every secret comes from the environment; nothing is embedded."""

    ENV_NAME = "production"
    DEFAULT_MPESA_ENV = "production"
    DEFAULT_MAIL_BACKEND = "smtp"
    DEFAULT_MAIL_FROM = None
    DEFAULT_LOG_FORMAT = "json"
    DEFAULT_HSTS_SECONDS = 31536000  # a year; TLS ends at the proxy in front of the app
    # Setting → environment variable names, not values.
    REQUIRED = {"SECRET_KEY": "SECRET_KEY", "JWT_SECRET_KEY": "JWT_SECRET_KEY",  # nosec B105
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
        if not self.RATELIMIT_ENABLED:
            raise RuntimeError("Rate limits cannot be turned off in production (RATELIMIT_ENABLED=0)")
        if self.MPESA_ENV == "simulator":
            raise RuntimeError("The M-Pesa simulator cannot be used in production "
                               "(set MPESA_ENV to production, sandbox or disabled)")
        super().validate()
        if not (self.TICKET_SIGNING_KEY or self.TICKET_SIGNING_KEY_FILE):
            raise RuntimeError("Production needs the ticket signing key: set TICKET_SIGNING_KEY "
                               "or TICKET_SIGNING_KEY_FILE")
        if self.MAIL_BACKEND == "smtp":
            missing = [name for name in ("MAIL_SERVER", "MAIL_FROM") if not getattr(self, name)]
            if missing:
                raise RuntimeError(f"MAIL_BACKEND=smtp needs {', '.join(missing)}")


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
