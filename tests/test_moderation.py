"""Moderation through the pages and the API: holds, flags, the review queue and its decisions,
two moderators racing, conveners' scope, silence and suspension, watched words, the audit log.
Each test runs on SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from forum.actions.accounts import do_create_api_key
from forum.actions.drafts import PostEdit
from forum.actions.edits import do_edit_post
from forum.actions.holds import Held
from realtime.log import read_after
from tests.conftest import unique
from tests.test_live import key_headers, live

NHS = "943 476 5919"  # a valid modulus-11 check digit


async def pending_items(db: Any, **where: Any) -> list[Any]:
    clauses = " AND ".join(f"{k} = :{k}" for k in where) or "1 = 1"
    return await db.fetch_all(
        f"SELECT * FROM review_items WHERE status = 'pending' AND {clauses} ORDER BY id", where
    )


async def act(c: Any, item: Any, action: str, **extra: Any) -> Any:
    return await c.post_form(
        f"/review/{item['id']}", {"action": action, "version": item["version"], **extra}
    )


async def setup_topic(arrange: Any, **group_kw: Any) -> tuple[Any, Any, Any]:
    owner = await arrange.user()
    group = await arrange.group(**group_kw)
    written = await arrange.topic(group, owner, unique("Topic"), "The first post.")
    return owner, group, written


async def test_a_new_accounts_first_reply_waits_then_appears_when_approved(
    client, arrange, db
) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer, moderator = await arrange.user(new=True), await arrange.user(role="moderator")
    a, m, anon = client(), client(), client()
    await a.login(newcomer)
    await m.login(moderator)
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": "Hello from a new member."})
    assert r.status_code == 303 and "/my/review#item-" in r.headers["location"]
    topic_page = await anon.get(f"/t/{written.topic_id}", follow_redirects=True)
    assert "Hello from a new member." not in topic_page.text
    mine = await a.get("/my/review")
    assert "Waiting for a moderator" in mine.text and "new account" in mine.text
    queue = await m.get("/review")
    assert "Hello from a new member." in queue.text and "First posts of a new account" in queue.text
    [item] = await pending_items(db, author_id=newcomer.id)
    r = await act(m, item, "approve")
    assert r.status_code == 303
    page = await anon.get(f"/t/{written.topic_id}", follow_redirects=True)
    assert "Hello from a new member." in page.text
    assert (await a.get("/my/review")).text.count("Approved") >= 1
    # Approved once: the next reply is published at once.
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": "And a second one."})
    assert r.status_code == 303 and "#post-" in r.headers["location"]


async def test_a_held_new_topic_does_not_exist_until_approved(client, arrange, db) -> None:
    group = await arrange.group()
    newcomer, moderator = await arrange.user(new=True), await arrange.user(role="moderator")
    a, m = client(), client()
    await a.login(newcomer)
    await m.login(moderator)
    title = unique("Held topic")
    r = await a.post_form(f"/g/{group.slug}/new-topic", {"title": title, "raw": "Body."})
    assert r.status_code == 303 and "/my/review" in r.headers["location"]
    assert title not in (await m.get(f"/g/{group.slug}")).text
    [item] = await pending_items(db, author_id=newcomer.id)
    assert item["topic_id"] is None and item["title"] == title
    assert (await act(m, item, "approve")).status_code == 303
    assert title in (await m.get(f"/g/{group.slug}")).text
    count = await db.fetch_val("SELECT count(*) FROM topics WHERE title = :t", {"t": title})
    assert count == 1


async def test_guests_first_post_waits_even_where_new_members_do_not(client, arrange, db) -> None:
    _, group, written = await setup_topic(arrange)
    await db.execute("UPDATE groups SET hold_first_posts = 0 WHERE id = :g", {"g": group.id})
    guest, member = await arrange.user(new=True), await arrange.user(new=True)
    await db.execute("UPDATE users SET is_guest = TRUE WHERE id = :u", {"u": guest.id})
    g, c = client(), client()
    await g.login(guest)
    await c.login(member)
    r = await g.post_form(f"/t/{written.topic_id}/reply", {"raw": "A guest says hello."})
    assert "/my/review" in r.headers["location"]
    [item] = await pending_items(db, author_id=guest.id)
    reasons = await db.fetch_all(
        "SELECT reason FROM review_reasons WHERE item_id = :i", {"i": item["id"]}
    )
    assert [x["reason"] for x in reasons] == ["guest"]
    r = await c.post_form(f"/t/{written.topic_id}/reply", {"raw": "A new member, no hold here."})
    assert "#post-" in r.headers["location"]


async def test_identifiable_data_warns_first_then_holds_with_the_reason(
    client, arrange, db
) -> None:
    _, _, written = await setup_topic(arrange)
    author, moderator = await arrange.user(), await arrange.user(role="moderator")
    a, m = client(), client()
    await a.login(author)
    await m.login(moderator)
    text = f"My mum's NHS number is {NHS}, can anyone help?"
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": text})
    assert r.status_code == 400
    assert "NHS number" in r.text and 'name="post_anyway"' in r.text
    assert NHS in r.text  # the author's text is kept in the composer to edit
    assert not await pending_items(db, author_id=author.id)
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": text, "post_anyway": "yes"})
    assert r.status_code == 303 and "/my/review" in r.headers["location"]
    [item] = await pending_items(db, author_id=author.id)
    reasons = await db.fetch_all(
        "SELECT reason, note FROM review_reasons WHERE item_id = :i", {"i": item["id"]}
    )
    assert [x["reason"] for x in reasons] == ["privacy"]
    assert NHS not in reasons[0]["note"]  # the reason names the kind, never the number
    assert "Identifiable-data check" in (await m.get("/review")).text
    mine = await a.get("/my/review")
    assert "identifies a person" in mine.text
    posts = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert posts == 1


async def test_staff_skip_the_new_account_hold_but_not_the_privacy_check(
    client, arrange, db
) -> None:
    _, _, written = await setup_topic(arrange)
    moderator = await arrange.user(role="moderator", new=True)
    m = client()
    await m.login(moderator)
    r = await m.post_form(f"/t/{written.topic_id}/reply", {"raw": "Welcome, everyone."})
    assert "#post-" in r.headers["location"]
    r = await m.post_form(
        f"/t/{written.topic_id}/reply",
        {"raw": "Ring me on 07700 900123 please", "post_anyway": "yes"},
    )
    assert "/my/review" in r.headers["location"]


async def test_the_api_holds_a_post_and_says_so(server, arrange, db) -> None:
    import httpx

    _, _, written = await setup_topic(arrange)
    author = await arrange.user()
    headers = {
        "Api-Key": await do_create_api_key(arrange.forum, author.username),
        "Api-Username": author.username,
    }
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        r = await http.post(
            "/posts.json",
            json={"topic_id": written.topic_id, "raw": f"NHS no {NHS}"},
            headers=headers,
        )
    assert r.status_code == 200 and r.headers["content-type"] == "application/json; charset=utf-8"
    body = r.json()
    assert body["action"] == "enqueued" and body["pending_post"]["id"] > 0
    assert any("NHS number" in reason for reason in body["reasons"])


async def test_flags_past_the_threshold_hide_the_post_until_reviewed(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    reply = await arrange.reply(written.topic_id, author, "Buy cheap pills at example.org")
    flaggers = [await arrange.user() for _ in range(3)]
    moderator = await arrange.user(role="moderator")
    anon, m = client(), client()
    await m.login(moderator)
    for i, flagger in enumerate(flaggers):
        c = client()
        await c.login(flagger)
        r = await c.post_form(f"/p/{reply.post_id}/flag", {"reason": "spam"})
        assert r.status_code == 200 and "Thank you" in r.text
        page = (await anon.get(f"/t/{written.topic_id}", follow_redirects=True)).text
        assert ("Buy cheap pills" in page) == (i < 2)
    page = (await anon.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert "hidden while a moderator looks at it" in page
    again = await c.post_form(f"/p/{reply.post_id}/flag", {"reason": "spam"})
    assert again.status_code == 409 and "already flagged" in again.text
    [item] = await pending_items(db, target_id=reply.post_id, kind="post")
    assert item["score"] == 3
    assert (
        "Show the hidden post"
        in (await m.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    )
    r = await act(m, item, "approve")
    assert r.status_code == 303
    assert (
        "Buy cheap pills" in (await anon.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    )


async def test_bad_flags_are_refused_with_a_clear_message(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    other = await arrange.user()
    a, o, anon = client(), client(), client()
    await a.login(author)
    await o.login(other)
    own = await a.post_form(f"/p/{written.post_id}/flag", {"reason": "spam"})
    assert own.status_code == 400 and "your own post" in own.text
    r = await o.post_form(f"/p/{written.post_id}/flag", {"reason": "other"})
    assert r.status_code == 400 and "Please say what is wrong" in r.text
    r = await o.post_form(f"/p/{written.post_id}/flag", {"reason": "nonsense"})
    assert r.status_code == 400
    r = await o.post_form(f"/p/{written.post_id}/flag", {"reason": "spam"}, csrf=False)
    assert r.status_code == 403
    r = await o.post_form("/p/2147483000/flag", {"reason": "spam"})
    assert r.status_code == 404
    r = await anon.post_form(f"/p/{written.post_id}/flag", {"reason": "spam"})
    assert r.status_code == 403
    assert not await pending_items(db, target_id=written.post_id, kind="post")


async def test_two_moderators_racing_on_one_item_act_once(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer = await arrange.user(new=True)
    sam = await arrange.user(role="moderator", name="sam")
    ana = await arrange.user(role="moderator", name="ana")
    await arrange.reply(written.topic_id, newcomer, "Race me.")
    [item] = await pending_items(db, author_id=newcomer.id)
    s, a = client(), client()
    await s.login(sam)
    await a.login(ana)
    json_headers = {"accept": "application/json"}

    async def approve(c: Any) -> Any:
        body = {"action": "approve", "version": item["version"], "csrf_token": c.csrf}
        return await c.http.post(f"/review/{item['id']}", data=body, headers=json_headers)

    results = await asyncio.gather(approve(s), approve(a))
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    winner = next(r for r in results if r.status_code == 200)
    who = winner.json()["item"]["resolved_by"]
    assert loser.json() == {"errors": [f"Already handled by {who}."]}
    posts = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t AND raw = 'Race me.'",
        {"t": written.topic_id},
    )
    assert posts == 1
    actions = await db.fetch_val(
        "SELECT count(*) FROM moderator_actions WHERE item_id = :i", {"i": item["id"]}
    )
    assert actions == 1
    # In a browser the loser sees the item as it is now, with who handled it.
    page = await a.post_form(
        f"/review/{item['id']}", {"action": "reject", "version": item["version"], "note": "x"}
    )
    assert page.status_code == 409 and f"Already handled by {who}." in page.text


async def test_reject_tells_the_author_the_reason(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer, moderator = await arrange.user(new=True), await arrange.user(role="moderator")
    await arrange.reply(written.topic_id, newcomer, "Off topic advert.")
    [item] = await pending_items(db, author_id=newcomer.id)
    m, a = client(), client()
    await m.login(moderator)
    await a.login(newcomer)
    r = await act(m, item, "reject")
    assert r.status_code == 400 and "give the author a reason" in r.text
    assert await pending_items(db, author_id=newcomer.id)  # nothing half-done
    r = await act(m, item, "reject", note="Adverts are not allowed here.")
    assert r.status_code == 303
    mine = await a.get("/my/review")
    assert "Not published" in mine.text and "Adverts are not allowed here." in mine.text
    events = await read_after(db, f"user:{newcomer.id}", 0, 50)
    outcome = [e for e in events if e.kind == "review.outcome"]
    assert outcome and "Adverts are not allowed here." in outcome[-1].data["message"]


async def test_edit_then_approve_publishes_the_edited_text(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    author, moderator = await arrange.user(), await arrange.user(role="moderator")
    a, m = client(), client()
    await a.login(author)
    await m.login(moderator)
    await a.post_form(
        f"/t/{written.topic_id}/reply",
        {"raw": f"Dad (NHS {NHS}) is doing well after surgery.", "post_anyway": "yes"},
    )
    [item] = await pending_items(db, author_id=author.id)
    detail = await m.get(f"/review/{item['id']}")
    assert "Edit, then approve" in detail.text and "History" in detail.text
    r = await act(m, item, "edit_approve", raw="Dad is doing well after surgery.")
    assert r.status_code == 303
    page = (await m.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert "Dad is doing well after surgery." in page and NHS not in page


async def test_hide_and_delete_a_flagged_post(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    first = await arrange.reply(written.topic_id, author, "Rude words one.")
    second = await arrange.reply(written.topic_id, author, "Rude words two.")
    flagger, moderator = await arrange.user(), await arrange.user(role="moderator")
    f, m, anon = client(), client(), client()
    await f.login(flagger)
    await m.login(moderator)
    for written_post in (first, second):
        await f.post_form(f"/p/{written_post.post_id}/flag", {"reason": "inappropriate"})
    items = {i["target_id"]: i for i in await pending_items(db, kind="post")}
    assert (
        await act(m, items[first.post_id], "hide", note="Please keep it kind.")
    ).status_code == 303
    assert (await act(m, items[second.post_id], "delete")).status_code == 303
    page = (await anon.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert "Rude words" not in page
    assert "hidden while a moderator" in page and "removed by a moderator" in page
    events = await read_after(db, f"topic:{written.topic_id}", 0, 100)
    assert [e.kind for e in events].count("post.edited") == 2


async def test_silence_stops_posting_and_suspend_ends_sessions(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    author, moderator = await arrange.user(), await arrange.user(role="moderator")
    troll = await arrange.user(new=True)
    a, t, m = client(), client(), client()
    await a.login(author)
    await t.login(troll)
    await m.login(moderator)
    await t.post_form(f"/t/{written.topic_id}/reply", {"raw": "First troll post."})
    [item] = await pending_items(db, author_id=troll.id)
    r = await act(m, item, "silence")
    assert r.status_code == 400 and "how long" in r.text
    r = await act(m, item, "silence", penalty="3 days")
    assert r.status_code == 303
    r = await t.post_form(f"/t/{written.topic_id}/reply", {"raw": "Second troll post."})
    assert r.status_code == 403 and "paused your posting" in r.text
    # Suspension: through a flag on the account.
    f = client()
    await f.login(author)
    r = await f.post_form(
        f"/u/{troll.username}/flag", {"reason": "other", "note": "Keeps trolling"}
    )
    assert r.status_code == 200
    [user_item] = await pending_items(db, kind="user", target_id=troll.id)
    r = await act(m, user_item, "suspend", penalty="1 week", note="Repeated trolling")
    assert r.status_code == 303
    assert (await t.get("/")).text.count(troll.username) == 0  # logged out
    again = client()
    await again.get("/login")
    r = await again.post_form(
        "/login", {"login": troll.username, "password": "correct horse battery"}
    )
    assert r.status_code == 403 and "suspended until" in r.text


async def test_conveners_review_only_their_own_groups(client, arrange, db) -> None:
    convener, other_convener = await arrange.user(), await arrange.user()
    mine = await arrange.group(conveners=(convener,))
    theirs = await arrange.group(conveners=(other_convener,))
    owner = await arrange.user()
    t1 = await arrange.topic(mine, owner, "Mine", "x")
    t2 = await arrange.topic(theirs, owner, "Theirs", "x")
    newcomer = await arrange.user(new=True)
    await arrange.reply(t1.topic_id, newcomer, "In my group.")
    await arrange.reply(t2.topic_id, newcomer, "In their group.")
    items = {i["group_id"]: i for i in await pending_items(db, author_id=newcomer.id)}
    c = client()
    await c.login(convener)
    queue = await c.get("/review")
    assert "In my group." in queue.text and "In their group." not in queue.text
    assert "data-staff-only" not in queue.text or "Silence" not in queue.text
    assert (await c.get(f"/review/{items[theirs.id]['id']}")).status_code == 404
    r = await act(c, items[theirs.id], "approve")
    assert r.status_code == 404
    r = await act(c, items[mine.id], "silence", penalty="1 day")
    assert r.status_code == 403
    r = await act(c, items[mine.id], "approve")
    assert r.status_code == 303
    count = await c.get("/review/count.json")
    assert count.json() == {"pending": 0}
    plain = client()
    await plain.login(await arrange.user())
    assert (await plain.get("/review")).status_code == 403
    log = await c.get("/review/log")
    assert "Approved a post" in log.text


async def test_unknown_and_stale_review_requests(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer, moderator = await arrange.user(new=True), await arrange.user(role="moderator")
    await arrange.reply(written.topic_id, newcomer, "Stale test.")
    [item] = await pending_items(db, author_id=newcomer.id)
    m = client()
    await m.login(moderator)
    assert (await m.get("/review/2147483000")).status_code == 404
    r = await m.post_form(
        f"/review/{item['id']}", {"action": "explode", "version": item["version"]}
    )
    assert r.status_code == 400
    r = await m.post_form(
        f"/review/{item['id']}", {"action": "approve", "version": item["version"] + 5}
    )
    assert r.status_code == 409 and "changed while you were looking" in r.text
    r = await m.post_form(
        f"/review/{item['id']}", {"action": "approve", "version": item["version"]}, csrf=False
    )
    assert r.status_code == 403
    assert await pending_items(db, author_id=newcomer.id)


async def test_claim_shows_who_is_reviewing(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer = await arrange.user(new=True)
    sam, ana = (
        await arrange.user(role="moderator", name="sam"),
        await arrange.user(role="moderator"),
    )
    await arrange.reply(written.topic_id, newcomer, "Claim me.")
    [item] = await pending_items(db, author_id=newcomer.id)
    s, a = client(), client()
    await s.login(sam)
    await a.login(ana)
    r = await s.post_form(f"/review/{item['id']}/claim", {"claim": "yes"})
    assert r.status_code == 303
    assert f"{sam.username} is reviewing this." in (await a.get("/review")).text


async def test_watched_words_hold_posts_and_only_staff_change_them(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    author, moderator = await arrange.user(), await arrange.user(role="moderator")
    word = unique("miraclecure")
    a, m = client(), client()
    await a.login(author)
    await m.login(moderator)
    assert (await a.post_form("/review/watched-words", {"word": word})).status_code == 403
    r = await m.post_form("/review/watched-words", {"word": word, "change": "add"})
    assert r.status_code == 303
    r = await m.post_form("/review/watched-words", {"word": word, "change": "add"})
    assert r.status_code == 400 and "already watched" in r.text
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": f"Try this {word.upper()} today"})
    assert "/my/review" in r.headers["location"]
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": f"Not {word}ish at all"})
    assert "#post-" in r.headers["location"]  # whole words only
    await m.post_form("/review/watched-words", {"word": word, "change": "remove"})
    r = await a.post_form(f"/t/{written.topic_id}/reply", {"raw": f"Try this {word} today"})
    assert "#post-" in r.headers["location"]
    log = (await m.get("/review/log")).text
    assert "Watched a word" in log and "Stopped watching a word" in log


async def test_a_watched_word_changed_elsewhere_is_in_force_for_the_next_post(
    client, arrange, db
) -> None:
    """Each process keeps the list in memory (forum/watched.py): a word added or removed by
    another process (here the tests' own connection, as the command line or another node
    would, in plain SQL) is in force for the server's very next post, and for an edit."""
    _, _, written = await setup_topic(arrange)
    author = await arrange.user()
    word = unique("snakeoil")
    a = client()
    await a.login(author)
    reply = f"/t/{written.topic_id}/reply"
    r = await a.post_form(reply, {"raw": f"Before: {word} is fine"})
    assert "#post-" in r.headers["location"]  # the server has the list (without it) in memory
    await db.execute(
        "INSERT INTO watched_words (word, created_at) VALUES (:w, :t)", {"w": word, "t": 1.0}
    )
    r = await a.post_form(reply, {"raw": f"After: {word} is held"})
    assert "/my/review" in r.headers["location"]
    # The tests' own context (a second process's cache) catches it in an edit, and a reply.
    mine = await arrange.reply(written.topic_id, author, "A post to edit, with no watched word.")
    await do_edit_post(arrange.forum, author, mine.post_id, PostEdit(f"now {word}", None))
    hidden = "SELECT hidden_at FROM posts WHERE id = :p"
    assert await db.fetch_val(hidden, {"p": mine.post_id}) is not None
    assert isinstance(await arrange.reply(written.topic_id, author, f"{word}."), Held)
    await db.execute("DELETE FROM watched_words WHERE word = :w", {"w": word})
    r = await a.post_form(reply, {"raw": f"Removed: {word} is fine again"})
    assert "#post-" in r.headers["location"]
    # An operator's rename of a word moves the version on as well.
    other = unique("quackery")
    await db.execute(
        "INSERT INTO watched_words (word, created_at) VALUES (:w, :t)", {"w": other, "t": 1.0}
    )
    assert "/my/review" in (await a.post_form(reply, {"raw": f"{other}!"})).headers["location"]
    await db.execute("UPDATE watched_words SET word = :n WHERE word = :w", {"n": word, "w": other})
    assert "#post-" in (await a.post_form(reply, {"raw": f"{other}!"})).headers["location"]
    assert "/my/review" in (await a.post_form(reply, {"raw": f"{word}?"})).headers["location"]
    await db.execute("DELETE FROM watched_words WHERE word = :w", {"w": word})


async def test_the_review_channel_is_live_for_moderators_only(server, arrange, db) -> None:
    _, group, written = await setup_topic(arrange)
    moderator, member = await arrange.user(role="moderator"), await arrange.user()
    outsider_convener = await arrange.user()
    await arrange.group(conveners=(outsider_convener,))
    newcomer = await arrange.user(new=True)
    async with (
        live(server.base_url, await key_headers(db, moderator)) as mod,
        live(server.base_url, await key_headers(db, outsider_convener)) as conv,
        live(server.base_url, await key_headers(db, member)) as plain,
        live(server.base_url, await key_headers(db, moderator)) as reader,
    ):
        assert (await mod.subscribe("review"))["type"] == "subscribed"
        assert (await conv.subscribe("review"))["type"] == "subscribed"
        assert (await plain.subscribe("review"))["code"] == "forbidden"
        await reader.subscribe(f"topic:{written.topic_id}")
        await arrange.reply(written.topic_id, newcomer, "Live held post.")
        frame = await mod.until(lambda f: f.get("kind") == "review.changed")
        assert frame["data"]["status"] == "pending" and "Live held post." in frame["data"]["html"]
        assert frame["data"]["group_id"] == group.id
        [item] = await pending_items(db, author_id=newcomer.id)
        m_client_headers = await key_headers(db, moderator)
        import httpx

        async with httpx.AsyncClient(base_url=server.base_url) as http:
            r = await http.post(
                f"/review/{item['id']}",
                data={"action": "approve", "version": item["version"]},
                headers=m_client_headers,
            )
        assert r.status_code == 200, r.text
        done = await mod.until(
            lambda f: f.get("kind") == "review.changed" and f["data"]["status"] != "pending"
        )
        assert done["data"]["status"] == "approved"
        created = await reader.until(lambda f: f.get("kind") == "post.created")
        assert "Live held post." in created["data"]["html"]
        await asyncio.sleep(0.3)
        assert not [f for f in conv.frames if f.get("kind") == "review.changed"]
        assert "Live held post." not in json.dumps(conv.frames)


async def test_the_audit_log_lists_every_decision(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer, moderator = await arrange.user(new=True), await arrange.user(role="moderator")
    await arrange.reply(written.topic_id, newcomer, "Audit me.")
    [item] = await pending_items(db, author_id=newcomer.id)
    m = client()
    await m.login(moderator)
    await act(m, item, "reject", note="Not for this group.")
    log = (await m.get("/review/log")).text
    row = re.search(rf"item {item['id']}.*?</tr>", log, re.S)
    assert row and newcomer.username in row.group(0) and "Not for this group." in row.group(0)
    assert moderator.username in log


async def test_conveners_set_how_many_first_posts_wait(client, arrange, db) -> None:
    convener, member = await arrange.user(), await arrange.user()
    group = await arrange.group(conveners=(convener,), members=(member,))
    owner = await arrange.user()
    written = await arrange.topic(group, owner, "Hold settings", "x")
    c, p = client(), client()
    await c.login(convener)
    await p.login(member)
    assert 'id="hold_first_posts"' in (await c.get(f"/g/{group.slug}")).text
    assert 'id="hold_first_posts"' not in (await p.get(f"/g/{group.slug}")).text
    r = await p.post_form(f"/g/{group.slug}/hold-first-posts", {"posts": "0"})
    assert r.status_code == 403
    r = await c.post_form(f"/g/{group.slug}/hold-first-posts", {"posts": "9"})
    assert r.status_code == 400
    r = await c.post_form(f"/g/{group.slug}/hold-first-posts", {"posts": "0"})
    assert r.status_code == 303
    newcomer = await arrange.user(new=True)
    held = await arrange.reply(written.topic_id, newcomer, "Straight in.")
    assert not hasattr(held, "item_id")  # published, not held
    log = (await c.get("/review/log")).text
    assert "Changed the review of first posts by new members" in log


async def test_a_hidden_post_is_not_readable_anywhere_else(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    reply = await arrange.reply(written.topic_id, author, "Secret words here.")
    moderator, reader = await arrange.user(role="moderator"), await arrange.user()
    m, r = client(), client()
    await m.login(moderator)
    await r.login(reader)
    await m.post_form(f"/p/{reply.post_id}/flag", {"reason": "patient_data"})  # hides at once
    topic_json = (await r.get(f"/t/{written.topic_id}.json")).text
    assert "Secret words" not in topic_json and '"hidden":true' in topic_json.replace(" ", "")
    posts_json = (await r.get(f"/t/{written.topic_id}/posts.json")).text
    assert "Secret words" not in posts_json
    quote = await r.get(f"/t/{written.topic_id}/reply?to={reply.post_number}")
    assert quote.status_code == 404 and "Secret words" not in quote.text
    revisions = await r.get(f"/p/{reply.post_id}/revisions")
    assert revisions.status_code == 404 and "Secret words" not in revisions.text
    again = client()
    await again.login(await arrange.user())
    r2 = await again.post_form(f"/p/{reply.post_id}/flag", {"reason": "spam"})
    assert r2.status_code == 200  # still pending: more flags are welcome


async def test_an_edit_that_adds_identifiable_data_hides_the_post(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    reply = await arrange.reply(written.topic_id, author, "All fine.")
    a, anon = client(), client()
    await a.login(author)
    version = await db.fetch_val("SELECT version FROM posts WHERE id = :p", {"p": reply.post_id})
    body = {"raw": f"Mum's NHS number {NHS}", "version": version}
    r = await a.post_form(f"/p/{reply.post_id}/edit", body)
    assert r.status_code == 400 and 'name="post_anyway"' in r.text
    assert "All fine." in (await anon.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    r = await a.post_form(f"/p/{reply.post_id}/edit", body | {"post_anyway": "yes"})
    assert r.status_code == 303
    page = (await anon.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert NHS not in page and "hidden while a moderator" in page
    [item] = await pending_items(db, kind="post", target_id=reply.post_id)
    reasons = await db.fetch_all(
        "SELECT reason FROM review_reasons WHERE item_id = :i", {"i": item["id"]}
    )
    assert [x["reason"] for x in reasons] == ["privacy"]


async def test_a_title_that_names_a_patient_is_caught(client, arrange, db) -> None:
    group = await arrange.group()
    author = await arrange.user()
    a = client()
    await a.login(author)
    r = await a.post_form(
        f"/g/{group.slug}/new-topic", {"title": f"About NHS {NHS}", "raw": "Please help."}
    )
    assert r.status_code == 400 and "NHS number" in r.text


async def test_nobody_reviews_their_own_item(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    moderator = await arrange.user(role="moderator")
    m = client()
    await m.login(moderator)
    await m.post_form(f"/t/{written.topic_id}/reply", {"raw": f"NHS {NHS}", "post_anyway": "yes"})
    [item] = await pending_items(db, author_id=moderator.id)
    r = await act(m, item, "approve")
    assert r.status_code == 403 and "another moderator" in r.text
    assert await pending_items(db, author_id=moderator.id)


async def test_a_demoted_moderator_loses_the_live_queue(server, client, arrange, db) -> None:
    admin, moderator = await arrange.user(role="admin"), await arrange.user(role="moderator")
    a = client()
    await a.login(admin)
    async with live(server.base_url, await key_headers(db, moderator)) as mod:
        assert (await mod.subscribe("review"))["type"] == "subscribed"
        await mod.subscribe(f"user:{moderator.id}")  # as live.js does: access.changed comes here
        r = await a.post_form(f"/u/{moderator.username}/role", {"role": "member"})
        assert r.status_code == 303, r.text
        lost = await mod.until(lambda f: f.get("code") == "forbidden", wait=10)
        assert lost["channel"] == "review"
