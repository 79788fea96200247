"""System checks: warn about set-ups that work, but not as an operator would expect."""

from django.conf import settings
from django.core.checks import Warning, register

from gateway_site import security_checks  # noqa: F401  (registers the console's deploy checks)


@register()
def check_redis(app_configs, **kwargs):
    if settings.REDIS_URL:
        return []
    return [
        Warning(
            "No Redis (REDIS_URL=none, or unset outside `manage.py serve`): rate limits and the exact "
            "cache hold per process only.",
            hint="Set REDIS_URL, or leave it unset under `manage.py serve` for the embedded one.",
            id="gateway.W001",
        )
    ]


@register()
def check_provider_keys(app_configs, **kwargs):
    from gateway_site.gateway_config import LOCAL_PROTOCOL, ConfigError, get_config

    try:
        config = get_config()
    except ConfigError as exc:
        return [Warning(f"config/gateway.yaml is invalid: {exc}", id="gateway.W002")]
    return [
        Warning(f"No API key for provider {name!r}: its models will fail.", hint="Set its *_API_KEY variable.", id="gateway.W003")
        for name, provider in config.providers.items()
        if not provider.api_key and provider.protocol != LOCAL_PROTOCOL
    ]
