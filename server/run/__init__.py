"""How a process starts: the WSGI app (wsgi), the production server (serve), the Celery worker (worker)."""
