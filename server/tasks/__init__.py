"""Background jobs."""


def load_jobs() -> None:
    """Import the modules that register jobs, so any process can run any job by name."""
    from server.services import (emails, payment_ledger, mpesa_payments, refunds,  # noqa: F401
                                 stripe_payments)
    from server.tasks import periodic  # noqa: F401
