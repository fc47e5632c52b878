"""The database layer: migrations, transactions, and the gapless per-channel event log."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from pathlib import Path

import pytest

from forum.db import Database, _to_numbered, is_unavailable, migrate, open_database
from forum.errors import BadRequest
from realtime.log import append_sql as append_event
from realtime.log import head as channel_head
from realtime.log import read_after
from tests.conftest import ROOT, unique


def test_named_parameters_become_numbered_and_casts_survive() -> None:
    sql, names = _to_numbered("SELECT :a::text, :b, :a FROM t WHERE x = '1'::int")
    assert sql == "SELECT $1::text, $2, $1 FROM t WHERE x = '1'::int"
    assert names == ("a", "b")


async def test_migrations_are_recorded_and_not_applied_twice(db: Database) -> None:
    assert await migrate(db) == []  # the server applied them at start-up
    versions = await db.fetch_all("SELECT version, name FROM schema_migrations ORDER BY version")
    assert versions[0] == {"version": 1, "name": "core"}


async def test_a_failed_transaction_writes_nothing(db: Database) -> None:
    channel = unique("chan")
    with pytest.raises(BadRequest):
        async with db.transaction() as conn:
            await append_event(conn, channel, "test.kind", {"n": 1}, 0.0)
            raise BadRequest("stop")
    assert await channel_head(db, channel) == 0
    assert await read_after(db, channel, 0, 500) == []


async def test_event_ids_are_gapless_and_in_commit_order_under_concurrency(db: Database) -> None:
    channel = unique("chan")

    async def write(n: int) -> int:
        async with db.transaction() as conn:
            event_id = await append_event(conn, channel, "test.kind", {"n": n}, 0.0)
            await asyncio.sleep(0)  # let others try to write while this holds the head row
            return event_id

    ids = await asyncio.gather(*(write(n) for n in range(25)))
    assert sorted(ids) == list(range(1, 26))
    events = await read_after(db, channel, 0, 500)
    assert [e.id for e in events] == list(range(1, 26))
    assert await channel_head(db, channel) == 25
    assert [e.id for e in await read_after(db, channel, 20, 500)] == [21, 22, 23, 24, 25]


async def test_usernames_are_unique_without_regard_to_case(db: Database, arrange) -> None:
    user = await arrange.user()
    from forum.actions.accounts import check_signup, do_create_user

    with pytest.raises(BadRequest) as caught:
        await do_create_user(
            arrange.forum,
            check_signup(user.username.upper(), "other@example.org", "long enough pw", None),
        )
    assert caught.value.messages == ["That username is already registered."]


# --- SQLite: the writer on the event loop, other processes' locks off it -------------------


async def sqlite_at(path: Path, busy_ms: int = 5_000) -> Database:
    db = await open_database(f"sqlite:///{path}", busy_ms=busy_ms)
    await db.execute("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, text TEXT)")
    return db


def holding_the_write_lock(path: Path) -> sqlite3.Connection:
    """Another writer (a connection of its own, as another process has) in a transaction."""
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    holder.execute("INSERT INTO notes (text) VALUES ('theirs')")
    return holder


async def test_a_sqlite_writer_waits_for_another_process_without_blocking_the_loop(
    tmp_path: Path,
) -> None:
    db = await sqlite_at(tmp_path / "wait.db")
    holder = holding_the_write_lock(tmp_path / "wait.db")
    try:
        write = asyncio.create_task(db.execute("INSERT INTO notes (text) VALUES ('mine')"))
        ticks = 0
        for _ in range(20):  # 0.2 s: the loop keeps its turns while the write waits
            await asyncio.sleep(0.01)
            ticks += 1
        assert ticks == 20 and not write.done()
        assert await db.fetch_val("SELECT count(*) FROM notes") == 0  # reads go on meanwhile
        holder.execute("COMMIT")
        await asyncio.wait_for(write, 5)
        texts = await db.fetch_all("SELECT text FROM notes ORDER BY id")
        assert [row["text"] for row in texts] == ["theirs", "mine"]
        async with db.transaction() as conn:  # and the next one takes the lock at once
            await conn.execute("INSERT INTO notes (text) VALUES ('again')")
    finally:
        holder.close()
        await db.close()


async def test_a_sqlite_writer_gives_up_after_the_busy_timeout(tmp_path: Path) -> None:
    db = await sqlite_at(tmp_path / "busy.db", busy_ms=200)
    holder = holding_the_write_lock(tmp_path / "busy.db")
    try:
        with pytest.raises(sqlite3.OperationalError) as caught:
            await db.execute("INSERT INTO notes (text) VALUES ('mine')")
        assert is_unavailable(caught.value)  # answered 503
        holder.execute("ROLLBACK")
        await db.execute("INSERT INTO notes (text) VALUES ('later')")
        assert await db.fetch_val("SELECT text FROM notes") == "later"
    finally:
        holder.close()
        await db.close()


async def test_a_cancelled_wait_for_the_sqlite_lock_leaves_the_writer_usable(
    tmp_path: Path,
) -> None:
    db = await sqlite_at(tmp_path / "cancel.db")
    holder = holding_the_write_lock(tmp_path / "cancel.db")
    try:
        write = asyncio.create_task(db.execute("INSERT INTO notes (text) VALUES ('cancelled')"))
        await asyncio.sleep(0.1)
        write.cancel()
        with pytest.raises(asyncio.CancelledError):
            await write
        next_write = asyncio.create_task(db.execute("INSERT INTO notes (text) VALUES ('next')"))
        await asyncio.sleep(0.1)
        assert not next_write.done()  # the abandoned wait still has the writer
        holder.execute("COMMIT")
        await asyncio.wait_for(next_write, 5)
        texts = await db.fetch_all("SELECT text FROM notes ORDER BY id")
        assert [row["text"] for row in texts] == ["theirs", "next"]
    finally:
        holder.close()
        await db.close()


WRITER_PROCESS = """
import asyncio, sys
from forum.db import open_database
from realtime.log import append_sql

async def main(url, channel, n):
    db = await open_database(url)
    for i in range(n):
        async with db.transaction() as conn:
            await append_sql(conn, channel, "test.kind", {"n": i}, 0.0)
            await conn.execute("INSERT INTO notes (text) VALUES (:t)", {"t": channel})
    await db.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


async def test_sqlite_writers_in_several_processes_keep_ids_gapless_and_in_commit_order(
    tmp_path: Path,
) -> None:
    path = tmp_path / "procs.db"
    db = await sqlite_at(path)
    await migrate(db)
    url, per_process = f"sqlite:///{path}", 60
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-c", WRITER_PROCESS, url, "shared", str(per_process), cwd=ROOT
        )
        for _ in range(3)
    ]
    try:
        # This process writes too, meanwhile, through the same file.
        for i in range(per_process):
            async with db.transaction() as conn:
                await append_event(conn, "shared", "test.kind", {"n": i}, 0.0)
        assert [await asyncio.wait_for(p.wait(), 60) for p in procs] == [0, 0, 0]
    finally:
        for p in procs:
            if p.returncode is None:
                p.kill()
    total = 4 * per_process
    rows = await db.fetch_all("SELECT id FROM events WHERE channel = 'shared' ORDER BY seq")
    assert [row["id"] for row in rows] == list(range(1, total + 1))  # seq order is id order
    assert await channel_head(db, "shared") == total
    assert await db.fetch_val("SELECT count(*) FROM notes") == 3 * per_process
    await db.close()


async def test_the_sqlite_writer_checkpoints_the_wal_off_the_loop(tmp_path: Path) -> None:
    path = tmp_path / "wal.db"
    db = await sqlite_at(path)
    text = "x" * 3000
    for _ in range(2000):  # about 4,000 pages written: 16 MB of WAL if never copied back
        await db.execute("INSERT INTO notes (text) VALUES (:t)", {"t": text})
    await asyncio.sleep(0.2)  # the last checkpoint's thread
    assert (path.parent / "wal.db-wal").stat().st_size < 8 * 2**20
    assert await db.fetch_val("SELECT count(*) FROM notes") == 2000
    await db.close()


# --- one pooled connection per page (Database.one_connection) -----------------------------


async def test_a_pages_reads_share_one_connection_and_give_it_back(db: Database) -> None:
    """On PostgreSQL a task's reads inside one_connection() use one pooled connection, a task
    it starts takes its own, and unpin() gives it back at once; elsewhere nothing changes."""
    backend = "SELECT pg_backend_pid()" if db.url.startswith("postgresql") else "SELECT 1"
    async with db.one_connection():
        seen = {await db.fetch_val(backend) for _ in range(5)}
        assert len(seen) == 1
        if db.url.startswith("postgresql"):
            pool = db.pool  # type: ignore[attr-defined]
            other = await asyncio.create_task(db.fetch_val(backend))
            assert other not in seen  # the pinned connection is busy being ours
            idle = pool.get_idle_size()
            await db.unpin()
            assert pool.get_idle_size() == idle + 1
            assert await db.fetch_val(backend)  # later reads take one from the pool
    async with db.transaction() as conn:  # transactions never use the shared one
        assert await conn.fetch_val("SELECT 1") == 1


async def test_more_pages_at_once_than_pooled_connections_all_answer(server, client) -> None:
    """Each GET shares one pooled connection for its reads; a search also opens `reads()`
    of its own. Twenty at once on a pool of ten must all answer (a task never holds two
    connections: twenty holding one and waiting for another would wait for ever)."""
    anon = client()
    answers = await asyncio.wait_for(
        asyncio.gather(*(anon.get("/search", params={"q": f"pace{n}"}) for n in range(20))),
        30,
    )
    assert {a.status_code for a in answers} <= {200, 429}
    assert sum(a.status_code == 200 for a in answers) >= 10
