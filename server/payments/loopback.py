"""Serve a WSGI app on a loopback port from a daemon thread (the simulator, test fakes)."""
import threading

from werkzeug.serving import BaseWSGIServer, make_server


def serve_in_thread(wsgi_app, host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str]:
    """Start serving `wsgi_app`; returns the server (call `.shutdown()`) and its base URL."""
    server = make_server(host, port, wsgi_app, threaded=True)
    threading.Thread(target=server.serve_forever, name=f"loopback-{server.server_port}",
                     daemon=True).start()
    return server, f"http://{host}:{server.server_port}"
