"""Founding and running groups (issue 12) on SQLite and PostgreSQL: proposing a group and an
admin's decision, conveners' settings, asking to join, invite links, removing and banning,
and who sees the member list; with the bad input and the rights each page checks."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx

from forum.actions import membership
from forum.actions.drafts import Decision
from forum.actions.founding import PROPOSALS_PER_DAY
from forum.actions.groups import do_join_group
from forum.actions.membership import ASKS_PER_HOUR, MAX_WORKING_INVITES
from forum.actions.moderation import do_flag_post, do_review
from forum.queries.notifications import Kind
from tests.conftest import Arrange, alerted, logged_in, unique
from tests.test_live import key_headers, live
from tests.test_live_controls import article, controls, next_post_event, page_as

STATEMENT = {
    "description": "People living with long COVID sharing what helps.",
    "aim": "Swap practical ways of pacing daily life.",
    "approach": "Monthly hot topics and a library of tried approaches.",
    "audience": "Patients, carers and the clinicians who support them.",
    "measures": "Members say they found something that helped, in a yearly survey.",
}


def proposal(name: str, **extra: str) -> dict[str, str]:
    return {"name": name, "visibility": "public", **STATEMENT, **extra}


async def told(server: Any, arrange: Arrange, user: Any) -> list[dict[str, Any]]:
    """What `user` was told (notifications.json, their own key), newest first."""
    await alerted(arrange.forum)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        response = await http.get(
            "/notifications.json", headers=await key_headers(arrange.db, user)
        )
    assert response.status_code == 200, response.text
    return [
        n["data"]
        for n in response.json()["notifications"]
        if n["notification_type"] == int(Kind.CUSTOM)
    ]


async def test_a_member_proposes_a_group_and_an_admin_approves_it(server, client, arrange) -> None:
    proposer, helper = await arrange.user(name="pro"), await arrange.user(name="help")
    admin = await arrange.user(role="admin", name="adm")
    name = f"Long COVID {unique('n')}"
    p = await logged_in(client, proposer)
    sent = await p.post_form("/groups/propose", proposal(name, conveners=f"@{helper.username}"))
    assert sent.status_code == 303 and sent.headers["location"].endswith("?sent=1")
    page = await p.get("/groups/propose?sent=1")
    assert "waits for an administrator" in page.text and "waiting for an administrator" in page.text
    assert any(name in n["message"] for n in await told(server, arrange, admin))

    a = await logged_in(client, admin)
    queue = await a.get("/proposals")
    assert queue.status_code == 200 and name in queue.text and STATEMENT["measures"] in queue.text
    # Its own form (others' proposals may wait too).
    mine = await arrange.db.fetch_val("SELECT id FROM group_proposals WHERE name = :n", {"n": name})
    proposal_id = re.search(rf"/proposals/({mine})/decide", queue.text)
    assert proposal_id is not None
    approved = await a.post_form(
        f"/proposals/{proposal_id.group(1)}/decide", {"decision": "approve"}
    )
    assert approved.status_code == 303
    group_page = await p.get(approved.headers["location"])
    assert group_page.status_code == 200 and STATEMENT["aim"] in group_page.text
    assert "You are a convener" in group_page.text and "Settings" in group_page.text
    slug = approved.headers["location"].rsplit("/", 1)[1]
    roles = await arrange.db.fetch_all(
        "SELECT u.username, m.role FROM memberships m JOIN users u ON u.id = m.user_id"
        " JOIN groups g ON g.id = m.group_id WHERE g.slug = :s ORDER BY u.username",
        {"s": slug},
    )
    assert {(r["username"], r["role"]) for r in roles} == {
        (proposer.username, "convener"),
        (helper.username, "convener"),
    }
    assert (
        f"Your proposal “{name}” was approved"
        in (await told(server, arrange, proposer))[0]["message"]
    )
    assert (await told(server, arrange, helper))[0][
        "message"
    ] == f"You convene the new group “{name}”"
    # Decided once: a second decision is refused, and nothing changes.
    again = await a.post_form(
        f"/proposals/{proposal_id.group(1)}/decide", {"decision": "decline", "reason": "x"}
    )
    assert again.status_code == 409 and "approved already" in again.text
    assert (await told(server, arrange, proposer))[0]["message"].endswith("the group is ready")


async def test_a_declined_proposal_tells_its_proposer_why(server, client, arrange) -> None:
    proposer, admin = await arrange.user(name="pro"), await arrange.user(role="admin")
    name = f"Knitting {unique('n')}"
    p = await logged_in(client, proposer)
    await p.post_form("/groups/propose", proposal(name))
    a = await logged_in(client, admin)
    mine = await arrange.db.fetch_val("SELECT id FROM group_proposals WHERE name = :n", {"n": name})
    proposal_id = re.search(rf"/proposals/({mine})/decide", (await a.get("/proposals")).text)
    assert proposal_id is not None
    path = f"/proposals/{proposal_id.group(1)}/decide"
    no_reason = await a.post_form(path, {"decision": "decline", "reason": " "})
    assert no_reason.status_code == 400 and "The reason cannot be empty" in no_reason.text
    declined = await a.post_form(path, {"decision": "decline", "reason": "Please join Crafts."})
    assert declined.status_code == 303
    message = (await told(server, arrange, proposer))[0]["message"]
    assert message == f"Your proposal “{name}” was declined. The reason: Please join Crafts."
    assert "declined. The reason: Please join Crafts." in (await p.get("/groups/propose")).text
    slug = await arrange.db.fetch_val(
        "SELECT slug FROM group_proposals WHERE name = :n", {"n": name}
    )
    assert (
        await arrange.db.fetch_val("SELECT count(*) FROM groups WHERE slug = :s", {"s": slug}) == 0
    )


async def test_a_bad_proposal_says_every_problem_and_writes_nothing(client, arrange) -> None:
    proposer, taken = await arrange.user(name="pro"), await arrange.group()
    p = await logged_in(client, proposer)
    before = await arrange.db.fetch_val("SELECT count(*) FROM group_proposals")
    bad = await p.post_form(
        "/groups/propose",
        {
            "name": "Fine name",
            "slug": taken.slug,
            "visibility": "secret",
            "description": "",
            "aim": "x" * 1001,
            "conveners": "nobody_here_at_all, a, b, c, d, e",
        },
    )
    assert bad.status_code == 400
    for said in (
        "already uses that web address",
        "public or private",
        "short description cannot be empty",
        "1,001 characters long",
        "at most 5 other conveners",
        "no member called “nobody_here_at_all”",
    ):
        assert said in html.unescape(bad.text), said
    assert 'value="Fine name"' in bad.text  # what was typed comes back
    assert await arrange.db.fetch_val("SELECT count(*) FROM group_proposals") == before
    # Signed out: a log-in page; without the form's token: refused.
    async with httpx.AsyncClient(base_url=str(p.http.base_url), timeout=15) as anonymous:
        assert (await anonymous.get("/groups/propose")).status_code in (303, 401)
    no_csrf = await p.http.post("/groups/propose", data=proposal("No token"))
    assert no_csrf.status_code == 403


async def test_proposals_are_paced_and_only_admins_decide(client, arrange) -> None:
    proposer = await arrange.user(name="pro")
    p = await logged_in(client, proposer)
    for _ in range(PROPOSALS_PER_DAY):
        assert (
            await p.post_form("/groups/propose", proposal(f"G {unique('p')}"))
        ).status_code == 303
    paced = await p.post_form("/groups/propose", proposal(f"G {unique('p')}"))
    assert paced.status_code == 429 and "at most 3 groups a day" in paced.text
    assert (await p.get("/proposals")).status_code == 403
    proposal_id = await arrange.db.fetch_val(
        "SELECT max(id) FROM group_proposals WHERE proposer_id = :u", {"u": proposer.id}
    )
    decided = await p.post_form(f"/proposals/{proposal_id}/decide", {"decision": "approve"})
    assert decided.status_code == 403
    status = await arrange.db.fetch_val(
        "SELECT status FROM group_proposals WHERE id = :id", {"id": proposal_id}
    )
    assert status == "pending"
    a = await logged_in(client, await arrange.user(role="admin"))
    assert (
        await a.post_form("/proposals/999999/decide", {"decision": "approve"})
    ).status_code == 404


async def test_conveners_keep_the_statement_and_settings(client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    group = await arrange.group(members=(member,), conveners=(convener,))
    c = await logged_in(client, convener)
    form = STATEMENT | {
        "joining": "request",
        "members_listed": "everyone",
        "unanswered_hours": "24",
    }
    saved = await c.post_form(f"/g/{group.slug}/settings", form)
    assert saved.status_code == 303
    page = await c.get(f"/g/{group.slug}")
    assert STATEMENT["approach"] in page.text
    m = await logged_in(client, member)
    assert (await m.get(f"/g/{group.slug}/settings")).status_code == 403
    refused = await m.post_form(f"/g/{group.slug}/settings", form | {"aim": "Taken over"})
    assert refused.status_code == 403
    assert "Taken over" not in (await c.get(f"/g/{group.slug}")).text
    bad = await c.post_form(f"/g/{group.slug}/settings", form | {"joining": "anyhow"})
    assert bad.status_code == 400 and "Choose how people join" in bad.text
    private = await arrange.group("private", conveners=(convener,))
    opened = await c.post_form(f"/g/{private.slug}/settings", form | {"joining": "open"})
    assert opened.status_code == 400 and "joined by invitation only" in opened.text


async def test_asking_to_join_and_the_conveners_answer(server, client, arrange) -> None:
    convener, asker, other = [await arrange.user(name=n) for n in ("con", "ask", "oth")]
    group = await arrange.group(conveners=(convener,))
    await arrange.db.execute("UPDATE groups SET joining = 'request' WHERE id = :g", {"g": group.id})
    a = await logged_in(client, asker)
    page = await a.get(f"/g/{group.slug}")
    assert "Ask to join" in page.text and "Join this group" not in page.text
    assert (await a.post_form(f"/g/{group.slug}/join", {})).status_code == 403
    asked = await a.post_form(f"/g/{group.slug}/ask", {"message": "I care for my mum."})
    assert asked.status_code == 303
    assert "You asked to join" in (await a.get(f"/g/{group.slug}")).text
    assert (await a.post_form(f"/g/{group.slug}/ask", {"message": "again"})).status_code == 409
    assert (await told(server, arrange, convener))[0][
        "message"
    ] == f"{asker.username} asked to join “{group.name}”"

    c = await logged_in(client, convener)
    waiting = await c.get(f"/g/{group.slug}/requests")
    assert "I care for my mum." in waiting.text
    assert "Requests to join (1)" in (await c.get(f"/g/{group.slug}")).text
    o = await logged_in(client, other)
    assert (await o.get(f"/g/{group.slug}/requests")).status_code == 403
    assert (
        await o.post_form(
            f"/g/{group.slug}/requests/decide", {"username": asker.username, "decision": "approve"}
        )
    ).status_code == 403
    accepted = await c.post_form(
        f"/g/{group.slug}/requests/decide", {"username": asker.username, "decision": "approve"}
    )
    assert accepted.status_code == 303
    assert "You are a member" in (await a.get(f"/g/{group.slug}")).text
    assert (await told(server, arrange, asker))[0][
        "message"
    ] == f"You are now a member of “{group.name}”"
    # Decided already: a second answer finds nothing waiting.
    again = await c.post_form(
        f"/g/{group.slug}/requests/decide", {"username": asker.username, "decision": "decline"}
    )
    assert again.status_code == 404
    # A declined request tells the asker too.
    await o.post_form(f"/g/{group.slug}/ask", {})
    await c.post_form(
        f"/g/{group.slug}/requests/decide", {"username": other.username, "decision": "decline"}
    )
    assert "did not accept" in (await told(server, arrange, other))[0]["message"]
    # Asking again at once is refused (every ask tells every convener); a week later it is not.
    page = await o.get(f"/g/{group.slug}")
    assert "did not accept your request" in page.text and "Ask to join" not in page.text
    soon = await o.post_form(f"/g/{group.slug}/ask", {})
    assert soon.status_code == 409 and "You can ask again from" in soon.text
    await arrange.db.execute(
        "UPDATE join_requests SET declined_at = declined_at - 8 * 86400 WHERE user_id = :u",
        {"u": other.id},
    )
    assert (await o.post_form(f"/g/{group.slug}/ask", {})).status_code == 303
    assert other.username in (await c.get(f"/g/{group.slug}/requests")).text


async def test_invite_links_let_people_into_a_private_group(client, arrange) -> None:
    convener, guest_of_honour, second, third = [
        await arrange.user(name=n) for n in ("con", "inv", "sec", "thi")
    ]
    group = await arrange.group("private", conveners=(convener,))
    c = await logged_in(client, convener)
    made = await c.post_form(f"/g/{group.slug}/invites", {"days": "7", "uses": "2"})
    assert made.status_code == 200 and "shown only this once" in made.text
    link = re.search(r'value="(https?://[^"]+/invite/([^"]+))"', made.text)
    assert link is not None
    path = f"/invite/{link.group(2)}"
    # The link is not kept: the list shows its uses, never the link again.
    listed = await c.get(f"/g/{group.slug}/invites")
    assert link.group(2) not in listed.text and "used 0 of 2 times" in listed.text
    assert (
        await arrange.db.fetch_val(
            "SELECT count(*) FROM group_invites WHERE token_hash = :t", {"t": link.group(2)}
        )
        == 0
    )

    g = await logged_in(client, guest_of_honour)
    assert (await g.get(f"/g/{group.slug}")).status_code == 404  # invisible before
    landing = await g.get(path)
    assert landing.status_code == 200 and f"Join {group.name}" in landing.text
    joined = await g.post_form(path, {})
    assert joined.status_code == 303
    assert (await g.get(f"/g/{group.slug}")).status_code == 200
    assert (await g.post_form(path, {})).status_code == 303  # again: no use counted
    s = await logged_in(client, second)
    assert (await s.post_form(path, {})).status_code == 303
    t = await logged_in(client, third)
    used_up = await t.get(path)
    assert used_up.status_code == 410 and "used as many times as it allows" in used_up.text
    assert (await t.post_form(path, {})).status_code == 409
    assert (await t.get(f"/g/{group.slug}")).status_code == 404
    # A revoked link stops at once; an unknown one says nothing of any group.
    other = await c.post_form(f"/g/{group.slug}/invites", {"days": "1", "uses": "5"})
    other_link = re.search(r"/invite/([^\"]+)\"", other.text)
    assert other_link is not None
    invite_id = await arrange.db.fetch_val(
        "SELECT max(id) FROM group_invites WHERE group_id = :g", {"g": group.id}
    )
    assert (
        await c.post_form(f"/g/{group.slug}/invites", {"revoke": str(invite_id)})
    ).status_code == 303
    revoked = await t.get(f"/invite/{other_link.group(1)}")
    assert revoked.status_code == 410 and "turned off" in revoked.text
    unknown = await t.get("/invite/not-a-real-link")
    assert unknown.status_code == 404 and group.name not in unknown.text
    bad = await c.post_form(f"/g/{group.slug}/invites", {"days": "3", "uses": "0"})
    assert bad.status_code == 400 and "a day, a week or 30 days" in bad.text
    # Only conveners make links.
    assert (
        await g.post_form(f"/g/{group.slug}/invites", {"days": "7", "uses": "2"})
    ).status_code == 403


async def test_removing_and_banning_keep_someone_out(client, arrange) -> None:
    convener, member, moderator = (
        await arrange.user(name="con"),
        await arrange.user(name="mem"),
        await arrange.user(name="mod", role="moderator"),
    )
    second = await arrange.user(name="sec")
    group = await arrange.group(members=(member,), conveners=(convener, second))
    c = await logged_in(client, convener)
    banned = await c.post_form(
        f"/g/{group.slug}/members/remove",
        {"username": member.username, "action": "ban", "reason": "Spam links."},
    )
    assert banned.status_code == 303
    members = await c.get(f"/g/{group.slug}/members")
    assert "Banned" in members.text and "Spam links." in members.text
    m = await logged_in(client, member)
    assert (await m.post_form(f"/g/{group.slug}/join", {})).status_code == 403
    assert "removed you" in (await m.post_form(f"/g/{group.slug}/join", {})).text
    added = await c.post_form(f"/g/{group.slug}/members/add", {"username": member.username})
    assert added.status_code == 400 and "banned from this group" in added.text
    made = await c.post_form(f"/g/{group.slug}/invites", {"days": "7", "uses": "5"})
    link = re.search(r"/invite/([^\"]+)\"", made.text)
    assert link is not None
    assert (await m.post_form(f"/invite/{link.group(1)}", {})).status_code == 403
    lifted = await c.post_form(
        f"/g/{group.slug}/members/remove", {"username": member.username, "action": "lift_ban"}
    )
    assert lifted.status_code == 303
    assert (await m.post_form(f"/g/{group.slug}/join", {})).status_code == 303
    # Remove (no ban): they can come back. A convener cannot remove another convener, nor
    # themselves; site staff can remove a convener, not the last one.
    removed = await c.post_form(
        f"/g/{group.slug}/members/remove", {"username": member.username, "action": "remove"}
    )
    assert removed.status_code == 303
    assert "You are a member" not in (await m.get(f"/g/{group.slug}")).text
    other = await c.post_form(
        f"/g/{group.slug}/members/remove", {"username": second.username, "action": "remove"}
    )
    assert other.status_code == 403
    myself = await c.post_form(
        f"/g/{group.slug}/members/remove", {"username": convener.username, "action": "remove"}
    )
    assert myself.status_code == 400 and "Leave" in myself.text
    mod = await logged_in(client, moderator)
    assert (
        await mod.post_form(
            f"/g/{group.slug}/members/remove", {"username": second.username, "action": "remove"}
        )
    ).status_code == 303
    last = await mod.post_form(
        f"/g/{group.slug}/members/remove", {"username": convener.username, "action": "remove"}
    )
    assert last.status_code == 400 and "only convener" in last.text
    demote = await c.post_form(
        f"/g/{group.slug}/members/role", {"username": convener.username, "role": "member"}
    )
    assert demote.status_code == 400 and "only convener" in demote.text
    # A plain member cannot remove anyone.
    await m.post_form(f"/g/{group.slug}/join", {})
    refused = await m.post_form(
        f"/g/{group.slug}/members/remove", {"username": convener.username, "action": "ban"}
    )
    assert refused.status_code == 403


async def test_who_sees_the_member_list(client, arrange) -> None:
    convener, outsider = await arrange.user(name="con"), await arrange.user(name="out")
    group = await arrange.group(conveners=(convener,))
    o = await logged_in(client, outsider)
    assert (await o.get(f"/g/{group.slug}/members")).status_code == 403
    assert f"/g/{group.slug}/members" not in (await o.get(f"/g/{group.slug}")).text
    await arrange.db.execute(
        "UPDATE groups SET members_listed = 'everyone' WHERE id = :g", {"g": group.id}
    )
    listed = await o.get(f"/g/{group.slug}/members")
    assert listed.status_code == 200 and convener.username in listed.text
    assert "Remove" not in listed.text
    private = await arrange.group("private", conveners=(convener,))
    await arrange.db.execute(
        "UPDATE groups SET members_listed = 'everyone' WHERE id = :g", {"g": private.id}
    )
    assert (await o.get(f"/g/{private.slug}/members")).status_code == 404
    headers = await key_headers(arrange.db, outsider)
    assert (await o.http.get(f"/g/{private.slug}/invites", headers=headers)).status_code == 404


async def age(arrange: Arrange, topic_id: int, hours: float) -> None:
    """The topic as if started `hours` ago."""
    await arrange.db.execute(
        "UPDATE topics SET created_at = created_at - :s WHERE id = :t",
        {"s": hours * 3600, "t": topic_id},
    )


async def test_no_topic_goes_unanswered(server, client, arrange) -> None:
    convener, author, helper = [await arrange.user(name=n) for n in ("con", "aut", "hlp")]
    group = await arrange.group(members=(author, helper), conveners=(convener,))
    waiting = await arrange.topic(group, author, "Anyone else get night sweats?")
    fresh = await arrange.topic(group, author, "Just asked")
    await age(arrange, waiting.topic_id, 25)
    c = await logged_in(client, convener)
    page = await c.get("/unanswered")
    assert page.status_code == 200 and "Anyone else get night sweats?" in page.text
    assert "Just asked" not in page.text  # not yet 24 hours
    assert "data-unanswered-count>1<" in page.text  # the header, on every page
    # Everyone can filter the group's list to the unanswered ones, whatever their age.
    listed = await (client()).get(f"/g/{group.slug}?show=unanswered")
    assert "Anyone else get night sweats?" in listed.text and "Just asked" in listed.text
    # The author's own reply does not answer it; someone else's does, live.
    await arrange.reply(waiting.topic_id, author, "Bumping this.")
    assert "Anyone else get night sweats?" in (await c.get("/unanswered")).text
    async with live(server.base_url, await key_headers(arrange.db, convener)) as socket:
        assert (await socket.subscribe("review"))["type"] == "subscribed"
        await arrange.reply(waiting.topic_id, helper, "Yes, every night for a month.")
        event = await socket.until(lambda f: f.get("kind") == "topic.answered")
        assert event["data"] == {
            "topic_id": waiting.topic_id,
            "group_id": group.id,
            "waiting": True,
        }
    after = await c.get("/unanswered")
    assert (
        "Anyone else get night sweats?" not in after.text
        and "data-unanswered-count" not in after.text
    )
    listed = await (client()).get(f"/g/{group.slug}?show=unanswered")
    assert "Anyone else get night sweats?" not in listed.text and "Just asked" in listed.text
    # The hours are the group's to set.
    saved = await c.post_form(
        f"/g/{group.slug}/settings",
        STATEMENT | {"joining": "open", "members_listed": "members", "unanswered_hours": "1"},
    )
    assert saved.status_code == 303
    await age(arrange, fresh.topic_id, 2)
    assert "Just asked" in (await c.get("/unanswered")).text
    for bad in ("0", "721", "soon"):
        refused = await c.post_form(
            f"/g/{group.slug}/settings",
            STATEMENT | {"joining": "open", "members_listed": "members", "unanswered_hours": bad},
        )
        assert refused.status_code == 400 and "after how many hours" in refused.text


async def test_the_unanswered_list_is_for_conveners(client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    private = await arrange.group("private", members=(member,), conveners=(convener,))
    other = await arrange.group(members=(member,))
    secret = await arrange.topic(private, member, "A private worry")
    elsewhere = await arrange.topic(other, member, "Not this convener's group")
    closed = await arrange.topic(private, member, "Closed already")
    for topic in (secret, elsewhere, closed):
        await age(arrange, topic.topic_id, 48)
    await arrange.db.execute(
        "UPDATE topics SET closed = TRUE WHERE id = :t", {"t": closed.topic_id}
    )
    m = await logged_in(client, member)
    assert (await m.get("/unanswered")).status_code == 403
    c = await logged_in(client, convener)
    page = await c.get("/unanswered")
    assert "A private worry" in page.text
    assert "Not this convener's group" not in page.text and "Closed already" not in page.text
    # Outsiders learn nothing of a private group's topics from the filter either.
    outsider = await logged_in(client, await arrange.user(name="out"))
    assert (await outsider.get(f"/g/{private.slug}?show=unanswered")).status_code == 404


async def test_asking_is_paced_and_banned_people_cannot_ask(client, arrange) -> None:
    asker, convener = await arrange.user(name="ask"), await arrange.user(name="con")
    groups = [await arrange.group(conveners=(convener,)) for _ in range(ASKS_PER_HOUR + 1)]
    for group in groups:
        await arrange.db.execute(
            "UPDATE groups SET joining = 'request' WHERE id = :g", {"g": group.id}
        )
    a = await logged_in(client, asker)
    for group in groups[:-1]:
        assert (await a.post_form(f"/g/{group.slug}/ask", {})).status_code == 303
    paced = await a.post_form(f"/g/{groups[-1].slug}/ask", {})
    assert paced.status_code == 429
    assert (
        await arrange.db.fetch_val(
            "SELECT count(*) FROM join_requests WHERE group_id = :g", {"g": groups[-1].id}
        )
        == 0
    )
    c = await logged_in(client, convener)
    banned = await c.post_form(
        f"/g/{groups[0].slug}/members/remove", {"username": asker.username, "action": "ban"}
    )
    assert banned.status_code == 303
    # The ban takes the waiting request with it, and keeps them from asking again.
    assert asker.username not in (await c.get(f"/g/{groups[0].slug}/requests")).text
    page = await a.get(f"/g/{groups[0].slug}")
    assert "cannot join it again" in page.text and "Ask to join" not in page.text


async def test_conveners_act_only_on_their_own_groups(client, arrange) -> None:
    convener, member, outsider = [await arrange.user(name=n) for n in ("con", "mem", "out")]
    mine = await arrange.group(conveners=(convener,))
    theirs = await arrange.group(members=(member,))
    private = await arrange.group("private", members=(member,))
    c = await logged_in(client, convener)
    for path, form in (
        (f"/g/{theirs.slug}/settings", STATEMENT | {"joining": "open"}),
        (f"/g/{theirs.slug}/invites", {"days": "7", "uses": "5"}),
        (f"/g/{theirs.slug}/requests/decide", {"username": member.username, "decision": "approve"}),
        (f"/g/{theirs.slug}/members/remove", {"username": member.username, "action": "ban"}),
    ):
        assert (await c.post_form(path, form)).status_code == 403, path
    assert (await c.get(f"/g/{theirs.slug}/requests")).status_code == 403
    assert (
        await arrange.db.fetch_val(
            "SELECT count(*) FROM group_bans WHERE group_id = :g", {"g": theirs.id}
        )
        == 0
    )
    # A private group is not there at all for those outside it.
    o = await logged_in(client, outsider)
    for path in ("settings", "requests", "invites"):
        assert (await o.get(f"/g/{private.slug}/{path}")).status_code == 404, path
    for path in ("ask", "settings", "invites", "members/remove", "requests/decide"):
        response = await o.post_form(f"/g/{private.slug}/{path}", {"username": member.username})
        assert response.status_code == 404, path
    del mine


async def test_only_staff_take_the_convener_role_from_another(client, arrange) -> None:
    first, second = await arrange.user(name="one"), await arrange.user(name="two")
    moderator = await arrange.user(name="mod", role="moderator")
    group = await arrange.group(conveners=(first, second))
    c = await logged_in(client, first)
    demote = await c.post_form(
        f"/g/{group.slug}/members/role", {"username": second.username, "role": "member"}
    )
    assert demote.status_code == 403
    assert (
        'Remove convener role<span class="visually-hidden"> from ' + second.username
        not in (await c.get(f"/g/{group.slug}/members")).text
    )
    # Stepping down oneself is fine while another convener remains.
    assert (
        await c.post_form(
            f"/g/{group.slug}/members/role", {"username": first.username, "role": "member"}
        )
    ).status_code == 303
    m = await logged_in(client, moderator)
    assert (
        await m.post_form(
            f"/g/{group.slug}/members/role", {"username": second.username, "role": "member"}
        )
    ).status_code == 400  # the last convener


async def test_a_private_groups_address_is_not_given_away(client, arrange) -> None:
    proposer, admin = await arrange.user(name="pro"), await arrange.user(role="admin")
    private = await arrange.group("private")
    p = await logged_in(client, proposer)
    sent = await p.post_form("/groups/propose", proposal("Anything", slug=private.slug))
    assert sent.status_code == 303  # no hint that the address is taken
    a = await logged_in(client, admin)
    proposal_id = await arrange.db.fetch_val(
        "SELECT id FROM group_proposals WHERE slug = :s", {"s": private.slug}
    )
    approved = await a.post_form(f"/proposals/{proposal_id}/decide", {"decision": "approve"})
    assert approved.status_code == 409 and "already uses the web address" in approved.text
    status = await arrange.db.fetch_val(
        "SELECT status FROM group_proposals WHERE id = :id", {"id": proposal_id}
    )
    assert status == "pending"  # nothing half-done: the admin can decline it


async def test_an_old_request_never_demotes_a_convener(client, arrange) -> None:
    asker, convener = await arrange.user(name="ask"), await arrange.user(name="con")
    group = await arrange.group(conveners=(convener,))
    await arrange.db.execute("UPDATE groups SET joining = 'request' WHERE id = :g", {"g": group.id})
    a = await logged_in(client, asker)
    await a.post_form(f"/g/{group.slug}/ask", {})
    c = await logged_in(client, convener)
    added = await c.post_form(
        f"/g/{group.slug}/members/add", {"username": asker.username, "role": "convener"}
    )
    assert added.status_code == 303
    late = await c.post_form(
        f"/g/{group.slug}/requests/decide", {"username": asker.username, "decision": "approve"}
    )
    assert late.status_code == 404
    role = await arrange.db.fetch_val(
        "SELECT role FROM memberships WHERE group_id = :g AND user_id = :u",
        {"g": group.id, "u": asker.id},
    )
    assert role == "convener"


async def test_an_expired_invite_link_says_so(client, arrange) -> None:
    convener, guest = await arrange.user(name="con"), await arrange.user(name="gst")
    group = await arrange.group(conveners=(convener,))
    private = await arrange.group("private", conveners=(convener,))
    c = await logged_in(client, convener)
    links = []
    for g in (group, private):
        made = await c.post_form(f"/g/{g.slug}/invites", {"days": "1", "uses": "5"})
        found = re.search(r"/invite/([^\"]+)\"", made.text)
        assert found is not None
        links.append(found.group(1))
    await arrange.db.execute("UPDATE group_invites SET expires_at = expires_at - 2 * 86400")
    v = await logged_in(client, guest)
    public_link = await v.get(f"/invite/{links[0]}")
    assert public_link.status_code == 410 and "has expired" in public_link.text
    assert group.name in public_link.text
    private_link = await v.get(f"/invite/{links[1]}")
    assert private_link.status_code == 410 and "has expired" in private_link.text
    assert private.name not in private_link.text  # a dead link names a private group to nobody
    assert (await v.post_form(f"/invite/{links[1]}", {})).status_code == 409


async def test_new_members_are_invited_to_introduce_themselves(client, arrange) -> None:
    proposer, admin = await arrange.user(name="pro"), await arrange.user(role="admin")
    newcomer, shy = await arrange.user(name="new"), await arrange.user(name="shy")
    p = await logged_in(client, proposer)
    await p.post_form("/groups/propose", proposal(f"Carers {unique('c')}"))
    proposal_id = await arrange.db.fetch_val(
        "SELECT max(id) FROM group_proposals WHERE proposer_id = :u", {"u": proposer.id}
    )
    a = await logged_in(client, admin)
    approved = await a.post_form(f"/proposals/{proposal_id}/decide", {"decision": "approve"})
    slug = approved.headers["location"].rsplit("/", 1)[1]
    intro = await arrange.db.fetch_one(
        "SELECT t.id, t.title, t.pinned, t.user_id FROM groups g"
        " JOIN topics t ON t.id = g.introductions_topic_id WHERE g.slug = :s",
        {"s": slug},
    )
    assert intro is not None and intro["title"] == "Introductions"
    assert bool(intro["pinned"]) and intro["user_id"] == proposer.id
    # Not for visitors, nor before joining; on joining, until they say hello.
    assert "Introduce yourself" not in (await client().get(f"/g/{slug}")).text
    n = await logged_in(client, newcomer)
    assert "Introduce yourself" not in (await n.get(f"/g/{slug}")).text
    assert (await n.post_form(f"/g/{slug}/join", {})).status_code == 303
    page = await n.get(f"/g/{slug}")
    assert "What drew you to join?" in page.text
    assert f'href="/t/introductions/{intro["id"]}#reply-h"' in page.text
    await arrange.reply(int(intro["id"]), newcomer, "Hello, I look after my dad.")
    assert "What drew you to join?" not in (await n.get(f"/g/{slug}")).text
    # Or they put it away.
    s = await logged_in(client, shy)
    await s.post_form(f"/g/{slug}/join", {})
    assert "What drew you to join?" in (await s.get(f"/g/{slug}")).text
    # The newcomer's hello is marked for the others to welcome; the founder's invitation not.
    hellos = (await s.get(f"/t/introductions/{intro['id']}")).text
    assert hellos.count("First post in this group") == 1
    assert 'reply?to=2">Say welcome' in hellos
    assert (await s.post_form(f"/g/{slug}/welcome", {})).status_code == 303
    assert "What drew you to join?" not in (await s.get(f"/g/{slug}")).text
    # Only members put it away.
    outsider = await logged_in(client, await arrange.user(name="out"))
    assert (await outsider.post_form(f"/g/{slug}/welcome", {})).status_code == 400


async def test_invite_links_are_capped_and_the_welcome_is_for_members(client, arrange) -> None:
    convener, outsider = await arrange.user(name="con"), await arrange.user(name="out")
    private = await arrange.group("private", conveners=(convener,))
    c = await logged_in(client, convener)
    for _ in range(MAX_WORKING_INVITES):
        made = await c.post_form(f"/g/{private.slug}/invites", {"days": "1", "uses": "1"})
        assert made.status_code == 200
    capped = await c.post_form(f"/g/{private.slug}/invites", {"days": "1", "uses": "1"})
    assert capped.status_code == 400 and "Turn one off" in capped.text
    assert (
        await arrange.db.fetch_val(
            "SELECT count(*) FROM group_invites WHERE group_id = :g", {"g": private.id}
        )
        == MAX_WORKING_INVITES
    )
    o = await logged_in(client, outsider)
    assert (await o.post_form(f"/g/{private.slug}/welcome", {})).status_code == 404
    no_token = await c.http.post(f"/g/{private.slug}/welcome", data={})
    assert no_token.status_code == 403


async def test_a_members_first_post_is_marked_for_the_others_to_welcome(
    server, client, arrange
) -> None:
    convener, old_hand = await arrange.user(name="con"), await arrange.user(name="old")
    newcomer = await arrange.user(name="new")
    group = await arrange.group(conveners=(convener,), members=(old_hand,))
    opened = await arrange.topic(group, old_hand, "Pacing on bad days", "What helps you?")
    n = await logged_in(client, newcomer)
    assert (await n.post_form(f"/g/{group.slug}/join", {})).status_code == 303
    path = f"/t/pacing-on-bad-days/{opened.topic_id}"
    async with live(server.base_url, await key_headers(arrange.db, convener)) as c:
        assert (await c.subscribe(f"topic:{opened.topic_id}"))["type"] == "subscribed"
        first = await arrange.reply(opened.topic_id, newcomer, "Lying down at noon.")
        arrived = await next_post_event(c, "post.created", first.post_number)
        # Live, with the same mark and link a reload shows the convener.
        assert "First post in this group" in arrived["html"]
        assert controls(arrived["html"]) == ["Say welcome", "Quote and reply", "Flag"]
        page = await page_as(server, path, await key_headers(arrange.db, convener))
        assert arrived["html"] == article(page, first.post_number)
    second = await arrange.reply(opened.topic_id, newcomer, "And a short walk.")

    def marked(html: str) -> list[int]:
        return [
            number
            for number in (opened.post_number, first.post_number, second.post_number)
            if "First post in this group" in article(html, number)
        ]

    c_page = await (await logged_in(client, convener)).get(path)
    assert marked(c_page.text) == [1, first.post_number]
    say = f'href="/t/{opened.topic_id}/reply?to={first.post_number}">Say welcome'
    assert say in c_page.text
    # The newcomer is not told they are new; readers who cannot answer get no prompt.
    assert marked((await n.get(path)).text) == [1]
    assert marked((await client().get(path)).text) == []
    posts = (await client().get(f"/t/{opened.topic_id}.json")).json()["post_stream"]["posts"]
    assert [p["first_in_group"] for p in posts] == [True, True, False]
    # A post in another group is a first there too.
    elsewhere = await arrange.group(members=(newcomer,))
    other = await arrange.topic(elsewhere, newcomer, "Hello from here", "Hi all.")
    other_page = await (await logged_in(client, convener)).get(
        f"/t/hello-from-here/{other.topic_id}"
    )
    assert "First post in this group" in other_page.text


async def test_a_ban_and_a_join_racing_never_leave_a_banned_member(arrange) -> None:
    convener = await arrange.user(name="con")
    group = await arrange.group(conveners=(convener,))
    for _ in range(8):
        person = await arrange.user(name="racer")
        await asyncio.gather(
            do_join_group(arrange.forum, person, group.id),
            membership.do_remove_member(
                arrange.forum, convener, group.id, person.username, ban=True
            ),
            return_exceptions=True,  # the join refused after the ban: as it should be
        )
        state = await arrange.db.fetch_one(
            "SELECT EXISTS (SELECT 1 FROM memberships WHERE group_id = :g AND user_id = :u)"
            " AS member, EXISTS (SELECT 1 FROM group_bans WHERE group_id = :g AND user_id = :u)"
            " AS banned",
            {"g": group.id, "u": person.id},
        )
        assert state is not None and bool(state["banned"]) and not bool(state["member"])


async def test_an_answer_hidden_or_removed_leaves_its_topic_waiting(client, arrange) -> None:
    author, helper = await arrange.user(name="aut"), await arrange.user(name="hlp")
    moderator = await arrange.user(role="moderator", name="mod")
    group = await arrange.group(members=(author, helper))
    asked = await arrange.topic(group, author, "Does anyone nap after lunch?")
    answer = await arrange.reply(asked.topic_id, helper, "Every day, twenty minutes.")
    path = f"/g/{group.slug}?show=unanswered"

    async def waiting() -> bool:
        return "Does anyone nap after lunch?" in (await client().get(path)).text

    assert not await waiting()
    await do_flag_post(arrange.forum, moderator, answer.post_id, "inappropriate", "")
    assert await waiting()  # hidden at once by a moderator's flag: nobody answered it now
    item = await arrange.db.fetch_one(
        "SELECT id, version FROM review_items WHERE kind = 'post' AND target_id = :p",
        {"p": answer.post_id},
    )
    assert item is not None
    await do_review(arrange.forum, moderator, item["id"], Decision("approve", item["version"]))
    assert not await waiting()  # shown again: answered again
    another = await arrange.user(role="moderator", name="mod")
    await do_flag_post(arrange.forum, another, answer.post_id, "inappropriate", "")
    item = await arrange.db.fetch_one(
        "SELECT id, version FROM review_items WHERE kind = 'post' AND target_id = :p"
        " ORDER BY id DESC",
        {"p": answer.post_id},
    )
    assert item is not None
    await do_review(arrange.forum, moderator, item["id"], Decision("delete", item["version"]))
    assert await waiting()
