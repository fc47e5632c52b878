"""Every setting in one declarative table (name, default, help), read from FORUM_* variables."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

_SECRET_FILE = ".forum_secret"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///forum.db"
    bus_url: str = ""
    secret_key: str = ""
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_body_bytes: int = 256 * 1024
    max_post_chars: int = 32_000
    max_title_chars: int = 255
    posts_per_page: int = 20
    topics_per_page: int = 30
    session_days: int = 30
    login_limit_per_account: int = 10
    login_limit_per_address: int = 30
    login_limit_window_seconds: int = 300
    live_queue_size: int = 256
    event_retention_days: int = 7


HELP: dict[str, str] = {
    "database_url": "sqlite:///path/to/file.db or postgresql://user@host:port/dbname",
    "bus_url": "redis://host:port/db to fan live events out through Redis (default: the database)",
    "secret_key": "signs session cookies and CSRF tokens; kept in ./.forum_secret when unset",
    "host": "address to listen on",
    "port": "port to listen on",
    "workers": "server processes",
    "max_body_bytes": "largest request body accepted",
    "max_post_chars": "longest post, in characters",
    "max_title_chars": "longest topic title, in characters",
    "posts_per_page": "posts on one page of a topic",
    "topics_per_page": "topics on one page of a list",
    "session_days": "days a login lasts",
    "login_limit_per_account": "failed logins allowed per account in the window",
    "login_limit_per_address": "failed logins allowed per network address in the window",
    "login_limit_window_seconds": "length of the login rate-limit window",
    "live_queue_size": "frames a live socket may have waiting before it is closed (4008)",
    "event_retention_days": "days the live event log keeps events for clients to resume",
}


def load_settings(**overrides: Any) -> Settings:
    """Defaults, then FORUM_<NAME> from the environment, then explicit overrides (CLI flags)."""
    values: dict[str, Any] = {}
    for field in fields(Settings):
        raw = os.environ.get(f"FORUM_{field.name.upper()}")
        if raw is not None and raw != "":
            values[field.name] = int(raw) if field.type in ("int", int) else raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    if not settings.secret_key:
        settings = replace(settings, secret_key=_stored_secret())
    return settings


def _stored_secret() -> str:
    # Several worker processes must sign cookies alike, and logins should survive a restart,
    # so an unset key is generated once and kept beside the database rather than per process.
    path = Path(_SECRET_FILE)
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key)
    return key
