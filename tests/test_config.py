"""Configuration comes from the environment; production refuses to start without its secrets."""
import re

import pytest

import config as settings
from server import create_app

REQUIRED = ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL")
MPESA_ENV = {"MPESA_CONSUMER_KEY": "key", "MPESA_CONSUMER_SECRET": "secret",
             "MPESA_SHORTCODE": "600999", "MPESA_PASSKEY": "passkey",
             "MPESA_CALLBACK_BASE_URL": "https://tickets.example.com"}
SERVICES_ENV = {"TICKET_SIGNING_KEY": "GJ5BUBwfw5kkrr14-rFhMmOOvdvWTwGmYqMuO2cHVb0",
                "MAIL_SERVER": "smtp.example.com", "MAIL_FROM": "Ticksy <tickets@example.com>"}
PRODUCTION_ENV = {"SECRET_KEY": "s" * 40, "JWT_SECRET_KEY": "j" * 40,
                  "DATABASE_URL": "postgresql://ticksy@db.invalid:5432/ticksy", **MPESA_ENV,
                  **SERVICES_ENV}


@pytest.fixture
def bare_env(monkeypatch):
    """No configuration variables set (whatever the developer's shell or .env holds)."""
    for name in REQUIRED + tuple(MPESA_ENV) + tuple(SERVICES_ENV) + (
            "TICKET_SIGNING_KEY_FILE", "TICKET_KEY_ID", "TICKET_VERIFY_KEYS", "MAIL_BACKEND",
            "JOBS_MODE", "CELERY_BROKER_URL",
            "BCRYPT_LOG_ROUNDS", "TICKSY_ENV", "CORS_ORIGINS", "REDIS_URL", "MAX_CONTENT_LENGTH",
            "EMBEDDED_DATABASE_DIR", "MPESA_ENV", "MPESA_BASE_URL", "STRIPE_SECRET_KEY",
            "STRIPE_WEBHOOK_SECRET"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def named(error: Exception) -> set[str]:
    """The environment variable names an error message mentions."""
    return set(re.findall(r"\b[A-Z][A-Z0-9_]+\b", str(error))) & set(REQUIRED)


def test_production_names_every_missing_variable(bare_env):
    with pytest.raises(RuntimeError) as raised:
        settings.ProductionConfig().validate()
    assert named(raised.value) == set(REQUIRED)


@pytest.mark.parametrize("missing", REQUIRED)
def test_production_names_the_one_missing_secret(bare_env, missing):
    for name, value in PRODUCTION_ENV.items():
        if name != missing:
            bare_env.setenv(name, value)
    with pytest.raises(RuntimeError) as raised:
        settings.ProductionConfig().validate()
    assert named(raised.value) == {missing}


def test_production_accepts_a_complete_environment(bare_env):
    for name, value in PRODUCTION_ENV.items():
        bare_env.setenv(name, value)
    settings.ProductionConfig().validate()


@pytest.mark.parametrize("missing", sorted(MPESA_ENV))
def test_production_mpesa_needs_every_credential(bare_env, missing):
    for name, value in PRODUCTION_ENV.items():
        if name != missing:
            bare_env.setenv(name, value)
    with pytest.raises(RuntimeError, match=f"MPESA_ENV=production needs {missing}$"):
        settings.ProductionConfig().validate()


def test_production_runs_without_mpesa_only_when_told(bare_env):
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "DATABASE_URL", *SERVICES_ENV):
        bare_env.setenv(name, PRODUCTION_ENV[name])
    bare_env.setenv("MPESA_ENV", "disabled")
    settings.ProductionConfig().validate()


@pytest.mark.parametrize("env, message", [("simulator", "simulator cannot be used"),
                                          ("paypal", "MPESA_ENV must be one of")])
def test_production_refuses_the_simulator_and_unknown_modes(bare_env, env, message):
    for name, value in PRODUCTION_ENV.items():
        bare_env.setenv(name, value)
    bare_env.setenv("MPESA_ENV", env)
    with pytest.raises(RuntimeError, match=message):
        settings.ProductionConfig().validate()


def test_development_uses_the_simulator_by_default(bare_env):
    config = settings.DevelopmentConfig()
    config.validate()
    assert config.MPESA_ENV == "simulator" and config.JOBS_MODE == "thread"


def test_production_refuses_a_short_jwt_secret(bare_env):
    for name, value in PRODUCTION_ENV.items():
        bare_env.setenv(name, value)
    bare_env.setenv("JWT_SECRET_KEY", "short")
    with pytest.raises(RuntimeError, match="JWT_SECRET_KEY"):
        settings.ProductionConfig().validate()


def test_create_app_refuses_production_without_secrets(bare_env):
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        create_app("production")


def test_ticksy_env_selects_production(bare_env):
    bare_env.setenv("TICKSY_ENV", "production")
    assert isinstance(settings.get_config(), settings.ProductionConfig)
    with pytest.raises(RuntimeError, match="DATABASE_URL"):
        create_app()


def test_production_app_builds_from_the_environment(bare_env):
    for name, value in PRODUCTION_ENV.items():
        bare_env.setenv(name, value)
    app = create_app("production")
    assert app.config["SQLALCHEMY_DATABASE_URI"] == PRODUCTION_ENV["DATABASE_URL"]
    assert app.config["SECRET_KEY"] == PRODUCTION_ENV["SECRET_KEY"]
    assert not app.debug and not app.testing


def test_development_is_the_default(bare_env):
    assert isinstance(settings.get_config(), settings.DevelopmentConfig)


def test_unknown_configuration_name_is_refused(bare_env):
    with pytest.raises(RuntimeError, match="staging"):
        settings.get_config("staging")


def test_bcrypt_cost_is_cheap_in_tests_and_high_in_production(bare_env):
    assert settings.TestingConfig().BCRYPT_LOG_ROUNDS <= 6
    assert settings.ProductionConfig().BCRYPT_LOG_ROUNDS >= 12
    bare_env.setenv("BCRYPT_LOG_ROUNDS", "4")
    assert settings.ProductionConfig().BCRYPT_LOG_ROUNDS >= 12


def test_development_secrets_never_reach_production(bare_env):
    development = settings.DevelopmentConfig()
    production = settings.ProductionConfig()
    assert development.SECRET_KEY and development.JWT_SECRET_KEY
    assert production.SECRET_KEY is None and production.JWT_SECRET_KEY is None
    for name, cls in settings.CONFIGS.items():
        if name not in ("development", "testing"):
            config = cls()
            assert config.SECRET_KEY != development.SECRET_KEY
            assert config.JWT_SECRET_KEY != development.JWT_SECRET_KEY


def test_settings_are_read_from_the_environment(bare_env):
    bare_env.setenv("DATABASE_URL", "postgresql://example/ticksy")
    bare_env.setenv("REDIS_URL", "redis://127.0.0.1:6379/0")
    bare_env.setenv("CORS_ORIGINS", "https://a.example, https://b.example")
    bare_env.setenv("BCRYPT_LOG_ROUNDS", "10")
    bare_env.setenv("MAX_CONTENT_LENGTH", "2048")
    bare_env.setenv("EMBEDDED_DATABASE_DIR", "/tmp/ticksy-pg")
    config = settings.DevelopmentConfig()
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql://example/ticksy"
    assert config.REDIS_URL == "redis://127.0.0.1:6379/0"
    assert config.CORS_ORIGINS == ["https://a.example", "https://b.example"]
    assert config.BCRYPT_LOG_ROUNDS == 10
    assert config.MAX_CONTENT_LENGTH == 2048
    assert config.EMBEDDED_DATABASE_DIR == "/tmp/ticksy-pg"


def test_testing_uses_the_test_database(bare_env):
    bare_env.setenv("DATABASE_URL", "postgresql://example/not-for-tests")
    bare_env.setenv("TEST_DATABASE_URL", "postgresql://example/tests")
    assert settings.TestingConfig().SQLALCHEMY_DATABASE_URI == "postgresql://example/tests"


def test_production_refuses_the_development_secrets(bare_env):
    bare_env.setenv("DATABASE_URL", "postgresql://example/ticksy")
    bare_env.setenv("SECRET_KEY", settings.DEVELOPMENT_SECRETS["SECRET_KEY"])
    bare_env.setenv("JWT_SECRET_KEY", settings.DEVELOPMENT_SECRETS["JWT_SECRET_KEY"])
    with pytest.raises(RuntimeError, match="Development secrets"):
        settings.ProductionConfig().validate()
