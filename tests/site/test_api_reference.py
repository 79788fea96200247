"""The API reference (/openapi.json, rendered by /redoc and /docs): a summary on every
operation, error examples that are what the code answers, which endpoints need an admin
key, realistic chat examples, the stream chunk's schema, and no generator warnings."""

from __future__ import annotations

import json

import orjson
import pytest
from django.core.management import call_command
from openapi_schema_validator import OAS30Validator

from apps.completions.request_schema import check_chat_schema
from apps.keys.services import key_create
from gateway_site import errors
from tests.conftest import needs_redis

pytestmark = pytest.mark.django_db

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def document(client) -> dict:
    return json.loads(client.get("/openapi.json").content)


def operations(document: dict):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def raised_errors() -> dict[int, set[tuple[str, str]]]:
    """(code, type) of every error class the gateway raises, by HTTP status."""
    found: dict[int, set[tuple[str, str]]] = {}
    pending = [errors.GatewayError]
    while pending:
        kind = pending.pop()
        pending.extend(kind.__subclasses__())
        found.setdefault(kind.status, set()).add((kind.code, kind.type))
    return found


def schema_validator(document: dict, name: str) -> OAS30Validator:
    """Validates against one of the document's schemas, its $refs resolved in the document."""
    return OAS30Validator({"components": document["components"], "$ref": f"#/components/schemas/{name}"})


def test_it_summarises_every_operation(document):
    missing = [f"{method.upper()} {path}" for path, method, operation in operations(document) if not operation.get("summary")]
    assert missing == []


def test_it_shows_error_examples_that_the_code_answers(document):
    raised = raised_errors()
    shown: set[str] = set()
    for path, method, operation in operations(document):
        for status, response in operation["responses"].items():
            content = response.get("content", {}).get("application/json", {})
            if int(status) < 400 or content.get("schema") != {"$ref": "#/components/schemas/Error"}:
                continue
            for name, example in content.get("examples", {}).items():
                error = example["value"]["error"]
                assert (error["code"], error["type"]) in raised[int(status)], f"{method} {path} {status}: {name}"
                shown.add(error["code"])
    assert {"invalid_api_key", "budget_exceeded", "rate_limit_exceeded", "provider_timeout"} <= shown
    chat = document["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert set(chat["429"]["content"]["application/json"]["examples"]) == {"rate_limit_exceeded", "budget_exceeded"}
    assert {name for name in chat} >= {"400", "401", "403", "413", "429", "500", "502", "503", "504"}
    assert "429" not in document["paths"]["/v1/models"]["get"]["responses"]  # listing models never counts


def test_it_marks_exactly_the_operations_that_refuse_a_normal_key(document, client):
    needs_redis()
    _, raw_key = key_create(name="ordinary")
    scheme = document["components"]["securitySchemes"]["ApiKeyHeader"]["description"]
    assert "admin" in scheme and "/stats" in scheme and "/health/live" in scheme
    for path, method, operation in operations(document):
        if path.startswith("/v1/") or operation.get("security") == [{}]:
            assert "admin API key" not in operation.get("description", ""), path
            continue
        answer = getattr(client, method)(path, HTTP_X_API_KEY=raw_key, content_type="application/json")
        refused = answer.status_code == 403 and json.loads(answer.content)["error"]["code"] == "permission_denied"
        documented = "Needs an admin API key" in operation.get("description", "")
        assert refused == documented, f"{method.upper()} {path}: answered {answer.status_code}"


def test_it_gives_chat_examples_the_gateway_accepts(document):
    body = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) >= {"question", "stream", "tools"}
    for example in body["examples"].values():
        check_chat_schema(example["value"])  # raises InvalidRequest otherwise
        assert example["value"]["messages"][-1]["content"].strip()
    answer = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]["application/json"]
    schema_validator(document, "ChatCompletion").validate(answer["example"])


@pytest.mark.django_db(transaction=True)
def test_it_documents_the_stream_chunks_the_gateway_sends(document, api):
    needs_redis()
    _, raw_key = key_create(name="streamer")
    stream = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]["text/event-stream"]
    assert stream["schema"] == {"$ref": "#/components/schemas/ChatCompletionChunk"}
    answer = api.post("/v1/chat/completions", headers={"Authorization": f"Bearer {raw_key}", "Cache-Control": "no-store"},
                      json={"model": "gpt-4o", "stream": True, "stream_options": {"include_usage": True},
                            "messages": [{"role": "user", "content": "Say three words fake:words=3"}]})
    assert answer.status_code == 200
    chunks = [orjson.loads(line[6:]) for line in answer.text.splitlines() if line.startswith("data: {")]
    validator = schema_validator(document, "ChatCompletionChunk")
    assert len(chunks) >= 3
    for chunk in chunks:
        validator.validate(chunk)
    documented_example = [line[6:] for line in stream["example"].splitlines() if line.startswith("data: {")]
    for chunk in documented_example:
        validator.validate(orjson.loads(chunk))


def test_it_generates_the_document_without_warnings(tmp_path):
    # --fail-on-warn turns any warning or error of the generator into a failure.
    call_command("spectacular", "--validate", "--fail-on-warn", "--format", "openapi-json", "--file", str(tmp_path / "api.json"))
    assert json.loads((tmp_path / "api.json").read_text())["paths"]
