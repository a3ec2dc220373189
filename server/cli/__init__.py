"""`flask` commands: create-admin, purge-revoked-tokens, expire-orders, reconcile-payments,
mpesa-simulator and seed."""
import click
from flask import Flask


def register(app: Flask) -> None:
    """Attach the project's commands to `app`."""

    @app.cli.command("create-admin")
    @click.option("--email", required=True)
    @click.option("--password", required=True)
    @click.option("--name", required=True)
    def create_admin(email: str, password: str, name: str) -> None:
        """Create an administrator, or grant the admin role to an existing account."""
        from server.services.accounts import ensure_admin

        user, created = ensure_admin(email=email, password=password, name=name)
        click.echo(f"{'Created' if created else 'Granted admin to'} {user.email} (id {user.id})")

    @app.cli.command("purge-revoked-tokens")
    def purge_revoked_tokens() -> None:
        """Forget revoked tokens that have expired anyway."""
        from server.services.accounts import purge_expired_revocations

        click.echo(f"Purged {purge_expired_revocations()} expired revocations")

    @app.cli.command("expire-orders")
    @click.option("--batch", default=500, show_default=True, type=click.IntRange(min=1),
                  help="Orders expired per sweep; sweeps repeat until none is due.")
    def expire_orders(batch: int) -> None:
        """Expire pending orders whose hold has run out and release their tickets."""
        from server.services.orders import expire_due_orders

        total = 0
        while expired := expire_due_orders(limit=batch):
            total += expired
        click.echo(f"Expired {total} pending orders")

    @app.cli.command("reconcile-payments")
    @click.option("--batch", default=50, show_default=True, type=click.IntRange(min=1),
                  help="Payments asked about per round; rounds repeat until none is due.")
    def reconcile_payments(batch: int) -> None:
        """Ask M-Pesa and Stripe about payments pending past their window; resend refunds."""
        from server.services import payments

        total = 0
        while asked := payments.reconcile_due(limit=batch):
            total += asked
        lapsed = payments.reconcile_lapsed(limit=batch)
        click.echo(f"Queried {total} pending M-Pesa payments and {lapsed} lapsed card payments, "
                   f"resent {payments.retry_pending()} refunds")

    @app.cli.command("mpesa-simulator")
    @click.option("--host", default="127.0.0.1", show_default=True)
    @click.option("--port", default=5055, show_default=True, type=int)
    @click.option("--delay", default=3.0, show_default=True, type=float,
                  help="Seconds between a push and its callback.")
    def mpesa_simulator(host: str, port: int, delay: float) -> None:
        """Serve the Daraja-compatible M-Pesa simulator (point MPESA_BASE_URL at it)."""
        from server.payments.mpesa.simulator import run

        click.echo(f"M-Pesa simulator on http://{host}:{port} (callbacks after {delay} s)")
        run(host, port, callback_delay=delay)

    @app.cli.command("seed")
    def seed() -> None:
        """Load the demo data (safe to run twice)."""
        import seed as seed_module

        seed_module.run()
