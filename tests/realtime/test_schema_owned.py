"""realtime/ creates its own tables: an application using realtime alone, with no forum migration
and no forum.db, makes the event log with `realtime.schema.create_tables` and uses it.

The connections here are the few lines such an application would write over sqlite3 and
asyncpg (docs/realtime.md shows the shape), so nothing of the forum is between realtime and
the database.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import pytest_asyncio

from realtime import log as event_log
from realtime import schema as realtime_schema
from realtime.bus import TooOld
from tests.conftest import create_pg_database, drop_pg_database


class SqliteLogConnection:
    """sqlite3 in autocommit, with `:name` parameters (sqlite3 takes them as they are)."""

    dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self._conn = sqlite3.connect(path, isolation_level=None)

    async def fetch_all(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        cursor = self._conn.execute(sql, params or {})
        names = [column[0] for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    async def fetch_val(self, sql: str, params: Any = None) -> Any:
        rows = await self.fetch_all(sql, params)
        return next(iter(rows[0].values())) if rows else None

    async def execute(self, sql: str, params: Any = None) -> None:
        self._conn.execute(sql, params or {})

    def after_commit(self, fn: Callable[[], None]) -> None:
        fn()  # only the buses use it; nothing here waits for a commit

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqliteLogConnection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    async def close(self) -> None:
        self._conn.close()


_NAMED = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


class PostgresLogConnection:
    """asyncpg, with realtime's `:name` parameters rewritten as asyncpg's `$n`."""

    dialect = "postgresql"

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    @staticmethod
    def _numbered(sql: str, params: Any) -> tuple[str, list[Any]]:
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        text = _NAMED.sub(number, sql)
        return text, [(params or {})[name] for name in names]

    async def fetch_all(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        text, args = self._numbered(sql, params)
        return [dict(row) for row in await self._conn.fetch(text, *args)]

    async def fetch_val(self, sql: str, params: Any = None) -> Any:
        text, args = self._numbered(sql, params)
        return await self._conn.fetchval(text, *args)

    async def execute(self, sql: str, params: Any = None) -> None:
        text, args = self._numbered(sql, params)
        await self._conn.execute(text, *args)

    def after_commit(self, fn: Callable[[], None]) -> None:
        fn()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[PostgresLogConnection]:
        async with self._conn.transaction():
            yield self

    async def close(self) -> None:
        await self._conn.close()


LogConnection = SqliteLogConnection | PostgresLogConnection


@pytest_asyncio.fixture(params=["sqlite", "postgresql"])
async def conn(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LogConnection]:
    """A connection to an empty database: no forum migration has run on it."""
    if request.param == "sqlite":
        made: LogConnection = SqliteLogConnection(tmp_path / "log.db")
        yield made
        await made.close()
        return
    url = await create_pg_database()
    made = PostgresLogConnection(await asyncpg.connect(url))
    try:
        yield made
    finally:
        await made.close()
        await drop_pg_database(url)


async def table_names(conn: LogConnection) -> set[str]:
    if conn.dialect == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    else:
        sql = (
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        )
    return {row["name"] for row in await conn.fetch_all(sql)}


async def test_realtime_alone_makes_its_tables_and_keeps_a_log_in_them(
    conn: LogConnection,
) -> None:
    assert await table_names(conn) == set()
    async with conn.transaction() as tx:
        await realtime_schema.create_tables(tx)
    await realtime_schema.create_tables(conn)  # again, outside a transaction: changes nothing
    assert await table_names(conn) == set(realtime_schema.TABLES)

    async with conn.transaction() as tx:
        first = await event_log.append_sql(tx, "topic:1", "post.created", {"n": 1}, 100.0)
        second = await event_log.append_sql(tx, "topic:1", "topic.bumped", {"n": 2}, 101.0)
        other = await event_log.append_sql(tx, "latest", "topic.bumped", {"n": 2}, 101.0)
    assert (first, second, other) == (1, 2, 1)  # ids are per channel
    assert await event_log.head(conn, "topic:1") == 2

    events = await event_log.read_after(conn, "topic:1", 0, 10)
    assert [(e.id, e.kind, e.data, e.created_at) for e in events] == [
        (1, "post.created", {"n": 1}, 100.0),
        (2, "topic.bumped", {"n": 2}, 101.0),
    ]
    assert [e.id for e in await event_log.backlog(conn, "topic:1", 1, 10)] == [2]
    assert await event_log.last_seq(conn) == 3


async def test_a_rolled_back_append_leaves_no_trace(conn: LogConnection) -> None:
    await realtime_schema.create_tables(conn)
    with pytest.raises(RuntimeError):
        async with conn.transaction() as tx:
            await event_log.append_sql(tx, "topic:9", "post.created", {}, 1.0)
            raise RuntimeError("undo")
    assert await event_log.head(conn, "topic:9") == 0
    with pytest.raises(TooOld):
        await event_log.backlog(conn, "topic:9", 5, 10)  # beyond the head: the log was reset


def test_the_ddl_is_given_for_each_dialect_and_refused_for_others() -> None:
    for dialect in ("sqlite", "postgresql"):
        statements = realtime_schema.ddl(dialect)
        assert all(" IF NOT EXISTS " in statement for statement in statements)
        made = [re.search(r"EXISTS (\w+)", statement) for statement in statements]
        assert {m.group(1) for m in made if m} >= set(realtime_schema.TABLES)
    with pytest.raises(ValueError, match="mysql"):
        realtime_schema.ddl("mysql")
