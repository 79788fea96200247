"""A test's own gateway.yaml: written under tmp_path and made the running configuration
(GATEWAY_CONFIG; the cached config dropped so that the next read loads it)."""

from __future__ import annotations

from pathlib import Path

import yaml

from gateway_site import gateway_config


def use_config(raw: dict, tmp_path: Path, monkeypatch) -> Path:
    path = tmp_path / "gateway.yaml"
    path.write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    gateway_config.set_config(None)
    return path
