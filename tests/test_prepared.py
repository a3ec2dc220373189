"""Prepared hot-path statements: made once per connection, positional, outliving rollbacks."""
from sqlalchemy import event

from server.extensions import db
from server.prepared import PreparedStatement, execute_alone

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
