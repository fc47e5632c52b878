"""Hosted debates (issue 10) over the JSON API and the real actions, on SQLite and PostgreSQL:
scheduling and its bad input, the state machine (by the clock and by hosts), questions revealed
one at a time, answers and their checks (slow mode, holds, the identifiable-data check),
highlights, private groups, the transcript and the calendar entry."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from forum.actions.debates import do_schedule_debate
from forum.actions.drafts import DebatePlan
from forum.actions.groups import OPERATOR, do_add_member
from forum.context import Forum
from forum.queries.debates import Debate
from forum.queries.users import User
from tests.conftest import Arrange, advance_clock
from tests.test_live import key_headers, live


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


QUESTIONS = ("What helped you most after surgery?", "What do you wish you had known?", "What next?")


async def schedule(
    forum: Forum,
    convener: User,
    group: Any,
    *,
    starts_in: float = 600,
    lasts: float = 3600,
    questions: tuple[str, ...] = QUESTIONS,
    hosts: tuple[str, ...] = (),
) -> Debate:
    now = forum.now()
    plan = DebatePlan(
        title="Prehab: what works?",
        description="An hour on getting fit for surgery.",
        starts_at=iso(now + starts_in),
        ends_at=iso(now + starts_in + lasts),
        questions=questions,
        hosts=hosts,
    )
    return await do_schedule_debate(forum, convener, group.id, plan)


async def people(arrange: Arrange, visibility: str = "public") -> tuple[User, User, Any]:
    """A convener (who hosts) and a member, in a new group."""
    convener, member = await arrange.user(name="host"), await arrange.user(name="member")
    group = await arrange.group(visibility, members=(member,), conveners=(convener,))
    return convener, member, group


async def until(check: Any, wait: float = 5.0) -> Any:
    """Poll an async condition (the scheduler works on its own time) until it holds."""
    deadline = time.monotonic() + wait
    while True:
        value = await check()
        if value:
            return value
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


class Api:
    """One user's API calls (an API key), or an anonymous reader's."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        self.http = httpx.AsyncClient(base_url=base_url, headers=headers or {}, timeout=15)

    async def get(self, path: str) -> httpx.Response:
        return await self.http.get(path)

    async def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        return await self.http.post(path, json=body or {})

    async def debate(self, debate_id: int) -> dict[str, Any]:
        r = await self.get(f"/debates/{debate_id}.json")
        assert r.status_code == 200, r.text
        data: dict[str, Any] = r.json()["debate"]
        return data

    async def close(self) -> None:
        await self.http.aclose()


@pytest.fixture
async def api(server, db) -> Any:
    made: list[Api] = []

    async def make(user: User | None = None) -> Api:
        headers = await key_headers(db, user) if user else None
        client = Api(server.base_url, headers)
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def live_debate(forum: Forum, arrange: Arrange, **kwargs: Any) -> tuple[User, User, Debate]:
    """A debate started by its host, question 1 revealed."""
    convener, member, group = await people(arrange)
    debate = await schedule(forum, convener, group, **kwargs)
    from forum.actions.debates import do_reveal_question, do_start_debate

    await do_start_debate(forum, convener, debate.id)
    await do_reveal_question(forum, convener, debate.id, 1)
    return convener, member, debate


# --- scheduling -------------------------------------------------------------------------------


async def test_a_convener_schedules_a_debate_and_only_hosts_see_its_questions(
    arrange, api, forum
) -> None:
    convener, member, group = await people(arrange)
    cohost = await arrange.user(name="cohost")
    await do_add_member(forum, OPERATOR, group.id, cohost.username)
    host_api = await api(convener)
    now = forum.now()
    r = await host_api.post(
        "/debates.json",
        {
            "category": group.id,
            "title": "Living with a stoma",
            "description": "Questions from the clinic.",
            "starts_at": iso(now + 3600),
            "ends_at": iso(now + 10800).replace("+00:00", "+01:00"),
            "questions": ["Q one?", "Q two?"],
            "hosts": [cohost.username],
        },
    )
    assert r.status_code == 200, r.text
    made = r.json()["debate"]
    assert made["state"] == "scheduled" and made["participants"] == 0
    assert [q["text"] for q in made["questions"]] == ["Q one?", "Q two?"]
    assert {h["username"] for h in made["hosts"]} == {convener.username, cohost.username}
    # "+01:00": the end is an hour earlier in UTC than its wall-clock reading.
    assert made["ends_at"] == datetime.fromtimestamp(now + 7200, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    for reader in (await api(member), await api()):
        seen = await reader.debate(made["id"])
        assert [q["text"] for q in seen["questions"]] == [] and seen["hidden_questions"] == 2
    cohost_view = await (await api(cohost)).debate(made["id"])
    assert [q["text"] for q in cohost_view["questions"]] == ["Q one?", "Q two?"]
    # The debate's topic reads as the debate's page.
    page = await (await api()).http.get(f"/t/{made['topic_id']}", follow_redirects=False)
    assert page.status_code in (302, 303) and page.headers["location"] == f"/debates/{made['id']}"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"starts_at": "yesterday"}, "not a date and time we can read"),
        ({"starts_at": "2026-12-08T19:00"}, "needs its time zone offset"),
        ({"starts_at": "-3600"}, "not a date and time we can read"),
        ({"start_offset": -7200}, "in the past"),
        ({"end_offset": -60}, "The end must come after the start"),
        ({"end_offset": 60}, "at least 5 minutes"),
        ({"end_offset": 13 * 3600}, "at most 12 hours"),
        ({"questions": ["", "  "]}, "at least one question"),
        ({"questions": [f"Q{i}?" for i in range(21)]}, "at most 20 questions"),
        ({"hosts": ["nobody_by_this_name"]}, "no member called nobody_by_this_name"),
        ({"title": ""}, "The title cannot be empty"),
        ({"time_zone": "Mars/Olympus", "starts_at": "2030-01-01T10:00"}, "not a time zone we know"),
    ],
)
async def test_bad_schedules_are_refused_and_nothing_is_written(
    arrange, api, forum, db, change, message
) -> None:
    convener, _, group = await people(arrange)
    change = dict(change)  # the parameters are shared by both databases' runs
    now = forum.now()
    start = now + 3600 + change.pop("start_offset", 0)
    end = start + change.pop("end_offset", 3600)
    body = {
        "category": group.id,
        "title": "A debate",
        "description": "About things.",
        "starts_at": iso(start),
        "ends_at": iso(end),
        "questions": ["Why?"],
    } | change
    before = await db.fetch_val("SELECT count(*) FROM debates")
    r = await (await api(convener)).post("/debates.json", body)
    assert r.status_code == 400, r.text
    assert any(message in error for error in r.json()["errors"]), r.json()
    assert await db.fetch_val("SELECT count(*) FROM debates") == before


async def test_only_conveners_and_moderators_schedule(arrange, api, forum) -> None:
    convener, member, group = await people(arrange)
    private = await arrange.group("private", conveners=(convener,))
    now = forum.now()
    body = {
        "title": "A debate",
        "description": "About things.",
        "starts_at": iso(now + 3600),
        "ends_at": iso(now + 7200),
        "questions": ["Why?"],
    }
    r = await (await api(member)).post("/debates.json", body | {"category": group.id})
    assert r.status_code == 403 and "conveners and moderators" in r.json()["errors"][0]
    r = await (await api(member)).post("/debates.json", body | {"category": private.id})
    assert r.status_code == 404  # a private group's existence is private
    r = await (await api()).post("/debates.json", body | {"category": group.id})
    assert r.status_code in (401, 403)
    moderator = await arrange.user(role="moderator", name="mod")
    r = await (await api(moderator)).post("/debates.json", body | {"category": group.id})
    assert r.status_code == 200, r.text


# --- the state machine ----------------------------------------------------------------------


async def test_a_debate_goes_live_and_closes_by_itself(fresh) -> None:
    # A server of its own: its clock moves on by ten minutes, which the shared one must not.
    made = await fresh()
    arrange, db = made.arrange, made.db
    forum = arrange.forum
    convener, member, group = await people(arrange)
    debate = await schedule(forum, convener, group, starts_in=120, lasts=600)
    reader = Api(made.server.base_url, await key_headers(db, member))
    assert (await reader.debate(debate.id))["state"] == "scheduled"
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Early!"})
    assert r.status_code == 409 and "starts at" in r.json()["errors"][0]

    advance_clock(forum, 121)

    async def stored() -> str:
        value: str = await db.fetch_val("SELECT state FROM debates WHERE id = :d", {"d": debate.id})
        return value

    await until(lambda: _is(stored, "live"))  # the scheduler stored it, nobody asked
    host = Api(made.server.base_url, await key_headers(db, convener))
    r = await host.post(f"/debates/{debate.id}/questions/1/reveal.json")
    assert r.status_code == 200, r.text
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Walking."})
    assert r.status_code == 200, r.text
    assert r.json()["question"] == 1
    seen = await reader.debate(debate.id)
    assert seen["participants"] == 1
    assert [a["username"] for a in seen["questions"][0]["answers"]] == [member.username]

    advance_clock(forum, 600)
    await until(lambda: _is(stored, "closed"))
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Late."})
    assert r.status_code == 409 and "ended" in r.json()["errors"][0]
    closed = await db.fetch_val("SELECT closed FROM topics WHERE id = :t", {"t": debate.topic_id})
    assert bool(closed)
    # The state moved once each way, each move one event on the debate's channel.
    states = await db.fetch_all(
        "SELECT payload FROM events WHERE channel = :c AND kind = 'debate.state' ORDER BY id",
        {"c": f"debate:{debate.id}"},
    )
    assert ['"state":"live"' in r["payload"] for r in states] == [True, False]
    assert ['"state":"closed"' in r["payload"] for r in states] == [False, True]
    await reader.close()
    await host.close()


async def _is(read: Any, wanted: str) -> bool:
    return bool(await read() == wanted)


async def test_hosts_start_early_extend_and_close(arrange, api, forum) -> None:
    convener, member, group = await people(arrange)
    debate = await schedule(forum, convener, group, starts_in=3600, lasts=1800)
    host, other = await api(convener), await api(member)
    for action in ("start", "close", "extend", "questions/1/reveal"):
        r = await other.post(f"/debates/{debate.id}/{action}.json", {"minutes": 10})
        assert r.status_code == 403 and "hosts" in r.json()["errors"][0], action
    r = await host.post(f"/debates/{debate.id}/questions/1/reveal.json")
    assert r.status_code == 409 and "once the debate is live" in r.json()["errors"][0]
    r = await host.post(f"/debates/{debate.id}/start.json")
    assert r.status_code == 200 and r.json()["debate"]["state"] == "live"
    r = await host.post(f"/debates/{debate.id}/start.json")
    assert r.status_code == 409 and "already live" in r.json()["errors"][0]
    for minutes in (0, 241, None):
        r = await host.post(f"/debates/{debate.id}/extend.json", {"minutes": minutes})
        assert r.status_code == 400
    before = (await host.debate(debate.id))["ends_at"]
    r = await host.post(f"/debates/{debate.id}/extend.json", {"minutes": 15})
    assert r.status_code == 200
    after = r.json()["debate"]["ends_at"]
    assert _ts(after) - _ts(before) == 15 * 60
    r = await host.post(f"/debates/{debate.id}/close.json")
    assert r.status_code == 200 and r.json()["debate"]["state"] == "closed"
    r = await host.post(f"/debates/{debate.id}/close.json")
    assert r.status_code == 409
    r = await host.post(f"/debates/{debate.id}/extend.json", {"minutes": 5})
    assert r.status_code == 409


def _ts(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


# --- questions and answers --------------------------------------------------------------------


async def test_questions_are_revealed_one_at_a_time_in_order(arrange, api, forum, db) -> None:
    convener, member, debate = await live_debate(forum, arrange)
    host = await api(convener)
    r = await host.post(f"/debates/{debate.id}/questions/3/reveal.json")
    assert r.status_code == 400 and "Reveal question 2 first" in r.json()["errors"][0]
    r = await host.post(f"/debates/{debate.id}/questions/1/reveal.json")
    assert r.status_code == 409 and "already revealed" in r.json()["errors"][0]
    r = await host.post(f"/debates/{debate.id}/questions/9/reveal.json")
    assert r.status_code == 404
    reader = await api(member)
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 2, "raw": "Hm."})
    assert r.status_code == 400 and "not been revealed" in r.json()["errors"][0]
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"raw": "Which one?"})
    assert r.status_code == 400
    seen = await reader.debate(debate.id)
    assert [q["number"] for q in seen["questions"]] == [1] and seen["hidden_questions"] == 2
    assert seen["questions"][0]["text"] == QUESTIONS[0]


async def test_two_hosts_revealing_at_once_one_wins_and_the_other_is_told(
    arrange, api, forum, db
) -> None:
    convener, _member, group = await people(arrange)
    cohost = await arrange.user(name="cohost")
    await do_add_member(forum, OPERATOR, group.id, cohost.username)
    debate = await schedule(forum, convener, group, hosts=(cohost.username,))
    from forum.actions.debates import do_start_debate

    await do_start_debate(forum, convener, debate.id)
    a, b = await api(convener), await api(cohost)
    results = await asyncio.gather(
        a.post(f"/debates/{debate.id}/questions/1/reveal.json"),
        b.post(f"/debates/{debate.id}/questions/1/reveal.json"),
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [200, 409], [r.text for r in results]
    loser = next(r for r in results if r.status_code == 409)
    assert "question 1" in loser.json()["errors"][0].lower()
    posts = await db.fetch_val(
        "SELECT count(*) FROM posts WHERE topic_id = :t", {"t": debate.topic_id}
    )
    assert posts == 2  # the description and question 1, once


async def test_plain_replies_to_a_debate_must_answer_a_question(arrange, api, forum, db) -> None:
    _convener, member, debate = await live_debate(forum, arrange)
    reader = await api(member)
    r = await reader.post("/posts.json", {"topic_id": debate.topic_id, "raw": "Off to one side."})
    assert r.status_code == 400 and "answer one of the questions" in r.json()["errors"][0]
    r = await reader.post(
        "/posts.json", {"topic_id": debate.topic_id, "raw": "Quoting.", "reply_to_post_number": 1}
    )
    assert r.status_code == 400
    question_post = await db.fetch_val(
        "SELECT p.post_number FROM debate_questions q JOIN posts p ON p.id = q.post_id"
        " WHERE q.debate_id = :d AND q.number = 1",
        {"d": debate.id},
    )
    r = await reader.post(
        "/posts.json",
        {
            "topic_id": debate.topic_id,
            "raw": "Through the API.",
            "reply_to_post_number": question_post,
        },
    )
    assert r.status_code == 200, r.text
    answers = (await reader.debate(debate.id))["questions"][0]["answers"]
    assert [a["cooked"] for a in answers] == ["<p>Through the API.</p>\n"]


async def test_slow_mode_spaces_a_participants_answers(arrange, api, forum) -> None:
    convener, member, debate = await live_debate(forum, arrange)
    reader = await api(member)
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "One."})
    assert r.status_code == 200
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Two."})
    assert r.status_code == 429 and 0 < r.json()["extras"]["wait_seconds"] <= 10
    advance_clock(forum, 10)
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Two."})
    assert r.status_code == 200
    # A host's follow-ups are never held back by it, a convener's or not.
    cohost = await arrange.user(name="cohost")
    group_id = debate.group_id
    await do_add_member(forum, OPERATOR, group_id, cohost.username)
    await forum.db.execute(
        "INSERT INTO debate_hosts (debate_id, user_id) VALUES (:d, :u)",
        {"d": debate.id, "u": cohost.id},
    )
    for host in (await api(convener), await api(cohost)):
        for raw in ("Follow-up one.", "Follow-up two."):
            r = await host.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": raw})
            assert r.status_code == 200, r.text
    # ... and they do not count as participants.
    assert (await reader.debate(debate.id))["participants"] == 1


async def test_new_accounts_answers_wait_for_review_then_join_their_question(
    arrange, api, forum, db
) -> None:
    _convener, member, debate = await live_debate(forum, arrange)
    newcomer = await arrange.user(name="newbie", new=True)
    r = await (await api(newcomer)).post(
        f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "My first words here."}
    )
    assert r.status_code == 200 and r.json()["action"] == "enqueued"
    reader = await api(member)
    assert (await reader.debate(debate.id))["questions"][0]["answers"] == []
    item_id = r.json()["pending_post"]["id"]
    from forum.actions.drafts import Decision
    from forum.actions.moderation import do_review

    moderator = await arrange.user(role="moderator", name="mod")
    version = await db.fetch_val("SELECT version FROM review_items WHERE id = :i", {"i": item_id})
    await do_review(forum, moderator, item_id, Decision("approve", version))
    seen = await reader.debate(debate.id)
    assert [a["username"] for a in seen["questions"][0]["answers"]] == [newcomer.username]
    assert seen["participants"] == 1


async def test_identifiable_data_in_an_answer_is_held(arrange, api, forum) -> None:
    _convener, member, debate = await live_debate(forum, arrange)
    r = await (await api(member)).post(
        f"/debates/{debate.id}/answers.json",
        {"question": 1, "raw": "My neighbour's NHS number is 943 476 5919."},
    )
    assert r.status_code == 200 and r.json()["action"] == "enqueued"


async def test_hosts_highlight_answers(arrange, api, forum) -> None:
    convener, member, debate = await live_debate(forum, arrange)
    reader, host = await api(member), await api(convener)
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Walking."})
    post_id = r.json()["id"]
    r = await reader.post(f"/debates/{debate.id}/answers/{post_id}/highlight.json")
    assert r.status_code == 403
    r = await host.post(f"/debates/{debate.id}/answers/{post_id}/highlight.json")
    assert r.status_code == 200
    assert r.json()["debate"]["questions"][0]["answers"][0]["highlighted"] is True
    r = await host.post(
        f"/debates/{debate.id}/answers/{post_id}/highlight.json", {"highlighted": False}
    )
    assert r.json()["debate"]["questions"][0]["answers"][0]["highlighted"] is False
    r = await host.post(f"/debates/{debate.id}/answers/999999/highlight.json")
    assert r.status_code == 404


# --- private groups -------------------------------------------------------------------------


async def test_a_private_groups_debate_is_not_found_by_outsiders(
    arrange, api, forum, server
) -> None:
    convener, member, group = await people(arrange, "private")
    debate = await schedule(forum, convener, group, starts_in=60)
    outsider = await arrange.user(name="outsider")
    for reader in (await api(outsider), await api()):
        for path in (
            f"/debates/{debate.id}.json",
            f"/debates/{debate.id}.ics",
            f"/debates/{debate.id}/transcript.md",
            f"/debates/{debate.id}",
        ):
            r = await reader.get(path)
            assert r.status_code == 404, path
        # Signed in (an API key), an outsider is told nothing exists; anonymous, to sign in.
        anonymous = "api-key" not in reader.http.headers
        r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "x"})
        assert r.status_code in ((401, 403) if anonymous else (404,))
        r = await reader.post(f"/debates/{debate.id}/remind.json")
        assert r.status_code in ((401, 403) if anonymous else (404,))
    assert (await (await api(member)).debate(debate.id))["state"] == "scheduled"
    async with live(server.base_url, await key_headers(arrange.db, outsider)) as socket:
        frame = await socket.subscribe(f"debate:{debate.id}")
        assert frame["type"] == "error" and frame["code"] == "forbidden"


# --- transcript and calendar ------------------------------------------------------------------


async def test_the_transcript_groups_answers_by_question_highlights_first(
    arrange, api, forum, db
) -> None:
    convener, member, debate = await live_debate(forum, arrange)
    other = await arrange.user(name="other", badge="clinician")
    reader, second, host = await api(member), await api(other), await api(convener)
    r = await reader.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "First."})
    r2 = await second.post(f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Second."})
    await host.post(f"/debates/{debate.id}/answers/{r2.json()['id']}/highlight.json")
    advance_clock(forum, 10)  # slow mode: one answer per person per 10 s
    hidden = await reader.post(
        f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Gone."}
    )
    await db.execute("UPDATE posts SET hidden_at = 1 WHERE id = :p", {"p": hidden.json()["id"]})
    await host.post(f"/debates/{debate.id}/questions/2/reveal.json")
    r = await host.get(f"/debates/{debate.id}/transcript.md")
    assert r.status_code == 409  # only once it has ended
    await host.post(f"/debates/{debate.id}/close.json")
    r = await host.post(f"/debates/{debate.id}/summary.json", {"raw": "Walking **helps**."})
    assert r.status_code == 200 and "<strong>helps</strong>" in r.json()["debate"]["summary"]
    r = await (await api()).get(f"/debates/{debate.id}/transcript.md")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    text = r.text
    assert text.startswith("# Prehab: what works?\n")
    assert (
        text.index("## What we learned") < text.index("## Question 1") < text.index("## Question 2")
    )
    assert "Walking **helps**." in text
    q1 = text[text.index("## Question 1") : text.index("## Question 2")]
    assert q1.index(f"**{other.username}** (clinician) (highlighted)") < q1.index(
        f"**{member.username}** (patient)"
    )
    assert "2 answers from 2 people." in q1 and "Gone." not in text  # hidden: left out
    q2 = text[text.index("## Question 2") :]
    assert "0 answers from 0 people." in q2 and QUESTIONS[2] not in text  # never revealed


async def test_the_calendar_entry(arrange, api, forum) -> None:
    convener, _, group = await people(arrange)
    debate = await schedule(forum, convener, group, starts_in=7200, lasts=3600)
    r = await (await api()).get(f"/debates/{debate.id}.ics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    start = datetime.fromtimestamp(debate.starts_at, UTC).strftime("%Y%m%dT%H%M%SZ")
    assert f"DTSTART:{start}" in r.text and "SUMMARY:Prehab: what works?" in r.text
    assert f"/debates/{debate.id}" in r.text


async def test_remind_me(arrange, api, forum, db) -> None:
    convener, member, group = await people(arrange)
    debate = await schedule(forum, convener, group, starts_in=60)
    reader = await api(member)
    r = await reader.post(f"/debates/{debate.id}/remind.json")
    assert r.status_code == 200
    r = await reader.post(f"/debates/{debate.id}/remind.json")  # twice: still once
    assert (
        await db.fetch_val(
            "SELECT count(*) FROM debate_reminders WHERE debate_id = :d", {"d": debate.id}
        )
        == 1
    )
    from forum.actions.debates import do_start_debate

    await do_start_debate(forum, convener, debate.id)
    reminders = await db.fetch_all(
        "SELECT payload FROM events WHERE channel = :c AND kind = 'debate.reminder'",
        {"c": f"user:{member.id}"},
    )
    assert len(reminders) == 1 and f"/debates/{debate.id}" in reminders[0]["payload"]
    r = await reader.post(f"/debates/{debate.id}/remind.json")
    assert r.status_code == 409 and "already started" in r.json()["errors"][0]
    # Kept as a notification, read once the member has been to the debate's page.
    told = (await reader.get("/notifications.json")).json()
    assert told["unread_notifications"] == 1
    message = told["notifications"][0]["data"]["message"]
    assert message == "The debate “Prehab: what works?” has started"
    page = await reader.get(f"/debates/{debate.id}")
    assert page.status_code == 200 and "data-bell-count hidden" in page.text
    told = (await reader.get("/notifications.json")).json()
    assert told["unread_notifications"] == 0 and told["notifications"][0]["read"] is True


# --- what a moderator takes away stays away -----------------------------------------------


async def test_a_hidden_question_and_an_edited_description_read_as_they_are_now(
    arrange, api, forum, db, server
) -> None:
    convener, member, debate = await live_debate(forum, arrange)
    moderator = await arrange.user(role="moderator", name="mod")
    question_post = await db.fetch_val(
        "SELECT post_id FROM debate_questions WHERE debate_id = :d AND number = 1",
        {"d": debate.id},
    )
    opening = await db.fetch_val(
        "SELECT id FROM posts WHERE topic_id = :t AND post_number = 1", {"t": debate.topic_id}
    )
    from forum.actions.drafts import PostEdit
    from forum.actions.edits import do_edit_post
    from forum.actions.moderation import do_flag_post

    await do_edit_post(forum, convener, opening, PostEdit("A new description.", 1))
    await do_flag_post(forum, moderator, question_post, "inappropriate", "")
    reader = await api(member)
    seen = await reader.debate(debate.id)
    assert seen["description"] == "A new description."
    assert seen["questions"][0]["text"] is None  # hidden: not the prepared copy either
    await (await api(convener)).post(f"/debates/{debate.id}/close.json")
    text = (await reader.get(f"/debates/{debate.id}/transcript.md")).text
    assert "A new description." in text and QUESTIONS[0] not in text
    page = (await reader.get(f"/debates/{debate.id}")).text
    assert QUESTIONS[0] not in page and "This question is hidden" in page
    # Neither the description nor a question ever travels as a post event, on any channel;
    # the question's own event, replayed, shows it hidden.
    rows = await db.fetch_all(
        "SELECT channel, kind, payload FROM events WHERE channel IN (:t, :d)",
        {"t": f"topic:{debate.topic_id}", "d": f"debate:{debate.id}"},
    )
    assert not any(QUESTIONS[0] in row["payload"] for row in rows)
    assert not any("An hour on getting fit" in row["payload"] for row in rows)
    async with live(server.base_url) as socket:
        await socket.subscribe(f"debate:{debate.id}", since=0)
        replayed = [f for f in socket.frames if f.get("kind") == "debate.question"]
        if not replayed:
            replayed = [await socket.until(lambda f: f.get("kind") == "debate.question")]
        assert "This question is hidden" in replayed[0]["data"]["html"]


async def test_identifiable_data_is_refused_in_what_a_debate_shows_everyone(
    arrange, api, forum
) -> None:
    convener, _, group = await people(arrange)
    now = forum.now()
    body = {
        "category": group.id,
        "title": "Recovery stories",
        "description": "Mrs Jones, NHS number 943 476 5919, will tell hers.",
        "starts_at": iso(now + 3600),
        "ends_at": iso(now + 7200),
        "questions": ["Why?"],
        "confirmed": "true",
    }
    r = await (await api(convener)).post("/debates.json", body)
    assert r.status_code == 400 and "cannot wait for a moderator" in " ".join(r.json()["errors"])
    debate = await schedule(forum, convener, group)
    host = await api(convener)
    await host.post(f"/debates/{debate.id}/close.json")
    r = await host.post(
        f"/debates/{debate.id}/summary.json", {"raw": "Call 07700 900123 for help."}
    )
    assert r.status_code == 400
    assert (await host.debate(debate.id))["summary"] is None


async def test_an_extension_is_never_undone_by_a_move_read_before_it(arrange, forum) -> None:
    from forum.actions.debate_state import bring_up_to_date
    from forum.actions.debates import do_extend_debate, do_start_debate
    from forum.queries import debates as debate_queries

    convener, _, group = await people(arrange)
    debate = await schedule(forum, convener, group, starts_in=3600, lasts=1800)
    await do_start_debate(forum, convener, debate.id)
    stale = await debate_queries.get_debate(forum.db, debate.id)
    assert stale is not None
    await do_extend_debate(forum, convener, debate.id, 30)
    # A scheduler that read the debate before the extension, acting after its old end.
    async with forum.db.transaction() as conn:
        after = await bring_up_to_date(forum, conn, stale, stale.ends_at + 1)
    assert after.state == "live" and after.ends_at == stale.ends_at + 1800


async def test_reminders_go_only_to_those_who_may_still_read_it(arrange, api, forum, db) -> None:
    from forum.actions.debates import do_remind, do_start_debate
    from forum.actions.groups import do_leave_group

    convener, member, group = await people(arrange, "private")
    leaver = await arrange.user(name="leaver")
    await do_add_member(forum, OPERATOR, group.id, leaver.username)
    debate = await schedule(forum, convener, group)
    await do_remind(forum, member, debate.id, True)
    await do_remind(forum, leaver, debate.id, True)
    await do_leave_group(forum, leaver, group.id)
    await do_start_debate(forum, convener, debate.id)
    told = await db.fetch_all(
        "SELECT channel FROM events WHERE kind = 'debate.reminder' AND payload LIKE :d",
        {"d": f'%"debate_id":{debate.id},%'},
    )
    assert [row["channel"] for row in told] == [f"user:{member.id}"]


async def test_a_held_answer_cannot_be_published_after_the_debate_ends(
    arrange, api, forum, db
) -> None:
    from forum.actions.debates import do_close_debate
    from forum.actions.drafts import Decision
    from forum.actions.moderation import do_review
    from forum.errors import Conflict

    convener, _, debate = await live_debate(forum, arrange)
    newcomer = await arrange.user(name="newbie", new=True)
    r = await (await api(newcomer)).post(
        f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Held for a moment."}
    )
    item_id = r.json()["pending_post"]["id"]
    await do_close_debate(forum, convener, debate.id)
    moderator = await arrange.user(role="moderator", name="mod")
    version = await db.fetch_val("SELECT version FROM review_items WHERE id = :i", {"i": item_id})
    with pytest.raises(Conflict):
        await do_review(forum, moderator, item_id, Decision("approve", version))
    assert (
        await db.fetch_val(
            "SELECT count(*) FROM debate_answers WHERE debate_id = :d", {"d": debate.id}
        )
        == 0
    )


async def test_guests_take_part_in_a_public_groups_debate_after_review(
    arrange, api, forum, db
) -> None:
    from forum.actions import accounts

    _, _, debate = await live_debate(forum, arrange)
    signup = accounts.check_signup("guest_visitor", "", "a-long-passphrase-1", "carer", guest=True)
    guest = await accounts.do_create_user(forum, signup)
    r = await (await api(guest)).post(
        f"/debates/{debate.id}/answers.json", {"question": 1, "raw": "Visiting from outside."}
    )
    assert r.status_code == 200 and r.json()["action"] == "enqueued"  # a guest's first posts wait
    # A guest cannot schedule or host, even if a convener names them.
    convener, _, group = await people(arrange)
    r = await (await api(convener)).post(
        "/debates.json",
        {
            "category": group.id,
            "title": "With a guest host",
            "description": "x",
            "starts_at": iso(forum.now() + 3600),
            "ends_at": iso(forum.now() + 7200),
            "questions": ["Why?"],
            "hosts": [guest.username],
        },
    )
    assert r.status_code == 400 and "cannot host" in r.json()["errors"][0]


async def test_only_hosts_write_the_summary(arrange, api, forum) -> None:
    convener, member, group = await people(arrange)
    debate = await schedule(forum, convener, group)
    await (await api(convener)).post(f"/debates/{debate.id}/close.json")
    for who in (await api(member), await api()):
        r = await who.post(f"/debates/{debate.id}/summary.json", {"raw": "Not mine to write."})
        assert r.status_code in (401, 403)
    assert (await (await api(member)).debate(debate.id))["summary"] is None
