"""Who is here: viewing or replying per channel, shared across nodes over the bus.

Each node announces its own sockets' changes (viewing, replying, left) as they happen, in
numbered messages (changes that come together share one). Every `heartbeat` seconds each node
sends ONE small heartbeat, however many sockets it has: the number of its last message and
how many entries it holds. Every node keeps every other node's entries for as long as that
node beats: a node that dies (or loses the bus) drops out, all its entries at once, within
`ttl` seconds; a socket's clean close, and a node's clean shutdown, drop at once.

Broadcasts are best-effort (a Redis subscriber can miss messages), so a receiver checks each
node's numbering: a message that skips a number, or a heartbeat whose number or count differs
from what the receiver holds, means something was missed. The receiver then asks that node
for a snapshot of all its entries (again at later heartbeats until one arrives), which the
node sends in numbered parts, each well under the bus's size limit (PostgreSQL NOTIFY: 8,000
bytes), in order with its other messages, and the receiver replaces what it held of that node.
So a lost "left" heals within a heartbeat, and a node that starts asks every other for theirs.
A node's messages go out one at a time, in order, from one sender task.

Listeners are told only when a channel's summary actually changes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from realtime.backends import MAX_BROADCAST_BYTES
from realtime.bus import Bus

log = logging.getLogger("realtime.presence")

TOPIC = "presence"
# The entries of one message, in bytes of JSON: the rest of the broadcast (node, numbers,
# topic) fits in what is left under the bus's limit.
ENTRIES_BYTES = MAX_BROADCAST_BYTES - 600
BYE_SECONDS = 2.0  # at most, for a closing node's goodbye

OnChange = Callable[[str, list[dict[str, str]], int], None]

Key = tuple[str, int]  # (channel, connection id) within one node
Value = tuple[str | None, str]  # (username, None for a reader without an account; state)


@dataclass(slots=True)
class _Snapshot:
    """A snapshot being received, part by part."""

    number: int
    seq: int  # the sender's last message number when it took the snapshot
    entries: dict[Key, Value] = field(default_factory=dict)
    next_part: int = 0


@dataclass(slots=True)
class _Peer:
    """What this node holds of another node.

    A node first heard of is taken to be new (nothing sent, nothing held): its first message
    is number 1. Anything else (a heartbeat with a number, entries we never heard of) is a
    gap, healed by a snapshot."""

    expires: float  # all its entries drop out then, unless it beats in step before
    seq: int = 0  # the number of its last message applied here
    entries: dict[Key, Value] = field(default_factory=dict)
    in_step: bool = True  # False: something was missed; a snapshot is awaited
    asked_at: float = float("-inf")
    snapshot: _Snapshot | None = None


class Presence:
    def __init__(
        self, bus: Bus, on_change: OnChange, ttl: float = 45.0, heartbeat: float = 15.0
    ) -> None:
        self.bus = bus
        self.node = secrets.token_hex(6)
        self.on_change = on_change
        self.ttl = ttl
        self.heartbeat = heartbeat
        # channel -> (node, connection id) -> (username, state): every node's, this one's too
        self._table: dict[str, dict[tuple[str, int], Value]] = {}
        self._summaries: dict[str, tuple[list[dict[str, str]], int]] = {}
        self._peers: dict[str, _Peer] = {}
        # This node's own entries, by connection (a closing socket leaves all its channels).
        self._mine: dict[int, dict[str, Value]] = {}
        self._count = 0  # entries in _mine
        # Outgoing, sent in this order by one sender task: changes not yet announced (the
        # latest per key; None: left), snapshots asked for, the heartbeat.
        self._pending: dict[Key, Value | None] = {}
        self._wants: set[str] = set()  # nodes to ask for a snapshot ("*": every node)
        self._snapshot_due = False
        self._beat_due = False
        self._seq = 0  # the number of this node's last message of changes
        self._snapshots = 0
        self._sender: asyncio.Task[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        # Expiry is looked at three times a heartbeat, and a node's entries are given a tick
        # less than its ttl, so a silent node drops out within ttl of its last heartbeat.
        self._tick = min(heartbeat, ttl) / 3

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._heartbeat_loop())
        self._wants.add("*")  # whoever is already running: send me your entries
        self._kick()

    async def close(self) -> None:
        self._closed = True
        for task in (self._task, self._sender):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        # Best effort: the other nodes drop this one's entries now rather than after ttl.
        with contextlib.suppress(Exception):
            async with asyncio.timeout(BYE_SECONDS):
                await self.bus.broadcast(TOPIC, {"node": self.node, "op": "bye"})

    # --- this node's sockets -------------------------------------------------------------

    async def set(self, channel: str, conn_id: int, username: str | None, state: str) -> None:
        """Record this node's socket `conn_id` as viewing, replying, or gone ('left')."""
        mine = self._mine.get(conn_id)
        value: Value | None
        if state == "left":
            if mine is None or mine.pop(channel, None) is None:
                return
            if not mine:
                del self._mine[conn_id]
            self._count -= 1
            value = None
        else:
            value = (username, state)
            if mine is None:
                mine = self._mine[conn_id] = {}
            before = mine.get(channel)
            if before == value:
                return
            if before is None:
                self._count += 1
            mine[channel] = value
        self._pending[(channel, conn_id)] = value
        self._put(channel, (self.node, conn_id), value)
        self._changed(channel)
        self._kick()

    async def leave_all(self, conn_id: int) -> None:
        mine = self._mine.pop(conn_id, None)
        if not mine:
            return
        self._count -= len(mine)
        for channel in mine:
            self._pending[(channel, conn_id)] = None
            self._put(channel, (self.node, conn_id), None)
            self._changed(channel)
        self._kick()

    def summary(self, channel: str) -> tuple[list[dict[str, str]], int]:
        """Named users (replying wins over viewing) and how many sockets are reading."""
        entries = self._table.get(channel, {})
        states: dict[str, str] = {}
        for username, state in entries.values():
            if username is not None and states.get(username) != "replying":
                states[username] = state
        users = [{"username": name, "state": states[name]} for name in sorted(states)]
        return users, len(entries)

    # --- what other nodes say ------------------------------------------------------------

    def on_broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        if topic != TOPIC:
            return
        try:
            self._receive(payload)
        except (KeyError, TypeError, ValueError, IndexError) as error:
            # Another node's malformed message must not break this one.
            log.warning("ignoring a malformed presence message: %r", error)

    def _receive(self, payload: dict[str, Any]) -> None:
        node, op = payload["node"], payload.get("op")
        if not isinstance(node, str) or node == self.node or op is None:
            # This node's own echo (its entries are in the table already), or a node of an
            # older version, announcing entry by entry: not understood, not an error.
            return
        if op == "want":
            if payload["of"] in (self.node, "*"):
                self._snapshot_due = True
                self._kick()
            return
        if op == "bye":
            self._forget(node)
            return
        now = time.monotonic()
        ttl = float(payload.get("ttl", self.ttl))
        until = now + max(ttl - self._tick, ttl / 2)  # its entries' expiry, if renewed
        seq = int(payload["seq"])
        peer = self._peers.get(node)
        if peer is None:
            peer = self._peers[node] = _Peer(until)
        if op == "set":
            changes = _read_entries(payload["entries"], values=False)
            if seq <= peer.seq:
                return  # heard already
            if seq != peer.seq + 1:
                self._missed(node, peer, now)  # apply what it says; the snapshot does the rest
            peer.seq = seq
            if peer.in_step:
                peer.expires = until
            self._apply(node, peer, changes)
        elif op == "beat":
            if peer.in_step and seq == peer.seq and int(payload["count"]) == len(peer.entries):
                peer.expires = until
            elif seq >= peer.seq:
                self._missed(node, peer, now)
        elif op == "snap":
            self._snapshot_part(node, peer, payload, seq, until)

    def _missed(self, node: str, peer: _Peer, now: float) -> None:
        """Something of `node`'s was lost: ask it for a snapshot (at most every half
        heartbeat: until one arrives, each heartbeat of its asks again)."""
        peer.in_step = False
        if now - peer.asked_at >= self.heartbeat / 2:
            peer.asked_at = now
            self._wants.add(node)
            self._kick()

    def _snapshot_part(
        self, node: str, peer: _Peer, payload: dict[str, Any], seq: int, expires: float
    ) -> None:
        number, part, parts = int(payload["snap"]), int(payload["part"]), int(payload["parts"])
        entries = _read_entries(payload["entries"], values=True)
        if seq < peer.seq:
            return  # older than what is held
        if part == 0:
            peer.snapshot = _Snapshot(number, seq)
        taking = peer.snapshot
        if taking is None or (taking.number, taking.seq, taking.next_part) != (number, seq, part):
            peer.snapshot = None  # a part was lost: the next heartbeat asks again
            return
        for key, value in entries:
            assert value is not None
            taking.entries[key] = value
        taking.next_part += 1
        if taking.next_part < parts:
            return
        peer.snapshot = None
        changes: list[tuple[Key, Value | None]] = [(key, None) for key in peer.entries]
        changes += taking.entries.items()
        peer.seq, peer.in_step, peer.expires = seq, True, expires
        self._apply(node, peer, changes)

    def _apply(self, node: str, peer: _Peer, changes: Iterable[tuple[Key, Value | None]]) -> None:
        touched: set[str] = set()
        for key, value in changes:
            if value is None:
                peer.entries.pop(key, None)
            else:
                peer.entries[key] = value
            channel, conn = key
            self._put(channel, (node, conn), value)
            touched.add(channel)
        for channel in touched:
            self._changed(channel)

    def _forget(self, node: str) -> None:
        peer = self._peers.pop(node, None)
        if peer is not None:
            self._apply(node, peer, [(key, None) for key in list(peer.entries)])

    # --- the table -------------------------------------------------------------------------

    def _put(self, channel: str, key: tuple[str, int], value: Value | None) -> None:
        entries = self._table.get(channel)
        if value is not None:
            if entries is None:
                entries = self._table[channel] = {}
            entries[key] = value
        elif entries is not None:
            entries.pop(key, None)

    def _changed(self, channel: str) -> None:
        summary = self.summary(channel)
        if self._summaries.get(channel, ([], 0)) == summary:
            if summary[1] == 0:
                self._table.pop(channel, None)
            return
        if summary[1] == 0:
            self._summaries.pop(channel, None)
            self._table.pop(channel, None)
        else:
            self._summaries[channel] = summary
        self.on_change(channel, *summary)

    # --- sending, one message at a time, in order --------------------------------------------

    def _kick(self) -> None:
        if self._sender is None and not self._closed:
            self._sender = asyncio.get_running_loop().create_task(self._send_all())

    async def _send_all(self) -> None:
        try:
            while True:
                # Taken from the state as it is now, each after what came before is out: a
                # heartbeat's number and count, and a snapshot, match the changes sent.
                if self._pending:
                    messages = self._change_messages()
                elif self._wants:
                    wants, self._wants = self._wants, set()
                    messages = [{"node": self.node, "op": "want", "of": of} for of in wants]
                elif self._snapshot_due:
                    self._snapshot_due = False
                    messages = self._snapshot_messages()
                elif self._beat_due:
                    self._beat_due = False
                    messages = [self._beat_message()]
                else:
                    return
                for message in messages:
                    await self._send(message)
        finally:
            self._sender = None  # no await since nothing was seen waiting

    async def _send(self, message: dict[str, Any]) -> None:
        try:
            await self.bus.broadcast(TOPIC, message)
        except Exception as error:
            # Lost like a dropped message: the other nodes see the gap and ask again.
            log.warning("a presence message was not sent: %r", error)

    def _change_messages(self) -> list[dict[str, Any]]:
        changes, self._pending = self._pending, {}
        items = [
            [channel, conn] if value is None else [channel, conn, *value]
            for (channel, conn), value in changes.items()
        ]
        messages = []
        for part in _parts(items):
            self._seq += 1
            messages.append({"node": self.node, "op": "set", "seq": self._seq, "entries": part})
        return messages

    def _snapshot_messages(self) -> list[dict[str, Any]]:
        self._snapshots += 1
        items = [
            [channel, conn, *value]
            for conn, channels in self._mine.items()
            for channel, value in channels.items()
        ]
        parts = list(_parts(items)) or [[]]
        return [
            {
                "node": self.node,
                "op": "snap",
                "seq": self._seq,
                "snap": self._snapshots,
                "part": n,
                "parts": len(parts),
                "entries": part,
                "ttl": self.ttl,
            }
            for n, part in enumerate(parts)
        ]

    def _beat_message(self) -> dict[str, Any]:
        return {
            "node": self.node,
            "op": "beat",
            "seq": self._seq,
            "count": self._count,
            "ttl": self.ttl,
        }

    async def _heartbeat_loop(self) -> None:
        tick = self._tick
        next_beat = time.monotonic() + self.heartbeat
        while True:
            await asyncio.sleep(tick)
            now = time.monotonic()
            for node in [n for n, peer in self._peers.items() if peer.expires < now]:
                self._forget(node)
            if now >= next_beat - tick / 2:
                next_beat = max(next_beat + self.heartbeat, now + tick)
                self._beat_due = True
                self._kick()


def _parts(items: list[list[Any]]) -> Iterable[list[list[Any]]]:
    """`items` in runs of at most ENTRIES_BYTES of JSON each (never an empty run)."""
    part: list[list[Any]] = []
    size = 0
    for item in items:
        length = len(json.dumps(item, separators=(",", ":"))) + 1
        if part and size + length > ENTRIES_BYTES:
            yield part
            part, size = [], 0
        part.append(item)
        size += length
    if part:
        yield part


def _read_entries(raw: Any, values: bool) -> list[tuple[Key, Value | None]]:
    """[[channel, conn, username, state], ...] (or [channel, conn]: left), checked whole
    before any of it is applied. `values`: every entry must have a state (a snapshot)."""
    if not isinstance(raw, list):
        raise TypeError("entries must be a list")
    read: list[tuple[Key, Value | None]] = []
    for item in raw:
        channel, conn = str(item[0]), int(item[1])
        if len(item) == 2 and not values:
            read.append(((channel, conn), None))
            continue
        username, state = item[2], str(item[3])
        read.append(((channel, conn), (username if isinstance(username, str) else None, state)))
    return read
