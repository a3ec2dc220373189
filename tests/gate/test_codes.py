"""Ticket codes: compact EdDSA JWS that verify offline and refuse every forgery."""
import base64
import hashlib
import hmac
import json
import os
import stat
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import jwt
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask

import config as settings
from server.codes.signing import CodeClaims, InvalidCode, TicketCodes, code_for, ticket_codes
from server.codes.keys import (DEV_KEY_FILENAME, development_key, load_keyring, private_pem,
                              public_jwk)
from tests.test_config import PRODUCTION_ENV

pytestmark = pytest.mark.own_app

TICKET = {"ticket_id": 1234567, "event_id": 98765, "nonce": "0123456789abcdef"}
KEY_SETTINGS = ("TICKET_SIGNING_KEY", "TICKET_SIGNING_KEY_FILE", "TICKET_KEY_ID",
                "TICKET_VERIFY_KEYS")
# RFC 8037 appendix A: an Ed25519 key, its public "x" and its RFC 7638 thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def make_app(*, testing=True, instance_path=None, **config) -> Flask:
    app = Flask(__name__, instance_path=instance_path)
    app.testing = testing
    app.config.update(config)
    return app


def make_codes(**config) -> TicketCodes:
    return TicketCodes(load_keyring(make_app(**config)))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def segment(value) -> str:
    return b64(json.dumps(value, separators=(",", ":")).encode())


def forge(header, payload, key: Ed25519PrivateKey) -> str:
    """A compact JWS built by hand, Ed25519-signed with `key`."""
    signing_input = f"{segment(header)}.{segment(payload)}"
    return f"{signing_input}.{b64(key.sign(signing_input.encode()))}"


def seed(key: Ed25519PrivateKey) -> str:
    return b64(key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                 serialization.NoEncryption()))


@pytest.fixture
def codes() -> TicketCodes:
    return make_codes()


@pytest.fixture
def code(codes) -> str:
    return codes.sign(**TICKET)


# --- round trip ----------------------------------------------------------------------------

def test_a_signed_code_verifies_to_its_claims(codes, code):
    assert codes.verify(code) == CodeClaims(kid=codes.keyring.kid, **TICKET)


def test_the_code_is_a_short_compact_jws_with_only_alg_and_kid(codes, code, record_property):
    header, payload, signature = code.split(".")
    assert json.loads(unb64(header)) == {"alg": "EdDSA", "kid": codes.keyring.kid}
    assert json.loads(unb64(payload)) == {"t": 1234567, "e": 98765, "n": "0123456789abcdef"}
    assert len(unb64(signature)) == 64
    record_property("code_length", len(code))
    print(f"\nticket code for ticket 1234567 / event 98765: {len(code)} characters")
    # 54 (header, 16-char kid) + 62 (claims) + 86 (signature) + 2 dots.
    assert len(code) == 204


def test_pyjwt_verifies_a_code_from_the_published_jwk(codes, code):
    jwk = jwt.PyJWK(codes.jwks()["keys"][0])
    payload = jwt.api_jws.decode(code, key=jwk, algorithms=["EdDSA"])
    assert json.loads(payload) == {"t": 1234567, "e": 98765, "n": "0123456789abcdef"}


def test_a_code_verifies_from_the_jwks_alone(codes, code):
    header, payload, signature = code.split(".")
    kid = json.loads(unb64(header))["kid"]
    jwk = next(key for key in codes.jwks()["keys"] if key["kid"] == kid)
    public_key = Ed25519PublicKey.from_public_bytes(unb64(jwk["x"]))
    public_key.verify(unb64(signature), f"{header}.{payload}".encode())
    with pytest.raises(InvalidSignature):
        public_key.verify(unb64(signature), f"{header}.{payload}x".encode())


def test_sign_refuses_claims_that_verify_would_refuse(codes):
    for bad in ({"ticket_id": 0}, {"event_id": -1}, {"ticket_id": "7"}, {"ticket_id": True},
                {"nonce": ""}, {"nonce": "n" * 65}, {"nonce": 12}):
        with pytest.raises(ValueError):
            codes.sign(**{**TICKET, **bad})


# --- forgeries and damage ------------------------------------------------------------------

def test_a_tampered_payload_is_refused(codes, code):
    header, _, signature = code.split(".")
    other = segment({"t": 1234568, "e": 98765, "n": "0123456789abcdef"})
    with pytest.raises(InvalidCode, match="bad signature"):
        codes.verify(f"{header}.{other}.{signature}")


def test_a_tampered_signature_is_refused(codes, code):
    raw = bytearray(unb64(code.rsplit(".", 1)[1]))
    raw[10] ^= 1
    with pytest.raises(InvalidCode, match="bad signature"):
        codes.verify(f"{code.rsplit('.', 1)[0]}.{b64(bytes(raw))}")


def test_another_spelling_of_the_same_signature_is_refused(codes, code):
    # 64 bytes fill 86 characters with 4 spare bits: flipping one gives the same bytes.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = code[:-1] + alphabet[alphabet.index(code[-1]) ^ 1]
    assert unb64(twin.rsplit(".", 1)[1]) == unb64(code.rsplit(".", 1)[1])
    with pytest.raises(InvalidCode):
        codes.verify(twin)


def test_a_header_naming_another_accepted_key_is_refused():
    old = make_codes()
    codes = make_codes(TICKET_VERIFY_KEYS=json.dumps(old.jwks()))
    code = codes.sign(**TICKET)
    _, payload, signature = code.split(".")
    swapped = segment({"alg": "EdDSA", "kid": old.keyring.kid})
    with pytest.raises(InvalidCode, match="bad signature"):
        codes.verify(f"{swapped}.{payload}.{signature}")


def test_a_header_naming_an_unknown_key_is_refused(codes, code):
    _, payload, signature = code.split(".")
    unknown = segment({"alg": "EdDSA", "kid": "nobody"})
    with pytest.raises(InvalidCode, match="unknown key"):
        codes.verify(f"{unknown}.{payload}.{signature}")


@pytest.mark.parametrize("damage", [
    lambda code: code[:-1],                          # truncated signature
    lambda code: code[: len(code) // 2],             # truncated mid-payload
    lambda code: code.rsplit(".", 1)[0],             # no signature
    lambda code: code.rsplit(".", 1)[0] + ".",       # empty signature
    lambda code: code + ".AAAA",                     # extra segment
    lambda code: code + "\n",                        # trailing newline
    lambda code: " " + code,                         # leading space
    lambda code: code.replace(".", "..", 1),         # empty segment
    lambda code: code.replace("e", "é", 1),          # non-ASCII inside
    lambda code: "",
    lambda code: "...",
    lambda code: "🎟️ ticket ✓",
    lambda code: "\x00" * 40,
    lambda code: "a" * 513,                          # longer than any code
], ids=["truncated", "half", "two-segments", "empty-signature", "extra-segment", "newline",
        "space", "empty-segment", "accent", "empty", "dots", "emoji", "nul", "too-long"])
def test_damaged_or_garbage_codes_are_refused(codes, code, damage):
    with pytest.raises(InvalidCode):
        codes.verify(damage(code))


@pytest.mark.parametrize("value", [None, 1234567, b"eyJ.eyJ.sig", ["a", "b", "c"]])
def test_anything_but_a_string_is_refused(codes, value):
    with pytest.raises(InvalidCode, match="not a string"):
        codes.verify(value)


def test_a_code_signed_by_another_key_with_the_same_kid_is_refused():
    genuine, impostor = make_codes(TICKET_KEY_ID="gate-1"), make_codes(TICKET_KEY_ID="gate-1")
    forged = impostor.sign(**TICKET)
    assert forged.split(".")[:2] == genuine.sign(**TICKET).split(".")[:2]
    with pytest.raises(InvalidCode, match="bad signature"):
        genuine.verify(forged)


def test_alg_none_is_refused(codes):
    header = segment({"alg": "none", "kid": codes.keyring.kid})
    payload = segment({"t": 1, "e": 1, "n": "0123456789abcdef"})
    for signature in ("", "A" * 86):
        with pytest.raises(InvalidCode):
            codes.verify(f"{header}.{payload}.{signature}")
    with pytest.raises(InvalidCode, match="algorithm not allowed"):
        codes.verify(f"{header}.{payload}.{'A' * 86}")


def test_hs256_keyed_with_the_public_key_is_refused(codes):
    jwk = codes.jwks()["keys"][0]
    header = segment({"alg": "HS256", "kid": codes.keyring.kid})
    payload = segment({"t": 1, "e": 1, "n": "0123456789abcdef"})
    for secret in (jwk["x"].encode(), unb64(jwk["x"]), json.dumps(jwk).encode()):
        mac = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        with pytest.raises(InvalidCode):
            codes.verify(f"{header}.{payload}.{b64(mac)}")
        with pytest.raises(InvalidCode, match="algorithm not allowed"):
            codes.verify(f"{header}.{payload}.{b64(mac + mac)}")   # 64 bytes, like EdDSA


def test_critical_header_extensions_are_refused(codes):
    header = {"alg": "EdDSA", "kid": codes.keyring.kid, "crit": ["exp"], "exp": 1}
    with pytest.raises(InvalidCode, match="unsupported header"):
        codes.verify(forge(header, {"t": 1, "e": 1, "n": "n"}, codes.keyring.private_key))


def test_a_header_spelled_by_another_library_is_accepted(codes):
    header = {"typ": "JWT", "kid": codes.keyring.kid, "alg": "EdDSA"}
    claims = codes.verify(forge(header, {"n": "abc", "e": 2, "t": 1}, codes.keyring.private_key))
    assert (claims.ticket_id, claims.event_id, claims.nonce) == (1, 2, "abc")


@pytest.mark.parametrize("payload", [
    {"e": 1, "n": "abc"}, {"t": 1, "n": "abc"}, {"t": 1, "e": 1},
    {"t": "1", "e": 1, "n": "abc"}, {"t": 0, "e": 1, "n": "abc"}, {"t": 1, "e": -5, "n": "abc"},
    {"t": True, "e": 1, "n": "abc"}, {"t": 1.0, "e": 1, "n": "abc"}, {"t": 1, "e": 1, "n": 7},
    {"t": 1, "e": 1, "n": ""}, {"t": 1, "e": 1, "n": "x" * 65}, {"t": 1, "e": 1, "n": None},
    [1, 1, "abc"], "t=1", None,
])
def test_genuinely_signed_but_malformed_claims_are_refused(codes, payload):
    header = {"alg": "EdDSA", "kid": codes.keyring.kid}
    with pytest.raises(InvalidCode, match="malformed claims"):
        codes.verify(forge(header, payload, codes.keyring.private_key))


def test_a_payload_that_is_not_json_is_refused(codes):
    not_json = b64(b"\xff{")
    signing_input = f"{segment({'alg': 'EdDSA', 'kid': codes.keyring.kid})}.{not_json}"
    code = f"{signing_input}.{b64(codes.keyring.private_key.sign(signing_input.encode()))}"
    with pytest.raises(InvalidCode, match="malformed claims"):
        codes.verify(code)


# --- key rotation and the JWKS -------------------------------------------------------------

def test_rotation_honours_old_codes_while_their_key_is_listed():
    old = make_codes()
    old_code = old.sign(**TICKET)
    old_public = json.dumps(old.jwks())
    rotated = make_codes(TICKET_VERIFY_KEYS=old_public)
    assert rotated.keyring.kid != old.keyring.kid
    assert rotated.verify(old_code) == CodeClaims(kid=old.keyring.kid, **TICKET)
    assert rotated.verify(rotated.sign(**TICKET)).kid == rotated.keyring.kid
    assert [key["kid"] for key in rotated.jwks()["keys"]] == [rotated.keyring.kid,
                                                              old.keyring.kid]
    retired = make_codes(TICKET_SIGNING_KEY=seed(rotated.keyring.private_key))
    assert retired.keyring.kid == rotated.keyring.kid
    with pytest.raises(InvalidCode, match="unknown key"):
        retired.verify(old_code)


def test_a_verify_key_without_kid_gets_its_thumbprint():
    codes = make_codes(TICKET_VERIFY_KEYS=json.dumps(
        {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}]}))
    assert RFC8037_THUMBPRINT[:16] in codes.keyring.public_keys


def test_the_jwks_has_exactly_the_published_shape(codes):
    jwks = codes.jwks()
    assert list(jwks) == ["keys"] and len(jwks["keys"]) == 1
    key = jwks["keys"][0]
    assert key == {"kty": "OKP", "crv": "Ed25519", "x": key["x"], "kid": codes.keyring.kid,
                   "alg": "EdDSA", "use": "sig"}
    assert len(unb64(key["x"])) == 32 and "d" not in key
    json.dumps(jwks)
    jwks["keys"][0]["kid"] = "mutated"
    assert codes.jwks()["keys"][0]["kid"] == codes.keyring.kid


def test_public_jwk_follows_rfc_8037():
    key = Ed25519PrivateKey.from_private_bytes(unb64(RFC8037_D)).public_key()
    assert public_jwk("k", key) == {"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": "k",
                                    "alg": "EdDSA", "use": "sig"}


@pytest.mark.parametrize("verify_keys", [
    "not json", "[]", '{"keys": {}}', '{"keys": [{"kty": "RSA", "n": "x", "e": "AQAB"}]}',
    json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "short"}]}),
    json.dumps({"keys": [{"kty": "OKP", "crv": "X25519", "x": RFC8037_X}]}),
    json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "d": RFC8037_D}]}),
    json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X, "kid": ""}]}),
])
def test_unusable_verify_keys_stop_the_start(verify_keys):
    with pytest.raises(RuntimeError, match="TICKET_VERIFY_KEYS"):
        make_codes(TICKET_VERIFY_KEYS=verify_keys)


def test_another_key_under_the_signing_kid_stops_the_start():
    listed = json.dumps({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X,
                                   "kid": "gate-1"}]})
    with pytest.raises(RuntimeError, match="signing kid"):
        make_codes(TICKET_KEY_ID="gate-1", TICKET_VERIFY_KEYS=listed)


# --- loading the signing key ---------------------------------------------------------------

def test_the_default_kid_is_the_rfc_7638_thumbprint():
    codes = make_codes(TICKET_SIGNING_KEY=RFC8037_D)
    assert codes.keyring.kid == RFC8037_THUMBPRINT[:16]
    assert codes.jwks()["keys"][0]["x"] == RFC8037_X


def test_ticket_key_id_names_the_key():
    codes = make_codes(TICKET_SIGNING_KEY=RFC8037_D, TICKET_KEY_ID="2025-gate")
    assert codes.verify(codes.sign(**TICKET)).kid == "2025-gate"


def test_pem_raw_seed_and_key_file_load_the_same_key(tmp_path):
    key = Ed25519PrivateKey.generate()
    pem = private_pem(key).decode()
    key_file = tmp_path / "ticket.pem"
    key_file.write_text(pem)
    kids = {make_codes(TICKET_SIGNING_KEY=pem).keyring.kid,
            make_codes(TICKET_SIGNING_KEY=pem.replace("\n", "\\n")).keyring.kid,  # one-line .env
            make_codes(TICKET_SIGNING_KEY=seed(key)).keyring.kid,
            make_codes(TICKET_SIGNING_KEY=seed(key) + "=").keyring.kid,
            make_codes(TICKET_SIGNING_KEY_FILE=str(key_file)).keyring.kid}
    assert len(kids) == 1
    code = make_codes(TICKET_SIGNING_KEY=pem).sign(**TICKET)
    assert make_codes(TICKET_SIGNING_KEY=seed(key)).verify(code).ticket_id == 1234567


@pytest.mark.parametrize("setting, message", [
    ({"TICKET_SIGNING_KEY": "c2hvcnQ"}, "32 bytes"),
    ({"TICKET_SIGNING_KEY": "not a key at all!"}, "TICKET_SIGNING_KEY is unusable"),
    ({"TICKET_SIGNING_KEY": "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----"},
     "PEM"),
    ({"TICKET_SIGNING_KEY_FILE": "/nonexistent/ticket.pem"}, "TICKET_SIGNING_KEY_FILE is unusable"),
    ({"TICKET_SIGNING_KEY": RFC8037_D, "TICKET_SIGNING_KEY_FILE": "/nope"}, "not both"),
    ({"TICKET_SIGNING_KEY": RFC8037_D, "TICKET_KEY_ID": "x" * 65}, "TICKET_KEY_ID"),
])
def test_unusable_key_settings_stop_the_start(setting, message):
    with pytest.raises(RuntimeError, match=message):
        make_codes(**setting)


def test_a_pem_of_another_key_type_is_refused():
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    with pytest.raises(RuntimeError, match="not an Ed25519 key"):
        make_codes(TICKET_SIGNING_KEY=pem)


def test_testing_apps_get_a_fresh_key_each():
    assert make_codes().keyring.kid != make_codes().keyring.kid


def test_development_generates_its_key_once_and_reuses_it(tmp_path):
    instance = tmp_path / "instance" / "nested"
    first = make_codes(testing=False, instance_path=str(instance))
    key_file = instance / DEV_KEY_FILENAME
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    content = key_file.read_bytes()
    second = make_codes(testing=False, instance_path=str(instance))
    assert second.keyring.kid == first.keyring.kid
    assert key_file.read_bytes() == content
    assert second.verify(first.sign(**TICKET)).ticket_id == 1234567
    assert sorted(os.listdir(instance)) == [DEV_KEY_FILENAME]


def test_processes_starting_together_share_one_development_key(tmp_path):
    with ThreadPoolExecutor(max_workers=8) as pool:
        keys = list(pool.map(lambda _: development_key(str(tmp_path)), range(16)))
    assert len({seed(key) for key in keys}) == 1
    assert os.listdir(tmp_path) == [DEV_KEY_FILENAME]


def test_a_configured_key_wins_over_the_development_file(tmp_path):
    codes = make_codes(testing=False, instance_path=str(tmp_path), TICKET_SIGNING_KEY=RFC8037_D)
    assert codes.keyring.kid == RFC8037_THUMBPRINT[:16]
    assert not (tmp_path / DEV_KEY_FILENAME).exists()


def test_a_production_app_never_makes_up_a_key(tmp_path):
    with pytest.raises(RuntimeError, match="TICKET_SIGNING_KEY"):
        make_codes(testing=False, instance_path=str(tmp_path), ENV_NAME="production")
    assert not (tmp_path / DEV_KEY_FILENAME).exists()


@pytest.fixture
def production_env(monkeypatch):
    """A complete production environment except for the ticket key settings."""
    for name in KEY_SETTINGS + ("MPESA_ENV", "TICKSY_ENV"):
        monkeypatch.delenv(name, raising=False)
    for name, value in PRODUCTION_ENV.items():
        if name not in KEY_SETTINGS:
            monkeypatch.setenv(name, value)
    return monkeypatch


def test_production_refuses_to_start_without_a_ticket_key(production_env):
    with pytest.raises(RuntimeError) as raised:
        settings.ProductionConfig().validate()
    assert "TICKET_SIGNING_KEY" in str(raised.value)
    assert "TICKET_SIGNING_KEY_FILE" in str(raised.value)


@pytest.mark.parametrize("name, value", [("TICKET_SIGNING_KEY", RFC8037_D),
                                         ("TICKET_SIGNING_KEY_FILE", "/run/secrets/ticket.pem")])
def test_production_accepts_either_ticket_key_setting(production_env, name, value):
    production_env.setenv(name, value)
    config = settings.ProductionConfig()
    assert getattr(config, name) == value
    try:
        config.validate()
    except RuntimeError as error:   # another setting this test does not know about
        assert "TICKET_SIGNING_KEY" not in str(error)


def test_the_testing_config_ignores_a_developer_key(monkeypatch):
    monkeypatch.setenv("TICKET_SIGNING_KEY", RFC8037_D)
    config = settings.TestingConfig()
    assert config.TICKET_SIGNING_KEY is None and config.TICKET_VERIFY_KEYS is None


# --- the app's instance ----------------------------------------------------------------------

def test_ticket_codes_are_built_once_per_app():
    app = make_app()
    with app.app_context():
        codes = ticket_codes()
        assert ticket_codes() is codes and app.extensions["ticket_codes"] is codes
        ticket = SimpleNamespace(id=7, event_id=3, nonce="ffff0000ffff0000")
        assert codes.verify(code_for(ticket)) == CodeClaims(7, 3, "ffff0000ffff0000",
                                                            codes.keyring.kid)
    with make_app().app_context():
        assert ticket_codes() is not codes


def test_a_new_nonce_gives_a_new_code(codes):
    first = codes.sign(**TICKET)
    second = codes.sign(**{**TICKET, "nonce": "fedcba9876543210"})
    assert first != second and codes.verify(second).nonce == "fedcba9876543210"
