"""The composer's identifiable-data warning in a real browser: announced as the author types,
"Show me" selects the text it means, and the page stays axe-clean with the warning shown."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.test_pages import axe, log_in
from tests.conftest import Arrange


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


async def test_an_nhs_number_is_announced_and_shown(page: Page, arrange: Arrange) -> None:
    author = await arrange.user(badge="carer", name="carer")
    group = await arrange.group(members=(author,))
    written = await arrange.topic(group, author, "Getting ready for surgery", "Any tips?")
    await log_in(page, author)
    await page.goto(f"/t/{written.topic_id}/reply")

    # An emoji before the number: the server counts code points, the textarea UTF-16 units.
    before = "Day 3 of prehab \N{FLEXED BICEPS}\nMy letter says NHS number "
    number = "999 526 0182"
    box = page.get_by_label("Your post")
    await box.fill(before + "999 526 018")
    await box.press_sequentially("2, is that right?")
    status = page.get_by_role("status").filter(has_text="NHS number")
    await expect(status).to_have_attribute("aria-live", "polite")
    await expect(status).to_contain_text(
        "Line 2: this looks like an NHS number. Please remove it: posts here must not "
        "identify a patient."
    )
    await expect(status.get_by_role("button", name="Show me")).to_have_count(1)

    await status.get_by_role("button", name="Show me").click()
    selected = await box.evaluate(
        "b => [b.selectionStart, b.selectionEnd, b.value.slice(b.selectionStart, b.selectionEnd),"
        " document.activeElement === b]"
    )
    start = utf16_length(before)
    assert selected == [start, start + len(number), number, True]

    results = await axe(page)
    assert results.violations_count == 0, results.generate_report()
    # The cooked preview, opened, is clean too.
    await page.get_by_text("Preview", exact=True).click()
    await expect(page.locator("details .cooked")).to_contain_text("My letter says NHS number")
    results = await axe(page)
    assert results.violations_count == 0, results.generate_report()

    # Redacting it clears the warning.
    await box.fill(before.replace("NHS number ", "my NHS number (removed)"))
    await expect(page.locator("#privacy-check")).to_be_empty()
