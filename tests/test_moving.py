"""Moving a topic to another group, on SQLite and PostgreSQL: who may (site staff, conveners of
both groups), what a private group hides (404), the pace conveners keep, bad input; and that
the topic, its counts, its review items, the audit log, the search and the live log all
follow it, while its old address keeps working."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from forum.actions.groups import OPERATOR, do_add_member
from forum.actions.moving import MOVES_PER_HOUR, do_move_topic
from forum.actions.welcome import make_introductions
from forum.errors import RateLimited
from tests.conftest import Arrange, logged_in, unique
from tests.test_debates import schedule
from tests.test_live import live


async def events_of(db: Any, channel: str, kind: str) -> list[dict[str, Any]]:
    rows = await db.fetch_all(
        "SELECT payload FROM events WHERE channel = :c AND kind = :k ORDER BY id",
        {"c": channel, "k": kind},
    )
    return [json.loads(row["payload"]) for row in rows]


async def counts(db: Any, group_id: int) -> tuple[int, int]:
    row = await db.fetch_one(
        "SELECT topic_count, post_count FROM groups WHERE id = :g", {"g": group_id}
    )
    return int(row["topic_count"]), int(row["post_count"])


async def real_counts(db: Any, group_id: int) -> tuple[int, int]:
    """What the counts should say: the group's topics, and every post written in them."""
    row = await db.fetch_one(
        "SELECT (SELECT count(*) FROM topics WHERE group_id = :g) AS topics,"
        " (SELECT count(*) FROM posts p JOIN topics t ON t.id = p.topic_id"
        " WHERE t.group_id = :g) AS posts",
        {"g": group_id},
    )
    return int(row["topics"]), int(row["posts"])


async def group_of(db: Any, topic_id: int) -> int:
    return int(await db.fetch_val("SELECT group_id FROM topics WHERE id = :t", {"t": topic_id}))


async def audit_count(db: Any, topic_id: int) -> int:
    return int(
        await db.fetch_val(
            "SELECT count(*) FROM moderator_actions WHERE topic_id = :t AND action = 'moved_topic'",
            {"t": topic_id},
        )
    )


async def test_a_moderator_moves_a_topic_and_everything_follows_it(
    server: Any, client: Any, arrange: Arrange
) -> None:
    moderator, author = await arrange.user(role="moderator"), await arrange.user(name="aut")
    newcomer = await arrange.user(name="new", new=True)
    old = await arrange.group(members=(author, newcomer))
    new = await arrange.group(members=(author,))
    word = unique("pacing")
    written = await arrange.topic(old, author, f"Pacing with {word}", f"What helps? {word}")
    await arrange.reply(written.topic_id, author, "Rest before you need it.")
    held = await arrange.reply(written.topic_id, newcomer, "My first words here.")
    assert held.item_id  # a new account's first post waits for a moderator
    topic_id = written.topic_id
    slug = await arrange.db.fetch_val("SELECT slug FROM topics WHERE id = :t", {"t": topic_id})

    m = await logged_in(client, moderator)
    page = await m.get(f"/t/{slug}/{topic_id}")
    assert f'href="/t/{topic_id}/move"' in page.text and "Move this topic" in page.text
    offered = await m.get(f"/t/{topic_id}/move")
    assert offered.status_code == 200
    assert f'value="{new.id}"' in offered.text and f'value="{old.id}"' not in offered.text
    moved = await m.post_form(f"/t/{topic_id}/move", {"group_id": str(new.id)})
    assert moved.status_code == 303, moved.text
    assert moved.headers["location"] == f"/t/{slug}/{topic_id}"

    # The topic, its held reply's review item and both groups' counts follow it.
    assert await group_of(arrange.db, topic_id) == new.id
    item_group = await arrange.db.fetch_val(
        "SELECT group_id FROM review_items WHERE id = :i", {"i": held.item_id}
    )
    assert item_group == new.id
    assert await counts(arrange.db, old.id) == await real_counts(arrange.db, old.id) == (0, 0)
    assert await counts(arrange.db, new.id) == await real_counts(arrange.db, new.id) == (1, 2)

    # The same address, now in its new group; the old group's lists no longer show it.
    after = await m.get(f"/t/{slug}/{topic_id}")
    assert after.status_code == 200 and "The topic is in its new group now." in after.text
    assert f'href="/g/{new.slug}"' in after.text
    anonymous = client()
    assert (await anonymous.get(f"/t/{topic_id}")).status_code in (200, 301, 302, 303, 307, 308)
    old_list = (await anonymous.get(f"/c/{old.id}.json")).json()["topic_list"]["topics"]
    new_list = (await anonymous.get(f"/c/{new.id}.json")).json()["topic_list"]["topics"]
    assert topic_id not in [t["id"] for t in old_list]
    assert topic_id in [t["id"] for t in new_list]
    found = (await anonymous.get("/search.json", params={"q": word})).json()
    assert [t["category_id"] for t in found["topics"]] == [new.id]

    # The audit log: one entry for each group, for its own conveners.
    entries = await arrange.db.fetch_all(
        "SELECT group_id, note FROM moderator_actions WHERE topic_id = :t"
        " AND action = 'moved_topic' ORDER BY group_id",
        {"t": topic_id},
    )
    assert {(e["group_id"], e["note"]) for e in entries} == {
        (old.id, f"Moved to “{new.name}”"),
        (new.id, f"Moved from “{old.name}”"),
    }
    log = await m.get("/review/log")
    assert "Moved a topic" in log.text and f"Moved to “{new.name}”" in log.text

    # The live events, written with the move.
    data = {
        "topic_id": topic_id,
        "from_group_id": old.id,
        "to_group_id": new.id,
        "url": f"/t/{topic_id}",
        "group_id": new.id,
    }
    for channel in (f"topic:{topic_id}", f"group:{old.id}", f"group:{new.id}", "latest"):
        assert data in await events_of(arrange.db, channel, "topic.moved"), channel
    assert {"everyone": True, "group_id": old.id} in await events_of(
        arrange.db, "access", "access.changed"
    )
    # Replaying the old group's list shows no row of it (nothing to insert); `latest` names
    # its new group, whose readers alone are shown it.
    for stored in await events_of(arrange.db, f"group:{old.id}", "topic.created"):
        if stored["topic_id"] == topic_id:
            assert stored["html"] == "" and stored["title"] == ""
    mine = [
        e
        for e in await events_of(arrange.db, "latest", "topic.created")
        if e["topic_id"] == topic_id
    ]
    assert mine and all(e["group_id"] == new.id and new.name in e["html"] for e in mine)


async def test_a_reader_of_the_topic_is_told_live(server: Any, arrange: Arrange) -> None:
    moderator, author = await arrange.user(role="moderator"), await arrange.user()
    old, new = await arrange.group(members=(author,)), await arrange.group()
    written = await arrange.topic(old, author)
    async with live(server.base_url) as reader:
        for channel in (f"topic:{written.topic_id}", f"group:{old.id}"):
            assert (await reader.subscribe(channel))["type"] == "subscribed"
        await do_move_topic(arrange.forum, moderator, written.topic_id, new.id)
        channels = (f"topic:{written.topic_id}", f"group:{old.id}")
        # The two channels' events may arrive in either order.
        await reader.until(lambda f: all(reader.events(c) for c in channels), wait=10)
        for channel in channels:
            [frame] = reader.events(channel)
            assert frame["kind"] == "topic.moved"
            assert frame["data"]["to_group_id"] == new.id
            assert frame["data"]["url"] == f"/t/{written.topic_id}"


async def test_an_open_socket_loses_a_topic_moved_out_of_its_reach(
    server: Any, arrange: Arrange
) -> None:
    moderator, author = await arrange.user(role="moderator"), await arrange.user()
    old = await arrange.group(members=(author,))
    private = await arrange.group("private", members=(author,))
    written = await arrange.topic(old, author)
    channel = f"topic:{written.topic_id}"
    async with live(server.base_url) as reader:
        assert (await reader.subscribe(channel))["type"] == "subscribed"
        await do_move_topic(arrange.forum, moderator, written.topic_id, private.id)
        told = await reader.until(lambda f: f.get("channel") == channel, wait=10)
        assert told["type"] == "event" and told["kind"] == "topic.moved"
        ended = await reader.until(
            lambda f: f["type"] == "error" and f.get("channel") == channel, wait=10
        )
        assert ended["code"] == "forbidden"
        # Replies in its new group reach this socket no more.
        await arrange.reply(written.topic_id, author, "Only for members now.")
        with pytest.raises(TimeoutError):
            await reader.until(lambda f: f.get("channel") == channel, wait=1)


async def test_moving_into_a_private_group_hides_it_from_the_old_readers(
    server: Any, client: Any, arrange: Arrange
) -> None:
    admin, author = await arrange.user(role="admin"), await arrange.user()
    outsider = await arrange.user(name="out")
    old = await arrange.group(members=(author,))
    private = await arrange.group("private", members=(author,))
    title = unique("Moved away")
    heads = {
        channel: await arrange.db.fetch_val(
            "SELECT last_id FROM channel_heads WHERE channel = :c", {"c": channel}
        )
        or 0
        for channel in ("latest", f"group:{old.id}")
    }
    written = await arrange.topic(old, author, title)
    topic_id = written.topic_id
    anonymous, o = client(), await logged_in(client, outsider)
    assert (await anonymous.get(f"/t/{topic_id}.json")).status_code == 200
    await do_move_topic(arrange.forum, admin, topic_id, private.id)

    for reader in (anonymous, o):
        assert (await reader.get(f"/t/x/{topic_id}")).status_code == 404
        assert (await reader.get(f"/t/{topic_id}.json")).status_code == 404
        latest = (await reader.get("/latest.json")).json()["topic_list"]["topics"]
        assert topic_id not in [t["id"] for t in latest]
        assert title not in (await reader.get("/")).text
        assert title not in (await reader.get(f"/g/{old.slug}")).text
    a = await logged_in(client, author)
    assert (await a.get(f"/t/x/{topic_id}", follow_redirects=True)).status_code == 200
    # The audit entry of the old group does not name the private group.
    note = await arrange.db.fetch_val(
        "SELECT note FROM moderator_actions WHERE topic_id = :t AND group_id = :g",
        {"t": topic_id, "g": old.id},
    )
    assert note == "Moved to a private group"
    # Nobody who cannot read the new group may follow the topic, nor replay its rows.
    async with live(server.base_url) as stranger:
        refused = await stranger.subscribe(f"topic:{topic_id}")
        assert refused["type"] == "error" and refused["code"] == "forbidden"
        for channel, since in heads.items():
            assert (await stranger.subscribe(channel, since=since))["type"] == "subscribed"
        replayed = stranger.events("latest") + stranger.events(f"group:{old.id}")
        assert title not in json.dumps(replayed)


async def test_conveners_move_between_the_groups_they_convene(
    client: Any, arrange: Arrange
) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    home = await arrange.group(members=(member,), conveners=(convener,))
    other = await arrange.group(conveners=(convener,))
    elsewhere = await arrange.group(members=(convener,))  # a member, not a convener
    hidden = await arrange.group("private")
    written = await arrange.topic(home, member)
    topic_id = written.topic_id
    c = await logged_in(client, convener)
    offered = await c.get(f"/t/{topic_id}/move")
    assert f'value="{other.id}"' in offered.text
    assert f'value="{elsewhere.id}"' not in offered.text and hidden.name not in offered.text

    refused = await c.post_form(f"/t/{topic_id}/move", {"group_id": str(elsewhere.id)})
    assert refused.status_code == 403 and "do not convene" in refused.text
    # A private group they cannot read is missing, exactly as an unknown id.
    missing = await c.post_form(f"/t/{topic_id}/move", {"group_id": str(hidden.id)})
    unknown = await c.post_form(f"/t/{topic_id}/move", {"group_id": "2000000000"})
    assert missing.status_code == unknown.status_code == 404
    assert await group_of(arrange.db, topic_id) == home.id

    moved = await c.post_form(f"/t/{topic_id}/move", {"group_id": str(other.id)})
    assert moved.status_code == 303
    assert await group_of(arrange.db, topic_id) == other.id

    # A plain member may neither see the page nor move; a convener of the old group only is
    # offered nothing.
    m = await logged_in(client, member)
    assert (await m.get(f"/t/{topic_id}/move")).status_code == 403
    back = await m.post_form(f"/t/{topic_id}/move", {"group_id": str(home.id)})
    assert back.status_code == 403
    topic_page = await m.get(f"/t/x/{topic_id}", follow_redirects=True)
    assert topic_page.status_code == 200 and "Move this topic" not in topic_page.text
    lone = await arrange.user(name="lone")
    mine = await arrange.group(conveners=(lone,))
    solo = await arrange.topic(mine, lone)
    lone_client = await logged_in(client, lone)
    nowhere = await lone_client.get(f"/t/{solo.topic_id}/move")
    assert nowhere.status_code == 200 and "no other group you can move it to" in nowhere.text
    assert 'name="group_id"' not in nowhere.text


async def test_anonymous_visitors_cannot_move(client: Any, arrange: Arrange) -> None:
    author = await arrange.user()
    home, other = await arrange.group(members=(author,)), await arrange.group()
    written = await arrange.topic(home, author)
    anonymous = client()
    page = await anonymous.http.get(f"/t/{written.topic_id}/move")
    assert page.status_code == 303 and "/login" in page.headers["location"]
    posted = await anonymous.post_form(f"/t/{written.topic_id}/move", {"group_id": str(other.id)})
    assert posted.status_code == 403
    assert await group_of(arrange.db, written.topic_id) == home.id


async def test_bad_input_moves_nothing(client: Any, arrange: Arrange) -> None:
    moderator, author = await arrange.user(role="moderator"), await arrange.user()
    home, other = await arrange.group(members=(author,)), await arrange.group()
    written = await arrange.topic(home, author)
    topic_id = written.topic_id
    m = await logged_in(client, moderator)
    heads = await arrange.db.fetch_val("SELECT count(*) FROM events WHERE kind = 'topic.moved'")

    same = await m.post_form(f"/t/{topic_id}/move", {"group_id": str(home.id)})
    assert same.status_code == 400 and "already" in same.text
    for value in ("", "abc", "-1", "9" * 30):
        bad = await m.post_form(f"/t/{topic_id}/move", {"group_id": value})
        assert bad.status_code == 400, value
        assert "Choose the group to move the topic to." in bad.text
    assert (await m.post_form(f"/t/{topic_id}/move", {})).status_code == 400
    unknown_topic = await m.post_form("/t/2000000000/move", {"group_id": str(other.id)})
    assert unknown_topic.status_code == 404
    assert (await m.get("/t/2000000000/move")).status_code == 404
    no_csrf = await m.post_form(f"/t/{topic_id}/move", {"group_id": str(other.id)}, csrf=False)
    assert no_csrf.status_code == 403
    wrong_csrf = await m.post_form(
        f"/t/{topic_id}/move", {"group_id": str(other.id), "csrf_token": "forged"}
    )
    assert wrong_csrf.status_code == 403

    # A hosted debate, and a group's Introductions topic, stay where they are.
    debate = await schedule(arrange.forum, moderator, home)
    path = f"/t/{debate.topic_id}/move"
    assert (await m.get(path)).status_code == 400
    refused = await m.post_form(path, {"group_id": str(other.id)})
    assert refused.status_code == 400 and "debate cannot be moved" in refused.text
    async with arrange.db.transaction() as conn:
        intro_id = await make_introductions(
            arrange.forum, conn, other, moderator, arrange.forum.now()
        )
    refused = await m.post_form(f"/t/{intro_id}/move", {"group_id": str(home.id)})
    assert refused.status_code == 400 and "Introductions topic" in refused.text

    assert await group_of(arrange.db, topic_id) == home.id
    assert await group_of(arrange.db, debate.topic_id) == home.id
    assert await group_of(arrange.db, intro_id) == other.id
    assert await audit_count(arrange.db, topic_id) == 0
    after = await arrange.db.fetch_val("SELECT count(*) FROM events WHERE kind = 'topic.moved'")
    assert after == heads


async def test_conveners_are_paced_and_staff_are_not(
    server: Any, client: Any, arrange: Arrange
) -> None:
    convener, moderator = await arrange.user(name="con"), await arrange.user(role="moderator")
    one = await arrange.group(conveners=(convener,))
    two = await arrange.group(conveners=(convener,))
    written = await arrange.topic(one, convener)
    topic_id = written.topic_id
    groups = (two, one)
    for n in range(MOVES_PER_HOUR):
        await do_move_topic(arrange.forum, convener, topic_id, groups[n % 2].id)
    here = await group_of(arrange.db, topic_id)
    there = two.id if here == one.id else one.id
    c = await logged_in(client, convener)
    refused = await c.post_form(f"/t/{topic_id}/move", {"group_id": str(there)})
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert f"at most {MOVES_PER_HOUR} topics an hour" in refused.text
    assert await group_of(arrange.db, topic_id) == here
    try:
        await do_move_topic(arrange.forum, convener, topic_id, there)
    except RateLimited:
        pass
    else:
        raise AssertionError("the convener's next move was not refused")
    # Staff are exempt from pace limits (DESIGN.md): many moves, none refused.
    for _ in range(MOVES_PER_HOUR + 1):
        here = await group_of(arrange.db, topic_id)
        await do_move_topic(
            arrange.forum, moderator, topic_id, two.id if here == one.id else one.id
        )
    # The counts stay right through every move.
    for group in (one, two):
        assert await counts(arrange.db, group.id) == await real_counts(arrange.db, group.id)
    # JSON callers are told how long to wait as well.
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        http.cookies.update(c.http.cookies)
        here = await group_of(arrange.db, topic_id)
        there = two.id if here == one.id else one.id
        answer = await http.post(
            f"/t/{topic_id}/move",
            data={"group_id": str(there), "csrf_token": c.csrf},
            headers={"Accept": "application/json"},
        )
    assert answer.status_code == 429
    assert answer.json()["extras"]["wait_seconds"] > 0


async def test_a_convener_cannot_move_a_topic_of_a_group_they_cannot_read(
    client: Any, arrange: Arrange
) -> None:
    convener, owner = await arrange.user(name="con"), await arrange.user(name="own")
    # Private too: a members-only topic goes public only by site staff's hand.
    mine = await arrange.group("private", conveners=(convener,))
    secret = await arrange.group("private", members=(owner,))
    written = await arrange.topic(secret, owner)
    c = await logged_in(client, convener)
    assert (await c.get(f"/t/{written.topic_id}/move")).status_code == 404
    refused = await c.post_form(f"/t/{written.topic_id}/move", {"group_id": str(mine.id)})
    assert refused.status_code == 404
    # Made a convener there too, they may.
    await do_add_member(arrange.forum, OPERATOR, secret.id, convener.username, "convener")
    moved = await c.post_form(f"/t/{written.topic_id}/move", {"group_id": str(mine.id)})
    assert moved.status_code == 303
    assert await counts(arrange.db, secret.id) == await real_counts(arrange.db, secret.id)
    assert await counts(arrange.db, mine.id) == await real_counts(arrange.db, mine.id)


async def test_a_convener_cannot_make_a_members_only_topic_public(
    client: Any, arrange: Arrange
) -> None:
    convener = await arrange.user()
    private = await arrange.group(visibility="private", conveners=(convener,))
    public = await arrange.group(conveners=(convener,))
    written = await arrange.topic(private, convener, "Only for us", "Members only words.")
    c = await logged_in(client, convener)
    offered = await c.get(f"/t/{written.topic_id}/move")
    assert public.name not in offered.text
    refused = await c.post_form(f"/t/{written.topic_id}/move", {"group_id": str(public.id)})
    assert refused.status_code == 403 and "members only" in refused.text
    assert await group_of(arrange.db, written.topic_id) == private.id
