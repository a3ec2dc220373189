"""Scans of forged or unreadable codes, recorded in batches.

A forged code is answered from its signature alone, so its scan must not cost the request a
query either. Each process keeps these scans in memory and hands them to the
`gate.record_invalid_scans` job together, at most INVALID_SCAN_FLUSH_SECONDS after the first
of them (immediately when that setting is 0), and at exit. A crash loses at most those
seconds of forged-code records; scans of real tickets are written by the request itself.
"""
import atexit
import logging
import threading
from datetime import datetime

from flask import Flask, current_app
from sqlalchemy import insert

from server.extensions import db
from server.models import CheckinScan, ScanResult
from server.tasks import jobs

log = logging.getLogger(__name__)

_lock = threading.Lock()
_pending: list[list] = []
_timer: threading.Timer | None = None


def note(*, scanner_id: int, device_id: str | None, at: datetime) -> None:
    """Remember one forged code's scan; it is written with the others of its batch."""
    global _timer
    app = current_app._get_current_object()
    delay = app.config["INVALID_SCAN_FLUSH_SECONDS"]
    with _lock:
        _pending.append([scanner_id, device_id, at.isoformat()])
        if delay > 0 and _timer is None:
            _timer = threading.Timer(delay, flush, args=(app,))
            _timer.daemon = True
            _timer.start()
    if delay <= 0:
        flush(app)


def flush(app: Flask, *, inline: bool = False) -> int:
    """Hand every remembered scan to the job runner as one batch; how many there were."""
    global _timer
    with _lock:
        batch, _pending[:] = list(_pending), []
        _timer = None
    if batch:
        with app.app_context():
            if inline:
                record_invalid_scans(batch)
            else:
                jobs.enqueue("gate.record_invalid_scans", batch)
    return len(batch)


def pending() -> int:
    """How many scans wait for the next batch."""
    with _lock:
        return len(_pending)


@jobs.job("gate.record_invalid_scans")
def record_invalid_scans(scans: list[list]) -> None:
    """Write a batch of forged-code scans in one statement: who, from which device, when."""
    db.session.execute(insert(CheckinScan), [
        {"scanner_id": scanner_id, "device_id": device_id, "result": ScanResult.INVALID,
         "offline": False, "scanned_at": datetime.fromisoformat(at), "event_id": None,
         "ticket_id": None} for scanner_id, device_id, at in scans])
    db.session.commit()


def _flush_at_exit() -> None:
    """The last batch of a stopping process, written before it goes."""
    timer = _timer
    if timer is not None:
        timer.cancel()
        try:
            flush(timer.args[0], inline=True)
        except Exception:  # noqa: BLE001  (the process is stopping; say so and go)
            log.exception("could not record the last forged-code scans")


atexit.register(_flush_at_exit)
