"""/stats is for admin keys, and never shows a raw key: only a prefix and an ellipsis."""

import pytest

from apps.keys.services import key_create
from apps.stats import usage
from apps.stats.usage import UsageData

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("empty_usage_buffer")]


def test_it_refuses_a_missing_or_normal_key(client, user_key):
    assert client.get("/stats").status_code == 401
    denied = client.get("/stats", HTTP_AUTHORIZATION=f"Bearer {user_key}")
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"


def test_it_shows_masked_keys_only(client, admin_key):
    raw_keys = []
    for name in ("ivan", "judy"):
        api_key, raw = key_create(name=name)
        raw_keys.append(raw)
        usage.usage_record(UsageData(request_id="req_mask", status_code=200, api_key_id=api_key.pk,
                                     key_prefix=api_key.prefix, provider="openai", model="gpt-4o"))
    usage.flush_all()
    response = client.get("/stats", HTTP_X_API_KEY=admin_key)
    users = response.json()["rate_limit_stats"]["top_users"]
    assert {user["api_key"] for user in users} == {raw[:12] + "…" for raw in raw_keys}
    for raw in raw_keys + [admin_key]:
        assert raw not in response.content.decode()
