"""Sharing learning (issue 12) on SQLite and PostgreSQL: conveners post updates linking where
they came from; the Learning page, the update's page, JSON and the Atom feed; what a private
group hides; who may post and remove; bad input."""

from __future__ import annotations

import html
import re
from xml.etree import ElementTree

import httpx

from forum.actions import learning as learning_actions
from tests.conftest import logged_in
from tests.test_debates import schedule
from tests.test_documents import PDF, document_id_of, upload

ATOM = "{http://www.w3.org/2005/Atom}"


def update_id_of(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    found = re.search(r"/learning/(\d+)\?posted=1$", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


async def test_conveners_share_what_their_group_learned(server, client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    group = await arrange.group(members=(member,), conveners=(convener,))
    topic = await arrange.topic(group, member, "Pacing with a diary", "What helped me.")
    debate = await schedule(arrange.forum, convener, group)
    c = await logged_in(client, convener)
    document = document_id_of(await upload(c, group.slug, "diary.pdf", PDF, title="Diary sheet"))
    sources = "\n".join(
        (
            f"{server.base_url}/t/pacing-with-a-diary/{topic.topic_id}/2",
            f"/debates/{debate.id}",
            f"/g/{group.slug}/documents/{document}",
        )
    )
    form = await c.get(f"/g/{group.slug}/learning/new")
    assert form.status_code == 200
    posted = await c.post_form(
        f"/g/{group.slug}/learning/new",
        {
            "title": "Diaries help pacing",
            "summary": "Keeping a **diary** helped most.",
            "sources": sources,
        },
    )
    update_id = update_id_of(posted)
    page = await c.get(posted.headers["location"])
    assert "Your update is shared." in page.text and "<strong>diary</strong>" in page.text
    for title in ("Pacing with a diary", "Prehab: what works?", "Diary sheet"):
        assert title in page.text, title
    everyone = client()
    listing = await everyone.get("/learning")
    assert "Diaries help pacing" in listing.text and group.name in listing.text
    assert "Diaries help pacing" in (await everyone.get(f"/learning?group={group.slug}")).text
    as_json = (await everyone.http.get("/learning.json")).json()
    mine = [u for u in as_json["updates"] if u["id"] == update_id]
    assert [s["kind"] for s in mine[0]["sources"]] == ["topic", "debate", "document"]
    feed = await everyone.http.get("/learning.atom")
    assert feed.headers["content-type"].startswith("application/atom+xml")
    entries = ElementTree.fromstring(feed.content).findall(f"{ATOM}entry")
    titles = [e.findtext(f"{ATOM}title") for e in entries]
    assert f"{group.name}: Diaries help pacing" in titles
    content = entries[titles.index(f"{group.name}: Diaries help pacing")].findtext(f"{ATOM}content")
    assert content is not None and "<strong>diary</strong>" in content
    # The group page offers it to its conveners only.
    assert "Share what we learned" in (await c.get(f"/g/{group.slug}")).text
    m = await logged_in(client, member)
    assert "Share what we learned" not in (await m.get(f"/g/{group.slug}")).text


async def test_a_private_groups_learning_stays_with_its_members(client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    outsider = await arrange.user(name="out")
    private = await arrange.group("private", members=(member,), conveners=(convener,))
    c = await logged_in(client, convener)
    update_id = update_id_of(
        await c.post_form(
            f"/g/{private.slug}/learning/new",
            {"title": "Secret lesson", "summary": "Only for us."},
        )
    )
    m = await logged_in(client, member)
    assert "Secret lesson" in (await m.get("/learning")).text
    assert (await m.get(f"/learning/{update_id}")).status_code == 200
    o = await logged_in(client, outsider)
    for who in (o, client()):
        assert "Secret lesson" not in (await who.get("/learning")).text
        assert (await who.http.get(f"/learning/{update_id}")).status_code == 404
        assert (await who.http.get(f"/learning?group={private.slug}")).status_code == 404
        assert "Secret lesson" not in (await who.http.get("/learning.json")).text
        assert (await who.http.post(f"/learning/{update_id}/delete", data={})).status_code in (
            403,
            404,
        )
    # Not even its members' feed reader: the feed is read without a login.
    assert b"Secret lesson" not in (await m.http.get("/learning.atom")).content


async def test_only_conveners_post_and_remove_updates(client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    group = await arrange.group(members=(member,), conveners=(convener,))
    m = await logged_in(client, member)
    assert (await m.get(f"/g/{group.slug}/learning/new")).status_code == 403
    refused = await m.post_form(
        f"/g/{group.slug}/learning/new", {"title": "Mine", "summary": "Text."}
    )
    assert refused.status_code == 403
    c = await logged_in(client, convener)
    update_id = update_id_of(
        await c.post_form(f"/g/{group.slug}/learning/new", {"title": "Ours", "summary": "Text."})
    )
    assert "Remove this update" not in (await m.get(f"/learning/{update_id}")).text
    assert (await m.post_form(f"/learning/{update_id}/delete", {})).status_code == 403
    assert (await c.http.post(f"/learning/{update_id}/delete", data={})).status_code == 403
    removed = await c.post_form(f"/learning/{update_id}/delete", {})
    assert removed.status_code == 303
    assert "The update was removed." in (await c.get(removed.headers["location"])).text
    assert (await c.http.get(f"/learning/{update_id}")).status_code == 404


async def test_a_bad_update_says_every_problem_and_writes_nothing(client, arrange) -> None:
    convener = await arrange.user(name="con")
    group = await arrange.group(conveners=(convener,))
    other = await arrange.group(conveners=(convener,))
    elsewhere = await arrange.topic(other, convener, "Elsewhere", "Not this group.")
    c = await logged_in(client, convener)
    refused = await c.post_form(
        f"/g/{group.slug}/learning/new",
        {
            "title": "",
            "summary": "Mrs Smith, NHS number 943 476 5919, found it helped.",
            "sources": f"/t/elsewhere/{elsewhere.topic_id}\nhttps://example.org/\n/t/x/99999999"
            "\nhttp://[x",
        },
    )
    text = html.unescape(refused.text)
    assert refused.status_code == 400
    assert "The title cannot be empty." in text and "NHS number" in text
    for line in (1, 2, 3, 4):
        assert f"Line {line} of “Where it came from”" in text, line
    assert 'name="sources"' in refused.text and "example.org" in refused.text  # kept
    many = "\n".join(f"/debates/{n}" for n in range(11))
    too_many = await c.post_form(
        f"/g/{group.slug}/learning/new", {"title": "T", "summary": "S", "sources": many}
    )
    assert too_many.status_code == 400 and "at most 10" in too_many.text
    assert (
        await arrange.db.fetch_val(
            "SELECT count(*) FROM learning_updates WHERE group_id = :g", {"g": group.id}
        )
        == 0
    )
    assert (await c.http.get("/learning?page=abc")).status_code == 400
    assert (await c.http.get("/learning?group=no-such-group")).status_code == 404
    assert "errors" in (await c.http.get("/learning.json?page=abc")).json()


async def test_updates_are_paced(client, arrange) -> None:
    convener = await arrange.user(name="con")
    group = await arrange.group(conveners=(convener,))
    c = await logged_in(client, convener)
    for n in range(learning_actions.UPDATES_PER_HOUR):
        sent = await c.post_form(
            f"/g/{group.slug}/learning/new", {"title": f"Lesson {n}", "summary": "Short."}
        )
        assert sent.status_code == 303, sent.text
    paced = await c.post_form(
        f"/g/{group.slug}/learning/new", {"title": "One more", "summary": "Short."}
    )
    assert paced.status_code == 429 and "retry-after" in paced.headers
    assert 'value="One more"' in paced.text  # what was typed comes back
