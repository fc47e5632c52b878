"""A small async database surface over asyncpg (PostgreSQL) and sqlite3 (SQLite). The migration
runner is forum/migrate.py.

SQL is plain text with named parameters (`:name`) on both databases. On SQLite every write goes
through one writer connection, one transaction at a time; reads use a second connection (WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, TypeVar

import asyncpg

log = logging.getLogger("forum.db")

Row = dict[str, Any]
T = TypeVar("T")
Params = Mapping[str, Any] | None


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
    # Advisory locks this connection's transaction already holds (see Database.transaction).
    locks: frozenset[int] = frozenset()

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
    def transaction(self, *, locks: Sequence[int] = ()) -> AbstractAsyncContextManager[Connection]:
        """`async with db.transaction() as conn:` commits on success and rolls back on error.

        `locks`: advisory locks (64-bit keys) the transaction holds from its start until it
        ends, taken on PostgreSQL in the round trip of its BEGIN, and listed in `conn.locks`.
        SQLite needs none: its one writer at a time already excludes every other writer."""

    def reads(self) -> AbstractAsyncContextManager[Connection]:
        """`async with db.reads() as conn:` several reads on one connection, outside a
        transaction (each sees what was committed when it ran): the checks an action makes
        before its costly steps. PostgreSQL holds one pooled connection for them all, not one
        per read; elsewhere this is the database itself."""
        return contextlib.nullcontext(self)

    def one_connection(self) -> AbstractAsyncContextManager[Pin | None]:
        """`async with db.one_connection() as pin:` the reads this task makes outside
        transactions meanwhile share one pooled connection (a page's half-dozen reads pay
        for one pool checkout, not six); `unpin()`, or `pin.close()` from any task, lets it
        go early. A transaction, or `reads()`, lets it go first: a task holds one pooled
        connection at a time. Only PostgreSQL pools connections (elsewhere: None)."""
        return contextlib.nullcontext()

    async def unpin(self) -> None:
        """Give back this task's shared connection now (before a response streams, or a
        wait): later reads take one from the pool each, as without `one_connection`."""

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
# The writer copies the WAL back into the database file (a checkpoint, with an fsync) on a
# thread, about this often: SQLite's own default, which would otherwise run it inside a COMMIT.
CHECKPOINT_PAGES = 1000


class _SqliteConnection(Connection):
    """The writer inside a transaction: each statement runs on the event loop's thread (a few
    microseconds: no hand-off to a thread and back), under the write lock already taken."""

    dialect = "sqlite"

    def __init__(
        self,
        conn: sqlite3.Connection,
        committing: _Committing | None = None,
        locks: frozenset[int] = frozenset(),
    ) -> None:
        self._conn = conn
        self._committing = committing
        self.locks = locks

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        return self._conn.execute(sql, params or {}).fetchall()

    async def execute(self, sql: str, params: Params = None) -> None:
        self._conn.execute(sql, params or {})


def _is_busy(error: sqlite3.OperationalError) -> bool:
    """Another connection holds the lock (SQLITE_BUSY, any extended code)."""
    return (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY


class SqliteDatabase(Database):
    """One writer connection behind an asyncio lock, one reader; both on the loop's thread.

    A write transaction takes SQLite's write lock with `BEGIN IMMEDIATE` at a zero busy
    timeout: the lock is free unless another process is writing, and then the wait for it
    (up to `busy_ms`) happens on a thread, so the loop never blocks. Once the lock is held
    nothing inside the transaction waits (WAL: readers never block the writer), so its
    statements and the COMMIT run on the loop, as the reads do. What would block, the wait
    for another process and the checkpoint's fsync, runs on one thread beside the loop."""

    dialect = "sqlite"

    def __init__(self, url: str, path: str, busy_ms: int = DEFAULT_BUSY_MS) -> None:
        self.url = url
        self._path = path
        self._busy_ms = int(busy_ms)
        self._pragmas = (*_PRAGMAS, f"PRAGMA busy_timeout={self._busy_ms}")
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_lock = asyncio.Lock()
        # Where the writer waits for another process's lock or checkpoints: one thread, used
        # only by the holder of _write_lock.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._commits = 0  # since the last checkpoint
        self._checkpoint_every = 100  # commits; adjusted to CHECKPOINT_PAGES as pages are seen

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN ourselves, so a transaction is exactly our block.
        conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
        conn.row_factory = _dict_row
        try:
            for pragma in self._pragmas:
                conn.execute(pragma)
        except BaseException:
            conn.close()
            raise
        return conn

    async def open(self) -> None:
        # Opened off the loop: switching a new file to WAL waits for other processes' locks.
        self._writer = await asyncio.to_thread(self._connect)
        self._writer.execute("PRAGMA busy_timeout=0")  # see _begin
        self._writer.execute("PRAGMA wal_autocheckpoint=0")  # see _checkpoint
        # Reads run on the event loop's own thread: our reads are small indexed queries
        # (tens of microseconds), cheaper than a hop to a worker thread and back, which
        # also fights the renderer for the GIL (measured: bench/pages.py). WAL means a
        # reader never waits for the writer.
        try:
            self._reader = self._connect()
        except BaseException:
            await self.close()
            raise

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        assert self._reader is not None, "database is not open"
        writer = self._writer
        if writer is not None and not self._write_lock.locked():
            # The writer is idle (this runs on the loop, as every writer statement does): its
            # page cache holds what this process last wrote, where the reader's was emptied
            # by that commit, so a read after a write costs about half as much here.
            try:
                return writer.execute(sql, params or {}).fetchall()
            except sqlite3.OperationalError as error:
                if not _is_busy(error):  # busy: it waits for no one; the reader does
                    raise
        return self._reader.execute(sql, params or {}).fetchall()

    async def execute(self, sql: str, params: Params = None) -> None:
        async with self.transaction() as conn:
            await conn.execute(sql, params)

    @asynccontextmanager
    async def transaction(self, *, locks: Sequence[int] = ()) -> AsyncIterator[Connection]:
        writer = self._writer
        assert writer is not None, "database is not open"
        await self._write_lock.acquire()
        owned = True  # False: a thread still using the writer releases the lock when done
        try:
            try:
                await self._begin(writer)
            except _Abandoned:
                owned = False
                raise
            committing = _Committing()
            try:
                yield _SqliteConnection(writer, committing, frozenset(locks))
                writer.execute("COMMIT")
            except BaseException:
                # A failed COMMIT leaves the transaction open; some errors (a full disk)
                # have already ended it.
                if writer.in_transaction:
                    writer.execute("ROLLBACK")
                raise
            committing.run()
            self._commits += 1
            if self._commits >= self._checkpoint_every:
                try:
                    await self._checkpoint(writer)
                except _Abandoned:
                    owned = False
                    raise
        finally:
            if owned:
                self._write_lock.release()

    async def _begin(self, writer: sqlite3.Connection) -> None:
        """Take the write lock: at once when no other process holds it, else wait for it on
        the thread, up to the busy timeout ("database is locked" after that: a 503)."""
        if writer.in_transaction:
            writer.execute("ROLLBACK")  # left open by a ROLLBACK that failed (disk I/O error)
        try:
            writer.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as error:
            if not _is_busy(error):
                raise

        def wait() -> None:
            writer.execute(f"PRAGMA busy_timeout={self._busy_ms}")
            try:
                writer.execute("BEGIN IMMEDIATE")
            finally:
                writer.execute("PRAGMA busy_timeout=0")

        # Abandoned (the request cancelled), the wait may still take the lock: give it back.
        await self._on_thread(wait, abandon=lambda: writer.execute("ROLLBACK"))

    async def _checkpoint(self, writer: sqlite3.Connection) -> None:
        """Copy the WAL back into the database file on the thread, after the COMMIT that
        filled it, as SQLite's own automatic checkpoint would inside that COMMIT; the
        writer's next BEGIN then starts the WAL again from its beginning. PASSIVE: it waits
        for nobody. The loop is free meanwhile; this process's next writer waits."""
        commits, self._commits = self._commits, 0

        def checkpoint() -> Row:
            row: Row = writer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()[0]
            return row

        try:
            done = await self._on_thread(checkpoint, abandon=lambda: None)
        except Exception as error:  # the transaction has committed: only log it
            log.error("SQLite checkpoint failed: %s", error)
            return
        pages = int(done["log"] or 0)  # the WAL's length in pages, now copied back
        if pages > 0:
            every = round(CHECKPOINT_PAGES * commits / pages)
            self._checkpoint_every = max(10, min(1000, every))

    async def _on_thread(self, work: Callable[[], T], *, abandon: Callable[[], object]) -> T:
        """`work()` with the writer on the thread, the loop free meanwhile. If the caller is
        cancelled, the thread still has the writer: `abandon()` runs after a `work` that
        succeeded, and the write lock is released, only once it is done (raises _Abandoned)."""
        done = asyncio.get_running_loop().run_in_executor(self._thread, work)
        try:
            return await asyncio.shield(done)
        except asyncio.CancelledError:

            def finish(done: asyncio.Future[T]) -> None:
                try:
                    if not done.cancelled() and done.exception() is None and self._writer:
                        abandon()
                except sqlite3.Error:
                    log.exception("could not end an abandoned SQLite transaction")
                finally:
                    self._write_lock.release()

            done.add_done_callback(finish)
            raise _Abandoned from None

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
        self._thread.shutdown(wait=False)
        if writer is not None:
            writer.close()
        if reader is not None:
            reader.close()


class _Abandoned(asyncio.CancelledError):
    """Cancelled while the thread had the writer: the write lock is released when it is done."""


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
        self,
        conn: asyncpg.Connection | asyncpg.Pool,
        committing: _Committing | None = None,
        locks: frozenset[int] = frozenset(),
    ) -> None:
        self._conn = conn
        self._committing = committing
        self.locks = locks

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        text, names = _to_numbered(sql)
        return [dict(r) for r in await self._conn.fetch(text, *_args(names, params))]

    async def execute(self, sql: str, params: Params = None) -> None:
        text, names = _to_numbered(sql)
        await self._conn.execute(text, *_args(names, params))


class _PgReads(Connection):
    """Reads on one pooled connection, taken at the first: a connection found dead (the
    server restarted) is replaced and the read tried again, as PostgresDatabase.fetch_all
    does for each of its reads."""

    dialect = "postgresql"

    def __init__(self, db: PostgresDatabase) -> None:
        self._db = db
        self._conn: Any = None

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        for attempt in range(self._db.max_size + 1):
            if self._conn is None:
                self._conn = await self._db._acquire()
            try:
                return await _PgConnection(self._conn).fetch_all(sql, params)
            except _LOST as error:
                if _bad_argument(error):
                    raise  # the request's value, not the connection: nothing to retry
                await self.release(terminate=True)
                if attempt == self._db.max_size:
                    raise
        raise AssertionError("unreachable")

    async def execute(self, sql: str, params: Params = None) -> None:
        if self._conn is None:
            self._conn = await self._db._acquire()
        await _PgConnection(self._conn).execute(sql, params)

    async def release(self, *, terminate: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            if terminate:
                _terminate(conn)  # the pool opens a new one in its place
            await self._db._release(conn)


def _terminate(conn: Any) -> None:
    with contextlib.suppress(asyncpg.InterfaceError):
        conn.terminate()


async def _rollback_only(conn: asyncpg.Connection) -> None:
    # asyncpg's default reset sends RESET ALL / UNLISTEN * on every release: a second round
    # trip per query. We never change session state on pooled connections, so only end a
    # transaction left open by an error.
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


class Pin:
    """One task's shared connection (PostgresDatabase.one_connection)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self.reads = _PgReads(db)
        self.task = asyncio.current_task()
        self.open = True

    def serves(self, db: PostgresDatabase) -> bool:
        # Only the task that pinned it: a task it started inherits the context, and two
        # tasks cannot share one connection's protocol.
        return self.open and self.db is db and self.task is asyncio.current_task()

    async def close(self) -> None:
        self.open = False
        await self.reads.release()


_pinned: ContextVar[Pin | None] = ContextVar("forum_pinned_connection", default=None)


ACQUIRE_SECONDS = 10.0


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
    def max_size(self) -> int:
        return self._max_size

    @property
    def pool(self) -> asyncpg.Pool:
        assert self._pool is not None, "database is not open"
        return self._pool

    async def fetch_all(self, sql: str, params: Params = None) -> list[Row]:
        pin = _pinned.get()
        if pin is not None and pin.serves(self):
            return await pin.reads.fetch_all(sql, params)
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
        pin = _pinned.get()
        if pin is not None and pin.serves(self):
            await pin.reads.execute(sql, params)
            return
        conn = await self._acquire()
        try:
            await _PgConnection(conn).execute(sql, params)
        finally:
            await self._release(conn)

    @asynccontextmanager
    async def one_connection(self) -> AsyncIterator[Pin | None]:
        pin = Pin(self)
        token = _pinned.set(pin)
        try:
            yield pin
        finally:
            _pinned.reset(token)
            await pin.close()

    async def unpin(self) -> None:
        pin = _pinned.get()
        if pin is not None and pin.serves(self):
            await pin.close()

    @asynccontextmanager
    async def reads(self) -> AsyncIterator[Connection]:
        await self.unpin()  # one connection a task at a time: no pool deadlock
        reads = _PgReads(self)
        try:
            yield reads
        finally:
            await reads.release()

    @asynccontextmanager
    async def transaction(self, *, locks: Sequence[int] = ()) -> AsyncIterator[Connection]:
        committing = _Committing()
        conn = await self._begin(locks)
        try:
            try:
                yield _PgConnection(conn, committing, frozenset(locks))
            except BaseException:
                try:
                    await conn.execute("ROLLBACK")
                except Exception:
                    _terminate(conn)  # lost with the transaction: the error that counts is above
                raise
            await conn.execute("COMMIT")
        finally:
            await self._release(conn)
        committing.run()

    async def _release(self, conn: Any) -> None:
        # A connection the server dropped may already be back in the pool's hands.
        with contextlib.suppress(asyncpg.InterfaceError):
            await self.pool.release(conn)

    async def _acquire(self) -> Any:
        try:
            # Bounded: a pool that stays exhausted is a fault to answer (503), not a hang.
            return await self.pool.acquire(timeout=ACQUIRE_SECONDS)
        except TimeoutError as error:
            raise DatabaseUnavailable("no pooled connection came free") from error
        except (asyncpg.PostgresError, OSError, asyncpg.InterfaceError) as error:
            raise DatabaseUnavailable(type(error).__name__) from error

    async def _begin(self, locks: Sequence[int]) -> Any:
        """A pooled connection with a transaction begun, holding `locks`. A dead connection
        (the server restarted) is dropped and another taken, before anything was done on it,
        so nothing runs twice; BEGIN is the probe, so a healthy pool pays no extra round
        trip. The locks are taken in that round trip too (a simple query may hold several
        statements; the keys are integers, so nothing is spliced but digits)."""
        # A task holds one pooled connection at a time: ten pages each holding their shared
        # connection while waiting for a second would wait for ever on a pool of ten.
        await self.unpin()
        begin = "; ".join(
            ["BEGIN", *(f"SELECT pg_advisory_xact_lock({int(key)})" for key in locks)]
        )
        for attempt in range(self._max_size + 1):
            conn = await self._acquire()
            try:
                await conn.execute(begin)
            except _LOST:
                _terminate(conn)
                await self._release(conn)
                if attempt == self._max_size:
                    raise
                continue
            except BaseException:
                # A lock not had (a deadlock, a cancelled wait): the pool's reset rolls back.
                await self._release(conn)
                raise
            return conn
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


# --- migrations ---------------------------------------------------------------------------
# The runner lives in forum/migrate.py (it imports nothing from here at run time); it is
# re-exported so `from forum.db import migrate` keeps working.

from forum.migrate import migrate as migrate  # noqa: E402
