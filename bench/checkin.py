"""Ticksy benchmark: check-in at the gate (`POST /api/checkin`) under gunicorn and PostgreSQL.

Run it with `make bench-checkin` (bench/README.md, section "Check-in"). In short:

1. Database: the same rules and safety checks as bench/onsale.py (a database whose name contains
   `bench`; its `public` schema is dropped and recreated), then the data through the services: one
   organizer, one published event with one tier, `--tickets` tickets sold in paid M-Pesa orders of
   1,000 (`place_order` + `record_settled`, the demo seed's path, which issues the tickets with
   `issue_tickets`), `--staff` gate-staff accounts (`gate.set_staff`) with access tokens, and one
   account that does not staff the event. Every ticket's code is signed here, ahead of time.
2. The statements each kind of scan costs, counted in this process with the same app and settings.
3. gunicorn serves bench.wsgi:app on 127.0.0.1 and a free port, with a signing key made for the run
   (the same key signs the codes here), `TICKSY_ENV=production`.
4. Phases: warm-up; a closed-loop sweep over `--clients`; an open-loop phase at `--rate` scans/s;
   a phase of forged codes only; `GET /bench/hello` at the best concurrency. Mixed phases send
   `--repeat-pct` codes already checked in (409) and `--forged-pct` forged codes (404); every other
   code is a fresh valid ticket (200). CPU per scan and PostgreSQL's own counters for every phase.
5. Checks from the database (every 200 admitted exactly one ticket once, the used tickets are
   exactly those), then the report, printed and written to bench/results/checkin-*.{json,md};
   everything started is stopped, also on Ctrl-C, SIGTERM or an error.
"""
import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import platform
import random
import secrets
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter, deque
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config as _config  # noqa: E402  (reads .env, as the app does)
from bench import loadgen, procs, wrk  # noqa: E402
from bench.onsale import cpu_per_request, reset_schema, resolve_database  # noqa: E402

import aiohttp  # noqa: E402

TARGETS = {
    "scans_per_s_min": 1500,        # at the best concurrency of the sweep
    "open_loop_rate": 200,          # scans/s, open loop
    "open_loop_p95_ms_max": 10,
}
GUNICORN_WORKERS = 4
PG_STATS_DELAY_S = 11.0            # PostgreSQL publishes an idle backend's counters within 10 s
ORDER_SIZE = 1000                   # tickets per bench order (the API caps orders at 100)
EXPECTED = {"fresh": (200, "admitted"), "repeat": (409, "already_checked_in"),
            "forged": (404, "invalid_ticket"), "outsider": (403, "forbidden")}
# The check-in path's files: their digest names the code that was measured (no VCS needed).
CHECKIN_FILES = ("server/api/gate.py", "server/services/gate/checkin.py", "server/codes/signing.py",
                 "server/codes/keys.py", "server/platform/security.py", "server/schemas/gate.py",
                 "server/schemas/order.py", "server/tasks/jobs.py", "server/platform/prepared.py",
                 "server/platform/flask_app.py", "server/platform/ratelimits.py", "config.py")


def log(message: str) -> None:
    print(f"[bench-checkin {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- settings

def run_settings(outbox: str) -> dict:
    """The production settings of one run, shared by this process and gunicorn."""
    seed = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode("ascii")
    return {
        "TICKSY_ENV": "production",
        "SECRET_KEY": secrets.token_urlsafe(32),
        "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TICKET_SIGNING_KEY": seed,             # base64url of a fresh Ed25519 seed
        "MPESA_ENV": "disabled",                # no payment provider is called
        "MAIL_BACKEND": "outbox",               # no email is sent on the check-in path anyway
        "MAIL_OUTBOX_DIR": outbox,
        "MAIL_FROM": "Ticksy bench <bench@ticksy.test>",
        "JOBS_MODE": "thread",                  # what production runs without REDIS_URL
        "PERIODIC_JOBS": "0",
        # A closed-loop client scans hundreds of codes a second, a real scanner a few: the
        # per-device limit is raised out of the way, and still checked on every scan (in memory,
        # as production without REDIS_URL), so its cost is in the figures.
        "RATELIMIT_CHECKIN_DEVICE": "1000000/second",
    }


# --------------------------------------------------------------------------- data

def prepare_data(app, args) -> dict:
    """Migrate, then make the organizer, event, paid orders, gate staff and tokens."""
    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade
    from sqlalchemy import text

    from server.extensions import db
    from server.models import PaymentProvider
    from server.services.accounts.users import build_user
    from server.services.catalog.events import create_event
    from server.services.gate.staff import set_staff
    from server.services.orders.ordering import place_order
    from server.services.payments.ledger import record_settled
    from server.tasks import jobs

    timings = {}
    with app.app_context():
        t0 = time.monotonic()
        upgrade()
        domain = "gate.bench.ticksy.test"
        organizer = build_user(name="Bench Gate Organizer", email=f"organizer@{domain}",
                               password="bench-organizer-pass", roles=["organizer"])
        buyers = [build_user(name=f"Gate Buyer {i:03d}", email=f"buyer{i:03d}@{domain}",
                             password="bench-buyer-pass") for i in range(args.buyers)]
        staff = [build_user(name=f"Gate Staff {i:02d}", email=f"staff{i:02d}@{domain}",
                            password="bench-staff-pass") for i in range(args.staff)]
        outsider = build_user(name="Not Staff", email=f"outsider@{domain}",
                              password="bench-outsider-pass")
        db.session.commit()
        starts_at = (datetime.now(timezone.utc) + timedelta(days=1)).replace(
            minute=0, second=0, microsecond=0)
        event = create_event(organizer=organizer, data={
            "title": "Gate Night Live", "description": "The check-in benchmark's event.",
            "venue": "Bench Arena", "city": "Nairobi", "category": "music",
            "starts_at": starts_at, "ends_at": starts_at + timedelta(hours=5),
            "status": "published", "ticket_types": [{
                "name": "General", "price": Decimal("1500"), "currency": "KES",
                "quantity": args.tickets, "max_per_order": ORDER_SIZE}]})
        tier_id = event.ticket_types[0].id
        set_staff(event_id=event.id, actor=organizer, emails=[u.email for u in staff])
        timings["accounts_event_s"] = round(time.monotonic() - t0, 1)

        # Paid orders through the services, the way the demo seed sells tickets: place an M-Pesa
        # order, record its payment as settled (issue_tickets makes the tickets). The job that
        # emails the tickets (a QR code each) is a no-op while the bench data is made, and jobs
        # run inline meanwhile: in the job pool they would still be running during the phases.
        t0 = time.monotonic()
        paid_job = jobs.JOBS["orders.paid"]
        jobs_mode = app.config["JOBS_MODE"]
        jobs.JOBS["orders.paid"] = lambda order_id: None
        app.config["JOBS_MODE"] = "eager"
        orders = 0
        try:
            left = args.tickets
            while left > 0:
                quantity = min(ORDER_SIZE, left)
                buyer = buyers[orders % len(buyers)]
                order = place_order(buyer=buyer, data={
                    "event_id": event.id, "payment_method": "mpesa",
                    "items": [{"ticket_type_id": tier_id, "quantity": quantity}]})
                record_settled(order_id=order.id, provider=PaymentProvider.MPESA,
                               receipt=f"BENCH{order.id:07d}", phone=None)
                orders += 1
                left -= quantity
        finally:
            jobs.JOBS["orders.paid"] = paid_job
            app.config["JOBS_MODE"] = jobs_mode
        timings["orders_s"] = round(time.monotonic() - t0, 1)

        tickets = db.session.execute(text(
            "SELECT id, event_id, nonce FROM tickets WHERE event_id = :e AND status = 'valid' "
            "ORDER BY id"), {"e": event.id}).all()
        expires = timedelta(hours=3)
        data = {
            "event_id": event.id, "tier_id": tier_id, "orders": orders,
            "tickets": [(t.id, t.event_id, t.nonce) for t in tickets],
            "staff_tokens": [create_access_token(identity=u, expires_delta=expires) for u in staff],
            "outsider_token": create_access_token(identity=outsider, expires_delta=expires),
            "timings": timings,
        }
        db.session.remove()
    return data


def analyze(url: str) -> None:
    """ANALYZE the bench database: what autovacuum does within a minute of a bulk load (and the
    local server may run with autovacuum off). Without statistics PostgreSQL may plan the
    check-in UPDATE on the tickets' event_id index and read every ticket of the event per
    scan (`--no-analyze` shows it). Then a CHECKPOINT (a superuser's or pg_checkpoint's right)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("ANALYZE"))
        # The load wrote a lot of WAL: checkpoint now rather than in the middle of a phase.
        conn.execute(text("CHECKPOINT"))
    engine.dispose()


def sign_codes(app, tickets: list[tuple], seed: int) -> tuple[list[tuple[int, str]], list[str]]:
    """(ticket id, code) for every ticket, shuffled (seeded), and forged codes of two kinds:
    well-formed codes signed by another key under our kid, and genuine codes whose payload was
    changed to name another ticket. All of them pass the format checks and fail the signature."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from server.codes.signing import TicketCodes, ticket_codes
    from server.codes.keys import KeyRing, b64url

    with app.app_context():
        codes = ticket_codes()
        signed = [(tid, codes.sign(ticket_id=tid, event_id=eid, nonce=nonce))
                  for tid, eid, nonce in tickets]
        kid = codes.keyring.kid
    rng = random.Random(seed)
    rng.shuffle(signed)
    attacker_key = Ed25519PrivateKey.generate()
    attacker = TicketCodes(KeyRing(kid=kid, private_key=attacker_key,
                                   public_keys={kid: attacker_key.public_key()}))
    forged = []
    for i in range(500):
        tid, eid, _ = tickets[rng.randrange(len(tickets))]
        if i % 2 == 0:
            forged.append(attacker.sign(ticket_id=tid, event_id=eid, nonce=secrets.token_hex(8)))
        else:
            header, _, signature = signed[rng.randrange(len(signed))][1].split(".")
            payload = b64url(json.dumps({"t": tid, "e": eid, "n": secrets.token_hex(8)},
                                        separators=(",", ":")).encode())
            forged.append(f"{header}.{payload}.{signature}")
    return signed, forged


# --------------------------------------------------------------------------- codes and ledger

class Codes:
    """Where every request's code comes from, and what every answer was (for the final checks)."""

    def __init__(self, signed: list[tuple[int, str]], forged: list[str], seed: int,
                 repeat_pct: float, forged_pct: float) -> None:
        self.fresh = deque(signed)
        self.forged = forged
        self.admitted: list[tuple[int, str]] = []     # (ticket id, code) answered 200
        self.admitted_ids: list[int] = []              # ticket ids of every 200 body
        self.statuses: Counter = Counter()             # (kind, status, error code) overall
        self.rng = random.Random(seed + 1)
        self.repeat_pct, self.forged_pct = repeat_pct, forged_pct
        self._blocks: dict[bool, list[str]] = {False: [], True: []}
        self.unanswered: list[int] = []   # fresh tickets sent by wrk with no answer seen
        self.in_flight = 0                 # scans wrk had sent when it stopped, unanswered

    def kinds(self, n: int, forged_only: bool = False) -> list[str]:
        """Exactly n kinds in the configured shares, shuffled."""
        if forged_only:
            return ["forged"] * n
        forged = round(n * self.forged_pct / 100)
        repeat = round(n * self.repeat_pct / 100)
        kinds = ["forged"] * forged + ["repeat"] * repeat + ["fresh"] * (n - forged - repeat)
        self.rng.shuffle(kinds)
        return kinds

    def take(self, kind: str):
        """(kind, ticket id or None, code), or None when no fresh code is left."""
        if kind == "fresh":
            if not self.fresh:
                return None
            tid, code = self.fresh.popleft()
            return kind, tid, code
        if kind == "repeat" and self.admitted:
            tid, code = self.admitted[self.rng.randrange(len(self.admitted))]
            return kind, tid, code
        if kind == "repeat":  # nothing admitted yet: a fresh code instead
            return self.take("fresh")
        return kind, None, self.forged[self.rng.randrange(len(self.forged))]

    def next_mixed(self, forged_only: bool = False):
        """The next code of a closed-loop phase: the shares hold exactly over every 50."""
        block = self._blocks[forged_only]
        if not block:
            block.extend(self.kinds(50, forged_only))
        return self.take(block.pop())

    def note(self, kind: str, tid, code: str, status, error_code, body_ticket_id) -> None:
        self.statuses[(kind, status, error_code)] += 1
        if status == 200:
            self.admitted_ids.append(body_ticket_id)
            self.admitted.append((tid, code))


async def _scan(session, url: str, body: str, headers: dict):
    """(status or "error", error code or exception name, ticket id of a 200)."""
    try:
        async with session.post(url, data=body, headers=headers) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
        return "error", type(err).__name__, None
    try:
        payload = json.loads(raw)
    except ValueError:
        return status, "not_json", None
    if status == 200:
        ticket = payload.get("ticket") if isinstance(payload, dict) else None
        return status, payload.get("result"), ticket.get("id") if isinstance(ticket, dict) else None
    error = payload.get("error") if isinstance(payload, dict) else None
    return status, error.get("code") if isinstance(error, dict) else None, None


def _headers(token: str) -> dict:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


# --------------------------------------------------------------------------- load phases

async def _closed_loop(base_url: str, clients: int, duration_s: float, warmup_s: float,
                       codes: Codes, tokens: list[str], forged_only: bool) -> dict:
    url = base_url + "/api/checkin"
    records: list[tuple] = []
    warm = 0
    ran_out = False
    async with loadgen._session(clients) as session:
        begin = time.perf_counter()
        count_from = begin + warmup_s
        until = count_from + duration_s

        async def client(index: int) -> None:
            nonlocal warm, ran_out
            headers = _headers(tokens[index % len(tokens)])
            device = f"bench-gate-{index:03d}"
            while time.perf_counter() < until:
                item = codes.next_mixed(forged_only)
                if item is None:
                    ran_out = True
                    return
                kind, tid, code = item
                body = json.dumps({"code": code, "device_id": device})
                started = time.perf_counter()
                status, error, got = await _scan(session, url, body, headers)
                ended = time.perf_counter()
                codes.note(kind, tid, code, status, error, got)
                if started >= count_from:
                    records.append((kind, status, error, ended - started))
                else:
                    warm += 1

        await asyncio.gather(*(client(i) for i in range(clients)))
        wall = time.perf_counter() - count_from
    summary = _summarize(records, wall)
    summary.update(clients=clients, warmup_requests=warm, ran_out_of_fresh_codes=ran_out)
    return summary


def closed_loop(base_url: str, *, clients: int, duration_s: float, warmup_s: float, codes: Codes,
                tokens: list[str], forged_only: bool = False, use_wrk: bool = False) -> dict:
    """`clients` scanners, each sending its next code as soon as the last one is answered."""
    loadgen._loopback_only(base_url)
    if use_wrk:
        return closed_loop_wrk(base_url, clients=clients, duration_s=duration_s, codes=codes,
                               tokens=tokens, forged_only=forged_only)
    return asyncio.run(_closed_loop(base_url, clients, duration_s, warmup_s, codes, tokens,
                                    forged_only))


WRK_MAX_RATE = 5000  # scans/s planned for: far above what 2 cores answer


def closed_loop_wrk(base_url: str, *, clients: int, duration_s: float, codes: Codes,
                    tokens: list[str], forged_only: bool) -> dict:
    """The closed loop with wrk as the client (the phase before it has warmed the workers).

    wrk cannot tell which answer belongs to which request: the answers are checked as counts
    against the kinds sent, and the ticket ids of the 200s against the database. Scans still
    in flight when wrk stops are unanswered; their tickets may be admitted (counted apart).
    """
    plan = []
    while len(plan) < duration_s * WRK_MAX_RATE + clients:
        item = codes.next_mixed(forged_only)
        if item is None:
            break
        plan.append(item)
    got = wrk.closed_loop(base_url, clients=clients, duration_s=duration_s, plan=plan,
                          tokens=tokens)
    sent, unsent = plan[:got["sent"]], plan[got["sent"]:]
    codes.fresh.extendleft(reversed([(tid, code) for kind, tid, code in unsent
                                     if kind == "fresh"]))
    expected = Counter(" ".join(map(str, EXPECTED[kind])) for kind, _, _ in sent)
    answers = got["answers"]
    answered = sum(answers.values())
    code_of = {tid: code for kind, tid, code in sent if kind == "fresh"}
    for tid in got["admitted_ids"]:
        codes.note("fresh", tid, code_of.get(tid, ""), 200, "admitted", tid)
    admitted = set(got["admitted_ids"])
    codes.unanswered.extend(tid for tid in code_of if tid not in admitted)
    codes.in_flight += len(sent) - answered
    for key, n in answers.items():
        status, error = key.split(" ", 1)
        if status != "200":
            codes.statuses[("wrk", int(status), error)] += n
    wall = got["duration_us"] / 1e6
    return {
        "requests": answered, "wall_s": round(wall, 3),
        "scans_per_s": round(answered / wall, 1) if wall > 0 else None, **got["latency_ms"],
        "by_kind": {}, "statuses": dict(sorted(answers.items())),
        "status_5xx": sum(n for k, n in answers.items() if k.startswith("5")),
        "client_errors": int(got["errors"]),
        "unexpected": {k: n - expected[k] for k, n in answers.items() if n > expected[k]},
        "clients": clients, "warmup_requests": 0, "in_flight_at_stop": len(sent) - answered,
        "ran_out_of_fresh_codes": len(sent) == len(plan) and not forged_only,
        "load_generator": "wrk",
    }


async def _open_loop(base_url: str, rate: float, plan: list[tuple], codes: Codes,
                     tokens: list[str]) -> dict:
    url = base_url + "/api/checkin"
    records: list[tuple] = []
    lags: list[float] = []
    async with loadgen._session(512) as session:
        async def one(index: int, scheduled: float, item: tuple) -> None:
            kind, tid, code = item
            token_index = index % len(tokens)
            body = json.dumps({"code": code, "device_id": f"bench-gate-{token_index:03d}"})
            lags.append(time.perf_counter() - scheduled)
            status, error, got = await _scan(session, url, body, _headers(tokens[token_index]))
            records.append((kind, status, error, time.perf_counter() - scheduled))
            codes.note(kind, tid, code, status, error, got)

        start = time.perf_counter() + 0.05
        tasks = []
        for index, item in enumerate(plan):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(index, scheduled, item)))
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    summary = _summarize(records, wall)
    lags.sort()
    summary.update(rate=rate, scheduled=len(plan),
                   send_lag_ms={"p50": round(1000 * loadgen.percentile(lags, 50), 2),
                                "p99": round(1000 * loadgen.percentile(lags, 99), 2),
                                "max": round(1000 * lags[-1], 2)} if lags else None)
    return summary


def open_loop(base_url: str, *, rate: float, plan: list[tuple], codes: Codes,
              tokens: list[str]) -> dict:
    """Scans sent at a fixed rate whatever the answers do; latency from the scheduled time."""
    loadgen._loopback_only(base_url)
    return asyncio.run(_open_loop(base_url, rate, plan, codes, tokens))


def _summarize(records: list[tuple], wall: float) -> dict:
    by_kind: dict[str, list[float]] = {}
    counts: Counter = Counter()
    unexpected: Counter = Counter()
    for kind, status, error, latency in records:
        by_kind.setdefault(kind, []).append(latency)
        counts[f"{status} {error}"] += 1
        if (status, error) != EXPECTED[kind]:
            unexpected[f"{kind} -> {status} {error}"] += 1
    return {
        "requests": len(records), "wall_s": round(wall, 3),
        "scans_per_s": round(len(records) / wall, 1) if wall > 0 else None,
        **loadgen.latency_summary([r[3] for r in records]),
        "by_kind": {kind: {"requests": len(values), **loadgen.latency_summary(values)}
                    for kind, values in sorted(by_kind.items())},
        "statuses": dict(sorted(counts.items())),
        "status_5xx": sum(v for k, v in counts.items() if k[0] == "5"),
        "client_errors": sum(v for k, v in counts.items() if k.startswith("error")),
        "unexpected": dict(unexpected),
    }


# --------------------------------------------------------------------------- statements per scan

def count_statements(app, codes: Codes, outsider_token: str, per_kind: int) -> dict:
    """Every statement, commit and rollback of each kind of scan, counted in this process with
    the same application and settings (Flask's test client; no network). Statements made by the
    request itself and by job threads it starts are counted apart."""
    from sqlalchemy import event

    from server.extensions import db
    from server.platform.prepared import PreparedStatement
    from server.services.gate import invalid_scans
    from server.tasks import jobs

    tokens = codes.staff_tokens
    counts: dict = {}
    request_thread = threading.get_ident()
    current: list[str] = ["none"]
    lock = threading.Lock()

    def bump(what: str, label: str | None = None) -> None:
        where = "request" if threading.get_ident() == request_thread else "job threads"
        with lock:
            entry = counts.setdefault(current[0], {"request": Counter(), "job threads": Counter(),
                                                   "labels": Counter()})
            entry[where][what] += 1
            if label:
                entry["labels"][f"{where}: {label}"] += 1

    def on_execute(conn, cursor, statement, parameters, context, executemany):
        text = " ".join(statement.split())
        bump("statements", _label(text))

    def on_commit(conn):
        bump("commits")

    def on_rollback(conn):
        bump("rollbacks")

    plans = {"fresh": [], "repeat": [], "forged": [], "outsider": []}
    for _ in range(per_kind):
        plans["fresh"].append(codes.take("fresh"))
        plans["forged"].append(codes.take("forged"))
        plans["outsider"].append(("outsider",) + codes.take("fresh")[1:])
    statuses: Counter = Counter()
    with app.app_context():
        engines = list(db.engines.values())  # the session's and the autocommit one
        client = app.test_client()

        def scan(kind, tid, code, token):
            response = client.post("/api/checkin", json={"code": code, "device_id": "count"},
                                   headers={"Authorization": f"Bearer {token}"})
            body = response.get_json(silent=True) or {}
            error = body.get("result") if response.status_code == 200 else (
                (body.get("error") or {}).get("code"))
            got = (body.get("ticket") or {}).get("id") if response.status_code == 200 else None
            if kind != "outsider":
                codes.note(kind, tid, code, response.status_code, error, got)
            statuses[(kind, response.status_code, error)] += 1

        # One uncounted scan of each kind first: the first request also loads metadata.
        first = codes.take("fresh")
        scan(*first, tokens[0])
        scan("repeat", first[1], first[2], tokens[0])
        scan(*codes.take("forged"), tokens[0])
        invalid_scans.flush(app)
        _drain_jobs(app, jobs)
        for engine in engines:
            event.listen(engine, "before_cursor_execute", on_execute)
            event.listen(engine, "commit", on_commit)
            event.listen(engine, "rollback", on_rollback)
        # A prepared statement run alone goes straight to the driver's cursor, past
        # SQLAlchemy's events: it is counted where it runs (one EXECUTE, autocommitted).
        first_row_on = PreparedStatement.first_row_on

        def counted_first_row_on(statement, engine, values):
            bump("statements", f"EXECUTE {statement.name} (autocommit)")
            return first_row_on(statement, engine, values)

        PreparedStatement.first_row_on = counted_first_row_on
        try:
            for kind in ("fresh", "repeat", "forged", "outsider"):
                current[0] = kind
                for i in range(per_kind):
                    if kind == "repeat":
                        item = ("repeat",) + plans["fresh"][i][1:]
                    else:
                        item = plans[kind][i]
                    token = outsider_token if kind == "outsider" else tokens[i % len(tokens)]
                    scan(*item, token)
                invalid_scans.flush(app)  # the batch a worker writes within a second
                _drain_jobs(app, jobs)
        finally:
            PreparedStatement.first_row_on = first_row_on
            for engine in engines:
                event.remove(engine, "before_cursor_execute", on_execute)
                event.remove(engine, "commit", on_commit)
                event.remove(engine, "rollback", on_rollback)
        db.session.remove()
    out = {}
    for kind, entry in counts.items():
        if kind == "none":
            continue
        out[kind] = {
            "requests": per_kind,
            "request": {k: round(v / per_kind, 2) for k, v in sorted(entry["request"].items())},
            "job_threads": {k: round(v / per_kind, 2)
                            for k, v in sorted(entry["job threads"].items())},
            "statements": {label: round(v / per_kind, 2)
                           for label, v in entry["labels"].most_common()},
        }
    return {"per_kind": out, "statuses": {f"{k} -> {s} {e}": v
                                           for (k, s, e), v in sorted(statuses.items())}}


def _drain_jobs(app, jobs) -> None:
    """Wait for the in-process job pool (JOBS_MODE=thread) to finish what the scans started."""
    pool = app.extensions.pop(jobs._POOL, None)
    if pool is not None:
        pool.shutdown(wait=True)


def _label(sql: str) -> str:
    """A short name for a statement."""
    low = sql.lower()
    if "from users" in low and "revoked_tokens" in low:
        return "auth: the token's user, roles and revocation (1 query)"
    if low.startswith("prepare ticksy_checkin_admit"):
        return "PREPARE of _ADMIT (once per connection)"
    if low.startswith("execute ticksy_checkin_admit"):
        return "check-in: account, right, guarded UPDATE, scan INSERT (_ADMIT)"
    if low.startswith("insert into checkin_scans") and "select" not in low and "),(" in low:
        return "forged scans' batch INSERT (invalid_scans)"
    if "from tickets t left join users" in low:
        return "refusal: why not admitted (_WHY_NOT)"
    if low.startswith("insert into checkin_scans"):
        return "INSERT INTO checkin_scans (_LOG)"
    if low.startswith("select users.id as users_id") and "where users.id =" in low:
        return "the scanner's user row reloaded (expired by the commit; the response's `code`)"
    return sql[:80]


# --------------------------------------------------------------------------- PostgreSQL counters

class PgCounters:
    """pg_stat_database and pg_stat_user_tables of the bench database, read before and after a
    phase. Backends publish their counters when idle (at most ~1 s late): read after a pause."""

    TABLES = ("users", "user_roles", "roles", "revoked_tokens", "events", "event_staff",
              "tickets", "checkin_scans")

    def __init__(self, url: str, database: str) -> None:
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        self.database = database

    def read(self) -> dict:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            conn.execute(text("SELECT pg_stat_clear_snapshot()"))
            row = conn.execute(text(
                "SELECT xact_commit, xact_rollback, tup_returned, tup_fetched, tup_inserted, "
                "tup_updated, tup_deleted, blks_read, blks_hit FROM pg_stat_database "
                "WHERE datname = :d"), {"d": self.database}).mappings().first()
            tables = conn.execute(text(
                "SELECT relname, COALESCE(seq_scan, 0) AS seq_scan, "
                "COALESCE(idx_scan, 0) AS idx_scan, n_tup_ins, n_tup_upd "
                "FROM pg_stat_user_tables")).mappings().all()
        out = {f"db.{k}": int(v) for k, v in (row or {}).items()}
        for t in tables:
            if t["relname"] in self.TABLES:
                for key in ("seq_scan", "idx_scan", "n_tup_ins", "n_tup_upd"):
                    out[f"{t['relname']}.{key}"] = int(t[key])
        return out

    @staticmethod
    def per_request(before: dict, after: dict, requests: int) -> dict:
        """The counters that moved, per request (3 decimals)."""
        if not requests:
            return {}
        return {k: round((after.get(k, 0) - before.get(k, 0)) / requests, 3)
                for k in after if after.get(k, 0) != before.get(k, 0)}

    def dispose(self) -> None:
        self.engine.dispose()


# --------------------------------------------------------------------------- final checks

def database_checks(url: str, event_id: int, codes: Codes) -> dict:
    """Every 200 admitted one ticket once, and the used tickets are exactly those."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        used = set(conn.scalars(text(
            "SELECT id FROM tickets WHERE event_id = :e AND status = 'used'"), {"e": event_id}))
        statuses = dict(conn.execute(text(
            "SELECT status::text, COUNT(*) FROM tickets WHERE event_id = :e GROUP BY status"),
            {"e": event_id}).all())
        scans = dict(conn.execute(text(
            "SELECT result::text, COUNT(*) FROM checkin_scans GROUP BY result")).all())
        admitted_twice = conn.scalar(text(
            "SELECT COUNT(*) FROM (SELECT ticket_id FROM checkin_scans WHERE result = 'admitted' "
            "GROUP BY ticket_id HAVING COUNT(*) > 1) AS twice"))
    engine.dispose()
    ids = codes.admitted_ids
    ok_ids = [i for i in ids if i is not None]
    duplicates = len(ok_ids) - len(set(ok_ids))
    # Scans wrk left in flight when it stopped: admitted by the server, answer never read.
    unanswered_used = used & set(codes.unanswered)
    exact = used - unanswered_used == set(ok_ids) and len(ok_ids) == len(ids)
    return {
        "responses_200": len(ids), "tickets_used": len(used),
        "used_unanswered_in_flight": len(unanswered_used), "in_flight_at_stops": codes.in_flight,
        "tickets_by_status": statuses, "scan_records_by_result": scans,
        "ticket_ids_answered_twice": duplicates, "tickets_with_two_admitted_scans": admitted_twice,
        "used_equals_200_ids": exact,
        "ok": exact and len(unanswered_used) <= codes.in_flight and duplicates == 0
        and admitted_twice == 0
        and scans.get("admitted", 0) == len(ids) + len(unanswered_used),
    }


# --------------------------------------------------------------------------- report

def _environment(url: str, source: str) -> dict:
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    import granian
    import gunicorn

    engine = create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        pg = {name: conn.scalar(text(f"SHOW {name}")) for name in
              ("server_version", "synchronous_commit", "shared_buffers", "max_connections")}
    engine.dispose()
    digest = hashlib.sha256()
    for name in CHECKIN_FILES:
        with contextlib.suppress(OSError):
            digest.update((ROOT / name).read_bytes())
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model, "load_avg_before": os.getloadavg(),
            "python": platform.python_version(), "gunicorn": gunicorn.__version__,
            "granian": granian.__version__, "aiohttp": aiohttp.__version__,
            "postgresql": pg, "database": source,
            "checkin_code_sha256": digest.hexdigest()[:12]}


def _cpu_text(c: dict) -> str:
    per = c.get("per_request") or {}
    text = (f"{c['machine_busy_pct']}% busy; CPU s: workers {c['workers_cpu_s']}, postgres "
            f"{c['postgres_cpu_s']}, load generator {c['loadgen_cpu_s']}, other {c['other_cpu_s']}")
    if per:
        text += (f"; per request: workers {per['workers_ms']} ms, postgres "
                 f"{per['postgres_ms']} ms, load generator {per['loadgen_ms']} ms → "
                 f"≈{per['estimated_rps_on_idle_cores']}"
                 "/s if the CPUs were ours alone")
    return text


def evaluate(report: dict) -> dict:
    best = report["best"]
    open_ = report["open_loop"]
    forged_count = report["statements"]["per_kind"].get("forged", {})
    forged_request = forged_count.get("request", {})
    forged_jobs = forged_count.get("job_threads", {})
    pg_forged = report["pg_counters"].get("forged", {})
    phases = [*report["sweep"], open_, report["forged"]]
    return {
        f">= {TARGETS['scans_per_s_min']} scans/s at the best concurrency":
            (best["scans_per_s"] or 0) >= TARGETS["scans_per_s_min"],
        f"p95 <= {TARGETS['open_loop_p95_ms_max']} ms at {report['parameters']['rate']:g} scans/s "
        "(open loop)": (open_["p95_ms"] or 1e9) <= TARGETS["open_loop_p95_ms_max"],
        # The batched scan records' INSERT checks its scanner's foreign key (one users lookup
        # per row): that is the record, not the answer.
        "forged: answered with no query at all": bool(forged_count)
            and forged_request.get("statements", 0) == 0
            and not any(pg_forged.get(f"{t}.{c}", 0) for t in ("tickets", "events")
                        for c in ("idx_scan", "seq_scan", "n_tup_upd"))
            and (pg_forged.get("users.idx_scan", 0) + pg_forged.get("users.seq_scan", 0)
                 <= pg_forged.get("checkin_scans.n_tup_ins", 0) + 0.001),
        "forged: their scan records written in batches (<= 0.05 commits per forged scan)":
            forged_jobs.get("commits", 1e9) <= 0.05
            and pg_forged.get("db.xact_commit", 1e9) <= 0.05,
        "zero 5xx, zero client errors": all(p["status_5xx"] == 0 and p["client_errors"] == 0
                                            for p in phases),
        "every answer as expected (fresh 200, repeat 409, forged 404)":
            all(not p["unexpected"] for p in phases),
        "every valid code admitted exactly once (database)": report["database"]["ok"],
    }


def render_markdown(report: dict) -> str:
    env, params = report["environment"], report["parameters"]
    ok = lambda b: "PASS" if b else "**MISS**"  # noqa: E731
    g = report["gunicorn"]
    lines = [f"# Ticksy check-in benchmark — {report['started_at']}", "",
             f"Machine: {env['cpus']} CPUs ({env['cpu_model']}), load average before "
             f"{', '.join(f'{v:.2f}' for v in env['load_avg_before'])}; Python {env['python']}, "
             f"gunicorn {env['gunicorn']}, granian {env.get('granian')}, "
             f"PostgreSQL {env['postgresql']['server_version']} "
             f"(synchronous_commit {env['postgresql']['synchronous_commit']}; {env['database']}); "
             f"check-in code digest {env['checkin_code_sha256']}.",
             f"{g.get('server', 'gunicorn')}: `{g['worker_class']}` workers × {g['workers']}, "
             f"threads {g['threads']}; "
             f"closed-loop phases driven by {report['load_generator']}, the open loop by aiohttp; "
             "the load generator shares the same CPUs.",
             f"Data: {report['data']['tickets']} tickets in {report['data']['orders']} paid orders "
             f"(made in {report['data']['timings']['orders_s']} s), {params['staff']} gate staff; "
             f"codes signed ahead in {report['data']['signing_s']} s; planner statistics: "
             f"{'none (--no-analyze)' if params['no_analyze'] else 'ANALYZE after loading'}; "
             f"app `{params['app']}`.", ""]
    contended = [p for p, flag in report["contended"].items() if flag]
    if contended:
        lines += [f"> **Contended:** other processes used more than 15% of the CPU during "
                  f"{', '.join(contended)}: those figures understate the app.", ""]
    lines += ["## Targets", "", "| check | result |", "|---|---|"]
    lines += [f"| {name} | {ok(passed)} |" for name, passed in report["checks"].items()]
    lines += ["", f"## Closed-loop sweep ({params['repeat_pct']:g}% repeated, "
              f"{params['forged_pct']:g}% forged)", "",
              "| clients | scans/s | p50 | p95 | p99 | max | statuses | CPU |",
              "|---|---|---|---|---|---|---|---|"]
    for s in report["sweep"]:
        lines.append(f"| {s['clients']} | {s['scans_per_s']} | {s['p50_ms']} ms | {s['p95_ms']} ms "
                     f"| {s['p99_ms']} ms | {s['max_ms']} ms | "
                     f"{', '.join(f'{k}: {v}' for k, v in s['statuses'].items())} | "
                     f"{_cpu_text(s['cpu'])} |")
    o = report["open_loop"]
    lines += ["", f"Best: **{report['best']['scans_per_s']} scans/s with "
              f"{report['best']['clients']} clients**.", "",
              f"## Open loop: {o['rate']:g} scans/s for {params['rate_duration']:g} s", "",
              f"{o['requests']} scans sent on schedule over {o['wall_s']} s ({o['scans_per_s']}/s "
              f"answered); latency from the scheduled send time: p50 {o['p50_ms']} ms, **p95 "
              f"{o['p95_ms']} ms**, p99 {o['p99_ms']} ms, max {o['max_ms']} ms. Load generator "
              f"send lag p50 / p99 / max: {o['send_lag_ms']['p50']} / {o['send_lag_ms']['p99']} / "
              f"{o['send_lag_ms']['max']} ms.", "",
              "| kind | requests | p50 | p95 | p99 | max |", "|---|---|---|---|---|---|"]
    for kind, k in o["by_kind"].items():
        lines.append(f"| {kind} | {k['requests']} | {k['p50_ms']} ms | {k['p95_ms']} ms | "
                     f"{k['p99_ms']} ms | {k['max_ms']} ms |")
    lines += ["", f"Statuses: {', '.join(f'{k}: {v}' for k, v in o['statuses'].items())}. "
              f"CPU: {_cpu_text(o['cpu'])}.", ""]
    f, h = report["forged"], report["hello"]
    lines += ["## Forged codes only, and the hello ceiling", "",
              "| phase | clients | req/s | p50 | p95 | p99 | CPU |",
              "|---|---|---|---|---|---|---|",
              f"| 100% forged codes | {f['clients']} | {f['scans_per_s']} | {f['p50_ms']} ms | "
              f"{f['p95_ms']} ms | {f['p99_ms']} ms | {_cpu_text(f['cpu'])} |"]
    if h:
        lines.append(f"| GET /bench/hello | {h['clients']} | {h['requests_per_s']} | "
                     f"{h['p50_ms']} ms | {h['p95_ms']} ms | {h['p99_ms']} ms | "
                     f"{_cpu_text(h['cpu'])} |")
    lines += ["", "## Database work per scan", "",
              "Counted in the harness with the same app and settings (Flask test client), per "
              "request; `job threads` is what the request started in the in-process job pool:", "",
              "| kind | request: statements / commits / rollbacks | job threads: statements / "
              "commits | statements |", "|---|---|---|---|"]
    for kind, k in report["statements"]["per_kind"].items():
        r, j = k["request"], k["job_threads"]
        lines.append(f"| {kind} | {r.get('statements', 0)} / {r.get('commits', 0)} / "
                     f"{r.get('rollbacks', 0)} | {j.get('statements', 0)} / "
                     f"{j.get('commits', 0)} | " + "; ".join(
                         f"{label} × {n}" for label, n in k["statements"].items()) + " |")
    lines += ["", "PostgreSQL's own counters (pg_stat_database, pg_stat_user_tables) per request "
              "during each phase under load. The `forged` row is exact (read 11 s after the last "
              "database work before and after the phase, when every backend has published its "
              "counters); the others may carry up to about a second of a neighbouring phase.",
              "", "| phase | counters per request |", "|---|---|"]
    for phase, counters in report["pg_counters"].items():
        shown = {k: v for k, v in counters.items() if not k.startswith("db.blks")}
        lines.append(f"| {phase} | " + ", ".join(f"{k} {v}" for k, v in shown.items()) + " |")
    d = report["database"]
    lines += ["", "## Exactly once (from the database)", "",
              f"200 answers: {d['responses_200']}; tickets `used`: {d['tickets_used']}; the used "
              f"tickets are exactly the 200s' tickets: {d['used_equals_200_ids']}; ticket ids "
              f"answered 200 twice: {d['ticket_ids_answered_twice']}; tickets with two `admitted` "
              f"scan records: {d['tickets_with_two_admitted_scans']}. Tickets by status: "
              f"{d['tickets_by_status']}; scan records by result: {d['scan_records_by_result']}.",
              "", "## Memory", "", f"Largest worker peak: {report['memory']['max_worker_peak_mb']} "
              f"MB; worker processes seen: {report['memory']['worker_processes_seen']}.", ""]
    return "\n".join(lines)


def print_summary(report: dict) -> None:
    print()
    print("=" * 78)
    g = report["gunicorn"]
    print(f"{g.get('server', 'gunicorn')} {g['worker_class']} x{g['workers']} "
          f"(threads {g['threads']})   "
          f"load avg before: {report['environment']['load_avg_before'][0]:.2f}")
    for s in report["sweep"]:
        per = s["cpu"].get("per_request") or {}
        print(f"SWEEP   {s['clients']:>3} clients: {s['scans_per_s']:>7} scans/s  "
              f"p50 {s['p50_ms']} ms  p95 {s['p95_ms']} ms  p99 {s['p99_ms']} ms   "
              f"CPU/scan w {per.get('workers_ms')} "
              f"pg {per.get('postgres_ms')} lg {per.get('loadgen_ms')} ms")
    o = report["open_loop"]
    print(f"OPEN    {o['rate']:g}/s: p50 {o['p50_ms']} ms  p95 {o['p95_ms']} ms  "
          f"p99 {o['p99_ms']} ms  max {o['max_ms']} ms; " + ", ".join(
              f"{k} p95 {v['p95_ms']} ms" for k, v in o["by_kind"].items()))
    print(f"        statuses {o['statuses']}")
    f = report["forged"]
    print(f"FORGED  {f['scans_per_s']} scans/s (100% forged, {f['clients']} clients), p95 "
          f"{f['p95_ms']} ms; pg counters/request {report['pg_counters'].get('forged')}")
    if report["hello"]:
        h = report["hello"]
        print(f"HELLO   {h['requests_per_s']} req/s ({h['clients']} clients), p95 {h['p95_ms']} ms;"
              f" CPU/request {h['cpu'].get('per_request')}")
    for kind, k in report["statements"]["per_kind"].items():
        print(f"DB      {kind:<8} request {k['request']}  job threads {k['job_threads']}")
    d = report["database"]
    print(f"ONCE    200s {d['responses_200']}, used {d['tickets_used']}, exact {d['ok']}")
    contended = [p for p, flag in report["contended"].items() if flag]
    if contended:
        print(f"NOTE    other processes used >15% of the CPU during: {', '.join(contended)}")
    print("TARGETS " + "; ".join(f"{name}: {'PASS' if passed else 'MISS'}"
                                 for name, passed in report["checks"].items()))
    print("=" * 78)


# --------------------------------------------------------------------------- main

def _env_int(name: str) -> int | None:
    return int(os.environ[name]) if os.environ.get(name) else None


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Ticksy check-in benchmark (POST /api/checkin); see bench/README.md")
    parser.add_argument("--server", choices=["granian", "gunicorn"],
                        default=os.environ.get("BENCH_SERVER", "granian"),
                        help="granian (the default) as `make serve` runs it (server/run/serve.py), "
                             "or gunicorn for comparison")
    parser.add_argument("--workers", type=int, default=_env_int("BENCH_WORKERS"),
                        help="worker processes (default: make serve's for granian, i.e. the "
                             f"usable cores; {GUNICORN_WORKERS} for gunicorn)")
    parser.add_argument("--threads", type=int, default=_env_int("BENCH_THREADS"),
                        help="threads per worker (default: make serve's for granian; 1 for "
                             "gunicorn)")
    parser.add_argument("--worker-class", default=os.environ.get("BENCH_WORKER_CLASS", "sync"),
                        choices=["sync", "gthread"], help="gunicorn only")
    parser.add_argument("--clients", type=int, nargs="+", default=[8, 16, 32, 64],
                        help="closed-loop concurrencies of the sweep (default: 8 16 32 64)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "aiohttp"], default="auto",
                        help="closed-loop client: wrk when installed (auto), else aiohttp")
    parser.add_argument("--duration", type=float, default=8.0,
                        help="counted seconds per sweep step and for the forged/hello phases")
    parser.add_argument("--warmup", type=float, default=1.0,
                        help="uncounted seconds before each closed-loop phase")
    parser.add_argument("--rate", type=float, default=TARGETS["open_loop_rate"],
                        help="open-loop scans/s (default %(default)s)")
    parser.add_argument("--rate-duration", type=float, default=30.0,
                        help="seconds of the open-loop phase (default %(default)s)")
    parser.add_argument("--repeat-pct", type=float, default=8.0,
                        help="share of codes already checked in (409)")
    parser.add_argument("--forged-pct", type=float, default=2.0, help="share of forged codes (404)")
    parser.add_argument("--tickets", type=int, default=60_000,
                        help="tickets sold before the run (each fresh scan uses one)")
    parser.add_argument("--staff", type=int, default=8, help="gate-staff accounts (tokens)")
    parser.add_argument("--buyers", type=int, default=50)
    parser.add_argument("--count-requests", type=int, default=20,
                        help="scans of each kind whose statements are counted in-process")
    parser.add_argument("--no-hello", action="store_true", help="skip the GET /bench/hello phase")
    parser.add_argument("--no-analyze", action="store_true",
                        help="leave the freshly loaded tables without planner statistics")
    parser.add_argument("--app", default="bench.wsgi:app",
                        help="the WSGI app gunicorn serves (default %(default)s; another module "
                             "on PYTHONPATH to measure a variant of the app)")
    parser.add_argument("--quiet-wait", type=float, default=float(os.environ.get(
        "BENCH_QUIET_WAIT", 30)), help="before each phase wait up to this many seconds for the "
                        "machine to be under 20%% busy (0: do not wait)")
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--label", default="", help="added to the result file names")
    args = parser.parse_args(argv)
    if args.workers is None or args.threads is None:
        from server.run import serve

        production = serve.settings({}) if args.server == "granian" else {
            "workers": GUNICORN_WORKERS, "blocking_threads": 1}
        args.workers = args.workers or production["workers"]
        args.threads = args.threads or production["blocking_threads"]
    if min(args.workers, args.threads, args.staff, args.buyers, *args.clients) < 1:
        parser.error("counts must be positive")
    if args.rate <= 0 or args.duration <= 0 or args.rate_duration <= 0:
        parser.error("rates and durations must be positive")
    if not 0 <= args.repeat_pct + args.forged_pct < 100:
        parser.error("--repeat-pct + --forged-pct must be below 100")
    needed = args.rate * args.rate_duration + 200 + 4 * args.count_requests
    if args.tickets < needed:
        parser.error(f"--tickets must be at least {needed:.0f} for these settings")
    return args


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    started = datetime.now(timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + (f"-{args.label}" if args.label else "")
    RESULTS.mkdir(parents=True, exist_ok=True)

    url, source = resolve_database()
    log(f"database: {source}")
    reset_schema(url)
    outbox = tempfile.mkdtemp(prefix="ticksy-bench-outbox-")
    stack.callback(shutil.rmtree, outbox, ignore_errors=True)
    settings = run_settings(outbox)
    os.environ.update(DATABASE_URL=url, **settings)
    from sqlalchemy.engine import make_url

    from server import create_app

    config = _config.ProductionConfig()
    config.BCRYPT_LOG_ROUNDS = 4  # only to make the accounts quickly; nobody logs in
    app = create_app(config)
    t0 = time.monotonic()
    data = prepare_data(app, args)
    log(f"data ready in {time.monotonic() - t0:.1f}s: {len(data['tickets'])} tickets in "
        f"{data['orders']} paid orders, {len(data['staff_tokens'])} gate staff")
    if not args.no_analyze:
        analyze(url)
        log("ANALYZE done (the planner's statistics of the freshly loaded tables)")
    from server.tasks import jobs

    _drain_jobs(app, jobs)  # nothing of the data's making may run on during the phases
    t0 = time.monotonic()
    signed, forged = sign_codes(app, data["tickets"], args.seed)
    signing_s = round(time.monotonic() - t0, 1)
    log(f"{len(signed)} codes signed in {signing_s}s, {len(forged)} forged codes made")
    codes = Codes(signed, forged, args.seed, args.repeat_pct, args.forged_pct)
    codes.staff_tokens = data["staff_tokens"]

    statements = count_statements(app, codes, data["outsider_token"], args.count_requests)
    log("statements per scan (in-process): " + "; ".join(
        f"{k}: request {v['request']}, jobs {v['job_threads']}"
        for k, v in statements["per_kind"].items()))
    with app.app_context():
        from server.extensions import db
        db.engine.dispose()
    environment = _environment(url, source)
    db_name = make_url(url).database
    pg = PgCounters(url, db_name)
    stack.callback(pg.dispose)

    # The open-loop phase's fresh codes are put aside now, so the sweep cannot use them up.
    open_kinds = codes.kinds(round(args.rate * args.rate_duration))
    open_fresh = [codes.take("fresh") for kind in open_kinds if kind == "fresh"]
    if any(item is None for item in open_fresh):
        raise SystemExit("not enough tickets for the open-loop phase: raise --tickets")

    env = procs.server_env(ROOT, DATABASE_URL=url, **settings)
    log_path = RESULTS / f"{args.server}-checkin-{stamp}.log"
    if args.server == "granian":
        server = procs.start_granian(python=sys.executable, cwd=ROOT, env=env, log_path=log_path,
                                     workers=args.workers, threads=args.threads, app=args.app)
    else:
        server = procs.start_gunicorn(python=sys.executable, cwd=ROOT, env=env, log_path=log_path,
                                      workers=args.workers, worker_class=args.worker_class,
                                      threads=args.threads, app=args.app)
    stack.callback(server.stop)
    log(f"{args.server} pid {server.pid} on {server.base_url}: {args.workers} "
        f"{server.settings['worker_class']} worker(s), {args.threads} thread(s) each")
    procs.wait_healthy(server, args.workers)
    workers = server.workers()
    memory = procs.MemoryWatch(server.pid).start()
    stack.callback(memory.stop)
    tokens = data["staff_tokens"]

    # Warm every worker up: hello and the check-in path (its scans count in the final checks).
    loadgen.fixed_duration(server.base_url, "/bench/hello", clients=8, duration_s=0.3, warmup_s=0)
    warm = closed_loop(server.base_url, clients=max(8, 2 * args.workers), duration_s=2.0,
                       warmup_s=0, codes=codes, tokens=tokens)
    log(f"warm-up: {warm['requests']} scans, {warm['statuses']}")

    quiet, cpu_contended, pg_counters = {}, {}, {}

    def settle(phase: str) -> None:
        if args.quiet_wait > 0:
            quiet[phase] = procs.wait_quiet(args.quiet_wait)
            if not quiet[phase]["quiet"]:
                log(f"  the machine is still {quiet[phase]['busy_pct']}% busy after "
                    f"{quiet[phase]['waited_s']}s: other processes will be in the numbers")
        else:
            time.sleep(1.5)  # let the backends publish the last phase's counters

    last_db_activity = [time.monotonic()]

    def measured(phase: str, fn, requests_of, exact: bool = False, uses_db: bool = True) -> dict:
        """Run one phase between two reads of CPU and PostgreSQL counters. A backend publishes
        its counters at most once a second while busy, and an idle backend that published less
        than a second ago waits up to 10 s more (PGSTAT_IDLE_INTERVAL): `exact` waits that out
        before and after the phase; otherwise the counters may move up to ~1 s of work between
        neighbouring phases."""
        settle(phase)
        if exact:
            time.sleep(max(0.0, PG_STATS_DELAY_S - (time.monotonic() - last_db_activity[0])))
        before = pg.read()
        with procs.CpuMeter(workers, db_name) as meter:
            result = fn()
        time.sleep(PG_STATS_DELAY_S if exact else 1.5)
        after = pg.read()
        if uses_db:
            last_db_activity[0] = time.monotonic()
        requests = requests_of(result)
        result["cpu"] = dict(meter.result, per_request=cpu_per_request(meter.result, requests))
        pg_counters[phase] = PgCounters.per_request(before, after, requests)
        cpu_contended[phase] = meter.result["other_cpu_s"] > 0.15 * meter.result["wall_s"] * (
            os.cpu_count() or 1)
        return result

    all_requests = lambda r: r["requests"] + r.get("warmup_requests", 0)  # noqa: E731
    use_wrk = args.loadgen == "wrk" or (args.loadgen == "auto" and wrk.available())
    load_generator = "wrk" if use_wrk else "aiohttp"
    log(f"closed-loop load generator: {load_generator}")
    sweep = []
    for clients in args.clients:
        log(f"sweep: {clients} closed-loop clients for {args.warmup:g}+{args.duration:g}s")
        step = measured(f"sweep {clients}", lambda: closed_loop(
            server.base_url, clients=clients, duration_s=args.duration, warmup_s=args.warmup,
            codes=codes, tokens=tokens, use_wrk=use_wrk), all_requests)
        sweep.append(step)
        log(f"  {step['scans_per_s']} scans/s, p95 {step['p95_ms']} ms, {step['statuses']}"
            + ("; ran out of fresh codes" if step["ran_out_of_fresh_codes"] else ""))
    best = max(sweep, key=lambda s: s["scans_per_s"] or 0)

    # Repeated codes of the open loop: tickets answered 200 before it began.
    fresh_iter = iter(open_fresh)
    plan = [next(fresh_iter) if kind == "fresh" else codes.take(kind) for kind in open_kinds]
    log(f"open loop: {args.rate:g} scans/s for {args.rate_duration:g}s ({len(plan)} scans)")
    open_result = measured("open loop", lambda: open_loop(
        server.base_url, rate=args.rate, plan=plan, codes=codes, tokens=tokens), all_requests)
    log(f"  p50 {open_result['p50_ms']} ms, p95 {open_result['p95_ms']} ms, "
        f"p99 {open_result['p99_ms']} ms, {open_result['statuses']}")

    hello = None
    if not args.no_hello:
        log(f"GET /bench/hello: {best['clients']} clients for {args.duration:g}s")
        hello = measured("hello", lambda: loadgen.fixed_duration(
            server.base_url, "/bench/hello", clients=best["clients"], duration_s=args.duration,
            warmup_s=args.warmup), all_requests, uses_db=False)
        log(f"  {hello['requests_per_s']} req/s, p95 {hello['p95_ms']} ms")
    log(f"forged codes only: {best['clients']} clients for {args.duration:g}s")
    forged_result = measured("forged", lambda: closed_loop(
        server.base_url, clients=best["clients"], duration_s=args.duration,
        warmup_s=args.warmup, codes=codes, tokens=tokens, forged_only=True, use_wrk=use_wrk),
        all_requests, exact=True)
    log(f"  {forged_result['scans_per_s']} scans/s, p95 {forged_result['p95_ms']} ms")

    memory.stop()
    database = database_checks(url, data["event_id"], codes)

    report = {
        "started_at": started.isoformat(timespec="seconds"),
        "parameters": vars(args),
        "targets": TARGETS,
        "environment": environment,
        "gunicorn": server.settings,
        "settings": {k: v for k, v in settings.items()
                     if k not in ("SECRET_KEY", "JWT_SECRET_KEY", "TICKET_SIGNING_KEY")},
        "data": {"event_id": data["event_id"], "tickets": len(data["tickets"]),
                 "orders": data["orders"], "timings": data["timings"], "signing_s": signing_s},
        "warmup": warm,
        "statements": statements,
        "sweep": sweep,
        "best": {"clients": best["clients"], "scans_per_s": best["scans_per_s"]},
        "load_generator": load_generator,
        "open_loop": open_result,
        "forged": forged_result,
        "hello": hello,
        "pg_counters": pg_counters,
        "database": database,
        "memory": memory.report(),
        "quiet_before": quiet,
        "contended": cpu_contended,
        "fresh_codes_left": len(codes.fresh),
        "all_statuses": {f"{k} -> {s} {e}": v for (k, s, e), v in sorted(
            codes.statuses.items(), key=lambda item: str(item[0]))},
    }
    report["checks"] = evaluate(report)
    report["all_targets_met"] = all(report["checks"].values())

    json_path, md_path = procs.write_results(report, RESULTS, f"checkin-{stamp}", "checkin-latest",
                                             render_markdown, log)
    print_summary(report)
    log(f"results: {json_path.relative_to(ROOT)} and {md_path.relative_to(ROOT)}")
    return report


def main(argv=None) -> int:
    return procs.run_main(run, parse_args(argv), log)


if __name__ == "__main__":
    sys.exit(main())
