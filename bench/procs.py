"""Processes the benchmark starts and watches: the WSGI server (gunicorn or granian), its
workers, and their memory and CPU.

Linux only: memory and CPU are read from /proc.
"""
import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
REDIS_URL = "redis://127.0.0.1:6379/11"  # the benchmarks' own Redis database


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> list[int]:
    """The direct children of `pid`."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may hold spaces; the ppid follows it.
        fields_after = stat.rsplit(")", 1)[1].split()
        if int(fields_after[1]) == pid:
            found.append(int(entry))
    return sorted(found)


def status_kb(pid: int, key: str) -> int | None:
    """A `kB` figure (VmRSS, VmHWM, ...) from /proc/<pid>/status, or None when gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time `pid` has used so far (0 when gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields_after = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    # utime and stime are fields 14 and 15 of stat, i.e. 11 and 12 after the command name.
    return (int(fields_after[11]) + int(fields_after[12])) / CLOCK_TICKS


def machine_cpu() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, all cores added."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # guest time is already inside user
    return (total - idle) / CLOCK_TICKS, total / CLOCK_TICKS


def redis_available() -> bool:
    """True when Redis answers at REDIS_URL, whose database is then emptied for the run."""
    try:
        import redis

        server = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5)
        server.ping()
        server.flushdb()
        return True
    except Exception:  # noqa: BLE001 (any failure: no Redis)
        return False


def server_env(root: Path, **settings) -> dict:
    """The environment of a server started by a benchmark: this one without pipenv's and the
    virtualenv's variables, plus `settings`, with `root` first on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPENV_", "VIRTUAL_ENV"))}
    env.update(settings)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH")) if p)
    return env


@dataclass
class Server:
    """A WSGI server's first process (gunicorn's master, granian's main process) started in its
    own session, so that stopping it stops all it started; its workers are its children."""

    process: subprocess.Popen
    base_url: str
    log_path: Path
    settings: dict

    @property
    def pid(self) -> int:
        return self.process.pid

    def workers(self) -> list[int]:
        return children(self.pid)

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM the master (graceful), then SIGKILL whatever is left of its process group."""
        if self.process.poll() is None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        try:
            os.killpg(self.pid, signal.SIGKILL)  # stragglers: workers of a master that died
        except (ProcessLookupError, PermissionError):
            pass
        if self.process.poll() is None:
            self.process.wait(timeout=5)


def _launch(cmd: list[str], *, cwd: Path, env: dict, log_path: Path, port: int,
            settings: dict) -> Server:
    """Start `cmd` (a server listening on 127.0.0.1:`port`) in a session of its own, its output
    appended to `log_path`."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(cmd, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
    return Server(process=process, base_url=f"http://127.0.0.1:{port}", log_path=log_path,
                  settings=settings)


def start_gunicorn(*, python: str, cwd: Path, env: dict, log_path: Path, workers: int,
                   worker_class: str, threads: int, app: str = "bench.wsgi:app") -> Server:
    """Start gunicorn on 127.0.0.1 and a free port; it only listens on loopback."""
    port = free_port()
    settings = {"app": app, "bind": f"127.0.0.1:{port}", "workers": workers,
                "worker_class": worker_class, "threads": threads, "backlog": 2048,
                "timeout": 60, "keep_alive": 5, "worker_tmp_dir": "/dev/shm"}
    cmd = [python, "-m", "gunicorn", app,
           "--bind", settings["bind"],
           "--workers", str(workers),
           "--worker-class", worker_class,
           "--threads", str(threads),
           "--backlog", str(settings["backlog"]),
           "--timeout", str(settings["timeout"]),
           "--keep-alive", str(settings["keep_alive"]),
           "--graceful-timeout", "5",
           "--log-level", "warning",
           "--error-logfile", "-"]
    if os.path.isdir(settings["worker_tmp_dir"]):
        cmd += ["--worker-tmp-dir", settings["worker_tmp_dir"]]
    return _launch(cmd, cwd=cwd, env=env, log_path=log_path, port=port, settings=settings)


def start_granian(*, python: str, cwd: Path, env: dict, log_path: Path, workers: int,
                  threads: int, app: str = "bench.wsgi:app") -> Server:
    """Start granian as `make serve` does (server/run/serve.py), on 127.0.0.1 and a free port.

    Its worker processes are children of the first process, as gunicorn's are, so the same
    `Server` handle stops it and finds its workers."""
    port = free_port()
    settings = {"server": "granian", "app": app, "bind": f"127.0.0.1:{port}", "workers": workers,
                "worker_class": "granian-wsgi", "threads": threads, "keep_alive": True}
    env = {**env, "BIND": settings["bind"], "WEB_CONCURRENCY": str(workers),
           "WEB_THREADS": str(threads), "WEB_GRACEFUL_TIMEOUT": "5"}
    cmd = [python, "-c", f"from server import serve; serve.main({app!r})"]
    return _launch(cmd, cwd=cwd, env=env, log_path=log_path, port=port, settings=settings)


def wait_healthy(server: Server, workers: int, timeout: float = 60.0) -> None:
    """Wait until /api/health answers 200 and all `workers` worker processes are up."""
    deadline = time.monotonic() + timeout
    last_error = "no answer yet"
    while time.monotonic() < deadline:
        if not server.alive():
            raise RuntimeError(f"the server exited with {server.process.returncode}:\n"
                               f"{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.base_url + "/api/health", timeout=2) as response:
                if response.status == 200 and len(server.workers()) >= workers:
                    return
                last_error = f"HTTP {response.status}, {len(server.workers())} workers"
        except (urllib.error.URLError, OSError) as err:
            last_error = str(err)
        time.sleep(0.2)
    raise RuntimeError(f"the server did not become healthy in {timeout:.0f}s ({last_error}):\n"
                       f"{server.log_tail()}")


@dataclass
class MemoryWatch:
    """Samples VmRSS of the master and every worker in a background thread; keeps each peak."""

    master: int
    interval: float = 0.1
    peak_rss_kb: dict[int, int] = field(default_factory=dict)
    seen_workers: set[int] = field(default_factory=set)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def _sample(self) -> None:
        workers = children(self.master)
        self.seen_workers.update(workers)
        for pid in [self.master, *workers]:
            rss = status_kb(pid, "VmRSS")
            if rss is not None:
                self.peak_rss_kb[pid] = max(rss, self.peak_rss_kb.get(pid, 0))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def start(self) -> "MemoryWatch":
        self._sample()
        self._thread = threading.Thread(target=self._run, name="memory-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
        self._sample()

    def report(self) -> dict:
        """Per worker: peak RSS sampled, and the kernel's own high-water mark (VmHWM)."""
        workers = []
        for pid in sorted(self.seen_workers):
            hwm = status_kb(pid, "VmHWM")
            workers.append({"pid": pid, "alive": hwm is not None,
                            "vm_hwm_mb": round(hwm / 1024, 1) if hwm is not None else None,
                            "peak_rss_sampled_mb": round(self.peak_rss_kb.get(pid, 0) / 1024, 1)})
        master_hwm = status_kb(self.master, "VmHWM")
        peaks = [max(w["vm_hwm_mb"] or 0, w["peak_rss_sampled_mb"]) for w in workers]
        return {"workers": workers,
                "master_vm_hwm_mb": round(master_hwm / 1024, 1) if master_hwm else None,
                "max_worker_peak_mb": max(peaks) if peaks else None,
                "worker_processes_seen": len(workers)}


def postgres_backends(database: str) -> list[int]:
    """Local PostgreSQL backend processes serving `database` (they are titled 'postgres: ...')."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                title = f.read().decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres:") and f" {database} " in title:
            found.append(int(entry))
    return found


class CpuMeter:
    """CPU seconds used between two points by the workers, this process, the bench database's
    PostgreSQL backends (when the server is local) and the whole machine."""

    def __init__(self, worker_pids, database: str | None = None) -> None:
        self.worker_pids = list(worker_pids)
        self.database = database

    def _backends(self) -> dict[int, float]:
        if not self.database:
            return {}
        return {pid: cpu_seconds(pid) for pid in postgres_backends(self.database)}

    def _now(self) -> dict:
        busy, total = machine_cpu()
        times = os.times()
        return {"wall": time.monotonic(), "busy": busy, "total": total,
                "workers": sum(cpu_seconds(pid) for pid in self.worker_pids),
                # the load generator: this process and the ones it waited for (wrk)
                "loadgen": times.user + times.system + times.children_user
                + times.children_system}

    def __enter__(self) -> "CpuMeter":
        self.start = self._now()
        self.start_backends = self._backends()
        return self

    def __exit__(self, *exc) -> None:
        end = self._now()
        end_backends = self._backends()
        postgres = sum(cpu - self.start_backends.get(pid, 0.0) for pid, cpu in end_backends.items())
        d = {key: end[key] - self.start[key] for key in end}
        wall = d["wall"] or 1e-9
        self.result = {
            "wall_s": round(wall, 3),
            "machine_busy_pct": round(100 * d["busy"] / d["total"], 1) if d["total"] else None,
            "workers_cpu_s": round(d["workers"], 2),
            "loadgen_cpu_s": round(d["loadgen"], 2),
            "postgres_cpu_s": round(postgres, 2) if self.database else None,
            "other_cpu_s": round(d["busy"] - d["workers"] - d["loadgen"] - postgres, 2),
        }



def wait_quiet(max_wait_s: float, threshold_pct: float = 20.0, window_s: float = 2.0) -> dict:
    """Wait (at most `max_wait_s`) until the machine is less than `threshold_pct` busy over a
    `window_s` window: other work on a shared 2-core machine would be measured as ours."""
    started = time.monotonic()
    busy_pct = None
    while True:
        busy0, total0 = machine_cpu()
        time.sleep(window_s)
        busy1, total1 = machine_cpu()
        busy_pct = 100 * (busy1 - busy0) / max(total1 - total0, 1e-9)
        waited = time.monotonic() - started
        if busy_pct < threshold_pct or waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "busy_pct": round(busy_pct, 1),
                    "quiet": busy_pct < threshold_pct}


def _on_signal(signum, _frame):
    raise SystemExit(128 + signum)


def write_results(report: dict, results: Path, name: str, latest: str, render_markdown,
                  log) -> tuple[Path, Path]:
    """Write `report` as <name>.json/.md in `results`, copied to <latest>.json/.md."""
    json_path, md_path = results / f"{name}.json", results / f"{name}.md"
    json_path.write_text(json.dumps(report, indent=2, default=str))
    md_path.write_text(render_markdown(report))
    shutil.copyfile(json_path, results / f"{latest}.json")
    shutil.copyfile(md_path, results / f"{latest}.md")
    return json_path, md_path


def run_main(run, args, log) -> int:
    """Run a benchmark, stopping everything it started on Ctrl-C, SIGTERM, SIGHUP or an error.

    Exits 1 with BENCH_STRICT set when a target is missed; a measurement otherwise exits 0.
    """
    # Ctrl-C raises KeyboardInterrupt even when started from a shell that ignores SIGINT.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    with contextlib.ExitStack() as stack:
        try:
            report = run(args, stack)
        except KeyboardInterrupt:
            log("interrupted: stopping everything the benchmark started")
            return 130
        except SystemExit as stop:
            if stop.code and isinstance(stop.code, int) and stop.code > 128:
                log("terminated: stopping everything the benchmark started")
            raise
    log("the server and everything the benchmark started are stopped")
    if os.environ.get("BENCH_STRICT") and not report["all_targets_met"]:
        return 1
    return 0
