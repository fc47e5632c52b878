"""Notifications (issue 11) on SQLite and PostgreSQL: who is told of a post and why (mentions,
replies, quotes, watched topics and groups), what silences it (mutes of a topic, a group, a
member; no right to read), the bell live on the member's channel, reading them (the page, the
JSON API in Discourse's shapes, visiting the post), losing access, and bad input."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from forum.actions import following, notify
from forum.actions.drafts import Draft, PostEdit
from forum.actions.edits import do_edit_post
from forum.actions.groups import do_leave_group
from forum.actions.idempotent import Written
from forum.actions.posts import do_reply
from forum.errors import BadRequest, RateLimited
from forum.queries.notifications import Kind, Level
from tests.conftest import Arrange, alerted, logged_in, unique
from tests.test_live import key_headers, live
from tests.test_moderation import act, pending_items


async def told(server: Any, arrange: Arrange, user: Any) -> dict[str, Any]:
    """What /notifications.json tells `user` (their own API key), once every post's
    notifications are made."""
    await alerted(arrange.forum)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        response = await http.get(
            "/notifications.json", headers=await key_headers(arrange.db, user)
        )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def answer(arrange: Arrange, user: Any, topic_id: int, raw: str, to: int) -> Written:
    """A reply to post `to`, published (established authors are never held)."""
    written = await do_reply(arrange.forum, user, topic_id, Draft(raw, reply_to_post_number=to))
    assert isinstance(written, Written)
    return written


def kinds(body: dict[str, Any]) -> list[tuple[int, int | None]]:
    return [(n["notification_type"], n["post_number"]) for n in body["notifications"]]


async def people(arrange: Arrange, visibility: str = "public") -> tuple[Any, Any, Any, Any]:
    ana, ben, cat = [await arrange.user(name=n) for n in ("ana", "ben", "cat")]
    group = await arrange.group(visibility, members=(ana, ben, cat))
    return ana, ben, cat, group


async def test_a_mention_links_the_profile_and_tells_the_member(server, arrange) -> None:
    ana, ben, cat, group = await people(arrange)
    topic = await arrange.topic(group, ana, raw="Starting out.")
    written = await arrange.reply(topic.topic_id, ben, f"Thanks @{cat.username}, and @nobody_here.")
    body = await told(server, arrange, cat)
    assert kinds(body) == [(Kind.MENTIONED, written.post_number)]
    item = body["notifications"][0]
    assert item["topic_id"] == topic.topic_id and item["read"] is False
    assert item["data"]["display_username"] == ben.username
    assert item["data"]["topic_title"] == "A topic title"
    assert body["unread_notifications"] == 1
    # The mention is a link to the member's page, which exists; the unknown name is a link
    # to a page that says there is no such member.
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        page = await http.get(f"/t/x/{topic.topic_id}")
        page = await http.get(page.headers["location"]) if page.status_code in (301, 303) else page
        assert f'<a class="mention" href="/u/{cat.username}"' in page.text
        assert (await http.get(f"/u/{cat.username}")).status_code == 200
        assert (await http.get("/u/nobody_here")).status_code == 404


async def test_each_reason_and_the_strongest_wins(server, arrange) -> None:
    ana, ben, cat, group = await people(arrange)
    topic = await arrange.topic(group, ana)  # ana starts it: she watches it
    tid = topic.topic_id
    # A reply to ana's post: "replied" (not also "posted", though she watches).
    first = await answer(arrange, ben, tid, "Good point.", 1)
    # A quote of ben's post by cat: "quoted" for ben; "posted" for ana (watching).
    quote = f"> **{ben.username}** wrote (post {first.post_number}):\n>\n> Good point.\n\nAgreed."
    second = await arrange.reply(tid, cat, quote)
    # A mention of ana that also replies to her: one notification, "mentioned".
    third = await answer(arrange, cat, tid, f"@{ana.username} see above", 1)
    # In any order: the test's alerter and the server's may each take one of these posts at once.
    assert sorted(kinds(await told(server, arrange, ana))) == sorted(
        [
            (Kind.MENTIONED, third.post_number),
            (Kind.POSTED, second.post_number),
            (Kind.REPLIED, first.post_number),
        ]
    )
    # ben replied, so he watches it too: told of cat's third post; quoted by the second.
    assert sorted(kinds(await told(server, arrange, ben))) == sorted(
        [(Kind.POSTED, third.post_number), (Kind.QUOTED, second.post_number)]
    )
    # Nobody is told of their own posts.
    assert kinds(await told(server, arrange, cat)) == []


async def test_watching_a_group_tells_of_new_topics(server, arrange) -> None:
    ana, ben, _, group = await people(arrange)
    await following.do_set_group_level(arrange.forum, ben, group.id, Level.WATCHING)
    topic = await arrange.topic(group, ana, title="Fatigue after chemo")
    body = await told(server, arrange, ben)
    assert kinds(body) == [(Kind.WATCHING_FIRST_POST, 1)]
    assert body["notifications"][0]["fancy_title"] == "Fatigue after chemo"
    # Replies in it do not tell ben: he watches the group, not the topic.
    await arrange.reply(topic.topic_id, ana, "More.")
    assert len((await told(server, arrange, ben))["notifications"]) == 1


async def test_mutes_silence_a_topic_a_group_and_a_member(server, arrange) -> None:
    ana, ben, cat, group = await people(arrange)
    topic = await arrange.topic(group, ana)
    tid = topic.topic_id
    await following.do_set_topic_level(arrange.forum, ana, tid, Level.MUTED)
    await answer(arrange, ben, tid, f"@{ana.username} hi", 1)
    assert kinds(await told(server, arrange, ana)) == []
    # cat mutes ben: ben's mention of cat tells her nothing; ana's does.
    await following.do_mute_user(arrange.forum, cat, ben.username, True)
    await arrange.reply(tid, ben, f"@{cat.username} ping")
    assert kinds(await told(server, arrange, cat)) == []
    mention = await arrange.reply(tid, ana, f"@{cat.username} ping")
    assert kinds(await told(server, arrange, cat)) == [(Kind.MENTIONED, mention.post_number)]
    # A muted group: nothing from its topics, unless the topic is watched.
    other = await arrange.topic(group, ana)
    await following.do_set_group_level(arrange.forum, ben, group.id, Level.MUTED)
    await arrange.reply(other.topic_id, ana, f"@{ben.username} are you there?")

    async def in_other() -> list[tuple[int, int | None]]:
        body = await told(server, arrange, ben)
        return [
            (n["notification_type"], n["post_number"])
            for n in body["notifications"]
            if n["topic_id"] == other.topic_id
        ]

    assert await in_other() == []
    await following.do_set_topic_level(arrange.forum, ben, other.topic_id, Level.WATCHING)
    watched = await arrange.reply(other.topic_id, ana, f"@{ben.username} now?")
    assert await in_other() == [(Kind.MENTIONED, watched.post_number)]
    # Staff cannot be muted; nor can you mute yourself.
    moderator = await arrange.user(role="moderator", name="mod")
    with pytest.raises(BadRequest):
        await following.do_mute_user(arrange.forum, cat, moderator.username, True)
    with pytest.raises(BadRequest):
        await following.do_mute_user(arrange.forum, cat, cat.username, True)


async def test_a_private_group_tells_only_who_may_read_it(server, arrange, client) -> None:
    ana, ben, _, group = await people(arrange, "private")
    outsider = await arrange.user(name="out")
    topic = await arrange.topic(group, ana)
    await arrange.reply(topic.topic_id, ana, f"@{outsider.username} and @{ben.username}")
    assert kinds(await told(server, arrange, outsider)) == []
    body = await told(server, arrange, ben)
    assert len(body["notifications"]) == 1 and body["unread_notifications"] == 1
    # ben loses access: the notification is gone from the list, the count and the page.
    await do_leave_group(arrange.forum, ben, group.id)
    body = await told(server, arrange, ben)
    assert body["notifications"] == [] and body["unread_notifications"] == 0
    c = await logged_in(client, ben)
    page = await c.get("/notifications")
    assert "A topic title" not in page.text and "data-bell-count hidden" in page.text


async def test_the_bell_rings_live_and_reading_clears_it(server, arrange, client) -> None:
    ana, ben, _, group = await people(arrange)
    topic = await arrange.topic(group, ana)
    async with live(server.base_url, await key_headers(arrange.db, ana)) as socket:
        frame = await socket.subscribe(f"user:{ana.id}")
        assert frame["type"] == "subscribed", frame
        written = await answer(arrange, ben, topic.topic_id, "Me too.", 1)
        event = await socket.until(lambda f: f.get("kind") == "notification.created")
        assert event["data"]["unread"] == 1
        assert event["data"]["message"] == f"{ben.username} replied to your post in “A topic title”"
        assert f"/{topic.topic_id}/{written.post_number}" in event["data"]["html"]
        # The header says so on every page.
        c = await logged_in(client, ana)
        home = await c.get("/")
        assert "data-bell-count><span data-bell-n>1</span>" in home.text
        # Following the link marks it read: the post's page showed it.
        link = await c.get(f"/t/x/{topic.topic_id}/{written.post_number}")
        assert link.status_code == 303
        await c.get(link.headers["location"])
        read = await socket.until(lambda f: f.get("kind") == "notification.read")
        assert read["data"]["unread"] == 0
        assert (await told(server, arrange, ana))["notifications"][0]["read"] is True


async def test_a_notification_made_while_a_page_loads_still_reaches_its_bell(
    server, arrange, client
) -> None:
    ana, ben, _, group = await people(arrange)
    topic = await arrange.topic(group, ana)
    c = await logged_in(client, ana)
    for told_before in (0, 1):  # her very first notification, and one after it
        home = await c.get("/")
        since = re.search(rf'data-live-since="[^"]*user:{ana.id}=(\d+)', home.text)
        assert since is not None and f"data-bell-n>{told_before}<" in home.text
        # Told of a reply after the page was made, before its socket subscribed: the page
        # resumes its channel where its count was read, and the bell gets it.
        await answer(arrange, ben, topic.topic_id, f"Reply {told_before}.", 1)
        await alerted(arrange.forum)
        async with live(server.base_url, await key_headers(arrange.db, ana)) as socket:
            subscribe = {"type": "subscribe", "channel": f"user:{ana.id}"}
            await socket.send(subscribe | {"since": int(since.group(1))})  # replayed first
            event = await socket.until(lambda f: f.get("kind") == "notification.created")
            assert event["data"]["unread"] == told_before + 1


async def test_marking_read_over_the_api_and_the_page(server, arrange, client) -> None:
    ana, ben, cat, group = await people(arrange)
    topic = await arrange.topic(group, ana)
    for who in (ben, cat):
        await arrange.reply(topic.topic_id, who, f"@{ana.username} hello")
    body = await told(server, arrange, ana)
    first, second = (n["id"] for n in body["notifications"])
    headers = await key_headers(arrange.db, ana)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        one = await http.put("/notifications/mark-read.json", json={"id": first}, headers=headers)
        assert one.status_code == 200 and one.json() == {"success": "OK", "unread_notifications": 1}
        # Someone else's notification is not yours to read: 404, nothing changes.
        ben_headers = await key_headers(arrange.db, ben)
        other = await http.put(
            "/notifications/mark-read.json", json={"id": second}, headers=ben_headers
        )
        assert other.status_code == 404 and other.json()["errors"]
        unknown = await http.put(
            "/notifications/mark-read.json", json={"id": 10**9}, headers=headers
        )
        assert unknown.status_code == 404
        bad = await http.put("/notifications/mark-read.json", json={"id": "x"}, headers=headers)
        assert bad.status_code == 400 and bad.json()["errors"]
        anonymous = await http.get("/notifications.json")
        assert anonymous.status_code in (401, 403) and anonymous.json()["errors"]
    assert (await told(server, arrange, ana))["unread_notifications"] == 1
    # The page's "Mark all as read", without its CSRF token: refused, nothing read.
    c = await logged_in(client, ana)
    refused = await c.post_form("/notifications/mark-read", {}, csrf=False)
    assert refused.status_code == 403
    assert (await told(server, arrange, ana))["unread_notifications"] == 1
    done = await c.post_form("/notifications/mark-read", {})
    assert done.status_code == 303
    assert (await told(server, arrange, ana))["unread_notifications"] == 0
    page = await c.get("/notifications")
    assert f"{ben.username} mentioned you in “A topic title”" in page.text


async def test_levels_over_forms_and_the_api(server, arrange, client) -> None:
    ana, ben, _, group = await people(arrange, "private")
    outsider = await arrange.user(name="out")
    topic = await arrange.topic(group, ana)
    c = await logged_in(client, ben)
    saved = await c.post_form(f"/t/{topic.topic_id}/notifications", {"level": "watching"})
    assert saved.status_code == 303
    page = await c.get(saved.headers["location"])
    assert '<option value="watching" selected>' in page.text
    written = await arrange.reply(topic.topic_id, ana, "Any news?")
    assert kinds(await told(server, arrange, ben)) == [(Kind.POSTED, written.post_number)]
    headers = await key_headers(arrange.db, outsider)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        # A private group's topic and group are not there for an outsider.
        hidden = await http.post(
            f"/t/{topic.topic_id}/notifications.json",
            json={"notification_level": 3},
            headers=headers,
        )
        assert hidden.status_code == 404
        category = await http.post(
            f"/category/{group.id}/notifications.json",
            json={"notification_level": "watching"},
            headers=headers,
        )
        assert category.status_code == 404
        wrong = await http.post(
            f"/t/{topic.topic_id}/notifications.json",
            json={"notification_level": 7},
            headers=await key_headers(arrange.db, ben),
        )
        assert wrong.status_code == 400 and "watching" in wrong.json()["errors"][0]


async def test_too_many_mentions_is_refused_and_nothing_written(server, arrange) -> None:
    ana, _, _, group = await people(arrange)
    topic = await arrange.topic(group, ana)
    names = " ".join(f"@name_{i}" for i in range(11))
    with pytest.raises(BadRequest, match="at most 10"):
        await arrange.reply(topic.topic_id, ana, names)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        posts = await http.get(f"/t/{topic.topic_id}/posts.json")
    assert len(posts.json()["post_stream"]["posts"]) == 1


async def test_mentions_added_by_an_edit_tell_only_those_added(server, arrange) -> None:
    ana, ben, cat, group = await people(arrange)
    dan = await arrange.user(name="dan")  # not a member: the group is public
    topic = await arrange.topic(group, ana)  # ana watches it
    reply = await arrange.reply(topic.topic_id, ben, f"Hello @{dan.username}.")
    assert kinds(await told(server, arrange, ana)) == [(Kind.POSTED, reply.post_number)]
    edit = PostEdit(f"Hello @{dan.username} and @{cat.username}.", 1)
    await do_edit_post(arrange.forum, ben, reply.post_id, edit)
    # cat, added, is told; dan was told already and ana (watching) is not told again.
    assert kinds(await told(server, arrange, cat)) == [(Kind.MENTIONED, reply.post_number)]
    assert kinds(await told(server, arrange, dan)) == [(Kind.MENTIONED, reply.post_number)]
    assert kinds(await told(server, arrange, ana)) == [(Kind.POSTED, reply.post_number)]
    # An edit that mentions nobody new, and one that mentions too many, tell nobody.
    await do_edit_post(arrange.forum, ben, reply.post_id, PostEdit(f"Hi @{cat.username}.", 2))
    names = " ".join(f"@name_{i}" for i in range(11))
    with pytest.raises(BadRequest, match="at most 10"):
        await do_edit_post(arrange.forum, ben, reply.post_id, PostEdit(names, 3))
    assert len((await told(server, arrange, cat))["notifications"]) == 1
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        posts = await http.get(f"/t/{topic.topic_id}/posts.json")
    assert f"@{cat.username}" in posts.json()["post_stream"]["posts"][1]["cooked"]
    assert "name_1" not in posts.json()["post_stream"]["posts"][1]["cooked"]


async def test_edits_cannot_tell_more_than_a_post_may(server, arrange, monkeypatch) -> None:
    monkeypatch.setattr(notify, "MAX_MENTIONS", 2)  # a post tells at most 2 by mention
    ana, ben, cat, group = await people(arrange)
    dan, eve = await arrange.user(name="dan"), await arrange.user(name="eve")
    moderator = await arrange.user(role="moderator")
    topic = await arrange.topic(group, ana)
    reply = await arrange.reply(topic.topic_id, ben, "Hello.")
    await do_edit_post(
        arrange.forum, ben, reply.post_id, PostEdit(f"@{cat.username} @{dan.username}", 1)
    )
    await alerted(arrange.forum)
    # Two told; swapping in two others tells nobody more.
    await do_edit_post(
        arrange.forum, ben, reply.post_id, PostEdit(f"@{eve.username} @{ana.username}", 2)
    )
    assert kinds(await told(server, arrange, cat)) == [(Kind.MENTIONED, reply.post_number)]
    assert kinds(await told(server, arrange, dan)) == [(Kind.MENTIONED, reply.post_number)]
    assert kinds(await told(server, arrange, eve)) == []
    # A moderator's edit tells nobody (the notice would name the author).
    other = await arrange.reply(topic.topic_id, ben, "Another.")
    await alerted(arrange.forum)  # its own alert done: it would read the edited text
    await do_edit_post(arrange.forum, moderator, other.post_id, PostEdit(f"@{eve.username}", 1))
    assert kinds(await told(server, arrange, eve)) == []


async def test_mentions_in_an_edit_held_for_review_tell_once_approved(
    server, arrange, client
) -> None:
    ana, ben, cat, group = await people(arrange)
    moderator, admin = await arrange.user(role="moderator"), await arrange.user(role="admin")
    word = unique("Watchword").lower()
    adm = await logged_in(client, admin)
    await adm.post_form("/review/watched-words", {"word": word, "change": "add"})
    topic = await arrange.topic(group, ana)
    reply = await arrange.reply(topic.topic_id, ben, "Hello all.")
    b = await logged_in(client, ben)
    edited = await b.post_form(
        f"/p/{reply.post_id}/edit", {"raw": f"Hello @{cat.username}, {word}.", "version": 1}
    )
    assert edited.status_code == 303
    # Held: hidden until a moderator looks, and cat is not told of text she cannot see.
    assert kinds(await told(server, arrange, cat)) == []
    [item] = await pending_items(arrange.db, target_id=reply.post_id, kind="post")
    assert (await act(await logged_in(client, moderator), item, "approve")).status_code == 303
    assert kinds(await told(server, arrange, cat)) == [(Kind.MENTIONED, reply.post_number)]
    await adm.post_form("/review/watched-words", {"word": word, "change": "remove"})


async def test_follow_choices_are_paced(arrange) -> None:
    ana = await arrange.user(name="ana")
    group = await arrange.group(members=(ana,))
    forum = arrange.forum
    for _ in range(forum.settings.follow_changes_per_minute):
        await following.do_set_group_level(forum, ana, group.id, Level.WATCHING)
    with pytest.raises(RateLimited):
        await following.do_set_group_level(forum, ana, group.id, Level.NORMAL)


async def test_the_composer_says_who_will_not_be_told(server, arrange, client) -> None:
    ana, _, _, group = await people(arrange, "private")
    outsider = await arrange.user(name="out")
    topic = await arrange.topic(group, ana)
    c = await logged_in(client, ana)
    raw = f"@{outsider.username} and @nobody_xyz and @{ana.username}"
    headers = {"X-CSRF-Token": c.csrf}
    said = await c.http.post(
        "/preview", json={"raw": raw, "topic_id": topic.topic_id}, headers=headers
    )
    assert said.json()["notes"] == [
        f"@{outsider.username.lower()} cannot read this group, so they will not be told.",
        "@nobody_xyz: there is no member of that name, so nobody will be told.",
    ]
    # An outsider naming a private topic learns nothing of who may read it.
    o = await logged_in(client, outsider)
    asked = await o.http.post(
        "/preview",
        json={"raw": f"@{ana.username}", "topic_id": topic.topic_id},
        headers={"X-CSRF-Token": o.csrf},
    )
    assert asked.status_code == 200 and "notes" not in asked.json()


async def test_one_notification_is_marked_read_from_the_page(server, arrange, client) -> None:
    ana, ben, cat, group = await people(arrange)
    topic = await arrange.topic(group, ana)
    for who in (ben, cat):
        await arrange.reply(topic.topic_id, who, f"@{ana.username} hello")
    body = await told(server, arrange, ana)
    newest = body["notifications"][0]["id"]
    c = await logged_in(client, ana)
    page = await c.get("/notifications")
    assert page.text.count("Mark as read<span") == 2
    done = await c.post_form("/notifications/mark-read", {"id": newest, "back": "//evil.example"})
    assert done.status_code == 303 and done.headers["location"] == "/notifications"
    after = await told(server, arrange, ana)
    assert [n["read"] for n in after["notifications"]] == [True, False]


async def test_the_new_pages_keep_to_who_may_see_them(server, arrange, client) -> None:
    ana, outsider = await arrange.user(name="ana"), await arrange.user(name="out")
    private = await arrange.group("private", members=(ana,))
    topic = await arrange.topic(private, ana)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        for path in ("/notifications", "/notifications/menu", "/my/email"):
            signed_out = await http.get(path)
            assert signed_out.status_code == 303 and "/login" in signed_out.headers["location"]
        # A private topic's post link is a 404 to others, as its page is.
        assert (await http.get(f"/t/x/{topic.topic_id}/1")).status_code == 404
    o = await logged_in(client, outsider)
    assert (await o.get(f"/t/x/{topic.topic_id}/1")).status_code == 404
    follow = {"level": "watching"}
    assert (await o.post_form(f"/t/{topic.topic_id}/notifications", follow)).status_code == 404
    assert (await o.post_form(f"/g/{private.slug}/notifications", follow)).status_code == 404
    assert (await o.post_form("/u/no_such_member/mute", {})).status_code == 404
    assert (await o.post_form(f"/u/{ana.username}/mute", {}, csrf=False)).status_code == 403
    member = await logged_in(client, ana)
    landed = await member.get(f"/t/x/{topic.topic_id}/1")
    assert landed.status_code == 303 and landed.headers["location"].endswith("#post-1")
