"""Hot-path statements prepared once per database connection, and run outside a transaction.

PostgreSQL plans a statement each time it runs unless it is prepared; for the gate's admitting
statement the planning costs more than the work. A `PreparedStatement` is made on a pooled
connection the first time it runs there (the connection's `info` remembers it; a prepared
statement outlives rollbacks and lasts as long as the connection).
"""
import re
from collections import namedtuple

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import DBAPIError

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
        self._prepare = f"PREPARE {name} AS {self.sql}".replace("%", "%%")
        self._execute = f"EXECUTE {name}({', '.join(['%s'] * len(self.params))})"
        self._key = f"prepared:{name}"
        self._row_types: dict[tuple, type] = {}

    def _values(self, values: dict) -> tuple:
        return tuple(values[p] for p in self.params)

    def _prepare_once(self, info: dict, run) -> None:
        """PREPARE it with `run` unless the pooled connection whose `info` this is has it."""
        if self._key not in info:
            run(self._prepare)
            info[self._key] = True

    def execute(self, conn: Connection, values: dict) -> CursorResult:
        """Run it on `conn`, preparing it there first if this connection has not yet."""
        self._prepare_once(conn.info, conn.exec_driver_sql)
        return conn.exec_driver_sql(self._execute, self._values(values))

    def first_row_on(self, engine: Engine, values: dict):
        """Its first row (a named tuple, or None), run on a pooled connection of `engine` itself.

        Straight on the driver's cursor: SQLAlchemy's result machinery costs more per call than
        this one-row statement's own work. Driver errors are raised as SQLAlchemy's (a dropped
        connection invalidates the pooled one), as a statement through SQLAlchemy would.
        """
        conn = engine.raw_connection()
        cursor = None
        try:
            cursor = conn.cursor()
            self._prepare_once(conn.info, cursor.execute)
            cursor.execute(self._execute, self._values(values))
            row = cursor.fetchone()
            return None if row is None else self._row_type(cursor.description)._make(row)
        except engine.dialect.loaded_dbapi.Error as err:
            invalidated = engine.dialect.is_disconnect(err, conn.dbapi_connection, cursor)
            if invalidated:
                conn.invalidate(err)
            raise DBAPIError.instance(self._execute, values, err, engine.dialect.loaded_dbapi.Error,
                                      connection_invalidated=invalidated,
                                      dialect=engine.dialect) from err
        finally:
            if cursor is not None and not cursor.closed:
                cursor.close()
            conn.close()  # back to the pool

    def _row_type(self, description) -> type:
        names = tuple(column.name for column in description)
        row_type = self._row_types.get(names)
        if row_type is None:
            row_type = self._row_types.setdefault(names, namedtuple("Row", names, rename=True))
        return row_type


def execute_alone(statement: PreparedStatement, values: dict):
    """The first row of a single-statement unit of work, committed.

    When the session has no transaction open, the statement runs on a connection of the
    autocommit engine: one round trip, no BEGIN or COMMIT (a statement is atomic by itself).
    Inside a transaction it joins it, and the session commits.
    """
    if _nothing_open():
        return statement.first_row_on(db.engines[AUTOCOMMIT_BIND], values)
    session = db.session()
    row = statement.execute(session.connection(), values).first()
    session.commit()
    return row


def _nothing_open() -> bool:
    """True when the session has no transaction open and is bound to engines, not to one
    connection (as the tests bind it). A context with no session yet is not given one."""
    scoped = db.session
    if not scoped.registry.has():
        return scoped.session_factory.kw.get("bind") is None
    session = scoped()
    return isinstance(session.get_bind(), Engine) and not session.in_transaction()
