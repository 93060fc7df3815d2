"""One real Gunicorn and one headless Debian Chromium (driven by Playwright) for the module.

Playwright never downloads a browser here: it drives the system's /usr/bin/chromium (the
Debian package `chromium`, installed by deploy/system-deps.sh).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.servers import ROOT, free_port, gunicorn, require_binary

ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


class StaticPage:
    """A page of another loopback origin (another port): what a web frontend would be."""

    def __init__(self, html: str, port: int | None = None) -> None:
        page = html.encode()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - http.server's naming
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> StaticPage:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def frontend_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def api(pristine_models, tmp_path_factory, frontend_port):
    """kosprice under Gunicorn, letting pages of one other loopback origin call it."""
    tmp = tmp_path_factory.mktemp("browser")
    with gunicorn(tmp, {"KOSPRICE_MODELS_DIR": str(pristine_models),
                        "KOSPRICE_CORS_ORIGINS": f"http://127.0.0.1:{frontend_port}"},
                  workers=2) as server:
        yield server


@pytest.fixture(scope="session")
def browser():
    chromium = require_binary("chromium", "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 1600})
    yield context.new_page()
    context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
