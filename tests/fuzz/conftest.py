"""Fixtures of the OpenAPI fuzz test: one user per role and data their path ids can resolve to."""
from collections import Counter

import pytest

from server.codes.signing import code_for
from server.services.catalog import reviews
from tests.world import flagged_payment, manual_refund, pending_payment, went_to

# Requests sent by the fuzz test, per role; printed in the terminal summary.
REQUESTS: Counter = Counter()


def _payments(pending_order, paid_order) -> dict:
    """A pending M-Pesa attempt, a confirmed one flagged for refund, and a manual refund."""
    pending, flagged = pending_payment(pending_order), flagged_payment(paid_order)
    refund = manual_refund(paid_order)
    return {"payment_id": [pending.id, flagged.id, refund.payment_id], "refund_id": [refund.id]}


@pytest.fixture
def fuzz_world(make_user, make_event, make_order, mpesa, stripe_fake):
    """Users of each role and, per path or body parameter name, ids that exist."""
    users = {"attendee": make_user(email="fuzz-attendee@example.com"),
             "organizer": make_user("organizer", email="fuzz-organizer@example.com"),
             "admin": make_user("admin", email="fuzz-admin@example.com")}
    owner, attendee = users["organizer"], users["attendee"]
    event, draft = make_event(owner), make_event(owner, status="draft")
    past = went_to(make_event(owner), [attendee, users["admin"]], make_order)
    review = reviews.create_review(event_id=past.id, user=attendee, data={"rating": 5})
    paid = make_order(event, buyer=attendee, paid=True)
    pending = make_order(event, buyer=attendee)
    event_ids = [event.id, draft.id, past.id]
    ids = {"event_id": event_ids, "ticket_type_id": [t.id for e in (event, draft, past)
                                                     for t in e.ticket_types],
           "order_id": [paid.id, pending.id], "ticket_id": [t.id for t in paid.tickets],
           "review_id": [review.id], "user_id": [u.id for u in users.values()]}
    ids.update(_payments(make_order(event, buyer=attendee), paid))
    return {"users": users, "ids": ids, "codes": [code_for(t) for t in paid.tickets],
            "emails": [u.email for u in users.values()]}


def pytest_terminal_summary(terminalreporter):
    """Print how many requests the fuzz test sent, per role and in total."""
    if not REQUESTS:
        return
    per_role = ", ".join(f"{role} {count}" for role, count in REQUESTS.items())
    terminalreporter.write_line(f"OpenAPI fuzz requests: {per_role}; total {sum(REQUESTS.values())}")
