"""Accounts: registration, login, tokens, profile changes and deactivation."""
from datetime import datetime, timezone

from flask_jwt_extended import create_access_token, create_refresh_token
from sqlalchemy import delete, select

from server.platform.errors import AppError, Conflict, ValidationError
from server.extensions import db
from server.services.common import audit
from server.services.common.transactions import commit_or_conflict
from server.models import AuditAction, RevokedToken, Role, RoleName, User, utcnow
from server.platform.phone import normalize_phone
from server.platform.passwords import check_password, hash_password


class InvalidCredentials(AppError):
    status, code, message = 401, "invalid_credentials", "The email or password is incorrect."


def normalize_email(email: str) -> str:
    """Emails are compared and stored lower-cased."""
    return email.strip().lower()


def find_user_by_email(email: str) -> User | None:
    """The user with `email`, whatever its case."""
    return db.session.scalar(select(User).where(User.email == normalize_email(email)))


def phone_or_error(phone: str | None) -> str | None:
    if phone in (None, ""):
        return None
    normalized = normalize_phone(phone)
    if normalized is None:
        raise ValidationError(fields={"phone": ["Enter a Kenyan mobile number like 0712345678."]})
    return normalized


def roles_by_name(names) -> list[Role]:
    """The Role rows for `names` (attendee always included)."""
    wanted = set(names) | {RoleName.ATTENDEE.value}
    return list(db.session.scalars(select(Role).where(Role.name.in_(wanted))))


EMAIL_TAKEN = Conflict("An account with this email already exists.", code="email_taken")


def build_user(*, name: str, email: str, password: str, phone: str | None = None,
               roles=()) -> User:
    """A new user added to the session (not committed); 409 when the email is taken."""
    if find_user_by_email(email) is not None:
        raise EMAIL_TAKEN
    user = User(name=name, email=normalize_email(email), phone=phone_or_error(phone),
                password_hash=hash_password(password), roles=roles_by_name(roles))
    db.session.add(user)
    return user


def register_user(*, name: str, email: str, password: str, phone: str | None = None,
                  role: str = RoleName.ATTENDEE.value) -> User:
    """Create an attendee (optionally also an organizer) account."""
    user = build_user(name=name, email=email, password=password, phone=phone, roles=[role])
    commit_or_conflict(EMAIL_TAKEN)
    return user


def authenticate(*, email: str, password: str) -> User:
    """The active user with these credentials; one answer for every kind of failure."""
    user = find_user_by_email(email)
    ok = check_password(password, user.password_hash if user else None)
    if not ok or not user.is_active:
        raise InvalidCredentials()
    return user


def issue_tokens(user: User) -> dict:
    """A fresh access and refresh token for `user`."""
    return {"access_token": create_access_token(identity=user, fresh=True),
            "refresh_token": create_refresh_token(identity=user)}


def issue_access_token(user: User) -> str:
    """A new (non-fresh) access token from a refresh token."""
    return create_access_token(identity=user)


def revoke_token(*, user: User, payload: dict) -> None:
    """Revoke the token described by the JWT `payload`."""
    expires_at = datetime.fromtimestamp(payload["exp"], tz=timezone.utc)
    db.session.merge(RevokedToken(jti=payload["jti"], user_id=user.id, expires_at=expires_at))
    db.session.commit()


def purge_expired_revocations() -> int:
    """Delete revocations of tokens that have expired anyway; returns how many."""
    result = db.session.execute(delete(RevokedToken).where(RevokedToken.expires_at < utcnow()))
    db.session.commit()
    return result.rowcount


def update_profile(*, user: User, data: dict) -> User:
    """Change name, phone or password; a new password needs the current one."""
    if "password" in data:
        current = data.get("current_password")
        if not current or not check_password(current, user.password_hash):
            raise ValidationError(fields={"current_password": ["The current password is incorrect."]})
        user.password_hash = hash_password(data["password"])
    if "name" in data:
        user.name = data["name"]
    if "phone" in data:
        user.phone = phone_or_error(data["phone"])
    db.session.commit()
    return user


def deactivate_user(*, user: User) -> None:
    """Deactivate an account: its tokens stop working, its orders and tickets stay."""
    user.is_active = False
    audit.record(AuditAction.USER_DEACTIVATED, actor=user, target_type="user", target_id=user.id,
                 by_self=True)
    db.session.commit()
