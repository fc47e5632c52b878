"""RedisBus: the log stays in the app's database (SQLite or PostgreSQL); wake-ups and
broadcasts travel over Redis pub/sub.

A hint is PUBLISHed once the appending transaction has committed (never before: a node must
not read the log for an event that may yet roll back). Redis keeps nothing for a subscriber
that was away, so after its subscription connection comes back a node catches up from the
log. The subscription is ours to supervise, with redis-py's retries off: its retry layer
would reconnect and resubscribe under us, so a lost connection surfaces at once instead,
and the supervisor reconnects with backoff and then asks for the catch-up.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from realtime import log as event_log
from realtime.backends import decode_broadcast, decode_hint, encode_broadcast
from realtime.backends.listening import ListeningBus
from realtime.bus import Entry, SqlConnection
from realtime.log import SqlDatabase

log = logging.getLogger("realtime.bus.redis")

DEFAULT_PREFIX = "realtime"
# An idle subscription PINGs this often (seconds), so a dead connection is found.
HEALTH_CHECK_INTERVAL = 15
SUBSCRIBE_TIMEOUT = 10.0
CONNECT_TIMEOUT = 5.0

CONNECTION_ERRORS = (RedisError, OSError, TimeoutError)


def split_prefix(url: str) -> tuple[str, str | None]:
    """Take our own `prefix` query parameter out of a Redis URL (redis-py would reject it)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = next((value for name, value in query if name == "prefix"), None)
    rest = urlencode([(name, value) for name, value in query if name != "prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


class RedisBus(ListeningBus):
    listener = "the Redis subscription"
    connection_errors = CONNECTION_ERRORS

    def __init__(self, db: SqlDatabase, redis_url: str, prefix: str | None = None) -> None:
        """`prefix` (or `?prefix=` in the URL; default "realtime") names the pub/sub channels
        `<prefix>:events` and `<prefix>:broadcast`: one prefix per forum sharing a Redis."""
        super().__init__(db)
        self._url, url_prefix = split_prefix(redis_url)
        self.prefix = prefix or url_prefix or DEFAULT_PREFIX
        self.events_channel = f"{self.prefix}:events"
        self.broadcast_channel = f"{self.prefix}:broadcast"
        # Redis client names may not hold spaces; unique, so one node's can be found.
        self.listener_name = f"{self.prefix}:listener:{secrets.token_hex(4)}"
        # Publishing needs no supervision: a failed publish is a lost hint, which the
        # contract allows. Creating the client connects nothing.
        # Bounded waits, so publish tasks do not pile up for long while Redis is away.
        self._publisher = Redis.from_url(
            self._url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
        )
        self._publishing: set[asyncio.Task[None]] = set()
        self._subscriber: Redis | None = None
        self._pubsub: PubSub | None = None
        self._closed = False

    async def close(self) -> None:
        self._closed = True
        await self._stop_listening()
        await self._drop()
        # Hints already committed are still worth sending to the other nodes.
        pending = list(self._publishing)
        if pending:
            _, late = await asyncio.wait(pending, timeout=5)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
        await self._publisher.aclose()

    # --- appending and broadcasting ---------------------------------------------------------

    async def _append_in(
        self, conn: SqlConnection, entries: Sequence[Entry], now: float
    ) -> list[int]:
        rows = await event_log.append_rows(conn, entries, now)
        hints = [f"{channel} {row.id}" for (channel, _, _), row in zip(entries, rows, strict=True)]

        def publish() -> None:
            for hint in hints:
                self._publish_hint(hint)

        conn.after_commit(publish)
        return [row.id for row in rows]

    def _publish_hint(self, hint: str) -> None:
        if self._closed:
            return
        # after_commit callbacks must not block: publish in a task, and hold a reference
        # to it until done (the loop keeps only weak ones).
        task = asyncio.get_running_loop().create_task(self._publish(hint))
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, hint: str) -> None:
        try:
            await self._publisher.publish(self.events_channel, hint)
        except CONNECTION_ERRORS as error:
            log.warning("a hint was not published (%s); nodes read it from the log later", error)

    async def broadcast(self, topic: str, payload: dict[str, Any]) -> None:
        await self._publisher.publish(self.broadcast_channel, encode_broadcast(topic, payload))

    # --- listening ----------------------------------------------------------------------------

    async def _connect(self) -> None:
        subscriber = Redis.from_url(
            self._url,
            client_name=self.listener_name,
            socket_connect_timeout=CONNECT_TIMEOUT,
            decode_responses=True,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            socket_keepalive=True,
            # No retries: a lost connection must surface here, to be followed by a catch-up.
            retry=Retry(NoBackoff(), 0),
        )
        pubsub = subscriber.pubsub()
        try:
            await pubsub.subscribe(self.events_channel, self.broadcast_channel)
            confirmed = 0
            async with asyncio.timeout(SUBSCRIBE_TIMEOUT):
                while confirmed < 2:
                    message = await pubsub.get_message(timeout=SUBSCRIBE_TIMEOUT)
                    if message is None:
                        continue
                    if message["type"] == "subscribe":
                        confirmed += 1
                    else:
                        self._dispatch(message)
        except BaseException:
            # redis-py left it unannotated before 8.2: ignored there, and no error after.
            await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            await subscriber.aclose()
            raise
        self._subscriber, self._pubsub = subscriber, pubsub

    async def _drop(self) -> None:
        pubsub, self._pubsub = self._pubsub, None
        subscriber, self._subscriber = self._subscriber, None
        try:
            if pubsub is not None:
                await pubsub.aclose()  # type: ignore[no-untyped-call, unused-ignore]
            if subscriber is not None:
                await subscriber.aclose()
        except CONNECTION_ERRORS as error:
            log.debug("closing the subscription connection: %s", error)

    async def _hold(self) -> None:
        try:
            await self._read()
        except CONNECTION_ERRORS as error:
            log.warning("the Redis subscription was lost: %s", error)

    async def _read(self) -> None:
        pubsub = self._pubsub
        assert pubsub is not None
        while True:
            # A timeout rather than blocking for ever, so the health-check PING gets sent.
            message = await pubsub.get_message(timeout=HEALTH_CHECK_INTERVAL)
            if message is not None:
                self._dispatch(message)

    def _dispatch(self, message: dict[str, Any]) -> None:
        if message["type"] != "message" or self._callbacks is None:
            return
        try:
            if message["channel"] == self.events_channel:
                self._callbacks.hint(*decode_hint(message["data"]))
            elif message["channel"] == self.broadcast_channel:
                self._callbacks.broadcast(*decode_broadcast(message["data"]))
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring a malformed message on %s", message["channel"])
