"""Faults, with real databases: one that cannot be reached or written answers 503 with
Retry-After (never a bare 500), pages come back by themselves after PostgreSQL drops its
connections, a write sent twice with one idempotency key is made once, and a server started
on a read-only database says so and stops. SQLite and PostgreSQL (`database_url`)."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from forum.app import opened_forum
from tests.conftest import (
    PG_ADMIN_URL,
    ROOT,
    Arrange,
    Fresh,
    ServerThread,
    create_pg_database,
    drop_pg_database,
    free_port,
    settings_for,
    unavailable,
)
from tests.test_live import key_headers, live
from tests.test_moderation import pending_items


async def pg_admin() -> Any:
    return await asyncpg.connect(PG_ADMIN_URL)


async def drop_connections(admin: Any, name: str) -> None:
    await admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        " WHERE datname = $1 AND pid <> pg_backend_pid()",
        name,
    )


async def topic_world(made: Any) -> tuple[Any, Any]:
    author = await made.arrange.user()
    group = await made.arrange.group()
    return author, await made.arrange.topic(group, author, "Faults", "first")


async def test_a_database_that_cannot_be_reached_answers_503_then_recovers(
    fresh, database_url: str
) -> None:
    made = await fresh(sqlite_busy_ms=200)
    author, written = await topic_world(made)
    headers = await key_headers(made.db, author)
    body = {"topic_id": written.topic_id, "raw": "Posted during the fault."}
    url = made.server.settings.database_url
    async with httpx.AsyncClient(base_url=made.server.base_url, timeout=30) as http:
        if url.startswith("sqlite"):
            # Another process holds the write lock longer than the server will wait.
            holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            try:
                r = await http.post("/posts.json", headers=headers, json=body)
                assert r.status_code == 503
                assert r.json()["extras"]["wait_seconds"] > 0 and int(r.headers["retry-after"])
                assert "try again" in r.json()["errors"][0]
            finally:
                holder.execute("ROLLBACK")
                holder.close()
        else:
            name = url.rsplit("/", 1)[1]
            admin = await pg_admin()
            try:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
                await drop_connections(admin, name)
                r = await http.post("/posts.json", headers=headers, json=body)
                assert r.status_code == 503 and int(r.headers["retry-after"]) > 0
                assert r.json()["errors"] and r.json()["extras"]["wait_seconds"] > 0
                page = await http.get(f"/t/{written.topic_id}", follow_redirects=True)
                assert page.status_code == 503 and "try again" in page.text
                assert page.headers["content-type"].startswith("text/html")
            finally:
                await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
                await admin.close()
        r = await http.post("/posts.json", headers=headers, json=body)
        assert r.status_code == 200 and r.json()["post_number"] == 2
        page = await http.get(f"/t/{written.topic_id}", follow_redirects=True)
        assert page.status_code == 200 and "Posted during the fault." in page.text


@pytest.fixture
async def on_postgresql(fresh: Any, database_url: str) -> Any:
    """A fresh server on PostgreSQL, whichever database the rest of the run is on: the fault
    below (connections dropped, as by a restart) exists only there."""
    if database_url.startswith("postgresql"):
        yield await fresh()
        return
    url = await create_pg_database()
    thread = ServerThread(settings_for(url))
    thread.start()
    try:
        async with opened_forum(thread.settings, thread.clock) as forum:
            yield Fresh(thread, forum.db, Arrange(forum))
    finally:
        thread.stop()
        await drop_pg_database(url)


async def test_pages_and_live_channels_come_back_after_postgresql_drops_connections(
    on_postgresql: Any,
) -> None:
    made = on_postgresql
    author, written = await topic_world(made)
    name = made.server.settings.database_url.rsplit("/", 1)[1]
    admin = await pg_admin()
    try:
        async with httpx.AsyncClient(base_url=made.server.base_url, timeout=30) as http:
            for _ in range(3):  # every pooled connection is dead after each of these
                await drop_connections(admin, name)
                page = await http.get(f"/t/{written.topic_id}", follow_redirects=True)
                assert page.status_code == 200
                r = await http.post(
                    "/posts.json",
                    headers=await key_headers(made.db, author),
                    json={"topic_id": written.topic_id, "raw": "After a restart."},
                )
                assert r.status_code == 200
        await drop_connections(admin, name)
        async with live(made.server.base_url) as c:
            channel = f"topic:{written.topic_id}"
            assert (await c.subscribe(channel))["type"] in ("subscribed", "error")
            reply = await c.subscribe(channel)
            assert reply["type"] == "subscribed"
            await made.arrange.reply(written.topic_id, author, "live after the restart")
            frame = await c.until(lambda f: f["type"] == "event", wait=15)
            assert "live after the restart" in frame["data"]["html"]
    finally:
        await admin.close()


async def test_a_post_sent_twice_with_one_key_is_made_once(fresh) -> None:
    made = await fresh()
    author, written = await topic_world(made)
    headers = await key_headers(made.db, author) | {"Idempotency-Key": "retry-1234"}
    body = {"topic_id": written.topic_id, "raw": "Only once, please."}
    async with httpx.AsyncClient(base_url=made.server.base_url, timeout=30) as http:
        first = await http.post("/posts.json", headers=headers, json=body)
        again = await http.post("/posts.json", headers=headers, json=body)
        assert first.status_code == again.status_code == 200
        assert first.json()["id"] == again.json()["id"]
        # Racing copies (a client that gave up waiting and sent again at once).
        racing = await asyncio.gather(
            *(
                http.post(
                    "/posts.json",
                    headers=headers | {"Idempotency-Key": "race-5678"},
                    json={"topic_id": written.topic_id, "raw": "Raced."},
                )
                for _ in range(5)
            )
        )
        assert {r.status_code for r in racing} == {200}
        assert len({r.json()["id"] for r in racing}) == 1
        other = await http.post(
            "/posts.json", headers=headers | {"Idempotency-Key": "another"}, json=body
        )
        assert other.json()["id"] != first.json()["id"]
        bad = await http.post(
            "/posts.json", headers=headers | {"Idempotency-Key": "has spaces"}, json=body
        )
        assert bad.status_code == 400 and "idempotency key" in bad.json()["errors"][0]
    count = await made.db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 4  # the first post, "Only once", "Raced", "another"


async def test_the_composer_posts_once_however_often_it_is_sent(fresh) -> None:
    made = await fresh()
    author, written = await topic_world(made)
    newcomer = await made.arrange.user(new=True)
    from tests.conftest import Client

    for who, expect_held in ((author, False), (newcomer, True)):
        c = Client(httpx.AsyncClient(base_url=made.server.base_url, timeout=30))
        await c.login(who)
        page = await c.get(f"/t/{written.topic_id}", follow_redirects=True)
        key = page.text.split('name="idempotency_key" value="')[1].split('"')[0]
        form = {"raw": f"Double click from {who.username}", "idempotency_key": key}
        first = await c.post_form(f"/t/{written.topic_id}/reply", form)
        second = await c.post_form(f"/t/{written.topic_id}/reply", form)
        assert first.status_code == second.status_code == 303
        assert first.headers["location"] == second.headers["location"]
        assert ("/my/review" in first.headers["location"]) == expect_held
        await c.http.aclose()
    count = await made.db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 2
    assert len(await pending_items(made.db, author_id=newcomer.id)) == 1


async def run(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    def run_it() -> subprocess.CompletedProcess[str]:
        return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, **kwargs)

    return await asyncio.to_thread(run_it)


def migrate_command(url: str) -> list[str]:
    return [sys.executable, "-m", "forum", "migrate", "--db", url]


MIGRATE_ENV = os.environ | {"FORUM_SECRET_KEY": "ro-test"}


def serve_until_exit(db_url: str, wrapper: list[str] | None = None) -> tuple[int, str]:
    """Start `forum serve` and wait for it to stop by itself; (exit code, what it printed)."""
    command = [sys.executable, "-m", "forum", "serve", "--port", str(free_port())]
    env = os.environ | {"FORUM_DATABASE_URL": db_url, "FORUM_SECRET_KEY": "ro-test"}
    done = subprocess.run(
        (wrapper or []) + command,
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, done.stdout + done.stderr


async def test_a_server_on_a_read_only_database_says_so_and_stops(
    database_url: str, tmp_path: Path
) -> None:
    if database_url.startswith("sqlite"):
        folder = tmp_path / "ro"
        folder.mkdir()
        url = f"sqlite:///{folder / 'forum.db'}"
        await run(migrate_command(url), check=True, env=MIGRATE_ENV)
        # A read-only mount of the folder, as a full or read-only volume would be.
        script = f'mount --bind "{folder}" "{folder}" && mount -o remount,bind,ro "{folder}"'
        probe = await run(["unshare", "-m", "sh", "-c", script])
        if probe.returncode != 0:
            unavailable(f"a read-only mount (unshare -m): {probe.stderr[:200]}")
        wrapper = ["unshare", "-m", "sh", "-c", script + ' && exec "$0" "$@"']
        code, output = await asyncio.to_thread(serve_until_exit, url, wrapper)
    else:
        url = await create_pg_database()
        try:
            await run(migrate_command(url), check=True, env=MIGRATE_ENV)
            admin = await pg_admin()
            name = url.rsplit("/", 1)[1]
            await admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            await admin.close()
            code, output = await asyncio.to_thread(serve_until_exit, url)
            assert "accepts no writes" in output
        finally:
            await drop_pg_database(url)
    assert code != 0
    assert "It is not starting." in output
    assert "Application startup complete" not in output


async def test_one_key_with_different_content_is_a_new_post_and_replays_check_access(
    fresh,
) -> None:
    made = await fresh()
    author = await made.arrange.user()
    member = await made.arrange.user()
    private = await made.arrange.group("private", members=(author, member))
    written = await made.arrange.topic(private, author, "Members", "first")
    headers = await key_headers(made.db, member) | {"Idempotency-Key": "back-button"}
    async with httpx.AsyncClient(base_url=made.server.base_url, timeout=30) as http:
        one = await http.post(
            "/posts.json", headers=headers, json={"topic_id": written.topic_id, "raw": "One."}
        )
        two = await http.post(
            "/posts.json", headers=headers, json={"topic_id": written.topic_id, "raw": "Two."}
        )
        assert one.status_code == two.status_code == 200
        assert one.json()["id"] != two.json()["id"]  # a form restored with an old key
        await made.db.execute(
            "DELETE FROM memberships WHERE user_id = :u", {"u": member.id}
        )  # they leave the private group
        again = await http.post(
            "/posts.json", headers=headers, json={"topic_id": written.topic_id, "raw": "One."}
        )
        assert again.status_code == 404  # what it made is no longer theirs to read
