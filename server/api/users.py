"""The authenticated user's own account."""
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.user import MeUpdate, UserOut
from server.platform.security import auth_required
from server.services import accounts

blp = Blueprint("users", __name__, url_prefix="/api/users", description="My account")


@blp.get("/me")
@auth_required()
@blp.response(200, UserOut)
def get_me():
    """The authenticated user."""
    return current_user


@blp.patch("/me")
@auth_required()
@blp.arguments(MeUpdate)
@blp.response(200, UserOut)
def update_me(data):
    """Change my name, phone or password (a new password needs the current one)."""
    return accounts.update_profile(user=current_user, data=data)


@blp.delete("/me")
@auth_required()
@blp.response(204)
def delete_me():
    """Deactivate my account; my orders and tickets are kept."""
    accounts.deactivate_user(user=current_user)
