"""The Ed25519 keys that sign ticket codes, and the public keys that still verify them."""
import base64
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

DEV_KEY_FILENAME = "ticket-signing-key.pem"
KID_LENGTH = 16
MAX_KID_LENGTH = 64
B64URL = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True)
class KeyRing:
    """The signing key and its kid, plus every public key whose codes are still honoured."""

    kid: str
    private_key: Ed25519PrivateKey
    public_keys: dict[str, Ed25519PublicKey]


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515 §2)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without padding; ValueError on anything else."""
    text = text.strip().rstrip("=")
    if not B64URL.fullmatch(text):
        raise ValueError("not base64url")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def raw_public(key: Ed25519PublicKey) -> bytes:
    """The 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def thumbprint_kid(key: Ed25519PublicKey) -> str:
    """The RFC 7638 JWK thumbprint of the key, cut to its first 16 characters."""
    members = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": b64url(raw_public(key))},
                         separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(members.encode("ascii")).digest())[:KID_LENGTH]


def public_jwk(kid: str, key: Ed25519PublicKey) -> dict:
    """The public key as a JWK (RFC 8037) that any JOSE library can verify codes with."""
    return {"kty": "OKP", "crv": "Ed25519", "x": b64url(raw_public(key)), "kid": kid,
            "alg": "EdDSA", "use": "sig"}


def parse_private_key(text: str | bytes) -> Ed25519PrivateKey:
    """A PEM (PKCS#8) Ed25519 private key, or base64url of its raw 32-byte seed."""
    if isinstance(text, bytes):
        text = text.decode("ascii", errors="replace")
    # Environment files often carry a PEM on one line with literal "\n" escapes.
    text = text.strip().replace("\\n", "\n")
    if text.startswith("-----BEGIN"):
        try:
            key = serialization.load_pem_private_key(text.encode("ascii"), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError("not an unencrypted PKCS#8 PEM private key") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("the PEM key is not an Ed25519 key")
        return key
    try:
        seed = b64url_decode(text)
    except ValueError:
        raise ValueError("neither a PEM key nor base64url of a 32-byte seed") from None
    if len(seed) != 32:
        raise ValueError(f"a raw Ed25519 seed is 32 bytes, this one is {len(seed)}")
    return Ed25519PrivateKey.from_private_bytes(seed)


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """The key as an unencrypted PKCS#8 PEM."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def parse_verify_keys(text: str | None) -> dict[str, Ed25519PublicKey]:
    """The public keys of a JWKS JSON string `{"keys": [...]}`, by kid (thumbprint if none)."""
    if not text or not text.strip():
        return {}
    try:
        jwks = json.loads(text)
    except ValueError:
        raise ValueError("TICKET_VERIFY_KEYS is not JSON") from None
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list):
        raise ValueError('TICKET_VERIFY_KEYS must be a JWKS: {"keys": [...]}')
    keys: dict[str, Ed25519PublicKey] = {}
    for jwk in jwks["keys"]:
        kid, key = _parse_public_jwk(jwk)
        if kid in keys and raw_public(keys[kid]) != raw_public(key):
            raise ValueError(f"TICKET_VERIFY_KEYS lists two different keys as kid {kid!r}")
        keys[kid] = key
    return keys


def _parse_public_jwk(jwk) -> tuple[str, Ed25519PublicKey]:
    if not isinstance(jwk, dict) or jwk.get("kty") != "OKP" or jwk.get("crv") != "Ed25519":
        raise ValueError("TICKET_VERIFY_KEYS holds only OKP Ed25519 keys")
    if "d" in jwk:
        raise ValueError("TICKET_VERIFY_KEYS must hold public keys only (drop \"d\")")
    if jwk.get("alg", "EdDSA") != "EdDSA" or jwk.get("use", "sig") != "sig":
        raise ValueError("TICKET_VERIFY_KEYS keys must be for EdDSA signatures")
    try:
        raw = b64url_decode(jwk["x"]) if isinstance(jwk.get("x"), str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ValueError("a TICKET_VERIFY_KEYS key has no valid 32-byte \"x\"")
    key = Ed25519PublicKey.from_public_bytes(raw)
    kid = jwk.get("kid", thumbprint_kid(key))
    return _checked_kid(kid, "a TICKET_VERIFY_KEYS kid"), key


def _checked_kid(kid, what: str) -> str:
    if not isinstance(kid, str) or not kid or len(kid) > MAX_KID_LENGTH or not kid.isprintable():
        raise ValueError(f"{what} must be a printable string of 1 to {MAX_KID_LENGTH} characters")
    return kid


def _configured_private_key(config) -> Ed25519PrivateKey | None:
    inline, path = config.get("TICKET_SIGNING_KEY"), config.get("TICKET_SIGNING_KEY_FILE")
    if inline and path:
        raise RuntimeError("Set TICKET_SIGNING_KEY or TICKET_SIGNING_KEY_FILE, not both")
    try:
        if inline:
            return parse_private_key(inline)
        if path:
            with open(path, "rb") as handle:
                return parse_private_key(handle.read())
    except (OSError, ValueError) as error:
        name = "TICKET_SIGNING_KEY" if inline else "TICKET_SIGNING_KEY_FILE"
        raise RuntimeError(f"{name} is unusable: {error}") from None
    return None


def development_key(instance_path: str) -> Ed25519PrivateKey:
    """The key in `<instance>/ticket-signing-key.pem`, generated (mode 0600) on first use."""
    path = os.path.join(instance_path, DEV_KEY_FILENAME)
    if not os.path.exists(path):
        os.makedirs(instance_path, exist_ok=True)
        _create_key_file(path)
    try:
        with open(path, "rb") as handle:
            return parse_private_key(handle.read())
    except ValueError as error:
        raise RuntimeError(f"{path} is not a usable ticket signing key: {error}") from None


def _create_key_file(path: str) -> None:
    # Written aside, then linked into place: two processes starting together (the reloader)
    # both end up with whichever complete file won, never a half-written one.
    descriptor, temporary = tempfile.mkstemp(dir=os.path.dirname(path), suffix=".tmp")  # 0600
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(private_pem(Ed25519PrivateKey.generate()))
        os.link(temporary, path)
    except FileExistsError:
        pass
    finally:
        os.unlink(temporary)


def _signing_key(app) -> Ed25519PrivateKey:
    key = _configured_private_key(app.config)
    if key is not None:
        return key
    if app.testing:
        return Ed25519PrivateKey.generate()
    if app.config.get("ENV_NAME") == "production":
        raise RuntimeError("Production needs TICKET_SIGNING_KEY or TICKET_SIGNING_KEY_FILE")
    return development_key(app.instance_path)


def load_keyring(app) -> KeyRing:
    """The app's key ring from its configuration (see config.py for the settings)."""
    private_key = _signing_key(app)
    public_key = private_key.public_key()
    try:
        configured_kid = app.config.get("TICKET_KEY_ID")
        kid = _checked_kid(configured_kid, "TICKET_KEY_ID") if configured_kid else \
            thumbprint_kid(public_key)
        public_keys = parse_verify_keys(app.config.get("TICKET_VERIFY_KEYS"))
    except ValueError as error:
        raise RuntimeError(str(error)) from None
    if kid in public_keys and raw_public(public_keys[kid]) != raw_public(public_key):
        raise RuntimeError(f"TICKET_VERIFY_KEYS lists another key under the signing kid {kid!r}")
    # The current key first: it is the one published first in the JWKS.
    public_keys.pop(kid, None)
    return KeyRing(kid=kid, private_key=private_key, public_keys={kid: public_key, **public_keys})
