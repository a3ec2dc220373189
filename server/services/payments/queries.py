"""Reading payments and refunds, and asking a provider about a payment on demand."""
from sqlalchemy import select

from server.platform.errors import NotFound
from server.extensions import db
from server.models import Payment, PaymentProvider, Refund, RoleName, User
from server.services.payments import mpesa, stripe
from server.services.common.pagination import Page, paginate, where_equal


def get_payment(*, payment_id: int, viewer: User) -> Payment:
    """A payment, for the buyer who started it or an admin; else 404."""
    payment = db.session.get(Payment, payment_id)
    if payment is None or not (payment.user_id == viewer.id or viewer.has_role(RoleName.ADMIN)):
        raise NotFound("No such payment.")
    return payment


def refresh_payment(*, payment_id: int, viewer: User) -> Payment:
    """Ask the provider about the payment now and apply its answer."""
    payment = get_payment(payment_id=payment_id, viewer=viewer)
    if payment.provider == PaymentProvider.MPESA:
        mpesa.refresh(payment)
    else:
        stripe.refresh(payment)
    return get_payment(payment_id=payment_id, viewer=viewer)


def list_payments(*, page: int, per_page: int, flagged: bool | None = None, **filters) -> Page:
    """Every payment attempt, newest first, for reconciliation by admins."""
    query = select(Payment).order_by(Payment.created_at.desc(), Payment.id.desc())
    if flagged is not None:
        query = query.where(Payment.flag.is_not(None) if flagged else Payment.flag.is_(None))
    query = where_equal(query, Payment, filters)  # enum columns take their values as strings
    return paginate(query, page=page, per_page=per_page)


def list_refunds(*, page: int, per_page: int, status=None, method=None) -> Page:
    """Refunds, newest first; pending manual ones are an admin's to-do list."""
    query = select(Refund).order_by(Refund.created_at.desc(), Refund.id.desc())
    return paginate(where_equal(query, Refund, {"status": status, "method": method}),
                    page=page, per_page=per_page)
