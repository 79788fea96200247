"""GET /admin/cache/stats and POST /admin/cache/clear: admin key only, real figures,
true counts. Uses a Redis of its own so that every count is exact."""

import pytest
from django.test import override_settings

from tests.cache.conftest import ask, recall, remember

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def own_redis(disposable_redis):
    with override_settings(REDIS_URL=disposable_redis.url):
        yield disposable_redis


@pytest.fixture
def filled(own_redis, namespace, other_namespace):
    """3 exact + 2 semantic entries in `namespace`, 1 + 1 in `other_namespace`, 1 semantic hit."""
    for number in range(3):
        remember(ask(f"What is {number} plus {number}?", temperature=0 if number < 2 else 1), namespace=namespace)
    remember(ask("What is the capital of Chile?", temperature=0), namespace=other_namespace)
    assert recall(ask("what's the capital of Chile", temperature=0), namespace=other_namespace).kind == "semantic"


def test_it_reports_real_figures(client, key_for, filled):
    body = client.get("/admin/cache/stats", HTTP_X_API_KEY=key_for(admin=True)).json()
    redis_stats, semantic_stats = body["redis"], body["semantic_cache"]
    assert redis_stats["connected"] is True
    assert redis_stats["exact_entries"] == 4
    assert redis_stats["keys"] == 5  # the 4 answers and the semantic counters
    assert redis_stats["memory_usage"].endswith(("KB", "MB", "GB"))
    assert {"hits", "misses", "evictions"} <= set(redis_stats)
    assert semantic_stats["collection_size"] == 3
    assert semantic_stats["index_size"].endswith(("B", "KB", "MB"))
    assert (semantic_stats["queries"], semantic_stats["hits"]) == (4, 1)  # 3 misses before storing, 1 hit
    assert 0.85 < semantic_stats["avg_similarity"] <= 1.0
    assert semantic_stats["state"] == "enabled"


def test_it_clears_one_namespace_and_counts_what_went(client, key_for, filled, namespace, other_namespace):
    response = client.post("/admin/cache/clear", {"namespace": namespace}, content_type="application/json",
                           HTTP_X_API_KEY=key_for(admin=True))
    assert response.json() == {"status": "success", "message": "Cache cleared successfully",
                               "cleared": {"exact_cache": 3, "semantic_cache": 2}}
    assert recall(ask("What is 0 plus 0?", temperature=0), namespace=namespace) is None
    assert recall(ask("What is the capital of Chile?", temperature=0), namespace=other_namespace).kind == "exact"


def test_it_clears_only_the_cache_it_is_told_to(client, key_for, filled):
    admin = key_for(admin=True)
    only_semantic = client.post("/admin/cache/clear", {"semantic": True}, content_type="application/json",
                                HTTP_X_API_KEY=admin).json()["cleared"]
    assert only_semantic == {"exact_cache": 0, "semantic_cache": 3}
    everything = client.post("/admin/cache/clear", content_type="application/json", HTTP_X_API_KEY=admin).json()["cleared"]
    assert everything == {"exact_cache": 4, "semantic_cache": 0}
    stats = client.get("/admin/cache/stats", HTTP_X_API_KEY=admin).json()
    assert (stats["redis"]["exact_entries"], stats["semantic_cache"]["collection_size"]) == (0, 0)


def test_it_refuses_keys_without_the_admin_flag(client, key_for):
    assert client.get("/admin/cache/stats", HTTP_X_API_KEY=key_for()).status_code == 403
    assert client.post("/admin/cache/clear", HTTP_X_API_KEY=key_for()).json()["error"]["code"] == "permission_denied"
    assert client.post("/admin/cache/clear").status_code == 401


def test_it_reads_a_chunked_body_whole(api, key_for, filled, namespace, other_namespace):
    """No Content-Length: the front door reads the body before Django does, so a chunked
    {"namespace": ...} clears that namespace, not everything."""
    body = ('{"namespace": "%s"}' % namespace).encode()

    async def chunks():
        for start in range(0, len(body), 7):
            yield body[start:start + 7]

    response = api.post("/admin/cache/clear", content=chunks(),
                        headers={"X-API-Key": key_for(admin=True), "Content-Type": "application/json"})
    assert response.json()["cleared"] == {"exact_cache": 3, "semantic_cache": 2}
    assert recall(ask("What is the capital of Chile?", temperature=0), namespace=other_namespace).kind == "exact"


@pytest.mark.parametrize("namespace", [0, True, ["a"]])
def test_it_refuses_a_namespace_that_is_not_a_string(client, admin_key, namespace):
    response = client.post("/admin/cache/clear", {"namespace": namespace}, content_type="application/json",
                           HTTP_X_API_KEY=admin_key)
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_request"
    assert "namespace" in response.json()["error"]["message"]
