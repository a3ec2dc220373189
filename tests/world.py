"""Test data shaped for a scenario, shared by the permission matrix, the fuzz test and the audit
log's tests."""
from datetime import timedelta

from server.extensions import db
from server.models import Payment, PaymentProvider, PaymentStatus, Refund, RefundMethod, utcnow


def went_to(event, buyers, make_order):
    """Each buyer gets a paid ticket, then the event is moved to have started (test data only)."""
    for buyer in buyers:
        make_order(event, buyer=buyer, paid=True)
    event.starts_at, event.ends_at = utcnow() - timedelta(hours=2), utcnow() + timedelta(hours=2)
    db.session.commit()
    return event


def _mpesa_payment(order, status: PaymentStatus, **fields) -> Payment:
    """An M-Pesa payment of `order`'s total by its buyer (not committed)."""
    return Payment(order=order, user=order.buyer, provider=PaymentProvider.MPESA, status=status,
                   amount=order.total, currency="KES", **fields)


def pending_payment(order) -> Payment:
    """A pending M-Pesa attempt for `order`, committed."""
    payment = _mpesa_payment(order, PaymentStatus.PENDING)
    db.session.add(payment)
    db.session.commit()
    return payment


def flagged_payment(order) -> Payment:
    """A confirmed M-Pesa payment of `order` flagged for refund (e.g. a second payment of a paid
    order), committed."""
    payment = _mpesa_payment(order, PaymentStatus.CONFIRMED, needs_refund=True,
                             confirmed_at=utcnow())
    db.session.add(payment)
    db.session.commit()
    return payment


def manual_refund(order) -> Refund:
    """A refunded M-Pesa payment of `order` and its manual refund, not yet completed; committed."""
    refunded = _mpesa_payment(order, PaymentStatus.REFUNDED, confirmed_at=utcnow())
    refund = Refund(payment=refunded, amount=refunded.amount, currency="KES",
                    method=RefundMethod.MANUAL)
    db.session.add(refund)
    db.session.commit()
    return refund
