"""Provider access tokens shared by every worker through the database.

Daraja may invalidate a token when a new one is issued, so workers must not each fetch their own:
the row lock on the token's row lets one worker refresh while the others wait for its result.
"""
import threading
from datetime import timedelta
from typing import Callable

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert

from server.extensions import db
from server.models import ProviderToken, utcnow

REFRESH_MARGIN = timedelta(minutes=5)


class DatabaseTokenCache:
    """A `TokenCache` kept in `provider_tokens`, with a per-process copy in memory."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._memory: dict[str, tuple[str, object]] = {}

    def token(self, key: str, fetch: Callable[[], tuple[str, int]]) -> str:
        with self._lock:
            cached = self._memory.get(key)
            if cached and cached[1] - REFRESH_MARGIN > utcnow():
                return cached[0]
            token, expires_at = self._shared(key, fetch)
            self._memory[key] = (token, expires_at)
            return token

    def invalidate(self, key: str) -> None:
        with self._lock:
            self._memory.pop(key, None)
            with db.engine.begin() as conn:
                conn.execute(ProviderToken.__table__.delete().where(ProviderToken.key == key))

    @staticmethod
    def _shared(key: str, fetch) -> tuple[str, object]:
        table = ProviderToken.__table__
        with db.engine.begin() as conn:
            # An expired placeholder row to lock (bandit B106: no credential).
            conn.execute(insert(table).values(key=key, token="", expires_at=utcnow())  # nosec B106
                         .on_conflict_do_nothing())
            row = conn.execute(select(table.c.token, table.c.expires_at)
                               .where(table.c.key == key).with_for_update()).one()
            if row.token and row.expires_at - REFRESH_MARGIN > utcnow():
                return row.token, row.expires_at
            token, expires_in = fetch()
            expires_at = utcnow() + timedelta(seconds=expires_in)
            conn.execute(table.update().where(table.c.key == key)
                         .values(token=token, expires_at=expires_at))
            return token, expires_at
