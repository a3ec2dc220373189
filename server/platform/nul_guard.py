"""Refuse the NUL character (U+0000) anywhere in a request, before any view runs.

PostgreSQL text cannot hold NUL (the driver raises on it), so a string carrying one would end
as a 500 deep in a service, or as a lookup that fails the same way. No field of the API has a
use for it: a NUL in the JSON body, the query string, the path or a header is a 422
`validation_error` naming where it was found.
"""
import json

from flask import Flask, request

from server.platform.errors import ValidationError

NUL = "\x00"
MESSAGE = "Must not contain the NUL character (U+0000)."


def holds_nul(value) -> bool:
    """True when a string anywhere in a parsed JSON value (keys included) holds NUL."""
    stack = [value]
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                return True
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def _body_fields() -> dict:
    """Top-level body fields holding NUL (JSON spells it `\\u0000`, so most bodies skip parsing)."""
    if not request.is_json:
        return {}
    raw = request.get_data(cache=True)
    if b"\\u0000" not in raw:
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        return {}  # malformed or too deep: the schema layer and the JSON guard answer
    if not isinstance(body, dict):
        return {"_schema": [MESSAGE]} if holds_nul(body) else {}
    return {("_schema" if NUL in key else key): [MESSAGE]
            for key, value in body.items() if NUL in key or holds_nul(value)}


def may_hold_nul(environ: dict) -> bool:
    """False when neither the path, the raw query string nor any header can hold NUL (the
    common case, told from the WSGI environ's strings without parsing any of them)."""
    query = environ.get("QUERY_STRING", "")
    if NUL in environ.get("PATH_INFO", "") or NUL in query or "%00" in query:
        return True
    return any(NUL in value for name, value in environ.items()
               if isinstance(value, str) and (name.startswith("HTTP_") or name.startswith("CONTENT_")))


def _url_and_header_fields() -> dict:
    if not may_hold_nul(request.environ):
        return {}
    fields = {}
    if NUL in request.path:
        fields["_path"] = [MESSAGE]
    for name, values in request.args.lists():
        if NUL in name or any(NUL in value for value in values):
            fields["_query" if NUL in name else name] = [MESSAGE]
    for name, value in request.headers.items():
        if NUL in value:
            fields[name] = [MESSAGE]
    return fields


def refuse_nul() -> None:
    """422 when the request carries NUL in its body, query string, path or headers."""
    fields = {**_url_and_header_fields(), **_body_fields()}
    if fields:
        raise ValidationError(fields=fields)


def init_app(app: Flask) -> None:
    app.before_request(refuse_nul)
