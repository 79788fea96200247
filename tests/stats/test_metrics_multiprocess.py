"""With PROMETHEUS_MULTIPROC_DIR, /metrics sums what every worker process counted."""

import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.stats import metrics
from gateway_site.worker_metrics import SharedMetricsDirectory
from tests.gateway_server import REPO_ROOT, GatewayServer

WORKER = """
from apps.stats import metrics
metrics.REQUESTS.labels("POST", "/v1/chat/completions", "200").inc({count})
metrics.CIRCUIT_STATE.labels("openai").set({breaker})
"""


def run_worker(directory, count: int, breaker: int) -> None:
    env = {"PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(REPO_ROOT)}
    subprocess.run([sys.executable, "-c", WORKER.format(count=count, breaker=breaker)], env=env, cwd=REPO_ROOT, check=True)


def test_it_sums_the_workers_values(tmp_path, monkeypatch):
    run_worker(tmp_path, 3, breaker=1)
    run_worker(tmp_path, 4, breaker=0)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    body, _ = metrics.render()
    found = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body.decode())
        for sample in family.samples
    }
    labels = (("endpoint", "/v1/chat/completions"), ("method", "POST"), ("status", "200"))
    assert found[("gateway_requests_total", labels)] == 7
    # The breaker gauge takes the highest value: one open worker shows the provider open.
    assert found[("gateway_circuit_breaker_open", (("provider", "openai"),))] == 1


def requests_counted(url: str, endpoint: str) -> float:
    body = urlopen(f"{url}/metrics").read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
        if sample.name == "gateway_requests_total" and sample.labels.get("endpoint") == endpoint
    )


def urlopen(url: str, key: str = ""):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return urllib.request.build_opener(urllib.request.ProxyHandler({})).open(urllib.request.Request(url, headers=headers), timeout=10)


@pytest.mark.django_db(transaction=True)
def test_it_sums_every_worker_of_manage_py_serve_without_any_setting(tmp_path, user_key):
    # Nothing but --workers 2: `serve` sets up the shared directory itself (in TMPDIR here,
    # so the test sees it go away at the end).
    env = {"GATEWAY_METRICS_ALLOWED_IPS": "127.0.0.1", "TMPDIR": str(tmp_path)}
    with GatewayServer(env, workers=2, manage_py_serve=True) as server:
        # /v1/ requests are counted before their answer is sent, so a scrape never races them.
        before = requests_counted(server.url, "/v1/models")
        for _ in range(100):
            urlopen(f"{server.url}/v1/models", user_key).read()
        # Each scrape lands on either worker; every one must see all 100.
        scrapes = [requests_counted(server.url, "/v1/models") for _ in range(10)]
        assert scrapes == [before + 100] * 10
        assert list(tmp_path.glob("gateway-metrics-*/counter_*.db"))
    assert not list(tmp_path.glob("gateway-metrics-*"))  # removed on exit


def test_it_drops_a_dead_workers_live_gauges_and_keeps_its_counts(tmp_path):
    run_worker(tmp_path, 3, breaker=1)  # this worker has exited: its breaker gauge must go
    directory = SharedMetricsDirectory(str(tmp_path))
    assert directory.reap_dead_workers()
    assert not list(tmp_path.glob("gauge_livemax_*.db"))
    assert list(tmp_path.glob("counter_*.db"))
