"""The organizer's side: an event's orders, attendees and figures, and the dashboard."""
from flask import Response
from flask_jwt_extended import current_user
from flask_smorest import Blueprint

from server.schemas.common import page_of
from server.schemas.order import OrderListArgs, OrderOut
from server.schemas.report import (AttendeeListArgs, AttendeeOut, DashboardOut, EventFiguresOut,
                                   attendees_csv)
from server.platform.security import auth_required, roles_required
from server.services import reports

blp = Blueprint("organizer", __name__, url_prefix="/api", description="Organizer dashboard")

CSV_DOC = {"schema": {"type": "string"}, "content_type": "text/csv",
           "description": "A page of attendees as JSON; with `format=csv` the whole list as a "
                          "CSV download."}


def csv_download(text: str, filename: str) -> Response:
    """`text` as a CSV file the browser saves as `filename`."""
    return Response(text, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


@blp.get("/events/<int:event_id>/orders")
@auth_required()
@blp.arguments(OrderListArgs, location="query")
@blp.response(200, page_of(OrderOut))
def list_event_orders(args, event_id):
    """The event's orders, newest first (its organizer, admins)."""
    return reports.list_event_orders(event_id=event_id, actor=current_user, **args)


@blp.get("/events/<int:event_id>/attendees")
@auth_required()
@blp.arguments(AttendeeListArgs, location="query")
@blp.response(200, page_of(AttendeeOut))
@blp.alt_response(200, **CSV_DOC)
def list_attendees(args, event_id):
    """The event's attendees, one row per valid or used ticket; `format=csv` downloads them all."""
    if args.pop("format") == "csv":
        rows = reports.all_attendees(event_id=event_id, actor=current_user)
        return csv_download(attendees_csv(rows), f"event-{event_id}-attendees.csv")
    return reports.list_attendees(event_id=event_id, actor=current_user, **args)


@blp.get("/events/<int:event_id>/stats")
@auth_required()
@blp.response(200, EventFiguresOut)
def get_event_stats(event_id):
    """Sales, revenue, orders by status and check-ins of one event."""
    return reports.get_event_figures(event_id=event_id, actor=current_user)


@blp.get("/dashboard")
@roles_required("organizer", "admin")
@blp.response(200, DashboardOut)
def get_dashboard():
    """Sales, revenue and check-ins of each of my events, with totals."""
    return reports.get_dashboard(user=current_user)
