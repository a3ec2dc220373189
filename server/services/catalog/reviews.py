"""Reviews: who may review an event, and the author's changes."""
from sqlalchemy import select

from server.platform.errors import Conflict, Forbidden, NotFound
from server.extensions import db
from server.models import AuditAction, Event, EventStatus, Review, User
from server.services.common import audit
from server.services.catalog.events import get_visible_event
from server.services.common.pagination import Page, paginate
from server.services.orders import holds_review_ticket
from server.services.common.transactions import commit_or_conflict

NO_SUCH_REVIEW = "No such review."
ALREADY_REVIEWED = Conflict("You have already reviewed this event.", code="already_reviewed")


def _not_allowed(message: str) -> Forbidden:
    return Forbidden(message, code="review_not_allowed")


def ensure_can_review(*, user: User, event: Event) -> None:
    """403 `review_not_allowed` unless `user` may review `event`.

    The reviewer must hold a used ticket for the event, or a valid one once it has started,
    and the event must be published and not the reviewer's own.
    """
    if event.organizer_id == user.id:
        raise _not_allowed("Organizers cannot review their own event.")
    if event.status != EventStatus.PUBLISHED:
        raise _not_allowed("Only published events can be reviewed.")
    if not holds_review_ticket(user=user, event=event):
        raise _not_allowed("Only people who went to the event can review it.")


def list_reviews(*, event_id: int, viewer: User | None, page: int, per_page: int) -> Page:
    """A page of the event's reviews, newest first, with its rating summary."""
    event = get_visible_event(event_id=event_id, viewer=viewer)
    query = (select(Review).where(Review.event_id == event.id)
             .order_by(Review.created_at.desc(), Review.id.desc()))
    result = paginate(query, page=page, per_page=per_page)
    result.summary = event.stats
    return result


def _find_review(*, user: User, event: Event) -> Review | None:
    return db.session.scalar(select(Review).where(Review.user_id == user.id,
                                                  Review.event_id == event.id))


def create_review(*, event_id: int, user: User, data: dict) -> Review:
    """Review an event the user may review; one review per user and event."""
    event = get_visible_event(event_id=event_id, viewer=user)
    ensure_can_review(user=user, event=event)
    if _find_review(user=user, event=event) is not None:
        raise ALREADY_REVIEWED
    review = Review(user_id=user.id, event_id=event.id, **data)
    db.session.add(review)
    commit_or_conflict(ALREADY_REVIEWED)
    return review


def _visible_review(*, review_id: int, viewer: User) -> Review:
    """The review if its event is visible to `viewer`, else 404."""
    review = db.session.get(Review, review_id)
    if review is None:
        raise NotFound(NO_SUCH_REVIEW)
    get_visible_event(event_id=review.event_id, viewer=viewer, not_found=NO_SUCH_REVIEW)
    return review


def update_review(*, review_id: int, actor: User, data: dict) -> Review:
    """Change the rating or comment of one's own review."""
    review = _visible_review(review_id=review_id, viewer=actor)
    if review.user_id != actor.id:
        raise Forbidden("Only the author can change a review.")
    for key, value in data.items():
        setattr(review, key, value)
    db.session.commit()
    return review


def delete_review(*, review_id: int, actor: User) -> None:
    """Delete a review: its author or an admin."""
    review = _visible_review(review_id=review_id, viewer=actor)
    if review.user_id != actor.id and not actor.has_role("admin"):
        raise Forbidden("Only the author or an admin can delete a review.")
    if review.user_id != actor.id:  # moderation; an author deleting their own is not audited
        audit.record(AuditAction.REVIEW_REMOVED, actor=actor, target_type="review",
                     target_id=review.id, event_id=review.event_id, author_id=review.user_id,
                     rating=review.rating, comment=review.comment)
    db.session.delete(review)
    db.session.commit()
