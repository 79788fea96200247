"""Regenerates chat_request.json from OpenAI's OpenAPI document (a maintenance tool; the
gateway never runs it): `python apps/completions/schemas/extract.py path/to/openapi.json`.

Keeps `CreateChatCompletionRequest` and every component it references, still in the
OpenAPI shape (`nullable`, `#/components/schemas/` references, `discriminator`), so the
same file serves the OpenAPI document and, converted, the validator. Removes what
validates nothing: descriptions, examples, titles, `format`, `default`, `x-*`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = "CreateChatCompletionRequest"
DROPPED = {"description", "example", "examples", "title", "deprecated", "format", "default"}


def _strip(node):
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    kept = {}
    for key, value in node.items():
        if key == "properties":  # property names are data, not keywords
            kept[key] = {name: _strip(schema) for name, schema in value.items()}
        elif key not in DROPPED and not key.startswith("x-"):
            kept[key] = _strip(value)
    return kept


def _references(node, found: set[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _references(item, found)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                found.add(value.rsplit("/", 1)[1])
            else:
                _references(value, found)


def extract(document: dict) -> dict:
    schemas = document["components"]["schemas"]
    kept, pending = {}, [ROOT]
    while pending:
        name = pending.pop()
        if name in kept:
            continue
        kept[name] = _strip(schemas[name])
        found: set[str] = set()
        _references(kept[name], found)
        pending.extend(sorted(found - kept.keys()))
    return dict(sorted(kept.items()))


if __name__ == "__main__":
    source = json.loads(Path(sys.argv[1]).read_text())
    result = {
        "$comment": (
            "Extracted by extract.py from github.com/openai/openai-openapi openapi.json "
            f"(info.version {source['info']['version']}). MIT licence, see README.md."
        ),
        "components": {"schemas": extract(source)},
    }
    target = Path(__file__).with_name("chat_request.json")
    target.write_text(json.dumps(result, indent=1, sort_keys=False) + "\n")
    print(f"{target}: {len(result['components']['schemas'])} schemas")
