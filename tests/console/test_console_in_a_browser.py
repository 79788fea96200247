"""A platform engineer's tour of the console in Chromium, against the gateway served by
uvicorn: log in, create a team with a small budget and a key in it (the raw key read once
from the page), send traffic with the OpenAI SDK until the budget refuses it, watch the
dashboard count the requests, the spend and the refusals without a reload, find the key's
and the team's requests and export them, delete a semantic cache entry, revoke the key and
see the API refuse it."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

import openai
import pytest
from django.contrib.auth.models import User
from django.utils import timezone

from apps.cache.models import SemanticCacheEntry
from apps.keys.models import ApiKey, Team
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
    with chromium_page() as page:
        page.goto(f"{console.url}/admin/")
        page.fill("#id_username", "platform")
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#gateway-dashboard")
        assert "Prometheus Gateway" in page.title() and page.locator("text=View site").count() == 0

        # A team with a budget of a few requests, and a key in it, made in the console.
        page.goto(f"{console.url}/admin/keys/team/add/")
        page.fill("#id_name", "checkout-team")
        page.fill("#id_budget_usd", "0.001")
        page.click("input[name=_save]")
        page.wait_for_selector(".messagelist .success")
        team = Team.objects.get(name="checkout-team")
        page.goto(f"{console.url}/admin/keys/apikey/add/")
        page.fill("#id_name", "checkout-service")
        page.select_option("#id_team", label="checkout-team")
        page.click("input[name=_save]")
        shown_once = text_of(page, ".messagelist .warning")
        raw_key = re.search(r"it will not be shown again\): (\S+)", shown_once).group(1)
        api_key = ApiKey.objects.get(name="checkout-service")
        assert api_key.team_id == team.pk and api_key.prefix == raw_key[: len(api_key.prefix)]
        entry = SemanticCacheEntry.objects.create(
            namespace=api_key.namespace, scope="0" * 64, question="How do I reset my router password?",
            embedding=[0.05] * 384, completion={"choices": []}, expires_at=timezone.now() + timezone.timedelta(days=1),
        )

        page.goto(f"{console.url}/admin/")
        page.wait_for_function("document.getElementById('gateway-dashboard').dataset.live === 'websocket'")
        page.wait_for_function("document.getElementById('figure-requests').textContent === '0'")
        answered, refusal = 0, None
        while refusal is None and answered < 12:
            try:
                chat(console, raw_key, f"checkout question {answered} fake:words=40")
                answered += 1
            except openai.RateLimitError as error:
                refusal = error
        assert refusal is not None and refusal.code == "budget_exceeded" and answered >= 1
        sent = answered + 1
        # No reload: the figures arrive over the WebSocket.
        page.wait_for_function(f"document.getElementById('figure-requests').textContent === '{sent}'")
        page.wait_for_function("document.getElementById('figure-budget-refused').textContent === '1'")
        assert text_of(page, "#figure-spend") != "$0.0000"
        page.wait_for_selector("#table-keys a:text('checkout-service')")
        team_row = page.locator("#table-teams tr", has=page.locator("a:text('checkout-team')"))
        team_row.wait_for()
        assert "% used" in team_row.inner_text()
        assert team_row.locator("a").get_attribute("href") == f"/admin/keys/team/{team.pk}/change/"
        page.wait_for_timeout(500)  # let the charts finish drawing before the picture
        # The README's picture is refreshed on request only, so a test run leaves git clean.
        docs_copy = [DOCS / "console-dashboard.png"] if os.environ.get("GATEWAY_UPDATE_SCREENSHOTS") == "1" else []
        screenshot(page, "dashboard", *docs_copy)

        page.goto(f"{console.url}/admin/stats/usagerecord/")
        page.click("#changelist-filter a:text-is('checkout-service')")
        page.wait_for_url("**key=*")
        assert page.locator("#result_list tbody tr").count() == sent
        assert " ms" in text_of(page, "#result_list tbody tr:first-child td.field-latency")
        assert "budget_exceeded" in text_of(page, "#result_list tbody tr:first-child td.field-error_code")
        screenshot(page, "request-log")
        with page.expect_download() as download:
            page.click("#export-csv")
        rows = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
        assert len(rows) == sent and {row["key_name"] for row in rows} == {"checkout-service"}
        assert [row["error_code"] for row in rows].count("budget_exceeded") == 1
        page.goto(f"{console.url}/admin/stats/usagerecord/")
        page.click("#changelist-filter a:text-is('checkout-team')")
        page.wait_for_url("**team=*")
        assert page.locator("#result_list tbody tr").count() == sent

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
