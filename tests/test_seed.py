"""The demo data: loads through the services, twice without duplicates, money consistent."""
from sqlalchemy import func, select

import seed
from server.extensions import db
from server.models import Payment, PaymentStatus, TicketOrder
from tests.invariants import assert_money_invariants


def test_seed_is_consistent_and_idempotent(app):
    first = seed.run()
    assert first["orders"] > 0 and first["users"] > 0
    assert_money_invariants()
    confirmed = db.session.scalar(select(func.count()).select_from(Payment)
                                  .where(Payment.status == PaymentStatus.CONFIRMED))
    assert confirmed == db.session.scalar(select(func.count()).select_from(TicketOrder))

    assert set(seed.run().values()) == {0}
