"""Process and HTTP plumbing that no domain owns.

The error envelope (errors), JWT wiring and guards (security), rate limits (ratelimits), JSON
logs and request ids (logs), request guards (hardening, nul_guard), bcrypt (passwords,
host_slots), the gate's prepared statement (prepared), the embedded PostgreSQL (embedded_db),
mail transport (mail), phone numbers (phone), the health check (health) and the Flask class
(flask_app). Domains import it; it imports no domain.
"""
