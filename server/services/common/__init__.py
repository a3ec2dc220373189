"""The few shared steps every domain may use: the audit log, pagination, commits, access checks.

Public face: record, list_entries (audit); Page, paginate, where_equal (pagination);
commit_or_conflict, commit_keeping_state (transactions); get_managed_event (access).
"""
from server.services.common.access import get_managed_event
from server.services.common.audit import list_entries, record
from server.services.common.pagination import Page, paginate, where_equal
from server.services.common.transactions import commit_keeping_state, commit_or_conflict

__all__ = ["Page", "commit_keeping_state", "commit_or_conflict", "get_managed_event",
           "list_entries", "paginate", "record", "where_equal"]
