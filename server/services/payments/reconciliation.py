"""The periodic reconciliation: payments left pending asked about, lost refunds sent again."""
import logging

from server.services.payments import mpesa, refunds, stripe
from server.tasks import jobs

log = logging.getLogger(__name__)


@jobs.job("payments.reconcile")
def _reconcile_payments() -> None:
    """Ask the providers about payments left pending; resend refunds."""
    if count := (mpesa.reconcile_due() + stripe.reconcile_lapsed() + refunds.retry_pending()):
        log.info("reconciled %d payments and refunds", count)
