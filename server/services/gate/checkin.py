"""Check-in: a signed code admits its ticket exactly once.

The signature is checked before the database is touched, so a forged code costs no query (its
scan is recorded in a batch, `invalid_scans`). A scan is one statement: the scanner's account
and token, its right to scan the event, the guarded UPDATE that moves the ticket from valid to
used, and the scan's record, in one round trip; a refused scan's reason (already checked in, by
whom; void; not this event's) and its record come from the same statement. Concurrent scans of
one ticket race on that UPDATE's row lock; exactly one of them finds the ticket still valid, and
the others, which saw it valid, run the statement again once it has changed.
"""
import logging
from datetime import datetime, timezone
from types import SimpleNamespace

from server.platform.errors import Conflict, Forbidden, NotFound, Unauthorized
from server.codes.signing import CodeClaims, InvalidCode, ticket_codes
from server.models import ScanResult, TicketStatus, User, utcnow
from server.platform.prepared import PreparedStatement, execute_alone
from server.services.gate import invalid_scans

log = logging.getLogger(__name__)

# The scanner, re-checked here rather than by a query of its own: an active account whose token
# was not revoked; then the scanner's right to scan the event.
_SCANNER = """
    SELECT u.id, EXISTS (SELECT 1 FROM user_roles ur JOIN roles r ON r.id = ur.role_id
                         WHERE ur.user_id = u.id AND r.name = 'admin') AS is_admin
    FROM users u
    WHERE u.id = :scanner_id AND u.is_active
      AND NOT EXISTS (SELECT 1 FROM revoked_tokens rt WHERE rt.jti = :token_id)
"""

_ALLOWED = """
    SELECT 1 FROM events e JOIN scanner s ON true WHERE e.id = :event_id AND (
        e.organizer_id = s.id OR s.is_admin
        OR EXISTS (SELECT 1 FROM event_staff es WHERE es.event_id = e.id AND es.user_id = s.id))
"""

# Composed from the constant fragments above; every value is a bound parameter (bandit B608).
_ADMIT = PreparedStatement("ticksy_checkin_admit", f"""
    WITH scanner AS ({_SCANNER}),
    allowed AS ({_ALLOWED}),
    admitted AS (
        UPDATE tickets SET status = 'used', checked_in_at = :at, checked_in_by_id = :scanner_id,
                           checked_in_device = :device_id, updated_at = clock_timestamp()
        -- `+ 0` keeps the planner on the primary key: without fresh statistics for a big
        -- event it would read every ticket of the event through its event_id index.
        WHERE id = :ticket_id AND event_id + 0 = :event_id AND nonce = :nonce AND status = 'valid'
          AND EXISTS (SELECT 1 FROM allowed)
        RETURNING id, order_id, event_id, ticket_type_id, holder_name, issued_at, checked_in_at
    ),
    logged AS (
        INSERT INTO checkin_scans (event_id, ticket_id, scanner_id, device_id, result, offline,
                                   scanned_at, recorded_at)
        SELECT event_id, id, :scanner_id, :device_id, 'admitted', :offline, :at, now()
        FROM admitted
    ),
    -- Not admitted: the ticket as this statement saw it, and the refusal it makes. NULL when the
    -- ticket was still valid here: another scan changed it while this one ran (ATTEMPTS).
    seen AS (
        SELECT t.status, t.nonce, t.event_id, t.checked_in_at, t.checked_in_device,
               u.id AS by_id, u.name AS by_name
        FROM tickets t LEFT JOIN users u ON u.id = t.checked_in_by_id
        WHERE t.id = :ticket_id AND NOT EXISTS (SELECT 1 FROM admitted)
    ),
    refusal AS (
        SELECT s.event_id, CASE
            WHEN NOT EXISTS (SELECT 1 FROM allowed) THEN 'forbidden'
            WHEN s.status IS NULL OR s.event_id <> :event_id OR s.nonce <> :nonce
                THEN 'invalid_ticket'
            WHEN s.status = 'used' AND :offline AND s.checked_in_device IS DISTINCT FROM :device_id
                THEN 'conflict'
            WHEN s.status = 'used' THEN 'already_checked_in'
            WHEN s.status = 'void' THEN 'ticket_void'
        END AS result
        FROM (SELECT 1) AS one LEFT JOIN seen s ON true
        WHERE NOT EXISTS (SELECT 1 FROM admitted) AND EXISTS (SELECT 1 FROM scanner)
    ),
    refused AS (
        INSERT INTO checkin_scans (event_id, ticket_id, scanner_id, device_id, result, offline,
                                   scanned_at, recorded_at)
        SELECT event_id, CASE WHEN event_id IS NOT NULL THEN :ticket_id END, :scanner_id,
               :device_id, result, :offline, :at, now()
        FROM refusal WHERE result IS NOT NULL
    )
    SELECT EXISTS (SELECT 1 FROM scanner) AS authenticated,
           EXISTS (SELECT 1 FROM allowed) AS allowed, a.id, a.order_id, a.event_id,
           a.ticket_type_id, a.holder_name, a.issued_at, a.checked_in_at,
           tt.name AS tier_name, e.title, e.starts_at, e.venue,
           r.result AS refusal, s.checked_in_at AS first_checked_in_at,
           s.checked_in_device AS first_device_id, s.by_id, s.by_name
    FROM (SELECT 1) AS one
    LEFT JOIN admitted a ON true
    LEFT JOIN ticket_types tt ON tt.id = a.ticket_type_id
    LEFT JOIN events e ON e.id = a.event_id
    LEFT JOIN refusal r ON true
    LEFT JOIN seen s ON true
""")  # nosec B608

# A scan whose statement saw the ticket still valid yet could not admit it (another gate admitted
# or voided it while the statement waited for the row) runs again, on a fresh view of the row.
ATTEMPTS = 3


class InvalidTicket(NotFound):
    """A code that is forged, altered, retired by a transfer, or names no ticket."""

    code, message = "invalid_ticket", "This is not a valid ticket."


def _admitted_ticket(row) -> SimpleNamespace:
    """The admitted ticket, shaped like a Ticket for the ticket schema."""
    return SimpleNamespace(
        id=row.id, order_id=row.order_id, event_id=row.event_id, holder_name=row.holder_name,
        status=TicketStatus.USED, issued_at=row.issued_at, checked_in_at=row.checked_in_at,
        event=SimpleNamespace(id=row.event_id, title=row.title, starts_at=row.starts_at,
                              venue=row.venue),
        ticket_type=SimpleNamespace(id=row.ticket_type_id, name=row.tier_name))


def _iso(moment: datetime) -> str:
    """UTC with a `Z`, as every timestamp of the API."""
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _verify(code: str, scanner_id: int, device_id: str | None) -> CodeClaims:
    try:
        return ticket_codes().verify(code)
    except InvalidCode as exc:
        # The request's log line and the batched scan record say it already; the reason is
        # for debugging keys (rotation, a scanner with stale keys).
        log.debug("invalid code scanned by user %s (%s)", scanner_id, exc)
        invalid_scans.note(scanner_id=scanner_id, device_id=device_id, at=utcnow())
        raise InvalidTicket() from None


def _params(claims: CodeClaims, scanner_id: int, token_id: str, device_id, at: datetime,
            offline: bool) -> dict:
    return {"event_id": claims.event_id, "ticket_id": claims.ticket_id, "nonce": claims.nonce,
            "scanner_id": scanner_id, "token_id": token_id, "device_id": device_id, "at": at,
            "offline": offline}


def _scan(params: dict):
    """(result, admitted ticket or None, details) for one verified code; committed."""
    for _ in range(ATTEMPTS):
        row = execute_alone(_ADMIT, params)
        if not row.authenticated:
            raise Unauthorized("The account is deactivated or the token has been revoked.")
        if row.id is not None:
            return ScanResult.ADMITTED, _admitted_ticket(row), None
        if row.refusal is not None:  # decided and recorded by the statement itself
            result = ScanResult(row.refusal)
            details = None
            if result in (ScanResult.ALREADY_CHECKED_IN, ScanResult.CONFLICT):
                details = {"checked_in_at": row.first_checked_in_at,
                           "checked_in_by": {"id": row.by_id, "name": row.by_name},
                           "device_id": row.first_device_id}
            return result, None, details
    raise Conflict("This ticket is changing right now. Please scan it again.", code="busy",
                   headers={"Retry-After": "1"})


def check_in(*, code: str, scanner_id: int, token_id: str, device_id: str | None = None) -> dict:
    """Admit the ticket a code names, once; every attempt is recorded.

    The scanner's account and token are checked by the admitting statement itself; a forged
    code is answered from its signature alone, before any of that (anyone holding the public
    keys can tell a forged code, so the answer gives nothing away).
    """
    claims = _verify(code, scanner_id, device_id)
    params = _params(claims, scanner_id, token_id, device_id, utcnow(), offline=False)
    result, ticket, details = _scan(params)
    if result == ScanResult.ADMITTED:
        return {"result": result.value, "ticket": ticket}
    if result == ScanResult.FORBIDDEN:
        raise Forbidden("You are not gate staff for this event.")
    if result == ScanResult.ALREADY_CHECKED_IN:
        raise Conflict("This ticket has already been checked in.", code="already_checked_in",
                       details={**details, "checked_in_at": _iso(details["checked_in_at"])})
    if result == ScanResult.VOID:
        raise Conflict("This ticket is void.", code="ticket_void")
    raise InvalidTicket()


def sync_offline_scans(*, scanner: User, token_id: str, scans: list[dict]) -> dict:
    """Scans made while offline: admit those still valid, report the rest and every conflict."""
    results, now = [], utcnow()
    for index, scan in enumerate(scans):
        entry = {"index": index, "device_id": scan.get("device_id")}
        try:
            claims = ticket_codes().verify(scan["code"])
        except InvalidCode:
            results.append({**entry, "result": ScanResult.INVALID.value, "ticket_id": None})
            continue
        at = min(scan.get("scanned_at") or now, now)
        params = _params(claims, scanner.id, token_id, scan.get("device_id"), at, offline=True)
        result, _, details = _scan(params)
        if result == ScanResult.ALREADY_CHECKED_IN:  # offline, only when a device resends a scan
            result, details = ScanResult.ADMITTED, None
        results.append({**entry, "result": result.value, "ticket_id": claims.ticket_id,
                        "first_check_in": details})
    summary = {result.value: 0 for result in ScanResult}
    for item in results:
        summary[item["result"]] += 1
    return {"results": results, "summary": summary}
