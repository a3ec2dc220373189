"""JWT wiring: identity, role claims, per-request user loading, revocation and guards."""
import time
from functools import wraps

from flask import current_app, g, request
from flask_jwt_extended import current_user, decode_token, verify_jwt_in_request
from flask_jwt_extended.exceptions import NoAuthorizationError, WrongTokenError
from jwt import InvalidTokenError
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from server.platform.errors import Forbidden, error_response
from server.extensions import db, jwt
from server.models import RevokedToken, User

BEARER = [{"bearerAuth": []}]


@jwt.user_identity_loader
def _identity(user: User) -> str:
    return str(user.id)


@jwt.additional_claims_loader
def _claims(user: User) -> dict:
    return {"roles": user.role_names}


@jwt.token_in_blocklist_loader
def _check_token(_header: dict, payload: dict) -> bool:
    """One query loads the token's user and tells whether the token was revoked."""
    revoked = select(RevokedToken.jti).where(RevokedToken.jti == payload["jti"]).exists()
    row = db.session.execute(select(User, revoked).where(User.id == int(payload["sub"]))
                             .options(joinedload(User.roles))).unique().first()
    g.token_user = row[0] if row else None
    return bool(row and row[1])


@jwt.user_lookup_loader
def _load_user(_header: dict, payload: dict) -> User | None:
    user = g.pop("token_user", None)
    return user if user is not None and user.is_active else None


def _unauthorized(message: str):
    return error_response(401, message, "unauthorized")


jwt.unauthorized_loader(lambda reason: _unauthorized("Authentication is required."))
jwt.invalid_token_loader(lambda reason: _unauthorized("The token is invalid."))
jwt.expired_token_loader(lambda header, payload: _unauthorized("The token has expired."))
jwt.revoked_token_loader(lambda header, payload: _unauthorized("The token has been revoked."))
jwt.needs_fresh_token_loader(lambda header, payload: _unauthorized("A fresh login is required."))
jwt.user_lookup_error_loader(
    lambda header, payload: _unauthorized("The account no longer exists or is deactivated."))
jwt.token_verification_failed_loader(
    lambda header, payload: _unauthorized("The token could not be verified."))


def _document_security(wrapper, optional: bool) -> None:
    """Mark the view as needing a bearer token in the OpenAPI document."""
    security = BEARER + ([{}] if optional else [])
    apidoc = getattr(wrapper, "_apidoc", {})
    manual = dict(apidoc.get("manual_doc", {}), security=security)
    wrapper._apidoc = dict(apidoc, manual_doc=manual)


def auth_required(*roles: str, refresh: bool = False, optional: bool = False,
                  any_token: bool = False):
    """Require a valid token (and, when `roles` are given, one of those roles on the user).

    `refresh` asks for a refresh token, `any_token` takes either kind, `optional` lets
    anonymous callers through.
    """

    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            verify_jwt_in_request(refresh=refresh, optional=optional, verify_type=not any_token)
            if roles and not current_user.has_role(*roles):
                raise Forbidden("Your role does not allow this.")
            return view(*args, **kwargs)

        _document_security(wrapper, optional)
        return wrapper

    return decorator


def access_claims_required(view):
    """Require a valid access token, checking its signature and expiry only.

    For the gate's hot path: the view's own statement re-checks the account and the token's
    revocation in the same round trip that does the work (no query just to authenticate), so
    the view must pass `token_claims()["sub"]` and `["jti"]` on to a service that does so.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = bearer_token(request.headers.get("Authorization", ""))
        if token is None:
            raise NoAuthorizationError("Missing Bearer token")
        g.token_claims = verified_access_claims(token)
        return view(*args, **kwargs)

    _document_security(wrapper, optional=False)
    return wrapper


def bearer_token(authorization: str) -> str | None:
    """The token of an `Authorization: Bearer <token>` header's value, or None."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


VERIFIED_TOKENS_KEPT = 4096


def verified_access_claims(token: str) -> dict:
    """The claims of a valid access token; each token's signature is checked once per process.

    A gate scanner sends the same token with every scan: its verified claims are kept (per app,
    at most VERIFIED_TOKENS_KEPT tokens) and only its expiry is checked again. Revocation and the
    account are checked by the view's own statement on every request.
    """
    verified = current_app.extensions.setdefault("verified_access_tokens", {})
    claims = verified.get(token)
    if claims is not None and claims["exp"] > time.time():
        return claims
    claims = decode_token(token)
    if claims.get("type") != "access":
        raise WrongTokenError("Only access tokens are allowed")
    if not str(claims.get("sub", "")).isdigit() or not claims.get("jti"):
        raise InvalidTokenError("Not a user's token")  # none this app issues
    if "exp" in claims:
        if len(verified) >= VERIFIED_TOKENS_KEPT:
            verified.clear()
        verified[token] = claims
    return claims


def token_claims() -> dict:
    """The claims `access_claims_required` verified for this request."""
    return g.token_claims


def roles_required(*roles: str):
    """Require a valid access token of a user holding one of `roles`."""
    return auth_required(*roles)


def optional_user() -> User | None:
    """The authenticated user on a route where authentication is optional."""
    return current_user if current_user else None
