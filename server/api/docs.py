"""Serves the Swagger UI assets shipped by `swagger-ui-bundle`, so the docs work offline."""
from flask import Blueprint, send_from_directory
from swagger_ui_bundle import swagger_ui_path

assets = Blueprint("docs_assets", __name__)


@assets.get("/api/docs/assets/<path:filename>")
def swagger_asset(filename: str):
    """A static Swagger UI file."""
    return send_from_directory(swagger_ui_path, filename, max_age=86400)
