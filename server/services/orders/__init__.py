"""Orders: placing them under the inventory guard, their lifecycle, tickets, refunds and comps.

Public face: place_order (ordering); get_order, list_orders (queries); cancel_order,
mark_order_paid, expire_due_orders, apply_payment, lock_order, release_pending (lifecycle);
refund_order, refund_paid_order, start_refund, close_event_orders (refunding); get_ticket,
list_my_tickets, rename_holder, ticket_qr, transfer_ticket, void_ticket, is_staff,
holds_review_ticket (tickets); issue_complimentary (complimentary). Job: "orders.expire_due".
"""
from server.services.orders.complimentary import issue_complimentary
from server.services.orders.lifecycle import (apply_payment, cancel_order, expire_due_orders,
                                              lock_order, mark_order_paid, release_pending)
from server.services.orders.ordering import place_order
from server.services.orders.queries import get_order, list_orders
from server.services.orders.refunding import (close_event_orders, refund_order,
                                              refund_paid_order, start_refund)
from server.services.orders.tickets import (get_ticket, holds_review_ticket, is_staff,
                                            list_my_tickets, rename_holder, ticket_qr,
                                            transfer_ticket, void_ticket)

__all__ = ["apply_payment", "cancel_order", "close_event_orders", "expire_due_orders", "get_order",
           "get_ticket", "holds_review_ticket", "is_staff", "issue_complimentary",
           "list_my_tickets", "list_orders", "lock_order", "mark_order_paid", "place_order",
           "refund_order", "refund_paid_order", "release_pending", "rename_holder", "start_refund",
           "ticket_qr", "transfer_ticket", "void_ticket"]
