"""The wire protocol (version 1): JSON text frames on `/live`, validated on the way in.

Client -> server: subscribe, unsubscribe, presence, ping. Server -> client: subscribed, event,
presence, resync, error, pong. docs/realtime.md is the public description of these frames.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from realtime.bus import Event

MAX_FRAME_BYTES = 64 * 1024
# Event ids are 64-bit in the log; a larger `since` could never match one.
MAX_EVENT_ID = 2**63 - 1
CHANNEL_RE = re.compile(r"[a-z]{1,32}(?::[A-Za-z0-9_.-]{1,64})?")  # fullmatch: no "\n" after
PRESENCE_STATES = frozenset({"viewing", "replying", "left"})


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Subscribe:
    channel: str
    since: int | None


@dataclass(frozen=True)
class Unsubscribe:
    channel: str


@dataclass(frozen=True)
class PresenceUpdate:
    channel: str
    state: str


@dataclass(frozen=True)
class Ping:
    pass


ClientFrame = Subscribe | Unsubscribe | PresenceUpdate | Ping


def _channel(frame: dict[str, Any]) -> str:
    channel = frame.get("channel")
    if not isinstance(channel, str):
        raise ProtocolError("bad_request", "'channel' must be a string")
    if not CHANNEL_RE.fullmatch(channel):
        # Echoed as ASCII: a lone surrogate sent back would break the frame's encoding.
        shown = channel[:80].encode("ascii", "backslashreplace").decode()
        raise ProtocolError("bad_request", f"'{shown}' is not a channel name")
    return channel


def parse_frame(text: str) -> ClientFrame:
    """Validate one client frame; raise ProtocolError with a code and a readable message."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise ProtocolError("bad_request", f"frames are at most {MAX_FRAME_BYTES} bytes")
    try:
        frame = json.loads(text)
    except (ValueError, RecursionError):
        # Not JSON, nested deeper than the parser recurses, or a number of thousands of digits.
        raise ProtocolError("bad_request", "a frame must be a JSON object") from None
    if not isinstance(frame, dict):
        raise ProtocolError("bad_request", "a frame must be a JSON object")
    kind = frame.get("type")
    if kind == "ping":
        return Ping()
    if kind == "subscribe":
        since = frame.get("since")
        if since is not None and (type(since) is not int or not 0 <= since <= MAX_EVENT_ID):
            raise ProtocolError("bad_request", "'since' must be a whole number or null")
        return Subscribe(_channel(frame), since)
    if kind == "unsubscribe":
        return Unsubscribe(_channel(frame))
    if kind == "presence":
        state = frame.get("state")
        if state not in PRESENCE_STATES:
            raise ProtocolError("bad_request", "'state' must be viewing, replying or left")
        return PresenceUpdate(_channel(frame), str(state))
    raise ProtocolError("bad_request", "'type' must be subscribe, unsubscribe, presence or ping")


def _dump(frame: dict[str, Any]) -> str:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False)


def subscribed_frame(channel: str, last_id: int) -> str:
    return _dump({"type": "subscribed", "channel": channel, "last_id": last_id})


def event_frame(event: Event) -> str:
    return _dump(
        {
            "type": "event",
            "channel": event.channel,
            "id": event.id,
            "kind": event.kind,
            "data": event.data,
        }
    )


def presence_frame(channel: str, users: list[dict[str, str]], reading: int) -> str:
    return _dump({"type": "presence", "channel": channel, "users": users, "reading": reading})


def resync_frame(channel: str) -> str:
    return _dump({"type": "resync", "channel": channel})


def error_frame(code: str, message: str, channel: str | None = None) -> str:
    frame: dict[str, Any] = {"type": "error", "code": code, "message": message}
    if channel is not None:
        frame["channel"] = channel
    return _dump(frame)


PONG = _dump({"type": "pong"})
