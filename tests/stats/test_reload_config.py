"""POST /admin/reload-config: a valid file is swapped in, an invalid one is refused with
every problem listed and the running config kept."""

import shutil

import pytest
import yaml

from gateway_site import gateway_config

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def config_file(tmp_path):
    """A copy of gateway.yaml that the test may edit; the running config is restored after."""
    path = tmp_path / "gateway.yaml"
    shutil.copy(gateway_config.config_path(), path)
    running = gateway_config.get_config()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GATEWAY_CONFIG", str(path))
        yield path
    gateway_config.set_config(running)


def edit(path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))


def reload(client, key):
    return client.post("/admin/reload-config", HTTP_X_API_KEY=key)


def test_it_swaps_in_a_valid_file(client, admin_key, config_file):
    edit(config_file, lambda data: data["rate_limits"].update(requests_per_minute=7))
    response = reload(client, admin_key)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success" and body["message"] == "Configuration reloaded successfully"
    assert body["timestamp"].endswith("Z")
    assert gateway_config.get_config().rate_limits.requests_per_minute == 7
    assert body["digest"] == gateway_config.get_config().digest


def test_it_refuses_a_file_that_is_not_yaml(client, admin_key, config_file):
    running = gateway_config.get_config()
    config_file.write_text("models: [unclosed\n")
    response = reload(client, admin_key)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and "not valid YAML" in error["message"]
    assert gateway_config.get_config() is running


def test_it_lists_every_schema_problem(client, admin_key, config_file):
    running = gateway_config.get_config()

    def break_it(data):
        data["models"]["gpt-4o"]["provider"] = "nobody"
        data["rate_limits"]["requests_per_minute"] = -3

    edit(config_file, break_it)
    response = reload(client, admin_key)
    assert response.status_code == 400
    errors = response.json()["error"]["errors"]
    assert any(e.startswith("models.gpt-4o.provider") for e in errors)
    assert any(e.startswith("rate_limits.requests_per_minute") for e in errors)
    assert all(e in response.json()["error"]["message"] for e in errors)
    assert gateway_config.get_config() is running


def test_it_names_an_unknown_key_and_keeps_the_running_config(client, admin_key, config_file):
    running = gateway_config.get_config()
    edit(config_file, lambda data: data["rate_limits"].update(request_per_minute=50))
    response = reload(client, admin_key)
    assert response.status_code == 400
    errors = response.json()["error"]["errors"]
    assert len(errors) == 1 and errors[0].startswith("rate_limits.request_per_minute: unknown key")
    assert "requests_per_minute" in errors[0]  # the key that was meant is among those listed
    assert gateway_config.get_config() is running


def test_it_is_for_admin_keys_only(client, user_key, config_file):
    assert client.post("/admin/reload-config").status_code == 401
    denied = reload(client, user_key)
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "permission_denied"
    assert client.get("/admin/reload-config", HTTP_X_API_KEY=user_key).status_code in (403, 405)
