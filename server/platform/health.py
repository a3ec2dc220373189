"""Health checks."""
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from server.extensions import db


def database_ok() -> bool:
    """True when the database answers a trivial query."""
    try:
        db.session.execute(text("SELECT 1"))
        return True
    except SQLAlchemyError:
        db.session.rollback()
        return False
