"""Pace: per-user rate limits (stricter for new accounts, none for staff) and per-topic slow
mode, through the pages, the JSON API and the actions, on each database and across processes.

The session server runs with generous limits (tests/conftest.py); `paced` is a second server
on the same database with limits near production's, so no test here waits for a window.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from typing import Any, cast

import httpx
import pytest
import pytest_asyncio

from forum.actions import posts
from forum.actions.accounts import do_create_api_key
from forum.db import Database
from forum.errors import RateLimited
from forum.pace import SLOW_MODE_CHOICES, check_pace, duration, every, trim_pace
from forum.permissions import is_new_account
from forum.queries.users import User
from forum.settings import Settings
from tests.conftest import (
    Arrange,
    Client,
    ServerThread,
    advance_clock,
    forum_over,
    forum_serve,
    settings_for,
)

# Near production's shape, but with intervals long enough that no test outruns them.
PACED = {
    "post_interval_seconds": 60,
    "new_post_interval_seconds": 120,
    "edit_interval_seconds": 60,
}


@pytest.fixture(scope="module")
def paced(database_url: str, server: ServerThread) -> Iterator[ServerThread]:
    thread = ServerThread(settings_for(database_url, **PACED))
    thread.start()
    yield thread
    thread.stop()


@pytest_asyncio.fixture
async def paced_client(paced: ServerThread) -> AsyncIterator[Any]:
    made: list[httpx.AsyncClient] = []

    def make() -> Client:
        http = httpx.AsyncClient(base_url=paced.base_url, timeout=15)
        made.append(http)
        return Client(http)

    yield make
    await asyncio.gather(*(h.aclose() for h in made))


def acting(arrange: Arrange, **limits: int) -> Arrange:
    """The same arranger, with its actions run under these pace settings."""
    settings = replace(arrange.settings, **cast(dict[str, Any], limits))
    return Arrange(replace(arrange.forum, settings=settings))


async def key_headers(db: Database, user: User) -> dict[str, str]:
    return {
        "Api-Key": await do_create_api_key(forum_over(db), user.username),
        "Api-Username": user.username,
    }


async def count_posts(db: Database, topic_id: int) -> int:
    return int(
        await db.fetch_val("SELECT count(*) FROM posts WHERE topic_id = :t", {"t": topic_id})
    )


async def count_pace(db: Database, user: User, action: str) -> int:
    return int(
        await db.fetch_val(
            "SELECT count(*) FROM pace_events WHERE user_id = :u AND action = :a",
            {"u": user.id, "a": action},
        )
    )


def textarea(page: str) -> str:
    found = re.search(r'<textarea id="raw" name="raw"[^>]*>(.*?)</textarea>', page, re.S)
    assert found, "a composer"
    return html.unescape(found.group(1))


# --- limits per user --------------------------------------------------------------------------


async def test_a_second_reply_too_soon_keeps_the_text_and_says_when(
    paced_client, arrange, db
) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Quick replies", "first")
    c = paced_client()
    await c.login(author)
    r = await c.post_form(f"/t/{written.topic_id}/reply", {"raw": "One reply."})
    assert r.status_code == 303, r.text
    typed = "Second thoughts: <b>walking</b> & breathing."
    r = await c.post_form(f"/t/{written.topic_id}/reply", {"raw": typed})
    assert r.status_code == 429
    assert "You are posting quickly. You can post again in" in r.text
    assert re.search(r"You can post again in (\d+ seconds|1 minute)\.", r.text), r.text
    assert textarea(r.text) == typed  # nothing the author wrote is lost
    assert 'role="alert"' in r.text
    assert await count_posts(db, written.topic_id) == 2


async def test_the_api_answers_429_with_wait_seconds_and_writes_nothing(paced, arrange, db) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "API pace", "first")
    headers = await key_headers(db, author)
    async with httpx.AsyncClient(base_url=paced.base_url, headers=headers) as http:
        first = await http.post("/posts.json", json={"topic_id": written.topic_id, "raw": "a"})
        assert first.status_code == 200, first.text
        second = await http.post("/posts.json", json={"topic_id": written.topic_id, "raw": "b"})
    assert second.status_code == 429
    assert second.headers["content-type"] == "application/json; charset=utf-8"
    body = second.json()
    wait = body["extras"]["wait_seconds"]
    assert isinstance(wait, int) and 1 <= wait <= 60
    assert second.headers["retry-after"] == str(wait)
    assert body["errors"] == [f"You are posting quickly. You can post again in {duration(wait)}."]
    assert await count_posts(db, written.topic_id) == 2
    assert await count_pace(db, author, "post") == 1  # the refused attempt is not counted


async def test_new_accounts_meet_the_stricter_limits(arrange) -> None:
    act = acting(arrange, post_interval_seconds=0, new_post_interval_seconds=60)
    owner = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, owner, "Welcome", "Say hello.")
    newcomer, regular = await act.user(new=True), await act.user()
    await act.reply(written.topic_id, newcomer, "Hello, I am new here.")
    with pytest.raises(RateLimited) as caught:
        await act.reply(written.topic_id, newcomer, "And a second hello.")
    assert caught.value.messages == [
        "You are posting quickly. While your account is new, that is once every minute."
        f" You can post again in {duration(caught.value.wait_seconds or 0)}."
    ]
    for n in range(3):
        await act.reply(written.topic_id, regular, f"Regular reply {n}.")


async def test_new_accounts_start_fewer_topics_a_day(arrange) -> None:
    act = acting(arrange, topic_interval_seconds=0, new_topics_per_day=2, topics_per_day=5)
    group = await arrange.group()
    newcomer, regular = await act.user(new=True), await act.user()
    for n in range(2):
        await act.topic(group, newcomer, f"New person's topic {n}")
    with pytest.raises(RateLimited) as caught:
        await act.topic(group, newcomer, "One too many")
    message = caught.value.messages[0]
    assert message.startswith("While your account is new, the limit is 2 new topics a day.")
    assert message.endswith("You can start another topic in 24 hours.")  # rounded up
    for n in range(5):
        await act.topic(group, regular, f"Regular topic {n}")
    with pytest.raises(
        RateLimited, match=re.escape("You have reached the limit of 5 new topics a day.")
    ):
        await act.topic(group, regular, "Sixth")


def test_an_account_is_new_until_it_has_approved_posts_and_a_day() -> None:
    settings, now = Settings(new_account_posts=3, new_account_hours=24), 1_000_000.0

    def user(approved: int, age_hours: float) -> User:
        return User(
            id=1,
            username="u",
            email="u@example.org",
            role="member",
            badge="patient",
            created_at=now - age_hours * 3600,
            approved_posts=approved,
        )

    assert is_new_account(user(0, 100), now, settings)
    assert is_new_account(user(2, 100), now, settings)
    assert is_new_account(user(50, 23.9), now, settings)
    assert not is_new_account(user(3, 24), now, settings)


async def test_staff_are_exempt_from_limits_and_slow_mode(arrange, db) -> None:
    act = acting(arrange, post_interval_seconds=60, new_post_interval_seconds=60)
    mod = await act.user(role="moderator", new=True)
    group = await arrange.group()
    written = await arrange.topic(group, mod, "Staff pace", "first")
    await posts.do_set_slow_mode(arrange.forum, mod, written.topic_id, 3600)
    for n in range(3):
        await act.reply(written.topic_id, mod, f"Moderator note {n}.")
    assert await count_pace(db, mod, "post") == 0


async def test_edits_are_limited_and_the_edit_is_kept(paced_client, arrange, db) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Edit pace", "version one")
    c = paced_client()
    await c.login(author)
    r = await c.post_form(f"/p/{written.post_id}/edit", {"raw": "version two", "version": "1"})
    assert r.status_code == 303, r.text
    r = await c.post_form(f"/p/{written.post_id}/edit", {"raw": "version three", "version": "2"})
    assert r.status_code == 429 and "You are editing quickly. You can edit again in" in r.text
    assert textarea(r.text) == "version three"
    raw = await db.fetch_val("SELECT raw FROM posts WHERE id = :id", {"id": written.post_id})
    assert raw == "version two"


async def test_a_limit_lifts_when_its_window_has_passed(arrange) -> None:
    act = acting(arrange, post_interval_seconds=1)
    author = await act.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Window", "first")
    await act.reply(written.topic_id, author, "one")
    with pytest.raises(RateLimited) as caught:
        await act.reply(written.topic_id, author, "two")
    assert caught.value.wait_seconds == 1
    advance_clock(arrange.forum, 1.05)  # the window passes: no test sleeps through one
    await act.reply(written.topic_id, author, "two, a moment later")


async def test_concurrent_posts_by_one_user_cannot_both_pass(arrange) -> None:
    act = acting(arrange, post_interval_seconds=60)
    author = await act.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Racing", "first")
    results = await asyncio.gather(
        *(act.reply(written.topic_id, author, f"racer {n}") for n in range(6)),
        return_exceptions=True,
    )
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(refused) == 5, results


async def test_limits_are_shared_by_processes_on_one_database(paced, arrange, db) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Two nodes", "first")
    headers = await key_headers(db, author)
    reply = {"topic_id": written.topic_id, "raw": "from a node"}
    with forum_serve(paced.settings.database_url) as other:
        async with httpx.AsyncClient(headers=headers, timeout=15) as http:
            # At the same moment on two processes: exactly one may pass.
            both = await asyncio.gather(
                http.post(f"{other}/posts.json", json=reply),
                http.post(f"{paced.base_url}/posts.json", json=reply),
            )
            assert sorted(r.status_code for r in both) == [200, 429], [r.text for r in both]
            # And each process sees what the other counted.
            for base in (other, paced.base_url):
                again = await http.post(f"{base}/posts.json", json=reply)
                assert again.status_code == 429 and again.json()["extras"]["wait_seconds"] >= 1
    assert await count_posts(db, written.topic_id) == 2


async def test_old_pace_records_are_trimmed(arrange, db) -> None:
    user = await arrange.user()
    now = time.time()
    for at in (now - 2 * 86400, now - 10):
        await db.execute(
            "INSERT INTO pace_events (user_id, action, created_at) VALUES (:u, 'flag', :at)",
            {"u": user.id, "at": at},
        )
    await trim_pace(db, now - 86400)
    assert await count_pace(db, user, "flag") == 1


async def test_flags_are_counted_per_hour(arrange, db) -> None:
    settings = replace(arrange.settings, flags_per_hour=2, new_flags_per_hour=1)
    regular, newcomer = await arrange.user(), await arrange.user(new=True)
    for user, allowed in ((regular, 2), (newcomer, 1)):
        now = time.time()
        for _ in range(allowed):
            async with db.transaction() as conn:
                await check_pace(conn, settings, user, "flag", now)
        with pytest.raises(RateLimited, match=re.escape(" an hour. You can flag again in 1 hour.")):
            async with db.transaction() as conn:
                await check_pace(conn, settings, user, "flag", now)


def test_waits_read_plainly() -> None:
    assert duration(1) == "1 second"
    assert duration(25) == "25 seconds"
    assert duration(65) == "1 minute 5 seconds"
    assert duration(120) == "2 minutes"
    assert duration(3725) == "1 hour 3 minutes"  # rounded up, never less than the real wait
    assert [every(s) for s in (30, 60, 120, 3600)] == ["30 seconds", "minute", "2 minutes", "hour"]


# --- slow mode --------------------------------------------------------------------------------


async def slow_topic(arrange: Arrange, seconds: int = 30) -> tuple[Any, User, User, int]:
    convener, member = await arrange.user(), await arrange.user()
    group = await arrange.group(members=(member,), conveners=(convener,))
    written = await arrange.topic(group, convener, "Heated debate", "Let us be kind.")
    if seconds:
        await posts.do_set_slow_mode(arrange.forum, convener, written.topic_id, seconds)
    return group, convener, member, written.topic_id


async def test_a_convener_sets_slow_mode_from_the_topic_page(client, arrange, db) -> None:
    group, convener, _, topic_id = await slow_topic(arrange, seconds=0)
    c = client()
    await c.login(convener)
    page = (await c.get(f"/t/heated-debate/{topic_id}")).text
    assert '<label for="slow-mode-seconds">' in page and 'id="slow-mode-seconds"' in page
    options = re.findall(r'<option value="(\d+)"[^>]*>([^<]+)</option>', page)
    assert [(int(v), label) for v, label in options] == SLOW_MODE_CHOICES
    assert "Slow mode: one post" not in page
    r = await c.post_form(f"/t/{topic_id}/slow-mode", {"seconds": "30"})
    assert r.status_code == 303
    for viewer in (c, client()):  # everyone sees the notice, signed in or not
        page = (await viewer.get(f"/t/heated-debate/{topic_id}")).text
        assert "Slow mode: one post every 30 seconds per person." in page
    assert '<option value="30" selected>' in (await c.get(f"/t/heated-debate/{topic_id}")).text
    audit = await db.fetch_one(
        "SELECT actor_id, action, group_id, note FROM moderator_actions WHERE topic_id = :t",
        {"t": topic_id},
    )
    assert audit == {
        "actor_id": convener.id,
        "action": "slow_mode",
        "group_id": group.id,
        "note": "30 seconds",
    }
    assert (await c.post_form(f"/t/{topic_id}/slow-mode", {"seconds": "0"})).status_code == 303
    page = (await c.get(f"/t/heated-debate/{topic_id}")).text
    assert "Slow mode: one post" not in page


async def test_slow_mode_is_refused_to_members_bad_values_and_forged_forms(
    client, arrange, db
) -> None:
    _, convener, member, topic_id = await slow_topic(arrange, seconds=0)
    m, c = client(), client()
    await m.login(member)
    await c.login(convener)
    r = await m.post_form(f"/t/{topic_id}/slow-mode", {"seconds": "30"})
    assert r.status_code == 403
    assert 'id="slow-mode-seconds"' not in (await m.get(f"/t/heated-debate/{topic_id}")).text
    for value in ("45", "", "ten", "-10", "9" * 5000):
        r = await c.post_form(f"/t/{topic_id}/slow-mode", {"seconds": value})
        assert r.status_code == 400, value
    r = await c.post_form(f"/t/{topic_id}/slow-mode", {"seconds": "30"}, csrf=False)
    assert r.status_code == 403
    seconds = await db.fetch_val(
        "SELECT slow_mode_seconds FROM topics WHERE id = :t", {"t": topic_id}
    )
    assert seconds == 0


async def test_posts_inside_the_slow_window_are_refused(client, arrange, db) -> None:
    _, convener, member, topic_id = await slow_topic(arrange, seconds=120)
    m = client()
    await m.login(member)
    assert (await m.post_form(f"/t/{topic_id}/reply", {"raw": "My view."})).status_code == 303
    r = await m.post_form(f"/t/{topic_id}/reply", {"raw": "And another thing."})
    assert r.status_code == 429
    found = re.search(
        r"This topic is in slow mode: one post every 2 minutes\. You can post again in"
        r" (1 minute (\d+ seconds)?|2 minutes)\.",
        r.text,
    )
    assert found, r.text
    assert textarea(r.text) == "And another thing."
    # Conveners moderate the group, staff moderate everything: neither waits.
    mod = await arrange.user(role="moderator")
    for exempt in (convener, mod):
        for n in range(2):
            await arrange.reply(topic_id, exempt, f"Moderating {n}.")
    assert await count_posts(db, topic_id) == 6


async def test_slow_mode_counts_posts_waiting_for_review(arrange, db) -> None:
    group, _, member, topic_id = await slow_topic(arrange, seconds=60)
    now = arrange.forum.now()  # the server's clock, which other tests move on
    await db.execute(
        "INSERT INTO review_items (kind, group_id, topic_id, author_id, raw, created_at,"
        " updated_at) VALUES ('queued', :g, :t, :u, 'held back', :now, :now)",
        {"g": group.id, "t": topic_id, "u": member.id, "now": now},
    )
    with pytest.raises(RateLimited, match="slow mode: one post every minute"):
        await arrange.reply(topic_id, member, "Where did my post go?")
