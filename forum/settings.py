"""Every setting in one declarative table (name, default, help), read from FORUM_* variables."""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

_SECRET_FILE = ".forum_secret"


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///forum.db"
    sqlite_busy_ms: int = 10_000
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
    page_cache_entries: int = 500
    page_cache_seconds: int = 30
    session_days: int = 30
    # argon2id's cost (RFC 9106's second recommendation). A login stores a password hashed at
    # a lower cost again at this one. The tests, which make thousands of accounts, build their
    # Settings with a lower cost; one read from FORUM_* is refused below OWASP's floor.
    password_memory_kib: int = 65536
    password_time_cost: int = 3
    login_limit_per_account: int = 10
    login_limit_per_address: int = 30
    login_limit_window_seconds: int = 300
    signups_per_address_per_hour: int = 10
    previews_per_minute: int = 60
    draft_saves_per_minute: int = 60
    drafts_per_user: int = 50
    follow_changes_per_minute: int = 60
    read_reports_per_minute: int = 120
    searches_per_minute: int = 30
    image_hosts: str = ""
    live_queue_size: int = 256
    live_sockets_per_account: int = 20
    live_sockets_per_address: int = 200
    event_retention_days: int = 7
    # Hosted debates (forum/scheduler.py): times are shown in this zone to readers without
    # JavaScript (with it, in their own), and offered first on the scheduling form.
    time_zone: str = "Europe/London"
    debate_tick_ms: int = 1000
    alert_poll_ms: int = 200
    # Email (forum/mailer.py): off while smtp_host is empty. Links in emails start with
    # base_url, the address members reach the forum at.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_security: str = "starttls"
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_timeout_seconds: int = 30
    mail_from: str = "SIG Forum <forum@localhost>"
    base_url: str = "http://127.0.0.1:8000"
    email_delay_seconds: int = 60
    email_poll_ms: int = 1000
    email_retry_seconds: int = 60
    email_max_attempts: int = 8
    # Moderation (forum/moderation.py): flags weigh 1 each (a moderator's: at once).
    flag_hide_score: int = 3
    # Pace (forum/pace.py): per-user limits, stricter while an account is new; 0 turns one off.
    new_account_posts: int = 3
    new_account_hours: int = 24
    post_interval_seconds: int = 5
    posts_per_hour: int = 30
    topic_interval_seconds: int = 60
    topics_per_day: int = 10
    flags_per_hour: int = 20
    edit_interval_seconds: int = 2
    edits_per_hour: int = 60
    new_post_interval_seconds: int = 30
    new_posts_per_hour: int = 10
    new_topics_per_day: int = 3
    new_flags_per_hour: int = 5
    # Thanks (likes, forum/actions/likes.py): Discourse allows 50 a day.
    likes_per_day: int = 50
    new_likes_per_day: int = 20
    # Documents (forum/actions/documents.py): files kept in a folder on disk (forum/storage.py).
    documents_dir: str = "documents"
    max_upload_bytes: int = 20 * 1024 * 1024
    documents_per_hour: int = 20
    new_documents_per_hour: int = 5


HELP: dict[str, str] = {
    "database_url": "sqlite:///path/to/file.db or postgresql://user@host:port/dbname",
    "sqlite_busy_ms": "milliseconds a SQLite write waits for another process's lock (then 503)",
    "bus_url": "redis://host:port/db to fan live events out through Redis (default: the database)",
    "secret_key": "signs session cookies and CSRF tokens; kept in ./.forum_secret when unset",
    "host": "address to listen on",
    "port": "port to listen on",
    "workers": "server processes",
    "max_body_bytes": "largest request body accepted (an upload: max_upload_bytes)",
    "documents_dir": "folder the groups' uploaded documents are kept in (made if missing)",
    "max_upload_bytes": "largest document a member may upload",
    "documents_per_hour": "documents (files or links) one member may add in an hour",
    "new_documents_per_hour": "the same while their account is new",
    "max_post_chars": "longest post, in characters",
    "max_title_chars": "longest topic title, in characters",
    "posts_per_page": "posts on one page of a topic",
    "flag_hide_score": "flags from different members that hide a post until it is reviewed",
    "topics_per_page": "topics on one page of a list",
    "page_cache_entries": "pages kept per node for anonymous readers of public groups (0: off)",
    "page_cache_seconds": "the longest a kept page is served (what changes without an event)",
    "session_days": "days a login lasts",
    "password_memory_kib": "KiB of memory one password check uses (argon2id; at least 19456)",
    "password_time_cost": "passes one password check makes over that memory (at least 2)",
    "login_limit_per_account": "failed logins allowed per account in the window",
    "login_limit_per_address": "failed logins allowed per network address in the window",
    "login_limit_window_seconds": "length of the login rate-limit window",
    "signups_per_address_per_hour": "accounts that one network address may create in an hour",
    "previews_per_minute": "composer previews one person may ask one server for in a minute",
    "draft_saves_per_minute": "drafts one person may save (as they type) on one server a minute",
    "drafts_per_user": "drafts kept for one person; saving another drops their oldest",
    "read_reports_per_minute": "reports of how far one person has read, per server and minute",
    "searches_per_minute": "searches one person (or address, signed out) may make a minute",
    "follow_changes_per_minute": (
        "notification choices (watch, mute, mark read) one person may make on one server in a"
        " minute"
    ),
    "image_hosts": "hosts (comma-separated) whose https images posts show; others become links",
    "live_sockets_per_account": "live connections one account may hold open on one server",
    "live_sockets_per_address": "anonymous live connections one address may hold on one server",
    "live_queue_size": "frames a live socket may have waiting before it is closed (4008)",
    "event_retention_days": "days the live event log keeps events for clients to resume",
    "time_zone": "IANA time zone that pages show times in when the reader's own is not known",
    "debate_tick_ms": "milliseconds between the debate scheduler's looks for debates due",
    "alert_poll_ms": "milliseconds between looks for posts whose notifications are to be made",
    "smtp_host": "the SMTP server that sends email; empty: no email",
    "smtp_port": "its port",
    "smtp_security": "starttls (upgrade on connecting), tls (TLS from the start) or none",
    "smtp_username": "the account to log in to the SMTP server as (empty: no login)",
    "smtp_password": "its password",
    "smtp_timeout_seconds": "how long one SMTP conversation may take before it is retried",
    "mail_from": "the From address of every email",
    "base_url": "the address members reach the forum at, for links in emails",
    "email_delay_seconds": "seconds an email waits before it is sent (not sent if read by then)",
    "email_poll_ms": "milliseconds between the mailer's looks for email due",
    "email_retry_seconds": "seconds before a failed email is tried again (doubling, to an hour)",
    "email_max_attempts": "tries before an email is given up",
    "new_account_posts": "an account is new (stricter limits) until this many posts are approved",
    "new_account_hours": "an account is new (stricter limits) for this many hours after sign-up",
    "post_interval_seconds": "least seconds between two posts by one user (0: no limit)",
    "posts_per_hour": "posts one user may make in an hour (0: no limit)",
    "topic_interval_seconds": "least seconds between two new topics by one user (0: no limit)",
    "topics_per_day": "topics one user may start in a day (0: no limit)",
    "flags_per_hour": "posts one user may flag in an hour (0: no limit)",
    "edit_interval_seconds": "least seconds between two edits by one user (0: no limit)",
    "edits_per_hour": "edits one user may save in an hour (0: no limit)",
    "new_post_interval_seconds": "post_interval_seconds for a new account",
    "new_posts_per_hour": "posts_per_hour for a new account",
    "new_topics_per_day": "topics_per_day for a new account",
    "new_flags_per_hour": "flags_per_hour for a new account",
    "likes_per_day": "posts one user may thank in a day (0: no limit)",
    "new_likes_per_day": "likes_per_day for a new account",
}


@lru_cache(maxsize=16)
def image_host_set(settings: Settings) -> frozenset[str]:
    """The allowed image hosts, lower case: an image elsewhere would tell that host the
    address of every reader, so it is shown as a link instead."""
    return frozenset(h.strip().lower() for h in settings.image_hosts.split(",") if h.strip())


def load_settings(**overrides: Any) -> Settings:
    """Defaults, then FORUM_<NAME> from the environment, then explicit overrides (CLI flags)."""
    values: dict[str, Any] = {}
    for field in fields(Settings):
        raw = os.environ.get(f"FORUM_{field.name.upper()}")
        if raw is not None and raw != "":
            values[field.name] = int(raw) if field.type in ("int", int) else raw
    values.update({k: v for k, v in overrides.items() if v is not None})
    settings = Settings(**values)
    check_password_cost(settings)
    if not settings.secret_key:
        settings = replace(settings, secret_key=_stored_secret())
    return settings


# OWASP's floor for argon2id (Password Storage Cheat Sheet): 19 MiB of memory, 2 passes.
PASSWORD_FLOOR_KIB = 19 * 1024
PASSWORD_FLOOR_PASSES = 2


class SettingsError(ValueError):
    """A setting read from the environment or the command line that cannot be used."""


def check_password_cost(settings: Settings) -> None:
    """A configured cost below the floor would weaken every member's stored password as
    they log in, so it is refused rather than used."""
    if settings.password_memory_kib < PASSWORD_FLOOR_KIB:
        raise SettingsError(f"FORUM_PASSWORD_MEMORY_KIB must be at least {PASSWORD_FLOOR_KIB}.")
    if settings.password_time_cost < PASSWORD_FLOOR_PASSES:
        raise SettingsError(f"FORUM_PASSWORD_TIME_COST must be at least {PASSWORD_FLOOR_PASSES}.")


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
