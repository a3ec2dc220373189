"""The load generator: asyncio + aiohttp clients against 127.0.0.1 only, bounded in count and time."""
import asyncio
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import aiohttp

REQUEST_TIMEOUT_S = 30


def _loopback_only(base_url: str) -> None:
    host = urlsplit(base_url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        raise ValueError(f"the load generator only targets loopback addresses, not {host!r}")


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile (p in 0..100) of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


def latency_summary(latencies_s: list[float]) -> dict:
    """p50/p95/p99/max/mean in milliseconds."""
    values = sorted(latencies_s)
    ms = lambda v: round(v * 1000, 2) if v is not None else None  # noqa: E731
    return {"p50_ms": ms(percentile(values, 50)), "p95_ms": ms(percentile(values, 95)),
            "p99_ms": ms(percentile(values, 99)), "max_ms": ms(values[-1] if values else None),
            "mean_ms": ms(sum(values) / len(values) if values else None)}


def _session(concurrency: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency,
                                     force_close=False, enable_cleanup_closed=True)
    return aiohttp.ClientSession(connector=connector,
                                 timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                                 skip_auto_headers=("User-Agent",))


@dataclass
class Attempt:
    """One purchase attempt and how it went."""

    client: int
    ticket_type_id: int
    quantity: int
    started: float = 0.0
    latency: float = 0.0
    status: int | str = 0  # HTTP status, or "error" when no response came back
    code: str | None = None  # the error envelope's code (sold_out, ...) or the client error
    order_id: int | None = None


@dataclass
class RushResult:
    attempts: list[Attempt]
    wall_s: float
    not_sent: int = 0
    statuses: Counter = field(default_factory=Counter)


async def _rush(base_url: str, event_id: int, tokens: list[str], plans: list[list[Attempt]],
                time_limit_s: float, idempotency: bool) -> RushResult:
    url = base_url + "/api/orders"
    done: list[Attempt] = []
    gate = asyncio.Event()
    deadline = 0.0
    not_sent = 0

    async with _session(len(plans)) as session:
        async def client(index: int, plan: list[Attempt]) -> None:
            nonlocal not_sent
            headers = {"Authorization": f"Bearer {tokens[index]}",
                       "Content-Type": "application/json"}
            await gate.wait()
            for number, attempt in enumerate(plan):
                if time.perf_counter() >= deadline:
                    not_sent += len(plan) - number
                    return
                body = json.dumps({"event_id": event_id, "payment_method": "mpesa", "items": [
                    {"ticket_type_id": attempt.ticket_type_id, "quantity": attempt.quantity}]})
                if idempotency:
                    headers["Idempotency-Key"] = f"bench-{index}-{number}-{time.time_ns()}"
                attempt.started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        raw = await response.read()
                        attempt.status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
                    attempt.latency = time.perf_counter() - attempt.started
                    attempt.status, attempt.code = "error", type(err).__name__
                    done.append(attempt)
                    continue
                attempt.latency = time.perf_counter() - attempt.started
                try:
                    payload = json.loads(raw)
                except ValueError:
                    payload = None
                if isinstance(payload, dict):
                    if attempt.status == 201:
                        attempt.order_id = payload.get("id")
                    elif isinstance(payload.get("error"), dict):
                        attempt.code = payload["error"].get("code")
                done.append(attempt)

        tasks = [asyncio.create_task(client(i, plan)) for i, plan in enumerate(plans)]
        await asyncio.sleep(0)  # let every client reach the gate
        start = time.perf_counter()
        deadline = start + time_limit_s
        gate.set()
        await asyncio.gather(*tasks)
        wall = time.perf_counter() - start
    return RushResult(attempts=done, wall_s=wall, not_sent=not_sent)


def rush(base_url: str, event_id: int, tokens: list[str], plans: list[list[Attempt]], *,
         time_limit_s: float, idempotency: bool = True) -> RushResult:
    """Every client fires its plan's attempts back to back, all clients released at once."""
    _loopback_only(base_url)
    return asyncio.run(_rush(base_url, event_id, tokens, plans, time_limit_s, idempotency))


def summarize_rush(result: RushResult) -> dict:
    """Throughput, latency and status counts of a rush."""
    attempts = result.attempts
    ok = [a for a in attempts if a.status == 201]
    counts = Counter()
    for a in attempts:
        if a.status == 201:
            counts["201"] += 1
        elif a.status == 409 and a.code == "sold_out":
            counts["409 sold_out"] += 1
        elif a.status == 409:
            counts[f"409 {a.code}"] += 1
        elif isinstance(a.status, int) and 400 <= a.status < 500:
            counts[f"{a.status} {a.code}"] += 1
        elif isinstance(a.status, int) and a.status >= 500:
            counts[f"{a.status} {a.code}"] += 1
        else:
            counts[f"client error {a.code}"] += 1
    five_xx = sum(1 for a in attempts if isinstance(a.status, int) and a.status >= 500)
    other_4xx = sum(1 for a in attempts if isinstance(a.status, int) and 400 <= a.status < 500
                    and not (a.status == 409 and a.code == "sold_out"))
    first = min((a.started for a in attempts), default=0.0)
    last_ok = max((a.started + a.latency for a in ok), default=first)
    selling_s = last_ok - first
    return {
        "attempts_sent": len(attempts),
        "attempts_not_sent": result.not_sent,
        "wall_s": round(result.wall_s, 3),
        "successful_orders": len(ok),
        "tickets_ordered": sum(a.quantity for a in ok),
        "orders_per_s": round(len(ok) / result.wall_s, 1) if result.wall_s else None,
        "requests_per_s": round(len(attempts) / result.wall_s, 1) if result.wall_s else None,
        "selling_phase_s": round(selling_s, 3),
        "orders_per_s_while_selling": round(len(ok) / selling_s, 1) if selling_s > 0 else None,
        "latency_all": latency_summary([a.latency for a in attempts]),
        "latency_201": latency_summary([a.latency for a in ok]),
        "latency_409": latency_summary([a.latency for a in attempts if a.status == 409]),
        "counts": dict(sorted(counts.items())),
        "status_201": len(ok),
        "status_409_sold_out": counts.get("409 sold_out", 0),
        "status_other_4xx": other_4xx,
        "status_5xx": five_xx,
        "client_errors": sum(1 for a in attempts if a.status == "error"),
    }


async def _fixed_duration(url: str, clients: int, duration_s: float, warmup_s: float,
                          max_requests: int) -> dict:
    latencies: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    warm = 0
    async with _session(clients) as session:
        async def loop(until: float, record: bool) -> None:
            nonlocal warm
            while time.perf_counter() < until:
                if record and len(latencies) + sum(errors.values()) >= max_requests:
                    return
                started = time.perf_counter()
                try:
                    async with session.get(url) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
                    if record:
                        errors[type(err).__name__] += 1
                    continue
                if not record:
                    warm += 1
                else:
                    latencies.append(time.perf_counter() - started)
                    statuses[status] += 1

        if warmup_s > 0:
            until = time.perf_counter() + warmup_s
            await asyncio.gather(*(loop(until, False) for _ in range(clients)))
        start = time.perf_counter()
        await asyncio.gather(*(loop(start + duration_s, True) for _ in range(clients)))
        wall = time.perf_counter() - start
    return {"clients": clients, "duration_s": round(wall, 3), "requests": len(latencies),
            "warmup_requests": warm,
            "requests_per_s": round(len(latencies) / wall, 1) if wall else None,
            "statuses": {str(k): v for k, v in sorted(statuses.items())},
            "non_200": sum(v for k, v in statuses.items() if k != 200),
            "client_errors": dict(errors),
            **latency_summary(latencies)}


def fixed_duration(base_url: str, path: str, *, clients: int, duration_s: float,
                   warmup_s: float = 1.0, max_requests: int = 1_000_000) -> dict:
    """`clients` loops of GET `path` for `duration_s` (after `warmup_s` not counted)."""
    _loopback_only(base_url)
    return asyncio.run(_fixed_duration(base_url + path, clients, duration_s, warmup_s,
                                       max_requests))


async def _warm_orders(base_url: str, event_id: int, tokens: list[str], ticket_type_id: int,
                       count: int, clients: int) -> Counter:
    statuses: Counter = Counter()
    queue = list(range(count))
    async with _session(clients) as session:
        async def worker() -> None:
            while queue:
                n = queue.pop()
                headers = {"Authorization": f"Bearer {tokens[n % len(tokens)]}",
                           "Idempotency-Key": f"warm-{n}-{time.time_ns()}"}
                body = {"event_id": event_id, "payment_method": "mpesa",
                        "items": [{"ticket_type_id": ticket_type_id, "quantity": 1}]}
                try:
                    async with session.post(base_url + "/api/orders", json=body,
                                            headers=headers) as response:
                        await response.read()
                        statuses[response.status] += 1
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as err:
                    statuses[type(err).__name__] += 1

        await asyncio.gather(*(worker() for _ in range(clients)))
    return statuses


def warm_orders(base_url: str, event_id: int, tokens: list[str], ticket_type_id: int, *,
                count: int, clients: int) -> dict:
    """Place `count` one-ticket orders on a warm-up event, so every worker has run the path."""
    _loopback_only(base_url)
    return {str(k): v for k, v in asyncio.run(
        _warm_orders(base_url, event_id, tokens, ticket_type_id, count, clients)).items()}
