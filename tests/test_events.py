"""A group's events (issue 12) on SQLite and PostgreSQL: scheduling, answering, the waiting
list, changes and cancellations told, calendar files and feeds (public, and each member's
private address), what a private group hides, who may do what, and bad input."""

from __future__ import annotations

import asyncio
import html
import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx

from forum.actions import events as event_actions
from forum.forms import Input
from tests.conftest import Arrange, Client, logged_in
from tests.test_debates import schedule
from tests.test_founding import told

LONDON = ZoneInfo("Europe/London")


def local(ts: float) -> str:
    return datetime.fromtimestamp(ts, LONDON).strftime("%Y-%m-%dT%H:%M")


def plan(arrange: Arrange, title: str = "Walking group", **extra: str) -> dict[str, str]:
    start = arrange.forum.now() + 2 * 86400
    return {
        "title": title,
        "description": "A gentle walk, then tea.",
        "starts_at": local(start),
        "ends_at": local(start + 5400),
        "time_zone": "Europe/London",
        "place": "Victoria Park gates",
        **extra,
    }


def event_id_of(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    found = re.search(r"/events/(\d+)\?saved=1", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


async def answer(c: Client, slug: str, event_id: int, choice: str) -> httpx.Response:
    return await c.post_form(f"/g/{slug}/events/{event_id}/answer", {"answer": choice})


async def stored_answer(arrange: Arrange, event_id: int, user: Any) -> str | None:
    found = await arrange.db.fetch_val(
        "SELECT answer FROM group_event_answers WHERE event_id = :e AND user_id = :u",
        {"e": event_id, "u": user.id},
    )
    return str(found) if found is not None else None


async def test_conveners_schedule_events_and_members_answer(server, client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    group = await arrange.group(members=(member,), conveners=(convener,))
    c = await logged_in(client, convener)
    form = await c.get(f"/g/{group.slug}/events/new")
    assert form.status_code == 200 and 'name="starts_at"' in form.text
    made = await c.post_form(
        f"/g/{group.slug}/events/new", plan(arrange, online_url="https://meet.example.org/walk")
    )
    event_id = event_id_of(made)
    page = await c.get(made.headers["location"])
    assert "Walking group" in page.text and "Victoria Park gates" in page.text
    assert "meet.example.org" in page.text

    m = await logged_in(client, member)
    said = await answer(m, group.slug, event_id, "going")
    assert said.status_code == 303
    shown = await m.get(said.headers["location"])
    assert "Saved." in shown.text and "Your answer: <strong>Going</strong>" in shown.text
    assert f">{member.username}</a>" in shown.text.split('id="who-h"')[1]
    assert await stored_answer(arrange, event_id, member) == "going"
    await answer(m, group.slug, event_id, "maybe")
    assert await stored_answer(arrange, event_id, member) == "maybe"
    # The group page and the list show it coming up; the JSON too.
    group_page = await m.get(f"/g/{group.slug}")
    assert "Walking group" in group_page.text.split('id="events-h"')[1]
    listing = (await m.http.get(f"/g/{group.slug}/events.json")).json()
    assert [e["title"] for e in listing["upcoming"]] == ["Walking group"]
    assert listing["upcoming"][0]["place"] == "Victoria Park gates"
    # The convener changes the time: those who answered are told.
    changed = plan(arrange, title="Walking group (longer)")
    moved = await c.post_form(
        f"/g/{group.slug}/events/{event_id}/edit",
        changed
        | {
            "starts_at": local(arrange.forum.now() + 3 * 86400),
            "ends_at": local(arrange.forum.now() + 3 * 86400 + 7200),
        },
    )
    assert moved.status_code == 303
    edit_form = await c.get(f"/g/{group.slug}/events/{event_id}/edit")
    assert f'value="{local(arrange.forum.now() + 3 * 86400)}"' in edit_form.text
    assert any("new time or place" in n["message"] for n in await told(server, arrange, member))


async def test_a_full_event_keeps_a_waiting_list_in_turn(server, client, arrange) -> None:
    convener = await arrange.user(name="con")
    people = [await arrange.user(name=f"p{i}") for i in range(4)]
    group = await arrange.group(members=tuple(people), conveners=(convener,))
    c = await logged_in(client, convener)
    event_id = event_id_of(
        await c.post_form(f"/g/{group.slug}/events/new", plan(arrange, capacity="2"))
    )
    clients = [await logged_in(client, p) for p in people]
    for each in clients:
        await answer(each, group.slug, event_id, "going")
    assert [await stored_answer(arrange, event_id, p) for p in people] == [
        "going",
        "going",
        "waiting",
        "waiting",
    ]
    page = await clients[3].get(f"/g/{group.slug}/events/{event_id}")
    assert "You are on the waiting list, number 2." in page.text
    assert "2 of 2 taken, 2 waiting" in page.text
    # Saying "going" again keeps one's place, and one's turn.
    await answer(clients[1], group.slug, event_id, "going")
    await answer(clients[2], group.slug, event_id, "going")
    assert await stored_answer(arrange, event_id, people[2]) == "waiting"
    # A place given up goes to the first waiting, who is told.
    await answer(clients[0], group.slug, event_id, "not_going")
    assert await stored_answer(arrange, event_id, people[2]) == "going"
    assert await stored_answer(arrange, event_id, people[3]) == "waiting"
    assert any("A place came free" in n["message"] for n in await told(server, arrange, people[2]))
    # More places: the rest of the list goes.
    more = plan(arrange, capacity="3")
    assert (await c.post_form(f"/g/{group.slug}/events/{event_id}/edit", more)).status_code == 303
    assert await stored_answer(arrange, event_id, people[3]) == "going"


async def test_two_answers_racing_for_the_last_place(client, arrange) -> None:
    convener, a, b = [await arrange.user(name=n) for n in ("con", "a", "b")]
    group = await arrange.group(members=(a, b), conveners=(convener,))
    event_id = await event_actions.do_schedule_event(
        arrange.forum,
        convener,
        group.id,
        Input({k: [v] for k, v in plan(arrange, capacity="1").items()}),
    )
    await asyncio.gather(
        *(event_actions.do_answer(arrange.forum, p, group.id, event_id, "going") for p in (a, b))
    )
    answers = sorted([await stored_answer(arrange, event_id, p) or "" for p in (a, b)])
    assert answers == ["going", "waiting"]


async def test_calendar_feeds_public_and_private(client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    public = await arrange.group(members=(member,), conveners=(convener,))
    c = await logged_in(client, convener)
    event_id = event_id_of(await c.post_form(f"/g/{public.slug}/events/new", plan(arrange)))
    await schedule(arrange.forum, convener, public)
    feed = await client().http.get(f"/g/{public.slug}/events.ics")
    assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
    body = unfolded(feed.text)
    assert "SUMMARY:Walking group" in body and "SUMMARY:Hot topic: Prehab: what works?" in body
    assert "LOCATION:Victoria Park gates" in body and "STATUS:CONFIRMED" in body
    one = await client().http.get(f"/g/{public.slug}/events/{event_id}.ics")
    assert one.status_code == 200 and "attachment" in one.headers["content-disposition"]
    assert unfolded(one.text).count("BEGIN:VEVENT") == 1
    # A cancelled event stays in the feed, marked so, with a higher SEQUENCE.
    await c.post_form(f"/g/{public.slug}/events/{event_id}/cancel", {})
    body = unfolded((await client().http.get(f"/g/{public.slug}/events.ics")).text)
    assert "STATUS:CANCELLED" in body and "SEQUENCE:1" in body

    private = await arrange.group("private", members=(member,), conveners=(convener,))
    await c.post_form(f"/g/{private.slug}/events/new", plan(arrange, title="Members' meeting"))
    assert (await client().http.get(f"/g/{private.slug}/events.ics")).status_code == 404
    m = await logged_in(client, member)
    page = await m.get(f"/g/{private.slug}/events")
    address = re.search(r'id="private-feed" type="text" readonly value="([^"]+)"', page.text)
    assert address is not None
    path = httpx.URL(html.unescape(address.group(1))).path
    # The address is the key: a calendar app sends no login.
    private_feed = await client().http.get(path)
    assert private_feed.status_code == 200 and "Members' meeting" in unfolded(private_feed.text)
    tampered = re.sub(r"-[0-9a-f]{32}\.ics$", "-" + "0" * 32 + ".ics", path)
    assert (await client().http.get(tampered)).status_code == 404
    # A new address ends the old one.
    reset = await m.post_form(f"/g/{private.slug}/calendar/reset", {})
    assert reset.status_code == 303
    assert "The old one no longer works" in (await m.get(reset.headers["location"])).text
    assert (await client().http.get(path)).status_code == 404
    newer = re.search(
        r'id="private-feed" type="text" readonly value="([^"]+)"',
        (await m.get(f"/g/{private.slug}/events")).text,
    )
    assert newer is not None
    new_path = httpx.URL(html.unescape(newer.group(1))).path
    assert new_path != path and (await client().http.get(new_path)).status_code == 200
    # A member who leaves loses the feed.
    await m.post_form(f"/g/{private.slug}/leave", {})
    assert (await client().http.get(new_path)).status_code == 404


def unfolded(text: str) -> str:
    """iCalendar folds long lines (CRLF and a space): joined again to search them."""
    return text.replace("\r\n ", "").replace("\\,", ",").replace("\\;", ";")


async def test_a_private_groups_events_are_hidden(client, arrange) -> None:
    convener, outsider = await arrange.user(name="con"), await arrange.user(name="out")
    private = await arrange.group("private", conveners=(convener,))
    c = await logged_in(client, convener)
    event_id = event_id_of(
        await c.post_form(f"/g/{private.slug}/events/new", plan(arrange, title="Secret walk"))
    )
    o = await logged_in(client, outsider)
    base = f"/g/{private.slug}/events"
    for who in (o, client()):
        for path in (
            base,
            f"{base}.json",
            f"{base}.ics",
            f"{base}/{event_id}",
            f"{base}/{event_id}.ics",
        ):
            got = await who.http.get(path)
            assert got.status_code == 404 and "Secret walk" not in got.text, path
    await o.get("/")
    assert (await answer(o, private.slug, event_id, "going")).status_code == 404
    assert (await o.post_form(f"{base}/new", plan(arrange))).status_code == 404
    assert (await o.post_form(f"{base}/{event_id}/cancel", {})).status_code == 404
    assert (await o.post_form(f"/g/{private.slug}/calendar/reset", {})).status_code == 404


async def test_who_may_schedule_answer_and_cancel(server, client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    reader = await arrange.user(name="reader")
    group = await arrange.group(members=(member,), conveners=(convener,))
    c = await logged_in(client, convener)
    event_id = event_id_of(await c.post_form(f"/g/{group.slug}/events/new", plan(arrange)))
    m = await logged_in(client, member)
    assert (await m.get(f"/g/{group.slug}/events/new")).status_code == 403
    assert (await m.post_form(f"/g/{group.slug}/events/new", plan(arrange))).status_code == 403
    assert (
        await m.post_form(f"/g/{group.slug}/events/{event_id}/edit", plan(arrange))
    ).status_code == 403
    assert (await m.post_form(f"/g/{group.slug}/events/{event_id}/cancel", {})).status_code == 403
    # A reader of the public group who has not joined is asked to join first.
    r = await logged_in(client, reader)
    page = await r.get(f"/g/{group.slug}/events/{event_id}")
    assert "Join the group to say whether you are coming." in page.text
    assert (await answer(r, group.slug, event_id, "going")).status_code == 403
    anonymous = client()
    await anonymous.get("/")
    assert (await answer(anonymous, group.slug, event_id, "going")).status_code in (401, 403)
    assert (
        await m.http.post(f"/g/{group.slug}/events/{event_id}/answer", data={"answer": "going"})
    ).status_code == 403
    await answer(m, group.slug, event_id, "going")
    # Cancelled: everyone who answered is told, and answers close.
    assert (await c.post_form(f"/g/{group.slug}/events/{event_id}/cancel", {})).status_code == 303
    assert any("is cancelled" in n["message"] for n in await told(server, arrange, member))
    closed = await answer(m, group.slug, event_id, "maybe")
    assert closed.status_code == 400 and "This event is cancelled." in closed.text
    assert "This event is cancelled." in (await m.get(f"/g/{group.slug}/events/{event_id}")).text
    # An event that is over takes no answers.
    later = event_id_of(await c.post_form(f"/g/{group.slug}/events/new", plan(arrange)))
    now = arrange.forum.now()
    await arrange.db.execute(
        "UPDATE group_events SET starts_at = :s, ends_at = :e WHERE id = :id",
        {"s": now - 7200, "e": now - 3600, "id": later},
    )
    over = await answer(m, group.slug, later, "going")
    assert over.status_code == 400 and "This event is over." in over.text
    assert "Walking group" in (await m.get(f"/g/{group.slug}/events")).text.split("Past events")[1]


async def test_bad_event_input_gets_a_clear_answer(client, arrange) -> None:
    convener = await arrange.user(name="con")
    group = await arrange.group(conveners=(convener,))
    other = await arrange.group(conveners=(convener,))
    c = await logged_in(client, convener)
    now = arrange.forum.now()
    everything_wrong = {
        "title": "",
        "starts_at": local(now - 86400),
        "ends_at": local(now - 90000),
        "time_zone": "Europe/London",
        "online_url": "javascript:alert(1)",
        "capacity": "0",
    }
    refused = await c.post_form(f"/g/{group.slug}/events/new", everything_wrong)
    text = html.unescape(refused.text)
    assert refused.status_code == 400
    for message in (
        "The title cannot be empty.",
        "The start is in the past",
        "The end must come after the start.",
        "The online link must start https://",
        "The number of places must be a whole number",
    ):
        assert message in text, message
    nowhere = await c.post_form(f"/g/{group.slug}/events/new", plan(arrange, place=""))
    assert nowhere.status_code == 400 and "Give an online link, a place, or both." in nowhere.text
    zone = await c.post_form(f"/g/{group.slug}/events/new", plan(arrange, time_zone="Mars/Olympus"))
    assert zone.status_code == 400 and "Choose a time zone from the list." in zone.text
    unreadable = await c.post_form(f"/g/{group.slug}/events/new", plan(arrange, starts_at="soon"))
    assert unreadable.status_code == 400 and "not a date and time we can read" in unreadable.text
    assert (
        await arrange.db.fetch_val(
            "SELECT count(*) FROM group_events WHERE group_id = :g", {"g": group.id}
        )
        == 0
    )
    elsewhere = event_id_of(await c.post_form(f"/g/{other.slug}/events/new", plan(arrange)))
    assert (await c.http.get(f"/g/{group.slug}/events/{elsewhere}")).status_code == 404
    assert (await c.http.get(f"/g/{group.slug}/events/99999999.ics")).status_code == 404
    assert (await answer(c, other.slug, elsewhere, "perhaps")).status_code == 400
    for token in ("1-2-3-nothex", "junk", "²-1-0-" + "0" * 32, f"{group.id}-1-0-" + "a" * 32):
        assert (await c.http.get(f"/calendar/{token}.ics")).status_code == 404, token
    for capacity in ("²", "9" * 5000, "-1", "1.5"):
        refused = await c.post_form(f"/g/{group.slug}/events/new", plan(arrange, capacity=capacity))
        assert refused.status_code == 400 and "number of places" in refused.text, capacity
    for url in ("http://[x", "javascript:alert(1)"):
        refused = await c.post_form(f"/g/{group.slug}/events/new", plan(arrange, online_url=url))
        assert refused.status_code == 400 and "The online link" in html.unescape(refused.text)
    for zone_name in ("localtime", "posixrules", "../../etc/passwd"):
        refused = await c.post_form(
            f"/g/{group.slug}/events/new", plan(arrange, time_zone=zone_name)
        )
        assert refused.status_code == 400 and "Choose a time zone" in refused.text, zone_name


async def test_who_leaves_or_is_banned_gives_up_their_place(server, client, arrange) -> None:
    convener, leaver, banned = [await arrange.user(name=n) for n in ("con", "lv", "ban")]
    waiting = await arrange.user(name="wait")
    group = await arrange.group(members=(leaver, banned, waiting), conveners=(convener,))
    c = await logged_in(client, convener)
    event_id = event_id_of(
        await c.post_form(f"/g/{group.slug}/events/new", plan(arrange, capacity="2"))
    )
    for person in (leaver, banned, waiting):
        await event_actions.do_answer(arrange.forum, person, group.id, event_id, "going")
    assert await stored_answer(arrange, event_id, waiting) == "waiting"
    # Banned: their place goes to the first waiting, and they hear nothing more of it.
    removed = await c.post_form(
        f"/g/{group.slug}/members/remove",
        {"username": banned.username, "action": "ban", "reason": "Abusive messages."},
    )
    assert removed.status_code == 303, removed.text
    assert await stored_answer(arrange, event_id, banned) is None
    assert await stored_answer(arrange, event_id, waiting) == "going"
    await c.post_form(f"/g/{group.slug}/events/{event_id}/cancel", {})
    assert not any("cancelled" in n["message"] for n in await told(server, arrange, banned))
    assert any("cancelled" in n["message"] for n in await told(server, arrange, waiting))
    # Leaving takes one's answers too.
    later = event_id_of(await c.post_form(f"/g/{group.slug}/events/new", plan(arrange)))
    await event_actions.do_answer(arrange.forum, leaver, group.id, later, "maybe")
    lv = await logged_in(client, leaver)
    await lv.post_form(f"/g/{group.slug}/leave", {})
    assert await stored_answer(arrange, later, leaver) is None


async def test_who_is_coming_is_for_members_and_feeds_stay_replaced(client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    reader = await arrange.user(name="reader")
    group = await arrange.group(members=(member,), conveners=(convener,))
    c = await logged_in(client, convener)
    event_id = event_id_of(await c.post_form(f"/g/{group.slug}/events/new", plan(arrange)))
    await event_actions.do_answer(arrange.forum, member, group.id, event_id, "going")
    path = f"/g/{group.slug}/events/{event_id}"
    assert f">{member.username}</a>" in (await c.get(path)).text
    for who in (client(), await logged_in(client, reader)):
        page = (await who.get(path)).text
        assert "1 going" in page and member.username not in page
        assert "Members of the group see who is coming." in page

    # A replaced private address stays dead when its member leaves and comes back.
    m = await logged_in(client, member)

    async def address() -> str:
        page = (await m.get(f"/g/{group.slug}/events")).text
        found = re.search(r'id="private-feed" type="text" readonly value="([^"]+)"', page)
        assert found is not None
        return httpx.URL(html.unescape(found.group(1))).path

    first = await address()
    await m.post_form(f"/g/{group.slug}/calendar/reset", {})
    await m.post_form(f"/g/{group.slug}/leave", {})
    await m.post_form(f"/g/{group.slug}/join", {})
    assert (await client().http.get(first)).status_code == 404
    current = await address()
    assert (await client().http.get(current)).status_code == 200
    # A suspended member's feed stops.
    await arrange.db.execute(
        "UPDATE users SET suspended_until = :t WHERE id = :u",
        {"t": arrange.forum.now() + 86400, "u": member.id},
    )
    assert (await client().http.get(current)).status_code == 404
