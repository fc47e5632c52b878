"""Reading at scale: search, topic lists, a long topic and unread counts at 1,000,000 posts,
each beside the same figure at 10,000 posts, measured in the same run (issue 11).

    .venv/bin/python bench/search.py             # seeds once (about 6 minutes), then measures
    .venv/bin/python bench/search.py --fresh     # seeds again
    .venv/bin/python bench/search.py --quick     # fewer requests, for a smoke run
    .venv/bin/python bench/search.py --drop      # drops the two bench databases and exits

Two PostgreSQL databases are seeded by COPY (not through the actions: a million posts through
do_reply would take hours), with the same shape at both sizes:
- 50 groups, every fifth private; members in proportion (one per 500 posts, at least 200);
- topics of about 100 posts over two years, plus one topic of 5,000 posts;
- posts of 20-120 words drawn from a Zipf-shaped vocabulary, with the searched-for words at
  fixed shares of posts (so a word in 1% of posts matches 100 at 10k and 10,000 at 1M);
  0.5% of posts hidden by moderators and 0.5% removed;
- reading positions (topic_users) and notifications in proportion to posts.
They are kept between runs (forum_search_10k and forum_search_1m) unless --fresh.

One `forum serve` per database, each in its own process; the requests come from one client,
one at a time, signed in as a member of ten groups (three of them private), and each figure
is the time to the last byte of the response, as a browser would wait. Rounds alternate
between the two servers so noise on the machine falls on both sizes alike. Targets: every
figure at 1M within 1.5x of its figure at 10k; search p95 under 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from bench.pages import PG_ADMIN_URL, SECRET, Server, forum_server  # noqa: E402
from forum.app import opened_forum  # noqa: E402
from forum.auth import hash_password, new_token, sign_session, token_hash  # noqa: E402
from forum.settings import Settings  # noqa: E402

SEED_VERSION = 1  # bump when the data's shape changes: kept databases are seeded again
SIZES = {"10k": 10_000, "1M": 1_000_000}
GROUPS = 50
BIG_TOPIC_POSTS = 5_000
POSTS_PER_TOPIC = 100
DAY = 86400.0
PASSWORD = "correct horse battery"

# Words searched for, each put into a fixed share of posts (and of titles).
PLANTED = {
    "fatigue": 0.02,
    "physiotherapy": 0.005,
    "metformin": 0.0005,
    "insulin": 0.002,
    "breathlessness": 0.001,
}
PHRASE, PHRASE_SHARE = "pacing strategies", 0.002
QUERIES = {
    "one common word (2%)": "fatigue",
    "one word (0.5%)": "physiotherapy",
    "rare word (0.05%)": "metformin",
    "two words, either": "metformin or insulin",
    "phrase": f'"{PHRASE}"',
    "word, not word": "fatigue -physiotherapy",
    "no match": "zzyzxquorble",
}

_SYLLABLES = [c + v for c in "bcdfghjklmnprstvz" for v in "aeiou"] + ["ar", "en", "is", "ol", "um"]


def vocabulary(size: int, rng: random.Random) -> list[str]:
    """Made-up words of two to four syllables, none of them a planted word."""
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(_SYLLABLES) for _ in range(rng.randint(2, 4))))
    ranked = sorted(words)
    rng.shuffle(ranked)  # a word's rank (its frequency) owes nothing to its spelling
    return ranked


class Writer:
    """Post text: words drawn with Zipf's weights (rank r has weight 1/r), as in real text."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.words = vocabulary(20_000, rng)
        self.cum = list(itertools.accumulate(1.0 / rank for rank in range(1, len(self.words) + 1)))

    def words_of(self, count: int) -> list[str]:
        total = self.cum[-1]
        return [
            self.words[bisect.bisect_left(self.cum, self.rng.random() * total)]
            for _ in range(count)
        ]

    def post(self) -> str:
        words = self.words_of(self.rng.randint(20, 120))
        for word, share in PLANTED.items():
            if self.rng.random() < share:
                words.insert(self.rng.randrange(len(words) + 1), word)
        if self.rng.random() < PHRASE_SHARE:
            words.insert(self.rng.randrange(len(words) + 1), PHRASE)
        # Sentences of about twelve words, as a member writes.
        sentences = [" ".join(words[i : i + 12]) for i in range(0, len(words), 12)]
        return ". ".join(s.capitalize() for s in sentences) + "."

    def title(self) -> str:
        words = self.words_of(self.rng.randint(3, 8))
        for word, share in PLANTED.items():
            if self.rng.random() < share:
                words.insert(0, word)
        return " ".join(words).capitalize()


# --- seeding -----------------------------------------------------------------------------------


def url_of(name: str) -> str:
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def db_name(size: str) -> str:
    return f"forum_search_{size.lower()}"


@dataclass
class Plan:
    """The shape of one seeded forum."""

    posts: int

    @property
    def users(self) -> int:
        return max(200, self.posts // 500)

    @property
    def topics(self) -> int:
        return max(2, self.posts // POSTS_PER_TOPIC)


async def seeded(conn: asyncpg.Connection) -> bool:
    try:
        version = await conn.fetchval("SELECT version FROM bench_seed")
    except asyncpg.UndefinedTableError:
        return False
    return bool(version == SEED_VERSION)


async def seed(size: str, fresh: bool) -> None:
    name, plan = db_name(size), Plan(SIZES[size])
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and not fresh:
            conn = await asyncpg.connect(url_of(name))
            try:
                if await seeded(conn):
                    return
            finally:
                await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    started = time.monotonic()
    print(f"seeding {size} ({plan.posts:,} posts) into {name} ...", file=sys.stderr, flush=True)
    # The schema as the app makes it: its migrations, run by opening the forum once.
    async with opened_forum(Settings(database_url=url_of(name), secret_key=SECRET)):
        pass
    conn = await asyncpg.connect(url_of(name))
    try:
        await fill(conn, plan, random.Random(f"search-bench-{plan.posts}"))
        await conn.execute("CREATE TABLE bench_seed (version INTEGER)")
        await conn.execute(f"INSERT INTO bench_seed VALUES ({SEED_VERSION})")
    finally:
        await conn.close()
    print(f"  seeded in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)


# Indexes built after the COPY (one sort each) rather than row by row during it; their
# definitions read from the migrated schema before they are dropped.
_LATE_INDEXES = (
    "posts_search",
    "posts_user",
    "topics_search",
    "notifications_user",
    "notifications_unread",
    "topic_users_topic",
)


async def fill(conn: asyncpg.Connection, plan: Plan, rng: random.Random) -> None:
    now = time.time()
    writer = Writer(rng)
    late = {
        str(row["indexname"]): str(row["indexdef"])
        for row in await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY($1::text[])",
            list(_LATE_INDEXES),
        )
    }
    assert set(late) == set(_LATE_INDEXES), f"indexes missing from the schema: {late}"
    for index in late:
        await conn.execute(f"DROP INDEX {index}")
    password_hash = await hash_password(Settings(), PASSWORD)
    badges = ("patient", "carer", "clinician", "ahp", "researcher", "other")
    await conn.copy_records_to_table(
        "users",
        columns=["username", "email", "password_hash", "badge", "created_at", "approved_posts"],
        records=[
            (
                f"member{i}",
                f"member{i}@example.org",
                password_hash,
                badges[i % 6],
                now - 800 * DAY,
                50,
            )
            for i in range(plan.users)
        ],
    )
    await conn.copy_records_to_table(
        "groups",
        columns=["slug", "name", "description", "visibility", "created_at"],
        records=[
            (
                f"group-{g}",
                f"Group {g}",
                "A bench group.",
                "private" if g % 5 == 4 else "public",
                now - 800 * DAY,
            )
            for g in range(GROUPS)
        ],
    )
    group_ids = [int(r["id"]) for r in await conn.fetch("SELECT id FROM groups ORDER BY id")]
    user_ids = [int(r["id"]) for r in await conn.fetch("SELECT id FROM users ORDER BY id")]
    # Each member joins 3-12 groups; the reader (the first member) joins ten, three private.
    members: dict[int, list[int]] = {}
    for user_id in user_ids:
        members[user_id] = rng.sample(group_ids, rng.randint(3, 12))
    reader_groups = [g for i, g in enumerate(group_ids) if i % 5 != 4][:7] + [
        g for i, g in enumerate(group_ids) if i % 5 == 4
    ][:3]
    members[user_ids[0]] = reader_groups
    await conn.copy_records_to_table(
        "memberships",
        columns=["group_id", "user_id", "created_at"],
        records=[(g, u, now - 700 * DAY) for u, gs in members.items() for g in gs],
    )
    group_members = {g: [u for u, gs in members.items() if g in gs] for g in group_ids}

    # Topics: the big one in the reader's first group, started 200 days ago; the rest spread
    # over two years, each in a group, with its posts after its start.
    topic_sizes = [BIG_TOPIC_POSTS]
    rest = plan.posts - BIG_TOPIC_POSTS
    weights = [rng.paretovariate(1.5) for _ in range(plan.topics - 1)]
    scale = rest / sum(weights)
    topic_sizes += [max(1, int(w * scale)) for w in weights]
    topic_sizes[1] += plan.posts - sum(topic_sizes)
    topic_groups = [reader_groups[0]] + [rng.choice(group_ids) for _ in topic_sizes[1:]]
    starts = [now - 200 * DAY] + [now - rng.uniform(1, 730) * DAY for _ in topic_sizes[1:]]
    # Every post: (created_at, topic index, author); numbered per topic in time order.
    posts: list[tuple[float, int, int]] = []
    for t, (count, start) in enumerate(zip(topic_sizes, starts, strict=True)):
        span = now - start
        authors = group_members[topic_groups[t]] or user_ids
        times = sorted(start + span * rng.random() ** 1.5 for _ in range(count - 1))
        posts.append((start, t, rng.choice(authors)))
        posts += [(at, t, rng.choice(authors)) for at in times]
    posts.sort()
    await conn.copy_records_to_table(
        "topics",
        columns=["group_id", "title", "slug", "user_id", "created_at", "bumped_at"],
        records=_topic_records(writer, topic_groups, starts, posts),
    )
    topic_ids = [int(r["id"]) for r in await conn.fetch("SELECT id FROM topics ORDER BY id")]
    numbers = [0] * len(topic_sizes)

    def post_records() -> Iterator[tuple[object, ...]]:
        for at, t, author in posts:
            numbers[t] += 1
            raw = writer.post()
            roll = rng.random()
            hidden = at + 3600 if roll < 0.005 else None
            deleted = at + 3600 if 0.005 <= roll < 0.01 and numbers[t] > 1 else None
            yield (topic_ids[t], numbers[t], author, raw, f"<p>{raw}</p>", at, hidden, deleted)

    columns = [
        "topic_id",
        "post_number",
        "user_id",
        "raw",
        "cooked",
        "created_at",
        "hidden_at",
        "deleted_at",
    ]
    records = post_records()
    while chunk := list(itertools.islice(records, 50_000)):
        await conn.copy_records_to_table("posts", columns=columns, records=chunk)
        print(f"  {numbers and sum(numbers):,} posts", file=sys.stderr, flush=True)
    await conn.execute(
        "UPDATE topics t SET highest_post_number = s.n, reply_count = s.n - 1, bumped_at = s.last,"
        " last_poster_id = s.last_poster FROM (SELECT topic_id, max(post_number) AS n,"
        " max(created_at) AS last, (array_agg(user_id ORDER BY post_number DESC))[1] AS last_poster"
        " FROM posts GROUP BY topic_id) s WHERE s.topic_id = t.id"
    )
    await conn.execute(
        "UPDATE groups g SET topic_count = s.topics, post_count = s.posts FROM (SELECT t.group_id,"
        " count(DISTINCT t.id) AS topics, count(*) AS posts FROM topics t JOIN posts p"
        " ON p.topic_id = t.id GROUP BY t.group_id) s WHERE s.group_id = g.id"
    )
    await fill_reading(
        conn, plan, rng, user_ids, topic_ids, topic_sizes, topic_groups, members, now
    )
    await conn.execute("SET maintenance_work_mem = '1GB'")
    for index, sql in late.items():
        print(f"  index {index}", file=sys.stderr, flush=True)
        await conn.execute(sql)
    await conn.execute("VACUUM ANALYZE")


def _topic_records(
    writer: Writer, groups: list[int], starts: list[float], posts: list[tuple[float, int, int]]
) -> list[tuple[object, ...]]:
    openers: dict[int, int] = {}
    for _at, t, author in posts:
        openers.setdefault(t, author)
    records: list[tuple[object, ...]] = []
    for t, (group, start) in enumerate(zip(groups, starts, strict=True)):
        title = writer.title() if t else "Living with fatigue: the long thread"
        slug = "-".join(title.lower().replace(":", "").split()[:6])
        records.append((group, title, slug, openers[t], start, start))
    return records


async def fill_reading(
    conn: asyncpg.Connection,
    plan: Plan,
    rng: random.Random,
    user_ids: list[int],
    topic_ids: list[int],
    topic_sizes: list[int],
    topic_groups: list[int],
    members: dict[int, list[int]],
    now: float,
) -> None:
    """Where members have read to (one row per 5 posts) and what they were told (one per 2
    posts); the reader has 500 topics read and 300 notifications, 40 unread, at both sizes."""
    by_group: dict[int, list[int]] = {}
    for t, group in enumerate(topic_groups):
        by_group.setdefault(group, []).append(t)
    reading: dict[tuple[int, int], tuple[int, int]] = {}
    reader = user_ids[0]

    def readable_topics(user: int) -> list[int]:
        return [t for g in members[user] for t in by_group.get(g, [])]

    def add_reading(user: int, count: int) -> None:
        mine = readable_topics(user)
        for t in rng.sample(mine, min(count, len(mine))):
            level = rng.choice((1, 1, 2, 3))
            reading[(user, topic_ids[t])] = (level, rng.randint(1, topic_sizes[t]))

    add_reading(reader, 500)
    for _ in range(plan.posts // 5 // 50):
        add_reading(rng.choice(user_ids[1:]), 50)
    await conn.copy_records_to_table(
        "topic_users",
        columns=[
            "user_id",
            "topic_id",
            "notification_level",
            "last_read_post_number",
            "last_visited_at",
        ],
        records=[(u, t, level, n, now - DAY) for (u, t), (level, n) in reading.items()],
    )
    post_ids = await conn.fetch(
        "SELECT p.id, p.topic_id, p.post_number, p.user_id, t.group_id FROM posts p"
        " JOIN topics t ON t.id = p.topic_id WHERE p.deleted_at IS NULL"
        " ORDER BY random() LIMIT $1",
        plan.posts // 2 + 300,
    )
    notifications = []
    told: set[tuple[int, int]] = set()
    readers_posts = [r for r in post_ids if int(r["group_id"]) in members[reader]][:300]
    for i, row in enumerate(readers_posts):
        notifications.append((reader, row, i >= 40))
        told.add((reader, int(row["id"])))
    for row in post_ids[: plan.posts // 2]:
        user = rng.choice(user_ids[1:])
        if (user, int(row["id"])) not in told:
            told.add((user, int(row["id"])))
            notifications.append((user, row, rng.random() < 0.8))
    await conn.copy_records_to_table(
        "notifications",
        columns=[
            "user_id",
            "notification_type",
            "topic_id",
            "post_id",
            "post_number",
            "actor_id",
            "read",
            "created_at",
        ],
        records=[
            (
                user,
                2,
                int(r["topic_id"]),
                int(r["id"]),
                int(r["post_number"]),
                int(r["user_id"]),
                read,
                now - rng.uniform(0, 365) * DAY,
            )
            for user, r, read in notifications
        ],
    )


# --- measuring ---------------------------------------------------------------------------------


async def sign_in_reader(url: str) -> tuple[str, asyncpg.Record]:
    """A session for the reader (the first member), as logging in makes one; and the big topic."""
    token = new_token()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO sessions (token_hash, user_id, created_at, expires_at)"
            " SELECT $1, min(id), $2, $3 FROM users",
            token_hash(token),
            time.time(),
            time.time() + 30 * DAY,
        )
        big = await conn.fetchrow(
            "SELECT id, slug, highest_post_number FROM topics ORDER BY id LIMIT 1"
        )
    finally:
        await conn.close()
    return sign_session(SECRET, token), big


def paths_for(big: asyncpg.Record) -> dict[str, str]:
    """What is timed: label -> path (signed in as the reader, unless it starts "anon:")."""
    topic = f"/t/{big['slug']}/{big['id']}"
    last = big["highest_post_number"] + 1
    return {
        **{
            f"search: {label}": "/search?" + str(httpx.QueryParams({"q": q}))
            for label, q in QUERIES.items()
        },
        "search.json: one word (0.5%)": "/search.json?q=physiotherapy",
        "topic list: home, signed out": "anon:/",
        "topic list: home, with unread counts": "/",
        "topic list: one group": "/g/group-0",
        f"topic page: first of {BIG_TOPIC_POSTS:,} posts": f"{topic}?after=0",
        f"topic page: last of {BIG_TOPIC_POSTS:,} posts": f"{topic}?before={last}",
        "unread: the bell's menu": "/notifications/menu",
        "unread: notifications.json": "/notifications.json",
    }


@dataclass
class Site:
    size: str
    server: Server
    cookie: str
    paths: dict[str, str]


def timed_round(
    site: Site, client: httpx.Client, times: dict[tuple[str, str], list[float]], n: int
) -> None:
    for label, path in site.paths.items():
        anonymous = path.startswith("anon:")
        cookies = {} if anonymous else {"forum_session": site.cookie}
        url = site.server.base_url + path.removeprefix("anon:")
        for _ in range(n):
            started = time.perf_counter()
            response = client.get(url, cookies=cookies)
            elapsed = time.perf_counter() - started
            if response.status_code != 200:
                raise RuntimeError(
                    f"{site.size} {path}: {response.status_code} {response.text[:300]}"
                )
            times.setdefault((site.size, label), []).append(elapsed * 1000)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def report(sites: list[Site], times: dict[tuple[str, str], list[float]]) -> bool:
    small, large = sites[0].size, sites[1].size
    print()
    heads = (f"{small} p50", f"{large} p50", "ratio", f"{small} p95", f"{large} p95", "ratio")
    print(
        f"{'figure (ms, to the last byte)':<46}" + "".join(f" {h:>9}" for h in heads) + "  target"
    )
    met = True
    for label in sites[0].paths:
        a, b = times[(small, label)], times[(large, label)]
        p50a, p50b, p95a, p95b = statistics.median(a), statistics.median(b), p95(a), p95(b)
        ratio50, ratio95 = p50b / p50a, p95b / p95a
        ok = ratio50 <= 1.5 and ratio95 <= 1.5
        note = "<= 1.5x"
        if label.startswith("search"):
            ok = ok and p95b < 100
            note += ", p95 < 100 ms"
        met = met and ok
        figures = f"{p50a:9.1f} {p50b:9.1f} {ratio50:8.2f}x {p95a:9.1f} {p95b:9.1f} {ratio95:8.2f}x"
        print(f"{label:<46} {figures}  {note}: {'met' if ok else 'NOT MET'}")
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--fresh", action="store_true", help="seed the databases again")
    parser.add_argument("--drop", action="store_true", help="drop the bench databases and exit")
    parser.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--per-round", type=int, default=5, help="requests per figure per round")
    args = parser.parse_args(argv)
    if args.drop:
        return asyncio.run(drop_all())
    if args.quick:
        args.rounds, args.per_round = 2, 3
    for size in SIZES:
        asyncio.run(seed(size, args.fresh))
    os.environ["FORUM_SEARCHES_PER_MINUTE"] = str(10**9)
    sites: list[Site] = []
    with tempfile.TemporaryDirectory() as tmp:
        try:
            for size in SIZES:
                url = url_of(db_name(size))
                cookie, big = asyncio.run(sign_in_reader(url))
                server = forum_server(f"forum-{size}", url, Path(tmp), pg=True)
                server.start()
                sites.append(Site(size, server, cookie, paths_for(big)))
            for site in sites:
                site.server.wait_ready()
            times: dict[tuple[str, str], list[float]] = {}
            with httpx.Client(timeout=30) as client:
                for site in sites:  # warm-up: the servers' caches and PostgreSQL's buffers
                    timed_round(site, client, {}, 2)
                for _ in range(args.rounds):
                    for site in sites:
                        timed_round(site, client, times, args.per_round)
        finally:
            for site in sites:
                site.server.stop()
    print(
        f"{args.rounds} rounds x {args.per_round} requests per figure and size; one client,"
        " one request at a time; PostgreSQL, one `forum serve` per size"
    )
    met = report(sites, times)
    print("\nall targets met" if met else "\nsome targets NOT met")
    return 0


async def drop_all() -> int:
    admin = await asyncpg.connect(PG_ADMIN_URL)
    try:
        for size in SIZES:
            await admin.execute(f'DROP DATABASE IF EXISTS "{db_name(size)}" WITH (FORCE)')
    finally:
        await admin.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
