"""The hardening seen in a real browser: pages run under the strict Content-Security-Policy
with nothing refused (live updates, tables, the composer's checks), cannot be framed, and
the topic page's inline reply box warns of identifiable data as the full composer does."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import NewPage
from tests.browser.test_pages import RICH_POST, axe, log_in
from tests.conftest import Arrange, unique

WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation',
  (e) => window.__csp.push(`${e.violatedDirective} ${e.blockedURI}`));
"""


async def test_pages_run_under_the_policy_with_nothing_refused(
    new_page: NewPage, arrange: Arrange
) -> None:
    author = await arrange.user(role="moderator", name="csp")
    group = await arrange.group(members=(author,))
    written = await arrange.topic(group, author, unique("Policy"), RICH_POST)
    page = await new_page()
    await page.add_init_script(WATCH_CSP)
    await log_in(page, author)
    for path in (f"/t/{written.topic_id}", f"/g/{group.slug}", "/", "/review",
                 f"/t/{written.topic_id}/reply", f"/p/{written.post_id}/flag"):  # fmt: skip
        await page.goto(path)
        if path.startswith(("/t/", "/g/")) and "reply" not in path:
            await expect(page.locator("main")).to_have_attribute("data-live-state", "live")
        assert await page.evaluate("window.__csp") == [], path
    # The table's alignment survives without inline styles.
    await page.goto(f"/t/{written.topic_id}")
    align = await page.locator(".cooked td.align-right").first.evaluate(
        "td => getComputedStyle(td).textAlign"
    )
    assert align == "right"


async def test_a_page_cannot_be_framed_by_another_site(new_page: NewPage, server) -> None:
    page = await new_page()
    await page.set_content(f'<iframe src="{server.base_url}/review" title="x"></iframe>')
    frame = page.frames[-1]
    # Refused by frame-ancestors: the frame never shows the forum's page.
    await page.wait_for_timeout(500)
    assert "Review" not in await frame.evaluate("document.body ? document.body.innerText : ''")


async def test_the_inline_reply_box_warns_of_an_nhs_number(page: Page, arrange: Arrange) -> None:
    author = await arrange.user(badge="carer", name="inline")
    group = await arrange.group(members=(author,))
    written = await arrange.topic(group, author, unique("Inline"), "How is everyone?")
    await log_in(page, author)
    await page.goto(f"/t/{written.topic_id}")
    box = page.get_by_label("Your reply")
    await box.fill("Thanks all. His NHS number is 943 476 591")
    await box.press_sequentially("9 if it helps")
    status = page.get_by_role("status").filter(has_text="NHS number")  # a polite live region
    await expect(status).to_contain_text("Line 1: this looks like an NHS number.")
    await status.get_by_role("button", name="Show me").click()
    selected = await box.evaluate("b => b.value.slice(b.selectionStart, b.selectionEnd)")
    assert selected == "943 476 5919"
    results = await axe(page)
    assert results.violations_count == 0, results.generate_report()


async def test_a_new_topic_title_is_checked_too(page: Page, arrange: Arrange) -> None:
    author = await arrange.user(name="titled")
    group = await arrange.group(members=(author,))
    await log_in(page, author)
    await page.goto(f"/g/{group.slug}/new-topic")
    await page.get_by_label("Title").fill("Call me on 07700 900123")
    status = page.get_by_role("status").filter(has_text="phone number")
    await expect(status).to_contain_text("Title: this looks like a phone number.")
    await status.get_by_role("button", name="Show me").click()
    selected = await page.get_by_label("Title").evaluate(
        "t => t.value.slice(t.selectionStart, t.selectionEnd)"
    )
    assert selected == "07700 900123"


async def test_a_flag_note_is_checked_too(page: Page, arrange: Arrange) -> None:
    author, flagger = await arrange.user(name="noted"), await arrange.user(name="flagger")
    group = await arrange.group(members=(author, flagger))
    written = await arrange.topic(group, author, unique("Flag me"), "Some text.")
    await log_in(page, flagger)
    await page.goto(f"/p/{written.post_id}/flag")
    await page.get_by_label("Anything the moderators should know").fill(
        "It names her: NHS 943 476 5919"
    )
    status = page.get_by_role("status").filter(has_text="NHS number")
    await expect(status).to_contain_text("this looks like an NHS number")
