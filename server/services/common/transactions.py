"""Commit helpers shared by the use cases."""
from sqlalchemy.exc import IntegrityError

from server.platform.errors import AppError
from server.extensions import db


def commit_or_conflict(error: AppError) -> None:
    """Commit; a unique-constraint race lost to another request becomes `error`."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise error from None


def commit_keeping_state() -> None:
    """Commit without expiring what the session loaded, for a use case whose response shows
    exactly what it just wrote (saves re-reading every row after the commit)."""
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
