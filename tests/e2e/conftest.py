"""Browser tests: the Flask server (serving the built client at `/`) on a fresh database, driven
by Debian's Chromium through Playwright.

The server runs as a subprocess exactly as a developer runs it: `flask db upgrade`, `flask seed`,
then `flask run` on a free port, with the in-process M-Pesa simulator (MPESA_ENV=simulator).
"""
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT_DIST = ROOT / "client" / "dist"
CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
E2E_DATABASE = "ticksy_e2e"


def _skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is not installed (pipenv sync --dev)"
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium)"
    if not (CLIENT_DIST / "index.html").is_file():
        return "client/dist/index.html is missing (cd client && npm ci && npm run build)"
    return None


def pytest_collection_modifyitems(config, items):
    reason = _skip_reason()
    if reason is None:
        return
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.skip(reason=reason))


def _fresh_database() -> str:
    """Drops and creates `ticksy_e2e` on the test PostgreSQL server (TEST_DATABASE_URL's, or
    the embedded one the session's `app` fixture started); returns its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(os.environ["TEST_DATABASE_URL"])
    admin = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{E2E_DATABASE}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{E2E_DATABASE}"'))
    admin.dispose()
    return url.set(database=E2E_DATABASE).render_as_string(hide_password=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _flask() -> str:
    local = ROOT / ".venv" / "bin" / "flask"
    return str(local) if local.exists() else (shutil.which("flask") or "flask")


def _wait_healthy(base_url: str, proc: subprocess.Popen, log: Path, timeout: float = 40) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited ({proc.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/api/health", timeout=2) as res:
                if res.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"the server did not become healthy in {timeout}s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="session")
def server_url(app, tmp_path_factory):
    """Base URL of a Flask server on a fresh, seeded database; stopped at the end."""
    env = {
        **os.environ,
        "DATABASE_URL": _fresh_database(),
        "MPESA_ENV": "simulator",
        "MPESA_SIMULATOR_DELAY": "1",
        "TICKSY_ENV": "development",
        "TICKSY_CLIENT_DIST": str(CLIENT_DIST),
    }
    env.pop("FLASK_DEBUG", None)
    flask = _flask()
    for command in (["db", "upgrade"], ["seed"]):
        subprocess.run([flask, *command], cwd=ROOT, env=env, check=True, capture_output=True, timeout=120)
    port = _free_port()
    log = tmp_path_factory.mktemp("e2e-server") / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen([flask, "run", "--host", "127.0.0.1", "--port", str(port), "--no-reload"],
                                cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base_url, proc, log)
        yield base_url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def new_page(browser, server_url):
    """`new_page()` opens a page in a fresh browser context (its own localStorage: one user each)."""
    from playwright.sync_api import expect

    expect.set_options(timeout=15_000)
    contexts = []

    def make(viewport=None):
        context = browser.new_context(base_url=server_url, viewport=viewport or {"width": 1280, "height": 900},
                                      accept_downloads=True, timezone_id="Africa/Nairobi",
                                      locale="en-KE")
        context.set_default_timeout(15_000)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot():
    """Saves a full-page screenshot to tests/e2e/artifacts/<name>.png."""
    ARTIFACTS.mkdir(exist_ok=True)

    def take(page, name: str) -> Path:
        path = ARTIFACTS / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
