"""Cheap checks before costly work: who you are, the size of the text as received, the right
to write there and the pace all come before markdown and the identifiable-data scan, which
run off the event loop for long texts. Markdown nested deeper than can be shown is refused
with a clear message. SQLite and PostgreSQL (the `database_url` fixture).

The costly steps are watched by wrapping them in this process (the test server runs in it):
what matters to a user is that a refused request costs nothing, which no timing can show
reliably on a shared machine (bench/pages.py measures the speed)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

import forum.actions.posts
import forum.views.preview
from forum import content, moderation
from tests.conftest import logged_in
from tests.test_live import key_headers
from tests.test_moderation import pending_items, setup_topic

PATHOLOGICAL = "![" * 16_000  # 32,000 characters that markdown-it-py finds costly
# Short enough to be cooked on the loop, inside the write's transaction (forum/content/
# offload.py): checked there first, so a refused writer costs no markdown either.
SHORT_COSTLY = "![" * 900


@pytest.fixture
def costly(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Names of the threads the costly steps ran on, one entry per call."""
    calls: list[str] = []
    # The functions the actions and the preview look up by these names.
    real_cook, real_privacy, real_preview_cook = content.cook, moderation.privacy_hold, content.cook

    def watched(real: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            calls.append(threading.current_thread().name)
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(forum.actions.posts, "cook", watched(real_cook))
    monkeypatch.setattr(forum.actions.posts, "privacy_hold", watched(real_privacy))
    monkeypatch.setattr(forum.views.preview, "cook", watched(real_preview_cook))
    yield calls


async def test_an_anonymous_pathological_post_is_refused_before_any_markdown(
    client, arrange, costly
) -> None:
    _, group, written = await setup_topic(arrange)
    costly.clear()
    anon = client()
    await anon.get("/login")  # a visitor's own CSRF token: the check that follows is who
    csrf = {"X-CSRF-Token": anon.csrf}
    for body in (
        {"topic_id": written.topic_id, "raw": PATHOLOGICAL},
        {"category": group.id, "title": "x", "raw": PATHOLOGICAL},
    ):
        r = await anon.http.post("/posts.json", json=body, headers=csrf)
        assert r.status_code == 403 and "log in" in r.json()["errors"][0]
    r = await anon.http.post("/preview", json={"raw": PATHOLOGICAL}, headers=csrf)
    assert r.status_code == 403
    assert costly == []


@pytest.mark.parametrize("text", [PATHOLOGICAL, SHORT_COSTLY], ids=["long", "short"])
async def test_refused_writers_cost_no_markdown(client, arrange, db, costly, text) -> None:
    author, _, written = await setup_topic(arrange)
    outsider, silenced = await arrange.user(), await arrange.user()
    private = await arrange.group("private", members=(author,))
    hidden = await arrange.topic(private, author, "Members only", "x")
    costly.clear()
    await db.execute(
        "UPDATE users SET silenced_until = :t WHERE id = :i",
        {"t": time.time() + 3600, "i": silenced.id},
    )
    o, s = await logged_in(client, outsider), await logged_in(client, silenced)
    # Not theirs to read, not theirs to edit, paused by a moderator, or far too long.
    r = await o.post_form(f"/t/{hidden.topic_id}/reply", {"raw": text})
    assert r.status_code == 404
    r = await o.post_form(f"/p/{written.post_id}/edit", {"raw": text, "version": 1})
    assert r.status_code == 403
    r = await s.post_form(f"/t/{written.topic_id}/reply", {"raw": text})
    assert r.status_code == 403 and "paused" in r.text
    r = await o.post_form(f"/t/{written.topic_id}/reply", {"raw": PATHOLOGICAL + "!!"})
    assert r.status_code == 400 and "the most is 32,000" in r.text
    assert costly == []
    assert await pending_items(db, author_id=outsider.id) == []


@pytest.mark.parametrize("text", [PATHOLOGICAL, SHORT_COSTLY], ids=["long", "short"])
async def test_a_writer_over_their_pace_costs_no_markdown(fresh, costly, text) -> None:
    made = await fresh(post_interval_seconds=300)
    _, _, written = await setup_topic(made.arrange)
    writer = await made.arrange.user()
    async with httpx.AsyncClient(base_url=made.server.base_url) as http:
        headers = await key_headers(made.db, writer)
        r = await http.post(
            "/posts.json", headers=headers, json={"topic_id": written.topic_id, "raw": "first"}
        )
        assert r.status_code == 200
        costly.clear()
        r = await http.post(
            "/posts.json",
            headers=headers,
            json={"topic_id": written.topic_id, "raw": text},
        )
        assert r.status_code == 429 and r.json()["extras"]["wait_seconds"] > 0
    assert costly == []


async def test_the_length_limit_applies_to_the_text_as_sent(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    a = await logged_in(client, author)
    padded = "Hello." + " " * 250_000  # stripped, it would be six characters
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": padded})
    assert r.status_code == 400 and "250,006 characters long; the most is 32,000" in r.text
    async with httpx.AsyncClient(base_url=a.http.base_url) as http:
        r = await http.post(
            "/posts.json",
            headers=await key_headers(db, author),
            json={"topic_id": written.topic_id, "raw": "\n" * 40_000 + "Hi"},
        )
        assert r.status_code == 400
    count = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 1


async def test_long_texts_are_cooked_off_the_event_loop(client, arrange, costly) -> None:
    author, _, written = await setup_topic(arrange)
    a = await logged_in(client, author)
    costly.clear()
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": "A short reply."})
    assert r.status_code == 303
    short = set(costly)
    costly.clear()
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": "A long reply. " * 400})
    assert r.status_code == 303
    assert costly and all(name.startswith("forum-content") for name in costly)
    assert not any(name.startswith("forum-content") for name in short)  # no hop for a little
    costly.clear()
    r = await a.post_form("/preview", {"raw": "A long preview. " * 400})
    assert r.status_code == 200
    assert costly and all(name.startswith("forum-content") for name in costly)


@pytest.mark.parametrize("raw", ["> " * 16 + "the last words", "- " * 8 + "the last words"])
async def test_markdown_nested_too_deep_is_refused_with_a_reason(
    client, arrange, db, raw: str
) -> None:
    author, group, written = await setup_topic(arrange)
    a = await logged_in(client, author)
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": raw})
    assert r.status_code == 400 and "nested too deeply" in r.text
    assert "the last words" in r.text  # kept in the composer to fix
    r = await a.post_form(f"/g/{group.slug}/new-topic", {"title": "Deep", "raw": raw})
    assert r.status_code == 400 and "nested too deeply" in r.text
    r = await a.post_form(f"/p/{written.post_id}/edit", {"raw": raw, "version": 1})
    assert r.status_code == 400 and "nested too deeply" in r.text
    r = await a.http.post("/preview", json={"raw": raw}, headers={"X-CSRF-Token": a.csrf})
    assert r.status_code == 400 and "nested too deeply" in r.json()["errors"][0]
    async with httpx.AsyncClient(base_url=a.http.base_url) as http:
        r = await http.post(
            "/posts.json",
            headers=await key_headers(db, author),
            json={"topic_id": written.topic_id, "raw": raw},
        )
    assert r.status_code == 400 and "nested too deeply" in r.json()["errors"][0]
    count = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 1
