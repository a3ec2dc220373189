"""The catalogue: events, their tiers and reviews; cancelling an event closes its orders.

Public face: list_events (listing); create_event, get_visible_event, update_event, delete_event
(events); create_ticket_type, update_ticket_type, delete_ticket_type (ticket_types);
list_reviews, create_review, update_review, delete_review (reviews).
"""
from server.services.catalog.events import (create_event, delete_event, get_visible_event,
                                            update_event)
from server.services.catalog.listing import list_events
from server.services.catalog.reviews import (create_review, delete_review, list_reviews,
                                             update_review)
from server.services.catalog.ticket_types import (create_ticket_type, delete_ticket_type,
                                                  update_ticket_type)

__all__ = ["create_event", "create_review", "create_ticket_type", "delete_event", "delete_review",
           "delete_ticket_type", "get_visible_event", "list_events", "list_reviews",
           "update_event", "update_review", "update_ticket_type"]
