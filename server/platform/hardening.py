"""Abuse resistance around every request: proxies, JSON shape, security headers, bcrypt slots.

- Behind `TRUSTED_PROXY_HOPS` reverse proxies, werkzeug's ProxyFix takes the client's address
  and scheme from that many X-Forwarded-For/-Proto entries, so rate limits, MPESA_ALLOWED_IPS
  and the logs see the real client; with 0 (the default) those headers are ignored.
- JSON bodies nested deeper than JSON_MAX_DEPTH are 400 and arrays longer than
  JSON_MAX_ARRAY_ITEMS are 422, before any schema runs (MAX_CONTENT_LENGTH bounds the bytes).
- Every response carries the security headers; HSTS only when HSTS_SECONDS is set.
- bcrypt work is capped at BCRYPT_MAX_CONCURRENT hashes at once on the host, across every worker
  process (BCRYPT_SLOTS_DIR; platform/passwords.py).
"""
import base64
import hashlib
import json
import re

from flask import Flask, Response, current_app, request
from werkzeug.middleware.proxy_fix import ProxyFix

from server.platform.errors import AppError, ValidationError
from server.platform.host_slots import HostSlots

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


class BodyTooDeep(AppError):
    status, code = 400, "bad_request"


def _too_deep_or_long(value, max_depth: int, max_items: int) -> str | None:
    """"depth" or "items" when `value` breaks a bound, else None (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            return "depth"
        if isinstance(node, list) and len(node) > max_items:
            return "items"
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return None


def _guard_json_shape() -> None:
    """Refuse deeply nested JSON and huge arrays before webargs/marshmallow see them.

    Counting brackets and commas in the raw bytes (C speed) proves most bodies within bounds
    without parsing them: fewer brackets than the depth bound, fewer commas than the item bound.
    """
    if request.method not in BODY_METHODS or not request.is_json:
        return
    config = current_app.config
    max_depth, max_items = config["JSON_MAX_DEPTH"], config["JSON_MAX_ARRAY_ITEMS"]
    raw = request.get_data(cache=True)  # 413 beyond MAX_CONTENT_LENGTH
    if raw.count(b"[") + raw.count(b"{") <= max_depth and raw.count(b",") < max_items:
        return
    try:
        problem = _too_deep_or_long(json.loads(raw), max_depth, max_items)
    except RecursionError:
        problem = "depth"
    except ValueError:
        return  # malformed: the schema layer answers 400 bad_request
    if problem == "depth":
        raise BodyTooDeep(f"The JSON body is nested more than {max_depth} levels deep.")
    if problem == "items":
        raise ValidationError(fields={"_schema": [
            f"Lists in the request body may hold at most {max_items} items."]})


def _script_hashes(response: Response) -> str:
    """CSP sources for the inline scripts of an HTML page (the Swagger UI page has one)."""
    page = response.get_data(as_text=True)
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode() + "'"
        for script in INLINE_SCRIPT.findall(page))


def _content_security_policy(response: Response, path: str) -> str:
    policy = current_app.config["CONTENT_SECURITY_POLICY"]
    if path == current_app.config["DOCS_PATH"] and response.mimetype == "text/html":
        # Swagger UI: its one inline script by hash, and the inline styles it draws with.
        policy = policy.replace("script-src 'self'", f"script-src 'self' {_script_hashes(response)}")
        policy = policy.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")
    return policy


def add_security_headers(response: Response, path: str) -> Response:
    """The security headers a response to `path` has not set itself."""
    headers, config = response.headers, current_app.config
    present = {name.lower() for name in headers.keys()}
    for name, value in config["SECURITY_HEADERS"]:
        if name.lower() not in present:
            headers.add(name, value)
    if "content-security-policy" not in present and config["CONTENT_SECURITY_POLICY"]:
        headers.add("Content-Security-Policy", _content_security_policy(response, path))
    return response


def _security_headers(response: Response) -> Response:
    return add_security_headers(response, request.path)


def init_app(app: Flask) -> None:
    """Install the proxy fix, the JSON guard, the security headers and the bcrypt slots."""
    config = app.config
    hops = config["TRUSTED_PROXY_HOPS"]
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)
    headers = [("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
               ("Referrer-Policy", "no-referrer"), ("Cross-Origin-Opener-Policy", "same-origin")]
    if config["HSTS_SECONDS"] > 0:
        headers.append(("Strict-Transport-Security", f"max-age={config['HSTS_SECONDS']}"))
    config["SECURITY_HEADERS"] = tuple(headers)
    config["DOCS_PATH"] = f"{config['OPENAPI_URL_PREFIX']}/{config['OPENAPI_SWAGGER_UI_PATH']}"
    app.before_request(_guard_json_shape)
    app.after_request(_security_headers)
    app.extensions["bcrypt_slots"] = HostSlots(config["BCRYPT_SLOTS_DIR"],
                                               config["BCRYPT_MAX_CONCURRENT"])
