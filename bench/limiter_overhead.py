"""What the rate limiter costs POST /api/checkin, measured in-process.

`python -m bench.limiter_overhead` (`make bench-limiter`): the same database rules as `make bench`
(a database whose name contains "bench"; its public schema is dropped). Through Flask's test
client, no network: rounds of REQUESTS scans of already-admitted tickets (409, the real one-statement
path), alternately with the limiter on and off (`limiter.enabled`), timed with
time.process_time(); then the same with Redis storage (db 11) when Redis answers. The check-in
limit is raised so that no scan is refused: what is measured is the counting itself.
"""
import argparse
import json
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import onsale  # noqa: E402
from bench.procs import REDIS_URL, redis_available  # noqa: E402


def build_app(url: str):
    import config
    from server import create_app

    settings = config.TestingConfig()
    settings.SQLALCHEMY_DATABASE_URI = url
    settings.INVALID_SCAN_FLUSH_SECONDS = 1
    settings.RATELIMIT_CHECKIN_DEVICE = "1000000/second"
    return create_app(settings)


def prepare(app) -> tuple[list[str], list[str]]:
    """Migrate; an event with a few paid tickets, admitted once; staff tokens."""
    from flask_jwt_extended import create_access_token
    from flask_migrate import upgrade

    from server.extensions import db
    from server.codes.signing import code_for
    from server.models import utcnow
    from server.services.accounts import users as accounts
    from server.services.catalog import events
    from server.services.orders import lifecycle as order_lifecycle, ordering

    with app.app_context():
        upgrade()
        owner = accounts.build_user(name="Owner", email="owner@overhead.bench", password="x" * 10,
                                    roles=["organizer"])
        buyer = accounts.build_user(name="Buyer", email="buyer@overhead.bench", password="x" * 10)
        db.session.commit()
        starts = utcnow() + timedelta(days=2)
        event = events.create_event(organizer=owner, data={
            "title": "Overhead", "description": "d", "venue": "v", "city": "c",
            "category": "music", "starts_at": starts, "ends_at": starts + timedelta(hours=3),
            "status": "published",
            "ticket_types": [{"name": "Regular", "price": Decimal("100.00"), "quantity": 50}]})
        order = ordering.place_order(buyer=buyer, data={"event_id": event.id, "items": [
            {"ticket_type_id": event.ticket_types[0].id, "quantity": 8}]})
        order = order_lifecycle.mark_order_paid(order_id=order.id)
        codes = [code_for(ticket) for ticket in order.tickets]
        token = create_access_token(identity=owner, expires_delta=timedelta(hours=1))
        db.session.remove()
    client = app.test_client()
    for code in codes:  # admit each once: every measured scan is then a 409 repeat
        client.post("/api/checkin", json={"code": code, "device_id": "warm"},
                    headers={"Authorization": f"Bearer {token}"})
    return codes, [token]


def run_round(app, codes, token, requests: int) -> float:
    """CPU seconds of this process for `requests` scans."""
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    bodies = [{"code": codes[i % len(codes)], "device_id": f"gate-{i % 8}"}
              for i in range(requests)]
    started = time.process_time()
    for body in bodies:
        response = client.post("/api/checkin", json=body, headers=headers)
        if response.status_code != 409:
            raise SystemExit(f"unexpected answer {response.status_code}: {response.get_json()}")
    return time.process_time() - started


def measure(app, codes, token, *, rounds: int, requests: int) -> dict:
    from server.extensions import limiter

    timings = {"on": [], "off": []}
    run_round(app, codes, token, 200)  # warm-up
    for _ in range(rounds):
        for mode in ("off", "on"):
            limiter.enabled = mode == "on"
            timings[mode].append(run_round(app, codes, token, requests))
    limiter.enabled = True
    per_request = {mode: statistics.median(values) / requests * 1e6
                   for mode, values in timings.items()}
    return {"per_request_us": {k: round(v, 1) for k, v in per_request.items()},
            "overhead_us": round(per_request["on"] - per_request["off"], 1),
            "overhead_pct": round(100 * (per_request["on"] / per_request["off"] - 1), 2),
            "rounds_cpu_s": {k: [round(v, 4) for v in values] for k, values in timings.items()}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    url, source = onsale.resolve_database()
    onsale.reset_schema(url)
    app = build_app(url)
    codes, (token,) = prepare(app)
    report = {"database": source, "requests_per_round": args.requests, "rounds": args.rounds,
              "memory": measure(app, codes, token, rounds=args.rounds, requests=args.requests)}
    if redis_available():
        import redis

        from server.extensions import limiter

        app.config["RATELIMIT_STORAGE_URI"] = REDIS_URL
        limiter.init_app(app)
        report["redis"] = measure(app, codes, token, rounds=args.rounds, requests=args.requests)
        redis.Redis.from_url(REDIS_URL).flushdb()
    else:
        report["redis"] = "skipped: no Redis on 127.0.0.1:6379"
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results" / "limiter-overhead-latest.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
