"""The bell in a real browser: its count rises live when someone mentions you, its menu opens
and closes by keyboard, its items lead to the post, and the pages pass axe (issue 11)."""

from __future__ import annotations

from typing import Any

from playwright.async_api import expect

from tests.browser.conftest import NewPage
from tests.browser.test_live import announcer, axe_violations, http_member, live_page, reply
from tests.conftest import Arrange


async def test_the_bell_rings_when_someone_mentions_you(
    new_page: NewPage, arrange: Arrange, client: Any
) -> None:
    ana, bob = await arrange.user(name="ana"), await arrange.user(name="bob")
    group = await arrange.group(members=(ana, bob))
    written = await arrange.topic(group, bob, "Walking groups", "Anyone near Leeds?")
    page = await live_page(new_page, "/", ana, viewport={"width": 360, "height": 740})
    count = page.locator("[data-bell-count]")
    await expect(count).to_be_hidden()

    member = await http_member(client, bob)
    await reply(member, written.topic_id, f"@{ana.username} you walk there, don't you?")
    await expect(count).to_be_visible()
    await expect(count).to_have_text("1 unread")
    await expect(announcer(page)).to_contain_text(
        f"{bob.username} mentioned you in “Walking groups”"
    )

    # The menu, by keyboard: Enter opens it, Escape closes it and gives focus back.
    bell = page.locator("[data-bell]")
    await bell.focus()
    await page.keyboard.press("Enter")
    await expect(bell).to_have_attribute("aria-expanded", "true")
    item = page.locator("#bell-menu li a").first
    await expect(item).to_have_text(f"New: {bob.username} mentioned you in “Walking groups”")
    violations, report = await axe_violations(page)
    assert violations == 0, report
    await page.keyboard.press("Escape")
    await expect(page.locator("#bell-menu")).to_be_hidden()
    await expect(bell).to_be_focused()

    # Following it lands on the post, and the bell goes quiet.
    await bell.click()
    await item.click()
    await expect(page.locator("#post-2")).to_be_visible()
    await expect(page.locator("#post-2 .cooked a.mention")).to_have_text(f"@{ana.username}")
    await expect(count).to_be_hidden()

    await page.goto("/notifications")
    await expect(page.get_by_role("heading", name="Notifications")).to_be_visible()
    violations, report = await axe_violations(page)
    assert violations == 0, report


async def test_opening_a_topic_lands_on_the_first_unread_post(
    new_page: NewPage, arrange: Arrange, client: Any
) -> None:
    ana, bob = await arrange.user(name="ana"), await arrange.user(name="bob")
    group = await arrange.group(members=(ana, bob))
    written = await arrange.topic(group, ana, "Swimming after surgery", "When did you start?")
    for i in range(2, 12):
        await arrange.reply(written.topic_id, bob, f"Reply {i}: " + "a long story. " * 40)
    page = await live_page(
        new_page, f"/g/{group.slug}", ana, viewport={"width": 1280, "height": 720}
    )
    row = page.locator(f"#topic-row-{written.topic_id}")
    await expect(row.locator(".unread-count")).to_have_text("10 unread")
    # A reply while the list is open: the count rises live.
    member = await http_member(client, bob)
    await reply(member, written.topic_id, "One more thing.")
    await expect(row.locator(".unread-count")).to_have_text("11 unread")

    await row.get_by_role("link", name="Swimming after surgery").click()
    divider = page.locator("#new")
    await expect(divider).to_have_text("New since your last visit")
    await expect(divider).to_be_in_viewport()
    await expect(page.locator("#post-2")).to_be_in_viewport()
    violations, report = await axe_violations(page)
    assert violations == 0, report

    # Scrolling to the end reports it read: the list shows no count after.
    def reports_12(response: Any) -> bool:
        return "/topics/timings" in response.url and "timings%5B12%5D" in (
            response.request.post_data or ""
        )

    async with page.expect_response(reports_12, timeout=10000) as sent:
        await page.locator("#post-12").scroll_into_view_if_needed()
    assert (await sent.value).ok  # live.js reports at most every 3 s
    await page.goto(f"/g/{group.slug}")
    await expect(page.locator(f"#topic-row-{written.topic_id} .unread-count")).to_have_count(0)


async def test_names_are_suggested_as_a_mention_is_typed(
    new_page: NewPage, arrange: Arrange
) -> None:
    ana, bea = await arrange.user(name="ana"), await arrange.user(name="bea")
    group = await arrange.group(members=(ana, bea))
    written = await arrange.topic(group, ana, "Pacing", "What works for you?")
    page = await live_page(
        new_page, f"/t/x/{written.topic_id}", ana, viewport={"width": 360, "height": 740}
    )
    box = page.locator("#raw")
    await box.click()
    await box.press_sequentially(f"Thanks @{bea.username[:4]}")
    choices = page.get_by_role("listbox", name="Members to mention")
    await expect(choices.get_by_role("option", name=f"@{bea.username}")).to_be_visible()
    await expect(page.get_by_role("status").filter(has_text="found")).to_contain_text(
        "arrow keys to choose"
    )
    violations, report = await axe_violations(page)
    assert violations == 0, report
    # By keyboard: down to the name, Enter to add it; the box keeps the focus throughout.
    await page.keyboard.press("ArrowDown")
    option_id = await choices.get_by_role("option").first.get_attribute("id")
    await expect(box).to_have_attribute("aria-activedescendant", option_id or "")
    await page.keyboard.press("Enter")
    await expect(box).to_have_value(f"Thanks @{bea.username} ")
    await expect(choices).to_be_hidden()
    await expect(box).to_be_focused()
    # Escape closes the list and leaves what was typed.
    await box.press_sequentially(f"and @{ana.username[:3]}")
    await expect(choices).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(choices).to_be_hidden()
    await expect(box).to_have_value(f"Thanks @{bea.username} and @{ana.username[:3]}")
