"""JSON Schemas for Claude's structured outputs, and checking answers against the original.

Claude's constrained decoding (`output_config.format`, tools with `strict: true`) accepts a
subset of JSON Schema: no numeric bounds, no string lengths, `minItems` only 0 or 1, and
every object closed with `additionalProperties: false`. Anything else is refused with a 400.
`strict_schema` rewrites a schema the way Anthropic's own Python SDK does before sending it
(`transform_schema` in anthropic-sdk-python, src/anthropic/lib/_parse/_transform.py, MIT
licence): supported keywords are kept, every object is closed, and the rest is written into
the description so the model still reads it. Because the model is then no longer forced to
respect those constraints, `schema_mismatch` checks the answer against the client's
original schema (`AnswerSchemas`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jsonschema_rs
import orjson

from . import openai_shapes as oai

# String formats the API can enforce; others move into the description.
SUPPORTED_STRING_FORMATS = frozenset({
    "date-time", "time", "date", "duration", "email", "hostname", "uri", "ipv4", "ipv6", "uuid",
})
SCALAR_TYPES = frozenset({"boolean", "integer", "number", "null"})


@dataclass(frozen=True)
class AnswerSchemas:
    """The client's own schemas an answer must match (Claude is given looser ones)."""

    response: dict[str, Any] | None  # response_format's JSON schema
    tools: dict[str, dict[str, Any]]  # name -> parameters of each strict function tool
    via_tool: bool  # the answer comes as a forced tool's input (a model without structured outputs)

    def mismatch(self, content: str | None, calls: list[tuple[str, str]], finish_reason: str) -> str | None:
        """Why a complete answer breaks the client's schema, or None. Answers cut short
        (length, content_filter) are left as they are: the finish reason already says so."""
        if finish_reason == "stop" and self.response is not None and content is not None:
            return _json_mismatch(content, self.response, "the answer")
        if finish_reason == "tool_calls":
            for name, arguments in calls:
                if name in self.tools:
                    reason = _json_mismatch(arguments, self.tools[name], f"the arguments of {name}")
                    if reason:
                        return reason
        return None


def answer_schemas(payload: dict[str, Any] | None, *, via_tool: bool) -> AnswerSchemas | None:
    """What to check in the answer to `payload`; None when it asked for no schema."""
    if not payload or not (payload.get("response_format") or payload.get("tools")):
        return None
    fmt = oai.response_format(payload)
    response = fmt[1] if fmt and fmt[0] == "json_schema" else None
    tools = {function["name"]: function.get("parameters") or {"type": "object", "properties": {}}
             for function in oai.function_tools(payload) if function.get("strict")}
    if response is None and not tools:
        return None
    return AnswerSchemas(response=response, tools=tools, via_tool=via_tool and response is not None)


def _json_mismatch(text: str, schema: dict[str, Any], what: str) -> str | None:
    try:
        value = orjson.loads(text)
    except ValueError:
        return f"{what} is not JSON, as the requested schema requires"
    reason = schema_mismatch(value, schema)
    return f"{what} does not match the requested JSON schema ({reason})" if reason else None


def strict_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema in the subset Claude's structured outputs accept (see the module doc)."""
    rest = dict(schema)
    rest.pop("$schema", None)  # which JSON Schema dialect: metadata, nothing to enforce
    result: dict[str, Any] = {}
    # $defs first: a root {"$ref": ..., "$defs": ...} (pydantic's RootModel) keeps them.
    definitions = rest.pop("$defs", None)
    if isinstance(definitions, dict):
        result["$defs"] = {name: strict_schema(sub) for name, sub in definitions.items()}
    if "$ref" in rest:
        result["$ref"] = rest.pop("$ref")
        return result  # siblings of $ref are ignored by the API
    kind = rest.pop("type", None)
    _take_literals(rest, result)
    if "enum" in result or "const" in result:
        kind = None  # the literal says it all; a type beside it is redundant
    _take_combinators(rest, result, kind)
    for key in ("description", "title"):
        if key in rest:
            result[key] = rest.pop(key)
    if kind == "object":
        _take_object(rest, result)
    elif kind == "string":
        _take_string(rest, result)
    elif kind == "array":
        _take_array(rest, result)
    elif kind is not None and kind not in SCALAR_TYPES:
        raise ValueError(f"Unsupported JSON Schema type {kind!r}")
    if rest:
        # What the API cannot enforce, the model can still read and follow.
        hints = ", ".join(f"{key}: {value}" for key, value in rest.items())
        description = result.get("description")
        result["description"] = (f"{description}\n\n" if description is not None else "") + "{" + hints + "}"
    return result


def _take_literals(rest: dict[str, Any], result: dict[str, Any]) -> None:
    enum = rest.get("enum")
    if isinstance(enum, list) and enum and all(_is_scalar(value) for value in enum):
        result["enum"] = rest.pop("enum")
    if "const" in rest and _is_scalar(rest["const"]):
        result["const"] = rest.pop("const")


def _take_combinators(rest: dict[str, Any], result: dict[str, Any], kind: Any) -> None:
    any_of, one_of, all_of = rest.pop("anyOf", None), rest.pop("oneOf", None), rest.pop("allOf", None)
    if isinstance(any_of, list) or isinstance(one_of, list):
        # oneOf is not supported; anyOf is the closest the API enforces.
        result["anyOf"] = [strict_schema(variant) for variant in (any_of if isinstance(any_of, list) else one_of)]
    elif isinstance(all_of, list):
        result["allOf"] = [strict_schema(variant) for variant in all_of]
    elif "enum" not in result and "const" not in result:
        if kind is None:
            raise ValueError("A schema needs a type, anyOf, oneOf, allOf, const or an enum of scalars")
        result["type"] = kind


def _take_object(rest: dict[str, Any], result: dict[str, Any]) -> None:
    properties = rest.pop("properties", None) or {}
    result["properties"] = {name: strict_schema(sub) for name, sub in properties.items()}
    rest.pop("additionalProperties", None)
    result["additionalProperties"] = False
    if "required" in rest:
        result["required"] = rest.pop("required")


def _take_string(rest: dict[str, Any], result: dict[str, Any]) -> None:
    if rest.get("format") in SUPPORTED_STRING_FORMATS:
        result["format"] = rest.pop("format")


def _take_array(rest: dict[str, Any], result: dict[str, Any]) -> None:
    if "items" in rest:
        result["items"] = strict_schema(rest.pop("items"))
    if rest.get("minItems") in (0, 1):
        result["minItems"] = rest.pop("minItems")


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def schema_mismatch(instance: Any, schema: dict[str, Any]) -> str | None:
    """Why `instance` does not match `schema` ("$.path: reason"), or None when it does."""
    validator = _validator(orjson.dumps(schema, option=orjson.OPT_SORT_KEYS))
    if validator is None:
        return None
    error = next(validator.iter_errors(instance), None)
    if error is None:
        return None
    path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.instance_path)
    return f"${path}: {error.message}"


# jsonschema-rs: checking an answer takes microseconds where the pure-Python jsonschema took
# ~0.4 ms; compiling a schema takes ~0.2 ms, so compiled schemas are kept (clients send the
# same few schemas again and again).
@functools.lru_cache(maxsize=256)
def _validator(schema_json: bytes) -> Any:
    try:
        return jsonschema_rs.validator_for(orjson.loads(schema_json))
    except ValueError:
        return None  # a schema the checker cannot compile was accepted upstream: not held against the answer
