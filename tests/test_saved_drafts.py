"""Drafts kept on the server as they are typed (forum/actions/saved_drafts.py): GET
/drafts/{key}.json, POST /drafts.json, DELETE /drafts/{key}.json, and the quote the docked
reply box asks for (GET /t/{id}/reply.json?to=N).

Over HTTP against the real server, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import logging
from typing import Any

import httpx
import pytest

from forum.actions import posts
from forum.queries.saved_drafts import get_draft
from tests.conftest import Arrange, Client, logged_in, unique

JSON_TYPE = "application/json; charset=utf-8"


async def save(
    c: Client, key: str, raw: str = "", sequence: int = 0, **data: Any
) -> httpx.Response:
    body = {"draft_key": key, "data": json.dumps({"raw": raw, **data}), "sequence": sequence}
    return await c.post_form("/drafts.json", body)


async def read(c: Client, key: str) -> dict[str, Any]:
    response = await c.http.get(f"/drafts/{key}.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON_TYPE
    body: dict[str, Any] = response.json()
    return body


def saved(response: httpx.Response) -> int:
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["success"] == "OK"
    return int(body["draft_sequence"])


def refused(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == JSON_TYPE
    errors = response.json()["errors"]
    assert errors and all(isinstance(e, str) and e for e in errors)
    return list(errors)


async def a_topic(arrange: Arrange, visibility: str = "public") -> tuple[Any, Any, int]:
    """A member, their group and a topic in it."""
    member = await arrange.user()
    group = await arrange.group(visibility, members=(member,))
    written = await arrange.topic(group, member, "Sleep after surgery", "How did you sleep?")
    return member, group, written.topic_id


async def test_a_draft_is_saved_read_on_another_device_and_deleted(client, arrange) -> None:
    member, _, topic_id = await a_topic(arrange)
    key = f"topic_{topic_id}"
    phone = await logged_in(client, member)
    assert await read(phone, key) == {"draft_key": key, "draft": None, "draft_sequence": 0}

    text = "Propped up on pillows \N{SLEEPING FACE}\n\n"  # kept as typed, blank lines too
    first = saved(await save(phone, key, text, 0, reply_to_post_number=1))
    assert first == 1
    second = saved(await save(phone, key, text + "It helped.", first, reply_to_post_number=1))
    assert second == 2

    laptop = await logged_in(client, member)  # another session: another device
    found = await read(laptop, key)
    assert found["draft_sequence"] == 2
    assert json.loads(found["draft"]) == {"raw": text + "It helped.", "reply_to_post_number": 1}

    response = await laptop.http.delete(
        f"/drafts/{key}.json", headers={"X-CSRF-Token": laptop.csrf}
    )
    assert response.status_code == 200 and response.json() == {"success": "OK"}
    assert (await read(phone, key))["draft"] is None
    # Deleting what is not there is not an error (a second tab, a retry).
    response = await laptop.http.delete(
        f"/drafts/{key}.json", headers={"X-CSRF-Token": laptop.csrf}
    )
    assert response.status_code == 200


async def test_a_stale_window_cannot_overwrite_a_newer_draft(client, arrange) -> None:
    member, _, topic_id = await a_topic(arrange)
    key = f"topic_{topic_id}"
    one, two = await logged_in(client, member), await logged_in(client, member)
    assert saved(await save(one, key, "Written in the first window.")) == 1
    # The second window opened before that save: it still thinks there is no draft.
    refused(await save(two, key, "Written in the second window."), 409)
    assert saved(await save(one, key, "The first window goes on.", 1)) == 2
    refused(await save(two, key, "Second window, stale.", 1), 409)
    found = await read(two, key)
    assert json.loads(found["draft"])["raw"] == "The first window goes on."
    # Having read it again, the second window saves on top of it.
    assert saved(await save(two, key, "Now the second.", found["draft_sequence"])) == 3
    # Deleting one version only: a stale sequence changes nothing.
    response = await one.http.delete(
        f"/drafts/{key}.json?sequence=2", headers={"X-CSRF-Token": one.csrf}
    )
    refused(response, 409)
    assert json.loads((await read(one, key))["draft"])["raw"] == "Now the second."


async def test_an_emptied_box_keeps_no_draft(client, arrange) -> None:
    member, _, topic_id = await a_topic(arrange)
    key = f"topic_{topic_id}"
    c = await logged_in(client, member)
    assert saved(await save(c, key, "Something")) == 1
    assert saved(await save(c, key, "  \n ", 1)) == 0
    assert (await read(c, key)) == {"draft_key": key, "draft": None, "draft_sequence": 0}
    assert saved(await save(c, key, "")) == 0  # nothing there, nothing to delete


async def test_a_new_topic_draft_keeps_its_title(client, arrange) -> None:
    member, group, _ = await a_topic(arrange)
    key = f"new_topic_{group.id}"
    c = await logged_in(client, member)
    assert saved(await save(c, key, "", 0, title="Naps: yes or no?")) == 1
    assert json.loads((await read(c, key))["draft"]) == {"raw": "", "title": "Naps: yes or no?"}
    # Discourse clients send "reply" and more; the text is read, the rest left out.
    data = {"reply": "Discourse's name for it", "title": "T", "composerTime": 12}
    body = {"draft_key": key, "data": json.dumps(data), "sequence": 1}
    assert saved(await c.post_form("/drafts.json", body)) == 2
    kept = json.loads((await read(c, key))["draft"])
    assert kept == {"raw": "Discourse's name for it", "title": "T"}


async def test_a_private_group_is_invisible_to_outsiders(client, arrange) -> None:
    member, group, topic_id = await a_topic(arrange, "private")
    outsider = await logged_in(client, await arrange.user())
    for key in (f"topic_{topic_id}", f"new_topic_{group.id}"):
        refused(await outsider.http.get(f"/drafts/{key}.json"), 404)
        refused(await save(outsider, key, "Let me in."), 404)
    # As a missing topic or group: the same answer.
    refused(await outsider.http.get("/drafts/topic_2147483647.json"), 404)
    refused(await save(outsider, "new_topic_2147483647", "Nowhere."), 404)
    refused(await outsider.http.get("/drafts/topic_9999999999.json"), 404)  # past any id
    # The member keeps theirs.
    insider = await logged_in(client, member)
    assert saved(await save(insider, f"topic_{topic_id}", "Inside.")) == 1
    assert (await read(insider, f"topic_{topic_id}"))["draft_sequence"] == 1


async def test_a_closed_topic_takes_no_draft(client, arrange) -> None:
    member, _, topic_id = await a_topic(arrange)
    moderator = await arrange.user(role="moderator")
    await posts.do_set_topic_status(arrange.forum, moderator, topic_id, closed=True)
    c = await logged_in(client, member)
    assert "closed" in refused(await save(c, f"topic_{topic_id}", "Too late."), 403)[0]
    assert (await read(c, f"topic_{topic_id}"))["draft"] is None  # reading is still allowed


async def test_signed_out_visitors_have_no_drafts(client, arrange) -> None:
    _, _, topic_id = await a_topic(arrange)
    anonymous: Client = client()
    await anonymous.get("/login")  # an anonymous CSRF token: refused for who it is, not the form
    key = f"topic_{topic_id}"
    refused(await anonymous.http.get(f"/drafts/{key}.json"), 403)
    refused(await save(anonymous, key, "Hello"), 403)
    response = await anonymous.http.delete(
        f"/drafts/{key}.json", headers={"X-CSRF-Token": anonymous.csrf}
    )
    refused(response, 403)


async def test_bad_input_is_refused_and_nothing_is_kept(client, arrange, db) -> None:
    member, _, topic_id = await a_topic(arrange)
    key = f"topic_{topic_id}"
    c = await logged_in(client, member)
    # Over the longest post: 413, as is a body over the request limit.
    refused(await save(c, key, "x" * (arrange.settings.max_post_chars + 1)), 413)
    big = {"draft_key": key, "data": json.dumps({"raw": "x" * 300_000}), "sequence": 0}
    refused(await c.post_form("/drafts.json", big), 413)
    refused(await save(c, f"new_topic_{1}", "", 0, title="t" * 256), 413)
    # Not UTF-8, or a lone surrogate in the JSON: 400.
    invalid = b"draft_key=" + key.encode() + b"&data=%7B%22raw%22%3A%22%ff%22%7D&csrf_token="
    response = await c.http.post(
        "/drafts.json",
        content=invalid + c.csrf.encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    refused(response, 400)
    refused(
        await c.post_form("/drafts.json", {"draft_key": key, "data": '{"raw": "\\ud800"}'}), 400
    )
    # NUL and other control characters are never typed.
    refused(await save(c, key, "a\x00b"), 400)
    refused(await save(c, key, "a\x07b"), 400)
    # Keys, data and numbers of the wrong shape.
    for bad_key in ("", "topic_", "topic_x", "edit_1", "new_private_message", "topic_1_2"):
        refused(await save(c, bad_key, "Hello"), 400)
    for data in ("", "[]", '"text"', "{not json", '{"raw": 5}', '{"raw": ["a"]}'):
        refused(await c.post_form("/drafts.json", {"draft_key": key, "data": data}), 400)
    for to in ("1", True, 0, -1, 2**31):
        refused(await save(c, key, "Hi", 0, reply_to_post_number=to), 400)
    refused(
        await c.post_form("/drafts.json", {"draft_key": key, "data": "{}", "sequence": "-1"}), 400
    )
    # No CSRF token (a cross-site form): 403.
    response = await c.post_form(
        "/drafts.json", {"draft_key": key, "data": '{"raw": "x"}'}, csrf=False
    )
    refused(response, 403)
    response = await c.http.delete(f"/drafts/{key}.json")
    refused(response, 403)
    assert await get_draft(db, member.id, key) is None


async def test_the_post_that_sends_a_draft_deletes_it(client, arrange) -> None:
    member, group, topic_id = await a_topic(arrange)
    c = await logged_in(client, member)
    key = f"topic_{topic_id}"
    assert saved(await save(c, key, "Almost done")) == 1
    response = await c.post_form(f"/t/{topic_id}/reply", {"raw": "Done: it helped."})
    assert response.status_code == 303, response.text
    assert (await read(c, key))["draft"] is None
    # A window still open on the old draft cannot bring it back.
    refused(await save(c, key, "Almost done, stale", 1), 409)

    new = f"new_topic_{group.id}"
    assert saved(await save(c, new, "Body", 0, title="A title")) == 1
    response = await c.post_form(
        f"/g/{group.slug}/new-topic", {"title": f"Naps {unique('n')}", "raw": "Body"}
    )
    assert response.status_code == 303, response.text
    assert (await read(c, new))["draft"] is None

    # A reply held for review was sent all the same: its draft goes too.
    newcomer = await arrange.user(new=True)
    fresh = await logged_in(client, newcomer)
    assert saved(await save(fresh, key, "My first words")) == 1
    response = await fresh.post_form(f"/t/{topic_id}/reply", {"raw": "My first words here."})
    assert response.status_code == 303 and "/my/review" in response.headers["location"]
    assert (await read(fresh, key))["draft"] is None


async def test_a_refused_post_keeps_its_draft(client, arrange) -> None:
    member, _, topic_id = await a_topic(arrange)
    c = await logged_in(client, member)
    key = f"topic_{topic_id}"
    assert saved(await save(c, key, "Call me on 07700 900123")) == 1
    response = await c.post_form(f"/t/{topic_id}/reply", {"raw": "Call me on 07700 900123"})
    assert response.status_code == 400  # the identifiable-data warning: not sent yet
    assert json.loads((await read(c, key))["draft"])["raw"] == "Call me on 07700 900123"


async def test_drafts_are_paced_and_bounded(fresh) -> None:
    made = await fresh(draft_saves_per_minute=6, drafts_per_user=2)
    member = await made.arrange.user()
    group = await made.arrange.group(members=(member,))
    topics = [
        (await made.arrange.topic(group, member, f"Topic {n}", "Text.")).topic_id for n in range(3)
    ]
    async with httpx.AsyncClient(base_url=made.server.base_url, timeout=15) as http:
        c = Client(http)
        await c.login(member)
        for n, topic_id in enumerate(topics):  # three drafts: the oldest goes
            assert saved(await save(c, f"topic_{topic_id}", f"Draft {n}")) == 1
            made.server.clock.advance(1)
        assert (await read(c, f"topic_{topics[0]}"))["draft"] is None
        assert (await read(c, f"topic_{topics[2]}"))["draft_sequence"] == 1
        kept = await made.db.fetch_val(
            "SELECT COUNT(*) FROM user_drafts WHERE user_id = :u", {"u": member.id}
        )
        assert kept == 2
        for n in range(3):  # six saves a minute, then a wait
            saved(await save(c, f"topic_{topics[2]}", f"Again {n}", n + 1))
        response = await save(c, f"topic_{topics[2]}", "One too many", 4)
        assert response.status_code == 429
        assert response.json()["extras"]["wait_seconds"] >= 1
        assert int(response.headers["retry-after"]) >= 1
        found = await read(c, f"topic_{topics[2]}")
        assert json.loads(found["draft"])["raw"] == "Again 2"


async def test_draft_text_is_never_logged(
    client, arrange, caplog: pytest.LogCaptureFixture
) -> None:
    member, _, topic_id = await a_topic(arrange)
    c = await logged_in(client, member)
    secret = f"NHS number 943 476 5919 {unique('s')}"
    caplog.set_level(logging.DEBUG)
    saved(await save(c, f"topic_{topic_id}", secret))
    refused(await save(c, f"topic_{topic_id}", secret + "\x00"), 400)
    refused(await save(c, f"topic_{topic_id}", secret, 7), 409)
    assert secret not in caplog.text


# --- the quote the docked box starts with ---------------------------------------------------


async def test_the_docked_box_gets_the_reply_pages_quote(client, arrange) -> None:
    member, _, topic_id = await a_topic(arrange)
    c = await logged_in(client, member)
    response = await c.http.get(f"/t/{topic_id}/reply.json?to=1")
    assert response.status_code == 200 and response.headers["content-type"] == JSON_TYPE
    body = response.json()
    assert body == {
        "raw": f"> **{member.username}** wrote (post 1):\n>\n> How did you sleep?\n\n",
        "reply_to_post_number": 1,
        "username": member.username,
    }
    page = await c.get(f"/t/{topic_id}/reply?to=1")  # the same words as the full page's box
    assert body["raw"].replace(">", "&gt;") in page.text
    for bad in ("", "?to=99", "?to=x", "?to=0"):
        assert (await c.http.get(f"/t/{topic_id}/reply.json{bad}")).status_code in (400, 404)
    _, _, private_topic = await a_topic(arrange, "private")
    refused(await c.http.get(f"/t/{private_topic}/reply.json?to=1"), 404)
    anonymous: Client = client()
    refused(await anonymous.http.get(f"/t/{topic_id}/reply.json?to=1"), 403)
