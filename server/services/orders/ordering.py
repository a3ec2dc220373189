"""Placing an order: validate, hold inventory under the guard, freeze prices, replay on retry."""
import hashlib
import json
from datetime import timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import lazyload, selectinload

from server.platform.errors import Conflict, NotFound, ValidationError
from server.extensions import db
from server.models import (Event, EventStatus, OrderStatus, PaymentMethod, TicketOrder,
                           TicketOrderItem, TicketType, User, utcnow)
from server.services.orders import inventory
from server.services.orders.lifecycle import apply_payment
from server.services.common.transactions import commit_keeping_state

IDEMPOTENCY_WINDOW = timedelta(hours=24)


def _sales_closed(message: str, **details) -> Conflict:
    return Conflict(message, code="sales_closed", details=details or None)


def _fingerprint(data: dict) -> str:
    items = sorted((i["ticket_type_id"], i["quantity"]) for i in data["items"])
    canonical = json.dumps([data["event_id"], items, data.get("payment_method")])
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(buyer: User, key: str, fingerprint: str) -> TicketOrder | None:
    """The order created earlier with this key, or None when the key is new (or stale)."""
    order = db.session.scalar(select(TicketOrder).where(TicketOrder.buyer_id == buyer.id,
                                                        TicketOrder.idempotency_key == key))
    if order is None:
        return None
    if order.created_at < utcnow() - IDEMPOTENCY_WINDOW:
        order.idempotency_key = None
        db.session.flush()
        return None
    if order.request_hash != fingerprint:
        raise ValidationError("This Idempotency-Key was used with a different request.",
                              fields={"Idempotency-Key": ["Already used with another body."]})
    return order


def _open_event(event_id: int, buyer: User) -> Event:
    event = db.session.get(Event, event_id, populate_existing=True,
                           options=[selectinload(Event.ticket_types), lazyload(Event.organizer)])
    if event is None or (event.status == EventStatus.DRAFT and not event.is_managed_by(buyer)):
        raise NotFound("No such event.")
    if event.status != EventStatus.PUBLISHED:
        raise _sales_closed("This event is not on sale.")
    if event.starts_at <= utcnow():
        raise _sales_closed("This event has already started.")
    return event


def _checked_items(event: Event, items: list[dict]) -> list[tuple[TicketType, int]]:
    """(tier, quantity) pairs in ascending tier id order, each tier of this event and on sale.

    A tier already short of tickets answers `sold_out` here, before anything is held.
    """
    ids = [item["ticket_type_id"] for item in items]
    if len(ids) != len(set(ids)):
        raise ValidationError(fields={"items": ["Each ticket type may appear only once."]})
    tiers = {t.id: t for t in event.ticket_types if t.id in ids}
    now, pairs = utcnow(), []
    for item in sorted(items, key=lambda i: i["ticket_type_id"]):
        tier = tiers.get(item["ticket_type_id"])
        if tier is None:
            raise ValidationError(fields={"items": [
                f"Ticket type {item['ticket_type_id']} is not part of this event."]})
        if item["quantity"] > tier.max_per_order:
            raise ValidationError(fields={"items": [
                f"At most {tier.max_per_order} {tier.name} tickets per order."]})
        if (tier.sales_start and now < tier.sales_start) or (tier.sales_end and now >= tier.sales_end):
            raise _sales_closed(f"{tier.name} tickets are not on sale now.", ticket_type_id=tier.id)
        if tier.available < item["quantity"]:
            raise inventory.sold_out(tier, tier.available)
        pairs.append((tier, item["quantity"]))
    return pairs


def _hold_all(order: TicketOrder, pairs) -> None:
    for tier, quantity in pairs:
        held = inventory.hold(tier.id, quantity)
        if held is None:
            db.session.rollback()
            raise inventory.sold_out(tier)
        order.items.append(TicketOrderItem(ticket_type=tier, ticket_type_id=tier.id,
                                           quantity=quantity, unit_price=held.price))
        order.currency = held.currency


def _hold_minutes(method: PaymentMethod | None) -> int:
    config = current_app.config
    return config["CARD_ORDER_HOLD_MINUTES" if method == PaymentMethod.STRIPE
                  else "ORDER_HOLD_MINUTES"]


def _reserve(buyer: User, data: dict, key: str | None, fingerprint: str) -> TicketOrder:
    event = _open_event(data["event_id"], buyer)
    pairs = _checked_items(event, data["items"])
    method = PaymentMethod(data["payment_method"]) if data.get("payment_method") else None
    order = TicketOrder(buyer=buyer, event=event, status=OrderStatus.PENDING, payment_method=method,
                        tickets=[], idempotency_key=key, request_hash=fingerprint,
                        expires_at=utcnow() + timedelta(minutes=_hold_minutes(method)))
    _hold_all(order, pairs)
    order.total = sum((item.subtotal for item in order.items), start=0)
    db.session.add(order)
    if order.total == 0:
        order.payment_method = PaymentMethod.FREE
        apply_payment(order)
    commit_keeping_state()
    return order


def place_order(*, buyer: User, data: dict, idempotency_key: str | None = None) -> TicketOrder:
    """Reserve tickets for `buyer`; free orders come back paid with their tickets.

    A request repeating an Idempotency-Key gets the first request's order. When both are in
    flight at once, the second one either loses the race for the tickets or hits the unique
    (buyer, key) index; either way it then finds the first order and returns it.
    """
    fingerprint = _fingerprint(data)
    if idempotency_key and (earlier := _replay(buyer, idempotency_key, fingerprint)):
        return earlier
    try:
        return _reserve(buyer, data, idempotency_key, fingerprint)
    except (Conflict, IntegrityError):
        db.session.rollback()
        if idempotency_key and (earlier := _replay(buyer, idempotency_key, fingerprint)):
            return earlier
        raise
