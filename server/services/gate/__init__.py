"""The gate: check-in (exactly once), offline sync, invalid scans, staff and progress.

Public face: check_in, sync_offline_scans (checkin); gate_events, list_staff, set_staff,
checkin_list, checkin_stats (staff). Job: "gate.record_invalid_scans".
"""
from server.services.gate.checkin import check_in, sync_offline_scans
from server.services.gate.staff import (checkin_list, checkin_stats, gate_events, list_staff,
                                        set_staff)

__all__ = ["check_in", "checkin_list", "checkin_stats", "gate_events", "list_staff", "set_staff",
           "sync_offline_scans"]
