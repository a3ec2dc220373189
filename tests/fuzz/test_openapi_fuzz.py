"""Fuzz every operation of /api/openapi.json as each role with schemathesis, in-process (WSGI).

For each role (anonymous, attendee, organizer, admin) and each operation of the served document:

- the coverage phase: schemathesis's deterministic boundary cases (every enum value, min/max and
  just past them, missing required fields, wrong types, unexpected properties, ...);
- the fuzzing phase: Hypothesis-generated valid (positive) and invalid (negative) requests.

Path and body ids are often replaced by ids that exist (`fuzz_world`), so requests get past the
404s. Every response must not be a 5xx, must match its documented status codes, headers, content
type and schema, and every 4xx/5xx JSON body must be the error envelope. Each request runs in a
savepoint that is rolled back, inside the usual per-test rollback: what the fuzzer changes never
reaches another request or another test.

FUZZ_MAX_EXAMPLES (default 6) bounds the fuzzing examples per operation, role and mode; the run is
derandomized (no seed, no example database, no shrinking). The number of requests per role is
printed in the terminal summary.
"""
import logging
import os
import traceback

import pytest
import schemathesis
from flask_jwt_extended import create_access_token
from hypothesis import HealthCheck, Phase, given, settings, strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.config import GenerationConfig
from schemathesis.generation.drivers import CoverageGenerator
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.generation.overrides import Override
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_headers_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from server.extensions import db
from tests.fuzz.conftest import REQUESTS

ROLES = ("anonymous", "attendee", "organizer", "admin")
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
MAX_EXAMPLES = int(os.environ.get("FUZZ_MAX_EXAMPLES", "6"))
# Bodies a provider signs or builds (Daraja, Stripe) are only checked for "no 5xx, an envelope":
# their documented schema describes the provider's payload, not what a fuzzer can send.
PROVIDER_OPERATIONS = {"POST /api/payments/mpesa/callback/{token}",
                       "POST /api/payments/stripe/webhook"}
SETTINGS = settings(max_examples=MAX_EXAMPLES, derandomize=True, database=None, deadline=None,
                    phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck),
                    print_blob=False)


def error_envelope(ctx, response, case):
    """Every 4xx/5xx JSON answer is {"error": {"code": str, "message": str, ...}}."""
    if response.status_code < 400:
        return None
    content_type = response.headers.get("content-type", [""])[0]
    assert content_type.startswith("application/json"), f"an error as {content_type!r}"
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    assert isinstance(error, dict), f"not the error envelope: {body!r}"
    assert isinstance(error.get("code"), str) and isinstance(error.get("message"), str), body
    return None


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_headers_conformance, response_schema_conformance, error_envelope]
PROVIDER_CHECKS = [not_a_server_error, error_envelope]


class _LastServerError(logging.Handler):
    """Keeps the traceback of the last unhandled error, to show it next to the 500."""

    text = ""

    def emit(self, record):
        if record.exc_info:
            self.text = "".join(traceback.format_exception(*record.exc_info))


@pytest.fixture
def server_errors():
    handler = _LastServerError(level=logging.ERROR)
    logger = logging.getLogger("server.platform.errors")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


@pytest.fixture
def fuzz_schema(app):
    return schemathesis.openapi.from_wsgi("/api/openapi.json", app)


def _looks_like_id(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**31


def _refused_by_the_guard(response) -> bool:
    """401 `unauthorized` / 403 `forbidden` of the auth guards (not e.g. `invalid_credentials`)."""
    if response.status_code not in (401, 403):
        return False
    return response.json()["error"]["code"] in ("unauthorized", "forbidden")


class Fuzzer:
    """Sends cases as one role, each in a rolled-back savepoint, and collects the failures."""

    def __init__(self, app, role, world, server_errors):
        self.app, self.role, self.world, self.server_errors = app, role, world, server_errors
        user = world["users"].get(role)
        self.token = create_access_token(identity=user) if user else None
        self.connection = db.session().bind
        self.failures = []

    def use_known_ids(self, case, pick: int) -> None:
        """Three times in four, put existing ids into the path and into id fields of the body."""
        if pick % 4 == 3:
            return
        known = lambda values: values[pick % len(values)]  # noqa: E731
        for name, value in (case.path_parameters or {}).items():
            if name in self.world["ids"] and _looks_like_id(value):
                case.path_parameters[name] = known(self.world["ids"][name])
        if isinstance(case.body, dict):
            for name, value in case.body.items():
                if name in self.world["ids"] and _looks_like_id(value):
                    case.body[name] = known(self.world["ids"][name])
                elif name == "code" and isinstance(value, str):
                    case.body[name] = known(self.world["codes"])
                elif name == "email" and isinstance(value, str):
                    case.body[name] = known(self.world["emails"])

    def send(self, case, pick: int):
        """One request as this role; raises when a check fails."""
        self.use_known_ids(case, pick)
        case.headers = {key: value for key, value in (case.headers or {}).items()
                        if key.lower() != "authorization"}
        if self.token:
            case.headers["Authorization"] = f"Bearer {self.token}"
        checks = PROVIDER_CHECKS if case.operation.label in PROVIDER_OPERATIONS else CHECKS
        savepoint = self.connection.begin_nested()
        try:
            REQUESTS[self.role] += 1
            with self.app.app_context():  # the request's own session, removed after it
                return case.call_and_validate(checks=checks)
        finally:
            savepoint.rollback()

    def record(self, operation, phase: str, exc: BaseException) -> None:
        self.failures.append(f"--- {operation.label} ({phase}, {self.role}) ---\n{exc}\n"
                             f"{self.server_errors.text}")
        self.server_errors.text = ""

    def coverage(self, operation) -> None:
        """schemathesis's deterministic boundary cases; the first failure per operation.

        A role refused before its input is read (401 for anonymous, 403 for a missing role) would
        get that same answer to every boundary case: once its first valid case is refused, the
        rest are skipped (the fuzzing phase still sends the operation as that role).
        """
        cases = CoverageGenerator(operation=operation, generation_modes=list(MODES),
                                  generation_config=GenerationConfig(), auth_storage=None,
                                  override=Override(), feedback=FeedbackSources())
        for index, case in enumerate(cases):  # the first is the default positive case
            try:
                response = self.send(case, index)
            except (Exception, BaseExceptionGroup) as exc:
                self.record(operation, "coverage", exc)
                return
            if index == 0 and _refused_by_the_guard(response):
                return

    def fuzz(self, operation, mode) -> None:
        """Hypothesis-generated cases in one generation mode."""

        @SETTINGS
        @given(case=operation.as_strategy(generation_mode=mode), pick=st.integers(0, 11))
        def run(case, pick):
            self.send(case, pick)

        try:
            run()
        except Unsatisfiable:
            pass  # nothing of this operation can be made invalid (no parameters, no body)
        except (Exception, BaseExceptionGroup) as exc:
            self.record(operation, mode.value, exc)


@pytest.mark.parametrize("role", ROLES)
def test_openapi_fuzz(app, fuzz_schema, fuzz_world, server_errors, role):
    fuzzer = Fuzzer(app, role, fuzz_world, server_errors)
    for result in fuzz_schema.get_all_operations():
        operation = result.ok()
        fuzzer.coverage(operation)
        for mode in MODES:
            fuzzer.fuzz(operation, mode)
    assert not fuzzer.failures, (f"{len(fuzzer.failures)} failures:\n"
                                 + "\n".join(fuzzer.failures))
