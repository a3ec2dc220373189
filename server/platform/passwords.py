"""bcrypt hashing with a configurable cost, at most BCRYPT_MAX_CONCURRENT hashes at once per host."""
from contextlib import contextmanager

import bcrypt
from flask import current_app

from server.platform.errors import RateLimited

BUSY = "The server is busy checking passwords. Please try again in a moment."
MAX_PASSWORD_BYTES = 72  # bcrypt reads no further (and bcrypt 5 refuses longer input)


@contextmanager
def _hash_slot():
    """A slot for one hash; 429 at once when all are taken (a login flood never queues)."""
    slots = current_app.extensions["bcrypt_slots"]
    slot = slots.try_acquire()
    if slot is None:
        raise RateLimited(BUSY, retry_after=1)
    try:
        yield
    finally:
        slots.release(slot)


def hash_password(password: str) -> str:
    """A bcrypt hash of `password` at the configured cost."""
    rounds = current_app.config["BCRYPT_LOG_ROUNDS"]
    with _hash_slot():
        return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def check_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; spends a hash's work even when there is no hash."""
    secret = password.encode()
    with _hash_slot():
        # bcrypt refuses more than 72 bytes, and no password that long was ever accepted.
        if password_hash is None or len(secret) > MAX_PASSWORD_BYTES:
            rounds = current_app.config["BCRYPT_LOG_ROUNDS"]
            bcrypt.hashpw(secret[:MAX_PASSWORD_BYTES], bcrypt.gensalt(rounds=rounds))
            return False
        return bcrypt.checkpw(secret, password_hash.encode())
