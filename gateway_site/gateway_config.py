"""Loading and validating config/gateway.yaml.

The loaded `GatewayConfig` is immutable; a reload swaps the whole object, so a request
that started on one config finishes on it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from apps.completions.providers.types import ModelRoute, ProviderSettings

PROTOCOLS = ("openai", "anthropic", "gemini")


class ConfigError(Exception):
    def __init__(self, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class CacheSettings:
    exact_enabled: bool = True
    exact_ttl: int = 3600
    semantic_enabled: bool = True
    semantic_ttl: int = 86400
    similarity_threshold: float = 0.75
    max_temperature: float = 0.5
    max_entries: int = 100_000
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


class _Reader:
    """Collects every problem of a config file instead of stopping at the first."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def number(self, data: Mapping, key: str, where: str, default: float, *, minimum: float = 0) -> float:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < minimum:
            self.errors.append(f"{where}.{key}: expected a number >= {minimum}, got {value!r}")
            return default
        return value

    def mapping(self, data: Mapping, key: str, where: str) -> Mapping:
        value = data.get(key) or {}
        if not isinstance(value, Mapping):
            self.errors.append(f"{where}.{key}: expected a mapping")
            return {}
        return value


def parse_config(raw: Any, environ: Mapping[str, str] = os.environ) -> GatewayConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(["the file must hold a mapping at the top level"])
    reader = _Reader()
    defaults = reader.mapping(raw, "defaults", "")
    providers = _parse_providers(reader, raw, defaults, environ)
    models = _parse_models(reader, raw, providers)
    cache = _parse_cache(reader, reader.mapping(raw, "cache", ""), models)
    limits = _parse_limits(reader, reader.mapping(raw, "rate_limits", ""))
    if reader.errors:
        raise ConfigError(reader.errors)
    digest = hashlib.sha256(repr(sorted(raw.items(), key=str)).encode()).hexdigest()[:12]
    return GatewayConfig(providers=providers, models=models, cache=cache, rate_limits=limits, digest=digest)


def _parse_providers(reader: _Reader, raw: Mapping, defaults: Mapping, environ: Mapping) -> dict[str, ProviderSettings]:
    timeouts = reader.mapping(defaults, "timeouts", "defaults")
    retries = reader.mapping(defaults, "retries", "defaults")
    breaker = reader.mapping(defaults, "circuit_breaker", "defaults")
    providers = {}
    for name, data in reader.mapping(raw, "providers", "").items():
        where = f"providers.{name}"
        if not isinstance(data, Mapping):
            reader.errors.append(f"{where}: expected a mapping")
            continue
        protocol = data.get("protocol")
        if protocol not in PROTOCOLS:
            reader.errors.append(f"{where}.protocol: expected one of {', '.join(PROTOCOLS)}, got {protocol!r}")
            continue
        base_url = environ.get(data.get("base_url_env") or "", "") or data.get("base_url")
        if not isinstance(base_url, str) or not base_url.startswith(("http://", "https://")):
            reader.errors.append(f"{where}.base_url: expected an http(s) URL, got {base_url!r}")
            continue
        provider_timeouts = {**timeouts, **reader.mapping(data, "timeouts", where)}
        provider_retries = {**retries, **reader.mapping(data, "retries", where)}
        provider_breaker = {**breaker, **reader.mapping(data, "circuit_breaker", where)}
        providers[name] = ProviderSettings(
            name=name,
            protocol=protocol,
            base_url=base_url.rstrip("/"),
            api_key=environ.get(data.get("api_key_env") or "", ""),
            connect_timeout=reader.number(provider_timeouts, "connect", where + ".timeouts", 5.0, minimum=0.001),
            read_timeout=reader.number(provider_timeouts, "read", where + ".timeouts", 120.0, minimum=0.001),
            stream_idle_timeout=reader.number(provider_timeouts, "stream_idle", where + ".timeouts", 60.0, minimum=0.001),
            max_attempts=int(reader.number(provider_retries, "max_attempts", where + ".retries", 3, minimum=1)),
            backoff_base=reader.number(provider_retries, "backoff_base", where + ".retries", 0.5),
            backoff_max=reader.number(provider_retries, "backoff_max", where + ".retries", 8.0),
            max_retry_after=reader.number(provider_retries, "max_retry_after", where + ".retries", 20.0),
            breaker_threshold=int(reader.number(provider_breaker, "failure_threshold", where + ".circuit_breaker", 5, minimum=1)),
            breaker_cooldown=reader.number(provider_breaker, "cooldown", where + ".circuit_breaker", 30.0),
            default_max_tokens=int(reader.number(data, "default_max_tokens", where, 4096, minimum=1)),
        )
    return providers


def _parse_models(reader: _Reader, raw: Mapping, providers: Mapping[str, ProviderSettings]) -> dict[str, ModelRoute]:
    models_raw = reader.mapping(raw, "models", "")
    if not models_raw:
        reader.errors.append("models: at least one model is required")
    models = {}
    for name, data in models_raw.items():
        where = f"models.{name}"
        if not isinstance(data, Mapping):
            reader.errors.append(f"{where}: expected a mapping")
            continue
        provider = providers.get(data.get("provider"))
        if provider is None:
            reader.errors.append(f"{where}.provider: unknown provider {data.get('provider')!r}")
            continue
        fallbacks = data.get("fallbacks") or []
        if not isinstance(fallbacks, list) or any(f not in models_raw or f == name for f in fallbacks):
            reader.errors.append(f"{where}.fallbacks: expected a list of other configured models, got {fallbacks!r}")
            fallbacks = []
        price = reader.mapping(data, "price", where)
        max_tokens = data.get("max_tokens_default")
        structured_outputs = data.get("structured_outputs", True)
        if not isinstance(structured_outputs, bool):
            reader.errors.append(f"{where}.structured_outputs: expected true or false, got {structured_outputs!r}")
        models[str(name)] = ModelRoute(
            name=str(name),
            provider=provider,
            upstream_model=str(data.get("upstream_model") or name),
            fallbacks=tuple(fallbacks),
            input_price=reader.number(price, "input", where + ".price", 0.0),
            output_price=reader.number(price, "output", where + ".price", 0.0),
            max_tokens_default=int(max_tokens) if isinstance(max_tokens, int) and max_tokens > 0 else None,
            structured_outputs=structured_outputs is not False,
        )
    return models


def _parse_cache(reader: _Reader, data: Mapping, models: Mapping) -> CacheSettings:
    exact = reader.mapping(data, "exact", "cache")
    semantic = reader.mapping(data, "semantic", "cache")
    overrides = reader.mapping(data, "models", "cache")
    for model, values in overrides.items():
        if model not in models:
            reader.errors.append(f"cache.models.{model}: not a configured model")
        _check_cache_override(reader, f"cache.models.{model}", values)
    threshold = reader.number(semantic, "similarity_threshold", "cache.semantic", 0.75)
    if threshold > 1:
        reader.errors.append("cache.semantic.similarity_threshold: must be at most 1.0")
    return CacheSettings(
        exact_enabled=bool(exact.get("enabled", True)),
        exact_ttl=int(reader.number(exact, "ttl", "cache.exact", 3600, minimum=1)),
        semantic_enabled=bool(semantic.get("enabled", True)),
        semantic_ttl=int(reader.number(semantic, "ttl", "cache.semantic", 86400, minimum=1)),
        similarity_threshold=threshold,
        max_temperature=reader.number(semantic, "max_temperature", "cache.semantic", 0.5),
        max_entries=int(reader.number(semantic, "max_entries", "cache.semantic", 100_000, minimum=1)),
        model_overrides=dict(overrides),
    )


# Per-model cache switches (apps/cache/policy.py reads them): name -> (kind, minimum).
CACHE_OVERRIDES = {
    "exact": (bool, None), "semantic": (bool, None), "ttl": (int, 1), "exact_ttl": (int, 1),
    "semantic_ttl": (int, 1), "max_temperature": (float, 0),
}


def _check_cache_override(reader: _Reader, where: str, values: Any) -> None:
    if not isinstance(values, Mapping):
        reader.errors.append(f"{where}: expected a mapping")
        return
    for name, value in values.items():
        if name not in CACHE_OVERRIDES:
            reader.errors.append(f"{where}.{name}: unknown setting (expected one of {', '.join(CACHE_OVERRIDES)})")
        elif CACHE_OVERRIDES[name][0] is bool:
            if not isinstance(value, bool):
                reader.errors.append(f"{where}.{name}: expected true or false, got {value!r}")
        else:
            reader.number(values, name, where, 0, minimum=CACHE_OVERRIDES[name][1])


def _parse_limits(reader: _Reader, data: Mapping) -> RateLimitSettings:
    tpm = data.get("tokens_per_minute")
    if tpm is not None and (not isinstance(tpm, int) or tpm < 1):
        reader.errors.append(f"rate_limits.tokens_per_minute: expected a positive integer or null, got {tpm!r}")
        tpm = None
    return RateLimitSettings(
        requests_per_minute=int(reader.number(data, "requests_per_minute", "rate_limits", 10, minimum=1)),
        tokens_per_minute=tpm,
        fail_open=bool(data.get("fail_open", True)),
    )


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
    global _current
    if _current is None:
        from django.conf import settings

        _current = load_config(settings.GATEWAY_CONFIG)
    return _current


def set_config(config: GatewayConfig | None) -> None:
    """Swaps the running config; None makes the next get_config() read the file again."""
    global _current
    _current = config
