"""Reports: an organizer's orders, attendees, figures and dashboard; the platform's figures.

Public face: list_event_orders, list_attendees, all_attendees, get_dashboard, get_event_figures
(organizer); get_platform_stats (platform_stats).
"""
from server.services.reports.organizer import (all_attendees, get_dashboard, get_event_figures,
                                               list_attendees, list_event_orders)
from server.services.reports.platform_stats import get_platform_stats

__all__ = ["all_attendees", "get_dashboard", "get_event_figures", "get_platform_stats",
           "list_attendees", "list_event_orders"]
