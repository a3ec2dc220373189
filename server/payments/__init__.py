"""Payment providers (M-Pesa Daraja, Stripe) behind small adapters, plus the M-Pesa simulator."""
