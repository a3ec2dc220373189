"""The audit log: recording decisions inside their own transaction, and reading them back.

`record` only adds the entry to the session: the use case that made the change commits it
together with the change, so a change that rolls back leaves no entry, and an entry never
describes a change that did not happen.
"""
from sqlalchemy import select

from server.extensions import db
from server.platform.logs import current_request
from server.models import AuditAction, AuditEntry, User
from server.services.common.pagination import Page, paginate, where_equal


def record(action: AuditAction, *, actor: User | None, target_type: str, target_id: int,
           **details) -> AuditEntry:
    """Add one audit entry to the current transaction (no commit); `details` must be JSON."""
    served = current_request()
    entry = AuditEntry(action=action.value, actor_id=actor.id if actor is not None else None,
                       target_type=target_type, target_id=target_id, details=details,
                       ip_address=served.ip if served else None,
                       request_id=served.request_id if served else None)
    db.session.add(entry)
    return entry


def list_entries(*, page: int, per_page: int, action: str | None = None,
                 actor_id: int | None = None, target_type: str | None = None,
                 target_id: int | None = None) -> Page:
    """Audit entries matching the filters, newest first."""
    query = where_equal(select(AuditEntry).order_by(AuditEntry.id.desc()), AuditEntry, {
        "action": action, "actor_id": actor_id, "target_type": target_type,
        "target_id": target_id})
    return paginate(query, page=page, per_page=per_page)
