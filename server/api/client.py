"""Serves the built web client (`client/dist`) at `/`, with index.html for the client's routes."""
import os

from flask import Blueprint, abort, current_app, send_from_directory
from werkzeug.routing import PathConverter

client = Blueprint("client", __name__)

NOT_BUILT = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Ticksy</title></head>
<body><main><h1>Ticksy</h1><p>The API is running at <a href="/api/docs">/api/docs</a>.
The web client is not built: install Node.js 20 or newer and run <code>make client</code>
(or <code>make run</code>, which builds it when Node is available).</p></main></body></html>"""


class ClientPathConverter(PathConverter):
    """Any path outside `/api`: unknown API routes keep their JSON 404 and 405 answers."""

    regex = r"(?!api(?:/|$))[^/].*?"


def _dist() -> str:
    return current_app.config["CLIENT_DIST"]


def _index():
    index = os.path.join(_dist(), "index.html")
    if not os.path.isfile(index):
        return NOT_BUILT, 200, {"Content-Type": "text/html; charset=utf-8"}
    return send_from_directory(_dist(), "index.html", max_age=0)


@client.get("/")
def index():
    """The client's entry page."""
    return _index()


@client.get("/<client_path:path>")
def page_or_asset(path: str):
    """A built file when one exists (hashed assets are cached for a year), else the entry page."""
    if os.path.isfile(os.path.join(_dist(), path)):
        max_age = 31536000 if path.startswith("assets/") else 3600
        return send_from_directory(_dist(), path, max_age=max_age)
    if path.startswith("assets/") or os.path.splitext(path)[1]:
        abort(404)
    return _index()
