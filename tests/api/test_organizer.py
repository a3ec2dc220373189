"""The organizer's side: event orders, attendee list and CSV export, event figures, dashboard."""
import csv
import io
from datetime import timedelta, timezone
from decimal import Decimal

import pytest

from server.extensions import db
from server.models import TicketStatus, utcnow
from server.services.orders import complimentary, lifecycle as order_lifecycle, refunding

TIERS = [{"name": "VIP", "price": Decimal("5000.00"), "quantity": 10},
         {"name": "Regular", "price": Decimal("1000.00"), "quantity": 100}]


def check_in(ticket):
    ticket.status, ticket.checked_in_at = TicketStatus.USED, utcnow()
    db.session.commit()


@pytest.fixture
def sales(make_event, make_order, make_user, organizer, attendee):
    """One event's sales: three paid orders (one complimentary), one pending, one cancelled,
    one refunded; one ticket checked in; the first order paid two days ago."""
    event = make_event(organizer, tiers=TIERS)
    vip, regular = event.ticket_types
    buyers = [make_user() for _ in range(4)]
    early = make_order(event, {regular: 2}, paid=True)
    mixed = make_order(event, {vip: 1, regular: 1}, buyer=buyers[0], paid=True)
    pending = make_order(event, {vip: 1}, buyer=buyers[1])
    cancelled = make_order(event, {regular: 2}, buyer=buyers[2])
    order_lifecycle.cancel_order(order_id=cancelled.id, actor=buyers[2])
    refunded = make_order(event, {regular: 1}, buyer=buyers[3], paid=True)
    refunding.refund_order(order_id=refunded.id, actor=organizer)
    comp = complimentary.issue_complimentary(event_id=event.id, actor=organizer,
                                             ticket_type_id=regular.id, email=buyers[3].email,
                                             quantity=1)
    check_in(mixed.tickets[0])
    early.paid_at = utcnow() - timedelta(days=2)
    db.session.commit()
    return {"event": event, "vip": vip, "regular": regular, "early": early, "mixed": mixed,
            "pending": pending, "cancelled": cancelled, "refunded": refunded, "comp": comp,
            "buyers": buyers}


def path(event, what):
    return f"/api/events/{event.id}/{what}"


def error_code(resp):
    return resp.get_json()["error"]["code"]


def utc_day(moment):
    return moment.astimezone(timezone.utc).date().isoformat()


# event figures


def test_event_stats_add_up(organizer_client, sales):
    resp = organizer_client.get(path(sales["event"], "stats"))
    assert resp.status_code == 200
    body = resp.get_json()
    assert (body["tickets_sold"], body["tickets_total"]) == (5, 110)
    assert (body["revenue"], body["currency"]) == ("8000.00", "KES")
    assert body["orders_by_status"] == {"pending": 1, "paid": 3, "cancelled": 1, "expired": 0,
                                        "refunded": 1}
    assert (body["checked_in"], body["check_in_rate"]) == (1, 0.2)


def test_event_stats_by_ticket_type(organizer_client, sales):
    body = organizer_client.get(path(sales["event"], "stats")).get_json()
    assert body["by_ticket_type"] == [
        {"ticket_type_id": sales["vip"].id, "name": "VIP", "sold": 1, "held": 1, "quantity": 10,
         "revenue": "5000.00"},
        {"ticket_type_id": sales["regular"].id, "name": "Regular", "sold": 4, "held": 0,
         "quantity": 100, "revenue": "3000.00"},
    ]


def test_event_stats_sales_by_day(organizer_client, sales):
    body = organizer_client.get(path(sales["event"], "stats")).get_json()
    today = utc_day(sales["mixed"].paid_at)
    assert utc_day(sales["comp"].paid_at) == today
    assert body["sales_by_day"] == [
        {"date": utc_day(sales["early"].paid_at), "tickets": 2, "revenue": "2000.00"},
        {"date": today, "tickets": 3, "revenue": "6000.00"},
    ]


def test_event_stats_without_sales(organizer_client, make_event):
    body = organizer_client.get(path(make_event(tiers=[]), "stats")).get_json()
    assert body == {"tickets_sold": 0, "tickets_total": 0, "revenue": "0.00", "currency": None,
                    "by_ticket_type": [], "sales_by_day": [],
                    "orders_by_status": {"pending": 0, "paid": 0, "cancelled": 0, "expired": 0,
                                         "refunded": 0},
                    "checked_in": 0, "check_in_rate": 0.0}


def test_admin_reads_any_event_stats(admin_client, sales):
    assert admin_client.get(path(sales["event"], "stats")).get_json()["revenue"] == "8000.00"


@pytest.mark.parametrize("what", ["stats", "orders", "attendees", "attendees?format=csv"])
def test_only_managers_read_event_reports(client, attendee_client, client_for, other_organizer,
                                          sales, what):
    url = path(sales["event"], what)
    assert client.get(url).status_code == 401
    for caller in (attendee_client, client_for(other_organizer)):
        resp = caller.get(url)
        assert resp.status_code == 403 and error_code(resp) == "forbidden"


@pytest.mark.parametrize("what", ["stats", "orders", "attendees", "attendees?format=csv"])
def test_hidden_or_unknown_event_reports_are_404(attendee_client, organizer_client, make_event,
                                                 what):
    draft = make_event(status="draft")
    assert attendee_client.get(path(draft, what)).status_code == 404
    assert organizer_client.get(path(draft, what)).status_code == 200
    assert organizer_client.get(f"/api/events/999999/{what}").status_code == 404


# event orders


def test_event_orders_newest_first(organizer_client, sales, make_event, make_order):
    make_order(make_event(), paid=True)
    body = organizer_client.get(path(sales["event"], "orders")).get_json()
    expected = [sales[k].id for k in ("comp", "refunded", "cancelled", "pending", "mixed", "early")]
    assert [o["id"] for o in body["items"]] == expected
    assert body["total"] == 6
    assert body["items"][0]["buyer"]["id"] == sales["buyers"][3].id


def test_event_orders_filter_and_paginate(organizer_client, sales):
    body = organizer_client.get(path(sales["event"], "orders?status=paid&per_page=2")).get_json()
    assert [o["id"] for o in body["items"]] == [sales["comp"].id, sales["mixed"].id]
    assert (body["total"], body["pages"]) == (3, 2)
    body = organizer_client.get(path(sales["event"], "orders?status=paid&page=2&per_page=2"))
    assert [o["id"] for o in body.get_json()["items"]] == [sales["early"].id]


def test_event_orders_reject_bad_status(organizer_client, sales):
    resp = organizer_client.get(path(sales["event"], "orders?status=lost"))
    assert resp.status_code == 422 and "status" in resp.get_json()["error"]["fields"]


# attendees


def test_attendees_are_valid_and_used_tickets(organizer_client, sales, attendee):
    body = organizer_client.get(path(sales["event"], "attendees")).get_json()
    assert body["total"] == 5
    rows = body["items"]
    assert [r["order_id"] for r in rows] == [sales[k].id for k in
                                             ("early", "early", "mixed", "mixed", "comp")]
    first = rows[0]
    assert set(first) == {"ticket_id", "holder_name", "holder_email", "ticket_type", "status",
                          "order_id", "checked_in_at"}
    assert (first["holder_name"], first["holder_email"]) == (attendee.name, attendee.email)
    assert (first["ticket_type"], first["status"], first["checked_in_at"]) == ("Regular", "valid",
                                                                               None)
    used = rows[2]
    assert used["status"] == "used" and used["checked_in_at"].endswith("Z")
    assert sales["refunded"].id not in {r["order_id"] for r in rows}


def test_attendees_paginate(organizer_client, sales):
    body = organizer_client.get(path(sales["event"], "attendees?page=3&per_page=2")).get_json()
    assert (body["total"], body["pages"], len(body["items"])) == (5, 3, 1)
    assert body["items"][0]["order_id"] == sales["comp"].id


def read_csv(resp):
    return list(csv.reader(io.StringIO(resp.get_data(as_text=True))))


def test_attendees_csv_download(organizer_client, sales):
    event = sales["event"]
    resp = organizer_client.get(path(event, "attendees?format=csv&per_page=1"))
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="event-{event.id}-attendees.csv"')
    rows = read_csv(resp)
    assert rows[0] == ["ticket_id", "holder_name", "holder_email", "ticket_type", "status",
                       "order_id", "checked_in_at"]
    assert len(rows) == 6
    ticket = sales["mixed"].tickets[0]
    assert rows[3][:6] == [str(ticket.id), ticket.holder_name, ticket.holder.email, "VIP", "used",
                           str(sales["mixed"].id)]
    assert rows[3][6].endswith("Z") and rows[1][6] == ""


@pytest.mark.parametrize("name", ["=HYPERLINK(\"http://x\")", "+254700", "-1+1", "@SUM(A1)"])
def test_attendees_csv_defuses_formulas(organizer_client, client_for, attendee, sales, name):
    ticket_id = sales["early"].tickets[0].id
    assert client_for(attendee).patch(f"/api/tickets/{ticket_id}",
                                      json={"holder_name": name}).status_code == 200
    rows = read_csv(organizer_client.get(path(sales["event"], "attendees?format=csv")))
    assert rows[1][1] == "'" + name
    json_rows = organizer_client.get(path(sales["event"], "attendees")).get_json()["items"]
    assert json_rows[0]["holder_name"] == name


def test_attendees_csv_of_an_event_without_tickets(organizer_client, make_event):
    rows = read_csv(organizer_client.get(path(make_event(), "attendees?format=csv")))
    assert rows == [["ticket_id", "holder_name", "holder_email", "ticket_type", "status",
                     "order_id", "checked_in_at"]]


def test_attendees_reject_unknown_format(organizer_client, sales):
    resp = organizer_client.get(path(sales["event"], "attendees?format=xlsx"))
    assert resp.status_code == 422 and "format" in resp.get_json()["error"]["fields"]


# dashboard


def test_dashboard_lists_my_events_with_figures(organizer_client, organizer, other_organizer,
                                                sales, make_event, make_order):
    later = make_event(organizer, starts_in=timedelta(days=60), tiers=TIERS[:1])
    draft = make_event(organizer, status="draft", starts_in=timedelta(days=90), tiers=[])
    make_order(make_event(other_organizer), paid=True)
    body = organizer_client.get("/api/dashboard").get_json()
    assert [e["id"] for e in body["events"]] == [sales["event"].id, later.id, draft.id]
    assert body["events"][0] == {
        "id": sales["event"].id, "title": sales["event"].title,
        "starts_at": body["events"][0]["starts_at"], "status": "published", "tickets_sold": 5,
        "tickets_total": 110, "revenue": "8000.00", "currency": "KES", "checked_in": 1}
    assert body["events"][0]["starts_at"].endswith("Z")
    assert body["events"][2] == {"id": draft.id, "title": draft.title,
                                 "starts_at": body["events"][2]["starts_at"], "status": "draft",
                                 "tickets_sold": 0, "tickets_total": 0, "revenue": "0.00",
                                 "currency": None, "checked_in": 0}
    assert body["totals"] == {"events": 3, "tickets_sold": 5, "tickets_total": 120,
                              "revenue": "8000.00", "currency": "KES", "checked_in": 1}


def test_dashboard_totals_have_no_currency_when_events_differ(organizer_client, make_event):
    make_event(tiers=[{"name": "GA", "price": Decimal("10.00"), "currency": "USD",
                       "quantity": 5}])
    make_event()
    assert organizer_client.get("/api/dashboard").get_json()["totals"]["currency"] is None


def test_dashboard_of_an_organizer_without_events(client_for, other_organizer, admin_client,
                                                  sales):
    empty = {"events": [], "totals": {"events": 0, "tickets_sold": 0, "tickets_total": 0,
                                      "revenue": "0.00", "currency": None, "checked_in": 0}}
    assert client_for(other_organizer).get("/api/dashboard").get_json() == empty
    assert admin_client.get("/api/dashboard").get_json() == empty


def test_dashboard_needs_the_organizer_role(client, attendee_client):
    assert client.get("/api/dashboard").status_code == 401
    resp = attendee_client.get("/api/dashboard")
    assert resp.status_code == 403 and error_code(resp) == "forbidden"
