"""/redoc, the API reference, opened in Chromium: it renders, and nothing is fetched from
outside the gateway (no Google Fonts; Redoc's bundle asks for a logo on cdn.redoc.ly, which
the page's Content-Security-Policy stops inside the browser)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

from tests.console.browser import chromium_page
from tests.gateway_server import GatewayServer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def served(monkeypatch):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop here
    with GatewayServer() as server:
        yield server


def test_it_renders_redoc_with_nothing_fetched_from_outside(served):
    requested: list[str] = []
    blocked: list[str] = []
    with chromium_page() as page:
        page.on("request", lambda request: requested.append(request.url))
        # Chromium names a request its page's policy refused "csp" (it never left the browser).
        page.on("requestfailed", lambda request: blocked.append(request.url) if request.failure == "csp" else None)
        page.goto(f"{served.url}/redoc", wait_until="networkidle")
        page.locator("h2", has_text="Create a chat completion").first.wait_for()
    origin = urlsplit(served.url).netloc
    outside = [url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != origin]
    assert set(outside) <= set(blocked), f"fetched from outside the gateway: {set(outside) - set(blocked)}"
    assert any(url.endswith("/openapi.json") for url in requested)
