"""The app's provider adapters, built once per app from its configuration."""
from flask import current_app, request

from server.platform.errors import ServiceUnavailable
from server.payments.mpesa.daraja import (PRODUCTION_BASE_URL, SANDBOX_BASE_URL, DarajaClient,
                                          DarajaSettings)
from server.payments.stripe.gateway import StripeGateway
from server.services.payments.token_cache import DatabaseTokenCache


class PaymentsUnavailable(ServiceUnavailable):
    """A payment method this deployment has not configured."""

    code = "payments_unavailable"


def _simulator_url(app) -> str:
    """Start the bundled simulator on a loopback port, once per process."""
    from server.payments.mpesa.simulator import Simulator

    if "mpesa_simulator" not in app.extensions:
        simulator = Simulator(
            shortcode=_shortcode(app.config), passkey=_passkey(app.config),
            callback_delay=app.config["MPESA_SIMULATOR_DELAY"],
            no_answer_after=app.config["MPESA_SIMULATOR_NO_ANSWER_SECONDS"])
        app.extensions["mpesa_simulator"] = (simulator, simulator.serve())
    return app.extensions["mpesa_simulator"][1]


def _shortcode(config) -> str:
    from server.payments.mpesa.simulator import SANDBOX_SHORTCODE

    return config["MPESA_SHORTCODE"] or SANDBOX_SHORTCODE


def _passkey(config) -> str:
    from server.payments.mpesa.simulator import SANDBOX_PASSKEY

    return config["MPESA_PASSKEY"] or SANDBOX_PASSKEY


def _daraja_settings(app) -> DarajaSettings:
    config = app.config
    env = config["MPESA_ENV"]
    base_url = config["MPESA_BASE_URL"] or {
        "sandbox": SANDBOX_BASE_URL, "production": PRODUCTION_BASE_URL}.get(env)
    if base_url is None:
        base_url = _simulator_url(app)
    return DarajaSettings(
        base_url=base_url.rstrip("/"),
        consumer_key=config["MPESA_CONSUMER_KEY"] or "simulator",
        consumer_secret=config["MPESA_CONSUMER_SECRET"] or "simulator",
        shortcode=_shortcode(config), passkey=_passkey(config),
        transaction_type=config["MPESA_TRANSACTION_TYPE"], party_b=config["MPESA_PARTY_B"])


def daraja() -> DarajaClient:
    """The Daraja client; 503 `payments_unavailable` when M-Pesa is disabled."""
    app = current_app._get_current_object()
    if app.config["MPESA_ENV"] == "disabled":
        raise PaymentsUnavailable("M-Pesa payments are not available.")
    client = app.extensions.get("daraja")
    if client is None:
        client = app.extensions["daraja"] = DarajaClient(_daraja_settings(app),
                                                         tokens=DatabaseTokenCache())
    return client


def mpesa_callback_base() -> str:
    """The public base of callback URLs; the request's own URL outside production."""
    configured = current_app.config["MPESA_CALLBACK_BASE_URL"]
    return (configured or request.host_url).rstrip("/")


def stripe_gateway() -> StripeGateway:
    """The Stripe gateway; 503 `payments_unavailable` without STRIPE_SECRET_KEY."""
    app = current_app._get_current_object()
    if not app.config["STRIPE_SECRET_KEY"]:
        raise PaymentsUnavailable("Card payments are not available.")
    gateway = app.extensions.get("stripe_gateway")
    if gateway is None:
        gateway = app.extensions["stripe_gateway"] = StripeGateway(
            secret_key=app.config["STRIPE_SECRET_KEY"], api_base=app.config["STRIPE_API_BASE"])
    return gateway


def app_base_url() -> str:
    """Where the web client lives, for Stripe's success and cancel redirects."""
    return (current_app.config["APP_BASE_URL"] or request.host_url).rstrip("/")
