"""Guarded inventory statements: the only code that changes `held` and `sold`.

Each is one UPDATE whose WHERE clause re-checks the invariant, so under READ COMMITTED a
concurrent writer waits, re-evaluates the condition and can never push a count past its bound.
Callers run them in ascending ticket-type id order, inside the transaction of the status change
they belong to.
"""
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import select, update

from server.platform.errors import Conflict
from server.extensions import db
from server.models import TicketType

_tt = TicketType.__table__.c


class Held(NamedTuple):
    """What a successful hold returns: the tier's price and currency at that instant."""

    price: Decimal
    currency: str


class InventoryError(RuntimeError):
    """A release or move found fewer tickets than it must move: a broken invariant."""


def hold(ticket_type_id: int, quantity: int) -> Held | None:
    """Hold `quantity` tickets if that many are free; None when sold out."""
    row = db.session.execute(
        update(TicketType.__table__)
        .where(_tt.id == ticket_type_id, _tt.sold + _tt.held + quantity <= _tt.quantity)
        .values(held=_tt.held + quantity)
        .returning(_tt.price, _tt.currency)).first()
    return Held(*row) if row else None


def take(ticket_type_id: int, quantity: int) -> bool:
    """Sell `quantity` free tickets outright (complimentary, late payment); False when sold out."""
    result = db.session.execute(
        update(TicketType.__table__)
        .where(_tt.id == ticket_type_id, _tt.sold + _tt.held + quantity <= _tt.quantity)
        .values(sold=_tt.sold + quantity))
    return result.rowcount == 1


def _guarded(ticket_type_id: int, quantity: int, condition, **values) -> None:
    result = db.session.execute(
        update(TicketType.__table__).where(_tt.id == ticket_type_id, condition).values(**values))
    if result.rowcount != 1:
        raise InventoryError(f"ticket type {ticket_type_id}: cannot move {quantity}")


def release_hold(ticket_type_id: int, quantity: int) -> None:
    """Give back held tickets (cancel, expiry)."""
    _guarded(ticket_type_id, quantity, _tt.held >= quantity, held=_tt.held - quantity)


def confirm_hold(ticket_type_id: int, quantity: int) -> None:
    """Turn held tickets into sold ones (payment)."""
    _guarded(ticket_type_id, quantity, _tt.held >= quantity,
             held=_tt.held - quantity, sold=_tt.sold + quantity)


def release_sold(ticket_type_id: int, quantity: int) -> None:
    """Give back sold tickets (refund, void)."""
    _guarded(ticket_type_id, quantity, _tt.sold >= quantity, sold=_tt.sold - quantity)


def available(ticket_type_id: int) -> int:
    """Tickets of the tier neither sold nor held, as committed now."""
    return db.session.scalar(select(_tt.quantity - _tt.sold - _tt.held)
                             .where(_tt.id == ticket_type_id)) or 0


def sold_out(tier: TicketType, left: int | None = None) -> Conflict:
    """409 `sold_out` naming the tier and what is left of it (read now unless given)."""
    left = available(tier.id) if left is None else left
    return Conflict(f"Not enough {tier.name} tickets left.", code="sold_out",
                    details={"ticket_type_id": tier.id, "available": max(left, 0)})
