"""Keyboard shortcuts (static/keys.js): j/k move between posts, r the reply box, / search, ?
the list of them in a dialog; never while typing, with a modifier held, or over another dialog.

Every test runs against the uvicorn test server on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from playwright.async_api import Page, expect

from forum.queries.users import User
from tests.browser.conftest import NewPage
from tests.browser.test_found import axe_clean
from tests.browser.test_live import http_member, live_page, log_in, reply
from tests.conftest import Arrange

LOADED = "() => !!document.querySelector('script[src*=\"keys.js\"]')"
SMALL = {"width": 800, "height": 500}  # posts taller than the window: moving must scroll


@dataclass
class Thread:
    """Two members of a group, and a topic of three long posts there by the first."""

    member: User
    other: User
    topic_id: int

    @property
    def path(self) -> str:
        return f"/t/{self.topic_id}"


def long_post(n: int) -> str:
    return "\n\n".join(f"Post {n}, paragraph {p}." for p in range(1, 13))


@pytest_asyncio.fixture(loop_scope="session")
async def thread(arrange: Arrange) -> Thread:
    member, other = await arrange.user(name="keys"), await arrange.user(name="other")
    group = await arrange.group(members=(member, other))
    written = await arrange.topic(group, member, "Moving with the keyboard", long_post(1))
    for n in (2, 3):
        await arrange.reply(written.topic_id, member, long_post(n))
    return Thread(member, other, written.topic_id)


def script_errors(page: Page) -> list[str]:
    """The page's uncaught script errors from now on, to be checked empty at the end."""
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def with_keys(page: Page) -> None:
    """keys.js is on every page: base.html loads it."""
    assert await page.evaluate(LOADED), "base.html no longer loads keys.js"


async def topic_page(new_page: NewPage, thread: Thread) -> tuple[Page, list[str]]:
    page = await new_page(viewport=SMALL)
    errors = script_errors(page)
    await log_in(page, thread.member)
    await page.goto(thread.path)
    await with_keys(page)
    return page, errors


async def test_j_and_k_move_between_posts(new_page: NewPage, thread: Thread) -> None:
    page, errors = await topic_page(new_page, thread)
    await expect(page.locator("article.post")).to_have_count(3)
    await page.keyboard.press("j")
    await expect(page.locator("#post-1")).to_be_focused()
    await page.keyboard.press("j")
    second = page.locator("#post-2")
    await expect(second).to_be_focused()
    await expect(second).to_have_class("post key-current")
    await expect(second).to_be_in_viewport()
    for _ in range(3):  # past the last post: it stays there
        await page.keyboard.press("j")
    await expect(page.locator("#post-3")).to_be_focused()
    await expect(page.locator("#post-3")).to_be_in_viewport()
    await page.keyboard.press("k")
    await expect(second).to_be_focused()
    await expect(second).to_be_in_viewport()
    await expect(page.locator(".key-current")).to_have_count(1)
    # A link inside a post (reached with Tab, say) counts as being on that post.
    await page.locator("#post-1 .post-author a").focus()
    await page.keyboard.press("j")
    await expect(second).to_be_focused()
    assert errors == []


async def test_keys_typed_into_a_box_stay_in_the_box(new_page: NewPage, thread: Thread) -> None:
    page, errors = await topic_page(new_page, thread)
    box = page.locator("#raw")
    await box.click()
    await page.keyboard.type("jkr/?")
    await expect(box).to_have_value("jkr/?")
    await expect(box).to_be_focused()
    search = page.locator("#site-q")
    await search.click()
    await page.keyboard.type("j?")
    await expect(search).to_have_value("j?")
    await expect(page.locator(".key-current")).to_have_count(0)
    await expect(page.locator("dialog")).to_have_count(0)
    # With a modifier held, the key is the browser's or the system's, not a shortcut.
    await page.locator("h1").click()
    for chord in ("Alt+j", "Control+j", "Meta+j"):
        await page.keyboard.press(chord)
    await expect(page.locator(".key-current")).to_have_count(0)
    assert errors == []


async def test_another_dialog_open_keeps_the_keys(new_page: NewPage, thread: Thread) -> None:
    page, errors = await topic_page(new_page, thread)
    await page.evaluate(
        "() => { const d = document.body.appendChild(document.createElement('dialog'));"
        " d.append(Object.assign(document.createElement('button'), {textContent: 'OK'}));"
        " d.showModal(); }"
    )
    for key in ("j", "r", "/", "?"):
        await page.keyboard.press(key)
    await expect(page.get_by_role("button", name="OK")).to_be_focused()
    await expect(page.locator("dialog[open]")).to_have_count(1)
    assert errors == []


async def test_r_goes_to_the_reply_box(new_page: NewPage, thread: Thread) -> None:
    page, errors = await topic_page(new_page, thread)
    await page.keyboard.press("j")  # on a post with "Quote and reply": r still means the box
    await page.keyboard.press("r")
    box = page.get_by_label("Your reply")
    await expect(box).to_be_focused()
    await expect(box).to_be_in_viewport()
    await expect(box).to_have_value("")  # the r itself is not typed in
    assert errors == []


async def test_slash_goes_to_the_search_box(new_page: NewPage, thread: Thread) -> None:
    page, errors = await topic_page(new_page, thread)
    await page.keyboard.press("/")
    header = page.get_by_role("searchbox", name="Search the forum")
    await expect(header).to_be_focused()
    await expect(header).to_have_value("")
    # The search page's own box, holding the words searched for, comes before the header's.
    await page.goto("/search?q=pacing")
    await with_keys(page)
    await page.keyboard.press("/")
    await expect(page.locator("main [type=search]")).to_be_focused()
    await expect(page.locator("main [type=search]")).to_have_value("pacing")
    assert errors == []


async def test_question_mark_lists_the_shortcuts(new_page: NewPage, thread: Thread) -> None:
    page, errors = await topic_page(new_page, thread)
    await page.keyboard.press("j")
    await page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    await expect(dialog).to_be_visible()
    await expect(dialog.get_by_role("listitem")).to_have_count(5)
    await expect(dialog.get_by_role("listitem").first).to_have_text("j Next post")
    await expect(dialog.get_by_role("button", name="Close")).to_be_focused()
    await axe_clean(page)
    await page.keyboard.press("Escape")
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#post-1")).to_be_focused()
    # Again, from the page itself (nothing focused), closed with the button.
    await page.locator("h1").click()
    await page.keyboard.press("?")
    await dialog.get_by_role("button", name="Close").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("dialog")).to_have_count(1)  # made once, opened twice
    await page.keyboard.press("j")  # on from the post last moved to, once it is closed
    await expect(page.locator("#post-2")).to_be_focused()
    assert errors == []


async def test_a_post_that_arrives_live_is_reached(
    new_page: NewPage, client: Any, thread: Thread
) -> None:
    page = await live_page(new_page, thread.path, thread.member, viewport=SMALL)
    errors = script_errors(page)
    await with_keys(page)
    other = await http_member(client, thread.other)
    await reply(other, thread.topic_id, "Arrived while you were reading.")
    await expect(page.locator("#post-4")).to_be_visible()
    for _ in range(4):
        await page.keyboard.press("j")
    await expect(page.locator("#post-4")).to_be_focused()
    assert errors == []


async def test_a_page_without_posts_or_a_reply_box(new_page: NewPage, thread: Thread) -> None:
    page = await new_page()
    errors = script_errors(page)
    await page.goto("/")
    await with_keys(page)
    for key in ("j", "k", "r"):
        await page.keyboard.press(key)
    assert await page.evaluate("document.activeElement === document.body")
    await page.keyboard.press("?")
    await expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_be_visible()
    await page.keyboard.press("Escape")
    # A topic read by a visitor: posts to move through, but no reply box for r.
    await page.goto(thread.path)
    await with_keys(page)
    await page.keyboard.press("r")
    await page.keyboard.press("j")
    await expect(page.locator("#post-1")).to_be_focused()
    assert errors == []
