"""Orders: placing, reading, cancelling and refunding."""
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.common import page_of
from server.schemas.order import IdempotencyHeader, OrderIn, OrderListArgs, OrderOut
from server.platform import ratelimits
from server.platform.security import auth_required
from server.services import orders

blp = Blueprint("orders", __name__, url_prefix="/api/orders", description="Orders")


@blp.post("")
@auth_required()
@ratelimits.place_order
@blp.arguments(OrderIn)
@blp.arguments(IdempotencyHeader, location="headers")
@blp.response(201, OrderOut)
def place_order(data, headers):
    """Reserve tickets; a free order comes back paid with its tickets."""
    return orders.place_order(buyer=current_user, data=data,
                              idempotency_key=headers.get("idempotency_key"))


@blp.get("")
@auth_required()
@blp.arguments(OrderListArgs, location="query")
@blp.response(200, page_of(OrderOut))
def list_my_orders(args):
    """My orders, newest first."""
    return orders.list_orders(buyer_id=current_user.id, **args)


@blp.get("/<int:order_id>")
@auth_required()
@blp.response(200, OrderOut)
def get_order(order_id):
    """One order (its buyer, the event's organizer, admins)."""
    return orders.get_order(order_id=order_id, viewer=current_user)


@blp.post("/<int:order_id>/cancel")
@auth_required()
@blp.response(200, OrderOut)
def cancel_order(order_id):
    """Cancel a pending order and release its tickets."""
    return orders.cancel_order(order_id=order_id, actor=current_user)


@blp.post("/<int:order_id>/refund")
@auth_required()
@blp.response(200, OrderOut)
def refund_order(order_id):
    """Refund a paid order: its tickets are voided and go back on sale."""
    return orders.refund_order(order_id=order_id, actor=current_user)
