"""Running a group in a real browser (issue 12): a new member joins, is invited to introduce
themselves, says hello, and answers a waiting topic, while the convener's list of topics
waiting for an answer, and its count in their header, change live."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from forum.actions.welcome import make_introductions
from tests.browser.conftest import NewPage
from tests.browser.test_live import announcer, axe_violations, live_page
from tests.browser.test_pages import log_in
from tests.conftest import Arrange


async def test_a_newcomer_says_hello_and_answers_while_the_convener_watches(
    new_page: NewPage, arrange: Arrange, client: Any
) -> None:
    convener, author = await arrange.user(name="con"), await arrange.user(name="aut")
    newcomer = await arrange.user(name="new")
    group = await arrange.group(members=(author,), conveners=(convener,))
    async with arrange.db.transaction() as conn:
        await make_introductions(arrange.forum, conn, group, convener, arrange.forum.now())
    waiting = await arrange.topic(group, author, "Does anyone nap after physio?")
    await arrange.db.execute(
        "UPDATE topics SET created_at = created_at - 30 * 3600 WHERE id = :t",
        {"t": waiting.topic_id},
    )
    watching = await live_page(
        new_page, "/unanswered", convener, viewport={"width": 1280, "height": 800}
    )
    count = watching.locator("[data-unanswered-count]")
    await expect(count).to_have_text("1")
    row = watching.locator(f"#waiting-{waiting.topic_id}")
    await expect(row).to_contain_text("Does anyone nap after physio?")
    violations, report = await axe_violations(watching)
    assert violations == 0, report

    page = await new_page(viewport={"width": 360, "height": 740})
    await log_in(page, newcomer)
    await page.goto(f"/g/{group.slug}")
    await page.get_by_role("button", name="Join this group").click()
    welcome = page.get_by_role("region", name=f"Welcome to {group.name}")
    await expect(welcome).to_contain_text("What drew you to join?")
    violations, report = await axe_violations(page)
    assert violations == 0, report
    await welcome.get_by_role("link", name="Introduce yourself").click()
    await expect(page.get_by_role("heading", name="Introductions")).to_be_visible()
    await page.get_by_label("Your reply").fill("Hello! I had knee surgery in May.")
    await page.get_by_role("button", name="Post reply").click()
    await expect(page.locator("article.post").last).to_contain_text("knee surgery in May")
    await page.goto(f"/g/{group.slug}")
    await expect(page.get_by_text("What drew you to join?")).to_have_count(0)

    # The newcomer answers the waiting topic: it leaves the convener's list at once.
    await page.goto(f"/t/x/{waiting.topic_id}")
    await page.get_by_label("Your reply").fill("Yes, twenty minutes most days.")
    await page.get_by_role("button", name="Post reply").click()
    await expect(row).to_have_count(0)
    await expect(watching.locator("[data-unanswered]")).to_be_hidden()
    await expect(announcer(watching)).to_contain_text(
        "Does anyone nap after physio? has its first answer."
    )
    await expect(watching.get_by_text("Every topic has an answer.")).to_be_visible()
