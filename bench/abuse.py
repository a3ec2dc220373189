"""Ticksy abuse benchmark: purchases alone, then under credential stuffing, then under STK spam.

Run it with `make bench-abuse` (docs/security.md). The same database rules as `make bench` (a
database whose name contains "bench"; its public schema is dropped). gunicorn serves the real
app (`TICKSY_ENV=production`, bcrypt cost 12) on 127.0.0.1 behind one trusted proxy hop
(`TRUSTED_PROXY_HOPS=1`), so the attackers' addresses come from X-Forwarded-For; M-Pesa is the
bundled simulator on another loopback port, spoken to as Daraja (`MPESA_ENV=sandbox`).
The limits are counted in Redis db 11 when Redis answers on 127.0.0.1:6379 (shared by every
worker, as in production), else in each worker's memory (the bound is then per worker).

Phases, each `--duration` seconds of purchases (`--buyers` clients, one-ticket orders):
1. purchases alone;
2. the same while `--logins` wrong logins arrive from `--attack-ips` addresses;
3. the same while `--pushes` STK pushes from `--attackers` accounts target `--victim-phones`.
The report: purchase throughput per phase (under attack / alone ≥ 80%), the attacks' answers,
and the check that no key got more answers than its limit allows in the windows elapsed.
Everything is bounded in count and time and stopped at the end.
"""
import argparse
import asyncio
import base64
import contextlib
import json
import math
import os
import random
import secrets
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import config as _config  # noqa: E402
from bench import loadgen, onsale, procs  # noqa: E402

TARGET_RATIO = 0.8
VICTIM_PASSWORD = "the-real-password-of-a-victim"


def log(message: str) -> None:
    print(f"[abuse {time.strftime('%H:%M:%S')}] {message}", flush=True)


# --------------------------------------------------------------------------- data

def prepare(app, args) -> dict:
    """Buyers with tokens, a big event, victims (cost-12 hashes), attackers with pending orders."""
    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade

    from server.extensions import db
    from server.services.accounts import users as accounts
    from server.services.catalog import events
    from server.services.orders import ordering

    with app.app_context():
        upgrade()
        organizer = accounts.build_user(name="Organizer", email="organizer@abuse.bench",
                                        password="organizer-pass", roles=["organizer"])
        buyers = [accounts.build_user(name=f"Buyer {i}", email=f"buyer{i}@abuse.bench",
                                      password="buyer-pass") for i in range(args.buyers)]
        attackers = [accounts.build_user(name=f"Attacker {i}", email=f"attacker{i}@abuse.bench",
                                         password="attacker-pass") for i in range(args.attackers)]
        db.session.commit()
        starts = (datetime.now(timezone.utc) + timedelta(days=20)).replace(microsecond=0)
        event = events.create_event(organizer=organizer, data={
            "title": "Abuse Bench Live", "description": "d", "venue": "v", "city": "Nairobi",
            "category": "music", "starts_at": starts, "ends_at": starts + timedelta(hours=4),
            "status": "published", "ticket_types": [
                {"name": "Regular", "price": Decimal("500"), "currency": "KES",
                 "quantity": 1_000_000, "max_per_order": 10}]})
        tier = event.ticket_types[0].id
        orders = {a.id: [ordering.place_order(buyer=a, data={
            "event_id": event.id, "payment_method": "mpesa",
            "items": [{"ticket_type_id": tier, "quantity": 1}]}).id
            for _ in range(args.orders_per_attacker)] for a in attackers}
        app.config["BCRYPT_LOG_ROUNDS"] = 12  # the victims' hashes cost what production's do
        victims = [accounts.build_user(name=f"Victim {i}", email=f"victim{i}@abuse.bench",
                                       password=VICTIM_PASSWORD) for i in range(args.victims)]
        db.session.commit()
        expires = timedelta(hours=2)
        data = {"event_id": event.id, "ticket_type_id": tier,
                "buyer_tokens": [create_access_token(identity=u, expires_delta=expires)
                                 for u in buyers],
                "attackers": [{"token": create_access_token(identity=a, expires_delta=expires),
                               "orders": orders[a.id]} for a in attackers],
                "victims": [v.email for v in victims]}
        db.session.remove()
        db.engine.dispose()
    return data


# --------------------------------------------------------------------------- load

async def _purchases(session, base_url, data, until: float, stats: Counter) -> None:
    body = json.dumps({"event_id": data["event_id"], "payment_method": "mpesa",
                       "items": [{"ticket_type_id": data["ticket_type_id"], "quantity": 1}]})

    async def client(token: str) -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while time.perf_counter() < until:
            try:
                async with session.post(base_url + "/api/orders", data=body,
                                        headers=headers) as response:
                    await response.read()
                    stats[response.status] += 1
            except (loadgen.aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
                stats[type(err).__name__] += 1

    await asyncio.gather(*(client(token) for token in data["buyer_tokens"]))


async def _answer(session, method_url: str, body: dict, headers: dict) -> tuple:
    started = time.time()
    try:
        async with session.post(method_url, json=body, headers=headers) as response:
            payload = await response.read()
            status = response.status
    except (loadgen.aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
        return started, type(err).__name__, None
    try:
        message = json.loads(payload).get("error", {}).get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return started, status, message


async def _stuffing(session, base_url, data, args, until: float, log_: list) -> None:
    rng = random.Random(args.seed)
    ips = [f"203.0.113.{i + 1}" for i in range(args.attack_ips)]
    plan = [(ips[n % len(ips)], rng.choice(data["victims"]) if rng.random() < 0.5
             else f"leaked{n}@example.net") for n in range(args.logins)]

    async def attacker(index: int) -> None:
        while plan and time.perf_counter() < until:
            address, email = plan.pop()
            started, status, message = await _answer(
                session, base_url + "/api/auth/login",
                {"email": email, "password": f"guess-{index}-{len(plan)}"},
                {"X-Forwarded-For": address})
            log_.append({"t": started, "ip": address, "email": email, "status": status,
                         "busy": "busy checking passwords" in (message or "")})

    await asyncio.gather(*(attacker(i) for i in range(args.attack_concurrency)))


async def _spam(session, base_url, data, args, until: float, log_: list) -> None:
    phones = [f"07{22000000 + i:08d}" for i in range(args.victim_phones)]
    plan = []
    for n in range(args.pushes):
        attacker = data["attackers"][n % len(data["attackers"])]
        plan.append((attacker, attacker["orders"][(n // len(data["attackers"]))
                                                  % len(attacker["orders"])],
                     phones[n % len(phones)]))
    plan.reverse()

    async def spammer() -> None:
        while plan and time.perf_counter() < until:
            attacker, order_id, phone = plan.pop()
            started, status, _ = await _answer(
                session, base_url + "/api/payments/mpesa/stk-push",
                {"order_id": order_id, "phone": phone},
                {"Authorization": f"Bearer {attacker['token']}"})
            log_.append({"t": started, "user": attacker["token"][-12:], "phone": phone,
                         "status": status})

    await asyncio.gather(*(spammer() for _ in range(args.attack_concurrency)))


async def _phase(base_url, data, args, attack: str | None) -> dict:
    stats, attack_log = Counter(), []
    async with loadgen._session(len(data["buyer_tokens"]) + args.attack_concurrency) as session:
        start = time.perf_counter()
        until = start + args.duration
        jobs = [_purchases(session, base_url, data, until, stats)]
        if attack == "stuffing":
            jobs.append(_stuffing(session, base_url, data, args, until, attack_log))
        elif attack == "spam":
            jobs.append(_spam(session, base_url, data, args, until, attack_log))
        await asyncio.gather(*jobs)
        wall = time.perf_counter() - start
    return {"wall_s": round(wall, 2), "orders": stats.get(201, 0),
            "orders_per_s": round(stats.get(201, 0) / wall, 1),
            "purchase_statuses": {str(k): v for k, v in sorted(stats.items(), key=str)},
            "attack_log": attack_log}


def run_phase(base_url, data, args, attack=None) -> dict:
    loadgen._loopback_only(base_url)
    return asyncio.run(_phase(base_url, data, args, attack))


# --------------------------------------------------------------------------- checks

def _windows(times: list[float], seconds: int) -> int:
    """Fixed windows (starting at a key's first hit) that `times` can span."""
    return math.floor((max(times) - min(times)) / seconds) + 1 if times else 0


def _bound(limit: str, times: list[float], per_worker: int) -> int:
    """Most answers a key may get over `times` under `limit` ("20/minute;200/hour")."""
    from limits import parse_many

    return min(item.amount * _windows(times, item.get_expiry()) for item in parse_many(limit)) \
        * per_worker


def check_stuffing(attack_log: list, settings: dict, per_worker: int) -> dict:
    statuses = Counter(str(a["status"]) for a in attack_log)
    busy = sum(1 for a in attack_log if a["busy"])
    by_ip, by_email = defaultdict(list), defaultdict(list)
    for a in attack_log:
        if a["status"] != 429:
            by_ip[a["ip"]].append(a["t"])
            by_email[a["email"]].append(a["t"])
    every = defaultdict(list)
    for a in attack_log:
        every[a["ip"]].append(a["t"])
    ip_ok = {ip: (len(by_ip[ip]), _bound(settings["RATELIMIT_LOGIN_IP"], every[ip], per_worker))
             for ip in every}
    email_over = {e: len(t) for e, t in by_email.items()
                  if len(t) > _bound(settings["RATELIMIT_LOGIN_ACCOUNT"], t, per_worker)}
    return {"attempts": len(attack_log), "statuses": dict(statuses),
            "rate_limited_429": statuses.get("429", 0), "of_which_bcrypt_busy": busy,
            "answered_not_429": len(attack_log) - statuses.get("429", 0),
            "logged_in": statuses.get("200", 0),
            "per_ip_answered_vs_bound": ip_ok,
            "accounts_over_their_limit": email_over,
            "within_limits": all(n <= b for n, b in ip_ok.values()) and not email_over
            and statuses.get("200", 0) == 0}


def check_spam(attack_log: list, settings: dict, per_worker: int, prompts: Counter) -> dict:
    statuses = Counter(str(a["status"]) for a in attack_log)
    accepted_by_phone, accepted_by_user = defaultdict(list), defaultdict(list)
    all_by_phone = defaultdict(list)
    for a in attack_log:
        all_by_phone[a["phone"]].append(a["t"])
        if a["status"] == 202:
            accepted_by_phone[a["phone"]].append(a["t"])
            accepted_by_user[a["user"]].append(a["t"])
    phone_bound = {p: _bound(settings["RATELIMIT_STK_PUSH_PHONE"], t, per_worker)
                   for p, t in all_by_phone.items()}
    per_phone = {p: {"accepted": len(accepted_by_phone[p]), "bound": phone_bound[p],
                     "prompts_at_simulator": prompts.get("254" + p[1:], 0)}
                 for p in all_by_phone}
    return {"attempts": len(attack_log), "statuses": dict(statuses),
            "rate_limited_429": statuses.get("429", 0),
            "prompts_sent": sum(prompts.values()),
            "per_phone": per_phone,
            "within_limits": all(v["accepted"] <= v["bound"] and v["prompts_at_simulator"]
                                 <= v["bound"] for v in per_phone.values())}


# --------------------------------------------------------------------------- report

def render_markdown(report: dict) -> str:
    p = report["phases"]
    lines = [f"# Ticksy abuse benchmark — {report['started']}", "",
             f"gunicorn {report['gunicorn']['workers']} × `{report['gunicorn']['worker_class']}`"
             f" (threads {report['gunicorn']['threads']}), TICKSY_ENV=production, bcrypt cost 12,"
             f" TRUSTED_PROXY_HOPS=1; limits counted in {report['limits_storage']}; "
             f"{report['machine']['cpus']} CPUs, load before {report['machine']['load_avg_before']}.",
             "", "| phase | orders/s | ratio to alone | purchase answers | attack |",
             "|---|---|---|---|---|"]
    for name in ("alone", "stuffing", "spam"):
        phase = p[name]
        attack = report.get(name, {})
        summary = (f"{attack.get('attempts', 0)} sent, {attack.get('rate_limited_429', 0)} got "
                   f"429, statuses {attack.get('statuses', {})}") if attack else "—"
        lines.append(f"| {name} | {phase['orders_per_s']} | {phase.get('ratio', 1.0)} | "
                     f"{phase['purchase_statuses']} | {summary} |")
    lines += ["", "## Checks", "", "| check | result |", "|---|---|"]
    for check, ok in report["checks"].items():
        lines.append(f"| {check} | {'PASS' if ok else '**MISS**'} |")
    lines += ["", "## Credential stuffing", "", "```json",
              json.dumps(report["stuffing"], indent=2), "```", "", "## STK-push spam", "",
              "```json", json.dumps(report["spam"], indent=2), "```", ""]
    return "\n".join(lines)


def run(args, stack: contextlib.ExitStack) -> dict:
    from server.payments.mpesa.simulator import SANDBOX_PASSKEY, SANDBOX_SHORTCODE, Simulator

    started = datetime.now(timezone.utc)
    stamp = started.strftime("%Y%m%dT%H%M%SZ") + (f"-{args.label}" if args.label else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    url, source = onsale.resolve_database()
    log(f"database: {source}")
    onsale.reset_schema(url)
    simulator = Simulator(callback_delay=None, no_answer_after=3600)
    sim_url = simulator.serve()
    stack.callback(simulator.shutdown)
    shared = procs.redis_available()
    storage = procs.REDIS_URL if shared else "memory://"
    env_settings = {
        "SECRET_KEY": secrets.token_urlsafe(32), "JWT_SECRET_KEY": secrets.token_urlsafe(48),
        "TICKET_SIGNING_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=")
        .decode("ascii"),
        "MPESA_ENV": "sandbox", "MPESA_BASE_URL": sim_url, "MPESA_CONSUMER_KEY": "simulator",
        "MPESA_CONSUMER_SECRET": "simulator", "MPESA_SHORTCODE": SANDBOX_SHORTCODE,
        "MPESA_PASSKEY": SANDBOX_PASSKEY, "MPESA_CALLBACK_BASE_URL": "http://127.0.0.1:9",
        "MAIL_ENABLED": "0", "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1",
        "MAIL_FROM": "Ticksy bench <bench@ticksy.test>", "JOBS_MODE": "thread",
        "TRUSTED_PROXY_HOPS": "1", "RATELIMIT_STORAGE_URI": storage,
        # The buyers are legitimate and many orders each: only the attacks meet limits.
        "RATELIMIT_ORDER_USER": "1000000/minute"}
    os.environ.update(DATABASE_URL=url, TICKSY_ENV="production", **env_settings)
    from server import create_app

    settings = _config.ProductionConfig()
    settings.BCRYPT_LOG_ROUNDS = 4  # buyers and attackers only; victims are made at cost 12
    settings.RATELIMIT_STORAGE_URI = "memory://"
    app = create_app(settings)
    data = prepare(app, args)
    log(f"data ready: {args.buyers} buyers, {args.victims} victims, {args.attackers} attackers")
    env = procs.server_env(ROOT, DATABASE_URL=url, TICKSY_ENV="production", **env_settings)
    server = procs.start_gunicorn(python=sys.executable, cwd=ROOT, env=env,
                                  log_path=RESULTS / f"gunicorn-abuse-{stamp}.log",
                                  workers=args.workers, worker_class=args.worker_class,
                                  threads=args.threads)
    stack.callback(server.stop)
    procs.wait_healthy(server, args.workers)
    loadgen.warm_orders(server.base_url, data["event_id"], data["buyer_tokens"],
                        data["ticket_type_id"], count=200, clients=16)
    per_worker = 1 if shared else args.workers
    phases = {}
    for name, attack in (("alone", None), ("stuffing", "stuffing"), ("spam", "spam")):
        procs.wait_quiet(args.quiet_wait)
        log(f"phase {name}: {args.duration:.0f} s of purchases"
            + (f" under {attack}" if attack else ""))
        phases[name] = run_phase(server.base_url, data, args, attack)
        log(f"  {phases[name]['orders_per_s']} orders/s, {len(phases[name]['attack_log'])} "
            "attack requests")
    alone = phases["alone"]["orders_per_s"] or 1
    for name in ("stuffing", "spam"):
        phases[name]["ratio"] = round(phases[name]["orders_per_s"] / alone, 3)
    app_settings = {name: app.config[name] for name in _config.RATE_LIMITS}
    stuffing = check_stuffing(phases["stuffing"].pop("attack_log"), app_settings, per_worker)
    prompts = Counter(tx.phone for tx in simulator.transactions.values())
    spam = check_spam(phases["spam"].pop("attack_log"), app_settings, per_worker, prompts)
    phases["alone"].pop("attack_log")
    purchases_5xx = sum(v for p in phases.values() for k, v in p["purchase_statuses"].items()
                        if k.isdigit() and int(k) >= 500)
    checks = {
        f"purchases under credential stuffing >= {TARGET_RATIO:.0%} of alone":
            phases["stuffing"]["ratio"] >= TARGET_RATIO,
        f"purchases under STK-push spam >= {TARGET_RATIO:.0%} of alone":
            phases["spam"]["ratio"] >= TARGET_RATIO,
        "no login answered beyond the per-IP and per-account limits": stuffing["within_limits"],
        "no phone prompted beyond its limit (app answers and simulator)": spam["within_limits"],
        "zero 5xx for buyers": purchases_5xx == 0,
    }
    report = {"started": started.isoformat(timespec="seconds"),
              "machine": {"cpus": os.cpu_count(), "load_avg_before": os.getloadavg()},
              "gunicorn": server.settings, "limits_storage": storage if shared else
              f"each worker's memory (no Redis): bounds × {args.workers}",
              "limits": app_settings, "args": vars(args), "phases": phases,
              "stuffing": stuffing, "spam": spam, "checks": checks,
              "all_targets_met": all(checks.values())}
    json_path, md_path = procs.write_results(report, RESULTS, f"abuse-{stamp}", "abuse-latest",
                                             render_markdown, log)
    print(render_markdown(report))
    log(f"written {json_path.name} and {md_path.name}")
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=onsale.DEFAULT_WORKERS)
    parser.add_argument("--worker-class", default=onsale.DEFAULT_WORKER_CLASS)
    parser.add_argument("--threads", type=int, default=onsale.DEFAULT_THREADS)
    parser.add_argument("--buyers", type=int, default=32, help="concurrent purchase clients")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds per phase")
    parser.add_argument("--logins", type=int, default=1000)
    parser.add_argument("--attack-ips", type=int, default=4)
    parser.add_argument("--victims", type=int, default=20)
    parser.add_argument("--pushes", type=int, default=1000)
    parser.add_argument("--attackers", type=int, default=5)
    parser.add_argument("--orders-per-attacker", type=int, default=20)
    parser.add_argument("--victim-phones", type=int, default=5)
    parser.add_argument("--attack-concurrency", type=int, default=8)
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--label", default="")
    args = parser.parse_args()
    return procs.run_main(run, args, log)


if __name__ == "__main__":
    sys.exit(main())
