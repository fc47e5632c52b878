"""Topics and posts through the pages: start, reply, quote, edit with history, and bad input."""

from __future__ import annotations

import re

import pytest

from forum.actions.posts import do_set_topic_status
from realtime.log import read_after
from tests.conftest import unique


async def topic_path(c, group_slug: str, title: str, raw: str) -> str:
    r = await c.post_form(f"/g/{group_slug}/new-topic", {"title": title, "raw": raw})
    assert r.status_code == 303, r.text
    return r.headers["location"]


async def test_start_a_topic_and_reply_shows_posts_in_order(client, arrange, db) -> None:
    author, replier = await arrange.user(), await arrange.user(badge="clinician")
    group = await arrange.group()
    a, b = client(), client()
    await a.login(author)
    await b.login(replier)
    path = await topic_path(
        a,
        group.slug,
        "Breathing exercises before surgery",
        "Which ones **helped** you?\n\n- box breathing\n- pursed lips",
    )
    page = await a.get(path)
    assert "<h1>Breathing exercises before surgery</h1>" in page.text
    assert "<strong>helped</strong>" in page.text and "<li>box breathing</li>" in page.text
    topic_id = int(path.rsplit("/", 1)[1])
    r = await b.post_form(f"/t/{topic_id}/reply", {"raw": "Pursed lips worked for me."})
    assert r.status_code == 303 and r.headers["location"].endswith("#post-2")
    page = await b.get(path)
    assert page.text.index("Which ones") < page.text.index("Pursed lips worked")
    assert "Clinician" in page.text
    row = await db.fetch_one(
        "SELECT raw, cooked FROM posts WHERE topic_id = :t AND post_number = 1", {"t": topic_id}
    )
    assert row["raw"].startswith("Which ones **helped**")  # what was typed is kept
    assert "<strong>helped</strong>" in row["cooked"]  # and cooked once at write time


async def test_every_post_writes_its_live_event_in_the_same_change(client, arrange, db) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Events", "first")
    await arrange.reply(written.topic_id, author, "second *post*")
    events = await read_after(db, f"topic:{written.topic_id}", 0, 100)
    assert [(e.id, e.kind) for e in events] == [(1, "post.created"), (2, "post.created")]
    data = events[1].data
    assert data["post_number"] == 2 and data["username"] == author.username
    assert "<em>post</em>" in data["html"] and 'id="post-2"' in data["html"]
    group_events = await read_after(db, f"group:{group.id}", 0, 100)
    assert [e.kind for e in group_events] == ["topic.created", "topic.bumped"]
    assert f'id="topic-row-{written.topic_id}"' in group_events[1].data["html"]


async def test_group_lists_topics_by_newest_activity(client, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    older = await arrange.topic(group, author, "Older topic")
    await arrange.topic(group, author, "Newer topic")
    c = client()
    page = (await c.get(f"/g/{group.slug}")).text
    assert page.index("Newer topic") < page.index("Older topic")
    await arrange.reply(older.topic_id, author)  # a reply bumps the older topic to the top
    page = (await c.get(f"/g/{group.slug}")).text
    assert page.index("Older topic") < page.index("Newer topic")


async def test_topic_list_pages_by_keyset_without_gaps(client, arrange, server) -> None:
    author = await arrange.user()
    group = await arrange.group()
    per_page = server.settings.topics_per_page
    for n in range(per_page + 5):
        await arrange.topic(group, author, f"Numbered topic {n:03d}")
    c = client()
    first = (await c.get(f"/g/{group.slug}")).text
    more = re.search(r'href="(/g/[^"]+\?before=[^"]+)"', first)
    assert more, "an Older topics link"
    second = (await c.get(more.group(1).replace("&amp;", "&"))).text
    titles = re.findall(r"Numbered topic (\d{3})", first) + re.findall(
        r"Numbered topic (\d{3})", second
    )
    assert sorted(titles) == [f"{n:03d}" for n in range(per_page + 5)]
    assert len(set(titles)) == len(titles)


async def test_topic_pages_hold_twenty_posts_each(client, arrange, server) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Long thread", "post one")
    for n in range(2, 26):
        await arrange.reply(written.topic_id, author, f"post number {n}")
    c = client()
    first = await c.get(f"/t/long-thread/{written.topic_id}")
    assert first.text.count('class="post"') == server.settings.posts_per_page
    assert "?after=20" in first.text and "Earlier posts" not in first.text
    second = await c.get(f"/t/long-thread/{written.topic_id}?after=20")
    numbers = re.findall(r'id="post-(\d+)"', second.text)
    assert numbers == ["21", "22", "23", "24", "25"]
    back = await c.get(f"/t/long-thread/{written.topic_id}?before=21")
    assert re.findall(r'id="post-(\d+)"', back.text)[0] == "1"


async def test_old_topic_address_redirects_to_the_right_slug(client, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Walking after surgery")
    c = client()
    for path in (f"/t/{written.topic_id}", f"/t/wrong-slug/{written.topic_id}"):
        r = await c.get(path)
        assert r.status_code == 303
        assert r.headers["location"] == f"/t/walking-after-surgery/{written.topic_id}"


async def test_quote_reply_prefills_the_quote_and_links_back(client, arrange) -> None:
    ana, ben = await arrange.user(), await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, ana, "Quotes", "Line one\nLine two")
    c = client()
    await c.login(ben)
    form = await c.get(f"/t/{written.topic_id}/reply?to=1")
    assert f"&gt; **{ana.username}** wrote (post 1):" in form.text
    assert "&gt; Line one\n&gt; Line two" in form.text
    r = await c.post_form(
        f"/t/{written.topic_id}/reply",
        {"raw": "> Line two\n\nAgreed.", "reply_to_post_number": "1"},
    )
    assert r.status_code == 303
    page = await c.get(f"/t/quotes/{written.topic_id}")
    # The answered post opens in place, and links to itself.
    assert f"<summary>In reply to #1 by {ana.username}</summary>" in page.text
    assert f'<a href="/t/quotes/{written.topic_id}/1">Go to post #1</a>' in page.text
    assert "<blockquote>" in page.text


async def test_edit_keeps_every_revision_and_shows_edited(client, arrange, db) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Edits", "Walked 10 minutes.")
    c = client()
    await c.login(author)
    form = await c.get(f"/p/{written.post_id}/edit")
    assert "Walked 10 minutes." in form.text and 'name="version" value="1"' in form.text
    r = await c.post_form(
        f"/p/{written.post_id}/edit", {"raw": "Walked 20 minutes today.", "version": "1"}
    )
    assert r.status_code == 303
    page = await c.get(f"/t/edits/{written.topic_id}")
    assert "Walked 20 minutes today." in page.text
    assert f'href="/p/{written.post_id}/revisions">edited<span' in page.text
    history = await c.get(f"/p/{written.post_id}/revisions")
    assert "Version 1" in history.text and "Version 2" in history.text
    assert '<del><span class="visually-hidden">Removed: </span>10<' in history.text
    assert '<ins><span class="visually-hidden">Added: </span>20<' in history.text
    assert '<ins><span class="visually-hidden">Added: </span> today<' in history.text
    rows = await db.fetch_all(
        "SELECT version, raw FROM post_revisions WHERE post_id = :p ORDER BY version",
        {"p": written.post_id},
    )
    assert [(r["version"], r["raw"]) for r in rows] == [
        (1, "Walked 10 minutes."),
        (2, "Walked 20 minutes today."),
    ]


async def test_an_edit_from_a_stale_page_does_not_overwrite(client, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Stale", "version one")
    c = client()
    await c.login(author)
    assert (
        await c.post_form(f"/p/{written.post_id}/edit", {"raw": "version two", "version": "1"})
    ).status_code == 303
    r = await c.post_form(f"/p/{written.post_id}/edit", {"raw": "from an old tab", "version": "1"})
    assert r.status_code == 400 and "changed after you opened it" in r.text
    page = await c.get(f"/t/stale/{written.topic_id}")
    assert "version two" in page.text and "from an old tab" not in page.text


async def test_you_cannot_edit_someone_elses_post(client, arrange, db) -> None:
    ana, ben = await arrange.user(), await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, ana, "Mine", "ana's words")
    c = client()
    await c.login(ben)
    page = await c.get(f"/t/mine/{written.topic_id}")
    assert f"/p/{written.post_id}/edit" not in page.text
    assert (await c.get(f"/p/{written.post_id}/edit")).status_code == 403
    r = await c.post_form(f"/p/{written.post_id}/edit", {"raw": "ben was here"})
    assert r.status_code == 403
    raw = await db.fetch_val("SELECT raw FROM posts WHERE id = :p", {"p": written.post_id})
    assert raw == "ana's words"


async def test_a_closed_topic_takes_no_replies(client, arrange, db) -> None:
    ana, mod = await arrange.user(), await arrange.user(role="moderator")
    group = await arrange.group()
    written = await arrange.topic(group, ana, "Closing", "first")
    await do_set_topic_status(arrange.forum, mod, written.topic_id, closed=True)
    c = client()
    await c.login(ana)
    page = await c.get(f"/t/closing/{written.topic_id}")
    assert "Closed to new replies" in page.text and 'name="raw"' not in page.text
    r = await c.post_form(f"/t/{written.topic_id}/reply", {"raw": "late"})
    assert r.status_code == 403 and "closed to new replies" in r.text
    count = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 1


async def test_a_moderator_closes_and_pins_from_the_topic_page(client, arrange) -> None:
    ana, mod = await arrange.user(), await arrange.user(role="moderator")
    group = await arrange.group()
    written = await arrange.topic(group, ana, "Moderated", "first")
    m, a = client(), client()
    await m.login(mod)
    await a.login(ana)
    assert "Close topic" not in (await a.get(f"/t/moderated/{written.topic_id}")).text
    assert (
        await a.post_form(f"/t/{written.topic_id}/status", {"change": "close"})
    ).status_code == 403
    assert (
        await m.post_form(f"/t/{written.topic_id}/status", {"change": "pin"})
    ).status_code == 303
    assert (
        await m.post_form(f"/t/{written.topic_id}/status", {"change": "close"})
    ).status_code == 303
    page = await a.get(f"/t/moderated/{written.topic_id}")
    assert "Closed to new replies" in page.text and "Pinned" in page.text


@pytest.mark.parametrize(
    ("title", "raw", "message"),
    [
        ("", "body", "The title cannot be empty."),
        ("Title", "   ", "The post cannot be empty."),
        ("x" * 256, "body", "The title is 256 characters long; the most is 255."),
        ("Title", "y" * 32_001, "The post is 32,001 characters long; the most is 32,000."),
        ("Title", "nul \x00 byte", "The post contains characters that are not allowed."),
        ("Title", "bell \x07 byte", "The post contains characters that are not allowed."),
    ],
)
async def test_bad_topics_are_explained_and_not_written(
    client, arrange, db, title, raw, message
) -> None:
    author = await arrange.user()
    group = await arrange.group()
    c = client()
    await c.login(author)
    r = await c.post_form(f"/g/{group.slug}/new-topic", {"title": title, "raw": raw})
    assert r.status_code == 400
    assert message in r.text
    if raw.strip() and "\x00" not in raw and len(raw) < 1000:
        assert raw in r.text  # what they typed is kept for them to fix
    count = await db.fetch_val("SELECT count(*) FROM topics WHERE group_id = :g", {"g": group.id})
    assert count == 0


async def test_invalid_utf8_and_oversize_bodies_are_refused(client, arrange, db, server) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Bytes", "first")
    c = client()
    await c.login(author)
    body = f"csrf_token={c.csrf}&raw=%FF%FEbad".encode()
    r = await c.http.post(
        f"/t/{written.topic_id}/reply",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 400 and "not valid UTF-8" in r.text
    big = f"csrf_token={c.csrf}&raw=".encode() + b"a" * (server.settings.max_body_bytes + 1)
    r = await c.http.post(
        f"/t/{written.topic_id}/reply",
        content=big,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 413
    count = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 1


@pytest.mark.parametrize(
    "path",
    [
        "/g/no-such-group",
        "/t/x/999999",
        "/t/999999",
        "/p/999999/edit",
        "/p/999999/revisions",
        "/u/nobody-here",
        "/no/such/page",
    ],
)
async def test_unknown_things_get_a_404_page(client, arrange, path) -> None:
    c = client()
    await c.login(await arrange.user())
    r = await c.get(path)
    assert r.status_code == 404
    assert "<h1>" in r.text and "Go to the home page" in r.text


async def test_replying_to_a_post_that_is_not_there_is_refused(client, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Numbers", "first")
    c = client()
    await c.login(author)
    r = await c.post_form(
        f"/t/{written.topic_id}/reply", {"raw": "hi", "reply_to_post_number": "7"}
    )
    assert r.status_code == 400 and "not in this topic" in r.text
    assert (await c.get(f"/t/{written.topic_id}/reply?to=7")).status_code == 404


async def test_anonymous_visitors_read_but_are_asked_to_log_in(client, arrange) -> None:
    author = await arrange.user()
    group = await arrange.group()
    written = await arrange.topic(group, author, "Public reading", "hello all")
    c = client()
    page = await c.get(f"/t/public-reading/{written.topic_id}")
    assert "hello all" in page.text and "to reply" in page.text
    r = await c.post_form(f"/t/{written.topic_id}/reply", {"raw": "anon"})
    assert r.status_code == 403 and "Please log in" in r.text
    unique("x")
