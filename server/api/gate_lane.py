"""The gate's lane: a well-formed scan (`POST /api/checkin`) answered in front of Flask.

A gate sends one request per ticket, and a scan's own work is small: a signature check and one
statement. Flask's request context and routing, the hooks every route runs and the webargs and
marshmallow wrappers of the view cost more CPU than that work (bench/README.md, "Check-in").
The lane is a WSGI layer in front of Flask that answers the common scan itself:

- a `POST /api/checkin` with an `application/json` body of at most MAX_BODY bytes, no NUL in
  the body or a header, no `Origin` (cross-origin requests get their CORS headers from Flask),
  a bearer access token whose signature and expiry check out, and a body the view's own schema
  (`CheckinIn`) accepts;
- it then does what the view does, with the same functions: the per-device rate limit,
  `gate.check_in`, the response schema, the error envelope and its handlers, the security
  headers, the request id and the request's log line.

Every other request, including a scan with a missing or bad token or an invalid body, goes on to
Flask untouched (its body restored) and is answered as on any other route. Nothing the lane does
before deciding has a side effect. tests/test_checkin_lane.py holds both paths to the same answers.
"""
import io
import json

from flask import Flask

from server.platform.errors import error_response_for
from server.platform.hardening import add_security_headers
from server.platform.logs import (REQUEST_ID_HEADER, begin_request, current_request, end_request,
                         log_request)
from server.platform.nul_guard import holds_nul, may_hold_nul
from server.platform.ratelimits import scan_key, take_scan
from server.schemas.gate import CheckinIn, CheckinOut
from server.platform.security import bearer_token, verified_access_claims
from server.services import gate

PATH = "/api/checkin"
MAX_BODY = 4096  # a code is at most 512 characters; a larger body is Flask's to answer


def _candidate(environ: dict) -> bool:
    """True for a scan the lane may answer, told from the environ alone."""
    if (environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST"
            or "HTTP_ORIGIN" in environ):
        return False
    media_type = environ.get("CONTENT_TYPE", "").partition(";")[0].strip().lower()
    length = environ.get("CONTENT_LENGTH", "")
    return (media_type == "application/json" and length.isdigit() and int(length) <= MAX_BODY
            and not may_hold_nul(environ))


class CheckinLane:
    """The WSGI layer: `app.wsgi_app = CheckinLane(app, app.wsgi_app)`."""

    def __init__(self, app: Flask, wsgi_app) -> None:
        self.app, self.next = app, wsgi_app
        self.body_schema, self.out_schema = CheckinIn(), CheckinOut()

    def __call__(self, environ: dict, start_response):
        if not _candidate(environ):
            return self.next(environ, start_response)
        body = environ["wsgi.input"].read(int(environ["CONTENT_LENGTH"]))
        with self.app.app_context():
            scan = self._scan(environ, body)
            response = None if scan is None else self._answer(environ, *scan)
        if response is None:
            environ["wsgi.input"] = io.BytesIO(body)
            return self.next(environ, start_response)
        return response(environ, start_response)

    def _scan(self, environ: dict, body: bytes) -> tuple[dict, dict] | None:
        """(token claims, validated body), or None for a request Flask is to answer."""
        token = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if token is None:
            return None
        try:
            data = json.loads(body)
            if holds_nul(data):
                return None
            return verified_access_claims(token), self.body_schema.load(data)
        except Exception:  # noqa: BLE001  (any refusal, in Flask's words: 400, 401 or 422)
            return None

    def _answer(self, environ: dict, claims: dict, data: dict):
        """The view's answer to a scan, with every route's headers and log line."""
        token = begin_request(environ.get("HTTP_X_REQUEST_ID", ""), environ.get("REMOTE_ADDR"))
        try:
            start_periodic_jobs = self.app.extensions.get("periodic_jobs_start")
            if start_periodic_jobs is not None:
                start_periodic_jobs()
            scanner, device_id = claims["sub"], data.get("device_id")
            try:
                take_scan(scan_key(scanner, device_id))
                result = gate.check_in(code=data["code"], scanner_id=int(scanner),
                                       token_id=claims["jti"], device_id=device_id)
                response = self.app.json.response(self.out_schema.dump(result))
            except Exception as err:  # noqa: BLE001  (answered as Flask's handlers answer it)
                response, status = error_response_for(err)
                response.status_code = status
            info = current_request()
            response.headers[REQUEST_ID_HEADER] = info.request_id
            add_security_headers(response, PATH)
            log_request(info, "POST", PATH, response.status_code, int(scanner))
            return response
        finally:
            end_request(token)
