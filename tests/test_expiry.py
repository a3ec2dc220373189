"""Expiry of pending orders: the sweep, the `flask expire-orders` command and late payments.

Runs inside the ordinary rollback harness; the concurrent versions of these transitions are in
test_concurrency.py.
"""
from datetime import timedelta
from decimal import Decimal

import pytest

from server.extensions import db
from server.models import OrderStatus, TicketType, utcnow
from server.services.orders import lifecycle as order_lifecycle

PAST = timedelta(minutes=1)


def _due(order, ago=PAST):
    """Move an order's hold into the past, as if its time had run out."""
    order.expires_at = utcnow() - ago
    db.session.commit()
    return order


def _tier(tier_id) -> TicketType:
    tier = db.session.get(TicketType, tier_id)
    db.session.refresh(tier)
    return tier


def _status(order) -> OrderStatus:
    db.session.refresh(order)
    return order.status


@pytest.fixture
def tier_event(make_event):
    return make_event(tiers=[{"name": "Regular", "price": Decimal("500.00"), "quantity": 10}])


def test_sweep_expires_only_pending_orders_past_their_hold(tier_event, make_order, make_user):
    tier = tier_event.ticket_types[0]
    buy = lambda n, **kw: make_order(tier_event, {tier: n}, buyer=make_user(), **kw)  # noqa: E731
    due = _due(buy(2))
    long_due = _due(buy(1), ago=timedelta(days=3))
    fresh = buy(1)
    paid = buy(1, paid=True)
    cancelled = buy(1)
    order_lifecycle.cancel_order(order_id=cancelled.id, actor=cancelled.buyer)
    # Statuses other than pending are left alone even with an expiry time in the past.
    for order in (paid, cancelled):
        order.expires_at = utcnow() - PAST
    db.session.commit()
    assert _tier(tier.id).held == 4 and _tier(tier.id).sold == 1

    assert order_lifecycle.expire_due_orders() == 2

    assert [_status(o) for o in (due, long_due, fresh, paid, cancelled)] == [
        OrderStatus.EXPIRED, OrderStatus.EXPIRED, OrderStatus.PENDING, OrderStatus.PAID,
        OrderStatus.CANCELLED]
    assert due.closed_at is not None and long_due.closed_at is not None
    after = _tier(tier.id)
    assert (after.held, after.sold, after.available) == (1, 1, 8)
    assert paid.tickets and len(paid.tickets) == 1 and not due.tickets


def test_sweep_is_idempotent(tier_event, make_order):
    tier = tier_event.ticket_types[0]
    order = _due(make_order(tier_event, {tier: 3}))
    assert order_lifecycle.expire_due_orders() == 1
    assert order_lifecycle.expire_due_orders() == 0
    assert order_lifecycle.expire_order(order_id=order.id) is False
    assert _status(order) == OrderStatus.EXPIRED
    assert (_tier(tier.id).held, _tier(tier.id).sold) == (0, 0)


def test_expire_order_leaves_a_pending_order_with_time_left(tier_event, make_order):
    tier = tier_event.ticket_types[0]
    order = make_order(tier_event, {tier: 2})
    assert order_lifecycle.expire_order(order_id=order.id) is False
    assert _status(order) == OrderStatus.PENDING
    assert _tier(tier.id).held == 2


def test_sweep_respects_its_limit(tier_event, make_order, make_user):
    tier = tier_event.ticket_types[0]
    for _ in range(3):
        _due(make_order(tier_event, {tier: 1}, buyer=make_user()))
    assert order_lifecycle.expire_due_orders(limit=2) == 2
    assert _tier(tier.id).held == 1
    assert order_lifecycle.expire_due_orders(limit=2) == 1
    assert _tier(tier.id).held == 0


def test_reads_show_held_tickets_as_unavailable_until_the_sweep(tier_event, make_order, client):
    tier = tier_event.ticket_types[0]
    _due(make_order(tier_event, {tier: 4}))

    def available():
        body = client.get(f"/api/events/{tier_event.id}").get_json()
        return next(t["available"] for t in body["ticket_types"] if t["id"] == tier.id)

    assert available() == 6
    order_lifecycle.expire_due_orders()
    assert available() == 10


def test_expire_orders_command_prints_how_many_expired(app, tier_event, make_order, make_user):
    tier = tier_event.ticket_types[0]
    orders = [_due(make_order(tier_event, {tier: 1}, buyer=make_user())) for _ in range(2)]
    fresh = make_order(tier_event, {tier: 1}, buyer=make_user())
    runner = app.test_cli_runner()

    result = runner.invoke(args=["expire-orders"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Expired 2 pending orders"
    assert [_status(o) for o in orders] == [OrderStatus.EXPIRED] * 2
    assert _status(fresh) == OrderStatus.PENDING
    assert _tier(tier.id).held == 1

    again = runner.invoke(args=["expire-orders"])
    assert again.exit_code == 0 and again.output.strip() == "Expired 0 pending orders"


def test_expire_orders_command_sweeps_in_batches_until_none_is_due(app, tier_event, make_order,
                                                                   make_user):
    tier = tier_event.ticket_types[0]
    for _ in range(5):
        _due(make_order(tier_event, {tier: 1}, buyer=make_user()))
    result = app.test_cli_runner().invoke(args=["expire-orders", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Expired 5 pending orders"
    assert _tier(tier.id).held == 0


def test_expired_order_cannot_be_cancelled(tier_event, make_order, attendee_client):
    tier = tier_event.ticket_types[0]
    order = _due(make_order(tier_event, {tier: 2}))
    order_lifecycle.expire_due_orders()

    resp = attendee_client.post(f"/api/orders/{order.id}/cancel")
    assert resp.status_code == 409
    error = resp.get_json()["error"]
    assert error["code"] == "order_not_cancellable"
    assert error["details"] == {"status": "expired"}
    assert _status(order) == OrderStatus.EXPIRED
    assert (_tier(tier.id).held, _tier(tier.id).sold) == (0, 0)


def test_late_payment_retakes_free_inventory(tier_event, make_order):
    tier = tier_event.ticket_types[0]
    order = _due(make_order(tier_event, {tier: 3}))
    order_lifecycle.expire_due_orders()
    assert (_tier(tier.id).held, _tier(tier.id).sold) == (0, 0)

    paid = order_lifecycle.mark_order_paid(order_id=order.id)

    assert paid.status == OrderStatus.PAID and paid.paid_at is not None
    assert paid.expires_at is None and paid.closed_at is None and paid.needs_refund is False
    assert len(paid.tickets) == 3 and {t.ticket_type_id for t in paid.tickets} == {tier.id}
    assert (_tier(tier.id).held, _tier(tier.id).sold) == (0, 3)
    # Paying twice changes nothing.
    order_lifecycle.mark_order_paid(order_id=order.id)
    assert (_tier(tier.id).held, _tier(tier.id).sold) == (0, 3) and len(paid.tickets) == 3


def test_late_payment_when_the_tickets_are_gone_flags_a_refund(make_event, make_order, make_user):
    event = make_event(tiers=[{"name": "Last two", "price": Decimal("800.00"), "quantity": 2}])
    tier = event.ticket_types[0]
    late = _due(make_order(event, {tier: 2}))
    order_lifecycle.expire_due_orders()
    other = make_order(event, {tier: 2}, buyer=make_user(), paid=True)
    assert other.status == OrderStatus.PAID

    result = order_lifecycle.mark_order_paid(order_id=late.id)

    assert result.status == OrderStatus.EXPIRED and result.needs_refund is True
    assert result.tickets == []
    after = _tier(tier.id)
    assert (after.held, after.sold) == (0, 2)
    assert after.sold + after.held <= after.quantity


def test_late_payment_retakes_only_when_every_tier_fits(make_event, make_order, make_user):
    """Partly available inventory is not taken: the savepoint gives back what was taken first."""
    event = make_event(tiers=[{"name": "A", "price": Decimal("100.00"), "quantity": 5},
                              {"name": "B", "price": Decimal("200.00"), "quantity": 1}])
    a, b = event.ticket_types
    late = _due(make_order(event, {a: 2, b: 1}))
    order_lifecycle.expire_due_orders()
    make_order(event, {b: 1}, buyer=make_user())  # someone else holds the last B

    result = order_lifecycle.mark_order_paid(order_id=late.id)

    assert result.status == OrderStatus.EXPIRED and result.needs_refund is True
    assert (_tier(a.id).held, _tier(a.id).sold) == (0, 0)
    assert (_tier(b.id).held, _tier(b.id).sold) == (1, 0)


def test_payment_after_cancellation_is_flagged_not_honoured(tier_event, make_order, attendee):
    tier = tier_event.ticket_types[0]
    order = make_order(tier_event, {tier: 2})
    order_lifecycle.cancel_order(order_id=order.id, actor=attendee)

    result = order_lifecycle.mark_order_paid(order_id=order.id)

    assert result.status == OrderStatus.CANCELLED and result.needs_refund is True
    assert result.tickets == []
    assert (_tier(tier.id).held, _tier(tier.id).sold) == (0, 0)
