"""Ticket codes: compact JWS (RFC 7515, EdDSA) naming a ticket, its event and its nonce.

A code is `header.payload.signature` with the header `{"alg":"EdDSA","kid":...}` and the payload
`{"t": ticket_id, "e": event_id, "n": nonce}`, so any JOSE library verifies it offline against
the published JWKS. Verification runs on every scan before any database query, so it is done
with `cryptography` on the split compact form: the Ed25519 check is nearly all of its cost,
where PyJWT's PyJWS adds about 50 µs of header and key handling per call. Only one exact shape
is accepted (one canonical spelling per code, EdDSA only, no critical extensions).
"""
import base64
import binascii
import json
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from flask import current_app

from server.codes.keys import KeyRing, b64url, load_keyring, public_jwk

MAX_CODE_LENGTH = 512
MAX_NONCE_LENGTH = 64
# Three base64url segments; an Ed25519 signature is 64 bytes, 86 characters.
COMPACT_JWS = re.compile(r"([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{86})")


class InvalidCode(Exception):
    """A code that must not be honoured: forged, altered, malformed or from an unknown key."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class CodeClaims:
    """What a verified code names, and the key that signed it."""

    ticket_id: int
    event_id: int
    nonce: str
    kid: str


def _json_segment(value: dict) -> str:
    return b64url(json.dumps(value, separators=(",", ":")).encode("utf-8"))


def _decode_segment(segment: str):
    try:
        return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError):
        return None


def _is_id(value) -> bool:
    return type(value) is int and value > 0


def _is_nonce(value) -> bool:
    return isinstance(value, str) and 0 < len(value) <= MAX_NONCE_LENGTH


class TicketCodes:
    """Signs ticket codes with the key ring's current key; verifies them against all its keys."""

    def __init__(self, keyring: KeyRing):
        self.keyring = keyring
        self._header = _json_segment({"alg": "EdDSA", "kid": keyring.kid})
        # The headers this app writes, mapped straight to their keys: no JSON per scan.
        self._known_headers = {_json_segment({"alg": "EdDSA", "kid": kid}): (kid, key)
                               for kid, key in keyring.public_keys.items()}
        self._jwks = [public_jwk(kid, key) for kid, key in keyring.public_keys.items()]

    def sign(self, *, ticket_id: int, event_id: int, nonce: str) -> str:
        """The code for a ticket: `header.payload.signature`."""
        if not (_is_id(ticket_id) and _is_id(event_id) and _is_nonce(nonce)):
            raise ValueError("ticket_id and event_id must be positive ints, nonce a short str")
        payload = _json_segment({"t": ticket_id, "e": event_id, "n": nonce})
        signing_input = f"{self._header}.{payload}"
        signature = self.keyring.private_key.sign(signing_input.encode("ascii"))
        return f"{signing_input}.{b64url(signature)}"

    def verify(self, code: str) -> CodeClaims:
        """The claims of a genuine code; InvalidCode for anything else. No database."""
        if not isinstance(code, str):
            raise InvalidCode("not a string")
        if len(code) > MAX_CODE_LENGTH:
            raise InvalidCode("too long")
        match = COMPACT_JWS.fullmatch(code)
        if match is None:
            raise InvalidCode("malformed")
        header, payload, signature = match.groups()
        kid, key = self._key_for(header)
        raw_signature = base64.urlsafe_b64decode(signature + "==")
        # Only the canonical spelling of a signature: one code per ticket issue, not sixteen.
        if b64url(raw_signature) != signature:
            raise InvalidCode("malformed")
        try:
            key.verify(raw_signature, f"{header}.{payload}".encode("ascii"))
        except InvalidSignature:
            raise InvalidCode("bad signature") from None
        return _claims(_decode_segment(payload), kid)

    def _key_for(self, header: str):
        known = self._known_headers.get(header)
        if known is not None:
            return known
        # Another spelling of a header (another JOSE library, or a forgery): read it strictly.
        fields = _decode_segment(header)
        if not isinstance(fields, dict):
            raise InvalidCode("malformed")
        if fields.get("alg") != "EdDSA":
            raise InvalidCode("algorithm not allowed")
        if "crit" in fields or "b64" in fields:
            raise InvalidCode("unsupported header")
        kid = fields.get("kid")
        key = self.keyring.public_keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise InvalidCode("unknown key")
        return kid, key

    def jwks(self) -> dict:
        """The JWKS of every accepted key, the signing key first."""
        return {"keys": [dict(jwk) for jwk in self._jwks]}


def _claims(payload, kid: str) -> CodeClaims:
    if not isinstance(payload, dict):
        raise InvalidCode("malformed claims")
    ticket_id, event_id, nonce = payload.get("t"), payload.get("e"), payload.get("n")
    if not (_is_id(ticket_id) and _is_id(event_id) and _is_nonce(nonce)):
        raise InvalidCode("malformed claims")
    return CodeClaims(ticket_id=ticket_id, event_id=event_id, nonce=nonce, kid=kid)


def init_app(app) -> TicketCodes:
    """Build the app's TicketCodes now (a bad key setting then stops the start, not a scan)."""
    return app.extensions.setdefault("ticket_codes", TicketCodes(load_keyring(app)))


def ticket_codes() -> TicketCodes:
    """The current app's TicketCodes, built once and kept in app.extensions."""
    app = current_app._get_current_object()
    codes = app.extensions.get("ticket_codes")
    return codes if codes is not None else init_app(app)


def code_for(ticket) -> str:
    """The signed code of a ticket (changes when its nonce does)."""
    return ticket_codes().sign(ticket_id=ticket.id, event_id=ticket.event_id, nonce=ticket.nonce)
