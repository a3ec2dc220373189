"""Demo data for development: accounts, events across Kenya with KES ticket tiers, paid orders
with their tickets, and reviews.

Everything is created through the services. Each record is first looked up by a natural key
(email; organizer and title; buyer and event; reviewer and event), so running the seed again
creates nothing new. Run it with `flask seed` (`make run` does) or `python seed.py`. The demo
logins are in the README.
"""
from contextlib import contextmanager
from datetime import datetime, time, timedelta, timezone
from decimal import Decimal

import click
from flask import current_app
from sqlalchemy import select

from server.extensions import db
from server.models import Event, PaymentProvider, Review, TicketOrder, User, utcnow
from server.platform.phone import normalize_phone
from server.services.accounts import ensure_admin, find_user_by_email, register_user
from server.services.catalog import create_event, create_review
from server.services.orders import place_order
from server.services.payments import record_settled

EAT = timezone(timedelta(hours=3), "EAT")

# The README's published demo logins (bandit B105): `flask seed` refuses to run in production.
ADMIN = {"name": "Ticksy Admin", "email": "admin@ticksy.test",
         "password": "admin-demo-pass"}  # nosec B105
ORGANIZER_PASSWORD = "organizer-demo-pass"  # nosec B105
ATTENDEE_PASSWORD = "attendee-demo-pass"  # nosec B105
ORGANIZERS = [
    {"name": "Amani Live", "email": "organizer@ticksy.test", "phone": "0711000001"},
    {"name": "Pwani Experiences", "email": "organizer2@ticksy.test", "phone": "0711000002"},
]
ATTENDEES = [
    {"name": "Wanjiku Kamau", "email": "attendee@ticksy.test", "phone": "0722000001"},
    {"name": "Otieno Odhiambo", "email": "otieno@ticksy.test", "phone": "0722000002"},
    {"name": "Achieng Atieno", "email": "achieng@ticksy.test", "phone": None},
    {"name": "Kiprop Cheruiyot", "email": "kiprop@ticksy.test", "phone": "0110000004"},
    {"name": "Fatuma Hassan", "email": "fatuma@ticksy.test", "phone": None},
]

# (organizer, title, category, city, venue, days from today (negative: past), start hour,
#  hours long, status, regular price, VIP price or None, early-bird price or None, description)
EVENTS = [
    ("organizer@ticksy.test", "Nairobi Jazz Nights", "music", "Nairobi", "Alliance Française",
     12, 19, 4, "published", 2500, 6000, 1800, "An evening of Kenyan and East African jazz."),
    ("organizer@ticksy.test", "Savannah Tech Summit", "tech", "Nairobi", "KICC",
     30, 9, 9, "published", 5000, 15000, 3500, "Talks and workshops on building software in Africa."),
    ("organizer@ticksy.test", "Kisumu Lakeside Food Festival", "food", "Kisumu", "Dunga Beach",
     20, 11, 8, "published", 1000, 3000, 700, "Fish, ugali and the best of Nyanza's kitchens."),
    ("organizer@ticksy.test", "Laugh Out Loud Nakuru", "comedy", "Nakuru", "Nakuru Players Theatre",
     9, 20, 3, "published", 1500, 3500, None, "Stand-up from Kenya's sharpest comedians."),
    ("organizer@ticksy.test", "Eldoret Half Marathon", "sports", "Eldoret", "Kipchoge Keino Stadium",
     45, 6, 6, "published", 1200, None, 800, "Run with champions on the roads of the Rift Valley."),
    ("organizer@ticksy.test", "Startup Pitch Night", "tech", "Nairobi", "iHub",
     60, 18, 3, "draft", 500, None, None, "Ten startups, five minutes each. Programme to follow."),
    ("organizer2@ticksy.test", "Mombasa Coastal Arts Fair", "arts", "Mombasa", "Fort Jesus",
     18, 10, 8, "published", 800, 2500, None, "Painters, carvers and weavers from the coast."),
    ("organizer2@ticksy.test", "Naivasha Sound Festival", "music", "Naivasha", "Camp Carnelley's",
     35, 14, 10, "published", 4000, 12000, 3000, "Two stages by the lake, from afternoon to late."),
    ("organizer2@ticksy.test", "Diani Beach Comedy Special", "comedy", "Diani", "Diani Beach Hotel",
     75, 20, 3, "draft", 2000, 5000, None, "Line-up to be announced."),
    ("organizer2@ticksy.test", "Rift Valley Wine & Dine", "food", "Nakuru", "Lake Nakuru Lodge",
     -4, 17, 5, "published", 3500, 8000, None, "A tasting menu paired with local and imported wine."),
    ("organizer@ticksy.test", "Blankets & Wine Nairobi", "music", "Nairobi", "Ngong Racecourse",
     -3, 13, 8, "published", 3000, 7500, 2200, "The picnic concert: bring a blanket, we bring music."),
    ("organizer2@ticksy.test", "Mombasa Rugby Sevens", "sports", "Mombasa", "Mombasa Sports Club",
     -2, 10, 9, "published", 1000, 2500, None, "A day of sevens rugby by the ocean."),
]

# (buyer email, event title, ticket type, quantity): paid orders for upcoming events
ORDERS = [
    ("attendee@ticksy.test", "Nairobi Jazz Nights", "Regular", 2),
    ("otieno@ticksy.test", "Nairobi Jazz Nights", "VIP", 1),
    ("achieng@ticksy.test", "Savannah Tech Summit", "Early bird", 1),
    ("kiprop@ticksy.test", "Savannah Tech Summit", "VIP", 2),
    ("attendee@ticksy.test", "Kisumu Lakeside Food Festival", "Regular", 4),
    ("fatuma@ticksy.test", "Mombasa Coastal Arts Fair", "Regular", 3),
    ("otieno@ticksy.test", "Naivasha Sound Festival", "Regular", 2),
    ("achieng@ticksy.test", "Naivasha Sound Festival", "VIP", 1),
]

# (reviewer email, event title, rating, comment); each reviewer also buys a Regular ticket first
REVIEWS = [
    ("attendee@ticksy.test", "Blankets & Wine Nairobi", 5, "Great line-up and a lovely afternoon."),
    ("otieno@ticksy.test", "Blankets & Wine Nairobi", 4, "Good music, long queues at the gate."),
    ("kiprop@ticksy.test", "Blankets & Wine Nairobi", 5, "Worth every shilling."),
    ("achieng@ticksy.test", "Rift Valley Wine & Dine", 4, "The tilapia course was the highlight."),
    ("fatuma@ticksy.test", "Rift Valley Wine & Dine", 3, "Tasty, but the portions were small."),
    ("otieno@ticksy.test", "Mombasa Rugby Sevens", 5, "Electric atmosphere all day."),
    ("attendee@ticksy.test", "Mombasa Rugby Sevens", 4, "Bring sunscreen!"),
]


def _ensure_user(spec: dict, password: str, role: str, created: dict) -> User:
    user = find_user_by_email(spec["email"])
    if user is None:
        user = register_user(name=spec["name"], email=spec["email"], password=password,
                             phone=spec["phone"], role=role)
        created["users"] += 1
    return user


def _at(days: int, hour: int) -> datetime:
    """`hour` o'clock Nairobi time, `days` from today."""
    day = datetime.now(EAT).date() + timedelta(days=days)
    return datetime.combine(day, time(hour), tzinfo=EAT)


def _tiers(starts_at: datetime, days: int, regular: int, vip: int | None,
           early: int | None) -> list[dict]:
    """Regular, VIP and Early-bird tiers in KES; early bird closes well before the event."""
    tiers = [{"name": "Regular", "price": Decimal(regular), "currency": "KES", "quantity": 300,
              "max_per_order": 10}]
    if vip is not None:
        tiers.append({"name": "VIP", "price": Decimal(vip), "currency": "KES", "quantity": 50,
                      "max_per_order": 4})
    if early is not None:
        lead = timedelta(days=max(days // 2, 1) if days > 0 else 7)
        tiers.append({"name": "Early bird", "price": Decimal(early), "currency": "KES",
                      "quantity": 100, "max_per_order": 4, "sales_end": starts_at - lead})
    return tiers


def _ensure_event(spec: tuple, organizers: dict[str, User], created: dict) -> Event:
    (email, title, category, city, venue, days, hour, hours, status, regular, vip, early,
     description) = spec
    organizer = organizers[email]
    event = db.session.scalar(select(Event).where(Event.organizer_id == organizer.id,
                                                  Event.title == title))
    if event is None:
        starts_at = _at(days, hour)
        event = create_event(organizer=organizer, data={
            "title": title, "description": description, "venue": venue, "city": city,
            "category": category, "starts_at": starts_at,
            "ends_at": starts_at + timedelta(hours=hours), "status": status,
            "ticket_types": _tiers(starts_at, days, regular, vip, early)})
        created["events"] += 1
    return event


@contextmanager
def _on_sale(event: Event):
    """Let an event that has already started take orders: its tickets were sold while it was
    still ahead, so it moves a day ahead for the sale and back to its real dates afterwards
    (seed data only: the API refuses dates in the past)."""
    starts_at, ends_at = event.starts_at, event.ends_at
    if starts_at <= utcnow():
        ahead = utcnow() + timedelta(days=1)
        event.starts_at, event.ends_at = ahead, ahead + (ends_at - starts_at)
        db.session.commit()
    yield
    event.starts_at, event.ends_at = starts_at, ends_at
    db.session.commit()


def _has_order(user: User, event: Event) -> bool:
    return db.session.scalar(select(TicketOrder.id).where(
        TicketOrder.buyer_id == user.id, TicketOrder.event_id == event.id).limit(1)) is not None


def _buy(user: User, event: Event, tier_name: str, quantity: int) -> None:
    """Place an M-Pesa order and record its payment as confirmed."""
    tier = next(t for t in event.ticket_types if t.name == tier_name)
    order = place_order(buyer=user, data={
        "event_id": event.id, "items": [{"ticket_type_id": tier.id, "quantity": quantity}],
        "payment_method": "mpesa"})
    record_settled(order_id=order.id, provider=PaymentProvider.MPESA,
                   receipt=f"SEED{order.id:06d}", phone=normalize_phone(user.phone or ""))


def _ensure_orders(event: Event, specs: list[tuple], users: dict[str, User],
                   created: dict) -> None:
    missing = [(users[email], tier, quantity) for email, _, tier, quantity in specs
               if not _has_order(users[email], event)]
    if not missing:
        return
    with _on_sale(event):
        for user, tier, quantity in missing:
            _buy(user, event, tier, quantity)
            created["orders"] += 1
            created["tickets"] += quantity


def _ensure_review(spec: tuple, users: dict[str, User], events: dict[str, Event],
                   created: dict) -> None:
    email, title, rating, comment = spec
    user, event = users[email], events[title]
    exists = db.session.scalar(select(Review.id).where(Review.user_id == user.id,
                                                       Review.event_id == event.id))
    if exists is None:
        create_review(event_id=event.id, user=user, data={"rating": rating, "comment": comment})
        created["reviews"] += 1


def run() -> dict:
    """Create whatever demo data is missing; returns how many records were created."""
    if current_app.config.get("ENV_NAME") == "production":
        raise RuntimeError("Refusing to load demo accounts into a production database.")
    created = {"users": 0, "events": 0, "orders": 0, "tickets": 0, "reviews": 0}
    admin, admin_created = ensure_admin(**ADMIN)
    created["users"] += int(admin_created)
    organizers = {spec["email"]: _ensure_user(spec, ORGANIZER_PASSWORD, "organizer", created)
                  for spec in ORGANIZERS}
    attendees = {spec["email"]: _ensure_user(spec, ATTENDEE_PASSWORD, "attendee", created)
                 for spec in ATTENDEES}
    events = {spec[1]: _ensure_event(spec, organizers, created) for spec in EVENTS}
    wanted = ORDERS + [(email, title, "Regular", 1) for email, title, _, _ in REVIEWS]
    for title, event in events.items():
        _ensure_orders(event, [spec for spec in wanted if spec[1] == title], attendees, created)
    for spec in REVIEWS:
        _ensure_review(spec, attendees, events, created)
    click.echo("Demo data: created {users} users, {events} events, {orders} orders "
               "({tickets} tickets), {reviews} reviews.".format(**created))
    return created


if __name__ == "__main__":
    from server import create_app

    with create_app().app_context():
        run()
