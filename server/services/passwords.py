"""bcrypt hashing with a configurable cost."""
import bcrypt
from flask import current_app



def hash_password(password: str) -> str:
    """A bcrypt hash of `password` at the configured cost."""
    rounds = current_app.config["BCRYPT_LOG_ROUNDS"]
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def check_password(password: str, password_hash: str | None) -> bool:
    """True when `password` matches; spends a hash's work even when there is no hash."""
    if password_hash is None:
        rounds = current_app.config["BCRYPT_LOG_ROUNDS"]
        bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds))
        return False
    return bcrypt.checkpw(password.encode(), password_hash.encode())
