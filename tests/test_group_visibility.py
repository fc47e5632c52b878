"""Making a group private or public, on SQLite and PostgreSQL: only site admins choose who can
read a group (its conveners see it as text); a group made private is hidden at once from
everyone but its members and staff, on every page, JSON answer and live channel; and each
change is in the audit log and in the live log, in the transaction that made it."""

from __future__ import annotations

import json
from typing import Any

from forum.actions.founding import do_edit_group
from forum.actions.groups import do_join_group
from forum.forms import Input
from tests.conftest import Arrange, logged_in, unique
from tests.test_founding import STATEMENT
from tests.test_live import live
from tests.test_moving import events_of

SETTINGS = STATEMENT | {"joining": "open", "members_listed": "members", "unanswered_hours": "24"}


async def group_row(db: Any, group_id: int) -> dict[str, Any]:
    row = await db.fetch_one(
        "SELECT visibility, joining FROM groups WHERE id = :g", {"g": group_id}
    )
    return dict(row)


async def actions_of(db: Any, group_id: int, action: str) -> list[dict[str, Any]]:
    rows = await db.fetch_all(
        "SELECT actor_id, note FROM moderator_actions WHERE group_id = :g AND action = :a",
        {"g": group_id, "a": action},
    )
    return [dict(row) for row in rows]


async def what_readers_get(reader: Any, group: Any, topic_id: int, title: str) -> dict[str, Any]:
    """What a reader is given of the group and its topic, everywhere they are shown."""
    latest = (await reader.get("/latest.json")).json()["topic_list"]["topics"]
    categories = (await reader.get("/categories.json")).json()["category_list"]["categories"]
    home = (await reader.get("/")).text
    found = await reader.get("/search.json", params={"q": title.split()[-1]})
    return {
        "group page": (await reader.get(f"/g/{group.slug}")).status_code,
        "topic page": (await reader.get(f"/t/x/{topic_id}", follow_redirects=True)).status_code,
        "topic json": (await reader.get(f"/t/{topic_id}.json")).status_code,
        "group json": (await reader.get(f"/c/{group.id}.json")).status_code,
        "in latest": topic_id in [t["id"] for t in latest],
        "in categories": group.id in [c["id"] for c in categories],
        "on home": title in home or group.name in home,
        "in search": topic_id in [t["id"] for t in found.json().get("topics", [])],
    }


SHOWN = {
    "group page": 200,
    "topic page": 200,
    "topic json": 200,
    "group json": 200,
    "in latest": True,
    "in categories": True,
    "on home": True,
    "in search": True,
}
HIDDEN = {
    "group page": 404,
    "topic page": 404,
    "topic json": 404,
    "group json": 404,
    "in latest": False,
    "in categories": False,
    "on home": False,
    "in search": False,
}


async def test_an_admin_makes_a_group_private_and_it_is_hidden_at_once(
    server: Any, client: Any, arrange: Arrange
) -> None:
    admin, member = await arrange.user(role="admin"), await arrange.user(name="mem")
    outsider = await arrange.user(name="out")
    group = await arrange.group(members=(member,))
    title = f"Fatigue diaries {unique('w')}"
    written = await arrange.topic(group, member, title, f"What we noticed. {title}")
    topic_id = written.topic_id
    anonymous, o = client(), await logged_in(client, outsider)
    m = await logged_in(client, member)
    for reader in (anonymous, o, m):
        assert await what_readers_get(reader, group, topic_id, title) == SHOWN

    a = await logged_in(client, admin)
    page = await a.get(f"/g/{group.slug}/settings")
    assert "Who can read this group?" in page.text and 'name="visibility"' in page.text
    made = await a.post_form(f"/g/{group.slug}/settings", SETTINGS | {"visibility": "private"})
    assert made.status_code == 303, made.text
    # Private groups are joined by invitation only: the "open" sent with it gives way.
    assert await group_row(arrange.db, group.id) == {"visibility": "private", "joining": "invite"}

    for reader in (anonymous, o):
        assert await what_readers_get(reader, group, topic_id, title) == HIDDEN
    assert await what_readers_get(m, group, topic_id, title) == SHOWN
    assert (await a.get(f"/g/{group.slug}")).status_code == 200  # staff moderate it

    # The audit log, and the live log, each in the same transaction as the change.
    made_private = await actions_of(arrange.db, group.id, "made_group_private")
    assert made_private == [{"actor_id": admin.id, "note": "From public to private"}]
    assert len(await actions_of(arrange.db, group.id, "edit_group")) == 1
    assert {"everyone": True, "group_id": group.id} in await events_of(
        arrange.db, "access", "access.changed"
    )
    assert await events_of(arrange.db, f"group:{group.id}", "group.changed") == [
        {"group_id": group.id}
    ]
    log = await a.get("/review/log")
    assert "Made the group readable by members only" in log.text

    # No live channel of it for those outside.
    async with live(server.base_url) as stranger:
        for channel in (f"group:{group.id}", f"topic:{topic_id}"):
            refused = await stranger.subscribe(channel)
            assert refused["type"] == "error" and refused["code"] == "forbidden"

    # And back: public again, readable again; joining stays by invitation until changed.
    public = await a.post_form(
        f"/g/{group.slug}/settings", SETTINGS | {"joining": "invite", "visibility": "public"}
    )
    assert public.status_code == 303
    assert await group_row(arrange.db, group.id) == {"visibility": "public", "joining": "invite"}
    for reader in (anonymous, o):
        assert await what_readers_get(reader, group, topic_id, title) == SHOWN
    assert len(await actions_of(arrange.db, group.id, "made_group_public")) == 1
    changes = [
        e for e in await events_of(arrange.db, "access", "access.changed") if e.get("everyone")
    ]
    # Made (public: open sockets' `latest` learns of it), made private, made public again.
    assert changes.count({"everyone": True, "group_id": group.id}) == 3


async def test_a_private_group_made_public_opens_to_everyone(client: Any, arrange: Arrange) -> None:
    admin, member = await arrange.user(role="admin"), await arrange.user()
    group = await arrange.group("private", members=(member,))
    title = f"Members talk {unique('w')}"
    written = await arrange.topic(group, member, title)
    anonymous = client()
    assert await what_readers_get(anonymous, group, written.topic_id, title) == HIDDEN
    a = await logged_in(client, admin)
    settings = SETTINGS | {"joining": "invite", "visibility": "public"}
    assert (await a.post_form(f"/g/{group.slug}/settings", settings)).status_code == 303
    assert await what_readers_get(anonymous, group, written.topic_id, title) == SHOWN


async def test_conveners_and_moderators_see_it_as_text(client: Any, arrange: Arrange) -> None:
    convener, moderator = await arrange.user(name="con"), await arrange.user(role="moderator")
    member = await arrange.user(name="mem")
    group = await arrange.group(members=(member,), conveners=(convener,))
    c = await logged_in(client, convener)
    page = await c.get(f"/g/{group.slug}/settings")
    assert page.status_code == 200 and 'name="visibility"' not in page.text
    assert "Who can read this group:</strong> Anyone" in page.text
    assert "Only a site administrator can change this." in page.text
    for user in (convener, moderator):
        u = await logged_in(client, user)
        refused = await u.post_form(
            f"/g/{group.slug}/settings", SETTINGS | {"visibility": "private"}
        )
        assert refused.status_code == 403, user.role
        assert "Only site administrators can change who can read a group." in refused.text
    assert (await group_row(arrange.db, group.id))["visibility"] == "public"
    # Sending what it is already changes nothing and is no error (the rest is saved).
    same = await c.post_form(
        f"/g/{group.slug}/settings", SETTINGS | {"visibility": "public", "aim": "Kept aim"}
    )
    assert same.status_code == 303
    assert await actions_of(arrange.db, group.id, "made_group_public") == []
    # Members, and visitors not signed in, reach no settings at all.
    m = await logged_in(client, member)
    refused = await m.post_form(f"/g/{group.slug}/settings", SETTINGS | {"visibility": "private"})
    assert refused.status_code == 403
    anonymous = client()
    sent = await anonymous.post_form(
        f"/g/{group.slug}/settings", SETTINGS | {"visibility": "private"}
    )
    assert sent.status_code == 403
    assert (await group_row(arrange.db, group.id))["visibility"] == "public"


async def test_bad_visibility_is_refused_and_changes_nothing(client: Any, arrange: Arrange) -> None:
    admin, guest = await arrange.user(role="admin"), await arrange.user(name="guest")
    group = await arrange.group()
    hidden = await arrange.group("private")
    a = await logged_in(client, admin)
    for value in ("secret", "PUBLIC", "", "private\x00"):
        bad = await a.post_form(f"/g/{group.slug}/settings", SETTINGS | {"visibility": value})
        assert bad.status_code == 400, value
    no_csrf = await a.post_form(
        f"/g/{group.slug}/settings", SETTINGS | {"visibility": "private"}, csrf=False
    )
    assert no_csrf.status_code == 403
    assert (await a.post_form("/g/no-such-group/settings", SETTINGS)).status_code == 404
    # A guest (no email) may belong to public groups only: they are named, nothing changes.
    await do_join_group(arrange.forum, guest, group.id)
    await arrange.db.execute(
        "UPDATE users SET is_guest = :y WHERE id = :u", {"y": True, "u": guest.id}
    )
    refused = await a.post_form(f"/g/{group.slug}/settings", SETTINGS | {"visibility": "private"})
    assert refused.status_code == 400 and guest.username in refused.text
    assert "Guest accounts cannot belong to a private group" in refused.text
    assert await group_row(arrange.db, group.id) == {"visibility": "public", "joining": "open"}
    assert await actions_of(arrange.db, group.id, "made_group_private") == []
    assert await events_of(arrange.db, f"group:{group.id}", "group.changed") == []
    # A convener of another group learns nothing of a private group's settings.
    stranger = await arrange.user(name="str")
    s = await logged_in(client, stranger)
    assert (await s.get(f"/g/{hidden.slug}/settings")).status_code == 404
    sent = await s.post_form(f"/g/{hidden.slug}/settings", SETTINGS | {"visibility": "public"})
    assert sent.status_code == 404


async def test_every_settings_edit_redraws_the_groups_pages(client: Any, arrange: Arrange) -> None:
    """No pace applies to settings (conveners and admins only, each edit logged): three edits
    in a row are all saved, each with its audit entry and its group.changed event."""
    convener, admin = await arrange.user(name="con"), await arrange.user(role="admin")
    group = await arrange.group(conveners=(convener,))
    c, a = await logged_in(client, convener), await logged_in(client, admin)
    for n, (who, extra) in enumerate(
        ((c, {"aim": "First aim"}), (a, {"visibility": "private", "joining": "invite"}), (a, {}))
    ):
        saved = await who.post_form(
            f"/g/{group.slug}/settings", SETTINGS | extra | {"joining": "invite"}
        )
        assert saved.status_code == 303, (n, saved.text)
    changed = await events_of(arrange.db, f"group:{group.id}", "group.changed")
    assert changed == [{"group_id": group.id}] * 3
    assert {"group_id": group.id} in await events_of(arrange.db, "latest", "group.changed")
    assert len(await actions_of(arrange.db, group.id, "edit_group")) == 3
    assert len(await actions_of(arrange.db, group.id, "made_group_private")) == 1


async def test_a_live_reader_outside_the_group_sees_nothing_more(
    server: Any, arrange: Arrange
) -> None:
    """Made private, the group's channel ends for a socket outside it at once, and the
    group's later events reach it on no channel, `latest` included."""
    admin, member = await arrange.user(role="admin"), await arrange.user()
    group, public = await arrange.group(members=(member,)), await arrange.group()
    form = Input({k: [v] for k, v in (SETTINGS | {"visibility": "private"}).items()})
    async with live(server.base_url) as stranger:
        for channel in ("latest", f"group:{group.id}"):
            assert (await stranger.subscribe(channel))["type"] == "subscribed"
        await do_edit_group(arrange.forum, admin, group.id, form)
        ended = await stranger.until(
            lambda f: f["type"] == "error" and f.get("channel") == f"group:{group.id}", wait=10
        )
        assert ended["code"] == "forbidden"
        title = f"After the change {unique('w')}"
        await arrange.topic(group, member, title)
        marker = f"Marker {unique('m')}"
        await arrange.topic(public, member, marker)
        frame = await stranger.until(
            lambda f: f["type"] == "event" and f["data"].get("title") == marker, wait=10
        )
        assert frame["kind"] == "topic.created"
        assert title not in json.dumps(stranger.frames)
