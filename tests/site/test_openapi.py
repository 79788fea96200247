import json
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from openapi_spec_validator import validate

from gateway_site.middleware import is_admin_api_path

pytestmark = pytest.mark.django_db


def api_routes() -> set[str]:
    """Every route clients can call, as OpenAPI paths (the console and static files excluded)."""
    routes = set()

    def walk(patterns, prefix=""):
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern):
                routes.add(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", "/" + route))  # <path:id> -> {id}

    walk(get_resolver().url_patterns)
    from apps.completions.urls import api_routes  # /v1/, served outside Django's resolver
    from apps.embeddings.urls import api_routes as embedding_routes

    routes.update(re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.pattern) for route in [*api_routes, *embedding_routes])
    assert "/v1/models/{model_id}" in routes
    return {
        route for route in routes
        if not route.startswith(("/^static", "/docs", "/redoc", "/openapi.json"))
        and not (route.startswith("/admin/") and not is_admin_api_path(route))  # the console
        and "(?P" not in route  # the admin API's catch-all 404
    }


def test_it_serves_a_valid_openapi_document_without_a_key(client):
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    validate(document)
    assert document["components"]["securitySchemes"]["ApiKeyHeader"].items() >= {"type": "apiKey", "in": "header", "name": "X-API-Key"}.items()
    assert document["components"]["securitySchemes"]["BearerAuth"]["scheme"] == "bearer"
    assert "Error" in document["components"]["schemas"]


def test_it_documents_every_route(client):
    documented = set(json.loads(client.get("/openapi.json").content)["paths"])
    assert api_routes() - documented == set()


def test_it_documents_errors_in_the_contract_shape(client):
    paths = json.loads(client.get("/openapi.json").content)["paths"]
    models = paths["/v1/models"]["get"]["responses"]
    assert models["401"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}


def test_it_serves_swagger_and_redoc_from_local_assets(client):
    for path in ("/docs", "/redoc"):
        page = client.get(path)
        assert page.status_code == 200
        html = page.content.decode()
        assert "cdn" not in html.lower() and "/static/drf_spectacular_sidecar/" in html
    asset = client.get("/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js")
    assert asset.status_code == 200


def test_it_documents_the_probes_as_public(client):
    paths = json.loads(client.get("/openapi.json").content)["paths"]
    for path in ("/health/live", "/health/ready"):
        assert paths[path]["get"]["security"] == [{}] and "401" not in paths[path]["get"]["responses"]
        assert client.get(path).status_code in (200, 503)
    assert "security" not in paths["/health"]["get"]  # the document's: a key


def test_it_documents_the_request_schema_it_enforces(client):
    document = json.loads(client.get("/openapi.json").content)
    body = document["paths"]["/v1/chat/completions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/CreateChatCompletionRequest"}
    tool_message = document["components"]["schemas"]["ChatCompletionRequestToolMessage"]
    assert set(tool_message["required"]) == {"role", "content", "tool_call_id"}  # as validation.py refuses it
