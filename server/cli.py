"""`flask` commands: create-admin, purge-revoked-tokens, expire-orders and seed."""
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
        from server.services.admin_users import ensure_admin

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
        from server.services.order_lifecycle import expire_due_orders

        total = 0
        while expired := expire_due_orders(limit=batch):
            total += expired
        click.echo(f"Expired {total} pending orders")

    @app.cli.command("seed")
    def seed() -> None:
        """Load the demo data (safe to run twice)."""
        import seed as seed_module

        seed_module.run()
