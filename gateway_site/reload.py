"""Reloading gateway.yaml in every gateway process (POST /admin/reload-config).

The process that takes the request validates the file first: an invalid file raises
ConfigError and nothing changes anywhere. A valid one is swapped in here, then a
`config_reload` event tells every other process to read the same file (each machine
reads its own copy: deploy the file everywhere before reloading). A process whose event
listener reconnects to Redis re-reads the file too, since it may have missed an event.

Config objects are immutable and swapped whole, so a request keeps the object it read.
"""

from __future__ import annotations

import logging


from gateway_site import events
from gateway_site.gateway_config import ConfigError, GatewayConfig, config_path, get_config, load_config, set_config

logger = logging.getLogger(__name__)

EVENT = "config_reload"


def config_reload() -> GatewayConfig:
    """Raises ConfigError (with every problem listed) and leaves the running config as is."""
    config = load_config(config_path())
    set_config(config)
    events.ensure_listener()
    events.publish({"type": EVENT, "digest": config.digest})
    logger.info("configuration reloaded (digest %s)", config.digest)
    return config


def _running_digest() -> str | None:
    try:
        return get_config().digest
    except ConfigError:
        return None


def _reload_from_file(event: dict) -> None:
    digest = event.get("digest")
    if digest and digest == _running_digest():
        return  # this process already runs it (it is the one that published the event)
    try:
        config = load_config(config_path())
    except ConfigError as exc:
        logger.error("configuration not reloaded in this process, keeping the running one: %s", exc)
        return
    if config.digest != _running_digest():
        set_config(config)
        logger.info("configuration reloaded on %s (digest %s)", event.get("type"), config.digest)


events.on_event(EVENT, _reload_from_file)
events.on_event("resync", _reload_from_file)
