"""Roles, suspensions, removals and logouts take effect at once: on API keys, on open live
sockets (on this node and on others), on flags, and on held posts approved later; and staff
never act against staff above them. SQLite and PostgreSQL (the `database_url` fixture)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from tests.conftest import forum_serve, logged_in, unique
from tests.test_live import key_headers, live
from tests.test_moderation import act, pending_items, setup_topic


def cookie_headers(c: Any, base_url: str) -> dict[str, str]:
    host = base_url.removeprefix("http://")
    return {
        "Cookie": f"forum_session={c.http.cookies.get('forum_session')}",
        "Origin": f"http://{host}",
    }


async def private_topic(arrange: Any, *members: Any) -> tuple[Any, Any]:
    owner = await arrange.user()
    group = await arrange.group("private", members=(owner, *members))
    written = await arrange.topic(group, owner, unique("Private"), "Members only.")
    return group, written


async def closed_code(c: Any, wait: float = 10) -> int | None:
    with pytest.raises(ConnectionClosed) as closed:
        await c.until(lambda f: False, wait=wait)
    return closed.value.rcvd.code if closed.value.rcvd else None


# --- 5: API keys of suspended and silenced accounts, and staff above staff --------------------


async def test_a_suspended_admins_key_acts_as_nobody(server, arrange, db) -> None:
    admin, member = await arrange.user(role="admin"), await arrange.user()
    _, written = await private_topic(arrange)
    headers = await key_headers(db, admin)
    as_member = headers | {"Api-Username": member.username}
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        assert (await http.get(f"/t/{written.topic_id}.json", headers=headers)).status_code == 200
        await db.execute(
            "UPDATE users SET suspended_until = :t WHERE id = :id",
            {"t": time.time() + 3600, "id": admin.id},
        )
        for h in (headers, as_member):
            r = await http.get(f"/t/{written.topic_id}.json", headers=h)
            assert r.status_code == 403 and "suspended" in r.json()["errors"][0]
            r = await http.post(
                "/posts.json", headers=h, json={"topic_id": written.topic_id, "raw": "as someone"}
            )
            assert r.status_code == 403
        r = await http.post(f"/u/{member.username}/role", headers=as_member, data={"role": "admin"})
        assert r.status_code == 403
    role = await db.fetch_val("SELECT role FROM users WHERE id = :i", {"i": member.id})
    assert role == "member"
    count = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 1


async def test_a_silenced_admins_key_acts_as_nobody(server, arrange, db) -> None:
    admin, member = await arrange.user(role="admin"), await arrange.user()
    headers = await key_headers(db, admin)
    await db.execute(
        "UPDATE users SET silenced_until = :t WHERE id = :id",
        {"t": time.time() + 3600, "id": admin.id},
    )
    async with httpx.AsyncClient(base_url=server.base_url) as http:
        for h in (headers, headers | {"Api-Username": member.username}):
            r = await http.get("/latest.json", headers=h)
            assert r.status_code == 403 and "silenced" in r.json()["errors"][0]


async def test_a_moderator_cannot_suspend_an_administrator(client, arrange, db) -> None:
    admin, moderator = await arrange.user(role="admin"), await arrange.user(role="moderator")
    flagger, other_admin = await arrange.user(), await arrange.user(role="admin")
    f = await logged_in(client, flagger)
    await f.post_form(f"/u/{admin.username}/flag", {"reason": "other", "note": "Rude"})
    [item] = await pending_items(db, kind="user", target_id=admin.id)
    m = await logged_in(client, moderator)
    r = await act(m, item, "suspend", penalty="1 week")
    assert r.status_code == 403 and "Only an administrator" in r.text
    r = await act(m, item, "silence", penalty="1 day")
    assert r.status_code == 403
    row = await db.fetch_one(
        "SELECT suspended_until, silenced_until FROM users WHERE id = :i", {"i": admin.id}
    )
    assert row == {"suspended_until": None, "silenced_until": None}
    [still] = await pending_items(db, kind="user", target_id=admin.id)
    assert still["version"] == item["version"]  # nothing happened
    # Another administrator may; and a moderator may still suspend a member.
    o = await logged_in(client, other_admin)
    assert (await act(o, item, "silence", penalty="1 day")).status_code == 303
    member = await arrange.user()
    await f.post_form(f"/u/{member.username}/flag", {"reason": "other", "note": "Rude"})
    [member_item] = await pending_items(db, kind="user", target_id=member.id)
    assert (await act(m, member_item, "suspend", penalty="1 day")).status_code == 303


# --- 6: open sockets follow role, membership, suspension and session changes --------------


async def test_a_demoted_moderators_socket_loses_private_groups_at_once(
    server, client, arrange, db
) -> None:
    admin, moderator = await arrange.user(role="admin"), await arrange.user(role="moderator")
    _, written = await private_topic(arrange)
    _, other = await private_topic(arrange)
    a = await logged_in(client, admin)
    async with live(server.base_url, await key_headers(db, moderator)) as mod:
        channel = f"topic:{written.topic_id}"
        assert (await mod.subscribe(channel))["type"] == "subscribed"
        # Not subscribed to user:<id>: the change reaches the socket all the same.
        r = await a.post_form(f"/u/{moderator.username}/role", {"role": "member"})
        assert r.status_code == 303
        lost = await mod.until(lambda f: f.get("code") == "forbidden", wait=10)
        assert lost["channel"] == channel
        # Nor can it open another private channel, or read its history.
        again = await mod.subscribe(f"topic:{other.topic_id}", since=0)
        assert again["type"] == "error" and again["code"] == "forbidden"
        assert not mod.events(f"topic:{other.topic_id}")


async def test_a_suspended_members_sockets_close(server, client, arrange, db) -> None:
    member, moderator, flagger = (
        await arrange.user(),
        await arrange.user(role="moderator"),
        await arrange.user(),
    )
    _, written = await private_topic(arrange, member)
    c = await logged_in(client, member)
    f = await logged_in(client, flagger)
    m = await logged_in(client, moderator)
    async with (
        live(server.base_url, cookie_headers(c, server.base_url)) as browser,
        live(server.base_url, await key_headers(db, member)) as keyed,
    ):
        for sock in (browser, keyed):
            assert (await sock.subscribe(f"topic:{written.topic_id}"))["type"] == "subscribed"
        await f.post_form(f"/u/{member.username}/flag", {"reason": "other", "note": "Abuse"})
        [item] = await pending_items(db, kind="user", target_id=member.id)
        assert (await act(m, item, "suspend", penalty="1 day")).status_code == 303
        assert await closed_code(browser) == 4003
        assert await closed_code(keyed) == 4003


async def test_logging_out_closes_that_sessions_socket_only(server, client, arrange) -> None:
    member = await arrange.user()
    _, written = await private_topic(arrange, member)
    phone, laptop = await logged_in(client, member), await logged_in(client, member)
    async with (
        live(server.base_url, cookie_headers(phone, server.base_url)) as on_phone,
        live(server.base_url, cookie_headers(laptop, server.base_url)) as on_laptop,
    ):
        for sock in (on_phone, on_laptop):
            assert (await sock.subscribe(f"topic:{written.topic_id}"))["type"] == "subscribed"
        r = await phone.post_form("/logout")
        assert r.status_code == 303
        assert await closed_code(on_phone) == 4003
        await on_laptop.send({"type": "ping"})
        assert (await on_laptop.until(lambda f: f["type"] == "pong"))["type"] == "pong"


async def test_a_convener_made_a_member_loses_the_review_channel(
    server, client, arrange, db
) -> None:
    convener, admin = await arrange.user(), await arrange.user(role="admin")
    group = await arrange.group(conveners=(convener, await arrange.user()))  # not the last one
    a = await logged_in(client, admin)
    async with live(server.base_url, await key_headers(db, convener)) as c:
        assert (await c.subscribe("review"))["type"] == "subscribed"
        r = await a.post_form(
            f"/g/{group.slug}/members/role", {"username": convener.username, "role": "member"}
        )
        assert r.status_code == 303
        lost = await c.until(lambda f: f.get("code") == "forbidden", wait=10)
        assert lost["channel"] == "review"


async def test_a_demotion_on_one_node_reaches_a_socket_on_another(server, arrange, db) -> None:
    admin, moderator = await arrange.user(role="admin"), await arrange.user(role="moderator")
    _, written = await private_topic(arrange)
    url = server.settings.database_url
    with forum_serve(url) as node_a, forum_serve(url) as node_b:
        async with live(node_b, await key_headers(db, moderator)) as mod:
            channel = f"topic:{written.topic_id}"
            assert (await mod.subscribe(channel))["type"] == "subscribed"
            async with httpx.AsyncClient() as http:
                r = await http.post(
                    f"{node_a}/u/{moderator.username}/role",
                    headers=await key_headers(db, admin),
                    data={"role": "member"},
                )
                assert r.status_code in (200, 303)
            lost = await mod.until(lambda f: f.get("code") == "forbidden", wait=10)
            assert lost["channel"] == channel


# --- 7: silenced members do not flag; approvals are checked again ------------------------------


async def test_a_silenced_member_cannot_flag(client, arrange, db) -> None:
    author, _, written = await setup_topic(arrange)
    silenced = await arrange.user()
    await db.execute(
        "UPDATE users SET silenced_until = :t WHERE id = :i",
        {"t": time.time() + 3600, "i": silenced.id},
    )
    s = await logged_in(client, silenced)
    r = await s.post_form(f"/p/{written.post_id}/flag", {"reason": "spam"})
    assert r.status_code == 403 and "paused" in r.text
    r = await s.post_form(f"/u/{author.username}/flag", {"reason": "other", "note": "x"})
    assert r.status_code == 403
    flags = await db.fetch_val(
        "SELECT count(*) FROM review_reasons WHERE user_id = :u", {"u": silenced.id}
    )
    assert flags == 0


async def test_approving_a_reply_to_a_topic_closed_since_is_refused(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer, moderator = await arrange.user(new=True), await arrange.user(role="moderator")
    n, m = await logged_in(client, newcomer), await logged_in(client, moderator)
    await n.post_form(f"/t/{written.topic_id}/reply", {"raw": "Held while the topic closes."})
    [item] = await pending_items(db, author_id=newcomer.id)
    await m.post_form(f"/t/{written.topic_id}/status", {"change": "close"})
    r = await act(m, item, "approve")
    assert r.status_code == 409 and "closed after this reply was written" in r.text
    [still] = await pending_items(db, author_id=newcomer.id)
    assert still["status"] == "pending"
    count = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": written.topic_id}
    )
    assert count == 1
    await m.post_form(f"/t/{written.topic_id}/status", {"change": "open"})
    assert (await act(m, still, "approve")).status_code == 303


async def test_approving_a_suspended_authors_held_post_is_refused(client, arrange, db) -> None:
    _, _, written = await setup_topic(arrange)
    newcomer, moderator = await arrange.user(new=True), await arrange.user(role="moderator")
    n, m = await logged_in(client, newcomer), await logged_in(client, moderator)
    await n.post_form(f"/t/{written.topic_id}/reply", {"raw": "Written before suspension."})
    [item] = await pending_items(db, author_id=newcomer.id)
    await db.execute(
        "UPDATE users SET suspended_until = :t WHERE id = :i",
        {"t": time.time() + 3600, "i": newcomer.id},
    )
    r = await act(m, item, "approve")
    assert r.status_code == 409 and "suspended" in r.text
    count = await db.fetch_val("SELECT count(*) FROM posts WHERE user_id = :u", {"u": newcomer.id})
    assert count == 0


async def test_a_subscribe_racing_a_demotion_is_checked_again(
    server, client, arrange, db, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin, moderator = await arrange.user(role="admin"), await arrange.user(role="moderator")
    _, written = await private_topic(arrange)
    channel = f"topic:{written.topic_id}"
    bus = server.app.state.live.live.bus
    real_head = bus.head

    async def slow_head(name: str) -> int:
        if name == channel:
            await asyncio.sleep(1.0)  # the demotion lands while the head is read
        return await real_head(name)

    monkeypatch.setattr(bus, "head", slow_head)
    a = await logged_in(client, admin)
    async with live(server.base_url, await key_headers(db, moderator)) as mod:
        await mod.send({"type": "subscribe", "channel": channel, "since": 0})
        await asyncio.sleep(0.2)
        r = await a.post_form(f"/u/{moderator.username}/role", {"role": "member"})
        assert r.status_code == 303
        answer = await mod.until(lambda f: f.get("channel") == channel, wait=10)
        assert answer["type"] == "error" and answer["code"] == "forbidden"
        assert not mod.events(channel)


async def test_an_admins_key_acting_as_a_member_stops_when_the_admin_is_suspended(
    server, client, arrange, db
) -> None:
    admin, other_admin, member = (
        await arrange.user(role="admin"),
        await arrange.user(role="admin"),
        await arrange.user(),
    )
    _, written = await private_topic(arrange, member)
    flagger = await arrange.user()
    headers = await key_headers(db, admin) | {"Api-Username": member.username}
    async with live(server.base_url, headers) as acting:
        assert (await acting.subscribe(f"topic:{written.topic_id}"))["type"] == "subscribed"
        f = await logged_in(client, flagger)
        await f.post_form(f"/u/{admin.username}/flag", {"reason": "other", "note": "Stolen key?"})
        [item] = await pending_items(db, kind="user", target_id=admin.id)
        o = await logged_in(client, other_admin)
        assert (await act(o, item, "suspend", penalty="1 day")).status_code == 303
        assert await closed_code(acting) == 4003


async def test_staff_do_not_act_on_the_posts_of_staff_above_them(client, arrange, db) -> None:
    admin, moderator, flagger = (
        await arrange.user(role="admin"),
        await arrange.user(role="moderator"),
        await arrange.user(),
    )
    convener = await arrange.user()
    group = await arrange.group(members=(admin, moderator), conveners=(convener,))
    by_admin = await arrange.topic(group, admin, unique("Admin's"), "Written by an admin.")
    by_moderator = await arrange.topic(group, moderator, unique("Mod's"), "By a moderator.")
    m, c = await logged_in(client, moderator), await logged_in(client, convener)
    assert (await m.get(f"/p/{by_admin.post_id}/edit")).status_code == 403
    r = await m.post_form(f"/p/{by_admin.post_id}/edit", {"raw": "Changed.", "version": 1})
    assert r.status_code == 403
    f = await logged_in(client, flagger)
    await f.post_form(f"/p/{by_admin.post_id}/flag", {"reason": "inappropriate"})
    await f.post_form(f"/p/{by_moderator.post_id}/flag", {"reason": "inappropriate"})
    [admin_item] = await pending_items(db, kind="post", target_id=by_admin.post_id)
    [mod_item] = await pending_items(db, kind="post", target_id=by_moderator.post_id)
    r = await act(m, admin_item, "hide")
    assert r.status_code == 403 and "Only an administrator" in r.text
    r = await act(c, mod_item, "delete")
    assert r.status_code == 403 and "Only a site moderator" in r.text
    hidden = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE id IN (:a, :b) AND (hidden_at IS NOT NULL"
        " OR deleted_at IS NOT NULL)",
        {"a": by_admin.post_id, "b": by_moderator.post_id},
    )
    assert hidden == 0
    assert (await act(c, mod_item, "ignore")).status_code == 303  # no action against them


async def test_a_moderators_flag_is_one_flag_on_an_admins_post(client, arrange, db) -> None:
    admin, moderator = await arrange.user(role="admin"), await arrange.user(role="moderator")
    group = await arrange.group()
    written = await arrange.topic(group, admin, unique("Admin"), "An admin's post.")
    m = await logged_in(client, moderator)
    r = await m.post_form(f"/p/{written.post_id}/flag", {"reason": "inappropriate"})
    assert r.status_code == 200
    hidden = await db.fetch_val("SELECT hidden_at FROM posts WHERE id = :p", {"p": written.post_id})
    assert hidden is None  # a member's weight: seen by an administrator, not hidden at once


async def test_conveners_do_not_read_hidden_posts(client, arrange, db) -> None:
    author, convener, moderator = (
        await arrange.user(),
        await arrange.user(),
        await arrange.user(role="moderator"),
    )
    group = await arrange.group(members=(author,), conveners=(convener,))
    secret = unique("Secret")
    written = await arrange.topic(group, author, unique("Hidden"), f"{secret} is here.")
    m = await logged_in(client, moderator)
    await m.post_form(f"/p/{written.post_id}/flag", {"reason": "patient_data"})
    c = await logged_in(client, convener)
    page = (await c.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert secret not in page and "hidden while a moderator looks at it" in page
    assert (await c.get(f"/p/{written.post_id}/revisions")).status_code == 404
    staff_page = (await m.get(f"/t/{written.topic_id}", follow_redirects=True)).text
    assert secret in staff_page  # site moderators can expand it


async def test_no_client_may_follow_the_internal_access_channel(server, arrange, db) -> None:
    admin = await arrange.user(role="admin")
    for headers in ({}, await key_headers(db, admin)):
        async with live(server.base_url, headers) as c:
            refused = await c.subscribe("access", since=0)
            assert refused["type"] == "error" and refused["code"] == "forbidden"
            assert not c.events("access")
