"""Domain logic, one subpackage per domain; each `__init__` is the domain's public face.

Importing this package registers every domain's jobs, so any process can run any job by name.
"""
from server.services import (accounts, catalog, common, gate, notifications, orders,  # noqa: F401
                             payments, reports)
