"""A small async database surface over asyncpg (PostgreSQL) and aiosqlite (SQLite), plus migrations.

SQL is plain text with named parameters (`:name`) on both databases. On SQLite every write goes
through one writer connection, one transaction at a time; reads use separate connections (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

import aiosqlite
import asyncpg

log = logging.getLogger("forum.db")

Row = dict[str, Any]
Params = Mapping[str, Any] | None

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


# --- faults ---------------------------------------------------------------------------------
# Two kinds of database error are the request's or the moment's, not a bug: a value the
# database cannot store (answered 400), and a database that cannot be reached or written just
# now (answered 503 with Retry-After). app.py maps them; everything else is a server error.

_SQLITE_UNAVAILABLE = (
    "database is locked",
    "database or disk is full",
    "disk i/o error",
    "readonly database",
    "unable to open database",
)

_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,  # class 08: the connection failed or was lost
    asyncpg.exceptions.OperatorInterventionError,  # 57: shutdown, restart, cancelled
    asyncpg.exceptions.InsufficientResourcesError,  # 53: disk full, too many connections
    asyncpg.exceptions.ReadOnlySQLTransactionError,  # a read-only database or a standby
    asyncpg.exceptions.TransactionRollbackError,  # class 40: deadlock, serialization
    asyncpg.InterfaceError,  # the connection is closed, or the pool is closing
    asyncpg.exceptions.InternalClientError,  # the server went away mid-statement
    ConnectionError,  # refused or reset while connecting
)


class DatabaseUnavailable(Exception):
    """No connection to the database could be had (refused, not accepting connections, too
    many clients): whatever the driver said, the request can only be tried again later."""


def _bad_argument(exc: BaseException) -> bool:
    # asyncpg refuses an argument it cannot encode (an integer past 64 bits, a lone
    # surrogate) with a client-side DataError, an InterfaceError that is also a ValueError.
    return isinstance(exc, asyncpg.InterfaceError) and isinstance(exc, ValueError)


def is_unavailable(exc: BaseException) -> bool:
    """The database cannot be reached or written just now: try again shortly (503)."""
    if isinstance(exc, DatabaseUnavailable):
        return True
    if _bad_argument(exc):
        return False
    if isinstance(exc, sqlite3.OperationalError):
        message = str(exc).lower()
        return any(part in message for part in _SQLITE_UNAVAILABLE)
    return isinstance(exc, _PG_UNAVAILABLE)


def is_unstorable(exc: BaseException) -> bool:
    """A value the database refused (out of range, not encodable): the request's fault (400).

    Input checks should stop these first; this is the last line, so a missed check is a clear
    error for the sender and a warning in the log, never a 500."""
    if isinstance(exc, asyncpg.DataError) or _bad_argument(exc):
        return True
    return isinstance(exc, (OverflowError, sqlite3.DataError, UnicodeEncodeError))


# A connection that broke under us: asyncpg reports a server that went away mid-statement as
# one of these (InternalClientError: its protocol was left mid-operation).
_LOST = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.exceptions.InternalClientError,
    asyncpg.exceptions.AdminShutdownError,
    ConnectionError,
)


class DatabaseReadOnly(RuntimeError):
    """The database accepts reads but not writes; the forum refuses to start on it."""


class _Committing:
    """Callbacks a transaction collects, run after COMMIT and dropped on ROLLBACK."""

    def __init__(self) -> None:
        self.callbacks: list[Callable[[], None]] = []

    def after_commit(self, fn: Callable[[], None]) -> None:
        self.callbacks.append(fn)

    def run(self) -> None:
        for fn in self.callbacks:
            try:
                fn()
            except Exception:  # the change is committed; a failed wake-up must not undo it
                log.exception("after-commit callback failed")


class Connection(ABC):
    """What a query function is given: one connection, maybe inside a transaction."""

    dialect: str

    @abstractmethod
    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]: ...

    @abstractmethod
    async def execute(self, sql: str, params: Params = None) -> None: ...

    async def fetch_one(self, sql: str, params: Params = None) -> Row | None:
        rows = await self.fetch_all(sql, params)
        return rows[0] if rows else None

    async def fetch_val(self, sql: str, params: Params = None) -> Any:
        row = await self.fetch_one(sql, params)
        return None if row is None else next(iter(row.values()))

    _committing: _Committing | None = None  # set on a connection inside a transaction

    def after_commit(self, fn: Callable[[], None]) -> None:
        """Run `fn` once this connection's transaction commits (outside one: now)."""
        if self._committing is None:
            fn()
        else:
            self._committing.after_commit(fn)


class Database(Connection):
    """A connection source: outside a transaction each call may use a different connection."""

    url: str

    @abstractmethod
    def transaction(self) -> AbstractAsyncContextManager[Connection]:
        """`async with db.transaction() as conn:` commits on success and rolls back on error."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def check_writable(self) -> None:
        """Raise DatabaseReadOnly unless a write would succeed: a forum that starts on a
        read-only database would fail every post while looking healthy."""


_READ_ONLY = (
    "The database accepts no writes (it is read-only, full, or a standby), so the forum would"
    " fail every post. Check the database, its file permissions or free disk space, then"
    " start again."
)


# --- SQLite ---------------------------------------------------------------------------------


def _dict_row(cursor: sqlite3.Cursor, row: tuple[Any, ...]) -> Row:
    return {col[0]: value for col, value in zip(cursor.description, row, strict=True)}


_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA synchronous=NORMAL",
)
DEFAULT_BUSY_MS = 10_000  # how long a writer waits for another process's write lock


class _SqliteConnection(Connection):
    dialect = "sqlite"

    def __init__(self, conn: aiosqlite.Connection, committing: _Committing | None = None) -> None:
        self._conn = conn
        self._committing = committing

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        return list(await self._conn.execute_fetchall(sql, params or {}))  # type: ignore[arg-type]

    async def execute(self, sql: str, params: Params = None) -> None:
        await self._conn.execute(sql, params or {})


class SqliteDatabase(Database):
    dialect = "sqlite"

    def __init__(self, url: str, path: str, busy_ms: int = DEFAULT_BUSY_MS) -> None:
        self.url = url
        self._path = path
        self._pragmas = (*_PRAGMAS, f"PRAGMA busy_timeout={int(busy_ms)}")
        self._writer: aiosqlite.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()

    async def open(self) -> None:
        # isolation_level=None: we issue BEGIN ourselves, so a transaction is exactly our block.
        self._writer = await aiosqlite.connect(self._path, isolation_level=None)
        self._writer.row_factory = _dict_row  # type: ignore[assignment]
        try:
            for pragma in self._pragmas:
                await self._writer.execute(pragma)
        except BaseException:
            # Its thread would keep the process alive after a failed start.
            await self.close()
            raise
        # Reads run on the event loop's own thread: our reads are small indexed queries
        # (tens of microseconds), cheaper than a hop to a worker thread and back, which
        # also fights the renderer for the GIL (measured: bench/pages.py). WAL means a
        # reader never waits for the writer.
        self._reader = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        self._reader.row_factory = _dict_row
        for pragma in self._pragmas:
            self._reader.execute(pragma)

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        assert self._reader is not None, "database is not open"
        return self._reader.execute(sql, params or {}).fetchall()

    async def execute(self, sql: str, params: Params = None) -> None:
        async with self.transaction() as conn:
            await conn.execute(sql, params)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        assert self._writer is not None, "database is not open"
        async with self._write_lock:
            # IMMEDIATE takes the write lock now, so other processes wait here (busy_timeout)
            # rather than failing at the first write inside the block.
            await self._writer.execute("BEGIN IMMEDIATE")
            committing = _Committing()
            try:
                yield _SqliteConnection(self._writer, committing)
            except BaseException:
                await self._writer.execute("ROLLBACK")
                raise
            else:
                await self._writer.execute("COMMIT")
        committing.run()

    async def check_writable(self) -> None:
        # Make a table and roll it back: DDL is transactional, so nothing changes. BEGIN
        # IMMEDIATE alone already fails on a read-only file or folder.

        class _Probe(Exception):
            pass

        try:
            async with self.transaction() as conn:
                await conn.execute("CREATE TABLE forum_write_check (x INTEGER)")
                raise _Probe
        except _Probe:
            return
        except sqlite3.OperationalError as error:
            if is_unavailable(error):
                raise DatabaseReadOnly(_READ_ONLY) from error
            raise

    async def close(self) -> None:
        writer, reader = self._writer, self._reader
        self._writer, self._reader = None, None
        if writer is not None:
            await writer.close()
        if reader is not None:
            reader.close()


# --- PostgreSQL -----------------------------------------------------------------------------

_NAMED_PARAM = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")


@lru_cache(maxsize=1024)
def _to_numbered(sql: str) -> tuple[str, tuple[str, ...]]:
    """Rewrite `:name` parameters as asyncpg's `$1`, reusing a number for a repeated name."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return _NAMED_PARAM.sub(number, sql), tuple(names)


def _args(names: tuple[str, ...], params: Params) -> list[Any]:
    params = params or {}
    return [params[name] for name in names]


class _PgConnection(Connection):
    dialect = "postgresql"

    def __init__(
        self, conn: asyncpg.Connection | asyncpg.Pool, committing: _Committing | None = None
    ) -> None:
        self._conn = conn
        self._committing = committing

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        text, names = _to_numbered(sql)
        return [dict(r) for r in await self._conn.fetch(text, *_args(names, params))]

    async def execute(self, sql: str, params: Params = None) -> None:
        text, names = _to_numbered(sql)
        await self._conn.execute(text, *_args(names, params))


def _terminate(conn: Any) -> None:
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


async def _rollback_only(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset sends RESET ALL / UNLISTEN * on every release: a second round
    # trip per query. We never change session state on pooled connections, so only end a
    # transaction left open by an error.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, url: str, min_size: int = 2, max_size: int = 10) -> None:
        self.url = url
        self._min_size = min_size
        self._max_size = max_size
        self._pool: asyncpg.Pool | None = None

    async def open(self) -> None:
        self._pool = await asyncpg.create_pool(
            self.url, min_size=self._min_size, max_size=self._max_size, reset=_rollback_only
        )

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "database is not open"
        return self._pool

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        # After a server restart every pooled connection is dead, and each fails once as it
        # is dropped. A read can safely be tried again on another connection.
        for attempt in range(self._max_size + 1):
            conn = await self._acquire()
            try:
                return await _PgConnection(conn).fetch_all(sql, params)
            except _LOST as error:
                if _bad_argument(error):
                    raise  # the request's value, not the connection: nothing to retry
                _terminate(conn)  # the pool opens a new one in its place
                if attempt == self._max_size:
                    raise
            finally:
                await self._release(conn)
        raise AssertionError("unreachable")

    async def execute(self, sql: str, params: Params = None) -> None:
        conn = await self._acquire()
        try:
            await _PgConnection(conn).execute(sql, params)
        finally:
            await self._release(conn)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Connection]:
        committing = _Committing()
        conn, tr = await self._begin()
        try:
            try:
                yield _PgConnection(conn, committing)
            except BaseException:
                try:
                    await tr.rollback()
                except Exception:
                    _terminate(conn)  # lost with the transaction: the error that counts is above
                raise
            await tr.commit()
        finally:
            await self._release(conn)
        committing.run()

    async def _release(self, conn: Any) -> None:
        # A connection the server dropped may already be back in the pool's hands.
        with contextlib.suppress(asyncpg.InterfaceError):
            await self.pool.release(conn)

    async def _acquire(self) -> Any:
        try:
            return await self.pool.acquire()
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as error:
            raise DatabaseUnavailable(type(error).__name__) from error

    async def _begin(self) -> tuple[Any, Any]:
        """A pooled connection with a transaction begun. A dead connection (the server
        restarted) is dropped and another taken, before anything was done on it, so nothing
        runs twice; BEGIN is the probe, so a healthy pool pays no extra round trip."""
        for attempt in range(self._max_size + 1):
            conn = await self._acquire()
            tr = conn.transaction()
            try:
                await tr.start()
            except _LOST:
                _terminate(conn)
                await self._release(conn)
                if attempt == self._max_size:
                    raise
                continue
            return conn, tr
        raise AssertionError("unreachable")

    async def check_writable(self) -> None:
        # Asked, not tried: a least-privilege role may not create tables, and a standby or a
        # database set read-only says so in these settings.
        row = await self.fetch_one(
            "SELECT pg_is_in_recovery() AS standby,"
            " current_setting('transaction_read_only') AS read_only"
        )
        if row is not None and (row["standby"] or row["read_only"] == "on"):
            raise DatabaseReadOnly(_READ_ONLY)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


# --- opening by URL scheme ------------------------------------------------------------------


async def _open_sqlite(url: str, busy_ms: int) -> Database:
    path = url.removeprefix("sqlite:///")
    if not path or path == url:
        raise ValueError(f"a SQLite URL looks like sqlite:///forum.db, not {url!r}")
    db = SqliteDatabase(url, path, busy_ms)
    await db.open()
    return db


async def _open_postgres(url: str, busy_ms: int) -> Database:
    db = PostgresDatabase(url)
    await db.open()
    return db


_OPENERS: dict[str, Callable[[str, int], Any]] = {
    "sqlite": _open_sqlite,
    "postgresql": _open_postgres,
    "postgres": _open_postgres,
}


async def open_database(url: str, *, busy_ms: int = DEFAULT_BUSY_MS) -> Database:
    """Open the database a URL names; an unknown scheme is an error, never a silent default.
    `busy_ms`: how long a SQLite writer waits for another process's lock before giving up."""
    scheme = url.split(":", 1)[0]
    opener = _OPENERS.get(scheme)
    if opener is None:
        raise ValueError(f"unknown database scheme {scheme!r}: use sqlite:/// or postgresql://")
    db: Database = await opener(url, busy_ms)
    return db


# --- migrations -----------------------------------------------------------------------------


def _migration_files(dialect: str) -> list[tuple[int, str, Path]]:
    """Numbered files `NNNN_name.sql`, or `NNNN_name.<dialect>.sql` where the SQL differs."""
    chosen: dict[int, tuple[str, Path]] = {}
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        stem_parts = path.name.removesuffix(".sql").split(".")
        if len(stem_parts) == 2 and stem_parts[1] != dialect:
            continue
        version_text, _, name = stem_parts[0].partition("_")
        version = int(version_text)
        if version in chosen and len(stem_parts) == 1:
            continue  # a dialect's own file wins over the shared one
        chosen[version] = (name, path)
    return [(v, name, path) for v, (name, path) in sorted(chosen.items())]


def _split_sqlite(script: str) -> list[str]:
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


async def migrate(db: Database) -> list[int]:
    """Apply the migrations not yet recorded, each in its own transaction; return their numbers.

    Safe when several processes start at once: PostgreSQL takes an advisory lock, SQLite's
    BEGIN IMMEDIATE serialises the writers, and the applied set is read inside that lock.
    """
    applied_now: list[int] = []
    async with db.transaction() as conn:
        await _lock_migrations(conn)
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " name TEXT NOT NULL, applied_at DOUBLE PRECISION NOT NULL)"
        )
    for version, name, path in _migration_files(db.dialect):
        script = path.read_text(encoding="utf-8")
        async with db.transaction() as conn:
            await _lock_migrations(conn)
            done = await conn.fetch_val(
                "SELECT count(*) FROM schema_migrations WHERE version = :v", {"v": version}
            )
            if done:
                continue
            if db.dialect == "postgresql":
                await conn.execute(script)
            else:
                for statement in _split_sqlite(script):
                    await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (:v, :n, :t)",
                {"v": version, "n": name, "t": time.time()},
            )
            applied_now.append(version)
    return applied_now


async def _lock_migrations(conn: Connection) -> None:
    # SQLite needs nothing more: the transaction began IMMEDIATE, which already excludes writers.
    if conn.dialect == "postgresql":
        await conn.execute("SELECT pg_advisory_xact_lock(4201)")
