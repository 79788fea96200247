"""config/gateway.yaml: the shipped file loads, the environment wins, and every mistake
in a bad file is reported at once."""

import copy

import pytest
import yaml
from django.conf import settings

from gateway_site.gateway_config import ConfigError, load_config, parse_config

CONTRACT_MODELS = {
    "gpt-4o", "gpt-3.5-turbo", "gpt-4-turbo", "gpt-4", "gemini-2.5-flash", "gemini-2.5-pro", "gemini-1.5-pro",
    "claude-sonnet-4-20250514", "claude-opus-4-20250514",
}


@pytest.fixture
def shipped() -> dict:
    return yaml.safe_load(open(settings.GATEWAY_CONFIG))


def test_it_loads_the_shipped_file_with_every_contract_model():
    config = load_config(settings.GATEWAY_CONFIG, environ={})
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
    config = load_config(settings.GATEWAY_CONFIG, environ={})
    assert not config.models["claude-sonnet-4-20250514"].structured_outputs
    assert not config.models["claude-opus-4-20250514"].structured_outputs
    assert config.models["claude-sonnet-4-5"].structured_outputs  # the default
    bad = copy.deepcopy(shipped)
    bad["models"]["claude-sonnet-4-5"]["structured_outputs"] = "yes"
    with pytest.raises(ConfigError) as refused:
        parse_config(bad, environ={})
    assert "models.claude-sonnet-4-5.structured_outputs: expected true or false" in refused.value.errors[0]


def test_it_refuses_a_file_that_is_not_yaml(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text("models: [unclosed")
    with pytest.raises(ConfigError) as refused:
        load_config(path)
    assert "not valid YAML" in refused.value.errors[0]
