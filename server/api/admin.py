"""Administration: users and their roles, every event and order, platform figures, the audit log."""
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.admin import AdminUserListArgs, AdminUserUpdate, RolesIn, StatsOut
from server.schemas.audit import AuditEntryOut, AuditListArgs
from server.schemas.common import page_of
from server.schemas.event import AdminEventListArgs, EventOut
from server.schemas.order import AdminOrderListArgs, OrderOut
from server.schemas.payment import (PaymentListArgs, PaymentOut, RefundCompleteIn, RefundListArgs,
                                    RefundOut)
from server.schemas.user import UserOut
from server.platform.security import roles_required
from server.services import accounts, catalog, common, orders, payments, reports

blp = Blueprint("admin", __name__, url_prefix="/api/admin", description="Administration")


@blp.get("/users")
@roles_required("admin")
@blp.arguments(AdminUserListArgs, location="query")
@blp.response(200, page_of(UserOut))
def list_users(args):
    """Search users, newest first."""
    return accounts.list_users(**args)


@blp.get("/users/<int:user_id>")
@roles_required("admin")
@blp.response(200, UserOut)
def get_user(user_id):
    """One user."""
    return accounts.get_user(user_id)


@blp.patch("/users/<int:user_id>")
@roles_required("admin")
@blp.arguments(AdminUserUpdate)
@blp.response(200, UserOut)
def update_user(data, user_id):
    """Change a user's name, phone or active flag."""
    return accounts.update_user(actor=current_user, user_id=user_id, data=data)


@blp.delete("/users/<int:user_id>")
@roles_required("admin")
@blp.response(204)
def deactivate_user(user_id):
    """Deactivate a user; their tokens stop working at once."""
    accounts.deactivate(actor=current_user, user_id=user_id)


@blp.put("/users/<int:user_id>/roles")
@roles_required("admin")
@blp.arguments(RolesIn)
@blp.response(200, UserOut)
def set_roles(data, user_id):
    """Replace a user's roles (attendee is always kept)."""
    return accounts.set_roles(actor=current_user, user_id=user_id, roles=data["roles"])


@blp.get("/events")
@roles_required("admin")
@blp.arguments(AdminEventListArgs, location="query")
@blp.response(200, page_of(EventOut))
def list_events(args):
    """Every event, drafts and cancelled included."""
    return catalog.list_events(include_unpublished=True, **args)


@blp.get("/orders")
@roles_required("admin")
@blp.arguments(AdminOrderListArgs, location="query")
@blp.response(200, page_of(OrderOut))
def list_orders(args):
    """Every order, newest first."""
    return orders.list_orders(**args)


@blp.get("/stats")
@roles_required("admin")
@blp.response(200, StatsOut)
def get_stats():
    """Platform-wide counts of users, events, orders and tickets, and revenue."""
    return reports.get_platform_stats()


@blp.get("/payments")
@roles_required("admin")
@blp.arguments(PaymentListArgs, location="query")
@blp.response(200, page_of(PaymentOut))
def list_payments(args):
    """Every payment attempt; filter by status, provider, flag or needs_refund."""
    return payments.list_payments(**args)


@blp.post("/payments/<int:payment_id>/refund")
@roles_required("admin")
@blp.response(200, PaymentOut)
def refund_payment(payment_id):
    """Refund money that could not buy its order (a payment flagged for refund)."""
    return payments.refund_payment(payment_id=payment_id, actor=current_user)


@blp.get("/refunds")
@roles_required("admin")
@blp.arguments(RefundListArgs, location="query")
@blp.response(200, page_of(RefundOut))
def list_refunds(args):
    """Refunds; pending manual ones are M-Pesa reversals waiting for an admin."""
    return payments.list_refunds(**args)


@blp.post("/refunds/<int:refund_id>/complete")
@roles_required("admin")
@blp.arguments(RefundCompleteIn)
@blp.response(200, RefundOut)
def complete_refund(data, refund_id):
    """Record that a manual refund was executed, with its reference."""
    return payments.complete_manual(refund_id=refund_id, reference=data["reference"],
                                    actor=current_user)


@blp.get("/audit-log")
@roles_required("admin")
@blp.arguments(AuditListArgs, location="query")
@blp.response(200, page_of(AuditEntryOut))
def list_audit_log(args):
    """Recorded decisions (roles, deactivations, refunds, voids, cancellations), newest first."""
    return common.list_entries(**args)
