"""Page and write throughput, each figure printed beside the ceiling it is compared with.

    .venv/bin/python bench/pages.py            # full run, about 5 minutes
    .venv/bin/python bench/pages.py --quick    # smoke run, about 40 seconds
    .venv/bin/python bench/pages.py --writes-only   # section 2 alone, about 20 seconds

1. Topic page: GET of a topic page holding 20 posts of ~640 bytes of markdown, served by
   `forum serve` (one uvicorn worker) in its own process, on SQLite and on PostgreSQL. Load:
   `wrk` (one thread, N connections) when installed, else an asyncio httpx client, for a fixed
   time after a warm-up. Per database, two server processes: one as `forum serve` runs by
   default (the page cache on: anonymous pages of public groups kept per node) and one with
   FORUM_PAGE_CACHE_ENTRIES=0 (the cache off). Rows:
   - the anonymous reader's page (a fixed `forum_anon` cookie, as a returning visitor sends)
     with the cache on, the same with `Accept-Encoding: gzip` (the cache sends the gzip body
     it made once), and with the cache off;
   - a signed-in member's page (their `forum_session` cookie, from a real login through
     forum.actions.accounts.do_login): never cached, every read made for them.
   Ceilings measured in the same run: (a) GET /healthz on the same server process (the cost
   of uvicorn, Starlette and the middleware, no query, no template); (b) and (c) the same
   TopicPage rendered from data read once (bench/inmemory_app.py: the real app plus one route,
   the cache off), for the anonymous reader (b) and for the same signed-in member (c).
   Targets (issue 14): anonymous page with the cache on >= 0.3x its server's /healthz; the
   signed-in page >= 0.7x the in-memory render for that member. Also printed: the cache's gain
   (cache on / cache off) and the uncached page / (b) (issue 3's >= 0.7 on PostgreSQL).
2. Writes: ~1 KB replies through forum.actions.posts.do_reply, sequentially, in this process,
   from 200 members in turn (--writers)
   (markdown + sanitise + one transaction), on each database; targets >= 500 posts/s per core
   and, per CPU-second of this process, >= 1,500 on SQLite and >= 1,000 on PostgreSQL.
   The time of one post is split into CPU inside cook() (markdown + nh3) and inside the
   live-event partial (Renderer.render_post), both timed where do_reply calls them, the rest of
   this process's CPU (drivers, the action's own code), and waiting (wall less CPU).

Every figure is the median of several rounds; the rounds of the page figures are interleaved
so that noise on the machine falls on a figure and its ceilings alike. Server CPU is the
server process's CPU time over the measured window (from /proc), so "req per CPU-second"
shows how much work one request costs, which varies less than req/s on a noisy machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from forum.actions import accounts, groups, posts  # noqa: E402
from forum.actions.drafts import Draft  # noqa: E402
from forum.actions.groups import OPERATOR  # noqa: E402
from forum.actions.idempotent import Outcome, Written  # noqa: E402
from forum.app import opened_forum  # noqa: E402
from forum.auth import SESSION_COOKIE, sign_session  # noqa: E402
from forum.context import Forum  # noqa: E402
from forum.db import Database  # noqa: E402
from forum.queries import topics as topic_queries  # noqa: E402
from forum.queries import users as user_queries  # noqa: E402
from forum.queries.users import User  # noqa: E402
from forum.rendering import Renderer  # noqa: E402
from forum.settings import Settings  # noqa: E402

PG_ADMIN_URL = os.environ.get("FORUM_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test")
SECRET = "bench-secret-key-not-for-production"
PASSWORD = "correct horse battery"
# A fixed anonymous cookie: without it every response would mint and set a new one.
COOKIE = "forum_anon=benchreader0123456789"
CLK_TCK = os.sysconf("SC_CLK_TCK")
POSTS_ON_PAGE = 20
PAGE_POST_BYTES = 600
REPLY_BYTES = 1024
INMEMORY_PATH = "/bench/inmemory-topic"  # bench/inmemory_app.PATH
PAGE_TARGET = 0.7  # PostgreSQL topic page, cache off / in-memory render (issue 3)
CACHED_TARGET = 0.3  # anonymous topic page, cache on / /healthz of the same server (issue 14)
CACHE_OFF = "FORUM_PAGE_CACHE_ENTRIES"  # set to 0: the page cache off
SIGNED_IN_TARGET = 0.7  # a member's topic page / in-memory render for that member (issue 14)
# The signed-in reader: a member of the group who wrote some of the page's posts.
MEMBER_INDEX = 1
WRITE_TARGET = 500.0  # posts/s (issue 4)
# Posts per CPU-second of this process (issue 9), by database.
WRITE_CPU_TARGETS = {"SQLite": 1500.0, "PostgreSQL": 1000.0}


# --- content -----------------------------------------------------------------------------------

WORDS = (
    "appointment",
    "clinic",
    "symptoms",
    "fatigue",
    "carer",
    "nurse",
    "physio",
    "medication",
    "dose",
    "morning",
    "evening",
    "week",
    "pain",
    "sleep",
    "walking",
    "diet",
    "support",
    "group",
    "helpful",
    "question",
    "answer",
    "experience",
    "doctor",
    "referral",
    "waiting",
    "list",
    "therapy",
    "exercise",
    "breathing",
    "routine",
    "journal",
    "energy",
    "pacing",
    "flare",
    "recovery",
    "hospital",
    "letter",
    "results",
    "scan",
    "specialist",
    "advice",
    "plan",
    "goal",
    "progress",
    "setback",
    "family",
    "work",
)


def markdown_post(seed: int, size: int) -> str:
    """Deterministic forum-like markdown of about `size` bytes: paragraphs, emphasis, a list,
    a link and inline code, so cook() exercises its usual paths."""
    rng = random.Random(seed)

    def sentence(n: int) -> str:
        words = [rng.choice(WORDS) for _ in range(n)]
        words[0] = words[0].capitalize()
        i = rng.randrange(1, n)
        words[i] = f"**{words[i]}**" if rng.random() < 0.5 else f"*{words[i]}*"
        return " ".join(words) + "."

    parts = [
        f"{sentence(12)} {sentence(9)}",
        f"See [the guidance](https://example.org/guide/{seed}) and `dose-{seed % 7}` notes.",
        "\n".join(f"- {sentence(6)}" for _ in range(3)),
    ]
    text = "\n\n".join(parts)
    while len(text.encode()) < size:  # whole sentences, so no emphasis is left open
        text += ("\n\n" if rng.random() < 0.4 else " ") + sentence(rng.randrange(6, 14))
    return text


# --- arranging data through the real actions ---------------------------------------------------


@dataclass
class Seeded:
    url: str
    forum: Forum
    authors: list[User]
    page_topic_id: int
    page_path: str
    write_topic_id: int
    writers: list[User]  # who the write figure's replies come from, in turn
    opened: AsyncExitStack

    @property
    def db(self) -> Database:
        return self.forum.db

    @property
    def settings(self) -> Settings:
        return self.forum.settings

    @property
    def renderer(self) -> Renderer:
        return self.forum.renderer

    async def close(self) -> None:
        await self.opened.aclose()


async def seed(url: str, writers: int = 200) -> Seeded:
    # Pace limits stay on (their queries run for every reply) but far above the bench's rate.
    settings = Settings(
        database_url=url,
        secret_key=SECRET,
        post_interval_seconds=0,
        posts_per_hour=10**9,
        topic_interval_seconds=0,
        topics_per_day=10**9,
    )
    opened = AsyncExitStack()
    forum = await opened.enter_async_context(opened_forum(settings))
    db = forum.db
    badges = ("patient", "carer", "clinician", "ahp")
    authors = [
        await accounts.do_create_user(
            forum,
            accounts.check_signup(
                f"bench_{badge}", f"{badge}@example.org", PASSWORD, badge, "member"
            ),
        )
        for badge in badges
    ]
    # The write figure's replies come from `writers` members in turn, as in a busy group or a
    # live debate. With a handful of authors, each of whom posted thousands of times in the
    # last hour, every reply's pace check (forum/pace.py: an index walk over the author's
    # posts in the window, at most the limit's count) walked them all, a cost that grew the
    # longer the bench ran and that no real member's posting ever reaches. Made with SQL (the
    # first author's password hash): a sign-up hashes a password, 200 of them would be slow.
    for i in range(max(writers - len(authors), 0)):
        await db.execute(
            "INSERT INTO users (username, email, password_hash, role, badge, created_at)"
            " SELECT :name, :email, password_hash, 'member', :badge, created_at"
            " FROM users WHERE id = :id",
            {
                "name": f"bench_writer_{i}",
                "email": f"writer{i}@example.org",
                "badge": badges[i % len(badges)],
                "id": authors[0].id,
            },
        )
    # Established members (not new accounts, whose first posts wait for review): the bench
    # measures a post being published, with every check an ordinary member's post passes.
    await db.execute(
        "UPDATE users SET approved_posts = 100, created_at = :t", {"t": time.time() - 90 * 86400}
    )
    authors = [
        user
        for author in authors
        if (user := await user_queries.get_user(db, author.id)) is not None
    ]
    writer_ids = await db.fetch_all(
        "SELECT id FROM users WHERE username LIKE 'bench\\_%' ESCAPE '\\' ORDER BY id"
    )
    reply_writers = [
        user
        for row in writer_ids[: max(writers, 1)]
        if (user := await user_queries.get_user(db, int(row["id"]))) is not None
    ]
    group = await groups.do_create_group(
        forum,
        OPERATOR,
        name="Bench group",
        slug="bench",
        description="Benchmark data.",
        visibility="public",
    )
    for user in authors:
        await groups.do_add_member(forum, OPERATOR, group.id, user.username)
    title = "Living with fatigue: what helps you?"
    first = published(
        await posts.do_new_topic(
            forum, authors[0], group.id, Draft(markdown_post(0, PAGE_POST_BYTES), title=title)
        )
    )
    for i in range(1, POSTS_ON_PAGE):
        await posts.do_reply(
            forum,
            authors[i % len(authors)],
            first.topic_id,
            Draft(
                markdown_post(i, PAGE_POST_BYTES), reply_to_post_number=i if i % 5 == 0 else None
            ),
        )
    written = published(
        await posts.do_new_topic(
            forum, authors[0], group.id, Draft("The first post.", title="Where the bench replies")
        )
    )
    topic = await topic_queries.get_topic(db, first.topic_id)
    assert topic is not None and topic.highest_post_number == POSTS_ON_PAGE
    return Seeded(
        url,
        forum,
        authors,
        first.topic_id,
        f"/t/{topic.slug}/{topic.id}",
        written.topic_id,
        reply_writers,
        opened,
    )


def published(outcome: Outcome) -> Written:
    """The bench's posts are published (established authors), never held for review."""
    assert isinstance(outcome, Written), outcome
    return outcome


async def member_cookie(seeded: Seeded) -> str:
    """A `forum_session` cookie for a member of the page's group, from a real login
    (forum.actions.accounts.do_login: password checked, session row written), signed with
    the servers' secret as the login view signs it."""
    member = seeded.authors[MEMBER_INDEX]
    _, token = await accounts.do_login(
        seeded.forum, accounts.LoginAttempt(member.username, PASSWORD, "127.0.0.1")
    )
    return f"{SESSION_COOKIE}={sign_session(SECRET, token)}"


async def create_pg_database() -> str | None:
    name = f"forum_bench_{secrets.token_hex(4)}"
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError) as error:
        print(
            f"PostgreSQL at {PG_ADMIN_URL} is not available ({error}): skipping it", file=sys.stderr
        )
        return None
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


async def drop_pg_database(url: str) -> None:
    admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
    finally:
        await admin.close()


# --- CPU accounting ----------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process, from /proc (0 if it is gone or unreadable)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


async def pg_backend_pids(url: str | None) -> list[int]:
    """The PostgreSQL backends serving the bench database, to count their CPU beside the app's."""
    if url is None:
        return []
    try:
        admin = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    except (OSError, asyncpg.PostgresError):
        return []
    try:
        rows = await admin.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = $1", url.rsplit("/", 1)[1]
        )
    finally:
        await admin.close()
    return [int(r["pid"]) for r in rows]


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# --- servers -----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    log: Path
    pg_url: str | None = None  # the database whose backends count as this server's DB CPU
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)  # FORUM_* settings of this server

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {
            **os.environ,
            "FORUM_SECRET_KEY": SECRET,
            "PYTHONPATH": str(ROOT),
            # Every bench reader comes from one address (this machine): no per-address cap.
            "FORUM_LIVE_SOCKETS_PER_ADDRESS": "1000000",
            # The servers' pace limits far above the benches' rate, as in seed()'s settings.
            "FORUM_POST_INTERVAL_SECONDS": "0",
            "FORUM_POSTS_PER_HOUR": str(10**9),
            **self.env,
        }
        env.pop("FORUM_DATABASE_URL", None)
        with open(self.log, "wb") as log:
            # stdout carries uvicorn's access log (log_level="info", as `forum serve` runs):
            # it is still formatted and written, to /dev/null, as it would be to a pipe.
            self.process = subprocess.Popen(
                self.argv, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log
            )

    def wait_ready(self, timeout: float = 30) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(self.base_url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not start: {self.log.read_text()[-2000:]}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def forum_server(
    name: str, url: str, tmp: Path, pg: bool, env: dict[str, str] | None = None
) -> Server:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "forum",
        "serve",
        "--db",
        url,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    return Server(name, argv, port, tmp / f"{name}.log", url if pg else None, env=env or {})


def inmemory_server(url: str, topic_id: int, tmp: Path) -> Server:
    port = free_port()
    argv = [
        sys.executable,
        "-m",
        "bench.inmemory_app",
        "--db",
        url,
        "--port",
        str(port),
        "--topic-id",
        str(topic_id),
    ]
    # The cache off: the ceiling renders every request (its route would not be kept anyway).
    return Server("inmemory", argv, port, tmp / "inmemory.log", env={CACHE_OFF: "0"})


# --- load generators ---------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int
    client_cpu: float  # CPU-seconds of the load generator over the window

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def _wrk_ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


ANONYMOUS = {"Cookie": COOKIE}


def wrk_load(url: str, conns: int, seconds: float, headers: dict[str, str] = ANONYMOUS) -> Load:
    before = children_cpu()
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            *(arg for name, value in headers.items() for arg in ("-H", f"{name}: {value}")),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    cpu = children_cpu() - before
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", out)
    assert total is not None, out
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", out, re.MULTILINE))
    if len(percentiles) != 2:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    errors = 0
    for pattern in (
        r"Non-2xx or 3xx responses: (\d+)",
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
    ):
        found = re.search(pattern, out)
        if found:
            errors += sum(int(g) for g in found.groups())
    return Load(
        int(total.group(1)),
        _wrk_ms(total.group(2) + total.group(3)) / 1e3,
        _wrk_ms(percentiles["50"]),
        _wrk_ms(percentiles["99"]),
        errors,
        cpu,
    )


async def _httpx_load(url: str, conns: int, seconds: float, headers: dict[str, str]) -> Load:
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    latencies: list[float] = []
    errors = 0
    # httpx asks for gzip by default; without the header here, as wrk, the body is plain.
    headers = {"Accept-Encoding": "identity", **headers}
    async with httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as client:
        await client.get(url)
        start = time.perf_counter()
        deadline = start + seconds
        cpu0 = time.process_time()

        async def worker() -> None:
            nonlocal errors
            while (t0 := time.perf_counter()) < deadline:
                response = await client.get(url)
                latencies.append(time.perf_counter() - t0)
                errors += response.status_code != 200

        await asyncio.gather(*(worker() for _ in range(conns)))
        elapsed = time.perf_counter() - start
        cpu = time.process_time() - cpu0
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1e3

    return Load(len(latencies), elapsed, pct(0.50), pct(0.99), errors, cpu)


def httpx_load(url: str, conns: int, seconds: float, headers: dict[str, str] = ANONYMOUS) -> Load:
    load: Load = run_async(_httpx_load(url, conns, seconds, headers))
    return load


def run_async(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coro)


# --- the page figures --------------------------------------------------------------------------


@dataclass
class Sample:
    load: Load
    server_cpu: float  # CPU-seconds of the server process over the window
    db_cpu: float  # CPU-seconds of the PostgreSQL backends serving it (0 for SQLite)


@dataclass
class Target:
    label: str
    server: Server
    path: str
    headers: dict[str, str] = field(default_factory=lambda: dict(ANONYMOUS))
    samples: list[Sample] = field(default_factory=list)
    body_bytes: int = 0  # one response's body as sent (compressed, if it was)
    encoding: str = "identity"  # its Content-Encoding

    def median(self, get: Callable[[Sample], float]) -> float:
        return statistics.median(get(s) for s in self.samples)

    @property
    def rps(self) -> float:
        return self.median(lambda s: s.load.rps)

    @property
    def per_cpu(self) -> float:
        """Requests per CPU-second of the server process (the app's own cost per request)."""
        return self.median(lambda s: s.load.requests / max(s.server_cpu, 1e-9))


Loader = Callable[[str, int, float, dict[str, str]], Load]


def measure(target: Target, loader: Loader, conns: int, warmup: float, seconds: float) -> None:
    url = target.server.base_url + target.path
    loader(url, conns, warmup, target.headers)
    assert target.server.process is not None
    pid = target.server.process.pid
    pg_pids = run_async(pg_backend_pids(target.server.pg_url))
    cpu0, db0 = cpu_seconds(pid), {p: cpu_seconds(p) for p in pg_pids}
    load = loader(url, conns, seconds, target.headers)
    server_cpu = cpu_seconds(pid) - cpu0
    db_cpu = sum(
        cpu_seconds(p) - db0.get(p, 0.0) for p in run_async(pg_backend_pids(target.server.pg_url))
    )
    if load.errors:
        raise RuntimeError(f"{target.label}: {load.errors} failed requests")
    target.samples.append(Sample(load, server_cpu, max(db_cpu, 0.0)))


# --- the write figure --------------------------------------------------------------------------


class Stopwatch:
    """Wraps a function and adds up the wall and CPU time spent inside it."""

    def __init__(self, function: Callable[..., Any]) -> None:
        self.function = function
        self.calls, self.wall, self.cpu = 0, 0.0, 0.0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return self.function(*args, **kwargs)
        finally:
            self.wall += time.perf_counter() - t0
            self.cpu += time.process_time() - c0
            self.calls += 1


@dataclass
class WriteRound:
    posts: int
    wall: float  # seconds
    cpu: float  # CPU-seconds of this process
    db_cpu: float  # CPU-seconds of the PostgreSQL backends
    cook_cpu: float  # CPU-seconds inside cook()
    partial_cpu: float  # CPU-seconds inside Renderer.render_post


@dataclass
class Writes:
    db: str
    rounds: list[WriteRound] = field(default_factory=list)

    def median(self, get: Callable[[WriteRound], float]) -> float:
        return statistics.median(get(r) for r in self.rounds)

    @property
    def per_second(self) -> float:
        return self.median(lambda r: r.posts / r.wall)

    @property
    def per_cpu_second(self) -> float:
        return self.median(lambda r: r.posts / r.cpu)


async def write_round(seeded: Seeded, texts: list[str], seconds: float) -> tuple[int, float, float]:
    n = 0
    cpu0, t0 = time.process_time(), time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        await posts.do_reply(
            seeded.forum,
            seeded.writers[n % len(seeded.writers)],
            seeded.write_topic_id,
            Draft(texts[n % len(texts)]),
        )
        n += 1
    return n, time.perf_counter() - t0, time.process_time() - cpu0


async def bench_writes(seeded: Seeded, name: str, rounds: int, seconds: float) -> Writes:
    """Sequential replies; cook() and render_post are timed where do_reply calls them, by
    wrapping the names it looks up (forum.actions.posts.cook, the renderer's render_post)."""
    texts = [markdown_post(1000 + i, REPLY_BYTES) for i in range(100)]
    result = Writes(name)
    await write_round(seeded, texts[:10], 0.2)  # warm-up: statement caches, page cache
    for _ in range(rounds):
        pids = await pg_backend_pids(seeded.url if name == "PostgreSQL" else None)
        db0 = {p: cpu_seconds(p) for p in pids}
        cook_watch = Stopwatch(posts.cook)  # type: ignore[attr-defined]
        partial_watch = Stopwatch(seeded.renderer.render_post)
        posts.cook = cook_watch  # type: ignore[attr-defined]
        seeded.renderer.render_post = partial_watch  # type: ignore[method-assign]
        try:
            n, wall, cpu = await write_round(seeded, texts, seconds)
        finally:
            posts.cook = cook_watch.function  # type: ignore[attr-defined]
            del seeded.renderer.render_post  # back to the class's method
        assert cook_watch.calls == n and partial_watch.calls == n
        db_cpu = sum(cpu_seconds(p) - db0.get(p, 0.0) for p in pids)
        result.rounds.append(WriteRound(n, wall, cpu, db_cpu, cook_watch.cpu, partial_watch.cpu))
    return result


# --- printing ----------------------------------------------------------------------------------


def verdict(value: float, target: float) -> str:
    return "MET" if value >= target else "MISSED"


LINE = "-" * 117


def print_report(
    args: argparse.Namespace,
    loader_name: str,
    member: str,
    targets: dict[str, Target],
    writes: list[Writes],
    elapsed: float,
) -> None:
    print_header(args)
    print(
        f"load: {loader_name}, {args.conns} connections, {args.rounds} round(s) x"
        f" {args.duration:g} s after {args.warmup:g} s warm-up; figures are medians of rounds"
    )
    print_pages(targets, member)
    print_writes(writes)
    print(f"  replies from {args.writers} members in turn (--writers)")
    print(LINE)
    print(f"total run time {elapsed:.0f} s")


def print_header(args: argparse.Namespace) -> None:
    print()
    kind = "QUICK (smoke run)" if args.quick else "full run"
    if args.writes_only:
        kind += ", writes only"
    print(
        f"forum bench/pages.py   {date.today().isoformat()}   cores: {os.cpu_count()}"
        f"   python {sys.version.split()[0]}   {kind}"
    )
    print(
        f"load average at start {args.loadavg[0]:.1f}, at end {os.getloadavg()[0]:.1f}"
        " (1 min; other processes share these cores)"
    )


def page_cache_default() -> int | None:
    """The page cache's size as `forum serve` runs by default (None: no such setting)."""
    entries = getattr(Settings(), "page_cache_entries", None)
    return None if entries is None else int(entries)


def print_pages(targets: dict[str, Target], member: str) -> None:
    line = LINE
    entries = page_cache_default()
    print(
        "topic page: 20 posts x ~640 B markdown; anonymous: a fixed forum_anon cookie; signed in:"
        f" member {member}'s\nforum_session cookie (a real login)\npage cache: "
        + (
            "not in this tree (no page_cache_entries setting): the cache-on rows are uncached"
            if entries is None
            else f"page_cache_entries = {entries} by default; the cache-off servers set"
            f" {CACHE_OFF}=0"
        )
    )
    print(line)
    print(
        f"{'1. page throughput':<42}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
        f"{'app CPU':>9}{'DB CPU':>8}{'load CPU':>10}{'req/app-CPU-s':>15}{'bytes':>9}"
    )
    print(line)
    for t in targets.values():
        db_share = t.median(lambda s: s.db_cpu / s.load.seconds)
        size = f"{t.body_bytes:,}" + ("z" if t.encoding == "gzip" else "") if t.body_bytes else "-"
        print(
            f"{t.label:<42}{t.rps:>8.0f}{t.median(lambda s: s.load.p50_ms):>8.2f}"
            f"{t.median(lambda s: s.load.p99_ms):>8.2f}"
            f"{t.median(lambda s: s.server_cpu / s.load.seconds):>9.0%}"
            f"{(f'{db_share:.0%}' if t.server.pg_url else '-'):>8}"
            f"{t.median(lambda s: s.load.client_cpu / s.load.seconds):>10.0%}"
            f"{t.per_cpu:>15.0f}{size:>9}"
        )
    gzip_rows = [t for k, t in targets.items() if k.endswith("-gzip")]
    print(
        "app CPU, DB CPU, load CPU: share of one core used by the server process, its"
        " PostgreSQL backends and\nthe load generator over the window;"
        " req/app-CPU-s: requests per CPU-second of the server process;\nbytes: the body of"
        " one response as sent (z: gzip-encoded), measured with the row's own request headers."
    )
    if any(t.encoding != "gzip" for t in gzip_rows):
        print("(the 'gzip' rows were answered uncompressed: the server did not gzip the page)")
    print(
        "(b), (c): the same page rendered from data read once, by bench/inmemory_app.py (cache off,"
        " SQLite data);\n(c) is rendered for the same member as the signed-in rows, whose session"
        " it also reads once."
    )
    print(line)
    print(f"{'the page figures against their targets (this run)':<58}{'ratio':>8}{'target':>20}")

    def row(label: str, ratio: float, target: float | None = None, note: str = "") -> None:
        aim = f">= {target} {verdict(ratio, target)}" if target is not None else note
        print(f"{'  ' + label:<58}{ratio:>7.2f}x{aim:>20}".rstrip())

    for db, name in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        if f"{db}-cached" not in targets:
            continue
        health, cached = targets[f"{db}-healthz"], targets[f"{db}-cached"]
        gzip, uncached = targets[f"{db}-gzip"], targets[f"{db}-nocache"]
        signed, ceiling = targets[f"{db}-member"], targets["inmemory-member"]
        row(f"{name} anonymous, cache on / /healthz (a)", cached.rps / health.rps, CACHED_TARGET)
        row("  same, per app-CPU-second", cached.per_cpu / health.per_cpu, note="")
        row(f"{name} anonymous, cache on, gzip / /healthz (a)", gzip.rps / health.rps, note="-")
        row(
            f"{name} signed in / in-memory signed in (c)",
            signed.rps / ceiling.rps,
            SIGNED_IN_TARGET,
        )
        row("  same, per app-CPU-second", signed.per_cpu / ceiling.per_cpu, note="")
        row(
            f"{name} anonymous, cache on / cache off (the gain)",
            cached.rps / uncached.rps,
            note="-",
        )
        ratio = uncached.rps / targets["inmemory"].rps
        if db == "postgresql":
            row(f"{name} anonymous, cache off / in-memory (b)", ratio, PAGE_TARGET)
        else:
            row(f"{name} anonymous, cache off / in-memory (b)", ratio, note="-")
    print("  the cache-off / (b) target is issue 3's (PostgreSQL); the others are issue 14's.")


def print_writes(writes: list[Writes]) -> None:
    print(LINE)
    print(
        f"{'2. writes: do_reply, ~1 KB, sequential':<40}{'posts/s':>9}{'target':>9}{'':>8}"
        f"{'posts/CPU-s':>12}{'target':>9}{'':>8}{'DB CPU':>8}{'ms/post':>9}{'cook-only':>11}"
    )
    for w in writes:
        db_cpu = w.median(lambda r: r.db_cpu / r.wall)
        cook_only = w.median(lambda r: r.posts / r.cook_cpu)
        cpu_target = WRITE_CPU_TARGETS[w.db]
        print(
            f"{'  ' + w.db:<40}{w.per_second:>9.0f}{f'>= {WRITE_TARGET:.0f}':>9}"
            f"{verdict(w.per_second, WRITE_TARGET):>8}{w.per_cpu_second:>12.0f}"
            f"{f'>= {cpu_target:.0f}':>9}{verdict(w.per_cpu_second, cpu_target):>8}"
            f"{(f'{db_cpu:.0%}' if w.db == 'PostgreSQL' else '-'):>8}"
            f"{1e3 / w.per_second:>9.2f}{cook_only:>11.0f}"
        )
    print(
        "  cook-only: posts/s one core could cook if it did nothing else (the ceiling of this"
        " figure)."
    )
    print(
        "  posts/CPU-s targets: issue 9's, set where the tree before it did 443 and 369; this"
        " machine runs that\n  tree at about half (bench/speedup.py measures both trees in one"
        " run and compares the ratios)."
    )
    print("  where one post's time goes, ms (share of wall), medians of rounds:")
    print(
        f"  {'':<12}{'wall':>8}{'cook() CPU':>16}{'render_post':>16}{'other CPU':>16}"
        f"{'waiting':>16}"
    )
    for w in writes:
        total = w.median(lambda r: r.wall / r.posts * 1e3)
        cook_ms = w.median(lambda r: r.cook_cpu / r.posts * 1e3)
        partial_ms = w.median(lambda r: r.partial_cpu / r.posts * 1e3)
        other = w.median(lambda r: (r.cpu - r.cook_cpu - r.partial_cpu) / r.posts * 1e3)
        waiting = w.median(lambda r: max(r.wall - r.cpu, 0.0) / r.posts * 1e3)

        def cell(ms: float, total: float = total) -> str:
            return f"{ms:.2f} ({ms / total:.0%})"

        print(
            f"  {w.db:<12}{total:>8.2f}{cell(cook_ms):>16}{cell(partial_ms):>16}"
            f"{cell(other):>16}{cell(waiting):>16}"
        )
    print(
        "  cook() and render_post: CPU inside those calls during the replies; other CPU: the"
        " rest of this\n  process's CPU (drivers, the threads that wait for SQLite's lock,"
        " checkpoint it and cook long\n  texts, the action's own code); waiting: wall less"
        " CPU (database server, commit, thread\n  wake-ups, and other processes on the machine)."
    )


# --- main --------------------------------------------------------------------------------------


@contextlib.contextmanager
def running(servers: list[Server]) -> Iterator[None]:
    try:
        for s in servers:
            s.start()
        for s in servers:
            s.wait_ready()
        yield
    finally:
        for s in servers:
            s.stop()


def probe(target: Target, member: str | None) -> None:
    """Check the page each target's load will read (the right page, for the right reader)
    and note the size of its body as sent. Twice: the page cache keeps a page on its second
    request (the first learns which channels change it)."""
    headers = {"Accept-Encoding": "identity", **target.headers}
    for _ in range(2):
        response = httpx.get(target.server.base_url + target.path, headers=headers, timeout=30)
        response.raise_for_status()
    text = response.text  # decoded, if it was compressed
    assert text.count('<article class="post"') == POSTS_ON_PAGE, target.label
    signed_in = 'action="/logout"' in text
    assert signed_in == (member is not None), f"{target.label}: signed in: {signed_in}"
    assert member is None or f">{member}<" in text, f"{target.label}: not {member}'s page"
    target.body_bytes = response.num_bytes_downloaded
    target.encoding = response.headers.get("content-encoding", "identity")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="a short smoke run")
    parser.add_argument("--rounds", type=int, help="rounds per figure (default 5; quick 1)")
    parser.add_argument("--duration", type=float, help="seconds of load per round (default 3)")
    parser.add_argument("--warmup", type=float, help="seconds of warm-up per round (default 1)")
    parser.add_argument("--write-seconds", type=float, help="seconds of replies per round")
    parser.add_argument(
        "--writers", type=int, default=200, help="members the replies come from (default 200)"
    )
    parser.add_argument("--conns", type=int, default=16, help="concurrent connections")
    parser.add_argument(
        "--httpx", action="store_true", help="use the httpx client even if wrk is installed"
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument(
        "--writes-only", action="store_true", help="only section 2 (replies), no servers"
    )
    args = parser.parse_args(argv)
    quick = args.quick
    args.rounds = args.rounds or (1 if quick else 5)
    args.duration = args.duration or (1.0 if quick else 3.0)
    args.warmup = args.warmup if args.warmup is not None else (0.5 if quick else 1.0)
    args.write_seconds = args.write_seconds or (0.3 if quick else 1.5)

    use_wrk = not args.httpx and shutil.which("wrk") is not None
    loader = wrk_load if use_wrk else httpx_load
    loader_name = (
        "wrk -t1"
        if use_wrk
        else ("asyncio httpx client" + ("" if args.httpx else " (wrk not found)"))
    )
    if use_wrk:  # wrk counts whole seconds
        args.duration, args.warmup = max(1.0, round(args.duration)), max(1.0, round(args.warmup))

    started = time.perf_counter()
    args.loadavg = os.getloadavg()
    tmp = Path(tempfile.mkdtemp(prefix="forum_bench_"))
    sqlite_url = f"sqlite:///{tmp / 'forum.db'}"
    pg_url = None if args.no_pg else run_async(create_pg_database())
    try:
        databases = [("SQLite", sqlite_url)] + ([("PostgreSQL", pg_url)] if pg_url else [])
        seeded: dict[str, Seeded] = {}
        cookies: dict[str, str] = {}  # the member's session, per database
        writes: list[Writes] = []
        for name, url in databases:
            print(f"seeding {name} and timing writes ...", file=sys.stderr)

            async def arrange_and_write(url: str = url, name: str = name) -> Seeded:
                s = await seed(url, args.writers)
                cookies[name] = await member_cookie(s)
                writes.append(await bench_writes(s, name, args.rounds, args.write_seconds))
                await s.close()
                return s

            seeded[name] = run_async(arrange_and_write())
        if args.writes_only:
            print_header(args)
            print(
                f"replies: {args.rounds} round(s) x {args.write_seconds:g} s from"
                f" {args.writers} members in turn; medians of rounds"
            )
            print_writes(writes)
            print(LINE)
            print(f"total run time {time.perf_counter() - started:.0f} s")
            return 0

        servers: list[Server] = []
        targets: dict[str, Target] = {}
        for name, url in databases:
            key, pg = name.lower(), name == "PostgreSQL"
            cached = forum_server(key, url, tmp, pg=pg)
            uncached = forum_server(f"{key}-nocache", url, tmp, pg=pg, env={CACHE_OFF: "0"})
            servers += [cached, uncached]
            page, member = seeded[name].page_path, {"Cookie": cookies[name]}
            targets[f"{key}-healthz"] = Target(f"{name} /healthz (ceiling a)", cached, "/healthz")
            targets[f"{key}-cached"] = Target(f"{name} anonymous, cache on", cached, page)
            targets[f"{key}-gzip"] = Target(
                f"{name} anonymous, cache on, gzip",
                cached,
                page,
                {**ANONYMOUS, "Accept-Encoding": "gzip"},
            )
            targets[f"{key}-nocache"] = Target(f"{name} anonymous, cache off", uncached, page)
            targets[f"{key}-member"] = Target(f"{name} signed in", cached, page, member)
        inmem = inmemory_server(sqlite_url, seeded["SQLite"].page_topic_id, tmp)
        servers.append(inmem)
        targets["inmemory"] = Target("in-memory render, anonymous (b)", inmem, INMEMORY_PATH)
        targets["inmemory-member"] = Target(
            "in-memory render, signed in (c)", inmem, INMEMORY_PATH, {"Cookie": cookies["SQLite"]}
        )
        reader = seeded["SQLite"].authors[MEMBER_INDEX].username
        with running(servers):
            # In this order: a member's first request marks what they were told of on the
            # page as seen, so the in-memory server, which keeps their session as it first
            # reads it, sees them as the forum servers do from then on.
            for key, t in targets.items():
                if not key.endswith("healthz"):
                    probe(t, reader if key.endswith("member") else None)
            print(
                f"measuring pages: {len(targets)} figures x {args.rounds} round(s) ...",
                file=sys.stderr,
            )
            for _ in range(args.rounds):
                for t in targets.values():
                    measure(t, loader, args.conns, args.warmup, args.duration)
        print_report(args, loader_name, reader, targets, writes, time.perf_counter() - started)
    finally:
        if pg_url:
            run_async(drop_pg_database(pg_url))
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
