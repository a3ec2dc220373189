"""The four user journeys of the web client, end to end against the Flask server's own `/`.

Each test asserts what a person sees and leaves a full-page screenshot in tests/e2e/artifacts/.
"""
import itertools
import json
import re
import urllib.request
import uuid
from datetime import datetime, timedelta

import pytest

pytestmark = pytest.mark.own_app  # no rollback wrapper: these tests talk to a real server

PASSWORD = "e2e-password-123"
# The simulator pays ordinary numbers a moment after the push. Each purchase uses its own phone:
# a phone gets at most one prompt a minute (RATELIMIT_STK_PUSH_PHONE), and the flows share a server.
PAY_PHONES = (f"07123456{n:02d}" for n in itertools.count(10))


def expect(locator):
    from playwright.sync_api import expect as _expect

    return _expect(locator)


def unique_email(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}@e2e.ticksy.test"


def api_register(server_url: str, name: str, email: str, role: str = "attendee") -> dict:
    """Registers a user through the API (set-up only; the journeys themselves use the UI)."""
    body = json.dumps({"name": name, "email": email, "password": PASSWORD, "role": role}).encode()
    req = urllib.request.Request(f"{server_url}/api/auth/register", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as res:
        return json.load(res)


def register(page, name: str, email: str, account_type: str = "Attendee") -> None:
    page.goto("/register")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Phone (optional)").fill("0722123456")
    page.get_by_label("Account type").select_option(label=account_type)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()


def log_in(page, email: str, password: str = PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page).not_to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("button", name="Log out", include_hidden=True)).to_be_attached()


def buy_and_pay(page, event_title: str, tier: str) -> None:
    """From an event page: one ticket of `tier`, paid with M-Pesa, up to "Payment received"."""
    expect(page.get_by_role("heading", level=1, name=event_title)).to_be_visible()
    page.get_by_label(f"Quantity for {tier}").fill("1")
    page.get_by_role("button", name="Buy tickets").click()
    expect(page).to_have_url(re.compile(r"/orders/\d+/pay$"))
    page.get_by_label("M-Pesa phone number").fill(next(PAY_PHONES))
    page.get_by_role("button", name="Pay with M-Pesa").click()
    expect(page.get_by_role("status").filter(has_text="Check your phone")).to_be_visible()
    expect(page.get_by_text("Payment received")).to_be_visible(timeout=30_000)


def local_input(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%dT%H:%M")


def test_attendee_buys_and_pays_with_mpesa(new_page, screenshot):
    page = new_page()
    register(page, "Esther Wambui", unique_email("buyer"))

    page.get_by_role("link", name="Events", exact=True).click()
    expect(page).to_have_url(re.compile(r"/events$"))
    expect(page.get_by_role("heading", name="Events", level=1)).to_be_visible()
    expect(page.get_by_role("link", name="Nairobi Jazz Nights")).to_be_visible()
    screenshot(page, "events_list")
    page.get_by_label("Search events").fill("Jazz")
    page.get_by_role("link", name="Nairobi Jazz Nights").click()

    buy_and_pay(page, "Nairobi Jazz Nights", "Regular")
    page.get_by_role("link", name="View my tickets").click()

    expect(page).to_have_url(re.compile(r"/tickets$"))
    ticket = page.get_by_role("article").filter(has_text="Nairobi Jazz Nights")
    expect(ticket).to_have_count(1)
    expect(ticket).to_contain_text("Regular")
    expect(ticket).to_contain_text("Valid")
    qr = ticket.get_by_role("img", name=re.compile(r"^QR code for ticket #\d+$"))
    expect(qr).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())
    assert qr.evaluate("img => img.naturalWidth") > 0
    screenshot(page, "attendee_buys_and_pays")


def test_organizer_creates_event_and_sees_a_sale(new_page, screenshot):
    organizer = new_page()
    register(organizer, "Baraka Events", unique_email("organizer"), account_type="Organizer")
    organizer.get_by_role("link", name="Dashboard").click()
    organizer.get_by_role("button", name="New event").click()

    title = f"E2E Sundowner {uuid.uuid4().hex[:6]}"
    starts = datetime.now().replace(second=0, microsecond=0) + timedelta(days=21)
    organizer.get_by_label("Title").fill(title)
    organizer.get_by_label("Description").fill("Music at sunset, tested end to end.")
    organizer.get_by_label("Venue").fill("Karura Forest")
    organizer.get_by_label("City").fill("Nairobi")
    organizer.get_by_label("Category").select_option("music")
    organizer.get_by_label("Starts at").fill(local_input(starts))
    organizer.get_by_label("Ends at").fill(local_input(starts + timedelta(hours=4)))
    organizer.get_by_label("Publish now").check()
    tier1 = organizer.get_by_role("group", name="Tier 1")
    tier1.get_by_label("Tier name").fill("Regular")
    tier1.get_by_label("Price").fill("1000")
    tier1.get_by_label("Quantity").fill("100")
    organizer.get_by_role("button", name="Add tier").click()
    tier2 = organizer.get_by_role("group", name="Tier 2")
    tier2.get_by_label("Tier name").fill("VIP")
    tier2.get_by_label("Price").fill("2500")
    tier2.get_by_label("Quantity").fill("20")
    organizer.get_by_role("button", name="Create event").click()
    expect(organizer.get_by_role("status").filter(has_text="created and published")).to_be_visible()
    expect(organizer.get_by_role("link", name=title)).to_be_visible()

    buyer = new_page()
    register(buyer, "Juma Mwangi", unique_email("fan"))
    buyer.goto("/events")
    buyer.get_by_label("Search events").fill(title)
    buyer.get_by_role("link", name=title).click()
    expect(buyer.get_by_label("Quantity for Regular")).to_be_visible()
    buy_and_pay(buyer, title, "VIP")

    organizer.reload()
    row = organizer.get_by_role("listitem").filter(has=organizer.get_by_role("link", name=title))
    row.get_by_role("button", name="Stats").click()
    stats = organizer.get_by_role("region", name=f"Stats for {title}")
    figures = stats.locator("dl.figures")
    for term in ("Tickets sold", "Revenue", "Checked in"):
        expect(figures.get_by_role("term").filter(has_text=re.compile(f"^{term}$"))).to_be_visible()
    expect(stats.get_by_test_id("tickets-sold")).to_have_text("1")
    expect(figures).to_contain_text("KES 2,500")
    expect(stats.get_by_test_id("checked-in")).to_have_text("0")
    expect(stats.locator("svg[role=img]")).to_be_visible()
    screenshot(organizer, "organizer_dashboard_stats")


def test_gate_staff_admits_a_ticket_once(new_page, server_url, screenshot):
    staff_email = unique_email("gate")
    api_register(server_url, "Gate Keeper", staff_email)

    organizer = new_page()
    log_in(organizer, "organizer@ticksy.test", "organizer-demo-pass")
    organizer.goto("/dashboard")
    row = organizer.get_by_role("listitem").filter(has=organizer.get_by_role("link", name="Nairobi Jazz Nights"))
    row.get_by_role("button", name="Stats").click()
    organizer.get_by_label("Staff emails").fill(staff_email)
    organizer.get_by_role("button", name="Save staff").click()
    expect(organizer.get_by_role("status").filter(has_text="Staff saved")).to_be_visible()
    expect(row).to_contain_text(staff_email)

    holder = new_page()
    log_in(holder, "attendee@ticksy.test", "attendee-demo-pass")
    holder.goto("/tickets")
    ticket = holder.get_by_role("article").filter(has_text="Nairobi Jazz Nights").first
    ticket.get_by_role("button", name="Show code").click()
    code = ticket.get_by_test_id("ticket-code").inner_text().strip()
    assert code.count(".") == 2  # a compact JWS

    gate = new_page(viewport={"width": 390, "height": 844})  # a phone at the gate
    log_in(gate, staff_email)
    gate.goto("/checkin")
    event_select = gate.get_by_label("Event")
    expect(event_select.locator("option", has_text="Nairobi Jazz Nights")).to_have_count(1)
    value = event_select.locator("option", has_text="Nairobi Jazz Nights").get_attribute("value")
    event_select.select_option(value)

    result = gate.get_by_test_id("gate-result")
    gate.get_by_label("Ticket code").fill(code)
    gate.get_by_role("button", name="Check in").click()
    expect(result).to_have_attribute("role", "status")
    expect(result).to_have_text(re.compile(r"^Admitted"))
    expect(result).to_contain_text("Wanjiku Kamau")
    screenshot(gate, "gate_admitted")

    gate.get_by_label("Ticket code").fill(code)
    gate.get_by_role("button", name="Check in").click()
    expect(result).to_have_text(re.compile(r"^Already used"))
    expect(result).to_contain_text("by Gate Keeper")
    screenshot(gate, "gate_already_used")

    gate.get_by_label("Ticket code").fill("not-a-ticket")
    gate.get_by_role("button", name="Check in").click()
    expect(result).to_have_text(re.compile(r"^Invalid ticket"))


def test_admin_grants_the_organizer_role(new_page, server_url, screenshot):
    email = unique_email("promoted")
    api_register(server_url, "Promoted Person", email)

    page = new_page()
    log_in(page, "admin@ticksy.test", "admin-demo-pass")
    expect(page.get_by_role("link", name="Admin")).to_be_visible()
    page.get_by_role("link", name="Admin").click()
    page.get_by_label("Search users").fill(email)
    table = page.get_by_role("table").filter(has=page.get_by_role("columnheader", name="Roles"))
    row = table.get_by_role("row").filter(has_text=email)
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("user-roles")).to_have_text("attendee")

    row.get_by_role("button", name="Edit roles").click()
    expect(row.get_by_label("admin", exact=True)).not_to_be_checked()
    expect(row.get_by_label("attendee", exact=True)).to_be_checked()
    row.get_by_label("organizer", exact=True).check()
    row.get_by_role("button", name="Save roles").click()
    expect(row.get_by_test_id("user-roles")).to_have_text("attendee, organizer")
    expect(page.get_by_role("status").filter(has_text="Roles of Promoted Person saved")).to_be_visible()

    page.reload()
    page.get_by_label("Search users").fill(email)
    row = page.get_by_role("row").filter(has_text=email)
    expect(row.get_by_test_id("user-roles")).to_have_text(re.compile(r"\borganizer\b"))
    screenshot(page, "admin_roles")
