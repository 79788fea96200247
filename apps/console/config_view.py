"""The configuration in effect, as the console shows it: what was loaded, never a secret."""

from __future__ import annotations

import dataclasses
from typing import Any

from gateway_site.gateway_config import ConfigError, get_config
from gateway_site.redaction import redact


def config_in_effect() -> dict[str, Any]:
    try:
        config = get_config()
    except ConfigError as exc:
        return {"config_error": "; ".join(exc.errors)}
    return {
        "digest": config.digest,
        "models": [
            {
                "name": route.name, "provider": route.provider.name, "upstream_model": route.upstream_model,
                "input_price": route.input_price, "output_price": route.output_price,
                "fallbacks": ", ".join(route.fallbacks), "cache": dict(config.cache.model_overrides.get(route.name, {})),
            }
            for route in config.models.values()
        ],
        "providers": [
            {**{name: value for name, value in dataclasses.asdict(provider).items() if name != "api_key"},
             "api_key_set": bool(provider.api_key), "base_url": redact(provider.base_url)}
            for provider in config.providers.values()
        ],
        "cache": dataclasses.asdict(config.cache) | {"model_overrides": None},
        "rate_limits": dataclasses.asdict(config.rate_limits),
    }
