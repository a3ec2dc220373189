"""One blueprint per resource, registered with the Api in `create_app`."""
from server.api import (admin, auth, client, docs, events, gate, health, orders, organizer, payments,
                        reviews, ticket_types, tickets, users)

BLUEPRINTS = [health.blp, auth.blp, users.blp, events.blp, ticket_types.blp, orders.blp,
              tickets.blp, gate.blp, reviews.blp, organizer.blp, payments.blp, admin.blp]


def register_blueprints(api, app) -> None:
    """Register every API blueprint, then the docs assets and the web client."""
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    app.register_blueprint(docs.assets)
    app.url_map.converters["client_path"] = client.ClientPathConverter
    app.register_blueprint(client.client)
