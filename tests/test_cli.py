"""The `forum` command, run as a user runs it: real processes, a real server over HTTP."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import ROOT, create_pg_database, drop_pg_database, forum_serve

FORUM = [sys.executable, "-m", "forum"]


def run(args: list[str], db_url: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = os.environ | {"FORUM_DATABASE_URL": db_url, "FORUM_SECRET_KEY": "cli-test-secret"}
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
