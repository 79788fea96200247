"""Loading and validating config/gateway.yaml.

Two layers. The file is read by pydantic models (the `_File` tree below): an unknown key
or a wrong value is refused with its dotted path (`providers.openai.timeouts.read: ...`),
every problem of the file at once. The running gateway reads frozen dataclasses
(`GatewayConfig`, `ProviderSettings`, `ModelRoute`, `CacheSettings`, `RateLimitSettings`):
plain attribute access on the request path. Every default is written once, on those
dataclasses; the file models take theirs from there (`_setting`).

The loaded `GatewayConfig` is immutable; a reload swaps the whole object, so a request
that started on one config finishes on it.

This module imports nothing of the project and not Django, so settings and every app may
import it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, ValidationInfo, field_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from gateway_site import redaction

ProtocolName = Literal["openai", "anthropic", "gemini"]
PROTOCOLS: tuple[str, ...] = typing.get_args(ProtocolName)
# "local": served inside the gateway's own process (the bundled all-MiniLM-L6-v2), no URL, no key.
LOCAL_PROTOCOL = "local"
EMBEDDING_PROTOCOLS = ("openai", "gemini", LOCAL_PROTOCOL)  # Anthropic has no embeddings API
RoutingName = Literal["weighted", "least-busy", "latency"]  # how a model picks among its deployments

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_PATH = PROJECT_ROOT / "config" / "gateway.yaml"


def config_path(environ: Mapping[str, str] = os.environ) -> str:
    """The file to load: $GATEWAY_CONFIG, else config/gateway.yaml of this project."""
    return environ.get("GATEWAY_CONFIG") or str(DEFAULT_CONFIG_PATH)


class ConfigError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


# --- What the running gateway reads -------------------------------------------------------


@dataclass(frozen=True)
class ProviderSettings:
    name: str  # "openai", "anthropic", "google", or a name added in gateway.yaml
    protocol: str  # "openai", "anthropic" or "gemini": which adapter speaks to it
    base_url: str  # OpenAI: includes /v1; Anthropic and Gemini: host only (see DESIGN.md)
    api_key: str = ""
    connect_timeout: float = 5.0
    read_timeout: float = 120.0  # a whole non-streamed answer, or a stream's first byte
    stream_idle_timeout: float = 60.0  # longest silence between two stream events
    max_attempts: int = 3  # per model, the first attempt included
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_retry_after: float = 20.0  # a longer upstream Retry-After is not waited for
    breaker_threshold: int = 5
    breaker_cooldown: float = 30.0
    default_max_tokens: int = 4096  # Anthropic requires max_tokens


@dataclass(frozen=True)
class ModelRoute:
    name: str  # the model name clients send
    provider: ProviderSettings
    upstream_model: str
    fallbacks: tuple[str, ...] = ()
    input_price: float = 0.0  # USD per million prompt tokens
    output_price: float = 0.0  # USD per million completion tokens
    max_tokens_default: int | None = None
    created: int = 1700000000
    # Anthropic: the model has structured outputs (output_config.format, strict tools).
    # Older Claude models get a forced tool instead (see providers/anthropic.py).
    structured_outputs: bool = True
    # A model with several deployments has one ModelRoute per deployment (same name, its own
    # provider); `deployment` is then "<model>/<provider>", else "" (and the rest is unused).
    deployment: str = ""
    weight: float = 1.0
    rpm: int | None = None  # the deployment's own quota, checked before sending to it
    tpm: int | None = None
    routing: str = "weighted"


@dataclass(frozen=True)
class EmbeddingRoute:
    """An embedding model (`embedding_models:`); `/v1/embeddings` serves it."""

    name: str
    provider: ProviderSettings
    upstream_model: str
    dimensions: int  # of the vectors it returns when the request names none
    # The smallest `dimensions` a request may ask for; None: only `dimensions` itself
    # (a model not trained to be shortened, like all-MiniLM-L6-v2).
    min_dimensions: int | None = None
    input_price: float = 0.0  # USD per million input tokens
    output_price: float = 0.0  # always 0: embeddings have no completion tokens
    created: int = 1700000000


@dataclass(frozen=True)
class CacheSettings:
    exact_enabled: bool = True
    exact_ttl: int = 3600
    semantic_enabled: bool = True
    semantic_ttl: int = 86400
    similarity_threshold: float = 0.75
    max_temperature: float = 0.5
    max_entries: int = 100_000
    # cache.models.<model>: the values given in the file, as apps/cache/policy.py reads them
    model_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class RateLimitSettings:
    requests_per_minute: int = 10
    tokens_per_minute: int | None = None
    fail_open: bool = True


@dataclass(frozen=True)
class GatewayConfig:
    providers: Mapping[str, ProviderSettings]
    models: Mapping[str, ModelRoute]
    cache: CacheSettings
    rate_limits: RateLimitSettings
    digest: str  # identifies this exact config, e.g. in logs after a reload
    embedding_models: Mapping[str, EmbeddingRoute] = field(default_factory=dict)
    # Models with several deployments: every deployment's route, in the file's order
    # (`models` holds the first). Empty when no model has several: nothing extra to pay.
    deployments: Mapping[str, tuple[ModelRoute, ...]] = field(default_factory=dict)


# --- What the file may say --------------------------------------------------------------


def _setting(owner: type, name: str, *, key: str | None = None, **constraints: Any) -> Any:
    """A file key that lands in `owner.name`, with the default written there (`key`: its
    name in the file, when it differs)."""
    default = next(f.default for f in dataclasses.fields(owner) if f.name == name)
    return Field(default, alias=key, **constraints)


def _known(kind: str) -> AfterValidator:
    """Checks a name against the file's own `providers` or `models` (passed as context, so
    a wrong reference is reported together with every other mistake)."""

    def check(name: str, info: ValidationInfo) -> str:
        if info.context is not None and name not in info.context[kind]:
            raise PydanticCustomError("unknown_name", "not one of the configured " + kind)
        return name

    return AfterValidator(check)


# An empty section (`cache:` with everything commented out) reads as null: take it as {}.
_Optional = BeforeValidator(lambda value: {} if value is None else value)


class _Section(BaseModel):
    # strict: YAML already types its values, so "5" or `yes` where a number belongs is a mistake
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Timeouts(_Section):
    connect_timeout: float = _setting(ProviderSettings, "connect_timeout", key="connect", gt=0)
    read_timeout: float = _setting(ProviderSettings, "read_timeout", key="read", gt=0)
    stream_idle_timeout: float = _setting(ProviderSettings, "stream_idle_timeout", key="stream_idle", gt=0)


class _Retries(_Section):
    max_attempts: int = _setting(ProviderSettings, "max_attempts", ge=1)
    backoff_base: float = _setting(ProviderSettings, "backoff_base", ge=0)
    backoff_max: float = _setting(ProviderSettings, "backoff_max", ge=0)
    max_retry_after: float = _setting(ProviderSettings, "max_retry_after", ge=0)


class _CircuitBreaker(_Section):
    breaker_threshold: int = _setting(ProviderSettings, "breaker_threshold", key="failure_threshold", ge=1)
    breaker_cooldown: float = _setting(ProviderSettings, "breaker_cooldown", key="cooldown", ge=0)


class _Reliability(_Section):
    """`defaults:`, and the same three sections inside a provider, which override it."""

    timeouts: Annotated[_Timeouts, _Optional] = _Timeouts()
    retries: Annotated[_Retries, _Optional] = _Retries()
    circuit_breaker: Annotated[_CircuitBreaker, _Optional] = _CircuitBreaker()

    def given(self) -> dict[str, Any]:
        """ProviderSettings fields this section sets explicitly."""
        return {**self.timeouts.model_dump(exclude_unset=True), **self.retries.model_dump(exclude_unset=True),
                **self.circuit_breaker.model_dump(exclude_unset=True)}


class _Provider(_Reliability):
    protocol: ProtocolName | Literal["local"]
    api_key_env: str | None = None
    base_url_env: str | None = None
    # After base_url_env, which its check reads; checked when absent too (the environment may supply it).
    base_url: str | None = Field(None, validate_default=True)
    default_max_tokens: int = _setting(ProviderSettings, "default_max_tokens", ge=1)

    @field_validator("base_url", mode="after")
    @classmethod
    def _base_url_from_environment(cls, value: str | None, info: ValidationInfo) -> str:
        if info.data.get("protocol") == LOCAL_PROTOCOL:
            return ""  # served in process
        environ = (info.context or {}).get("environ", {})
        variable = info.data.get("base_url_env") or ""
        url = environ.get(variable) or value
        if url is None:
            raise PydanticCustomError("url", "required" + (f" (or set ${variable})" if variable else ""))
        if not url.startswith(("http://", "https://")):
            source = f" (from ${variable})" if environ.get(variable) else ""
            raise PydanticCustomError("url", "expected an http(s) URL, got {url}" + source, {"url": repr(url)})
        return url.rstrip("/")


class _Price(_Section):
    input_price: float = _setting(ModelRoute, "input_price", key="input", ge=0)
    output_price: float = _setting(ModelRoute, "output_price", key="output", ge=0)


class _Deployment(_Section):
    provider: Annotated[str, _known("providers")]
    upstream_model: str | None = None  # the model's upstream_model (or name) when absent
    weight: float = _setting(ModelRoute, "weight", gt=0)
    rpm: int | None = _setting(ModelRoute, "rpm", ge=1)
    tpm: int | None = _setting(ModelRoute, "tpm", ge=1)


class _Model(_Section):
    # One of the two: `provider` (one deployment) or `deployments` (several).
    provider: Annotated[str, _known("providers")] | None = None
    deployments: list[_Deployment] | None = Field(None, min_length=1)
    routing: RoutingName = _setting(ModelRoute, "routing")
    upstream_model: str | None = None  # the client's model name when absent
    price: Annotated[_Price, _Optional] = _Price()
    fallbacks: list[Annotated[str, _known("models")]] = []
    max_tokens_default: int | None = _setting(ModelRoute, "max_tokens_default", ge=1)
    structured_outputs: bool = _setting(ModelRoute, "structured_outputs")


class _EmbeddingPrice(_Section):
    input_price: float = _setting(EmbeddingRoute, "input_price", key="input", ge=0)


class _EmbeddingModel(_Section):
    provider: Annotated[str, _known("providers")]
    upstream_model: str | None = None  # the client's model name when absent
    price: Annotated[_EmbeddingPrice, _Optional] = _EmbeddingPrice()
    dimensions: int = Field(ge=1)
    min_dimensions: int | None = _setting(EmbeddingRoute, "min_dimensions", ge=1)


class _Exact(_Section):
    exact_enabled: bool = _setting(CacheSettings, "exact_enabled", key="enabled")
    exact_ttl: int = _setting(CacheSettings, "exact_ttl", key="ttl", ge=1)


class _Semantic(_Section):
    semantic_enabled: bool = _setting(CacheSettings, "semantic_enabled", key="enabled")
    semantic_ttl: int = _setting(CacheSettings, "semantic_ttl", key="ttl", ge=1)
    similarity_threshold: float = _setting(CacheSettings, "similarity_threshold", ge=0, le=1)
    max_temperature: float = _setting(CacheSettings, "max_temperature", ge=0)
    max_entries: int = _setting(CacheSettings, "max_entries", ge=1)


class _CacheOverride(_Section):
    """cache.models.<model>; absent (or null) means the cache-wide setting applies."""

    exact: bool | None = None
    semantic: bool | None = None
    ttl: Annotated[int, Field(ge=1)] | None = None  # both caches
    exact_ttl: Annotated[int, Field(ge=1)] | None = None
    semantic_ttl: Annotated[int, Field(ge=1)] | None = None
    max_temperature: Annotated[float, Field(ge=0)] | None = None


class _Cache(_Section):
    exact: Annotated[_Exact, _Optional] = _Exact()
    semantic: Annotated[_Semantic, _Optional] = _Semantic()
    models: Annotated[dict[Annotated[str, _known("models")], _CacheOverride], _Optional] = {}


class _RateLimits(_Section):
    requests_per_minute: int = _setting(RateLimitSettings, "requests_per_minute", ge=1)
    tokens_per_minute: int | None = _setting(RateLimitSettings, "tokens_per_minute", ge=1)  # null: no limit
    fail_open: bool = _setting(RateLimitSettings, "fail_open")


def _at_least_one(models: dict[str, _Model]) -> dict[str, _Model]:
    if not models:
        raise PydanticCustomError("no_models", "at least one model is required")
    return models


class _File(_Section):
    defaults: Annotated[_Reliability, _Optional] = _Reliability()
    providers: Annotated[dict[str, _Provider], _Optional] = {}
    models: Annotated[dict[str, _Model], AfterValidator(_at_least_one)]
    cache: Annotated[_Cache, _Optional] = _Cache()
    rate_limits: Annotated[_RateLimits, _Optional] = _RateLimits()
    embedding_models: Annotated[dict[str, _EmbeddingModel], _Optional] = {}


# --- Loading ------------------------------------------------------------------------------


def parse_config(raw: Any, environ: Mapping[str, str] = os.environ) -> GatewayConfig:
    """Raises ConfigError listing every problem of `raw` (the file's YAML, parsed)."""
    if not isinstance(raw, Mapping):
        raise ConfigError(["the file must hold a mapping at the top level"])
    context = {"environ": environ, "providers": _names(raw, "providers"), "models": _names(raw, "models")}
    try:
        file = _File.model_validate(dict(raw), context=context)
    except ValidationError as exc:
        raise ConfigError([_describe(error) for error in exc.errors()]) from None
    loops = [f"models.{name}.fallbacks: a model cannot fall back to itself" for name, model in file.models.items()
             if name in model.fallbacks]
    problems = loops + [problem for name, model in file.models.items() for problem in _deployment_problems(name, model)]
    problems += _misplaced_models(file)
    if problems:
        raise ConfigError(problems)
    providers = {name: _provider(name, data, file.defaults, environ) for name, data in file.providers.items()}
    routes = {name: _routes(name, data, providers) for name, data in file.models.items()}
    models = {name: deployments[0] for name, deployments in routes.items()}
    deployments = {name: tuple(found) for name, found in routes.items() if len(found) > 1}
    embedding_models = {name: _embedding_route(name, data, providers) for name, data in file.embedding_models.items()}
    digest = hashlib.sha256(repr(sorted(raw.items(), key=str)).encode()).hexdigest()[:12]
    return GatewayConfig(providers=providers, models=models, cache=_cache(file.cache),
                         rate_limits=RateLimitSettings(**file.rate_limits.model_dump()), digest=digest,
                         embedding_models=embedding_models, deployments=deployments)


def _misplaced_models(file: _File) -> list[str]:
    """Chat models on the local provider, embedding models on a provider without an
    embeddings API, names used in both sections, dimensions out of order."""
    protocol = {name: provider.protocol for name, provider in file.providers.items()}
    mistakes = [f"models.{name}.provider: {model.provider} serves embedding models only"
                for name, model in file.models.items() if model.provider and protocol[model.provider] == LOCAL_PROTOCOL]
    for name, model in file.embedding_models.items():
        if protocol[model.provider] not in EMBEDDING_PROTOCOLS:
            mistakes.append(f"embedding_models.{name}.provider: the {protocol[model.provider]} protocol has no embeddings")
        if name in file.models:
            mistakes.append(f"embedding_models.{name}: also a chat model; a name can be only one of them")
        if model.min_dimensions is not None and model.min_dimensions > model.dimensions:
            mistakes.append(f"embedding_models.{name}.min_dimensions: larger than dimensions ({model.dimensions})")
    return mistakes


def _names(raw: Mapping, section: str) -> set[str]:
    value = raw.get(section)
    return set(value) if isinstance(value, Mapping) else set()


def _provider(name: str, data: _Provider, defaults: _Reliability, environ: Mapping[str, str]) -> ProviderSettings:
    return ProviderSettings(
        name=name, protocol=data.protocol, base_url=data.base_url or "",
        api_key=environ.get(data.api_key_env or "", ""), default_max_tokens=data.default_max_tokens,
        **{**defaults.given(), **data.given()},
    )


def _deployment_problems(name: str, model: _Model) -> list[str]:
    where = f"models.{name}"
    if (model.provider is None) == (model.deployments is None):
        return [f"{where}: give either provider or deployments (a list of providers), not both nor neither"]
    named = [deployment.provider for deployment in model.deployments or ()]
    twice = sorted({provider for provider in named if named.count(provider) > 1})
    # A deployment is known by its provider: its breaker, its quota and its counters.
    return [f"{where}.deployments: provider {provider} is listed twice" for provider in twice]


def _routes(name: str, data: _Model, providers: Mapping[str, ProviderSettings]) -> list[ModelRoute]:
    common = dict(name=name, fallbacks=tuple(data.fallbacks), max_tokens_default=data.max_tokens_default,
                  structured_outputs=data.structured_outputs, **data.price.model_dump())
    upstream_model = data.upstream_model or name
    if data.deployments is None:
        return [ModelRoute(provider=providers[data.provider], upstream_model=upstream_model, **common)]
    return [
        ModelRoute(provider=providers[deployment.provider], upstream_model=deployment.upstream_model or upstream_model,
                   deployment=f"{name}/{deployment.provider}", weight=deployment.weight, rpm=deployment.rpm,
                   tpm=deployment.tpm, routing=data.routing, **common)
        for deployment in data.deployments
    ]


def _embedding_route(name: str, data: _EmbeddingModel, providers: Mapping[str, ProviderSettings]) -> EmbeddingRoute:
    return EmbeddingRoute(
        name=name, provider=providers[data.provider], upstream_model=data.upstream_model or name,
        dimensions=data.dimensions, min_dimensions=data.min_dimensions, input_price=data.price.input_price,
    )


def _cache(data: _Cache) -> CacheSettings:
    overrides = {model: values.model_dump(exclude_unset=True, exclude_none=True) for model, values in data.models.items()}
    return CacheSettings(**data.exact.model_dump(), **data.semantic.model_dump(), model_overrides=overrides)


def _describe(error: ErrorDetails) -> str:
    """One line per problem, named by its dotted path in the file."""
    path = ".".join(str(part) for part in error["loc"] if part != "[key]")  # "[key]": the name itself is wrong
    if error["type"] == "extra_forbidden":
        expected = _keys_of(error["loc"][:-1])
        return f"{path}: unknown key" + (f" (expected one of: {', '.join(expected)})" if expected else "")
    if error["type"] == "missing":
        return f"{path}: required"
    if error["type"] in ("url", "no_models"):  # our own messages, which say what they got
        return f"{path}: {error['msg']}"
    return f"{path}: {error['msg']}, got {error['input']!r}"


def _keys_of(loc: tuple) -> list[str]:
    """The keys the section at `loc` accepts, for an "unknown key" message."""
    kind: Any = _File
    for part in loc:
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            fields = {info.alias or name: info for name, info in kind.model_fields.items()}
            if part not in fields:
                return []
            kind = fields[part].annotation
        elif typing.get_origin(kind) is dict:
            kind = typing.get_args(kind)[1]
        else:
            return []
        while typing.get_origin(kind) is Annotated:
            kind = typing.get_args(kind)[0]
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        return [info.alias or name for name, info in kind.model_fields.items()]
    return []


def load_config(path: str | Path, environ: Mapping[str, str] = os.environ) -> GatewayConfig:
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror}"]) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path} is not valid YAML: {exc}"]) from exc
    return parse_config(raw, environ)


_current: GatewayConfig | None = None


def get_config() -> GatewayConfig:
    """The running config: a plain global read, loaded from config_path() the first time."""
    global _current
    if _current is None:
        _current = load_config(config_path())
    return _current


def set_config(config: GatewayConfig | None) -> None:
    """Swaps the running config; None makes the next get_config() read the file again."""
    global _current
    _current = config


def _running_secrets() -> tuple[str, ...]:
    """The provider keys of the running config, for gateway_site/redaction.py."""
    return tuple(provider.api_key for provider in _current.providers.values() if provider.api_key) if _current else ()


redaction.use_secrets(_running_secrets)
