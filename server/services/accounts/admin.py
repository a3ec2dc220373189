"""Administration of user accounts."""
from sqlalchemy import Select, or_, select

from server.platform.errors import Conflict, NotFound
from server.extensions import db
from server.models import AuditAction, Role, RoleName, User
from server.services.common import audit
from server.services.accounts.users import (build_user, find_user_by_email, phone_or_error,
                                      roles_by_name)
from server.services.common.pagination import Page, paginate


def list_users(*, q: str | None = None, role: str | None = None, is_active: bool | None = None,
               page: int, per_page: int) -> Page:
    """Users matching the filters, newest first."""
    query: Select = select(User).order_by(User.id.desc())
    if q:
        pattern = f"%{q}%"
        query = query.where(or_(User.name.ilike(pattern), User.email.ilike(pattern)))
    if role:
        query = query.where(User.roles.any(Role.name == role))
    if is_active is not None:
        query = query.where(User.is_active.is_(is_active))
    return paginate(query, page=page, per_page=per_page)


def get_user(user_id: int) -> User:
    """The user with `user_id`, or 404."""
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound("No such user.")
    return user


def update_user(*, actor: User, user_id: int, data: dict) -> User:
    """Change a user's name, phone or active flag."""
    user = get_user(user_id)
    if data.get("is_active") is False and user.id == actor.id:
        raise Conflict("You cannot deactivate your own account here.", code="cannot_deactivate_self")
    before = {"name": user.name, "phone": user.phone}
    if "name" in data:
        user.name = data["name"]
    if "phone" in data:
        user.phone = phone_or_error(data["phone"])
    changed = [key for key in before if getattr(user, key) != before[key]]
    if changed:
        audit.record(AuditAction.USER_UPDATED, actor=actor, target_type="user", target_id=user.id,
                     before={key: before[key] for key in changed},
                     after={key: getattr(user, key) for key in changed})
    if "is_active" in data and data["is_active"] != user.is_active:
        user.is_active = data["is_active"]
        action = AuditAction.USER_REACTIVATED if user.is_active else AuditAction.USER_DEACTIVATED
        audit.record(action, actor=actor, target_type="user", target_id=user.id)
    db.session.commit()
    return user


def deactivate(*, actor: User, user_id: int) -> None:
    """Deactivate a user (not oneself): their tokens stop working at once."""
    update_user(actor=actor, user_id=user_id, data={"is_active": False})


def set_roles(*, actor: User, user_id: int, roles: list[str]) -> User:
    """Replace a user's roles; attendee is always kept; an admin keeps their own admin role."""
    user = get_user(user_id)
    if user.id == actor.id and RoleName.ADMIN.value not in roles:
        raise Conflict("You cannot remove your own admin role.", code="cannot_remove_own_admin")
    before = user.role_names
    user.roles = roles_by_name(roles)
    if user.role_names != before:
        audit.record(AuditAction.USER_ROLES_CHANGED, actor=actor, target_type="user",
                     target_id=user.id, before=before, after=user.role_names)
    db.session.commit()
    return user


def ensure_admin(*, email: str, password: str, name: str) -> tuple[User, bool]:
    """Create an admin account, or add the admin role to the existing one; (user, created)."""
    user = find_user_by_email(email)
    created = user is None
    if created:
        user = build_user(name=name, email=email, password=password,
                          roles=[RoleName.ADMIN.value])
        db.session.flush()
        audit.record(AuditAction.USER_ADMIN_CREATED, actor=None, target_type="user",
                     target_id=user.id, roles=user.role_names, source="command line")
    elif not user.has_role(RoleName.ADMIN.value):
        before = user.role_names
        user.roles = roles_by_name(user.role_names + [RoleName.ADMIN.value])
        audit.record(AuditAction.USER_ROLES_CHANGED, actor=None, target_type="user",
                     target_id=user.id, before=before, after=user.role_names,
                     source="command line")
    db.session.commit()
    return user, created
