"""The chat-completions request checked against OpenAI's own request schema.

`schemas/chat_request.json` is `CreateChatCompletionRequest` and what it references, taken
from OpenAI's OpenAPI document (MIT; see schemas/README.md). The OpenAPI document of this
gateway publishes the same components, so what is documented is what is enforced.

Choice, measured (docs/benchmarks.md, "Request validation"): `jsonschema-rs` (Rust) checks
a typical body in about 6 µs; `fastjsonschema` took ~190 µs (every `oneOf` branch that
does not match raises a Python exception: five per message) and `jsonschema` ~1.4 ms. Only
a request that fails pays for the slower `jsonschema` walk, which finds the offending
field and says what was expected there.
Unknown fields pass: the request object is open, as OpenAI's is.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Any

import jsonschema
import jsonschema_rs
import orjson

from gateway_site.errors import InvalidRequest

ROOT = "CreateChatCompletionRequest"
_OPENAPI_REF = "#/components/schemas/"
COMPONENTS: dict[str, Any] = orjson.loads((Path(__file__).parent / "schemas" / "chat_request.json").read_bytes())[
    "components"]["schemas"]


def _json_schema(node: Any, *, discriminate: bool) -> Any:
    """An OpenAPI 3.0 schema object as JSON Schema draft 7: `nullable` becomes a null type,
    references point into `definitions`. With `discriminate`, a `oneOf` with a
    discriminator becomes one if/then per branch, so a failure is reported inside the
    branch the discriminator names (a tool message missing its content), not as "matches
    none of six"."""
    if isinstance(node, list):
        return [_json_schema(item, discriminate=discriminate) for item in node]
    if not isinstance(node, dict):
        return node
    result = {}
    for key, value in node.items():
        if key == "$ref":
            result[key] = "#/definitions/" + value.removeprefix(_OPENAPI_REF)
        elif key == "properties":
            result[key] = {name: _json_schema(schema, discriminate=discriminate) for name, schema in value.items()}
        elif key not in ("nullable", "discriminator"):
            result[key] = _json_schema(value, discriminate=discriminate)
    if discriminate and "discriminator" in node and "oneOf" in node:
        result = _if_then_branches(result, node["discriminator"]["propertyName"], node["oneOf"])
    if node.get("nullable"):
        result = _nullable(result)
    return result


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    if isinstance(schema.get("type"), str) and "enum" not in schema:
        return {**schema, "type": [schema["type"], "null"]}
    return {"anyOf": [{"type": "null"}, schema]}


def _if_then_branches(schema: dict[str, Any], field: str, branches: list[dict[str, str]]) -> dict[str, Any]:
    values, rules = [], []
    for branch in branches:
        name = branch["$ref"].removeprefix(_OPENAPI_REF)
        value = COMPONENTS[name]["properties"][field]["enum"][0]
        values.append(value)
        rules.append({"if": {"properties": {field: {"const": value}}, "required": [field]},
                      "then": {"$ref": "#/definitions/" + name}})
    rest = {key: value for key, value in schema.items() if key != "oneOf"}
    return {**rest, "type": "object", "required": [field], "properties": {field: {"enum": values}}, "allOf": rules}


def _document(*, discriminate: bool) -> dict[str, Any]:
    definitions = {name: _json_schema(schema, discriminate=discriminate) for name, schema in COMPONENTS.items()}
    return {"$schema": "http://json-schema.org/draft-07/schema#", "definitions": definitions,
            "$ref": f"#/definitions/{ROOT}"}


_fast = jsonschema_rs.Draft7Validator(_document(discriminate=False))
_explainer = jsonschema.Draft7Validator(_document(discriminate=True))


def check_chat_schema(payload: dict[str, Any]) -> None:
    """Raises InvalidRequest naming the first field that breaks OpenAI's request schema."""
    try:
        valid = _fast.is_valid(payload)
    except ValueError:  # a number past 64 bits, which the Rust validator cannot hold
        valid = _explainer.is_valid(payload)
    if not valid:
        raise _explain(payload)


def _explain(payload: dict[str, Any]) -> InvalidRequest:
    error = next(_explainer.iter_errors(payload), None)
    if error is None:  # the two validators disagree; should not happen, never a 500
        return InvalidRequest("The request does not match the chat completions schema")
    error = _innermost(error)
    path = deque(error.absolute_path)
    if error.validator == "required":
        path.append(next(name for name in error.validator_value if name not in error.instance))
    param = _param(path)
    return InvalidRequest(f"Invalid '{param}': {_reason(error)}" if param else _reason(error), param=param or None)


def _innermost(error: jsonschema.ValidationError) -> jsonschema.ValidationError:
    """For "matches none of the alternatives", the alternative the value was meant for: not
    one whose tag (`"type": "image_url"`) differs from the value's, and one that failed on
    more than the value's type (a number above its maximum, a part inside an array).
    When every alternative failed on the type alone, the alternatives are the answer."""
    while error.context:
        depth = len(error.absolute_path)
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context:
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        telling = [sub for subs in branches.values() if not any(_mismatch(sub, depth) for sub in subs) for sub in subs]
        if not telling:
            break
        error = max(telling, key=lambda sub: len(sub.absolute_path))
    return error


def _mismatch(error: jsonschema.ValidationError, depth: int) -> bool:
    """The alternative is for another kind of value: another type, or another tag."""
    tag = error.validator in ("enum", "const") and len(error.absolute_path) == depth + 1
    return tag or (error.validator == "type" and len(error.absolute_path) == depth)


def _param(path: deque) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer", float: "number",
               type(None): "null"}


def _reason(error: jsonschema.ValidationError) -> str:
    got = _JSON_TYPES.get(type(error.instance), "value")
    value = error.validator_value
    match error.validator:
        case "type":
            return f"expected {_or(value if isinstance(value, list) else [value])}, got {got}"
        case "required":
            return "is required"
        case "enum" | "const":
            options = value if isinstance(value, list) else [value]
            return f"expected one of {', '.join(repr(option) for option in options[:12])}"
        case "minimum" | "maximum":
            return f"expected a value {'>=' if error.validator == 'minimum' else '<='} {value}, got {error.instance}"
        case "minItems" | "maxItems":
            return f"expected {'at least' if error.validator == 'minItems' else 'at most'} {value} item(s)"
        case "minLength" | "maxLength":
            return f"expected {'at least' if error.validator == 'minLength' else 'at most'} {value} characters"
        case "anyOf" | "oneOf":
            return f"expected {_or(_alternatives(value))}, got {got}"
        case "additionalProperties":
            return "has a field that is not allowed here: " + error.message.split("(", 1)[-1].rstrip(")")
    return error.message[:300]


def _alternatives(schemas: list[dict[str, Any]]) -> list[str]:
    names: list[str] = []
    for schema in schemas:
        if "$ref" in schema:
            schema = _explainer.schema["definitions"][schema["$ref"].rsplit("/", 1)[1]]
        kinds = schema.get("type", "value")
        nested = schema.get("anyOf") or schema.get("oneOf")
        for name in _alternatives(nested) if nested else (kinds if isinstance(kinds, list) else [kinds]):
            if name not in names:
                names.append(name)
    return names


def _or(names: list[str]) -> str:
    names = [f"{'an' if name[0] in 'aeiou' else 'a'} {name}" if name != "null" else "null" for name in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
