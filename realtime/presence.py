"""Who is here: viewing or replying per channel, shared across nodes over the bus.

Each node announces its own sockets' states by broadcast, again every `heartbeat` seconds;
every node keeps all announcements with a time-to-live, so a node that dies (or a tab that
vanishes without closing) drops out within `ttl` seconds, and a clean close at once.
Listeners are told only when a channel's summary actually changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from realtime.bus import Bus

TOPIC = "presence"

OnChange = Callable[[str, list[dict[str, str]], int], None]


@dataclass
class _Entry:
    username: str | None  # None: someone reading without an account
    state: str
    expires: float


class Presence:
    def __init__(
        self, bus: Bus, on_change: OnChange, ttl: float = 45.0, heartbeat: float = 15.0
    ) -> None:
        self.bus = bus
        self.node = secrets.token_hex(6)
        self.on_change = on_change
        self.ttl = ttl
        self.heartbeat = heartbeat
        # channel -> (node, connection id) -> entry
        self._table: dict[str, dict[tuple[str, int], _Entry]] = {}
        self._local: dict[tuple[str, int], tuple[str | None, str]] = {}
        self._summaries: dict[str, tuple[list[dict[str, str]], int]] = {}
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._heartbeat_loop())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def set(self, channel: str, conn_id: int, username: str | None, state: str) -> None:
        """Record this node's socket `conn_id` as viewing, replying, or gone ('left')."""
        key = (channel, conn_id)
        if state == "left":
            if self._local.pop(key, None) is None:
                return
        else:
            if self._local.get(key) == (username, state):
                return
            self._local[key] = (username, state)
        payload = self._message(channel, conn_id, username, state)
        self._apply(payload)  # locally at once; the broadcast echo is idempotent
        await self.bus.broadcast(TOPIC, payload)

    async def leave_all(self, conn_id: int) -> None:
        for channel, cid in list(self._local):
            if cid == conn_id:
                await self.set(channel, conn_id, None, "left")

    def on_broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        if topic == TOPIC:
            self._apply(payload)

    def summary(self, channel: str) -> tuple[list[dict[str, str]], int]:
        """Named users (replying wins over viewing) and how many sockets are reading."""
        entries = self._table.get(channel, {})
        states: dict[str, str] = {}
        for entry in entries.values():
            if entry.username is not None and states.get(entry.username) != "replying":
                states[entry.username] = entry.state
        users = [{"username": name, "state": states[name]} for name in sorted(states)]
        return users, len(entries)

    def _apply(self, payload: dict[str, Any]) -> None:
        try:
            channel = str(payload["channel"])
            key = (str(payload["node"]), int(payload["conn"]))
            state = str(payload["state"])
            username = payload.get("username")
            ttl = float(payload.get("ttl", self.ttl))
        except (KeyError, TypeError, ValueError):
            return  # another node's malformed message must not break this one
        entries = self._table.setdefault(channel, {})
        if state == "left":
            entries.pop(key, None)
        else:
            entries[key] = _Entry(
                username if isinstance(username, str) else None, state, time.monotonic() + ttl
            )
        self._changed(channel)

    def _changed(self, channel: str) -> None:
        summary = self.summary(channel)
        if self._summaries.get(channel) == summary:
            return
        if summary[1] == 0:
            self._summaries.pop(channel, None)
            self._table.pop(channel, None)
        else:
            self._summaries[channel] = summary
        self.on_change(channel, *summary)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat)
            now = time.monotonic()
            for channel, entries in list(self._table.items()):
                expired = [k for k, e in entries.items() if e.expires < now]
                for key in expired:
                    del entries[key]
                if expired:
                    self._changed(channel)
            for (channel, conn_id), (username, state) in list(self._local.items()):
                await self.bus.broadcast(TOPIC, self._message(channel, conn_id, username, state))

    def _message(
        self, channel: str, conn_id: int, username: str | None, state: str
    ) -> dict[str, Any]:
        return {
            "node": self.node,
            "conn": conn_id,
            "channel": channel,
            "username": username,
            "state": state,
            "ttl": self.ttl,
        }
