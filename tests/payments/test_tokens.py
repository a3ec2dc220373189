"""The Daraja access token is shared by every worker through the database."""
import itertools
from datetime import timedelta

from sqlalchemy import update

from server.extensions import db
from server.models import ProviderToken, utcnow
from server.services.payments.token_cache import DatabaseTokenCache

_keys = itertools.count(1)


def fetcher(calls):
    def fetch():
        calls.append(1)
        return f"token-{len(calls)}", 3599

    return fetch


def test_two_workers_share_one_token(app):
    key, calls = f"shared-{next(_keys)}", []
    first, second = DatabaseTokenCache(), DatabaseTokenCache()

    assert first.token(key, fetcher(calls)) == "token-1"
    assert second.token(key, fetcher(calls)) == "token-1"
    assert first.token(key, fetcher(calls)) == "token-1"
    assert len(calls) == 1


def test_a_token_is_refreshed_five_minutes_before_it_expires(app):
    key, calls = f"early-{next(_keys)}", []
    DatabaseTokenCache().token(key, fetcher(calls))
    with db.engine.begin() as conn:
        conn.execute(update(ProviderToken).where(ProviderToken.key == key)
                     .values(expires_at=utcnow() + timedelta(minutes=4)))

    assert DatabaseTokenCache().token(key, fetcher(calls)) == "token-2"
    assert len(calls) == 2


def test_an_invalidated_token_is_fetched_again_by_everyone(app):
    key, calls = f"stale-{next(_keys)}", []
    first, second = DatabaseTokenCache(), DatabaseTokenCache()
    first.token(key, fetcher(calls))

    first.invalidate(key)

    assert second.token(key, fetcher(calls)) == "token-2"
    assert first.token(key, fetcher(calls)) == "token-2"
