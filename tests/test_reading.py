"""Read tracking (issue 11) on SQLite and PostgreSQL: the page reports how far a member has
read (Discourse's /topics/timings with JavaScript, an image in <noscript> without), opening
a topic lands on the first unread post with a divider, lists show unread counts and new
topics, and bad reports are refused."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from forum.actions import following
from forum.auth import seen_signature
from forum.errors import RateLimited
from forum.queries import reading as reading_queries
from forum.queries.notifications import Level
from tests.conftest import Arrange, alerted, logged_in
from tests.test_live import key_headers


async def place(arrange: Arrange, user: Any, topic_id: int) -> int:
    found = await reading_queries.get_reading(arrange.db, user.id, topic_id)
    return found.last_read if found else 0


def seen(arrange: Arrange, c: Any, topic_id: int, upto: int) -> str:
    """The no-JavaScript reading report a topic page of this session would carry."""
    sig = seen_signature(arrange.settings.secret_key, c.csrf, topic_id, upto)
    return f"/t/{topic_id}/seen?upto={upto}&sig={sig}"


async def thread(arrange: Arrange, replies: int) -> tuple[Any, Any, Any, int]:
    """ana starts a topic, bob replies `replies` times."""
    ana, bob = await arrange.user(name="ana"), await arrange.user(name="bob")
    group = await arrange.group(members=(ana, bob))
    topic = await arrange.topic(group, ana, title="Sleep and shifts")
    for i in range(replies):
        await arrange.reply(topic.topic_id, bob, f"Reply number {i + 2}.")
    return ana, bob, group, topic.topic_id


async def test_timings_move_the_place_and_never_back(server, arrange) -> None:
    ana, _, _, tid = await thread(arrange, 4)
    assert await place(arrange, ana, tid) == 1  # she wrote post 1
    headers = await key_headers(arrange.db, ana)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        sent = await http.post(
            "/topics/timings",
            data={"topic_id": tid, "topic_time": 5000, "timings[3]": 1000, "timings[2]": 900},
            headers=headers,
        )
        assert sent.status_code == 200, sent.text
        assert await place(arrange, ana, tid) == 3
        back = await http.post(
            "/topics/timings", data={"topic_id": tid, "timings[2]": 1}, headers=headers
        )
        assert back.status_code == 200 and await place(arrange, ana, tid) == 3
        # Beyond the last post: the place stops at the last post.
        far = await http.post(
            "/topics/timings", data={"topic_id": tid, "timings[99999]": 1}, headers=headers
        )
        assert far.status_code == 200 and await place(arrange, ana, tid) == 5


async def test_bad_reports_are_refused(server, arrange, client) -> None:
    ana, _, _, tid = await thread(arrange, 1)
    private = await arrange.group("private", members=(ana,))
    secret = await arrange.topic(private, ana)
    outsider = await arrange.user(name="out")
    headers = await key_headers(arrange.db, outsider)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        for data, status in (
            ({"topic_id": tid}, 400),  # no timings
            ({"timings[2]": 1}, 400),  # no topic
            ({"topic_id": "x", "timings[2]": 1}, 400),
            ({"topic_id": tid, "timings[x]": 1}, 400),
            ({"topic_id": 10**9, "timings[1]": 1}, 404),
            ({"topic_id": secret.topic_id, "timings[1]": 1}, 404),  # a private group's topic
        ):
            got = await http.post("/topics/timings", data=data, headers=headers)
            assert got.status_code == status, (data, got.text)
            assert got.json()["errors"]
        anonymous = await http.post("/topics/timings", data={"topic_id": tid, "timings[1]": 1})
        assert anonymous.status_code in (401, 403)
    assert await place(arrange, outsider, secret.topic_id) == 0
    # A signed-in browser without the CSRF token: refused.
    c = await logged_in(client, outsider)
    refused = await c.post_form("/topics/timings", {"topic_id": tid, "timings[2]": 1}, csrf=False)
    assert refused.status_code == 403 and await place(arrange, outsider, tid) == 0


async def test_opening_a_topic_lands_on_the_first_unread_post(server, arrange, client) -> None:
    ana, _, _, tid = await thread(arrange, 24)  # 25 posts: two pages of 20
    c = await logged_in(client, ana)
    # ana has read post 1 (her own): the first unread, post 2, is on page one.
    page = await c.get(f"/t/x/{tid}")
    page = await c.get(page.headers["location"]) if page.status_code in (301, 303) else page
    assert re.search(
        r'id="new"[^>]*>.*New since your last visit.*\s*<article[^>]*id="post-2"', page.text, re.S
    )
    assert 'href="#new"' in page.text
    # The page without JavaScript reports what it showed through its <noscript> image.
    beacon = re.search(r'<noscript><img class="beacon" src="([^"]+)"', page.text)
    assert beacon is not None
    reported = await c.get(beacon.group(1).replace("&amp;", "&"))
    assert reported.status_code == 200 and reported.headers["content-type"] == "image/gif"
    assert await place(arrange, ana, tid) == 20
    # Another site's link (no signature, or another's) moves nothing.
    for forged in ("", "&sig=abc", "&sig=%C3%A9"):
        assert (await c.get(f"/t/{tid}/seen?upto=25{forged}")).status_code == 200
    assert await place(arrange, ana, tid) == 20
    # Next time she opens it, she lands on page two, at post 21.
    page = await c.get(f"/t/sleep-and-shifts/{tid}")
    assert 'id="post-21"' in page.text and 'id="post-1"' not in page.text
    assert re.search(r'id="new".*?id="post-21"', page.text, re.S)
    # Read to the end: no divider.
    await c.get(seen(arrange, c, tid, 25))
    page = await c.get(f"/t/sleep-and-shifts/{tid}")
    assert 'id="new"' not in page.text and 'id="post-1"' in page.text
    # A reader who never opened it starts at the top, with no divider.
    fresh = await logged_in(client, await arrange.user(name="new"))
    page = await fresh.get(f"/t/sleep-and-shifts/{tid}")
    assert 'id="post-1"' in page.text and 'id="new"' not in page.text
    # Anonymous: the image is not there, and reporting changes nothing.
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        anonymous = await http.get(f"/t/sleep-and-shifts/{tid}")
        assert "beacon" not in anonymous.text
        assert (await http.get(f"/t/{tid}/seen?upto=3")).status_code == 200


def row(page: str, topic_id: int) -> str:
    """A topic's row in a list page."""
    found = re.search(rf'<li class="topic-row" id="topic-row-{topic_id}".*?</li>', page, re.S)
    assert found, topic_id
    return found.group(0)


async def test_lists_show_unread_counts_and_new_topics(server, arrange, client) -> None:
    ana, bob, group, tid = await thread(arrange, 2)  # ana watches her topic, read to post 1
    other = await arrange.topic(group, bob, title="Pacing on bad days")
    mine = await arrange.topic(group, ana, title="My own new topic")
    quiet = await arrange.topic(group, bob, title="Read but not followed")
    c = await logged_in(client, ana)
    await c.get("/")
    await c.get(seen(arrange, c, quiet.topic_id, 1))  # opened: not new; not tracked: no count
    await arrange.reply(quiet.topic_id, bob, "More here.")
    for path in (f"/g/{group.slug}", "/"):
        page = (await c.get(path)).text
        assert '2<span class="visually-hidden"> unread</span>' in row(page, tid)
        assert "data-new" in row(page, other.topic_id)
        assert "data-new" not in row(page, mine.topic_id)
        assert "unread" not in row(page, mine.topic_id)
        assert "data-new" not in row(page, quiet.topic_id)
        assert "unread" not in row(page, quiet.topic_id)
    # Tracking a topic shows its count too.
    await following.do_set_topic_level(arrange.forum, ana, quiet.topic_id, Level.TRACKING)
    page = (await c.get(f"/g/{group.slug}")).text
    assert re.search(rf'id="topic-row-{quiet.topic_id}"[^>]*data-tracked.*?1<span', page, re.S)
    # Anonymous readers see no markers.
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        anonymous = (await http.get(f"/g/{group.slug}")).text
    assert "data-new" not in anonymous and "unread-count" not in anonymous


async def test_reading_marks_what_you_were_told_of_read(server, arrange) -> None:
    ana, bob, _, tid = await thread(arrange, 0)
    await arrange.reply(tid, bob, f"@{ana.username} first")
    await arrange.reply(tid, bob, f"@{ana.username} second")
    await alerted(arrange.forum)
    await following.do_record_reading(arrange.forum, ana, tid, 2)
    headers = await key_headers(arrange.db, ana)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=15) as http:
        body = (await http.get("/notifications.json", headers=headers)).json()
    # By post: two alerters (the server's and this test's) may make them in either order.
    assert {n["post_number"]: n["read"] for n in body["notifications"]} == {3: False, 2: True}


async def test_reading_reports_are_paced(arrange) -> None:
    ana, _, _, tid = await thread(arrange, 1)
    for _ in range(arrange.settings.read_reports_per_minute):
        await following.do_record_reading(arrange.forum, ana, tid, 2)
    with pytest.raises(RateLimited):
        await following.do_record_reading(arrange.forum, ana, tid, 2)
