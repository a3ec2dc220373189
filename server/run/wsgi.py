"""WSGI entry point: `gunicorn server.run.wsgi:app` (production settings unless TICKSY_ENV says otherwise)."""
import os

from server import create_app

app = create_app(os.environ.get("TICKSY_ENV", "production"))
