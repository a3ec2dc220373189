"""Cut a request's database connection at a chosen point, from another connection.

`KillSwitch(engine, "INSERT INTO ticket_orders")` watches the engine: the first time a statement
starting with that text is about to be sent (or `"COMMIT"`: the transaction is about to be
committed), the backend serving that connection is terminated with `pg_terminate_backend` from a
separate connection, and the switch waits until the backend is gone. The statement then meets a
dead connection, exactly as when the server or the network drops it mid-request.

`"COMMIT LOST"` is the nastier case: the COMMIT reaches the server and is applied, then the
connection dies before the answer comes back, so the app sees the same "server closed the
connection" error although the transaction is durable.
"""
import time

import psycopg2
from sqlalchemy import event
from sqlalchemy.engine import Engine


def terminate_backend(url: str, pid: int, timeout: float = 10.0) -> None:
    """pg_terminate_backend(pid) from a connection of its own, then wait until it has exited."""
    conn = psycopg2.connect(url.replace("postgresql+psycopg2://", "postgresql://"))
    conn.autocommit = True
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_terminate_backend(%s)", (pid,))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                cur.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,))
                if cur.fetchone() is None:
                    return
                time.sleep(0.02)
        raise AssertionError(f"backend {pid} still alive after pg_terminate_backend")
    finally:
        conn.close()


class KillSwitch:
    """Terminate the backend of the connection that reaches `point` (once, or `times` times)."""

    def __init__(self, engine: Engine, point: str, *, times: int = 1):
        self.engine, self.point, self.remaining = engine, point.upper(), times
        self.killed: list[int] = []
        self.seen: list[str] = []

    def __enter__(self):
        event.listen(self.engine, "before_cursor_execute", self._before_statement)
        event.listen(self.engine, "commit", self._before_commit)
        if self.point == "COMMIT LOST":
            dialect = self.engine.dialect
            self._do_commit = dialect.do_commit
            dialect.do_commit = self._commit_then_lose_the_answer
        return self

    def __exit__(self, *exc):
        event.remove(self.engine, "before_cursor_execute", self._before_statement)
        event.remove(self.engine, "commit", self._before_commit)
        if self.point == "COMMIT LOST":
            del self.engine.dialect.do_commit  # back to the class's method

    def _commit_then_lose_the_answer(self, dbapi_connection):
        pid = dbapi_connection.get_backend_pid()
        self._do_commit(dbapi_connection)
        if self.remaining <= 0:
            return
        self.remaining -= 1
        terminate_backend(self.engine.url.render_as_string(hide_password=False), pid)
        self.killed.append(pid)
        raise psycopg2.OperationalError("server closed the connection unexpectedly\n"
                                        "\tThis probably means the server terminated abnormally")

    def _before_statement(self, conn, cursor, statement, parameters, context, executemany):
        self.seen.append(statement.split("\n", 1)[0][:80])
        if statement.lstrip().upper().startswith(self.point):
            self._kill(conn)

    def _before_commit(self, conn):
        if self.point == "COMMIT":
            self._kill(conn)

    def _kill(self, conn) -> None:
        if self.remaining <= 0:
            return
        self.remaining -= 1
        pid = conn.connection.dbapi_connection.get_backend_pid()
        terminate_backend(self.engine.url.render_as_string(hide_password=False), pid)
        self.killed.append(pid)
