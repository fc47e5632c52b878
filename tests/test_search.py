"""Search (issue 11) on SQLite (FTS5) and PostgreSQL (tsvector): what is found (words, stems,
phrases, or, -word, titles, edits), what never is (a private group's posts for others, hidden
posts but for staff, removed and held posts, unrevealed debate questions), the filters, the
page and Discourse's JSON shapes, and bad input."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from forum.actions import search as search_actions
from forum.actions.debates import do_reveal_question
from forum.actions.drafts import PostEdit
from forum.actions.edits import do_edit_post
from forum.actions.moderation import do_flag_post
from forum.errors import RateLimited
from forum.queries import review as review_queries
from forum.queries import search as search_queries
from forum.queries.search import fts5_query
from tests.conftest import Arrange, logged_in, unique
from tests.test_debates import live_debate
from tests.test_live import key_headers


async def found(server: Any, arrange: Arrange, q: str, user: Any = None, **extra: Any) -> Any:
    """(topic_id, post_number) pairs /search.json finds, in order."""
    headers = await key_headers(arrange.db, user) if user is not None else {}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        response = await http.get("/search.json", params={"q": q, **extra}, headers=headers)
    assert response.status_code == 200, response.text
    return [(p["topic_id"], p["post_number"]) for p in response.json()["posts"]]


async def test_words_stems_phrases_or_and_exclusions(server, arrange) -> None:
    ana = await arrange.user(name="ana")
    group = await arrange.group(members=(ana,))
    word = unique("zq").lower()  # a word no other test writes
    a = await arrange.topic(group, ana, title="Morning routines", raw=f"{word} walking helps me")
    b = await arrange.reply(a.topic_id, ana, f"{word} swimming in the sea")
    # "or" finds either side: a second word of this test's own, since any other test may
    # write an everyday word such as "gentle" in a public group.
    gentle = unique("zg").lower()
    c = await arrange.reply(a.topic_id, ana, f"{word} {gentle} walks and swimming")
    t = a.topic_id
    assert set(await found(server, arrange, f"{word} walk")) == {(t, 1), (t, c.post_number)}
    assert await found(server, arrange, f'"{word} swimming"') == [(t, b.post_number)]
    assert set(await found(server, arrange, f"{word} sea or {gentle}")) == {
        (t, b.post_number),
        (t, c.post_number),
    }
    assert set(await found(server, arrange, f"{word} -swimming")) == {(t, 1)}
    newest = await found(server, arrange, word, order="latest")
    assert newest == [(t, c.post_number), (t, b.post_number), (t, 1)]


async def test_titles_and_edits_are_found(server, arrange) -> None:
    ana = await arrange.user(name="ana")
    group = await arrange.group(members=(ana,))
    word = unique("ttl").lower()
    topic = await arrange.topic(group, ana, title=f"About {word}", raw="Nothing else here.")
    assert await found(server, arrange, word) == [(topic.topic_id, 1)]
    reply = await arrange.reply(topic.topic_id, ana, "old wording xyzzyold")
    assert await found(server, arrange, "xyzzyold") == [(topic.topic_id, reply.post_number)]
    await do_edit_post(arrange.forum, ana, reply.post_id, PostEdit("new wording xyzzynew", 1))
    assert await found(server, arrange, "xyzzyold") == []
    assert await found(server, arrange, "xyzzynew") == [(topic.topic_id, reply.post_number)]


async def test_only_what_the_searcher_may_read(server, arrange) -> None:
    ana, bob = await arrange.user(name="ana"), await arrange.user(name="bob")
    moderator = await arrange.user(role="moderator", name="mod")
    private = await arrange.group("private", members=(ana,))
    public = await arrange.group(members=(ana, bob))
    word = unique("pv").lower()
    secret = await arrange.topic(private, ana, raw=f"{word} in a private group")
    open_topic = await arrange.topic(public, ana, raw=f"{word} in a public group")
    hidden = await arrange.reply(open_topic.topic_id, ana, f"{word} hidden by a moderator")
    await do_flag_post(arrange.forum, moderator, hidden.post_id, "inappropriate", "hide")
    newcomer = await arrange.user(name="new", new=True)  # a new account's first post waits
    held = await arrange.topic(public, newcomer, raw=f"{word} held for review")
    assert await review_queries.get_item(arrange.db, held.item_id) is not None
    anyone = set(await found(server, arrange, word))
    assert anyone == {(open_topic.topic_id, 1)}
    assert set(await found(server, arrange, word, bob)) == anyone
    assert set(await found(server, arrange, word, ana)) == {
        (open_topic.topic_id, 1),
        (secret.topic_id, 1),
    }
    staff = set(await found(server, arrange, word, moderator))
    assert (open_topic.topic_id, hidden.post_number) in staff
    assert (secret.topic_id, 1) in staff


async def test_a_debate_question_is_found_once_revealed(server, arrange, forum) -> None:
    word = unique("dq").lower()
    questions = (f"First {word} question?", f"Second {word} question?")
    convener, _, debate = await live_debate(forum, arrange, questions=questions)
    hits = await found(server, arrange, word, convener)
    assert len(hits) == 1  # question 1 was revealed; question 2 waits, and is not found
    await do_reveal_question(forum, convener, debate.id, 2)
    assert len(await found(server, arrange, word, convener)) == 2


async def test_filters(server, arrange) -> None:
    ana, bob = await arrange.user(name="ana"), await arrange.user(name="bob")
    one, two = await arrange.group(members=(ana, bob)), await arrange.group(members=(ana, bob))
    word = unique("flt").lower()
    a = await arrange.topic(one, ana, raw=f"{word} by ana in one")
    b = await arrange.topic(two, bob, raw=f"{word} by bob in two")
    r = await arrange.reply(b.topic_id, ana, f"{word} ana replies in two")
    assert set(await found(server, arrange, word, group=one.slug)) == {(a.topic_id, 1)}
    assert set(await found(server, arrange, word, author=bob.username)) == {(b.topic_id, 1)}
    in_bobs = {(b.topic_id, 1), (b.topic_id, r.post_number)}  # every post of his topics
    assert set(await found(server, arrange, word, bob, **{"in": "started"})) == in_bobs
    assert set(await found(server, arrange, word, ana, **{"in": "replied"})) == {
        (b.topic_id, 1),
        (b.topic_id, r.post_number),
    }
    assert await found(server, arrange, word, after="2999-01-01") == []
    assert len(await found(server, arrange, word, before="2999-01-01")) == 3


async def test_the_page_and_the_json_shapes(server, arrange, client) -> None:
    ana = await arrange.user(name="ana")
    group = await arrange.group(members=(ana,))
    word = unique("pg").lower()
    topic = await arrange.topic(group, ana, title="Shapes", raw=f"A <b>bold</b> {word} claim.")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        body = (await http.get("/search.json", params={"q": word})).json()
        page = await http.get("/search", params={"q": word})
        empty = await http.get("/search")
    assert set(body) >= {"posts", "topics", "users", "categories", "grouped_search_result"}
    [post] = body["posts"]
    assert post["topic_id"] == topic.topic_id and post["username"] == ana.username
    assert word in post["blurb"] and "\x02" not in post["blurb"]
    assert body["topics"][0]["id"] == topic.topic_id and body["topics"][0]["title"] == "Shapes"
    assert body["grouped_search_result"]["term"] == word
    assert page.status_code == 200
    assert f"<mark>{word}</mark>" in page.text
    assert "<b>bold</b>" not in page.text  # typed HTML is never markup in a blurb
    assert f'href="/t/shapes/{topic.topic_id}/1"' in page.text
    assert empty.status_code == 200 and "Nothing found" not in empty.text
    # Every page has the search box.
    assert 'role="search"' in (await (await logged_in(client, ana)).get("/")).text


@pytest.mark.parametrize(
    ("params", "status", "says"),
    [
        ({"q": ""}, 400, "type something"),
        ({"q": "x" * 201}, 400, "at most 200"),
        ({"q": '!!! "" -- ***'}, 400, "at least one word"),
        ({"q": "walk", "after": "yesterday"}, 400, "2026-12-31"),
        ({"q": "walk", "after": "2026-02-01", "before": "2026-01-01"}, 400, "before the to"),
        ({"q": "walk", "order": "random"}, 400, "relevance or by latest"),
        ({"q": "walk", "in": "started"}, 403, "log in"),
        ({"q": "walk", "in": "everywhere"}, 400, "started or replied"),
        ({"q": "walk", "group": "no-such-group"}, 404, ""),
        ({"q": "walk", "page": "99"}, 400, "out of range"),
        ({"q": "walk", "page": "x"}, 400, ""),
    ],
)
async def test_bad_searches_are_answered_clearly(server, params, status, says) -> None:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        response = await http.get("/search.json", params=params)
        page = await http.get("/search", params=params)
    assert response.status_code == status, response.text
    assert says.lower() in response.json()["errors"][0].lower()
    if params.get("q"):  # the page sends a signed-out reader to log in
        assert page.status_code == (303 if status == 403 else status)


async def test_a_private_group_filter_is_a_404_for_outsiders(server, arrange) -> None:
    ana = await arrange.user(name="ana")
    private = await arrange.group("private", members=(ana,))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        response = await http.get("/search.json", params={"q": "walk", "group": private.slug})
    assert response.status_code == 404


async def test_the_mention_autocomplete(server, arrange) -> None:
    prefix = unique("ac").lower()
    made = [await arrange.user(name=prefix) for _ in range(3)]
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        body = (await http.get("/users/search.json", params={"term": "@" + prefix})).json()
        none = (await http.get("/users/search.json", params={"term": ""})).json()
        tricky = (await http.get("/users/search.json", params={"term": "%_"})).json()
        long = await http.get("/users/search.json", params={"term": "x" * 21})
    assert {u["username"] for u in body["users"]} == {u.username for u in made}
    assert none == {"users": []} and tricky == {"users": []}
    assert long.status_code == 400


async def test_the_autocomplete_offers_only_who_may_read_the_topic(server, arrange) -> None:
    prefix = unique("rd").lower()
    inside, outside = (await arrange.user(name=prefix), await arrange.user(name=prefix))
    moderator = await arrange.user(name=prefix, role="moderator")
    private = await arrange.group("private", members=(inside,))
    topic = await arrange.topic(private, inside)
    public = await arrange.group(members=(inside,))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:

        async def offered(user: Any, **where: Any) -> set[str]:
            headers = await key_headers(arrange.db, user)
            params = {"term": prefix, **where}
            response = await http.get("/users/search.json", params=params, headers=headers)
            assert response.status_code == 200, response.text
            return {u["username"] for u in response.json()["users"]}

        everyone = {inside.username, outside.username, moderator.username}
        assert await offered(inside) == everyone
        # The private topic's readers: its member and site staff, not the outsider.
        assert await offered(inside, topic_id=topic.topic_id) == everyone - {outside.username}
        assert await offered(inside, group_id=private.id) == everyone - {outside.username}
        assert await offered(inside, category_id=public.id) == everyone
        # The outsider cannot ask about a topic they cannot read: 404, as for any unknown id.
        for where in ({"topic_id": topic.topic_id}, {"group_id": private.id}):
            asked = await http.get(
                "/users/search.json",
                params={"term": prefix, **where},
                headers=await key_headers(arrange.db, outside),
            )
            assert asked.status_code == 404, asked.text
        unknown = await http.get("/users/search.json", params={"term": prefix, "topic_id": 10**9})
        assert unknown.status_code == 404
        bad = await http.get("/users/search.json", params={"term": prefix, "topic_id": "x"})
        assert bad.status_code == 400 and bad.json()["errors"]


async def test_searches_are_paced(arrange) -> None:
    ana = await arrange.user(name="ana")
    for _ in range(arrange.settings.searches_per_minute):
        search_actions.pace_search(arrange.forum, ana, "127.0.0.1")
    with pytest.raises(RateLimited):
        search_actions.pace_search(arrange.forum, ana, "127.0.0.1")


def test_typed_text_never_becomes_fts5_syntax() -> None:
    assert fts5_query("walk") == '"walk"'
    assert fts5_query('"gentle walk" or swim -sea') == '(("gentle walk" OR "swim")) NOT "sea"'
    assert fts5_query("NEAR(a b) AND c*") == '"NEAR a" AND "b" AND "AND" AND "c"'
    assert fts5_query("!!! --- ***") is None
    assert fts5_query("-only") is None


async def test_the_newest_matches_are_read_a_window_at_a_time(arrange, monkeypatch) -> None:
    # Windows of a few post ids, so a handful of posts spans several: what a million posts
    # do with the real sizes (forum/queries/search.py).
    monkeypatch.setattr(search_queries, "FIRST_WINDOW", 3)
    monkeypatch.setattr(search_queries, "RANKED", 4)
    monkeypatch.setattr(search_queries, "INDEXED_WINDOW", 5)
    ana = await arrange.user(name="ana")
    group = await arrange.group(members=(ana,))
    word = unique("win").lower()
    topic = await arrange.topic(group, ana, raw=f"{word} opening")
    matching = [1]
    for i in range(12):
        if i % 3 == 0:
            await arrange.reply(topic.topic_id, ana, "Nothing to find in this one.")
        # The oldest reply says the word most often: the best match, but not a new one.
        raw = f"{word} {word} {word} {word} again" if i == 0 else f"{word} number {i}"
        matching.append((await arrange.reply(topic.topic_id, ana, raw)).post_number)
    newest_first = matching[::-1]

    async def numbers(order: str, limit: int, offset: int = 0) -> list[int]:
        search = search_queries.Search(word, order=order)
        async with arrange.db.reads() as conn:
            hits = await search_queries.search_posts(conn, ana, search, limit=limit, offset=offset)
        return [hit.post_number for hit in hits]

    # Newest first, exactly, page after page.
    pages = [await numbers("latest", 3, offset) for offset in range(0, 15, 3)]
    assert [n for page in pages for n in page] == newest_first
    # Relevance ranks the newest RANKED matches, the same set on every page: the oldest,
    # best match is not among them, and there is nothing after them.
    best = await numbers("relevance", 2) + await numbers("relevance", 2, 2)
    assert sorted(best) == sorted(newest_first[:4])
    assert await numbers("relevance", 2, 4) == []
    # Ranking them all, it leads.
    monkeypatch.setattr(search_queries, "RANKED", 13)
    everything = await numbers("relevance", 13)
    assert everything[0] == matching[1] and sorted(everything) == sorted(matching)


async def test_best_matches_say_where_they_stop(server, arrange, monkeypatch) -> None:
    monkeypatch.setattr(search_queries, "RANKED", 2)
    monkeypatch.setattr(search_actions, "PAGE_SIZE", 1)
    ana = await arrange.user(name="ana")
    group = await arrange.group(members=(ana,))
    word = unique("stop").lower()
    topic = await arrange.topic(group, ana, raw=f"{word} one")
    for n in ("two", "three"):
        await arrange.reply(topic.topic_id, ana, f"{word} {n}")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        first = await http.get("/search", params={"q": word})
        assert "More results" in first.text and "best of the newest" not in first.text
        second = await http.get("/search", params={"q": word, "page": 2})
        assert "More results" not in second.text
        assert "These are the best of the newest 2 matches." in second.text
        assert "order=latest" in second.text
        beyond = await http.get("/search.json", params={"q": word, "page": 3})
        assert beyond.status_code == 400
        assert "Show newest first" in beyond.json()["errors"][0]
        # Newest first goes back to the oldest.
        latest = await http.get("/search.json", params={"q": word, "order": "latest", "page": 3})
        assert [p["post_number"] for p in latest.json()["posts"]] == [1]
