"""Events every gateway process must hear: a key revoked, the config reloaded.

With Redis they travel over one pub/sub channel, heard by a daemon thread in each process;
without Redis there is only one process, so handlers run directly.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

import orjson
import redis

from gateway_site import runtime
from gateway_site.quiet_log import QuietLog
from gateway_site.redis_client import get_sync_redis, redis_configured
from gateway_site.redis_topology import sync_redis

logger = logging.getLogger(__name__)

CHANNEL = "pgw:events"
Handler = Callable[[dict], None]
_handlers: dict[str, list[Handler]] = {}
_listener: threading.Thread | None = None
_listener_lock = threading.Lock()


def on_event(event_type: str, handler: Handler) -> None:
    if handler not in _handlers.setdefault(event_type, []):
        _handlers[event_type].append(handler)


def publish(event: dict) -> None:
    """Delivers locally at once, then to every other process via Redis (best effort)."""
    _dispatch(event)
    if not redis_configured():
        return
    try:
        get_sync_redis().publish(CHANNEL, orjson.dumps(event))
    except redis.RedisError as exc:
        logger.warning("could not publish %s event: %s", event.get("type"), exc)


def ensure_listener() -> None:
    """Starts this process's listener thread once; cheap to call on every request."""
    global _listener
    if _listener is not None or not redis_configured():
        return
    with _listener_lock:
        if _listener is None:
            _listener = threading.Thread(target=_listen_forever, name="gateway-events", daemon=True)
            _listener.start()


def _dispatch(event: dict) -> None:
    for handler in _handlers.get(event.get("type", ""), []):
        try:
            handler(event)
        except Exception:
            logger.exception("event handler failed for %s", event)


def _listen_forever() -> None:
    from django.conf import settings

    while True:
        try:
            # Its own connection without a read timeout: a pub/sub read waits for events.
            client = sync_redis(settings.REDIS_URL, socket_connect_timeout=1)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            pubsub.subscribe(CHANNEL)
            _dispatch({"type": "resync"})  # events may have been missed while disconnected
            for message in pubsub.listen():
                _dispatch_remote(message)
        except Exception as exc:  # keep listening whatever happens; Redis may come back
            runtime.part(QuietLog).warning(logger, "events_redis", "event listener lost Redis (%s); retrying every second", exc)
            time.sleep(1)


def _dispatch_remote(message: dict) -> None:
    try:
        event = orjson.loads(message["data"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return
    if isinstance(event, dict):
        _dispatch(event)
