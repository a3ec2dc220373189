"""Commit helpers shared by the use cases."""
from sqlalchemy.exc import IntegrityError

from server.errors import AppError
from server.extensions import db


def commit_or_conflict(error: AppError) -> None:
    """Commit; a unique-constraint race lost to another request becomes `error`."""
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise error from None
