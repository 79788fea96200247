"""config/gateway.yaml: the shipped file loads, the environment wins, and every mistake
in a bad file is reported at once."""

import copy
import subprocess
import sys

import pytest
import yaml
from gateway_site import gateway_config

from gateway_site.gateway_config import (
    PROJECT_ROOT, CacheSettings, ConfigError, ModelRoute, ProviderSettings, RateLimitSettings, load_config, parse_config,
)

CONTRACT_MODELS = {
    "gpt-4o", "gpt-3.5-turbo", "gpt-4-turbo", "gpt-4", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-1.5-pro",
    "claude-sonnet-4-20250514", "claude-opus-4-20250514",
}


@pytest.fixture
def shipped() -> dict:
    return yaml.safe_load(open(gateway_config.config_path()))


def test_it_loads_the_shipped_file_with_every_contract_model():
    config = load_config(gateway_config.config_path(), environ={})
    assert CONTRACT_MODELS <= set(config.models)
    assert config.providers["anthropic"].default_max_tokens == 4096
    assert config.models["claude-sonnet-4-20250514"].max_tokens_default == 8192
    assert config.models["gpt-4o"].fallbacks == ("claude-sonnet-4-20250514",)


def test_it_takes_keys_and_base_urls_from_the_environment(shipped):
    config = parse_config(shipped, environ={"OPENAI_API_KEY": "sk-test", "OPENAI_BASE_URL": "http://127.0.0.1:9/v1/"})
    assert config.providers["openai"].api_key == "sk-test"
    assert config.providers["openai"].base_url == "http://127.0.0.1:9/v1"
    assert config.providers["anthropic"].api_key == ""


def test_it_reports_every_mistake_at_once(shipped):
    bad = copy.deepcopy(shipped)
    bad["providers"]["google"]["protocol"] = "carrier-pigeon"
    bad["models"]["gpt-4"]["provider"] = "nobody"
    bad["models"]["gpt-4o"]["fallbacks"] = ["gpt-17"]
    bad["defaults"]["timeouts"]["read"] = -1
    bad["cache"]["models"] = {"gpt-4o": {"semantic": "maybe", "ttl": 0, "colour": "blue"}}
    bad["rate_limits"]["tokens_per_minute"] = "lots"
    with pytest.raises(ConfigError) as refused:
        parse_config(bad, environ={})
    text = "\n".join(refused.value.errors)
    for expected in ("providers.google.protocol", "models.gpt-4.provider", "models.gpt-4o.fallbacks",
                     "timeouts.read", "cache.models.gpt-4o.semantic", "cache.models.gpt-4o.ttl",
                     "cache.models.gpt-4o.colour", "rate_limits.tokens_per_minute"):
        assert expected in text, expected


def test_it_reads_which_claude_models_have_structured_outputs(shipped):
    config = load_config(gateway_config.config_path(), environ={})
    assert not config.models["claude-sonnet-4-20250514"].structured_outputs
    assert not config.models["claude-opus-4-20250514"].structured_outputs
    assert config.models["claude-sonnet-4-5"].structured_outputs  # the default
    bad = copy.deepcopy(shipped)
    bad["models"]["claude-sonnet-4-5"]["structured_outputs"] = "yes"
    with pytest.raises(ConfigError) as refused:
        parse_config(bad, environ={})
    assert "models.claude-sonnet-4-5.structured_outputs: Input should be a valid boolean" in refused.value.errors[0]


def test_it_refuses_a_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text("models: [unclosed")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "not valid YAML" in refused.value.errors[0]


def test_it_refuses_an_unknown_key_and_names_it(shipped):
    shipped["providers"]["openai"]["timeouts"] = {"raed": 30}
    shipped["colour"] = "blue"
    with pytest.raises(ConfigError) as refused:
        parse_config(shipped, environ={})
    expected = "providers.openai.timeouts.raed: unknown key (expected one of: connect, read, stream_idle)"
    assert expected in refused.value.errors
    assert any(error.startswith("colour: unknown key") for error in refused.value.errors)


def test_it_names_a_wrong_type_with_its_path(shipped):
    shipped["providers"]["openai"]["timeouts"] = {"read": "slow"}
    shipped["cache"]["exact"]["enabled"] = "yes"  # YAML's `yes` is a bool; the string is a mistake
    with pytest.raises(ConfigError) as refused:
        parse_config(shipped, environ={})
    errors = refused.value.errors
    assert [e for e in errors if e.startswith("providers.openai.timeouts.read: ") and "'slow'" in e]
    assert [e for e in errors if e.startswith("cache.exact.enabled: ") and "'yes'" in e]
    assert len(errors) == 2


def test_it_lists_unknown_keys_wrong_values_and_wrong_references_together(shipped):
    shipped["defaults"]["retries"]["max_attempts"] = 0
    shipped["models"]["gpt-4"]["price"]["inptu"] = 1
    shipped["models"]["gpt-4"]["fallbacks"] = ["gpt-17"]
    shipped["cache"]["models"] = {"gpt-17": {"ttl": 60}}
    with pytest.raises(ConfigError) as refused:
        parse_config(shipped, environ={})
    paths = {error.split(":")[0] for error in refused.value.errors}
    assert paths == {"defaults.retries.max_attempts", "models.gpt-4.price.inptu", "models.gpt-4.fallbacks.0",
                     "cache.models.gpt-17"}


def test_it_runs_with_the_dataclass_defaults_when_the_file_leaves_them_out():
    raw = {"defaults": {}, "providers": {"p": {"protocol": "openai", "base_url": "http://x/v1"}},
           "models": {"m": {"provider": "p"}}}
    config = parse_config(raw, environ={})
    provider = ProviderSettings(name="p", protocol="openai", base_url="http://x/v1")
    assert config.providers["p"] == provider
    assert config.models["m"] == ModelRoute(name="m", provider=provider, upstream_model="m")
    assert config.cache == CacheSettings() and config.rate_limits == RateLimitSettings()


def test_it_ships_the_built_in_defaults(shipped):
    """gateway.yaml states the same values the dataclasses carry, so a test built on the
    dataclasses runs with production's timeouts, retries and breaker."""
    config = parse_config(shipped, environ={})
    for name, provider in config.providers.items():
        assert provider == ProviderSettings(name=name, protocol=provider.protocol, base_url=provider.base_url), name
    assert config.cache == CacheSettings() and config.rate_limits == RateLimitSettings()


def test_it_lets_a_provider_override_the_defaults_key_by_key():
    raw = {
        "defaults": {"timeouts": {"read": 10, "connect": 1}, "circuit_breaker": {"cooldown": 2}},
        "providers": {"p": {"protocol": "anthropic", "base_url": "http://x",
                            "timeouts": {"connect": 3}, "retries": {"max_attempts": 1}}},
        "models": {"m": {"provider": "p"}},
    }
    provider = parse_config(raw, environ={}).providers["p"]
    given = (provider.read_timeout, provider.connect_timeout, provider.breaker_cooldown, provider.max_attempts)
    assert given == (10, 3, 2, 1)
    assert provider.stream_idle_timeout == ProviderSettings.__dataclass_fields__["stream_idle_timeout"].default


def test_it_names_a_bad_base_url_from_the_environment(shipped):
    with pytest.raises(ConfigError) as refused:
        parse_config(shipped, environ={"OPENAI_BASE_URL": "api.openai.com"})
    assert refused.value.errors == [
        "providers.openai.base_url: expected an http(s) URL, got 'api.openai.com' (from $OPENAI_BASE_URL)"]


def test_it_keeps_per_model_cache_overrides_as_given(shipped):
    shipped["cache"]["models"] = {"gpt-4o": {"ttl": 600, "semantic": False}, "gpt-4": {"max_temperature": None}}
    overrides = parse_config(shipped, environ={}).cache.model_overrides
    assert overrides == {"gpt-4o": {"ttl": 600, "semantic": False}, "gpt-4": {}}


def test_it_takes_an_empty_section_for_its_defaults(shipped):
    shipped["cache"] = None
    shipped["defaults"] = {"timeouts": None}
    config = parse_config(shipped, environ={})
    assert config.cache == CacheSettings()


def test_it_imports_neither_django_nor_the_apps():
    code = ("import sys, gateway_site.gateway_config; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'django', 'apps', 'rest_framework'}))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=PROJECT_ROOT)
    assert loaded.stdout.strip() == "[]"


def test_it_loads_the_embedding_models_and_the_local_provider(shipped):
    config = parse_config(shipped, environ={})
    local = config.embedding_models["all-minilm-l6-v2"]
    assert (local.provider.protocol, local.provider.base_url, local.dimensions, local.min_dimensions) == ("local", "", 384, None)
    small = config.embedding_models["text-embedding-3-small"]
    assert (small.dimensions, small.min_dimensions, small.input_price, small.output_price) == (1536, 1, 0.02, 0.0)
    assert "all-minilm-l6-v2" not in config.models  # chat requests cannot reach it


def test_it_refuses_embedding_models_where_they_cannot_be_served(shipped):
    bad = copy.deepcopy(shipped)
    bad["models"]["gpt-4"]["provider"] = "local"
    bad["embedding_models"]["claude-embed"] = {"provider": "anthropic", "dimensions": 1024}
    bad["embedding_models"]["gpt-4o"] = {"provider": "openai", "dimensions": 8}
    bad["embedding_models"]["gemini-embedding-001"]["min_dimensions"] = 4096
    with pytest.raises(ConfigError) as refused:
        parse_config(bad, environ={})
    text = "\n".join(refused.value.errors)
    for expected in ("models.gpt-4.provider: local serves embedding models only",
                     "embedding_models.claude-embed.provider: the anthropic protocol has no embeddings",
                     "embedding_models.gpt-4o: also a chat model",
                     "embedding_models.gemini-embedding-001.min_dimensions: larger than dimensions"):
        assert expected in text, expected
