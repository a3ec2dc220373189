"""Payments: the ledger of attempts, M-Pesa STK Push and Stripe Checkout, refunds of money.

Public face: start_stk_push, handle_callback (mpesa); start_checkout, handle_webhook (stripe);
get_payment, refresh_payment, list_payments, list_refunds (queries); refund_payment,
complete_manual (refunds); record_settled (ledger); mpesa, stripe and refunds' reconciliation
for the CLI (reconcile_due, reconcile_lapsed, retry_pending). Jobs: "payments.reconcile",
"refunds.execute", "stripe.expire_sessions", "mpesa.verify_callback",
"orders.paid" (the paid order's follow-ups).
"""
from server.services.payments import reconciliation  # noqa: F401  (registers its job)
from server.services.payments.ledger import record_settled
from server.services.payments.mpesa import handle_callback, reconcile_due, start_stk_push
from server.services.payments.queries import (get_payment, list_payments, list_refunds,
                                              refresh_payment)
from server.services.payments.refunds import complete_manual, refund_payment, retry_pending
from server.services.payments.stripe import handle_webhook, reconcile_lapsed, start_checkout

__all__ = ["complete_manual", "get_payment", "handle_callback", "handle_webhook", "list_payments",
           "list_refunds", "reconcile_due", "reconcile_lapsed", "record_settled",
           "refresh_payment", "refund_payment", "retry_pending", "start_checkout",
           "start_stk_push"]
