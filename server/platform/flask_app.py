"""The Flask class Ticksy runs on: Flask without per-request work a bearer-token API never needs.

- No cookie session: every request authenticates with its bearer token, so opening (and
  signing) a cookie session on each request is waste. `flask.session` is Flask's null session,
  which refuses writes.
- Flask asks for every hook and view on every request whether it is a coroutine function
  (`ensure_sync`); the answer never changes, so it is worked out once per function.
"""
from flask import Flask
from flask.sessions import SessionInterface


class NoSessions(SessionInterface):
    """No session cookie is read or written."""

    def open_session(self, app, request):
        return self.make_null_session(app)

    def save_session(self, app, session, response) -> None:
        return None


class TicksyFlask(Flask):
    session_interface = NoSessions()

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._callables: dict = {}

    def ensure_sync(self, func):
        """Flask's own answer (async functions run through `async_to_sync`), kept per function."""
        try:
            return self._callables[func]
        except KeyError:
            return self._callables.setdefault(func, super().ensure_sync(func))
        except TypeError:  # an unhashable callable: asked each time, as Flask does
            return super().ensure_sync(func)
