"""Notifications: the emails sent after commit (order paid, ticket transferred, event cancelled).

Nothing calls it directly: the other domains ask for its jobs by name (`jobs.after_commit`).
"""
from server.services.notifications import emails  # noqa: F401  (registers its jobs)
