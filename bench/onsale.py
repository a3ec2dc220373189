"""Ticksy benchmark: an on-sale rush and the public catalogue under gunicorn and PostgreSQL.

Run it with `make bench` (README in this folder). In short:

1. Database: BENCH_DATABASE_URL, else DATABASE_URL's server with a `<name>_bench` database, else an
   embedded PostgreSQL in a temporary folder. Its `public` schema is dropped and recreated, the
   migrations run, and the data is made through the services: one event with 1,000 tickets
   (600 + 400), 40 other published events, 200 buyers with pre-issued access tokens.
2. gunicorn serves bench.wsgi:app (the real app plus /bench/hello) on 127.0.0.1 and a free port.
3. Rush: 2,000 purchase attempts from 200 concurrent clients, then the oversell check in the database.
4. GET /api/events, then GET /bench/hello (and GET /bench/raw), 64 clients for a fixed time each.
5. Report printed and written to bench/results/ as JSON and Markdown; everything started is stopped.
"""
import argparse
import atexit
import base64
import contextlib
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config as _config  # noqa: E402  (reads .env, as the app does, before the URLs are chosen)
from bench import loadgen, procs  # noqa: E402
from bench.profile_summary import render as render_profile, summarize as summarize_profile  # noqa: E402

TARGETS = {
    "rush_orders_per_s_min": 300,
    "rush_p99_ms_max": 1000,
    "events_vs_hello_min": 0.5,
    "events_p95_ms_max": 25,
    "worker_peak_mb_max": 200,
}
# Chosen by measurement on the 2-core machine (README "Worker configuration").
DEFAULT_WORKERS = 4
DEFAULT_WORKER_CLASS = "sync"
DEFAULT_THREADS = 1


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- database

def _guard_database(url, others: dict[str, str | None]) -> None:
    """Refuse any database that is not clearly a bench database, or that another setting uses."""
    from sqlalchemy.engine import make_url

    if "bench" not in (url.database or ""):
        raise SystemExit(f"refusing to reset database {url.database!r}: the bench database's name "
                         "must contain 'bench' (its public schema is dropped on every run)")
    for name, other in others.items():
        if not other:
            continue
        o = make_url(other)
        if (o.host, o.port, o.database) == (url.host, url.port, url.database):
            raise SystemExit(f"refusing to use the database that {name} names: {url.database!r}")


def _ensure_database(url) -> None:
    """Create the bench database when it does not exist (through the server's `postgres` db)."""
    from sqlalchemy import create_engine, text

    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"),
                                 {"n": url.database})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{url.database}"'))
                log(f"created database {url.database}")
    except Exception as err:  # no right to the postgres db: the bench db must already exist
        log(f"could not check/create {url.database} through 'postgres' ({type(err).__name__}); "
            "assuming it exists")
    finally:
        admin.dispose()


def resolve_database() -> tuple[str, str]:
    """(url, where it came from) of the dedicated bench database, created if need be."""
    from sqlalchemy.engine import make_url

    bench_url = os.environ.get("BENCH_DATABASE_URL")
    dev_url = os.environ.get("DATABASE_URL")
    others = {"DATABASE_URL": dev_url, "TEST_DATABASE_URL": os.environ.get("TEST_DATABASE_URL")}
    if bench_url:
        url, source = make_url(bench_url), "BENCH_DATABASE_URL"
    elif dev_url:
        dev = make_url(dev_url)
        url, source = dev.set(database=f"{dev.database}_bench"), "DATABASE_URL's server"
    else:
        from server.platform.embedded_db import embedded_database_url

        data_dir = tempfile.mkdtemp(prefix="ticksy-bench-pg-")
        # Registered before pgserver registers its own exit handler, so it runs after that
        # handler has stopped the server (atexit runs last-in, first-out).
        atexit.register(shutil.rmtree, data_dir, ignore_errors=True)
        log(f"starting an embedded PostgreSQL in {data_dir}")
        url_text = embedded_database_url(data_dir, "ticksy_bench")
        return url_text, "embedded PostgreSQL (temporary)"
    _guard_database(url, others)
    _ensure_database(url)
    return url.render_as_string(hide_password=False), source


def reset_schema(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        conn.execute(text("CREATE SCHEMA public"))
    engine.dispose()


# --------------------------------------------------------------------------- data

CITIES = ["Nairobi", "Mombasa", "Kisumu", "Nakuru", "Eldoret", "Naivasha", "Diani", "Thika"]
CATEGORIES = ["music", "tech", "food", "comedy", "sports", "arts"]


def _event(title: str, days: int, tiers: list[dict], index: int) -> dict:
    starts_at = (datetime.now(timezone.utc) + timedelta(days=days)).replace(
        minute=0, second=0, microsecond=0)
    return {"title": title, "description": f"{title}: a benchmark event.",
            "venue": f"Venue {index}", "city": CITIES[index % len(CITIES)],
            "category": CATEGORIES[index % len(CATEGORIES)], "starts_at": starts_at,
            "ends_at": starts_at + timedelta(hours=4), "status": "published",
            "ticket_types": tiers}


def prepare_data(app, args) -> dict:
    """Migrate, then make the events, buyers and tokens through the services."""
    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade

    from server.extensions import db
    from server.services.accounts.users import build_user
    from server.services.catalog.events import create_event

    with app.app_context():
        upgrade()
        organizer = build_user(name="Bench Organizer", email="organizer@bench.ticksy.test",
                               password="bench-organizer-pass", roles=["organizer"])
        db.session.commit()
        tier_specs = [("Regular", Decimal("1500"), args.tickets[0], 10),
                      ("VIP", Decimal("5000"), args.tickets[1], 4)]
        rush = create_event(organizer=organizer, data=_event("On-sale Rush Live", 30, [
            {"name": name, "price": price, "currency": "KES", "quantity": quantity,
             "max_per_order": per_order} for name, price, quantity, per_order in tier_specs], 0))
        others = []
        for i in range(1, args.other_events + 1):
            others.append(create_event(organizer=organizer, data=_event(
                f"Bench Event {i:02d}", 3 + i, [
                    {"name": "Regular", "price": Decimal(500 + 50 * i), "currency": "KES",
                     "quantity": 1000, "max_per_order": 10},
                    {"name": "VIP", "price": Decimal(2000 + 100 * i), "currency": "KES",
                     "quantity": 100, "max_per_order": 4}], i)))
        buyers = [build_user(name=f"Buyer {i:03d}", email=f"buyer{i:03d}@bench.ticksy.test",
                             password="bench-buyer-pass") for i in range(args.buyers)]
        db.session.commit()
        tokens = [create_access_token(identity=user, expires_delta=timedelta(hours=2))
                  for user in buyers]
        data = {"rush_event_id": rush.id,
                "rush_tiers": [{"id": t.id, "name": t.name, "quantity": t.quantity}
                               for t in rush.ticket_types],
                "warm_event_id": others[0].id if others else rush.id,
                "warm_ticket_type_id": (others[0].ticket_types[0].id if others
                                        else rush.ticket_types[0].id),
                "events_published": 1 + len(others), "buyers": len(buyers), "tokens": tokens}
        db.session.remove()
        db.engine.dispose()
    return data


def make_plans(args, tiers: list[dict]) -> list[list[loadgen.Attempt]]:
    """Each client's attempts: a tier (weighted by its size) and 1 or 2 tickets, seeded."""
    rng = random.Random(args.seed)
    weights = [t["quantity"] for t in tiers]
    per_client = [args.attempts // args.buyers + (1 if i < args.attempts % args.buyers else 0)
                  for i in range(args.buyers)]
    return [[loadgen.Attempt(client=i, ticket_type_id=rng.choices(tiers, weights)[0]["id"],
                             quantity=rng.choice((1, 2))) for _ in range(n)]
            for i, n in enumerate(per_client)]


def oversell_check(app, event_id: int, successes: list[loadgen.Attempt]) -> dict:
    """Straight from the database: per tier sold + held <= quantity, and sold + held equals the
    tickets of the event's pending and paid orders; and the orders match what the clients saw."""
    from sqlalchemy import text

    from server.extensions import db

    with app.app_context():
        rows = db.session.execute(text("""
            SELECT tt.id, tt.name, tt.quantity, tt.sold, tt.held,
                   COALESCE((SELECT SUM(i.quantity) FROM ticket_order_items i
                             JOIN ticket_orders o ON o.id = i.order_id
                             WHERE i.ticket_type_id = tt.id
                               AND o.status IN ('pending', 'paid')), 0) AS ordered
            FROM ticket_types tt WHERE tt.event_id = :event ORDER BY tt.id"""),
            {"event": event_id}).mappings().all()
        orders = dict(db.session.execute(text(
            "SELECT status, COUNT(*) FROM ticket_orders WHERE event_id = :event GROUP BY status"),
            {"event": event_id}).all())
        order_ids = set(db.session.scalars(text(
            "SELECT id FROM ticket_orders WHERE event_id = :event "
            "AND status IN ('pending', 'paid')"), {"event": event_id}))
        tickets = db.session.scalar(text(
            "SELECT COUNT(*) FROM tickets t JOIN ticket_orders o ON o.id = t.order_id "
            "WHERE o.event_id = :event"), {"event": event_id})
        db.session.remove()
        db.engine.dispose()
    tiers = []
    for r in rows:
        tiers.append({"id": r["id"], "name": r["name"], "quantity": r["quantity"],
                      "sold": r["sold"], "held": r["held"], "ordered": int(r["ordered"]),
                      "left": r["quantity"] - r["sold"] - r["held"],
                      "within_quantity": r["sold"] + r["held"] <= r["quantity"]
                      and r["sold"] >= 0 and r["held"] >= 0,
                      "matches_orders": r["sold"] + r["held"] == int(r["ordered"])})
    client_ids = {a.order_id for a in successes}
    client_tickets = {}
    for a in successes:
        client_tickets[a.ticket_type_id] = client_tickets.get(a.ticket_type_id, 0) + a.quantity
    tiers_match_clients = all(client_tickets.get(t["id"], 0) == t["ordered"] for t in tiers)
    oversold = sum(max(t["sold"] + t["held"] - t["quantity"], 0) for t in tiers)
    return {"tiers": tiers, "orders_by_status": orders, "tickets_issued": tickets,
            "oversold_tickets": oversold,
            "ok": all(t["within_quantity"] and t["matches_orders"] for t in tiers)
            and client_ids == order_ids and tiers_match_clients,
            "orders_match_201s": client_ids == order_ids,
            "tickets_match_201s": tiers_match_clients}


# --------------------------------------------------------------------------- profiling

class Profiler:
    """py-spy `record --format raw` on every worker for one phase (optional)."""

    def __init__(self, py_spy: str | None, stamp: str) -> None:
        self.py_spy, self.stamp = py_spy, stamp
        self.running: list[tuple[subprocess.Popen, Path]] = []

    def start(self, phase: str, pids: list[int]) -> None:
        if not self.py_spy:
            return
        for pid in pids:
            out = RESULTS / f"profile-{self.stamp}-{phase}-{pid}.txt"
            proc = subprocess.Popen([self.py_spy, "record", "--pid", str(pid), "--rate", "200",
                                     "--format", "raw", "--nonblocking", "--output", str(out)],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL, start_new_session=True)
            self.running.append((proc, out))
        time.sleep(1.0)  # let py-spy attach before the phase begins

    def stop(self) -> list[Path]:
        outputs = []
        for proc, out in self.running:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc, out in self.running:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if out.exists():
                outputs.append(out)
        self.running = []
        return outputs


# --------------------------------------------------------------------------- report

def _environment(url: str, source: str) -> dict:
    from sqlalchemy import create_engine, text

    import aiohttp
    import gunicorn

    engine = create_engine(url)
    with engine.connect() as conn:
        pg_version = conn.scalar(text("SHOW server_version"))
    engine.dispose()
    try:  # read-only: which code was measured, and whether the app's files differ from it
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, text=True,
                                capture_output=True, timeout=5).stdout.strip() or None
        changed = subprocess.run(["git", "status", "--porcelain", "--", "server", "config.py",
                                  "migrations"], cwd=ROOT, text=True, capture_output=True,
                                 timeout=5).stdout.strip()
        if commit and changed:
            commit += f" + uncommitted changes in {len(changed.splitlines())} app file(s)"
    except (OSError, subprocess.TimeoutExpired):
        commit = None
    cpu_model = None
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    return {"cpus": os.cpu_count(), "cpu_model": cpu_model, "load_avg_before": os.getloadavg(),
            "python": platform.python_version(), "gunicorn": gunicorn.__version__,
            "aiohttp": aiohttp.__version__, "postgresql": pg_version, "database": source,
            "commit": commit}


def cpu_per_request(cpu: dict, requests: int) -> dict:
    """CPU milliseconds per request by workers, PostgreSQL and the load generator, and the
    request rate those costs would allow on this many idle cores (an estimate that other
    processes on a shared machine do not distort)."""
    if not requests:
        return {}
    per = {"workers_ms": 1000 * cpu["workers_cpu_s"] / requests,
           "postgres_ms": 1000 * (cpu["postgres_cpu_s"] or 0) / requests,
           "loadgen_ms": 1000 * cpu["loadgen_cpu_s"] / requests}
    total = sum(per.values())
    cores = os.cpu_count() or 1
    out = {key: round(value, 2) for key, value in per.items()}
    out["estimated_rps_on_idle_cores"] = round(cores * 1000 / total, 1) if total else None
    return out


def evaluate(report: dict) -> dict:
    rush, events, hello = report["rush"], report["events"], report["hello"]
    memory = report["memory"]
    ratio = report["events_vs_hello"]
    checks = {
        "zero oversell": report["oversell"]["ok"] and report["oversell"]["oversold_tickets"] == 0,
        "zero 5xx": rush["status_5xx"] == 0 and not any(
            int(k) >= 500 for k in list(events["statuses"]) + list(hello["statuses"])),
        "every loser gets 409": rush["status_other_4xx"] == 0 and rush["client_errors"] == 0
        and all(c.startswith(("201", "409")) for c in rush["counts"]),
        f"rush >= {TARGETS['rush_orders_per_s_min']} orders/s":
            (rush["orders_per_s"] or 0) >= TARGETS["rush_orders_per_s_min"],
        f"rush p99 <= {TARGETS['rush_p99_ms_max']} ms":
            (rush["latency_all"]["p99_ms"] or 1e9) <= TARGETS["rush_p99_ms_max"],
        f"events >= {TARGETS['events_vs_hello_min']:.0%} of hello":
            ratio is not None and ratio >= TARGETS["events_vs_hello_min"],
        f"events p95 <= {TARGETS['events_p95_ms_max']} ms":
            (events["p95_ms"] or 1e9) <= TARGETS["events_p95_ms_max"],
        f"peak <= {TARGETS['worker_peak_mb_max']} MB per worker":
            (memory["max_worker_peak_mb"] or 1e9) <= TARGETS["worker_peak_mb_max"],
    }
    return checks


def render_markdown(report: dict) -> str:
    rush, events, hello, raw = report["rush"], report["events"], report["hello"], report["raw"]
    settings, env, memory = report["gunicorn"], report["environment"], report["memory"]
    ok = lambda b: "PASS" if b else "**MISS**"  # noqa: E731
    lines = [f"# Ticksy benchmark — {report['started_at']}", ""]
    if report.get("profiled"):
        lines += ["> py-spy was recording the workers: numbers are perturbed, use for the profile "
                  "only.", ""]
    lines += [f"Machine: {env['cpus']} CPUs ({env['cpu_model']}), load average before "
              f"{', '.join(f'{v:.2f}' for v in env['load_avg_before'])}; Python {env['python']}, "
              f"gunicorn {env['gunicorn']}, PostgreSQL {env['postgresql']} ({env['database']}); "
              f"commit {env['commit']}.",
              f"gunicorn: `{settings['worker_class']}` workers × {settings['workers']}, threads "
              f"{settings['threads']}, backlog {settings['backlog']}, keep-alive "
              f"{settings['keep_alive']} s; the load generator shares the same CPUs.", ""]
    contended = [phase for phase, flag in report.get("contended", {}).items() if flag]
    if contended:
        lines += [f"> **Contended:** other processes on the machine used more than 15% of the CPU "
                  f"during {', '.join(contended)} (see the CPU rows): those figures understate "
                  "the app.", ""]
    lines += ["## Targets", "", "| check | result |", "|---|---|"]
    lines += [f"| {name} | {ok(passed)} |" for name, passed in report["checks"].items()]
    lat = rush["latency_all"]
    lines += ["", "## On-sale rush", "",
              f"{rush['attempts_sent']} attempts from {report['parameters']['buyers']} clients "
              f"for {sum(t['quantity'] for t in report['oversell']['tiers'])} tickets in "
              f"{rush['wall_s']} s.", "",
              "| metric | value |", "|---|---|",
              f"| successful orders/s (201s / wall time) | {rush['orders_per_s']} |",
              f"| orders/s while tickets lasted | {rush['orders_per_s_while_selling']} "
              f"(last 201 after {rush['selling_phase_s']} s) |",
              f"| requests/s | {rush['requests_per_s']} |",
              f"| latency p50 / p95 / p99 / max (all attempts) | {lat['p50_ms']} / {lat['p95_ms']} "
              f"/ {lat['p99_ms']} / {lat['max_ms']} ms |",
              f"| latency p50 / p99 of 201s | {rush['latency_201']['p50_ms']} / "
              f"{rush['latency_201']['p99_ms']} ms |",
              f"| latency p50 / p99 of 409s | {rush['latency_409']['p50_ms']} / "
              f"{rush['latency_409']['p99_ms']} ms |",
              f"| 201 / 409 sold_out / other 4xx / 5xx / client errors | {rush['status_201']} / "
              f"{rush['status_409_sold_out']} / {rush['status_other_4xx']} / {rush['status_5xx']}"
              f" / {rush['client_errors']} |",
              f"| all statuses | {', '.join(f'{k}: {v}' for k, v in rush['counts'].items())} |",
              f"| CPU during the rush | {_cpu(report['cpu']['rush'])} |", "",
              f"What the targets ask of this rush: {rush['status_201']} orders at "
              f"{TARGETS['rush_orders_per_s_min']}/s means all {rush['attempts_sent']} attempts "
              f"answered within {rush['status_201'] / TARGETS['rush_orders_per_s_min']:.1f} s, i.e. "
              f"≈{rush['attempts_sent'] * TARGETS['rush_orders_per_s_min'] / max(rush['status_201'], 1):.0f}"
              f" req/s; and with {report['parameters']['buyers']} clients always waiting, mean "
              f"latency is {report['parameters']['buyers']} / throughput, so a p99 of 1 s needs "
              f"well over {report['parameters']['buyers']} req/s.", "",
              "### Oversell check (from the database)", "",
              "| tier | quantity | sold | held | pending+paid order tickets | left | ok |",
              "|---|---|---|---|---|---|---|"]
    for t in report["oversell"]["tiers"]:
        lines.append(f"| {t['name']} | {t['quantity']} | {t['sold']} | {t['held']} | "
                     f"{t['ordered']} | {t['left']} | "
                     f"{ok(t['within_quantity'] and t['matches_orders'])} |")
    o = report["oversell"]
    lines += ["", f"Oversold tickets: {o['oversold_tickets']}; orders by status: "
              f"{o['orders_by_status']}; the 201s' order ids match the database: "
              f"{o['orders_match_201s']}; their tickets match per tier: {o['tickets_match_201s']}.",
              "", "## GET /api/events vs hello world", "",
              "| route | clients | req/s | p50 | p95 | p99 | max | non-200 | CPU |",
              "|---|---|---|---|---|---|---|---|---|"]
    for name, r, cpu in (("GET /api/events (20 per page)", events, report["cpu"]["events"]),
                         ("GET /bench/hello (Flask)", hello, report["cpu"]["hello"]),
                         ("GET /bench/raw (bare WSGI, info)", raw, report["cpu"].get("raw"))):
        if r is None:
            continue
        lines.append(f"| {name} | {r['clients']} | {r['requests_per_s']} | {r['p50_ms']} ms | "
                     f"{r['p95_ms']} ms | {r['p99_ms']} ms | {r['max_ms']} ms | {r['non_200']} | "
                     f"{_cpu(cpu) if cpu else ''} |")
    clients = events["clients"]
    lines += ["", f"Events / hello throughput: **{report['events_vs_hello']:.0%}**.", "",
              f"With {clients} clients each waiting for its answer before sending the next "
              f"request, mean latency is {clients} / throughput (Little's law): a p95 of "
              f"{TARGETS['events_p95_ms_max']} ms needs at least "
              f"{clients * 1000 / TARGETS['events_p95_ms_max']:.0f} req/s; the ceilings measured "
              f"here are {hello['requests_per_s']} req/s (hello)"
              + (f" and {raw['requests_per_s']} req/s (bare WSGI)" if raw else "") + ".", "",
              "## Memory per worker", "", "| worker pid | VmHWM | peak VmRSS sampled |",
              "|---|---|---|"]
    for w in memory["workers"]:
        lines.append(f"| {w['pid']} | {w['vm_hwm_mb']} MB | {w['peak_rss_sampled_mb']} MB |")
    lines += ["", f"Largest worker peak: **{memory['max_worker_peak_mb']} MB**; master "
              f"{memory['master_vm_hwm_mb']} MB; worker processes seen: "
              f"{memory['worker_processes_seen']} (more than the configured count means one was "
              "restarted).", ""]
    if report.get("profile"):
        lines += ["## Profile (py-spy, all workers)", ""]
        for phase, text in report["profile"].items():
            lines += [f"### {phase}", "", "```", text, "```", ""]
    return "\n".join(lines)


def _cpu(c: dict) -> str:
    pg = f", postgres {c['postgres_cpu_s']}" if c.get("postgres_cpu_s") is not None else ""
    text = (f"{c['machine_busy_pct']}% busy; CPU s: workers {c['workers_cpu_s']}, load generator "
            f"{c['loadgen_cpu_s']}{pg}, other {c['other_cpu_s']} (wall {c['wall_s']} s)")
    per = c.get("per_request")
    if per:
        text += (f"; per request: workers {per['workers_ms']} ms, postgres {per['postgres_ms']} ms,"
                 f" load generator {per['loadgen_ms']} ms → ≈{per['estimated_rps_on_idle_cores']}"
                 " req/s if the CPUs were ours alone")
    return text


def print_summary(report: dict) -> None:
    rush, events, hello = report["rush"], report["events"], report["hello"]
    lat = rush["latency_all"]
    print()
    print("=" * 78)
    print(f"gunicorn {report['gunicorn']['worker_class']} x{report['gunicorn']['workers']} "
          f"(threads {report['gunicorn']['threads']})   "
          f"load avg before: {report['environment']['load_avg_before'][0]:.2f}")
    print(f"RUSH    {rush['orders_per_s']} orders/s ({rush['status_201']} orders in "
          f"{rush['wall_s']} s; {rush['orders_per_s_while_selling']}/s while selling), "
          f"{rush['requests_per_s']} req/s")
    print(f"        latency p50 {lat['p50_ms']} ms  p95 {lat['p95_ms']} ms  p99 {lat['p99_ms']} ms"
          f"  max {lat['max_ms']} ms")
    print(f"        statuses {rush['counts']}")
    print(f"        oversold {report['oversell']['oversold_tickets']}, consistent "
          f"{report['oversell']['ok']}; " + ", ".join(
              f"{t['name']}: sold {t['sold']} held {t['held']} of {t['quantity']}"
              for t in report["oversell"]["tiers"]))
    print(f"        CPU: {_cpu(report['cpu']['rush'])}")
    for name, r in (("EVENTS", events), ("HELLO", hello), ("RAW", report["raw"])):
        if r:
            print(f"{name:<7} {r['requests_per_s']} req/s  p50 {r['p50_ms']} ms  p95 {r['p95_ms']}"
                  f" ms  p99 {r['p99_ms']} ms  non-200 {r['non_200']}")
    print(f"        events/hello = {report['events_vs_hello']:.0%}")
    print(f"MEMORY  largest worker peak {report['memory']['max_worker_peak_mb']} MB; " + ", ".join(
        f"{w['pid']}: {max(w['vm_hwm_mb'] or 0, w['peak_rss_sampled_mb'])} MB"
        for w in report["memory"]["workers"]))
    contended = [phase for phase, flag in report.get("contended", {}).items() if flag]
    if contended:
        print(f"NOTE    other processes used >15% of the CPU during: {', '.join(contended)}")
    print("TARGETS " + "; ".join(f"{name}: {'ok' if passed else 'MISSED'}"
                                 for name, passed in report["checks"].items()))
    print("=" * 78)


# --------------------------------------------------------------------------- main

def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Ticksy on-sale and catalogue benchmark")
    parser.add_argument("--workers", type=int, default=int(os.environ.get(
        "BENCH_WORKERS", DEFAULT_WORKERS)))
    parser.add_argument("--worker-class", default=os.environ.get(
        "BENCH_WORKER_CLASS", DEFAULT_WORKER_CLASS), choices=["sync", "gthread"])
    parser.add_argument("--threads", type=int, default=int(os.environ.get(
        "BENCH_THREADS", DEFAULT_THREADS)))
    parser.add_argument("--buyers", type=int, default=200, help="concurrent rush clients")
    parser.add_argument("--attempts", type=int, default=2000, help="purchase attempts in all")
    parser.add_argument("--tickets", type=int, nargs=2, default=[600, 400],
                        metavar=("REGULAR", "VIP"), help="tickets of the rush event's two tiers")
    parser.add_argument("--other-events", type=int, default=40)
    parser.add_argument("--rush-time-limit", type=float, default=120.0,
                        help="no new attempt starts after this many seconds")
    parser.add_argument("--get-clients", type=int, default=64)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per GET phase")
    parser.add_argument("--warmup", type=float, default=1.0, help="uncounted seconds per GET phase")
    parser.add_argument("--quiet-wait", type=float, default=float(os.environ.get(
        "BENCH_QUIET_WAIT", 90)), help="before each phase, wait up to this many seconds for the "
                        "machine to be under 20%% busy (0: do not wait)")
    parser.add_argument("--no-idempotency-key", action="store_true",
                        help="send purchase attempts without an Idempotency-Key")
    parser.add_argument("--no-raw", action="store_true", help="skip the bare-WSGI phase")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument("--profile", action="store_true",
                        help="record every worker with py-spy during the rush and the events phase"
                             " (py-spy from $BENCH_PY_SPY or PATH)")
    parser.add_argument("--label", default="", help="added to the result file names")
    args = parser.parse_args(argv)
    if args.buyers < 1 or args.attempts < 1 or args.workers < 1 or args.threads < 1:
        parser.error("counts must be positive")
    return args


def run(args: argparse.Namespace, stack: contextlib.ExitStack) -> dict:
    started = datetime.now(timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + (f"-{args.label}" if args.label else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    py_spy = None
    if args.profile:
        py_spy = os.environ.get("BENCH_PY_SPY") or shutil.which("py-spy")
        if not py_spy:
            raise SystemExit("--profile needs py-spy: set BENCH_PY_SPY=/path/to/py-spy")

    url, source = resolve_database()
    log(f"database: {source}")
    reset_schema(url)

    # One set of secrets for the server and the token maker; production settings throughout.
    secrets_env = {"SECRET_KEY": secrets.token_urlsafe(32),
                   "JWT_SECRET_KEY": secrets.token_urlsafe(48),
                   # Production also wants a ticket key and its providers; the rush needs neither.
                   "TICKET_SIGNING_KEY": base64.urlsafe_b64encode(
                       secrets.token_bytes(32)).rstrip(b"=").decode("ascii"),
                   "MPESA_ENV": "disabled", "MAIL_ENABLED": "0", "MAIL_BACKEND": "smtp",
                   "MAIL_SERVER": "127.0.0.1", "MAIL_FROM": "Ticksy bench <bench@ticksy.test>",
                   "JOBS_MODE": "thread"}
    os.environ.update(DATABASE_URL=url, TICKSY_ENV="production", **secrets_env)
    from server import create_app

    config = _config.ProductionConfig()
    config.BCRYPT_LOG_ROUNDS = 4  # only to make the 200 accounts quickly; nobody logs in
    app = create_app(config)
    t0 = time.monotonic()
    data = prepare_data(app, args)
    log(f"data ready in {time.monotonic() - t0:.1f}s: {data['events_published']} published events,"
        f" {data['buyers']} buyers, rush tiers "
        + ", ".join(f"{t['name']} {t['quantity']}" for t in data["rush_tiers"]))
    environment = _environment(url, source)

    env = procs.server_env(ROOT, DATABASE_URL=url, TICKSY_ENV="production", **secrets_env)
    server = procs.start_gunicorn(python=sys.executable, cwd=ROOT, env=env,
                                  log_path=RESULTS / f"gunicorn-{stamp}.log",
                                  workers=args.workers, worker_class=args.worker_class,
                                  threads=args.threads)
    stack.callback(server.stop)
    log(f"gunicorn pid {server.pid} on {server.base_url}: {args.workers} {args.worker_class} "
        f"worker(s), {args.threads} thread(s) each")
    procs.wait_healthy(server, args.workers)
    workers = server.workers()
    memory = procs.MemoryWatch(server.pid).start()
    stack.callback(memory.stop)
    profiler = Profiler(py_spy, stamp)
    stack.callback(profiler.stop)
    from sqlalchemy.engine import make_url

    db_name = make_url(url).database
    cpu = {}

    # Warm every worker: catalogue, hello and the order path (on another event).
    concurrency = max(8, args.workers * args.threads * 2)
    loadgen.fixed_duration(server.base_url, "/api/events", clients=concurrency, duration_s=0.5,
                           warmup_s=0)
    loadgen.fixed_duration(server.base_url, "/bench/hello", clients=concurrency, duration_s=0.3,
                           warmup_s=0)
    warm = loadgen.warm_orders(server.base_url, data["warm_event_id"], data["tokens"],
                               data["warm_ticket_type_id"], count=100, clients=concurrency)
    log(f"warm-up orders on another event: {warm}")

    quiet = {}

    def settle(phase: str) -> None:
        if args.quiet_wait > 0:
            quiet[phase] = procs.wait_quiet(args.quiet_wait)
            if not quiet[phase]["quiet"]:
                log(f"  the machine is still {quiet[phase]['busy_pct']}% busy after "
                    f"{quiet[phase]['waited_s']}s: other processes will be in the numbers")
            elif quiet[phase]["waited_s"] > 3:
                log(f"  waited {quiet[phase]['waited_s']}s for the machine to be quiet")

    with urllib.request.urlopen(server.base_url + "/api/events", timeout=10) as response:
        page = json.loads(response.read())
    data["events_page"] = {"items": len(page.get("items", [])), "total": page.get("total")}
    log(f"GET /api/events answers {data['events_page']['items']} events of "
        f"{data['events_page']['total']}")

    plans = make_plans(args, data["rush_tiers"])
    settle("rush")
    log(f"rush: {args.attempts} attempts from {args.buyers} clients for "
        f"{sum(t['quantity'] for t in data['rush_tiers'])} tickets")
    profiler.start("rush", workers)
    with procs.CpuMeter(workers, db_name) as meter:
        rush_result = loadgen.rush(server.base_url, data["rush_event_id"], data["tokens"], plans,
                                   time_limit_s=args.rush_time_limit,
                                   idempotency=not args.no_idempotency_key)
    cpu["rush"] = meter.result
    cpu["rush"]["per_request"] = cpu_per_request(meter.result, len(rush_result.attempts))
    profiles = {"rush": profiler.stop()}
    rush = loadgen.summarize_rush(rush_result)
    oversell = oversell_check(app, data["rush_event_id"],
                              [a for a in rush_result.attempts if a.status == 201])
    log(f"rush done: {rush['orders_per_s']} orders/s, p99 {rush['latency_all']['p99_ms']} ms, "
        f"{rush['counts']}; oversold {oversell['oversold_tickets']}")

    phases = {}
    for name, path in (("events", "/api/events"), ("hello", "/bench/hello"), ("raw", "/bench/raw")):
        if name == "raw" and args.no_raw:
            phases[name] = None
            continue
        settle(name)
        log(f"GET {path}: {args.get_clients} clients for {args.duration:.0f}s")
        if name == "events":
            profiler.start("events", workers)
        with procs.CpuMeter(workers, db_name) as meter:
            phases[name] = loadgen.fixed_duration(server.base_url, path,
                                                  clients=args.get_clients,
                                                  duration_s=args.duration, warmup_s=args.warmup)
        cpu[name] = meter.result
        cpu[name]["per_request"] = cpu_per_request(
            meter.result, phases[name]["requests"] + phases[name]["warmup_requests"])
        if name == "events":
            profiles["events"] = profiler.stop()
        log(f"  {phases[name]['requests_per_s']} req/s, p95 {phases[name]['p95_ms']} ms")
    memory.stop()

    hello_rps = phases["hello"]["requests_per_s"]
    report = {
        "started_at": started.isoformat(timespec="seconds"),
        "parameters": {k: v for k, v in vars(args).items()},
        "targets": TARGETS,
        "environment": environment,
        "gunicorn": server.settings,
        "data": {k: v for k, v in data.items() if k != "tokens"},
        "warmup_orders": warm,
        "rush": rush,
        "oversell": oversell,
        "events": phases["events"],
        "hello": phases["hello"],
        "raw": phases["raw"],
        "events_vs_hello": (phases["events"]["requests_per_s"] / hello_rps) if hello_rps else None,
        "memory": memory.report(),
        "cpu": cpu,
        "quiet_before": quiet,
        "contended": {phase: c["other_cpu_s"] > 0.15 * c["wall_s"] * (os.cpu_count() or 1)
                      for phase, c in cpu.items()},
        "profiled": bool(py_spy),
    }
    if py_spy:
        report["profile"] = {phase: render_profile(summarize_profile(files, top=30))
                             for phase, files in profiles.items() if files}
        report["profile_files"] = {phase: [str(f.relative_to(ROOT)) for f in files]
                                   for phase, files in profiles.items()}
    report["checks"] = evaluate(report)
    report["all_targets_met"] = all(report["checks"].values())

    json_path, md_path = procs.write_results(report, RESULTS, f"bench-{stamp}", "latest",
                                             render_markdown, log)
    print_summary(report)
    if report.get("profile"):
        for phase, text in report["profile"].items():
            print(f"\nPROFILE {phase}\n{text}")
    log(f"results: {json_path.relative_to(ROOT)} and {md_path.relative_to(ROOT)}")
    return report


def main(argv=None) -> int:
    return procs.run_main(run, parse_args(argv), log)


if __name__ == "__main__":
    sys.exit(main())
