"""The database layer: migrations, transactions, and the gapless per-channel event log."""

from __future__ import annotations

import asyncio

import pytest

from forum.db import Database, _to_numbered, migrate
from forum.errors import BadRequest
from realtime.log import append_sql as append_event
from realtime.log import head as channel_head
from realtime.log import read_after
from tests.conftest import unique


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
