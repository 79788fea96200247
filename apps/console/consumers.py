"""The dashboard's live figures over a WebSocket (channels): staff sessions only."""

from __future__ import annotations

import asyncio
import contextlib

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from apps.console.dashboard import DEFAULT_WINDOW, WINDOWS, dashboard_figures

PUSH_INTERVAL = 3.0  # seconds between two pushes; the usage writer flushes every 0.5 s


class DashboardConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not (user.is_active and user.is_staff):
            await self.close(code=4403)
            return
        self.window = DEFAULT_WINDOW
        self.changed = asyncio.Event()
        await self.accept()
        self.pusher = asyncio.create_task(self._push_forever())

    async def receive_json(self, content, **kwargs) -> None:
        window = content.get("window") if isinstance(content, dict) else None
        if window in WINDOWS:
            self.window = window
            self.changed.set()  # the new window's figures now, not at the next tick

    async def disconnect(self, code) -> None:
        pusher = getattr(self, "pusher", None)
        if pusher is not None:
            pusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pusher

    async def _push_forever(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self.changed.wait(), PUSH_INTERVAL)
            self.changed.clear()
            try:
                figures = await database_sync_to_async(dashboard_figures)(window=self.window)
            except Exception:  # the database is away: the page keeps its last figures
                continue
            await self.send_json(figures)
