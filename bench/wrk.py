"""Closed-loop check-in load from wrk (Debian's `wrk`), when it is installed.

A C load generator costs the shared CPUs a small fraction of what the asyncio one
(bench/loadgen.py) does per request, so the sweep measures the app rather than its client.
One wrk thread keeps `clients` connections busy, sending the planned scans in order.
"""
import shutil
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

SCRIPT = Path(__file__).with_name("checkin.lua")


def available() -> bool:
    """True when the wrk binary is on PATH."""
    return shutil.which("wrk") is not None


def closed_loop(base_url: str, *, clients: int, duration_s: float, plan: list[tuple],
                tokens: list[str]) -> dict:
    """Send `plan` [(kind, ticket id, code), ...] in order for `duration_s`; what came back.

    Returns the number sent, the answers by "status code" key, the ticket ids of the 200s,
    wrk's latency percentiles (ms) and its socket errors.
    """
    with tempfile.TemporaryDirectory(prefix="ticksy-wrk-") as folder:
        plan_path, tokens_path, out_path = (Path(folder) / n for n in ("plan", "tokens", "out"))
        tokens_path.write_text("\n".join(tokens) + "\n")
        with plan_path.open("w") as f:
            for index, (_kind, _tid, code) in enumerate(plan):
                f.write(f"{index % len(tokens)}\t"
                        f'{{"code": "{code}", "device_id": "bench-gate-{index % clients:03d}"}}\n')
        subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{duration_s:g}s", "--timeout", "10s",
                        "-s", str(SCRIPT), base_url, "--", str(plan_path), str(tokens_path),
                        str(out_path)], check=True, stdout=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, timeout=duration_s + 60)
        return _read(out_path.read_text())


def _read(text: str) -> dict:
    out = {"answers": Counter(), "admitted_ids": []}
    for line in text.splitlines():
        name, *values = line.split("\t")
        if name == "answer":
            out["answers"][values[0]] += int(values[1])
        elif name == "ticket":
            out["admitted_ids"].append(int(values[0]) if values[0].isdigit() else None)
        else:
            out[name] = float(values[0])
    out["sent"] = int(out["sent"])
    out["latency_ms"] = {f"{k[:-3]}_ms": round(out.pop(k) / 1000, 2)
                         for k in ("p50_us", "p95_us", "p99_us", "max_us", "mean_us")}
    return out
