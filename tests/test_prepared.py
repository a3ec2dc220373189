"""Prepared hot-path statements: made once per connection, positional, outliving rollbacks."""
import pytest
from sqlalchemy import event
from sqlalchemy.exc import DataError, OperationalError

from server.extensions import db
from server.platform.prepared import AUTOCOMMIT_BIND, PreparedStatement, execute_alone
from tests.faults.killswitch import terminate_backend

ECHO = PreparedStatement("ticksy_test_echo",
                         "SELECT CAST(:a AS int) + CAST(:b AS int) AS total, CAST(:a AS int) AS a,"
                         " CAST('x' AS text)::varchar AS cast_kept")


def test_named_parameters_become_positional_once_each():
    assert ECHO.params == ["a", "b"]
    assert "$1" in ECHO.sql and "$2" in ECHO.sql and ":a" not in ECHO.sql
    assert "::varchar" in ECHO.sql


def test_prepared_once_per_connection_and_kept_after_a_rollback(app):
    statements = []
    engine = db.engines[None]

    def remember(conn, cursor, statement, *args):
        statements.append(statement.split()[0])

    event.listen(engine, "before_cursor_execute", remember)
    try:
        conn = db.session.connection()
        assert ECHO.execute(conn, {"a": 2, "b": 3}).first().total == 5
        db.session.rollback()
        conn = db.session.connection()
        row = ECHO.execute(conn, {"a": 7, "b": 1}).first()
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    assert (row.total, row.a, row.cast_kept) == (8, 7, "x")
    assert statements.count("PREPARE") <= 1
    assert statements.count("EXECUTE") == 2


def test_execute_alone_joins_an_open_transaction(app):
    db.session.execute(db.text("SELECT 1"))
    assert db.session().in_transaction()
    assert execute_alone(ECHO, {"a": 1, "b": 1}).total == 2


def test_first_row_on_an_engine_prepares_once_per_pooled_connection(app):
    engine = db.engines[AUTOCOMMIT_BIND]
    engine.dispose()
    first = ECHO.first_row_on(engine, {"a": 2, "b": 3})
    again = ECHO.first_row_on(engine, {"a": 7, "b": 1})
    assert (first.total, again.total, again.a, again.cast_kept) == (5, 8, 7, "x")
    conn = engine.raw_connection()
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = %s",
                       (ECHO.name,))
        assert cursor.fetchone()[0] == 1
        assert conn.info[f"prepared:{ECHO.name}"]
    finally:
        conn.close()


def test_a_statement_error_is_sqlalchemys_and_the_connection_stays_usable(app):
    engine = db.engines[AUTOCOMMIT_BIND]
    with pytest.raises(DataError):
        ECHO.first_row_on(engine, {"a": "not a number", "b": 1})
    assert ECHO.first_row_on(engine, {"a": 1, "b": 2}).total == 3


def test_a_dropped_connection_is_invalidated_and_replaced(app):
    engine = db.engines[AUTOCOMMIT_BIND]
    engine.dispose()
    ECHO.first_row_on(engine, {"a": 1, "b": 1})
    conn = engine.raw_connection()
    pid = conn.dbapi_connection.get_backend_pid()
    conn.close()
    terminate_backend(engine.url.render_as_string(hide_password=False), pid)
    with pytest.raises(OperationalError) as caught:  # the API answers it 503 (errors.py)
        ECHO.first_row_on(engine, {"a": 1, "b": 1})
    assert caught.value.connection_invalidated
    assert ECHO.first_row_on(engine, {"a": 2, "b": 2}).total == 4  # a new connection
