"""Reviews: an event's reviews and the author's changes."""
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.common import PageArgs
from server.schemas.review import ReviewIn, ReviewOut, ReviewPage, ReviewUpdate
from server.platform.security import auth_required, optional_user
from server.services import catalog

blp = Blueprint("reviews", __name__, url_prefix="/api", description="Reviews")


@blp.get("/events/<int:event_id>/reviews")
@auth_required(optional=True)
@blp.arguments(PageArgs, location="query")
@blp.response(200, ReviewPage)
def list_reviews(args, event_id):
    """The event's reviews, newest first, with its rating summary."""
    return catalog.list_reviews(event_id=event_id, viewer=optional_user(), **args)


@blp.post("/events/<int:event_id>/reviews")
@auth_required()
@blp.arguments(ReviewIn)
@blp.response(201, ReviewOut)
def create_review(data, event_id):
    """Review an event you went to."""
    return catalog.create_review(event_id=event_id, user=current_user, data=data)


@blp.patch("/reviews/<int:review_id>")
@auth_required()
@blp.arguments(ReviewUpdate)
@blp.response(200, ReviewOut)
def update_review(data, review_id):
    """Change your review."""
    return catalog.update_review(review_id=review_id, actor=current_user, data=data)


@blp.delete("/reviews/<int:review_id>")
@auth_required()
@blp.response(204)
def delete_review(review_id):
    """Delete a review (its author or an admin)."""
    catalog.delete_review(review_id=review_id, actor=current_user)
