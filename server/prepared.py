"""Hot-path statements prepared once per database connection, and run outside a transaction.

PostgreSQL plans a statement each time it runs unless it is prepared; for the gate's admitting
statement the planning costs more than the work. A `PreparedStatement` is made on a pooled
connection the first time it runs there (the connection's `info` remembers it; a prepared
statement outlives rollbacks and lasts as long as the connection).
"""
import re

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import CursorResult

from server.extensions import db

_NAMED = re.compile(r"(?<!:):(\w+)")
AUTOCOMMIT_BIND = "autocommit"  # an engine on the same database whose connections autocommit


class PreparedStatement:
    """A statement with `:name` parameters, run as `EXECUTE name(...)` on PostgreSQL."""

    def __init__(self, name: str, sql: str) -> None:
        self.name, self.params = name, []

        def positional(match: re.Match) -> str:
            if match.group(1) not in self.params:
                self.params.append(match.group(1))
            return f"${self.params.index(match.group(1)) + 1}"

        self.sql = _NAMED.sub(positional, sql)
        self._execute = f"EXECUTE {name}({', '.join(['%s'] * len(self.params))})"

    def execute(self, conn: Connection, values: dict) -> CursorResult:
        """Run it on `conn`, preparing it there first if this connection has not yet."""
        key = f"prepared:{self.name}"
        if key not in conn.info:
            conn.exec_driver_sql(f"PREPARE {self.name} AS {self.sql}".replace("%", "%%"))
            conn.info[key] = True
        return conn.exec_driver_sql(self._execute, tuple(values[p] for p in self.params))


def execute_alone(statement: PreparedStatement, values: dict):
    """The first row of a single-statement unit of work, committed.

    When the session has no transaction open, the statement runs on a connection of the
    autocommit engine: one round trip, no BEGIN or COMMIT (a statement is atomic by itself).
    Inside a transaction it joins it, and the session commits.
    """
    session = db.session()
    if isinstance(session.get_bind(), Engine) and not session.in_transaction():
        with db.engines[AUTOCOMMIT_BIND].connect() as conn:
            return statement.execute(conn, values).first()
    row = statement.execute(session.connection(), values).first()
    session.commit()
    return row
