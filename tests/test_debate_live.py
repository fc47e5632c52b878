"""Hosted debates, live and as pages, on SQLite and PostgreSQL: the events on `debate:<id>`
(question revealed, answer created and hidden, highlight, state, count), each reader's
controls on an answer, the pages without JavaScript in every state, and the scheduler
surviving a restart mid-debate and firing each move once with two nodes."""

from __future__ import annotations

import json
from typing import Any

from forum.actions.debates import (
    do_answer,
    do_close_debate,
    do_highlight_answer,
    do_reveal_question,
)
from forum.actions.drafts import Draft
from forum.actions.idempotent import Written
from forum.actions.moderation import do_flag_post
from forum.app import opened_forum
from forum.queries import debates as debate_queries
from tests.conftest import (
    Arrange,
    ServerThread,
    create_pg_database,
    drop_pg_database,
    logged_in,
    settings_for,
)
from tests.test_debates import live_debate, people, schedule, until
from tests.test_live import key_headers, live


def kinds(frames: list[dict[str, Any]]) -> list[str]:
    return [f["kind"] for f in frames if f["type"] == "event"]


async def test_everything_a_debate_does_arrives_live(server, arrange, forum) -> None:
    convener, member, debate = await live_debate(forum, arrange)
    moderator = await arrange.user(role="moderator", name="mod")
    channel = f"debate:{debate.id}"
    async with (
        live(server.base_url) as anonymous,
        live(server.base_url, await key_headers(arrange.db, convener)) as host,
        live(server.base_url, await key_headers(arrange.db, member)) as author,
    ):
        for socket in (anonymous, host, author):
            frame = await socket.subscribe(channel)
            assert frame["type"] == "subscribed", frame
        await do_reveal_question(forum, convener, debate.id, 2)
        for socket in (anonymous, host, author):
            revealed = await socket.until(lambda f: f.get("kind") == "debate.question")
            assert revealed["data"]["number"] == 2 and revealed["data"]["remaining"] == 1
            assert "What do you wish you had known?" in revealed["data"]["html"]
        written = await do_answer(forum, member, debate.id, 2, Draft("Ask about **fatigue**."))
        assert isinstance(written, Written)
        seen = {}
        for name, socket in (("anonymous", anonymous), ("host", host), ("author", author)):
            created = await socket.until(lambda f: f.get("kind") == "post.created")
            assert created["data"]["question"] == 2
            assert "<strong>fatigue</strong>" in created["data"]["html"]
            seen[name] = created["data"]["html"]
            assert created["data"]["participants"] == 1  # the count rides with the answer
            assert created["data"]["participants_label"] == "1 person taking part"
        # Each reader's controls, as a reload would give them.
        assert "post-actions" not in seen["anonymous"]
        assert "Highlight" in seen["host"] and "Edit" not in seen["host"]
        assert "Edit" in seen["author"] and "Highlight" not in seen["author"]
        assert "Quote and reply" not in seen["author"]  # answers are written on the page
        await do_highlight_answer(forum, convener, debate.id, written.post_id, True)
        marked = await anonymous.until(lambda f: f.get("kind") == "post.edited")
        assert "Highlighted by the hosts" in marked["data"]["html"]
        assert marked["data"]["facts"]["highlighted"] is True
        # A moderator hides it: gone for everyone, live, and from the log.
        await do_flag_post(forum, moderator, written.post_id, "inappropriate", "")
        hidden = await author.until(
            lambda f: f.get("kind") == "post.edited" and f["data"]["facts"]["hidden"]
        )
        assert "fatigue" not in hidden["data"]["html"]
        await do_close_debate(forum, convener, debate.id)
        for socket in (anonymous, host, author):
            state = await socket.until(lambda f: f.get("kind") == "debate.state")
            assert state["data"]["state"] == "closed" and "ended" in state["data"]["message"]
    rows = await arrange.db.fetch_all(
        "SELECT payload FROM events WHERE channel = :c", {"c": channel}
    )
    assert not any("fatigue" in row["payload"] for row in rows)  # scrubbed from the log


async def test_the_pages_work_without_javascript(client, arrange, forum) -> None:
    convener, member, group = await people(arrange)
    host = await logged_in(client, convener)
    # Scheduling through the form: local times read in the zone chosen.
    r = await host.get(f"/g/{group.slug}/new-debate")
    assert r.status_code == 200 and 'name="starts_at"' in r.text
    form = {
        "title": "Night shifts and sleep",
        "description": "How carers rest.",
        "starts_at": "2027-06-01T19:00",
        "ends_at": "2027-06-01T20:00",
        "time_zone": "Europe/London",
        "questions": ["What keeps you awake?", "What helps?"],
    }
    r = await host.post_form(f"/g/{group.slug}/new-debate", form)
    assert r.status_code == 303, r.text
    debate_path = r.headers["location"]
    debate_id = int(debate_path.rsplit("/", 1)[1])
    debate = await debate_queries.get_debate(arrange.db, debate_id)
    assert debate is not None
    assert debate.starts_at == 1811872800.0  # 18:00 UTC: London is on summer time in June
    reader = client()
    r = await reader.get(debate_path)
    assert r.status_code == 200
    assert "Coming up" in r.text and "Add to your calendar" in r.text
    assert "Tuesday 1 June 2027, 19:00 BST" in r.text  # the zone named
    assert "What keeps you awake?" not in r.text and "2 more questions to come" in r.text
    r = await host.get(debate_path)
    assert "What keeps you awake?" in r.text and "Start now" in r.text
    # Live: the host starts it and reveals question 1; a member answers with a plain form.
    assert (await host.post_form(f"{debate_path}/start")).status_code == 303
    r = await host.post_form(f"{debate_path}/reveal", {"number": 1})
    assert r.status_code == 303 and r.headers["location"].endswith("#q1")
    r = await host.post_form(f"{debate_path}/reveal", {"number": 1})
    assert r.status_code == 409 and "already revealed" in r.text
    answering = await logged_in(client, member)
    r = await answering.get(debate_path)
    assert "Live now" in r.text and 'name="question"' in r.text
    r = await answering.post_form(f"{debate_path}/answers", {"question": 1, "raw": "A warm bath."})
    assert r.status_code == 303, r.text
    r = await answering.post_form(f"{debate_path}/answers", {"question": 1, "raw": "Again."})
    assert r.status_code == 429 and "Again." in r.text  # slow mode; what they wrote is kept
    r = await reader.get(debate_path)
    assert "A warm bath." in r.text and "1 person taking part" in r.text
    r = await host.get(debate_path)
    assert "Highlight" in r.text
    # Closed: the transcript, a summary form for hosts, the download.
    assert (await host.post_form(f"{debate_path}/close")).status_code == 303
    r = await host.post_form(f"{debate_path}/summary", {"raw": "Baths help."})
    assert r.status_code == 303
    r = await reader.get(debate_path)
    assert "Ended" in r.text and "What we learned" in r.text and "Baths help." in r.text
    assert "1 took part" in r.text
    assert "Download the transcript" in r.text and 'name="raw"' not in r.text
    r = await answering.post_form(f"{debate_path}/answers", {"question": 1, "raw": "Late."})
    assert r.status_code == 409 and "ended" in r.text
    # The group page lists it as past, with its summary.
    r = await reader.get(f"/g/{group.slug}")
    assert "Past debates" in r.text and "Night shifts and sleep" in r.text


async def test_a_form_without_its_csrf_token_changes_nothing(client, arrange, forum) -> None:
    convener, _, group = await people(arrange)
    debate = await schedule(forum, convener, group)
    host = await logged_in(client, convener)
    for action in ("start", "close", "remind"):
        r = await host.post_form(f"/debates/{debate.id}/{action}", csrf=False)
        assert r.status_code == 403
    found = await debate_queries.get_debate(arrange.db, debate.id)
    assert found is not None and found.state == "scheduled"


async def test_the_scheduler_survives_a_restart_in_the_middle_of_a_debate(
    database_url, tmp_path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'restart.db'}"
        if database_url.startswith("sqlite")
        else await create_pg_database()
    )
    try:
        first = ServerThread(settings_for(url))
        first.start()
        async with opened_forum(first.settings, first.clock) as context:
            arrange = Arrange(context)
            convener, _, group = await people(arrange)
            debate = await schedule(context, convener, group, starts_in=60, lasts=600)
        first.stop()  # down before the start: nobody moved it

        second = ServerThread(settings_for(url))
        second.clock.advance(first.clock.offset + 61)
        second.start()
        try:
            async with opened_forum(second.settings, second.clock) as context:

                async def state() -> str:
                    found = await debate_queries.get_debate(context.db, debate.id)
                    return found.state if found else ""

                await until(lambda: _is(state, "live"))
                await do_reveal_question(context, convener, debate.id, 1)
        finally:
            second.stop()  # down again, mid-debate

        third = ServerThread(settings_for(url))
        third.clock.advance(second.clock.offset + 600)  # past the end while it was down
        third.start()
        try:
            async with opened_forum(third.settings, third.clock) as context:

                async def state_now() -> str:
                    found = await debate_queries.get_debate(context.db, debate.id)
                    return found.state if found else ""

                await until(lambda: _is(state_now, "closed"))
                found = await debate_queries.get_debate(context.db, debate.id)
                assert found is not None and found.closed_at == found.ends_at
        finally:
            third.stop()
    finally:
        if url.startswith("postgresql"):
            await drop_pg_database(url)


async def test_two_nodes_fire_each_move_once(database_url, tmp_path) -> None:
    url = (
        f"sqlite:///{tmp_path / 'two.db'}"
        if database_url.startswith("sqlite")
        else await create_pg_database()
    )
    try:
        settings = settings_for(url, debate_tick_ms=10)
        async with opened_forum(settings) as context:
            arrange = Arrange(context)
            convener, _, group = await people(arrange)
            debates = [
                await schedule(context, convener, group, starts_in=30, lasts=300) for _ in range(5)
            ]
        nodes = [ServerThread(settings) for _ in range(2)]
        for node in nodes:
            node.start()
        try:
            for node in nodes:  # both wake to find every debate due at once
                node.clock.advance(31)
            async with opened_forum(settings) as context:

                async def all_live() -> bool:
                    found = [await debate_queries.get_debate(context.db, d.id) for d in debates]
                    return all(d is not None and d.state == "live" for d in found)

                await until(all_live, wait=10)
                for node in nodes:
                    node.clock.advance(300)

                async def all_closed() -> bool:
                    found = [await debate_queries.get_debate(context.db, d.id) for d in debates]
                    return all(d is not None and d.state == "closed" for d in found)

                await until(all_closed, wait=10)
                for debate in debates:
                    rows = await context.db.fetch_all(
                        "SELECT payload FROM events WHERE channel = :c AND kind = 'debate.state'",
                        {"c": f"debate:{debate.id}"},
                    )
                    states = [json.loads(row["payload"])["state"] for row in rows]
                    assert states == ["live", "closed"], states
        finally:
            for node in nodes:
                node.stop()
    finally:
        if url.startswith("postgresql"):
            await drop_pg_database(url)


async def _is(read: Any, wanted: str) -> bool:
    return bool(await read() == wanted)
