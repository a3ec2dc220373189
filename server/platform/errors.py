"""The AppError hierarchy and the single handler that renders every error as the API envelope."""
import logging

from flask import Flask, jsonify
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    408: "request_timeout",
    409: "conflict",
    410: "gone",
    411: "length_required",
    412: "precondition_failed",
    413: "payload_too_large",
    414: "uri_too_long",
    415: "unsupported_media_type",
    416: "range_not_satisfiable",
    417: "expectation_failed",
    418: "im_a_teapot",
    421: "misdirected_request",
    422: "validation_error",
    423: "locked",
    424: "failed_dependency",
    428: "precondition_required",
    429: "rate_limited",
    431: "request_header_fields_too_large",
    451: "unavailable_for_legal_reasons",
    500: "internal_error",
    501: "not_implemented",
    502: "upstream_error",
    503: "service_unavailable",
    504: "gateway_timeout",
    505: "http_version_not_supported",
}


class AppError(Exception):
    """A domain error with an HTTP status and a machine-readable code."""

    status = 400
    code = "bad_request"
    message = "The request could not be processed."

    def __init__(self, message: str | None = None, *, code: str | None = None,
                 details: dict | None = None, fields: dict | None = None,
                 headers: dict | None = None):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.details = details
        self.fields = fields
        self.headers = headers or {}


class ValidationError(AppError):
    status, code, message = 422, "validation_error", "The request contains invalid fields."


class Unauthorized(AppError):
    status, code, message = 401, "unauthorized", "Authentication is required."


class Forbidden(AppError):
    status, code, message = 403, "forbidden", "You are not allowed to do this."


class NotFound(AppError):
    status, code, message = 404, "not_found", "The resource was not found."


class Conflict(AppError):
    status, code, message = 409, "conflict", "The request conflicts with the current state."


class UpstreamError(AppError):
    status, code, message = 502, "upstream_error", "The payment provider could not be reached."


class ServiceUnavailable(AppError):
    status, code, message = 503, "service_unavailable", "This service is not available."


class RateLimited(AppError):
    """Too many requests: answered with `Retry-After` (seconds)."""

    status, code, message = 429, "rate_limited", "Too many requests. Please wait and try again."

    def __init__(self, message: str | None = None, *, retry_after: int = 1, **kwargs):
        super().__init__(message, headers={"Retry-After": str(max(1, int(retry_after)))},
                         **kwargs)


def error_body(status: int, message: str, code: str | None = None, *,
               fields: dict | None = None, details: dict | None = None) -> dict:
    """The envelope of API.md for one error."""
    error = {"code": code or HTTP_CODES.get(status, "error"), "message": message}
    if fields:
        error["fields"] = fields
    if details:
        error["details"] = details
    return {"error": error}


def error_response(status: int, message: str, code: str | None = None, **extra):
    """A JSON response carrying the error envelope."""
    return jsonify(error_body(status, message, code, **extra)), status


def _flatten_webargs_messages(messages: dict) -> dict:
    """webargs nests errors by location ({"json": {...}}); clients want the field names."""
    fields = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            fields.update(errors)
        else:
            fields[location] = errors
    return fields


def handle_app_error(err: AppError):
    response = error_response(err.status, err.message, err.code, fields=err.fields,
                              details=err.details)
    response[0].headers.extend(err.headers)
    return response


def handle_http_exception(err: HTTPException):
    data = getattr(err, "data", None) or {}
    messages = data.get("messages")
    if err.code == 400 and messages:
        return error_response(400, "The request body is not valid JSON.", "bad_request")
    if err.code == 422 and messages:
        return error_response(422, "The request contains invalid fields.",
                              fields=_flatten_webargs_messages(messages))
    response = error_response(err.code or 500, err.description or err.name)
    for name, value in (err.get_headers() or []):
        if name.lower() not in ("content-type", "content-length"):
            response[0].headers[name] = value
    return response


# lock_not_available (lock_timeout), deadlock_detected, serialization_failure
_RETRYABLE_PGCODES = {"55P03", "40P01", "40001"}


def handle_database_error(err: OperationalError):
    if getattr(err.orig, "pgcode", None) in _RETRYABLE_PGCODES:
        response = error_response(409, "Too many requests are changing this right now. Please retry.",
                                  "busy")
        response[0].headers["Retry-After"] = "1"
        return response
    log.error("database unavailable: %s", err.__class__.__name__)
    return error_response(503, "The service is temporarily unavailable. Please retry.",
                          "service_unavailable")


def handle_integrity_error(err: IntegrityError):
    """A constraint refused a write that the services did not foresee (e.g. a lost race)."""
    log.warning("integrity error: %s", getattr(err.orig, "pgcode", None))
    return error_response(409, "The request conflicts with the current state.", "conflict")


def handle_unexpected(err: Exception):
    if isinstance(err, HTTPException):
        return handle_http_exception(err)
    log.exception("unhandled error")
    return error_response(500, "Something went wrong on our side.", "internal_error")


# Most specific first; every class of one entry is disjoint from the earlier entries'.
HANDLERS = ((AppError, handle_app_error), (HTTPException, handle_http_exception),
            (OperationalError, handle_database_error), (IntegrityError, handle_integrity_error),
            (Exception, handle_unexpected))


def error_response_for(err: Exception):
    """(response, status) for `err`, from the handler Flask would pick for it."""
    for error_class, handler in HANDLERS:
        if isinstance(err, error_class):
            return handler(err)
    raise err  # a BaseException that is not an Exception: not ours to answer


def register_error_handlers(app: Flask) -> None:
    """Route every error raised while serving a request through the envelope."""
    for error_class, handler in HANDLERS:
        app.register_error_handler(error_class, handler)
