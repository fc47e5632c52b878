"""The docked reply box (static/dock.js, static/composer.js) in a real browser: Quote and reply
fills it in place, the toolbar, the identifiable-data warnings as the full composer shows
them, drafts kept on the server across a reload and another device, Ctrl+Enter, phones,
axe, and the plain form without JavaScript. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from playwright.async_api import Page, expect

from forum.queries.saved_drafts import get_draft
from forum.queries.users import User
from tests.browser.conftest import NewPage
from tests.browser.test_pages import axe, log_in
from tests.conftest import Arrange, unique

LONG = "A longer reply, so that the topic page is taller than the window. " * 12


@dataclass
class Thread:
    member: User
    topic_id: int


async def thread(arrange: Arrange) -> Thread:
    """A member and a topic of theirs taller than a window, with a reply from someone else."""
    member = await arrange.user(badge="carer", name="dock")
    other = await arrange.user(name="other")
    group = await arrange.group(members=(member, other))
    written = await arrange.topic(group, other, unique("Dock"), "How do you pace a bad day?")
    for n in range(4):
        await arrange.reply(written.topic_id, other if n % 2 else member, f"{n}. {LONG}")
    return Thread(member, written.topic_id)


async def topic_page(new_page: NewPage, t: Thread, **options: Any) -> Page:
    page = await new_page(**options)
    await log_in(page, t.member)
    await page.goto(f"/t/{t.topic_id}")
    await expect(page.locator(".dock-bar")).to_have_count(1)
    return page


def dock(page: Page) -> Any:
    return page.locator("section.composer")


async def test_quote_and_reply_opens_the_dock_with_the_quote(
    new_page: NewPage, arrange: Arrange
) -> None:
    t = await thread(arrange)
    page = await topic_page(new_page, t)
    url = page.url
    # Readers who never write never download the writing help.
    assert not await page.evaluate("!!document.querySelector('script[src*=\"composer.js\"]')")
    quote = page.get_by_role("link", name="Quote and reply to post 1")
    await quote.click()
    box = page.get_by_label("Your reply")
    await expect(dock(page)).to_have_class(re.compile(r"\bdocked\b"))
    await expect(box).to_be_focused()
    author = await page.locator("#post-1 .post-author a").text_content()
    await expect(box).to_have_value(
        f"> **{author}** wrote (post 1):\n>\n> How do you pace a bad day?\n\n"
    )
    assert page.url == url  # the reader stayed where they were
    await expect(page.locator("#reply-form [name=reply_to_post_number]")).to_have_value("1")
    await expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    bar = page.get_by_role("button", name="Reply", exact=True)
    await expect(bar).to_have_attribute("aria-expanded", "true")

    # Escape minimises to the bar, the text kept, and focus goes back to the link.
    await box.press("Escape")
    await expect(page.locator("#reply-form")).to_be_hidden()
    await expect(page.get_by_role("button", name="Reply (draft)")).to_have_attribute(
        "aria-expanded", "false"
    )
    await expect(quote).to_be_focused()
    # The bar opens it again, the text still there; a second quote joins the first.
    await page.get_by_role("button", name="Reply (draft)").click()
    await expect(box).to_be_focused()
    await page.get_by_role("link", name="Quote and reply to post 2").click()
    await expect(box).to_have_value(
        re.compile(r"pace a bad day\?\n\n> \*\*.*\*\* wrote \(post 2\)")
    )
    await box.press("Control+End")
    await box.press_sequentially("Both of these help me.")
    await page.get_by_role("button", name="Post reply").click()
    posted = page.locator("article.post").last
    await expect(posted).to_contain_text("Both of these help me.")
    await expect(posted.locator(".reply-to summary")).to_contain_text("In reply to #2")


async def test_the_toolbar_wraps_the_selection(new_page: NewPage, arrange: Arrange) -> None:
    t = await thread(arrange)
    page = await topic_page(new_page, t)
    await page.get_by_role("button", name="Reply", exact=True).click()
    box = page.get_by_label("Your reply")
    await expect(box).to_be_focused()
    await box.fill("Rest is not giving up")
    await box.evaluate("b => b.setSelectionRange(8, 21)")  # "not giving up"
    toolbar = page.get_by_role("toolbar", name="Formatting")
    await toolbar.get_by_role("button", name="Bold").click()
    await expect(box).to_have_value("Rest is **not giving up**")
    await expect(box).to_be_focused()
    selected = await box.evaluate("b => b.value.slice(b.selectionStart, b.selectionEnd)")
    assert selected == "not giving up"
    await box.press("Control+i")  # in the box too
    await expect(box).to_have_value("Rest is ***not giving up***")
    await box.press("Control+z")  # the browser's own undo takes it back
    await expect(box).to_have_value("Rest is **not giving up**")

    # One Tab stop: the arrow keys move along the toolbar; each button is named.
    await box.fill("pacing\nrest days")
    await box.evaluate("b => b.setSelectionRange(0, b.value.length)")
    await toolbar.get_by_role("button", name="Bold").focus()
    for _ in range(3):
        await page.keyboard.press("ArrowRight")
    await expect(toolbar.get_by_role("button", name="Bulleted list")).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(box).to_have_value("- pacing\n- rest days")
    await box.fill("see this")
    await box.evaluate("b => b.setSelectionRange(4, 8)")
    await toolbar.get_by_role("button", name="Link").click()
    await expect(box).to_have_value("see [this](https://)")
    await page.keyboard.type("https://www.nhs.uk/")
    await expect(box).to_have_value("see [this](https://www.nhs.uk/)")
    await toolbar.get_by_role("button", name="Quote").click()
    await expect(box).to_have_value("> see [this](https://www.nhs.uk/)")
    for name in ("Bold", "Italic", "Link", "Bulleted list", "Quote"):
        await expect(toolbar.get_by_role("button", name=name)).to_have_attribute("type", "button")


async def warnings_on(page: Page, text: str) -> str:
    box = page.locator("#raw")
    await box.fill(text[:-1])
    await box.press_sequentially(text[-1])
    status = page.locator("#privacy-check")
    await expect(status).to_contain_text("NHS number")
    await expect(status).to_contain_text("phone number")  # both: the last check is in
    return (await status.inner_text()).strip()


async def test_the_dock_warns_as_the_full_composer_does(
    new_page: NewPage, arrange: Arrange
) -> None:
    t = await thread(arrange)
    text = "Thanks all.\nMy husband's NHS number is 943 476 5919, call 07700 900123"
    full = await new_page()
    await log_in(full, t.member)
    await full.goto(f"/t/{t.topic_id}/reply")
    expected = await warnings_on(full, text)
    assert "NHS number" in expected and "phone number" in expected

    page = await topic_page(new_page, t)
    await page.get_by_role("button", name="Reply", exact=True).click()
    assert await warnings_on(page, text) == expected
    status = page.get_by_role("status").filter(has_text="NHS number")
    await expect(status).to_contain_text("Line 2: this looks like an NHS number.")
    await expect(status.get_by_role("button", name="Show me")).to_have_count(2)
    await status.get_by_role("button", name="Show me").first.click()
    box = page.get_by_label("Your reply")
    selected = await box.evaluate("b => b.value.slice(b.selectionStart, b.selectionEnd)")
    assert selected == "943 476 5919"
    # The post as it will look, as on the full page.
    await page.get_by_text("Preview", exact=True).click()
    await expect(page.locator("#reply-form details .cooked")).to_contain_text("Thanks all.")
    results = await axe(page)
    assert results.violations_count == 0, results.generate_report()


async def test_a_draft_survives_a_reload_and_reaches_another_device(
    new_page: NewPage, arrange: Arrange
) -> None:
    t = await thread(arrange)
    page = await topic_page(new_page, t)
    await page.get_by_role("button", name="Reply", exact=True).click()
    box = page.get_by_label("Your reply")
    text = f"Half-written thoughts {unique('d')}\n\n"
    await box.fill(text)
    await expect(page.locator(".draft-status")).to_have_text("Draft saved")
    await page.reload()
    await expect(page.locator(".draft-status")).to_have_text("Draft restored")
    await expect(page.locator("#raw")).to_have_value(text)
    # A new visit too (a reload alone may get its text back from the browser's own memory).
    await page.goto(page.url.split("#")[0])
    await expect(page.locator(".draft-status")).to_have_text("Draft restored")
    await expect(page.locator("#raw")).to_have_value(text)

    # Another device: the same member, no trace of it in this browser; it comes back on use.
    other = await topic_page(new_page, t, viewport={"width": 360, "height": 640})
    await other.get_by_role("button", name="Reply", exact=True).click()
    await expect(other.locator("#raw")).to_have_value(text)
    # Its save names the sequence it read, so both windows go on without a conflict here.
    await other.locator("#raw").press("End")
    await other.locator("#raw").press_sequentially("More.")
    await expect(other.locator(".draft-status")).to_have_text("Draft saved")
    # The first window's version is now stale: saving it is refused, and it says so.
    await page.locator(".dock-bar").click()
    await page.locator("#raw").press_sequentially("Stale.")
    status = page.locator(".draft-status")
    await expect(status).to_contain_text("changed in another window")
    await status.get_by_role("button", name="Save this version instead").click()
    await expect(status).to_have_text("Draft saved")


async def test_ctrl_enter_posts_and_the_draft_is_gone(
    new_page: NewPage, arrange: Arrange, db: Any
) -> None:
    t = await thread(arrange)
    page = await topic_page(new_page, t)
    await page.get_by_role("button", name="Reply", exact=True).click()
    box = page.get_by_label("Your reply")
    text = f"Sent with the keyboard {unique('k')}"
    await box.fill(text)
    await expect(page.locator(".draft-status")).to_have_text("Draft saved")
    assert await get_draft(db, t.member.id, f"topic_{t.topic_id}") is not None
    await box.press("Control+Enter")
    await expect(page.locator("article.post").last).to_contain_text(text)
    assert await get_draft(db, t.member.id, f"topic_{t.topic_id}") is None
    await expect(page.locator("#raw")).to_have_value("")
    await expect(page.locator(".dock-bar")).to_have_text("Reply")
    # Cmd+Enter, as on a Mac, too.
    await page.get_by_role("button", name="Reply", exact=True).click()
    await box.fill(f"And with Meta {unique('m')}")
    await box.press("Meta+Enter")
    await expect(page.locator("article.post").last).to_contain_text("And with Meta")


@pytest.mark.parametrize("width,height", [(360, 640), (1280, 720)])
async def test_the_dock_fits_the_window(
    new_page: NewPage, arrange: Arrange, width: int, height: int
) -> None:
    t = await thread(arrange)
    page = await topic_page(new_page, t, viewport={"width": width, "height": height})
    # At rest, away from its place: only the bar waits at the foot of the window.
    await page.evaluate("window.scrollTo(0, 0)")
    bar = page.locator(".dock-bar")
    await expect(dock(page)).to_have_class(re.compile(r"\baway\b"))
    await expect(bar).to_be_in_viewport()
    await page.screenshot(path=f"/tmp/dock-away-{width}.png")
    await bar.click()
    await expect(dock(page)).to_have_class(re.compile(r"\bdocked\b"))
    await page.get_by_label("Your reply").fill("Line\n" * 40)  # a long draft scrolls inside
    box = await dock(page).bounding_box()
    assert box is not None
    assert box["height"] <= 0.6 * height + 1, box
    assert box["y"] + box["height"] <= height + 1, box
    if width == 360:
        assert box["x"] == 0 and box["width"] == 360, box
    sizes = await page.evaluate(
        "() => ({scroll: document.documentElement.scrollWidth,"
        " client: document.documentElement.clientWidth,"
        " padding: parseFloat(getComputedStyle(document.body).paddingBottom)})"
    )
    assert sizes["scroll"] <= sizes["client"], sizes
    # The page ends above the dock: the last post can be scrolled clear of it.
    assert abs(sizes["padding"] - box["height"]) <= 2, (sizes, box)
    await page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    last = await page.locator("article.post").last.bounding_box()
    assert last is not None and last["y"] + last["height"] <= box["y"] + 1, (last, box)
    # No toolbar button wraps onto a second line.
    lines = await page.locator(".toolbar button").evaluate_all(
        "bs => bs.map(b => { const r = document.createRange(); r.selectNodeContents(b);"
        " return new Set([...r.getClientRects()].map(c => Math.round(c.top))).size; })"
    )
    assert lines == [1] * 5, lines
    await page.screenshot(path=f"/tmp/dock-{width}.png")
    results = await axe(page)
    assert results.violations_count == 0, results.generate_report()


async def test_without_javascript_the_reply_form_posts(new_page: NewPage, arrange: Arrange) -> None:
    t = await thread(arrange)
    page = await new_page(java_script_enabled=False)
    await log_in(page, t.member)
    await page.goto(f"/t/{t.topic_id}")
    await expect(page.locator(".dock-bar")).to_have_count(0)
    await expect(page.get_by_role("heading", name="Reply")).to_be_visible()
    text = f"Posted with plain HTML {unique('h')}"
    await page.get_by_label("Your reply").fill(text)
    await page.get_by_role("button", name="Post reply").click()
    await expect(page.locator("article.post").last).to_contain_text(text)
    # Quote and reply is the full-page composer, as before.
    await page.get_by_role("link", name="Quote and reply to post 1").click()
    await expect(page.get_by_label("Your post")).to_have_value(re.compile(r"wrote \(post 1\)"))


async def test_the_full_page_composers_keep_drafts_too(
    new_page: NewPage, arrange: Arrange, db: Any
) -> None:
    """New topics keep their full page, with the same toolbar and drafts; an edit has no draft."""
    t = await thread(arrange)
    page = await new_page()
    await log_in(page, t.member)
    group_link = page.locator("nav.crumbs a")
    await page.goto(f"/t/{t.topic_id}")
    await page.goto(f"{await group_link.get_attribute('href')}/new-topic")
    await page.get_by_label("Title").fill("Pacing on holiday")
    await page.get_by_label("Your post").fill("Planning rest days first.")
    await expect(page.locator(".draft-status")).to_have_text("Draft saved")
    # A new visit, not a reload: the browser puts a reloaded form's values back by itself.
    new_topic = page.url
    await page.goto(new_topic)
    await expect(page.locator(".draft-status")).to_have_text("Draft restored")
    await expect(page.get_by_label("Title")).to_have_value("Pacing on holiday")
    await expect(page.get_by_label("Your post")).to_have_value("Planning rest days first.")
    await expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    key = await page.evaluate("document.querySelector('[data-draft-key]').dataset.draftKey")
    assert re.fullmatch(r"new_topic_[0-9]+", key)
    assert await get_draft(db, t.member.id, key) is not None
    await page.get_by_label("Your post").press("Control+Enter")
    await expect(page.get_by_role("heading", level=1)).to_have_text("Pacing on holiday")
    assert await get_draft(db, t.member.id, key) is None
    await page.goto(new_topic)
    await expect(page.get_by_label("Title")).to_have_value("")  # sent: no draft is left

    await page.goto(f"/t/{t.topic_id}")
    await page.get_by_role("link", name="Edit post 2").click()  # the member's own
    await expect(page.get_by_role("toolbar", name="Formatting")).to_be_visible()
    await expect(page.locator(".draft-status")).to_have_count(0)
