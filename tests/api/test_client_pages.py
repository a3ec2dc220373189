"""The built web client is served at `/`; API paths keep their JSON answers."""
import pytest


@pytest.fixture
def dist(app, tmp_path):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><div id=root></div>")
    (tmp_path / "assets" / "index-abc123.js").write_text("console.log(1)")
    (tmp_path / "favicon.svg").write_text("<svg/>")
    previous = app.config["CLIENT_DIST"]
    app.config["CLIENT_DIST"] = str(tmp_path)
    yield tmp_path
    app.config["CLIENT_DIST"] = previous


@pytest.mark.parametrize("path", ["/", "/events", "/events/12", "/tickets", "/login"])
def test_client_routes_get_the_entry_page(client, dist, path):
    resp = client.get(path)
    assert resp.status_code == 200
    assert "id=root" in resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"].startswith("no-cache") or "max-age=0" in \
        resp.headers["Cache-Control"]


def test_hashed_assets_are_cached_for_a_year(client, dist):
    resp = client.get("/assets/index-abc123.js")
    assert resp.status_code == 200
    assert "max-age=31536000" in resp.headers["Cache-Control"]
    assert client.get("/favicon.svg").status_code == 200


def test_a_missing_asset_is_404_not_the_entry_page(client, dist):
    assert client.get("/assets/gone-999.js").status_code == 404
    assert client.get("/robots.txt").status_code == 404


@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_unknown_api_paths_keep_the_json_envelope(client, dist, method):
    resp = getattr(client, method)("/api/no-such-thing")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"
    assert client.get("/api").status_code == 404


def test_a_post_to_a_client_page_is_405_in_the_envelope(client, dist):
    resp = client.post("/events")
    assert resp.status_code == 405
    assert resp.get_json()["error"]["code"] == "method_not_allowed"


def test_without_a_build_the_root_says_how_to_get_the_client(client, app, tmp_path):
    previous = app.config["CLIENT_DIST"]
    app.config["CLIENT_DIST"] = str(tmp_path / "nothing")
    try:
        resp = client.get("/")
    finally:
        app.config["CLIENT_DIST"] = previous
    assert resp.status_code == 200
    assert "make client" in resp.get_data(as_text=True)
