"""The tables of the event log (realtime/log.py), as DDL for each dialect: realtime owns them.

An application using realtime alone calls `create_tables(conn)` once (at start-up is fine: every
statement is IF NOT EXISTS); the forum's migrations apply the same statements (forum/migrate.py),
and tests/test_schema.py checks that the tables a migrated forum has are exactly these.
"""

from __future__ import annotations

from typing import Protocol


class DdlConnection(Protocol):
    """All `create_tables` needs: forum.db's Connection has it, and so can a thin wrapper."""

    dialect: str

    async def execute(self, sql: str, /) -> object: ...


# The DDL is written out per dialect rather than generated: it is short, and a reader should see
# exactly what each database is given.
#
# channel_heads: one row per channel, the last id handed out. An append locks the row until
# commit, so ids commit in id order; trimming never deletes it, so ids never restart.
#
# events: `seq` is the order rows were written in. On SQLite there is one writer at a time, so
# it is also commit order, which the SQLite poller relies on; AUTOINCREMENT keeps it from going
# back after a trim empties the table (an identity never goes back on PostgreSQL). `payload`
# is the event's data as a JSON object; `created_at` is seconds since the epoch.
_SQLITE = (
    """CREATE TABLE IF NOT EXISTS channel_heads (
    channel TEXT NOT NULL PRIMARY KEY,
    last_id INTEGER NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    channel TEXT NOT NULL,
    id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at REAL NOT NULL,
    UNIQUE (channel, id)
)""",
    # Trimming deletes by age.
    "CREATE INDEX IF NOT EXISTS events_created ON events (created_at)",
)

_POSTGRESQL = (
    """CREATE TABLE IF NOT EXISTS channel_heads (
    channel TEXT PRIMARY KEY,
    last_id BIGINT NOT NULL
)""",
    """CREATE TABLE IF NOT EXISTS events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    channel TEXT NOT NULL,
    id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    UNIQUE (channel, id)
)""",
    "CREATE INDEX IF NOT EXISTS events_created ON events (created_at)",
)

DDL: dict[str, tuple[str, ...]] = {"sqlite": _SQLITE, "postgresql": _POSTGRESQL}

TABLES = ("channel_heads", "events")


def ddl(dialect: str) -> list[str]:
    """The statements that create the event log's tables and index on `dialect`, in order."""
    statements = DDL.get(dialect)
    if statements is None:
        raise ValueError(f"no event log for the {dialect!r} dialect: use one of {sorted(DDL)}")
    return list(statements)


async def create_tables(conn: DdlConnection) -> None:
    """Create the event log's tables and index where they do not exist yet; calling it again
    changes nothing. Run it inside a transaction to have all of it or none."""
    for statement in ddl(conn.dialect):
        await conn.execute(statement)
