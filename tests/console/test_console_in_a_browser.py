"""A platform engineer's tour of the console in Chromium, against the gateway served by
uvicorn: log in, watch the dashboard fill in without a reload, find the key's requests
and export them, delete a semantic cache entry, revoke the key and see the API refuse it."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import openai
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.cache.models import SemanticCacheEntry
from apps.keys.services import key_create
from tests.conftest import needs_redis
from tests.console.browser import chromium_page, screenshot
from tests.gateway_server import GatewayServer

pytestmark = pytest.mark.django_db(transaction=True)

DOCS = Path(__file__).resolve().parents[2] / "docs"
PASSWORD = "a-long-console-password"


@pytest.fixture
def console(fake_upstream, monkeypatch):
    # Playwright's sync API runs an event loop in this thread: Django would refuse the
    # test's own ORM calls, which are plain synchronous code.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    needs_redis()
    User.objects.create_superuser("platform", "platform@example.com", PASSWORD)
    with GatewayServer(fake_upstream.env()) as server:
        yield server


def chat(server: GatewayServer, raw_key: str, text: str):
    client = openai.OpenAI(base_url=f"{server.url}/v1", api_key=raw_key, max_retries=0)
    return client.chat.completions.create(
        model="gpt-4o", messages=[{"role": "user", "content": text}], extra_headers={"Cache-Control": "no-store"},
    )


def text_of(page, selector: str) -> str:
    return page.locator(selector).inner_text().strip()


def test_it_serves_a_platform_engineers_tour(console):
    api_key, raw_key = key_create(name="checkout-service")
    entry = SemanticCacheEntry.objects.create(
        namespace=api_key.namespace, scope="0" * 64, question="How do I reset my router password?",
        embedding=[0.05] * 384, completion={"choices": []}, expires_at=timezone.now() + timezone.timedelta(days=1),
    )
    with chromium_page() as page:
        page.goto(f"{console.url}/admin/")
        page.fill("#id_username", "platform")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#gateway-dashboard")
        assert "Prometheus Gateway" in page.title() and page.locator("text=View site").count() == 0
        page.wait_for_function("document.getElementById('gateway-dashboard').dataset.live === 'websocket'")
        page.wait_for_function("document.getElementById('figure-requests').textContent === '0'")

        for index in range(3):
            chat(console, raw_key, f"checkout question {index} fake:words=40")
        # No reload: the figures arrive over the WebSocket.
        page.wait_for_function("document.getElementById('figure-requests').textContent === '3'")
        assert text_of(page, "#figure-spend") != "$0.0000"
        page.wait_for_selector("#table-keys a:text('checkout-service')")
        page.wait_for_timeout(500)  # let the charts finish drawing before the picture
        # The README's picture is refreshed on request only, so a test run leaves git clean.
        docs_copy = [DOCS / "console-dashboard.png"] if os.environ.get("GATEWAY_UPDATE_SCREENSHOTS") == "1" else []
        screenshot(page, "dashboard", *docs_copy)

        page.goto(f"{console.url}/admin/stats/usagerecord/")
        page.click("#changelist-filter a:text-is('checkout-service')")
        page.wait_for_url("**key=*")
        assert page.locator("#result_list tbody tr").count() == 3
        assert " ms" in text_of(page, "#result_list tbody tr:first-child td.field-latency")
        screenshot(page, "request-log")
        with page.expect_download() as download:
            page.click("#export-csv")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert len(rows) == 3 and {row["key_name"] for row in rows} == {"checkout-service"}

        page.goto(f"{console.url}/admin/cache/")
        page.fill("#semantic-q", "router password")
        page.click("#semantic-search input[type=submit]")
        page.check(f"input[name=_selected_action][value='{entry.pk}']")
        page.select_option("select[name=action]", "delete_selected")
        page.click("button[name=index]")
        page.click("input[type=submit]")  # "Yes, I'm sure"
        page.wait_for_selector(".messagelist .success")
        assert not SemanticCacheEntry.objects.filter(pk=entry.pk).exists()

        page.goto(f"{console.url}/admin/keys/apikey/{api_key.pk}/change/")
        screenshot(page, "key")
        page.on("dialog", lambda dialog: dialog.accept())
        page.click("#revoke-button")
        page.wait_for_selector("#revoked-banner")
    with pytest.raises(openai.AuthenticationError):
        chat(console, raw_key, "after the revocation")
