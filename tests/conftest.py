"""Shared fixtures: a real uvicorn server per database (SQLite and PostgreSQL), clients, data.

Every test that takes `server` (or `arrange`) runs once on each database. Under CI=true a
missing PostgreSQL, Redis or Chromium fails the run instead of skipping.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import AsyncExitStack, contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
import pytest_asyncio
import uvicorn

from forum.actions import accounts, groups, posts
from forum.actions.drafts import Draft
from forum.actions.groups import OPERATOR
from forum.alerter import Alerter
from forum.app import SERVER_OPTIONS, build_renderer, create_app, opened_forum
from forum.context import Forum
from forum.db import Database
from forum.queries.groups import Group
from forum.queries.notifications import alert_waiting
from forum.queries.users import User
from forum.settings import Settings
from tests.clock import MovableClock

CI = os.environ.get("CI") == "true"
PG_ADMIN_URL = os.environ.get("FORUM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def unavailable(what: str) -> None:
    """Skip on a developer's machine without the service; fail in CI, where nothing may skip."""
    if CI:
        pytest.fail(f"{what} is required under CI=true", pytrace=False)
    pytest.skip(f"{what} is not available")


def unique(prefix: str) -> str:
    return f"{prefix}{next(_counter)}{secrets.token_hex(2)}"[:20]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def create_pg_database() -> str:
    name = f"forum_test_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        unavailable(f"PostgreSQL at {PG_ADMIN_URL} ({error})")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest_asyncio.fixture(scope="session", params=["sqlite", "postgresql"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('sqlite') / 'forum.db'}"
        return
    url = await create_pg_database()
    yield url
    await drop_pg_database(url)


class ServerThread:
    """uvicorn serving the real app on a loopback port, in a thread with its own event loop."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.clock = MovableClock()
        self.port = free_port()
        self.app = create_app(settings, self.clock)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            **SERVER_OPTIONS,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


# Tests post in quick succession, so the pace limits (forum/pace.py) are set far above that;
# production keeps the stricter defaults, and tests/test_pace.py sets its own.
GENEROUS_PACE: dict[str, int] = {
    "post_interval_seconds": 0,
    "new_post_interval_seconds": 0,
    "topic_interval_seconds": 0,
    "edit_interval_seconds": 0,
    "posts_per_hour": 10_000,
    "new_posts_per_hour": 10_000,
    "topics_per_day": 10_000,
    "new_topics_per_day": 10_000,
    "flags_per_hour": 10_000,
    "new_flags_per_hour": 10_000,
    "edits_per_hour": 10_000,
}


# argon2 at its production cost takes a fifth of a second a password: with thousands of
# accounts made and logged in to, that was three quarters of the suite's time. Tests whose
# subject is the cost (tests/test_accounts.py) set their own.
CHEAP_PASSWORDS: dict[str, int] = {"password_memory_kib": 1024, "password_time_cost": 1}


def settings_for(database_url: str, **overrides: Any) -> Settings:
    # The debate scheduler looks every 50 ms: a moved clock is noticed at once.
    return Settings(
        database_url=database_url,
        secret_key="test-secret-key",
        # Each server keeps its uploads in a folder of its own.
        documents_dir=overrides.pop("documents_dir", None) or tempfile.mkdtemp(prefix="docs-"),
        **(
            {"debate_tick_ms": 50, "alert_poll_ms": 20}
            | GENEROUS_PACE
            | CHEAP_PASSWORDS
            | overrides
        ),
    )


@pytest.fixture(scope="session")
def server(database_url: str) -> Iterator[ServerThread]:
    thread = ServerThread(settings_for(database_url))
    thread.start()
    yield thread
    thread.stop()


@pytest_asyncio.fixture(scope="session")
async def forum(server: ServerThread) -> AsyncIterator[Forum]:
    """The tests' own forum context on the server's database and clock, for arranging and
    checking data through the real actions. Events written here wake the server as a second
    node's would."""
    async with opened_forum(server.settings, server.clock) as context:
        yield context


@pytest_asyncio.fixture(scope="session")
async def db(forum: Forum) -> Database:
    """The tests' own connection to the server's database."""
    return forum.db


def advance_clock(forum: Forum, seconds: float) -> None:
    """Move the forum's time on (the server's too: they share the clock)."""
    clock = forum.clock
    assert isinstance(clock, MovableClock), "only a test server's clock moves"
    clock.advance(seconds)


class NoEvents:
    """The event sink of a context whose actions are not expected to publish (creating an
    API key): publishing there is an error, never written anywhere in silence."""

    async def append(
        self, conn: Any, channel: str, kind: str, data: dict[str, Any], now: float
    ) -> int:
        raise AssertionError(f"unexpected live event {kind} on {channel}")

    async def append_many(
        self, conn: Any, entries: Sequence[tuple[str, str, dict[str, Any]]], now: float
    ) -> list[int]:
        raise AssertionError(f"unexpected live events {[entry[:2] for entry in entries]}")


def forum_over(db: Database) -> Forum:
    """A context over a bare connection, for the actions that publish no event."""
    return Forum(db, NoEvents(), build_renderer(), settings_for(db.url), MovableClock())


async def alerted(forum: Forum) -> None:
    """Every post's notifications made (forum/alerter.py), by this test or by the server's
    own alerter, and committed: tests read them right after."""
    alerter = Alerter(forum, 0)
    deadline = time.monotonic() + 10
    while True:
        await alerter.run_due()
        async with forum.db.reads() as conn:
            if not await alert_waiting(conn, forum.now() + 3600):
                return
        assert time.monotonic() < deadline, "the alerts were never done"
        await asyncio.sleep(0.01)


@dataclass
class Arrange:
    """Make users, groups, topics and replies through the real actions."""

    forum: Forum

    @property
    def db(self) -> Database:
        return self.forum.db

    @property
    def settings(self) -> Settings:
        return self.forum.settings

    async def user(
        self, role: str = "member", badge: str = "patient", name: str = "user", new: bool = False
    ) -> User:
        """An established account (a month old, 100 approved posts) unless `new`: then one just
        signed up, which meets the stricter new-account pace limits and holds."""
        signup = accounts.check_signup(
            unique(name), f"{unique('m')}@example.org", PASSWORD, badge, role
        )
        user = await accounts.do_create_user(self.forum, signup)
        if new:
            return user
        established = {"approved_posts": 100, "created_at": time.time() - 30 * 86400}
        await self.db.execute(
            "UPDATE users SET approved_posts = :approved_posts, created_at = :created_at"
            " WHERE id = :id",
            established | {"id": user.id},
        )
        return replace(user, approved_posts=100, created_at=established["created_at"])

    async def group(
        self,
        visibility: str = "public",
        members: tuple[User, ...] = (),
        conveners: tuple[User, ...] = (),
    ) -> Group:
        slug = unique("g").lower()
        group = await groups.do_create_group(
            self.forum,
            OPERATOR,
            name=f"Group {slug}",
            slug=slug,
            description="A test group.",
            visibility=visibility,
        )
        for user in members:
            await groups.do_add_member(self.forum, OPERATOR, group.id, user.username)
        for user in conveners:
            await groups.do_add_member(self.forum, OPERATOR, group.id, user.username, "convener")
        return group

    async def topic(
        self, group: Group, author: User, title: str = "A topic title", raw: str = "The first post."
    ) -> Any:
        """What do_new_topic made: Written, or Held when the author's posts wait for review
        (typed Any so tests read either without a check at every use)."""
        return await posts.do_new_topic(self.forum, author, group.id, Draft(raw, title=title))

    async def reply(self, topic_id: int, author: User, raw: str = "A reply.") -> Any:
        """As `topic`: Written or Held."""
        return await posts.do_reply(self.forum, author, topic_id, Draft(raw))


@pytest_asyncio.fixture(scope="session")
async def arrange(forum: Forum) -> Arrange:
    return Arrange(forum)


CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


@dataclass
class Client:
    """A browser-like HTTP client: keeps cookies, finds the CSRF token on pages."""

    http: httpx.AsyncClient
    csrf: str = ""
    history: list[httpx.Response] = field(default_factory=list)

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        response = await self.http.get(path, **kwargs)
        found = CSRF_META.search(response.text)
        if found:
            self.csrf = found.group(1)
        return response

    async def post_form(
        self, path: str, data: dict[str, Any] | None = None, csrf: bool = True
    ) -> httpx.Response:
        if csrf and not self.csrf:
            await self.get("/login")  # pages all readers share carry no token
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return await self.http.post(path, data=body)

    async def login(self, user: User | str, password: str = PASSWORD) -> httpx.Response:
        name = user if isinstance(user, str) else user.username
        await self.get("/login")
        response = await self.post_form("/login", {"login": name, "password": password})
        assert response.status_code == 303, response.text
        await self.get("/")  # the CSRF token changes with the session
        return response


async def logged_in(client: Any, user: User) -> Client:
    """A fresh client (from the `client` fixture's factory), logged in as `user`."""
    c: Client = client()
    await c.login(user)
    return c


@pytest_asyncio.fixture
async def client(server: ServerThread) -> AsyncIterator[Any]:
    """A factory of fresh clients (separate cookie jars) for this test."""
    made: list[httpx.AsyncClient] = []

    def make() -> Client:
        http = httpx.AsyncClient(base_url=server.base_url, timeout=15)
        made.append(http)
        return Client(http)

    yield make
    await asyncio.gather(*(h.aclose() for h in made))


@dataclass
class Fresh:
    """A server with a database of its own (same kind as the test's), for tests whose limits
    or faults must not touch the shared server: login failures, read-only databases."""

    server: ServerThread
    db: Database
    arrange: Arrange


@pytest_asyncio.fixture
async def fresh(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    made: list[tuple[ServerThread, AsyncExitStack, str]] = []

    async def make(**overrides: Any) -> Fresh:
        if database_url.startswith("sqlite"):
            url = f"sqlite:///{tmp_path / f'fresh{len(made)}.db'}"
        else:
            url = await create_pg_database()
        thread = ServerThread(settings_for(url, **overrides))
        thread.start()
        context = AsyncExitStack()
        opened = await context.enter_async_context(opened_forum(thread.settings, thread.clock))
        made.append((thread, context, url))
        return Fresh(thread, opened.db, Arrange(opened))

    yield make
    for thread, context, url in made:
        thread.stop()
        await context.aclose()
        if url.startswith("postgresql"):
            await drop_pg_database(url)


ROOT = Path(__file__).resolve().parent.parent


@contextmanager
def forum_serve(db_url: str, bus_url: str = "") -> Iterator[str]:
    """`forum serve` in its own process on a free port; yields its base URL once it answers."""
    port = free_port()
    env = os.environ | {
        "FORUM_DATABASE_URL": db_url,
        "FORUM_SECRET_KEY": "serve-test-secret",
        "FORUM_BUS_URL": bus_url,
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "forum", "serve", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 45  # a busy CI machine starts a process slowly
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "forum serve did not answer"
                time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(10)
