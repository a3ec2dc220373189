"""Race tests on committed data: the on-sale rush, its negative control, and order transitions.

These run outside the rollback harness (`own_app`): each builds its data through the services and
commits it, races threads released together by a barrier, each thread on its own session and
connection of an app whose pool is big enough for them, then audits the committed rows. Every
table except roles and alembic_version is truncated after each test, so later tests start empty.
"""
import itertools
import random
import threading
import time
from collections import Counter
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import NamedTuple

import pytest
from flask_jwt_extended import create_access_token
from sqlalchemy import func, select, text, update

import config
from server import create_app
from server.platform.errors import AppError
from server.extensions import db
from server.models import (OrderStatus, Ticket, TicketOrder, TicketOrderItem, TicketStatus,
                           TicketType, User, utcnow)
from server.services.catalog import events
from server.services.orders import inventory, lifecycle as order_lifecycle, ordering
from server.services.accounts.users import roles_by_name
from server.platform.passwords import hash_password

pytestmark = pytest.mark.own_app

POOL_SIZE = 40          # connections the racing threads share (PostgreSQL here allows 100)
SEED = 20_240_601
BUYERS = 200
RUSH_TIERS = [("Regular", "1500.00", 30), ("VIP", "5000.00", 20)]   # 50 tickets in all
HOLDING = (OrderStatus.PENDING, OrderStatus.PAID)
_seq = itertools.count(1)


# --- the app, the data and the threads ------------------------------------------------------

@pytest.fixture(scope="module")
def race_app(app):
    """An app on the (migrated) test database with a pool big enough for the racing threads."""
    settings = config.TestingConfig()
    settings.SQLALCHEMY_ENGINE_OPTIONS = {"pool_size": POOL_SIZE, "max_overflow": 0,
                                          "pool_timeout": 60}
    race = create_app(settings)
    yield race
    with race.app_context():
        db.engine.dispose()


@pytest.fixture(autouse=True)
def _empty_database_afterwards(race_app):
    yield
    _truncate(race_app)


def _truncate(app) -> None:
    with app.app_context(), db.engine.begin() as conn:
        tables = conn.scalars(text(
            "SELECT quote_ident(tablename) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename NOT IN ('roles', 'alembic_version')")).all()
        conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))


class Stage(NamedTuple):
    event_id: int
    tier_ids: list[int]
    buyers: list[tuple[int, str]]       # (user id, bearer token)


def _stage(app, tiers, buyers: int) -> Stage:
    """A published event with `tiers` [(name, price, quantity)] and `buyers` users, committed."""
    with app.app_context():
        password = hash_password("password123")
        roles = {name: roles_by_name(names) for name, names in
                 (("organizer", ["organizer"]), ("attendee", []))}
        people = [User(name=f"Racer {n}", email=f"racer{n}@example.com", password_hash=password,
                       roles=list(roles["organizer" if k == 0 else "attendee"]))
                  for k, n in enumerate(itertools.islice(_seq, buyers + 1))]
        db.session.add_all(people)
        starts_at = utcnow() + timedelta(days=30)
        event = events.create_event(organizer=people[0], data={
            "title": "On-sale rush", "venue": "KICC", "starts_at": starts_at,
            "ends_at": starts_at + timedelta(hours=4), "status": "published",
            "ticket_types": [{"name": name, "price": Decimal(price), "quantity": quantity}
                             for name, price, quantity in tiers]})
        return Stage(event.id, [tier.id for tier in event.ticket_types],
                     [(user.id, create_access_token(identity=user)) for user in people[1:]])


def _head_start(targets, first: int, lag: float = 0.005) -> list:
    """The racers, all but `first` pausing briefly after the barrier, so each kind gets to win."""
    def late(target):
        time.sleep(lag)
        return target()
    return [t if k == first else partial(late, t) for k, t in enumerate(targets)]


def _run_together(targets) -> list:
    """Start one thread per callable, release them together, return results (or exceptions)."""
    barrier = threading.Barrier(len(targets), timeout=60)
    results = [None] * len(targets)

    def run(index, target):
        try:
            barrier.wait()
            results[index] = target()
        except BaseException as exc:  # noqa: BLE001  (reported by the caller)
            results[index] = exc

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(targets)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a racing thread never finished"
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, f"{len(errors)} threads raised, first: {errors[0]!r}"
    return results


# --- what one thread does -------------------------------------------------------------------

def _post_order(app, token, body, key=None):
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    resp = app.test_client().post("/api/orders", json=body, headers=headers)
    return resp.status_code, resp.get_json()


def _cancel_over_http(app, token, order_id):
    resp = app.test_client().post(f"/api/orders/{order_id}/cancel",
                                  headers={"Authorization": f"Bearer {token}"})
    return resp.status_code, resp.get_json()


def _pay(app, order_id):
    """mark_order_paid as the payments code will call it: (status, needs_refund) afterwards."""
    with app.app_context():
        order = order_lifecycle.mark_order_paid(order_id=order_id)
        return order.status.value, order.needs_refund


def _cancel(app, order_id, buyer_id):
    with app.app_context():
        try:
            order_lifecycle.cancel_order(order_id=order_id, actor=db.session.get(User, buyer_id))
        except AppError as err:
            return err.code
        return "cancelled"


def _expire(app, order_id):
    with app.app_context():
        return order_lifecycle.expire_order(order_id=order_id)


def _place(app, buyer_id, event_id, quantities, *, due=False) -> int:
    """A committed pending order; with `due` its hold has already run out."""
    with app.app_context():
        items = [{"ticket_type_id": tier, "quantity": n} for tier, n in quantities.items()]
        order = ordering.place_order(buyer=db.session.get(User, buyer_id),
                                     data={"event_id": event_id, "items": items})
        if due:
            order.expires_at = utcnow() - timedelta(minutes=1)
            db.session.commit()
        return order.id


def _buy_and_pay(app, buyer_id, event_id, quantities):
    try:
        order_id = _place(app, buyer_id, event_id, quantities)
    except AppError as err:
        return err.code
    return _pay(app, order_id)[0]


# --- the audit ------------------------------------------------------------------------------

def _sums(query) -> dict[int, int]:
    return dict(db.session.execute(query).all())


def _audit(app, event_id) -> dict[int, tuple[int, int, int]]:
    """Assert the event's inventory invariants on committed rows; {tier: (qty, sold, held)}."""
    with app.app_context():
        tiers = db.session.scalars(select(TicketType).where(TicketType.event_id == event_id)).all()
        by_status = (select(TicketOrderItem.ticket_type_id, func.sum(TicketOrderItem.quantity))
                     .join(TicketOrder).where(TicketOrder.event_id == event_id)
                     .group_by(TicketOrderItem.ticket_type_id))
        in_orders = _sums(by_status.where(TicketOrder.status.in_(HOLDING)))
        in_paid = _sums(by_status.where(TicketOrder.status == OrderStatus.PAID))
        valid = _sums(select(Ticket.ticket_type_id, func.count()).where(
            Ticket.event_id == event_id, Ticket.status == TicketStatus.VALID)
            .group_by(Ticket.ticket_type_id))
        for tier in tiers:
            assert tier.sold >= 0 and tier.held >= 0, tier.name
            assert tier.sold + tier.held <= tier.quantity, f"{tier.name} oversold"
            assert tier.sold + tier.held == in_orders.get(tier.id, 0), tier.name
            assert tier.sold == in_paid.get(tier.id, 0) == valid.get(tier.id, 0), tier.name
        orders = db.session.scalars(select(TicketOrder).where(TicketOrder.event_id == event_id))
        for order in orders:
            _assert_tickets_match(order)
        return {tier.id: (tier.quantity, tier.sold, tier.held) for tier in tiers}


def _assert_tickets_match(order: TicketOrder) -> None:
    """A paid order has exactly one valid ticket per admission, held by its buyer; others none."""
    wanted = Counter({item.ticket_type_id: item.quantity for item in order.items}
                     if order.status == OrderStatus.PAID else {})
    issued = Counter(ticket.ticket_type_id for ticket in order.tickets)
    assert issued == wanted, f"order {order.id} ({order.status.value})"
    assert all(t.status == TicketStatus.VALID and t.holder_id == order.buyer_id
               for t in order.tickets)


# --- a. the on-sale rush --------------------------------------------------------------------

class Plan(NamedTuple):
    token: str
    tier_id: int
    quantity: int
    then: str           # pay | cancel | keep, for a buyer who gets tickets

    def body(self, event_id):
        return {"event_id": event_id,
                "items": [{"ticket_type_id": self.tier_id, "quantity": self.quantity}]}


def _plans(stage: Stage) -> list[Plan]:
    rng = random.Random(SEED)
    return [Plan(token, rng.choice(stage.tier_ids), rng.randint(1, 2),
                 rng.choices(["pay", "cancel", "keep"], weights=[2, 1, 1])[0])
            for _, token in stage.buyers]


def _rush(app, stage, plans):
    return _run_together([partial(_post_order, app, plan.token, plan.body(stage.event_id))
                          for plan in plans])


def _assert_loser(plan: Plan, body: dict) -> None:
    error = body["error"]
    assert error["code"] == "sold_out", error
    assert error["details"]["ticket_type_id"] == plan.tier_id
    assert 0 <= error["details"]["available"] < plan.quantity, error


def _after_the_rush(app, stage, plans, rush) -> dict[int, int]:
    """Check the first round: only holds happened, so availability only went down."""
    assert {status for status, _ in rush} <= {201, 409}, Counter(s for s, _ in rush)
    won = Counter()
    for plan, (status, body) in zip(plans, rush):
        if status == 201:
            assert body["status"] == "pending" and body["items"][0]["quantity"] == plan.quantity
            won[plan.tier_id] += plan.quantity
        else:
            _assert_loser(plan, body)
    books = _audit(app, stage.event_id)
    assert sum(won.values()) <= 50
    for tier_id, (quantity, sold, held) in books.items():
        assert (sold, held) == (0, won[tier_id])
        smallest_refused = min((p.quantity for p, (s, _) in zip(plans, rush)
                                if s == 409 and p.tier_id == tier_id), default=quantity + 1)
        assert quantity - held < smallest_refused, "a buyer was refused while tickets were left"
    with app.app_context():
        orders = db.session.scalar(select(func.count()).where(
            TicketOrder.event_id == stage.event_id))
    assert orders == sum(status == 201 for status, _ in rush), "a refused buyer left an order"
    return won


def _settle(app, stage, plan, first):
    """The second round for one buyer: a winner pays, cancels or waits; a loser tries again."""
    status, body = first
    if status == 409:
        return "retry", _post_order(app, plan.token, plan.body(stage.event_id))
    if plan.then == "pay":
        return "pay", _pay(app, body["id"])
    if plan.then == "cancel":
        return "cancel", _cancel_over_http(app, plan.token, body["id"])
    return "keep", None


def test_on_sale_rush_sells_exactly_what_exists(race_app):
    stage = _stage(race_app, RUSH_TIERS, BUYERS)
    plans = _plans(stage)
    started = time.monotonic()
    rush = _rush(race_app, stage, plans)
    won = _after_the_rush(race_app, stage, plans, rush)

    settled = _run_together([partial(_settle, race_app, stage, plan, first)
                             for plan, first in zip(plans, rush)])
    books = _audit(race_app, stage.event_id)

    for action, result in settled:
        if action == "pay":
            assert result == ("paid", False)
        elif action == "cancel":
            assert result[0] == 200 and result[1]["status"] == "cancelled"
        elif action == "retry":
            assert result[0] == 201 or result[1]["error"]["code"] == "sold_out", result
    done = Counter(action for action, _ in settled)
    retried = sum(action == "retry" and result[0] == 201 for action, result in settled)
    with race_app.app_context():
        statuses = Counter(db.session.scalars(select(TicketOrder.status).where(
            TicketOrder.event_id == stage.event_id)))
    assert statuses == Counter({OrderStatus.PAID: done["pay"],
                                OrderStatus.CANCELLED: done["cancel"],
                                OrderStatus.PENDING: done["keep"] + retried})
    print(f"\nrush: {sum(s == 201 for s, _ in rush)} orders won {sum(won.values())} tickets, "
          f"{sum(s == 409 for s, _ in rush)} sold_out; then {dict(done)}, {retried} retries won; "
          f"tiers (qty, sold, held): {list(books.values())}; {time.monotonic() - started:.1f}s")


# --- b. the negative control ----------------------------------------------------------------

_tt = TicketType.__table__.c


def _naive_hold(ticket_type_id: int, quantity: int):
    """Read, check, write: the classic oversell, with a pause to widen the window."""
    left = db.session.scalar(select(_tt.quantity - _tt.sold - _tt.held)
                             .where(_tt.id == ticket_type_id))
    if left is None or left < quantity:
        return None
    time.sleep(0.01)
    row = db.session.execute(update(TicketType.__table__).where(_tt.id == ticket_type_id)
                             .values(held=_tt.held + quantity)
                             .returning(_tt.price, _tt.currency)).first()
    return inventory.Held(*row)


def _alter_ticket_types(app, sql: str) -> None:
    with app.app_context(), db.engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE ticket_types {sql}"))


def _over(app, event_id) -> dict[str, int]:
    with app.app_context():
        tiers = db.session.scalars(select(TicketType).where(TicketType.event_id == event_id))
        return {t.name: t.sold + t.held - t.quantity for t in tiers if t.sold + t.held > t.quantity}


def test_control_without_the_guard_oversells(race_app, monkeypatch):
    stage = _stage(race_app, RUSH_TIERS, BUYERS)
    monkeypatch.setattr(inventory, "hold", _naive_hold)
    _alter_ticket_types(race_app, "DROP CONSTRAINT ck_ticket_types_not_oversold")
    try:
        rush = _rush(race_app, stage, _plans(stage))
        oversold = _over(race_app, stage.event_id)
    finally:
        _truncate(race_app)
        _alter_ticket_types(race_app, "ADD CONSTRAINT ck_ticket_types_not_oversold "
                                      "CHECK (sold + held <= quantity)")
    print(f"\ncontrol: {Counter(s for s, _ in rush)}, oversold by {oversold}")
    assert oversold, "the unguarded hold did not oversell, so the rush test proves nothing"


def test_check_constraint_alone_stops_the_unguarded_hold(race_app, monkeypatch):
    """The second line of defence: without the guard the CHECK still refuses to oversell."""
    stage = _stage(race_app, RUSH_TIERS, BUYERS)
    monkeypatch.setattr(inventory, "hold", _naive_hold)
    rush = _rush(race_app, stage, _plans(stage))
    print(f"\nconstraint only: {Counter(s for s, _ in rush)}")
    assert not _over(race_app, stage.event_id)
    _audit(race_app, stage.event_id)


# --- multi-tier orders lock in one order ----------------------------------------------------

def test_orders_naming_tiers_in_any_order_never_deadlock(race_app):
    stage = _stage(race_app, [("A", "100.00", 1000), ("B", "200.00", 1000)], 60)
    rng = random.Random(SEED)
    bodies = []
    for _ in stage.buyers:
        items = [{"ticket_type_id": tier, "quantity": rng.randint(1, 3)} for tier in stage.tier_ids]
        rng.shuffle(items)
        bodies.append({"event_id": stage.event_id, "items": items})
    results = _run_together([partial(_post_order, race_app, token, body)
                             for (_, token), body in zip(stage.buyers, bodies)])
    assert [status for status, _ in results] == [201] * len(bodies), Counter(
        status for status, _ in results)
    books = _audit(race_app, stage.event_id)
    for tier_id, (_, _, held) in books.items():
        assert held == sum(i["quantity"] for b in bodies for i in b["items"]
                           if i["ticket_type_id"] == tier_id)


# --- c. one order, three transitions at once ------------------------------------------------

ROUNDS = 15


def _one_order_state(app, order_id, tier_id):
    with app.app_context():
        order = db.session.get(TicketOrder, order_id)
        tier = db.session.get(TicketType, tier_id)
        return order.status.value, order.needs_refund, tier.sold, tier.held, len(order.tickets)


def test_cancel_expiry_and_payment_of_one_order_end_in_one_state(race_app):
    stage = _stage(race_app, [(f"Round {r}", "700.00", 2) for r in range(ROUNDS)], 1)
    buyer_id = stage.buyers[0][0]
    closed_by = Counter()
    for round_, tier_id in enumerate(stage.tier_ids):
        order_id = _place(race_app, buyer_id, stage.event_id, {tier_id: 2}, due=True)
        cancelled, expired, paid = _run_together(_head_start([
            partial(_cancel, race_app, order_id, buyer_id), partial(_expire, race_app, order_id),
            partial(_pay, race_app, order_id)], first=round_ % 3))
        final, needs_refund, sold, held, tickets = _one_order_state(race_app, order_id, tier_id)

        assert cancelled in ("cancelled", "order_not_cancellable")
        assert not (cancelled == "cancelled" and expired), "cancelled and expired both won"
        closed_by["cancel" if cancelled == "cancelled" else "expiry" if expired else "payment"] += 1
        assert final in ("cancelled", "expired", "paid") and paid == (final, needs_refund)
        if final == "paid":
            assert (sold, held, tickets, needs_refund) == (2, 0, 2, False)
        else:
            assert (sold, held, tickets, needs_refund) == (0, 0, 0, True)
            assert (final == "cancelled") == (cancelled == "cancelled")
            assert (final == "expired") == expired
        assert held == 0
    _audit(race_app, stage.event_id)
    print(f"\nclosed first by: {dict(closed_by)}")


def test_late_payment_and_a_new_buyer_race_for_the_released_tickets(race_app):
    stage = _stage(race_app, [(f"Round {r}", "900.00", 2) for r in range(10)], 2)
    (late_buyer, _), (rival, _) = stage.buyers
    winners = Counter()
    for round_, tier_id in enumerate(stage.tier_ids):
        order_id = _place(race_app, late_buyer, stage.event_id, {tier_id: 2}, due=True)
        assert _expire(race_app, order_id) is True
        late, other = _run_together(_head_start([partial(_pay, race_app, order_id), partial(
            _buy_and_pay, race_app, rival, stage.event_id, {tier_id: 2})], first=round_ % 2))
        if late == ("paid", False):
            assert other == "sold_out"
            winners["late payment"] += 1
        else:
            assert late == ("expired", True) and other == "paid"
            winners["new buyer"] += 1
        assert _one_order_state(race_app, order_id, tier_id)[2:4] == (2, 0)
    _audit(race_app, stage.event_id)
    print(f"\nreleased tickets went to: {dict(winners)}")


# --- d. one request sent ten times at once --------------------------------------------------

@pytest.mark.parametrize("quantity", [50, 3],
                         ids=["plenty-left", "last-tickets"])
def test_duplicate_idempotency_key_under_concurrency_makes_one_order(race_app, quantity):
    stage = _stage(race_app, [("Regular", "1000.00", quantity)], 1)
    (_, token), (tier_id,) = stage.buyers[0], stage.tier_ids
    body = {"event_id": stage.event_id, "items": [{"ticket_type_id": tier_id, "quantity": 3}]}
    results = _run_together([partial(_post_order, race_app, token, body, "checkout-1")] * 10)

    assert [status for status, _ in results] == [201] * 10, Counter(
        (s, b.get("error", {}).get("code")) for s, b in results)
    assert len({body["id"] for _, body in results}) == 1
    with race_app.app_context():
        assert db.session.scalar(select(func.count()).where(
            TicketOrder.event_id == stage.event_id)) == 1
    assert list(_audit(race_app, stage.event_id).values()) == [(quantity, 0, 3)]
