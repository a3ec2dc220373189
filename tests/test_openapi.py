"""The served OpenAPI document is valid and describes every route; the docs UI works offline."""
import re

from openapi_spec_validator import validate

UNDOCUMENTED = {"api-docs.openapi_json", "api-docs.openapi_swagger_ui", "docs_assets.swagger_asset"}
IGNORED_METHODS = {"HEAD", "OPTIONS"}


def openapi_path(rule: str) -> str:
    """`/api/events/<int:event_id>` → `/api/events/{event_id}`."""
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule)


def test_document_is_valid_openapi(client):
    resp = client.get("/api/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    validate(spec)


def test_document_lists_every_api_route_with_its_methods(app, client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    expected = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") and rule.endpoint not in UNDOCUMENTED:
            expected |= {(openapi_path(rule.rule), method.lower())
                         for method in rule.methods - IGNORED_METHODS}
    documented = {(path, method) for path, item in paths.items() for method in item
                  if method in {"get", "post", "put", "patch", "delete"}}
    assert expected, "no API routes found"
    assert expected - documented == set()
    assert documented - expected == set()


def test_every_operation_has_a_summary(client):
    paths = client.get("/api/openapi.json").get_json()["paths"]
    missing = [(path, method) for path, item in paths.items() for method, op in item.items()
               if isinstance(op, dict) and not op.get("summary")]
    assert missing == []


def test_docs_page_loads_its_assets_locally(client):
    resp = client.get("/api/docs")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    html = resp.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets, html
    assert all(url.startswith("/api/docs/assets/") for url in assets), assets
    assert '"/api/openapi.json"' in html
    for url in assets:
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.get_data()) > 1000, url


def test_money_is_documented_as_a_decimal_string(client):
    """API.md sends money as "1500.00": the document must not call it a number."""
    schemas = client.get("/api/openapi.json").get_json()["components"]["schemas"]
    for schema, field in [("TicketTypeOut", "price"), ("OrderOut", "total"),
                          ("PaymentOut", "amount"), ("TicketTypeIn", "price")]:
        prop = schemas[schema]["properties"][field]
        assert prop["type"] == "string" and prop["format"] == "decimal", (schema, prop)
        assert re.fullmatch(prop["pattern"], "1500.00")
    price_from = schemas["EventOut"]["properties"]["price_from"]
    assert price_from["type"] == "string" and price_from.get("nullable") is True
