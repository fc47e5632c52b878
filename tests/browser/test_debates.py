"""A hosted debate in Chromium, on SQLite and PostgreSQL: a host and two participants on three
pages. Question 1 revealed appears on all three and is announced; answers appear under it on
all three; a moderator hides one and it disappears on all; closing turns all three pages into
the transcript. axe finds nothing on the lobby, the live page or the transcript."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Page, expect

from forum.actions.debates import do_schedule_debate
from forum.actions.drafts import DebatePlan
from tests.browser.conftest import NewPage
from tests.browser.test_live import announcer, axe_violations, http_member, live_page
from tests.conftest import Arrange
from tests.test_debates import iso


async def debate_scene(arrange: Arrange) -> tuple[Any, Any, Any, Any, int]:
    host, ana, bob = (
        await arrange.user(name="host"),
        await arrange.user(name="ana"),
        await arrange.user(name="bob", badge="carer"),
    )
    moderator = await arrange.user(role="moderator", name="mod")
    group = await arrange.group(members=(ana, bob), conveners=(host,))
    now = arrange.forum.now()
    debate = await do_schedule_debate(
        arrange.forum,
        host,
        group.id,
        DebatePlan(
            title="Sleep before surgery",
            description="Half an hour on resting well.",
            starts_at=iso(now + 600),
            ends_at=iso(now + 2400),
            questions=("What helps you sleep?", "What keeps you awake?"),
        ),
    )
    return host, ana, bob, moderator, debate.id


async def no_axe_violations(page: Page) -> None:
    count, report = await axe_violations(page)
    assert count == 0, report


async def test_a_host_and_two_participants_on_three_pages(
    new_page: NewPage, arrange, client
) -> None:
    host, ana, bob, moderator, debate_id = await debate_scene(arrange)
    path = f"/debates/{debate_id}"
    host_page = await live_page(new_page, path, host)
    ana_page = await live_page(new_page, path, ana)
    bob_page = await live_page(new_page, path, bob, viewport={"width": 360, "height": 740})
    pages = (host_page, ana_page, bob_page)
    await expect(ana_page.get_by_text("Coming up")).to_be_visible()
    await no_axe_violations(ana_page)  # the lobby

    # The host starts it: every page turns into the live page by itself.
    await host_page.get_by_role("button", name="Start now").click()
    for page in pages:
        await expect(page.get_by_text("Live now")).to_be_visible()
        await expect(page.locator("main")).to_have_attribute("data-live-state", "live")

    # Question 1: revealed once, it appears on all three and is announced.
    await host_page.get_by_role("button", name="Reveal question 1").click()
    for page in (ana_page, bob_page):
        await expect(page.locator("#q1")).to_contain_text("What helps you sleep?")
        await expect(page.locator("main")).to_have_attribute("data-live-state", "live")
    await expect(bob_page.get_by_label("Question", exact=True)).to_have_value("1")
    await expect(bob_page.get_by_text("1 more question to come.")).to_be_visible()

    # Answers, from a page and from a plain form, appear under question 1 on all three.
    await ana_page.locator("#raw").fill("A warm drink and **no screens**.")
    await ana_page.get_by_role("button", name="Post answer").click()
    bob_http = await http_member(client, bob)
    r = await bob_http.post_form(f"{path}/answers", {"question": 1, "raw": "Earplugs."})
    assert r.status_code == 303, r.text
    for page in pages:
        answers = page.locator('[data-answers="1"] article')
        await expect(answers).to_have_count(2)
        await expect(answers.nth(0)).to_contain_text("no screens")
        await expect(answers.nth(1)).to_contain_text("Earplugs.")
        await expect(page.get_by_text("2 people taking part")).to_be_visible()
    # Announced a few seconds' worth at a time: "2 new answers to question 1".
    await expect(announcer(host_page)).to_contain_text(re.compile(r"new answers? to question 1"))
    # The host may highlight others' answers; the author may edit their own.
    await expect(
        host_page.locator('[data-answers="1"] article')
        .nth(1)
        .get_by_role("button", name="Highlight")
    ).to_be_visible()
    await expect(
        ana_page.locator('[data-answers="1"] article').nth(0).get_by_role("link", name="Edit")
    ).to_be_visible()
    await no_axe_violations(bob_page)  # the live page

    # A moderator hides bob's answer: it disappears from all three pages.
    mod_http = await http_member(client, moderator)
    post_id = await arrange.db.fetch_val(
        "SELECT p.id FROM posts p JOIN debate_answers a ON a.post_id = p.id"
        " WHERE a.debate_id = :d AND p.raw = 'Earplugs.'",
        {"d": debate_id},
    )
    r = await mod_http.post_form(f"/p/{post_id}/flag", {"reason": "inappropriate"})
    assert r.status_code in (200, 303), r.text
    for page in pages:
        answers = page.locator('[data-answers="1"]')
        await expect(answers).not_to_contain_text("Earplugs.")
        await expect(answers).to_contain_text("hidden while a moderator looks at it")

    # Closing turns all three into the transcript.
    await host_page.get_by_role("button", name="Close it now").click()
    for page in pages:
        await expect(page.get_by_text("What we learned")).to_be_visible()
        await expect(page.get_by_role("link", name="Download the transcript")).to_be_visible()
        await expect(page.locator("#raw")).to_have_count(0)
    transcript = ana_page.locator('[data-answers="1"]')
    await expect(transcript).to_contain_text("no screens")
    await expect(transcript).not_to_contain_text("Earplugs.")
    await no_axe_violations(bob_page)  # the transcript
    await no_axe_violations(host_page)  # with the host's summary form
