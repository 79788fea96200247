"""With PROMETHEUS_MULTIPROC_DIR, /metrics sums what every worker process counted."""

import subprocess
import sys

from prometheus_client.parser import text_string_to_metric_families

from apps.stats import metrics
from tests.gateway_server import REPO_ROOT

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
