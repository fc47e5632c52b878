"""The page cache (forum/page_cache.py): anonymous readers of public groups share kept pages,
and no kept page is ever stale or private.

Every invalidation path is tried as an anonymous reader would see it: a page read twice (so
the second read is a kept page), then the change, then the very next request must show it;
on SQLite and PostgreSQL (the `server` fixture) and across two `forum serve` nodes.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import time
from typing import Any

import httpx

from forum.actions.drafts import Decision, PostEdit
from forum.actions.edits import do_edit_post
from forum.actions.membership import do_remove_member
from forum.actions.moderation import do_flag_post, do_review
from forum.page_cache import PageCache, accepts_gzip, etag_matches, make_etag
from tests.conftest import forum_serve, unique
from tests.test_founding import STATEMENT


def kept(server: Any) -> PageCache:
    cache: PageCache = server.app.state.page_cache
    return cache


async def read_twice(anon: Any, server: Any, path: str) -> str:
    """Read a page until it is kept: a topic's page is kept from its first render, so the
    second read is a hit; a group's page (found by its slug) from its second."""
    first = await anon.get(path)
    assert first.status_code == 200, first.text
    for _ in range(2):
        hits = kept(server).hits
        again = await anon.get(path)
        assert again.status_code == 200 and again.text == first.text
        if kept(server).hits == hits + 1:
            return str(again.text)
        assert path.startswith("/g/"), "the second read of a topic was not a kept page"
    raise AssertionError("the page was never kept")


async def topic_setup(arrange: Any, **group_kw: Any) -> tuple[Any, Any, Any, str]:
    author = await arrange.user()
    group = await arrange.group(**group_kw)
    title = unique("Kept topic")
    written = await arrange.topic(group, author, title, "The opening words.")
    topic = await arrange.db.fetch_one(
        "SELECT slug FROM topics WHERE id = :i", {"i": written.topic_id}
    )
    return author, group, written, f"/t/{topic['slug']}/{written.topic_id}"


async def post_version(db: Any, post_id: int) -> int:
    return int(await db.fetch_val("SELECT version FROM posts WHERE id = :i", {"i": post_id}))


async def review_item(db: Any, post_id: int) -> Any:
    return await db.fetch_one(
        "SELECT id, version FROM review_items WHERE kind = 'post' AND target_id = :p",
        {"p": post_id},
    )


# --- what is kept, and for whom -------------------------------------------------------------


async def test_an_anonymous_reader_gets_the_kept_page_compressed_once(
    server, arrange, client
) -> None:
    _, _, _, path = await topic_setup(arrange)
    anon = client()
    page = await read_twice(anon, server, path)
    assert "The opening words." in page
    zipped = await anon.http.get(path, headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.text == page  # httpx decodes it: the same page
    assert int(zipped.headers["content-length"]) < len(page.encode()) / 2
    plain = await anon.http.get(path, headers={"Accept-Encoding": "identity"})
    assert "content-encoding" not in plain.headers and plain.text == page
    assert plain.headers["cache-control"] == "private, no-cache"  # no shared cache keeps it
    assert "Cookie" in plain.headers["vary"]
    # Security headers are added to kept pages as to every other.
    assert "frame-ancestors 'none'" in plain.headers["content-security-policy"]


async def test_a_kept_page_carries_no_token_and_sets_no_one_elses_cookie(
    server, arrange, client
) -> None:
    _, _, _, path = await topic_setup(arrange)
    first, second = client(), client()
    await read_twice(first, server, path)
    r = await second.get(path)
    assert 'name="csrf-token"' not in r.text and 'name="csrf_token"' not in r.text
    # The newcomer still gets a cookie of their own (for the login form), never another's.
    own = r.cookies.get("forum_anon")
    assert own and own != first.http.cookies.get("forum_anon")
    login = await second.get("/login")
    assert 'name="csrf-token"' in login.text  # the login form still has its token


async def test_a_signed_in_reader_never_gets_a_kept_page(server, arrange, client) -> None:
    _, _, _, path = await topic_setup(arrange)
    await read_twice(client(), server, path)
    member = await arrange.user()
    c = client()
    await c.login(member)
    hits = kept(server).hits
    r = await c.get(path)
    assert member.username in r.text and "Log out" in r.text
    assert kept(server).hits == hits
    assert r.headers["cache-control"] == "private, no-cache"


async def test_a_private_group_is_never_kept(server, arrange, client) -> None:
    member = await arrange.user()
    group = await arrange.group(visibility="private", members=(member,))
    written = await arrange.topic(group, member, unique("Private"), "Only for members.")
    c = client()
    await c.login(member)
    for _ in range(2):
        r = await c.get(f"/t/{written.topic_id}", follow_redirects=True)
        assert "Only for members." in r.text
    anon = client()
    for path in (f"/t/{written.topic_id}.json", f"/g/{group.slug}"):
        r = await anon.get(path)
        assert r.status_code in (303, 403, 404) and "Only for members." not in r.text
    mine = re.compile(rf"/t/(?:[^/]+/)?{written.topic_id}(?:\.json|/posts\.json)?(?:\?|$)")
    assert not any(mine.match(key) for key in kept(server)._entries)


async def test_a_confirmation_is_said_once_and_never_kept(server, arrange, client) -> None:
    await read_twice(client(), server, "/")
    member = await arrange.user()
    c = client()
    await c.login(member)
    r = await c.post_form("/logout")
    assert r.status_code == 303
    said = await c.get("/")
    assert "logged out" in said.text.lower()
    other = await client().get("/")
    assert "logged out" not in other.text.lower()
    again = await c.get("/")
    assert "logged out" not in again.text.lower()


async def test_the_json_pages_are_kept_too(server, arrange, client) -> None:
    author, group, written, _ = await topic_setup(arrange)
    anon = client()
    for path in (f"/t/{written.topic_id}.json", f"/c/{group.id}.json", "/latest.json"):
        await read_twice(anon, server, path)
    await arrange.reply(written.topic_id, author, "A reply the JSON must show.")
    body = (await anon.get(f"/t/{written.topic_id}.json")).json()
    assert any("A reply the JSON must show." in p["cooked"] for p in body["post_stream"]["posts"])
    listed = (await anon.get(f"/c/{group.id}.json")).json()
    [row] = [t for t in listed["topic_list"]["topics"] if t["id"] == written.topic_id]
    assert row["posts_count"] == 2


# --- conditional requests ------------------------------------------------------------------


async def test_a_reader_holding_the_page_gets_304_until_it_changes(server, arrange, client) -> None:
    author, _, written, path = await topic_setup(arrange)
    anon = client()
    await read_twice(anon, server, path)
    etag = (await anon.get(path)).headers["etag"]
    r = await anon.http.get(path, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b""
    assert r.headers["etag"] == etag
    await arrange.reply(written.topic_id, author, "Something new to read.")
    r = await anon.http.get(path, headers={"If-None-Match": etag})
    assert r.status_code == 200 and "Something new to read." in r.text
    assert r.headers["etag"] != etag


async def test_signed_in_pages_answer_304_too(server, arrange, client) -> None:
    member = await arrange.user()
    c = client()
    await c.login(member)
    r = await c.get("/notifications")
    etag = r.headers["etag"]
    again = await c.http.get("/notifications", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["cache-control"] == "private, no-cache"


# --- every invalidation path, seen by the very next request ---------------------------------


async def test_a_reply_is_seen_at_once(server, arrange, client) -> None:
    author, group, written, path = await topic_setup(arrange)
    anon = client()
    await read_twice(anon, server, path)
    await read_twice(anon, server, f"/g/{group.slug}")
    await read_twice(anon, server, "/")
    words = unique("Freshwords")
    await arrange.reply(written.topic_id, author, words)
    assert words in (await anon.get(path)).text
    # The lists move too: the topic's reply count on the group page and at home.
    one_reply = '1 <span class="what">reply</span>'
    assert one_reply in (await anon.get(f"/g/{group.slug}")).text
    assert one_reply in (await anon.get("/")).text


async def test_a_new_topic_is_seen_at_once_in_its_group_and_at_home(
    server, arrange, client
) -> None:
    author, group, _, _ = await topic_setup(arrange)
    anon = client()
    await read_twice(anon, server, f"/g/{group.slug}")
    await read_twice(anon, server, "/")
    title = unique("Brand new topic")
    await arrange.topic(group, author, title, "Hello.")
    assert title in (await anon.get(f"/g/{group.slug}")).text
    assert title in (await anon.get("/")).text


async def test_an_edit_is_seen_at_once(server, arrange, client) -> None:
    author, _, written, path = await topic_setup(arrange)
    anon = client()
    await read_twice(anon, server, path)
    version = await post_version(arrange.db, written.post_id)
    await do_edit_post(
        arrange.forum, author, written.post_id, PostEdit("The words, edited.", version)
    )
    page = (await anon.get(path)).text
    assert "The words, edited." in page and "The opening words." not in page


async def test_a_hidden_and_a_removed_post_are_gone_at_once(server, arrange, client) -> None:
    author, _, written, path = await topic_setup(arrange)
    first = await arrange.reply(written.topic_id, author, "Unkind words one.")
    second = await arrange.reply(written.topic_id, author, "Unkind words two.")
    moderator = await arrange.user(role="moderator")
    anon = client()
    await read_twice(anon, server, path)
    await do_flag_post(arrange.forum, moderator, first.post_id, "inappropriate", "")
    page = (await anon.get(path)).text
    assert "Unkind words one." not in page and "Unkind words two." in page
    await do_flag_post(arrange.forum, moderator, second.post_id, "inappropriate", "")
    item = await review_item(arrange.db, second.post_id)
    await do_review(arrange.forum, moderator, item["id"], Decision("delete", item["version"]))
    await read_twice(anon, server, path)
    item = await review_item(arrange.db, first.post_id)
    await do_review(arrange.forum, moderator, item["id"], Decision("delete", item["version"]))
    page = (await anon.get(path)).text
    assert "Unkind words" not in page and "removed by a moderator" in page


async def test_an_approved_post_is_seen_at_once(server, arrange, client) -> None:
    _, _, written, path = await topic_setup(arrange)
    newcomer = await arrange.user(new=True)
    held = await arrange.reply(written.topic_id, newcomer, "My first words, held a while.")
    assert hasattr(held, "item_id"), "a new account's first reply waits for review"
    anon = client()
    assert "My first words" not in await read_twice(anon, server, path)
    moderator = await arrange.user(role="moderator")
    version = await arrange.db.fetch_val(
        "SELECT version FROM review_items WHERE id = :i", {"i": held.item_id}
    )
    await do_review(arrange.forum, moderator, held.item_id, Decision("approve", version))
    assert "My first words, held a while." in (await anon.get(path)).text


async def test_a_removed_convener_loses_the_mark_at_once(server, arrange, client) -> None:
    convener, other = await arrange.user(), await arrange.user()
    group = await arrange.group(conveners=(convener, other))
    written = await arrange.topic(group, convener, unique("Led"), "Welcome, everyone.")
    path = f"/t/{written.topic_id}"
    anon = client()
    page = (await anon.get(path, follow_redirects=True)).text
    assert "Convener" in page
    page_path = str((await anon.get(path, follow_redirects=True)).url.path)
    await read_twice(anon, server, page_path)
    admin = await arrange.user(role="admin")
    await do_remove_member(arrange.forum, admin, group.id, convener.username, ban=False)
    assert "Convener" not in (await anon.get(page_path)).text


# --- across two nodes -----------------------------------------------------------------------


async def test_changes_made_on_one_node_are_seen_at_once_on_another(server, arrange, db) -> None:
    """A reply, a hidden post, a move and a group made private, each made on node A, are
    each seen by the very next anonymous request on node B (which keeps the pages)."""
    author, _, written, path = await topic_setup(arrange)
    moderator = await arrange.user(role="moderator")
    # `forum serve` keeps the real pace limits: each reply comes from another member.
    keys = [await api_key_headers(arrange, author)]
    keys += [await api_key_headers(arrange, await arrange.user()) for _ in range(2)]
    url = server.settings.database_url
    with forum_serve(url) as node_a, forum_serve(url) as node_b:
        async with httpx.AsyncClient() as http:
            for _ in range(3):
                r = await http.get(node_b + path)
                assert r.status_code == 200
            etag = r.headers["etag"]
            assert (await http.get(node_b + path)).headers["etag"] == etag  # kept on B
            for n in range(3):
                words = unique(f"Across{n}")
                r = await http.post(
                    f"{node_a}/posts.json",
                    headers=keys[n],
                    data={"topic_id": written.topic_id, "raw": f"{words} nodes."},
                )
                assert r.status_code == 200, r.text
                assert words in (await http.get(node_b + path)).text  # the very next request
            post_id = r.json()["id"]
            await do_flag_post(arrange.forum, moderator, post_id, "inappropriate", "")
            assert words not in (await http.get(node_b + path)).text
            # (Below: defined with the moves; two nodes cost seconds to start, so one pair.)
            await moves_and_private_groups_across(http, node_a, node_b, arrange)


async def api_key_headers(arrange: Any, user: Any) -> dict[str, str]:
    from forum.actions.accounts import do_create_api_key

    made = await do_create_api_key(arrange.forum, user.username)
    return {"Api-Key": made, "Api-Username": user.username}


# --- the cache itself -------------------------------------------------------------------------


def entry(heads: dict[str, int], body: bytes = b"page") -> Any:
    from forum.page_cache import Entry

    return Entry(heads, body, gzip.compress(body), b"text/html", make_etag(body), 1e18)


def test_the_cache_keeps_at_most_its_size_least_recently_used_first() -> None:
    cache = PageCache(entries=3, seconds=30)
    for n in range(5):
        cache.put(f"/t/x/{n}", entry({f"topic:{n}": 1, "pages": 0}))
    assert len(cache) == 3
    assert cache.get("/t/x/0", {"topic:0": 1, "pages": 0}, time.monotonic()) is None
    assert cache.get("/t/x/4", {"topic:4": 1, "pages": 0}, time.monotonic()) is not None


def test_a_hint_frees_only_the_pages_of_its_channel() -> None:
    cache = PageCache(entries=10, seconds=30)
    cache.put("/a", entry({"topic:1": 5, "pages": 0}))
    cache.put("/b", entry({"topic:2": 5, "pages": 0}))
    cache.on_hint("topic:1", 5)  # an event the entry already shows
    assert len(cache) == 2
    cache.on_hint("topic:1", 6)
    assert len(cache) == 1
    cache.on_hint("pages", 0)  # late: the page was made after it
    assert len(cache) == 1
    cache.on_hint("pages", 1)
    assert len(cache) == 0


def test_an_entry_is_refused_when_a_head_moved_or_it_is_old() -> None:
    cache = PageCache(entries=10, seconds=30)
    cache.put("/a", entry({"topic:1": 5, "pages": 2}))
    assert cache.get("/a", {"topic:1": 5, "pages": 3}, time.monotonic()) is None
    cache.put("/a", entry({"topic:1": 5, "pages": 2}))
    assert cache.get("/a", {"topic:1": 5, "pages": 2}, 2e18) is None


def test_accept_encoding_and_if_none_match_are_read_as_clients_send_them() -> None:
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("br;q=1.0, gzip;q=0.8")
    assert not accepts_gzip("gzip;q=0")
    assert not accepts_gzip("identity")
    assert not accepts_gzip(None)
    tag = make_etag(b"x")
    assert etag_matches(tag.decode(), tag)
    assert etag_matches('"other", ' + tag.decode().removeprefix("W/"), tag)
    assert etag_matches("*", tag)
    assert not etag_matches('W/"nope"', tag)


async def test_a_hint_frees_the_kept_pages_it_makes_stale(server, arrange, client) -> None:
    author, _, written, path = await topic_setup(arrange)
    await read_twice(client(), server, path)
    key = next(k for k in kept(server)._entries if k == path)
    await arrange.reply(written.topic_id, author, "Wakes the node.")
    deadline = time.monotonic() + 10
    while key in kept(server)._entries:  # freed by the bus's hint, with no request
        assert time.monotonic() < deadline, "the hint never freed the page"
        await asyncio.sleep(0.02)


async def test_readers_arriving_together_share_one_render(server, arrange, client) -> None:
    _, _, _, path = await topic_setup(arrange)
    anon = client()
    hits = kept(server).hits
    pages = await asyncio.gather(*(anon.get(path) for _ in range(20)))
    assert {p.status_code for p in pages} == {200}
    assert len({p.text for p in pages}) == 1
    assert kept(server).hits - hits == 19  # one render; the others waited for it


# --- moves and groups made private: on one node, and across two -----------------------------

PUBLIC_PAGES = ("{topic}", "/t/{id}.json", "/g/{slug}", "/c/{gid}.json", "/", "/latest.json")


def pages_of(path: str, topic_id: int, group: Any) -> list[str]:
    return [p.format(topic=path, id=topic_id, slug=group.slug, gid=group.id) for p in PUBLIC_PAGES]


async def test_a_topic_moved_is_seen_at_once_in_both_groups(server, arrange, client) -> None:
    _, old, written, path = await topic_setup(arrange)
    new = await arrange.group()
    title = await arrange.db.fetch_val(
        "SELECT title FROM topics WHERE id = :i", {"i": written.topic_id}
    )
    anon = client()
    for page in (path, f"/g/{old.slug}", f"/g/{new.slug}"):
        await read_twice(anon, server, page)
    moderator = await arrange.user(role="moderator")
    from forum.actions.moving import do_move_topic

    await do_move_topic(arrange.forum, moderator, written.topic_id, new.id)
    assert title not in (await anon.get(f"/g/{old.slug}")).text
    assert title in (await anon.get(f"/g/{new.slug}")).text
    assert new.name in (await anon.get(path)).text  # the topic page names its new group


async def test_a_topic_moved_into_a_private_group_is_gone_at_once(server, arrange, client) -> None:
    _, old, written, path = await topic_setup(arrange)
    hidden = await arrange.group(visibility="private")
    anon = client()
    for page in pages_of(path, written.topic_id, old):
        await read_twice(anon, server, page)
    from forum.actions.moving import do_move_topic

    await do_move_topic(
        arrange.forum, await arrange.user(role="admin"), written.topic_id, hidden.id
    )
    assert (await anon.get(path)).status_code == 404
    assert (await anon.get(f"/t/{written.topic_id}.json")).status_code == 404
    listed = (await anon.get(f"/c/{old.id}.json")).json()["topic_list"]["topics"]
    assert written.topic_id not in [t["id"] for t in listed]
    latest = (await anon.get("/latest.json")).json()["topic_list"]["topics"]
    assert written.topic_id not in [t["id"] for t in latest]


PRIVATE_SETTINGS = STATEMENT | {
    "joining": "invite",
    "members_listed": "members",
    "unanswered_hours": "24",
    "visibility": "private",
}


async def make_private(arrange: Any, group: Any) -> None:
    from forum.actions.founding import do_edit_group
    from forum.forms import Input

    admin = await arrange.user(role="admin")
    form = Input({name: [value] for name, value in PRIVATE_SETTINGS.items()})
    await do_edit_group(arrange.forum, admin, group.id, form)


async def test_a_group_made_private_is_gone_at_once(server, arrange, client) -> None:
    _, group, written, path = await topic_setup(arrange)
    anon = client()
    pages = pages_of(path, written.topic_id, group)
    for page in pages:
        await read_twice(anon, server, page)
    await make_private(arrange, group)
    for page in pages[:4]:
        assert (await anon.get(page)).status_code == 404, page
    assert group.name not in (await anon.get("/")).text
    latest = (await anon.get("/latest.json")).json()["topic_list"]["topics"]
    assert written.topic_id not in [t["id"] for t in latest]


async def moves_and_private_groups_across(
    http: httpx.AsyncClient, node_a: str, node_b: str, arrange: Any
) -> None:
    """A move and a group made private on node A, seen by the very next request on B."""
    _, group, written, path = await topic_setup(arrange)
    _, _, moving, moving_path = await topic_setup(arrange)
    hidden = await arrange.group(visibility="private")
    key = await api_key_headers(arrange, await arrange.user(role="admin"))
    watched = [*pages_of(path, written.topic_id, group), moving_path]
    for page in watched * 3:
        assert (await http.get(node_b + page)).status_code == 200
    r = await http.post(
        f"{node_a}/t/{moving.topic_id}/move", headers=key, data={"group_id": hidden.id}
    )
    assert r.status_code in (200, 303), r.text
    assert (await http.get(node_b + moving_path)).status_code == 404
    r = await http.post(f"{node_a}/g/{group.slug}/settings", headers=key, data=PRIVATE_SETTINGS)
    assert r.status_code in (200, 303), r.text
    for page in watched[:4]:
        assert (await http.get(node_b + page)).status_code == 404, page
    assert group.name not in (await http.get(node_b + "/")).text


async def test_only_the_query_parameters_a_page_reads_make_a_kept_copy(
    server, arrange, client
) -> None:
    _, _, _, path = await topic_setup(arrange)
    anon = client()
    await read_twice(anon, server, path + "?after=0")
    assert f"{path}?after=0" in kept(server)
    for n in range(5):
        r = await anon.get(f"{path}?junk={n}")
        assert r.status_code == 200  # served, never kept
        assert f"{path}?junk={n}" not in kept(server)


def test_the_cache_keeps_at_most_its_bytes() -> None:
    cache = PageCache(entries=100, seconds=30, max_bytes=3000)
    for n in range(10):
        cache.put(f"/p/{n}", entry({f"topic:{n}": 1, "pages": 0}, b"x" * 1000))
    assert cache.bytes <= 3000 and 1 <= len(cache) <= 2


async def test_a_logout_keeps_the_kept_pages(server, arrange, client) -> None:
    """Logging out changes no page anyone else reads: kept pages stay (a busy forum's
    logouts would otherwise empty the cache every few seconds)."""
    _, _, _, path = await topic_setup(arrange)
    anon = client()
    await read_twice(anon, server, path)
    member = await arrange.user()
    c = client()
    await c.login(member)
    assert (await c.post_form("/logout")).status_code == 303
    hits = kept(server).hits
    assert (await anon.get(path)).status_code == 200
    assert kept(server).hits == hits + 1
