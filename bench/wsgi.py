"""The WSGI entry the benchmark serves: the real application plus two ceiling routes.

`gunicorn bench.wsgi:app` serves exactly what `gunicorn server.run.wsgi:app` serves (same factory, same
production settings), with two extra routes that exist only here, never in the app itself:

- `GET /bench/hello`: a Flask route returning a small JSON body. It goes through the same Flask
  request machinery, extensions (CORS) and server settings as every API route, so it is the
  ceiling that `GET /api/events` is compared against.
- `GET /bench/raw`: a bare WSGI callable in front of Flask (no routing, no Flask), for information:
  how fast gunicorn itself answers on this machine.
"""
from flask import jsonify

from server.run.wsgi import app as flask_app

_RAW_BODY = b'{"hello":"world"}'
_RAW_HEADERS = [("Content-Type", "application/json"), ("Content-Length", str(len(_RAW_BODY)))]


@flask_app.get("/bench/hello")
def bench_hello():
    """Hello world through Flask: the ceiling for the API routes."""
    return jsonify(hello="world")


def app(environ, start_response):
    """Answer /bench/raw before Flask; hand everything else to the real application."""
    if environ.get("PATH_INFO") == "/bench/raw":
        start_response("200 OK", list(_RAW_HEADERS))
        return [_RAW_BODY]
    return flask_app(environ, start_response)
