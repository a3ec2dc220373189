"""Registration, login, token refresh and logout."""
from flask_jwt_extended import current_user, get_jwt
from flask_smorest import Blueprint

from server.schemas.user import AccessTokenOut, AuthOut, LoginIn, RegisterIn, UserOut
from server.platform import ratelimits
from server.platform.security import auth_required
from server.services import accounts

blp = Blueprint("auth", __name__, url_prefix="/api/auth", description="Accounts and tokens")


@blp.post("/register")
@ratelimits.register
@blp.arguments(RegisterIn)
@blp.response(201, AuthOut)
def register(data):
    """Create an account (attendee, or organizer) and log it in."""
    user = accounts.register_user(**data)
    return {"user": user, **accounts.issue_tokens(user)}


@blp.post("/login")
@ratelimits.login
@blp.arguments(LoginIn)
@blp.response(200, AuthOut)
def login(data):
    """Exchange email and password for tokens."""
    user = accounts.authenticate(**data)
    return {"user": user, **accounts.issue_tokens(user)}


@blp.post("/refresh")
@auth_required(refresh=True)
@blp.response(200, AccessTokenOut)
def refresh():
    """Exchange a refresh token for a new access token."""
    return {"access_token": accounts.issue_access_token(current_user)}


@blp.post("/logout")
@auth_required(any_token=True)
@blp.response(204)
def logout():
    """Revoke the token that authenticates this request."""
    accounts.revoke_token(user=current_user, payload=get_jwt())


@blp.get("/me")
@auth_required()
@blp.response(200, UserOut)
def me():
    """The authenticated user."""
    return current_user
