"""One source of per-viewer HTML: a post that arrives live carries exactly the controls a
reload of the topic shows that viewer, the count under the title stays right, and review
cards come as each reviewer's rights draw them (forum/live.py: Presenter)."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import httpx

from forum.actions.drafts import Decision, PostEdit
from forum.actions.edits import do_edit_post
from forum.actions.moderation import do_flag_post, do_review
from forum.queries.review import find_item
from forum.queries.users import User
from tests.conftest import Arrange, ServerThread
from tests.test_live import Live, key_headers, live

ARTICLE = re.compile(r'<article class="post" id="post-(\d+)".*?</article>', re.S)


def article(html: str, number: int) -> str:
    found = {int(m.group(1)): m.group(0) for m in ARTICLE.finditer(html)}
    return found[number]


def controls(html: str) -> list[str]:
    """The controls under a post, by their visible words."""
    footer = re.search(r'<footer class="post-actions">(.*?)</footer>', html, re.S)
    if footer is None:
        return []
    links = re.findall(r"<a [^>]*>([^<]*)<span", footer.group(1))
    return [link.strip() for link in links]


async def page_as(server: ServerThread, path: str, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        response = await http.get(path, headers=headers)
        assert response.status_code == 200, response.text
        return response.text


async def next_post_event(c: Live, kind: str, number: int) -> dict[str, Any]:
    frame = await c.until(
        lambda f: f.get("kind") == kind and f["data"]["post_number"] == number, wait=10
    )
    return dict(frame["data"])


async def test_a_live_post_has_the_controls_a_reload_shows_each_viewer(
    server: ServerThread, arrange: Arrange, db: Any
) -> None:
    author = await arrange.user(name="author")
    member = await arrange.user(name="member")
    moderator = await arrange.user(role="moderator", name="mod")
    admin = await arrange.user(role="admin", name="admin")
    group = await arrange.group(members=(author, member))
    written = await arrange.topic(group, member, "Controls live", "The first post.")
    channel = f"topic:{written.topic_id}"
    viewers: dict[str, User | None] = {
        "anonymous": None,
        "author": author,
        "member": member,
        "moderator": moderator,
    }
    headers = {
        name: (await key_headers(db, user) if user else {}) for name, user in viewers.items()
    }
    sockets: dict[str, Live] = {}
    async with (
        live(server.base_url, headers["anonymous"]) as anonymous,
        live(server.base_url, headers["author"]) as author_socket,
        live(server.base_url, headers["member"]) as member_socket,
        live(server.base_url, headers["moderator"]) as moderator_socket,
    ):
        sockets = {
            "anonymous": anonymous,
            "author": author_socket,
            "member": member_socket,
            "moderator": moderator_socket,
        }
        for c in sockets.values():
            assert (await c.subscribe(channel))["type"] == "subscribed"
        reply = await arrange.reply(written.topic_id, author, "A reply that arrives *live*.")
        live_html = {
            name: (await next_post_event(c, "post.created", reply.post_number))["html"]
            for name, c in sockets.items()
        }
        assert controls(live_html["anonymous"]) == []
        assert controls(live_html["author"]) == ["Quote and reply", "Edit"]
        # The author's first post in the group: the others are asked to welcome them.
        assert controls(live_html["member"]) == ["Say welcome", "Quote and reply", "Flag"]
        assert controls(live_html["moderator"]) == [
            "Say welcome",
            "Quote and reply",
            "Edit",
            "Flag",
        ]
        # Exactly what a reload shows each of them: the same article, byte for byte.
        path = f"/t/controls-live/{written.topic_id}"
        for name in sockets:
            page = await page_as(server, path, headers[name])
            assert live_html[name] == article(page, reply.post_number), name

        # An edit keeps each viewer's controls too.
        await do_edit_post(arrange.forum, author, reply.post_id, PostEdit("Edited *live*.", 1))
        for name, c in sockets.items():
            edited = await next_post_event(c, "post.edited", reply.post_number)
            assert controls(edited["html"]) == controls(live_html[name]), name

    # A moderator never edits an administrator's post: live as on the page.
    by_admin = await arrange.reply(written.topic_id, admin, "An administrator replies.")
    async with live(server.base_url, headers["moderator"]) as c:
        await c.subscribe(channel, since=0)  # the replay comes before `subscribed`
        (data,) = [
            f["data"]
            for f in c.events(channel)
            if f["kind"] == "post.created" and f["data"]["post_number"] == by_admin.post_number
        ]
        assert controls(data["html"]) == ["Quote and reply", "Flag"]


async def test_the_post_count_under_the_title_stays_right(
    server: ServerThread, arrange: Arrange
) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Counted", "One.")
    async with live(server.base_url) as c:
        await c.subscribe(f"topic:{written.topic_id}")
        reply = await arrange.reply(written.topic_id, author, "Two.")
        data = await next_post_event(c, "post.created", reply.post_number)
    assert data["posts_label"] == "2 posts"
    page = await page_as(server, f"/t/counted/{written.topic_id}", {})
    assert "<span data-live-count>2 posts</span>" in page
    single = await arrange.topic(group, author, "Alone", "Only.")
    page = await page_as(server, f"/t/alone/{single.topic_id}", {})
    assert "<span data-live-count>1 post</span>" in page


async def test_concurrent_replies_each_carry_the_count_they_made(
    server: ServerThread, arrange: Arrange
) -> None:
    """The count is read under the topic's row lock: replies racing each other never both
    say the same number."""
    authors = [await arrange.user() for _ in range(5)]
    group = await arrange.group(members=tuple(authors))
    written = await arrange.topic(group, authors[0], "Racing replies", "One.")
    async with live(server.base_url) as c:
        await c.subscribe(f"topic:{written.topic_id}")
        await asyncio.gather(*(arrange.reply(written.topic_id, a, "A reply.") for a in authors))
        labels = [(await next_post_event(c, "post.created", n))["posts_label"] for n in range(2, 7)]
    assert labels == [f"{n} posts" for n in range(2, 7)]


async def test_review_cards_come_as_each_reviewer_may_act(
    server: ServerThread, arrange: Arrange, db: Any
) -> None:
    moderator = await arrange.user(role="moderator", name="mod")
    convener = await arrange.user(name="conv")
    flagger = await arrange.user(name="flagger")
    author = await arrange.user(name="author")
    group = await arrange.group(members=(author, flagger), conveners=(convener,))
    written = await arrange.topic(group, author, "To be flagged", "Something to look at.")
    async with (
        live(server.base_url, await key_headers(db, moderator)) as mod,
        live(server.base_url, await key_headers(db, convener)) as conv,
    ):
        for c in (mod, conv):
            assert (await c.subscribe("review"))["type"] == "subscribed"
        async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
            r = await http.post(
                f"/p/{written.post_id}/flag",
                data={"reason": "inappropriate"},
                headers=await key_headers(db, flagger),
            )
            assert r.status_code in (200, 303), r.text

        def is_card(f: dict[str, Any]) -> bool:
            return f.get("kind") == "review.changed" and f["data"]["group_id"] == group.id

        staff_card = (await mod.until(is_card))["data"]
        convener_card = (await conv.until(is_card))["data"]
    assert "html_conveners" not in staff_card and "html_conveners" not in convener_card
    assert 'value="suspend"' in staff_card["html"] and 'name="penalty"' in staff_card["html"]
    assert 'value="suspend"' not in convener_card["html"]
    assert 'name="penalty"' not in convener_card["html"]
    assert 'value="approve"' in convener_card["html"] or 'value="ignore"' in convener_card["html"]


# --- what the shaping must never bring back -----------------------------------------------


async def test_a_replay_after_a_post_is_hidden_never_carries_its_text(
    server: ServerThread, arrange: Arrange, db: Any
) -> None:
    """A copy shaped for a live viewer before the post was hidden is not what a later replay
    gets: the log's scrubbed event is."""
    author = await arrange.user(name="author")
    member = await arrange.user(name="member")
    other = await arrange.user(name="other")
    moderator = await arrange.user(role="moderator", name="mod")
    group = await arrange.group(members=(author, member, other))
    written = await arrange.topic(group, author, "Shaped then hidden", "The first post.")
    channel = f"topic:{written.topic_id}"
    async with live(server.base_url, await key_headers(db, member)) as c:
        await c.subscribe(channel)
        reply = await arrange.reply(written.topic_id, author, "Mrs Example's room number")
        await next_post_event(c, "post.created", reply.post_number)
    await do_flag_post(arrange.forum, moderator, reply.post_id, "inappropriate", "")
    async with live(server.base_url, await key_headers(db, other)) as c:
        await c.subscribe(channel, since=0)
        replayed = [
            f["data"]
            for f in c.events(channel)
            if f["data"].get("post_number") == reply.post_number
        ]
    assert replayed and not any("room number" in d["html"] for d in replayed)
    # The stored facts changed with the text: no "Quote and reply" on the hidden post.
    assert all("Quote and reply" not in d["html"] for d in replayed)


async def test_a_replay_of_a_resolved_card_never_carries_its_text(
    server: ServerThread, arrange: Arrange, db: Any
) -> None:
    moderator = await arrange.user(role="moderator", name="mod")
    convener = await arrange.user(name="conv")
    flagger = await arrange.user(name="flagger")
    author = await arrange.user(name="author")
    group = await arrange.group(members=(author, flagger), conveners=(convener,))
    written = await arrange.topic(group, author, "Card then resolved", "Words about Mr Example.")
    async with live(server.base_url, await key_headers(db, convener)) as c:
        await c.subscribe("review")
        await do_flag_post(arrange.forum, flagger, written.post_id, "inappropriate", "")
        await c.until(
            lambda f: f.get("kind") == "review.changed" and f["data"]["group_id"] == group.id
        )
    item = await find_item(db, "post", written.post_id)
    assert item is not None
    await do_review(arrange.forum, moderator, item.id, Decision("delete", item.version, "gone"))
    async with live(server.base_url, await key_headers(db, convener)) as c:
        await c.subscribe("review", since=0)
        cards = [f["data"] for f in c.events("review") if f["data"].get("item_id") == item.id]
    assert cards and not any("Mr Example" in d.get("html", "") for d in cards)


async def test_events_stored_before_facts_or_cards_per_role_are_safe(
    server: ServerThread, arrange: Arrange, db: Any
) -> None:
    """The log keeps a week of events: ones written before posts carried their facts (or
    with facts this code cannot read) get no controls; review cards written before cards
    per role reach conveners as a count change with no card, never the staff card."""
    member = await arrange.user(name="member")
    convener = await arrange.user(name="conv")
    group = await arrange.group(members=(member,), conveners=(convener,))
    written = await arrange.topic(group, member, "Old events", "First.")
    channel = f"topic:{written.topic_id}"
    article = '<article class="post" id="post-9"><p>old</p></article>'
    old_post = {"topic_id": written.topic_id, "group_id": group.id, "post_id": 1}
    old_post |= {"post_number": 9, "username": "x", "html": article}
    staff_card = {"item_id": 1, "group_id": group.id, "status": "pending", "version": 1}
    staff_card |= {"claimed_by": None, "html": '<li>staff card <button value="suspend">'}
    async with (
        live(server.base_url, await key_headers(db, member)) as reader,
        live(server.base_url, await key_headers(db, convener)) as conv,
    ):
        await reader.subscribe(channel)
        await conv.subscribe("review")
        async with db.transaction() as conn:
            # Written now, so no log trim takes them (and the channel's replay) away.
            events, now = arrange.forum.events, arrange.forum.now()
            await events.append(conn, channel, "post.created", old_post, now)
            bad = old_post | {"post_number": 10, "facts": {"author_id": "x"}}
            await events.append(conn, channel, "post.created", bad, now)
            await events.append(conn, "review", "review.changed", staff_card, now)
        first = await next_post_event(reader, "post.created", 9)
        second = await next_post_event(reader, "post.created", 10)
        card = (await conv.until(lambda f: f.get("kind") == "review.changed"))["data"]
    assert controls(first["html"]) == [] and controls(second["html"]) == []
    assert "html" not in card and "html_conveners" not in card
