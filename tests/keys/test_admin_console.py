"""The Django admin as the management console for API keys."""

import pytest
from django.contrib.auth.models import User

from apps.keys.models import ApiKey
from apps.keys.registry import key_lookup
from apps.keys.services import key_create

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def operator(client):
    user = User.objects.create_superuser("operator", "op@example.com", "a-long-test-password")
    client.force_login(user)
    return client


def test_it_lists_keys_for_a_staff_user(operator):
    key_create(name="alice")
    page = operator.get("/admin/keys/apikey/")
    assert page.status_code == 200 and b"alice" in page.content


def test_it_shows_a_new_raw_key_once_and_stores_its_hash(operator):
    page = operator.post(
        "/admin/keys/apikey/add/",
        {"name": "from-console", "rpm": "30", "tpm": "", "cache_namespace": "", "expires_at_0": "", "expires_at_1": ""},
        follow=True,
    )
    assert page.status_code == 200
    messages = [str(m) for m in page.context["messages"]]
    raw = next(m for m in messages if "pgw-" in m).split(": ")[-1].strip()
    assert key_lookup(raw).rpm == 30
    listing = operator.get("/admin/keys/apikey/").content.decode()
    assert raw not in listing


def test_it_edits_limits_and_revokes(operator):
    api_key, raw = key_create(name="alice")
    change_url = f"/admin/keys/apikey/{api_key.pk}/change/"
    assert operator.get(change_url).status_code == 200
    operator.post(
        change_url,
        {"name": "alice", "rpm": "99", "tpm": "1000", "allowed_models": ["gpt-4o"], "cache_namespace": "", "expires_at_0": "", "expires_at_1": ""},
    )
    assert ApiKey.objects.get(pk=api_key.pk).rpm == 99
    operator.post("/admin/keys/apikey/", {"action": "revoke_selected", "_selected_action": [api_key.pk]})
    assert ApiKey.objects.get(pk=api_key.pk).revoked_at is not None


def test_it_keeps_anonymous_visitors_out(client):
    response = client.get("/admin/keys/apikey/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_it_shows_usage_records_read_only(operator):
    from apps.stats.usage import UsageData, flush_all, usage_record

    usage_record(UsageData(request_id="req_console_1", status_code=200, key_prefix="pgw-console", model="gpt-4o",
                           provider="openai", prompt_tokens=3, completion_tokens=4))
    flush_all()
    page = operator.get("/admin/stats/usagerecord/")
    assert page.status_code == 200 and b"pgw-console" in page.content
    assert operator.get("/admin/stats/usagerecord/add/").status_code == 403
    assert operator.get("/admin/stats/usagerecord/?q=req_console_1").status_code == 200


def test_its_front_page_shows_the_gateways_figures(operator):
    from apps.stats.usage import UsageData, flush_all, usage_record

    api_key, raw = key_create(name="dashboard-user")
    for index in range(3):
        usage_record(UsageData(request_id=f"req_dash_{index}", status_code=200, api_key_id=api_key.pk,
                               key_prefix=api_key.prefix, model="gpt-4o", provider="openai",
                               prompt_tokens=5, completion_tokens=5))
    flush_all()
    page = operator.get("/admin/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="gateway-dashboard"' in html and "Prometheus Gateway" in html and raw not in html
    figures = operator.get("/admin/dashboard/data?window=24h").json()
    assert figures["totals"]["requests"] == 3 and figures["totals"]["tokens"] == 30
    assert figures["top_keys"][0]["name"] == "dashboard-user" and figures["top_keys"][0]["requests"] == 3
