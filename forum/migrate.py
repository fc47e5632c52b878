"""The migration runner: the numbered SQL files in migrations/, each applied once, in order, in a
transaction of its own, with the tables the realtime library defines (realtime/schema.py).

tests/test_schema.py checks that both dialects end with the same schema.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from realtime import schema as realtime_schema

if TYPE_CHECKING:  # forum.db re-exports migrate, so it is not imported from here at run time
    from forum.db import Connection, Database

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

# Code run in a migration's transaction, after its SQL: realtime owns the DDL of the event log,
# applied with the migration that first made those tables. 0001 was written before realtime
# owned them and creates them itself (it cannot change: existing databases recorded it), so
# here realtime's CREATE ... IF NOT EXISTS finds them made; tests/test_schema.py checks that
# what 0001 and 0004 leave is exactly what realtime defines.
AFTER_SQL: dict[int, Callable[[Connection], Awaitable[None]]] = {
    1: realtime_schema.create_tables,
}


def migration_files(dialect: str) -> list[tuple[int, str, Path]]:
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


def split_sqlite(script: str) -> list[str]:
    """A script as single statements: sqlite3 runs one statement per call."""
    statements, buffer = [], ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statements.append(buffer.strip())
            buffer = ""
    if buffer.strip():
        statements.append(buffer.strip())
    return statements


async def migrate(db: Database, *, target: int | None = None) -> list[int]:
    """Apply the migrations not yet recorded, each in its own transaction; return their numbers.
    `target`: stop after that version (tests of upgrades build an older database this way).

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
    for version, name, path in migration_files(db.dialect):
        if target is not None and version > target:
            break
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
                for statement in split_sqlite(script):
                    await conn.execute(statement)
            after = AFTER_SQL.get(version)
            if after is not None:
                await after(conn)
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
