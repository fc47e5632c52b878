"""The `forum` command, run as a user runs it: real processes, a real server over HTTP."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

import httpx
import pytest

from forum.db import open_database
from forum.permissions import is_new_account
from forum.queries.users import get_user_by_username
from forum.settings import Settings
from tests.conftest import ROOT, create_pg_database, drop_pg_database, forum_serve

FORUM = [sys.executable, "-m", "forum"]


def run(
    args: list[str], db_url: str, stdin: str = "", **env_vars: str
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "FORUM_DATABASE_URL": db_url,
        "FORUM_SECRET_KEY": "cli-test-secret",
        "FORUM_DOCUMENTS_DIR": tempfile.mkdtemp(prefix="cli-docs-"),
        **env_vars,
    }
    return subprocess.run(
        FORUM + args,
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


@pytest.fixture
def fresh_url(database_url: str, tmp_path) -> Iterator[str]:
    """An empty database of its own for each CLI test, of the same kind as the session's."""
    if database_url.startswith("sqlite"):
        yield f"sqlite:///{tmp_path / 'cli.db'}"
        return
    url = asyncio.run(create_pg_database())
    yield url
    asyncio.run(drop_pg_database(url))


def test_demo_seeds_once_and_serve_shows_it(fresh_url: str) -> None:
    # An account made before the demo is seeded is left as it was (a new one).
    made = run(
        ["user", "create", "early-bird", "--email", "early@example.org", "--password-stdin"],
        fresh_url,
        stdin="early-bird-password-1\n",
    )
    assert made.returncode == 0, made.stderr
    first = run(["demo"], fresh_url)
    assert first.returncode == 0 and "seeded the demo SIG" in first.stdout
    again = run(["demo"], fresh_url)
    assert again.returncode == 0 and "not seeded" in again.stdout
    with forum_serve(fresh_url) as base:
        body = httpx.get(f"{base}/", timeout=5).text
        assert "Perioperative Care - Prehabilitation" in body
        group = httpx.get(f"{base}/g/prehab", timeout=5)
        assert group.status_code == 200 and "Getting fitter before my bowel surgery" in group.text
        assert "Prehab Conveners" not in body  # the private demo group stays private
        # A visitor trying the demo as one of its members is not held up as a newcomer.
        with httpx.Client(base_url=base, timeout=5) as ana:
            csrf = re.compile(r'<meta name="csrf-token" content="([^"]*)">')
            token = csrf.search(ana.get("/login").text)
            assert token is not None
            ana.post(
                "/login",
                data={"login": "ana", "password": "prehab-demo-2026", "csrf_token": token[1]},
            )
            topic = re.search(r'href="/t/([^/"]+)/(\d+)"', ana.get("/g/prehab").text)
            assert topic is not None
            page = ana.get(f"/t/{topic[1]}/{topic[2]}")
            token = csrf.search(page.text)
            assert token is not None
            text = "Trying the demo: a first reply, published at once (not held for review)."
            sent = ana.post(f"/t/{topic[2]}/reply", data={"raw": text, "csrf_token": token[1]})
            assert sent.status_code == 303 and "#post-" in sent.headers["location"], sent.text
    # Every seeded member is an established one: none meets the new-account limits (a
    # second topic within the day, a post every 30 seconds) in the middle of a demo.
    assert asyncio.run(new_accounts(fresh_url)) == ["early-bird"]


async def new_accounts(url: str) -> list[str]:
    db = await open_database(url)
    try:
        rows = await db.fetch_all("SELECT username FROM users ORDER BY username")
        found = [await get_user_by_username(db, str(r["username"])) for r in rows]
    finally:
        await db.close()
    settings = Settings()
    return [u.username for u in found if u and is_new_account(u, time.time(), settings)]


def test_serve_runs_on_each_database(database_url: str) -> None:
    with forum_serve(database_url) as base:
        assert httpx.get(f"{base}/healthz").text == "ok"
        assert httpx.get(f"{base}/latest.json").status_code == 200


def test_user_create_and_api_key_work_against_the_api(fresh_url: str) -> None:
    name = f"cli{os.getpid() % 100000}{time.time_ns() % 1000}"
    created = run(
        [
            "user",
            "create",
            name,
            "--email",
            f"{name}@example.org",
            "--password-stdin",
            "--role",
            "moderator",
        ],
        fresh_url,
        stdin="a long enough password\n",
    )
    assert created.returncode == 0, created.stderr
    assert f"created moderator {name}" in created.stdout
    duplicate = run(
        ["user", "create", name.upper(), "--email", "x@example.org", "--password-stdin"],
        fresh_url,
        stdin="a long enough password\n",
    )
    assert duplicate.returncode == 1 and "already registered" in duplicate.stderr
    short = run(
        ["user", "create", "someone", "--email", "s@example.org", "--password-stdin"],
        fresh_url,
        stdin="short\n",
    )
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    key = run(["apikey", "create", "--user", name], fresh_url)
    assert key.returncode == 0 and len(key.stdout.strip()) >= 40
    stored = run(["apikey", "create", "--user", "nobody-at-all"], fresh_url)
    assert stored.returncode == 1 and "no user called" in stored.stderr


def test_python_dash_m_forum_shows_help() -> None:
    result = subprocess.run(
        [*FORUM, "--help"], capture_output=True, text=True, cwd=ROOT, check=False
    )
    assert result.returncode == 0
    for command in ("serve", "migrate", "user", "apikey", "demo"):
        assert command in result.stdout


def test_migrate_says_what_it_applied(fresh_url: str) -> None:
    first = run(["migrate"], fresh_url)
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("applied ") and "0001" in first.stdout
    again = run(["migrate"], fresh_url)
    assert again.returncode == 0 and again.stdout.strip() == "database is up to date"


def test_make_run_installs_only_what_the_forum_needs() -> None:
    """`make run` on a fresh machine: the forum's packages, not the test and lint tools."""
    planned = subprocess.run(
        ["make", "-n", "-B", "run", "VENV=/nonexistent-venv"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=True,
    ).stdout
    installs = [line for line in planned.splitlines() if "pip install" in line]
    assert any(line.rstrip().endswith("-e .") for line in installs), planned
    assert not any("[dev]" in line for line in installs), planned


@pytest.mark.parametrize(
    ("name", "value", "floor"),
    [("FORUM_PASSWORD_MEMORY_KIB", "1024", "19456"), ("FORUM_PASSWORD_TIME_COST", "1", "2")],
)
def test_a_password_cost_below_the_floor_is_refused(
    fresh_url: str, name: str, value: str, floor: str
) -> None:
    """Below OWASP's floor, every member's stored password would be weakened as they log in:
    the forum refuses to start rather than use it."""
    result = run(["migrate"], fresh_url, **{name: value})
    assert result.returncode == 2
    assert result.stderr.strip() == f"{name} must be at least {floor}."
    assert result.stdout == ""  # nothing was done
