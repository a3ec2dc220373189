"""tickets: check-in as a heap-only update

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06

Admitting a ticket changes its status. With status in an index (ix_tickets_event_id_status),
every admission wrote a new entry into each of the table's indexes. The index on the event alone
serves the same lookups, and pages with a fifth left free (fillfactor 80; pages written from now
on) give the updated row room next to the old one: a heap-only update.
"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("ix_tickets_event_id", "tickets", ["event_id"], unique=False,
                        postgresql_concurrently=True, if_not_exists=True)
        op.drop_index("ix_tickets_event_id_status", table_name="tickets",
                      postgresql_concurrently=True, if_exists=True)
    op.execute("ALTER TABLE tickets SET (fillfactor = 80)")


def downgrade():
    op.execute("ALTER TABLE tickets RESET (fillfactor)")
    with op.get_context().autocommit_block():
        op.create_index("ix_tickets_event_id_status", "tickets", ["event_id", "status"],
                        unique=False, postgresql_concurrently=True, if_not_exists=True)
        op.drop_index("ix_tickets_event_id", table_name="tickets", postgresql_concurrently=True,
                      if_exists=True)
