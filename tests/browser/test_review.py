"""The live review queue in a real browser: held posts arriving on every moderator's page,
approving from the queue, claims, two moderators racing, the keyboard, and axe.

Every test runs against the uvicorn test server on SQLite and on PostgreSQL. As in test_live,
changes that must arrive live are made through the server (a browser or an HTTP client).
The queue is shared by every test on the session's server, so each test starts with it empty.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Locator, Page, Response, expect

from forum.actions import moderation as moderation_actions
from forum.actions.drafts import Decision
from forum.queries.users import User
from tests.browser.conftest import NewPage
from tests.browser.test_live import (
    HOLD_RECONNECTS,
    announcer,
    axe_violations,
    http_member,
    live_page,
    log_in,
)
from tests.conftest import Arrange, Client, unique

EMPTY = "Nothing is waiting for review."
NEW_ITEM = "A new item is waiting for review."


@dataclass
class Staff:
    """Two moderators and a topic to reply in, made once per database."""

    mod1: User
    mod2: User
    topic_id: int
    first_post_id: int


@dataclass
class Scene(Staff):
    """The staff, with the queue emptied, and a newcomer whose first reply will be held."""

    newcomer: User

    @property
    def topic_path(self) -> str:
        return f"/t/{self.topic_id}"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def staff(arrange: Arrange) -> Staff:
    mod1 = await arrange.user(role="moderator", name="mod")
    mod2 = await arrange.user(role="moderator", name="mod")
    owner = await arrange.user(name="owner")
    group = await arrange.group(members=(owner,))
    written = await arrange.topic(group, owner, "Pacing after a flare", "What helps you?")
    return Staff(mod1, mod2, written.topic_id, written.post_id)


@pytest_asyncio.fixture(loop_scope="session")
async def scene(arrange: Arrange, staff: Staff) -> Scene:
    await empty_the_queue(arrange, staff.mod1)
    newcomer = await arrange.user(new=True, name="newcomer")
    return Scene(**vars(staff), newcomer=newcomer)


async def empty_the_queue(arrange: Arrange, moderator: User) -> None:
    """Approve whatever earlier tests left waiting, through the real action."""
    rows = await arrange.db.fetch_all(
        "SELECT id, version FROM review_items WHERE status = 'pending' ORDER BY id"
    )
    for row in rows:
        await moderation_actions.do_review(
            arrange.forum, moderator, row["id"], Decision("approve", row["version"])
        )


async def held_reply(client: Any, scene: Scene, raw: str, author: User | None = None) -> int:
    """Reply as a new account through plain HTTP; the reply is held. Returns its item's id."""
    if author is None:
        author = scene.newcomer
    member: Client = await http_member(client, author)
    response = await member.post_form(f"{scene.topic_path}/reply", {"raw": raw})
    assert response.status_code == 303, response.text
    found = re.search(r"/my/review#item-(\d+)$", response.headers["location"])
    assert found, f"the reply was not held: {response.headers['location']}"
    return int(found.group(1))


def card(page: Page, item_id: int) -> Locator:
    return page.locator(f"[data-review-queue] #review-item-{item_id}")


def review_link(page: Page) -> Locator:
    """The header's "Review (N waiting)" link."""
    return page.get_by_role("navigation", name="Site").get_by_role(
        "link", name=re.compile(r"^Review")
    )


def waiting(page: Page) -> Locator:
    """The queue's own "N waiting" line, under its heading."""
    return page.locator("main > .meta strong")


def action_response(page: Page, item_id: int) -> Any:
    """Wait for the answer to a review action's POST (before any redirect is followed)."""
    path = f"/review/{item_id}"
    return page.expect_response(
        lambda r: r.request.method == "POST" and r.url.split("?")[0].endswith(path)
    )


async def mark_document(page: Page) -> None:
    await page.evaluate("window.__sameDocument = true")


async def assert_not_reloaded(page: Page) -> None:
    assert await page.evaluate("window.__sameDocument === true"), "the page was reloaded"


async def status_of(info: Any) -> int:
    response: Response = await info.value
    return response.status


# --- live queue -----------------------------------------------------------------------------


async def test_a_held_reply_reaches_both_moderators_and_approval_publishes_it(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    mod1 = await live_page(new_page, "/review", scene.mod1)
    mod2 = await live_page(new_page, "/review", scene.mod2)
    reader = await live_page(new_page, scene.topic_path)
    for page in (mod1, mod2):
        await expect(page.get_by_text(EMPTY)).to_be_visible()
        await expect(review_link(page)).to_have_text("Review")
        await expect(waiting(page)).to_have_text("0 waiting")
        await mark_document(page)
    await mark_document(reader)
    posts_before = await reader.locator("article.post").count()

    text = f"Hello, I am new here {unique('r')}"
    item_id = await held_reply(client, scene, text)

    for page in (mod1, mod2):
        await expect(card(page, item_id)).to_be_visible()
        await expect(card(page, item_id).locator(".cooked")).to_have_text(text)
        await expect(card(page, item_id)).to_contain_text("First posts of a new account")
        await expect(review_link(page)).to_have_text("Review (1 waiting)")
        await expect(waiting(page)).to_have_text("1 waiting")
        await expect(announcer(page)).to_contain_text(NEW_ITEM)
        await expect(page.get_by_text(EMPTY)).to_have_count(0)
        await assert_not_reloaded(page)
    await expect(reader.locator("article.post", has_text=text)).to_have_count(0)  # held

    button = card(mod1, item_id).get_by_role("button", name=f"Approve (item {item_id})")
    async with action_response(mod1, item_id) as info:
        await button.click()
    assert await status_of(info) == 303

    await expect(card(mod2, item_id)).to_have_count(0)
    await expect(review_link(mod2)).to_have_text("Review")
    await expect(waiting(mod2)).to_have_text("0 waiting")
    await expect(mod2.get_by_text(EMPTY)).to_be_visible()
    await expect(announcer(mod2)).to_contain_text(f"Item {item_id} was handled.")
    await assert_not_reloaded(mod2)

    await expect(reader.locator("article.post", has_text=text)).to_have_count(1)
    await expect(reader.locator("article.post")).to_have_count(posts_before + 1)
    await expect(announcer(reader)).to_contain_text(f"New reply from {scene.newcomer.username}")
    await assert_not_reloaded(reader)

    await expect(card(mod1, item_id)).to_have_count(0)  # mod1's page came back from the POST
    await expect(review_link(mod1)).to_have_text("Review")


async def test_a_claim_shows_on_the_other_moderators_page(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    item_id = await held_reply(client, scene, f"Is anyone awake? {unique('r')}")
    mod1 = await live_page(new_page, "/review", scene.mod1)
    mod2 = await live_page(new_page, "/review", scene.mod2)
    await expect(card(mod2, item_id).locator("[data-claim]")).to_have_text("")
    await mark_document(mod2)
    # Something typed on the other page stays while the card changes.
    note = card(mod2, item_id).get_by_label("Reason for the author")
    await note.fill("Half-written thoughts")

    await (
        card(mod1, item_id)
        .get_by_role("button", name=f"I will review this (item {item_id})")
        .click()
    )

    reviewing = f"{scene.mod1.username} is reviewing this."
    await expect(card(mod1, item_id).locator("[data-claim]")).to_have_text(reviewing)
    await expect(card(mod2, item_id).locator("[data-claim]")).to_have_text(reviewing)
    await expect(note).to_have_value("Half-written thoughts")
    await assert_not_reloaded(mod2)

    # A claim tells, it does not lock: the other moderator's form still acts.
    await note.fill("")
    async with action_response(mod2, item_id) as info:
        await card(mod2, item_id).get_by_role("button", name=f"Approve (item {item_id})").click()
    assert await status_of(info) == 303
    await expect(card(mod1, item_id)).to_have_count(0)


async def test_a_stale_card_is_refused_with_who_handled_it(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    text = f"Only once, please {unique('r')}"
    item_id = await held_reply(client, scene, text)
    mod1 = await live_page(new_page, "/review", scene.mod1)
    mod2 = await live_page(new_page, "/review", scene.mod2)
    await expect(card(mod2, item_id)).to_be_visible()

    # Mod2's page stops hearing the queue, so the approval cannot remove the card there.
    await mod2.evaluate(HOLD_RECONNECTS)
    await expect(mod2.locator("main")).to_have_attribute("data-live-state", "paused")
    async with action_response(mod1, item_id) as info:
        await card(mod1, item_id).get_by_role("button", name=f"Approve (item {item_id})").click()
    assert await status_of(info) == 303
    await expect(card(mod1, item_id)).to_have_count(0)
    await expect(card(mod2, item_id)).to_be_visible()  # stale, as intended

    async with action_response(mod2, item_id) as info:
        await card(mod2, item_id).get_by_role("button", name=f"Approve (item {item_id})").click()
    assert await status_of(info) == 409
    await expect(mod2.get_by_role("heading", level=1)).to_have_text(f"Review item {item_id}")
    await expect(mod2.get_by_role("alert")).to_contain_text(
        f"Already handled by {scene.mod1.username}."
    )
    await expect(mod2.locator(".outcome")).to_contain_text(f"by {scene.mod1.username}")
    count, report = await axe_violations(mod2)
    assert count == 0, report

    reader = await new_page()
    await reader.goto(scene.topic_path)
    await expect(reader.locator("article.post", has_text=text)).to_have_count(1)


# --- keyboard and accessibility -------------------------------------------------------------


async def focused(page: Page) -> dict[str, str]:
    return await page.evaluate(
        "() => { const e = document.activeElement;"
        " return {tag: e.tagName.toLowerCase(), text: e.textContent.trim()}; }"
    )


async def test_approve_with_the_keyboard_only(new_page: NewPage, scene: Scene, client: Any) -> None:
    text = f"Typed to a keyboard user {unique('r')}"
    item_id = await held_reply(client, scene, text)
    page = await live_page(new_page, "/review", scene.mod1)
    target = {"tag": "button", "text": f"Approve (item {item_id})"}
    for _ in range(60):
        await page.keyboard.press("Tab")
        if await focused(page) == target:
            break
    else:
        pytest.fail("Tab never reached the Approve button")
    await expect(card(page, item_id).get_by_role("button", name=target["text"])).to_be_focused()

    async with action_response(page, item_id) as info:
        await page.keyboard.press("Enter")
    assert await status_of(info) == 303
    await expect(card(page, item_id)).to_have_count(0)
    await expect(page.get_by_text(EMPTY)).to_be_visible()
    await page.goto(scene.topic_path)
    await expect(page.locator("article.post", has_text=text)).to_have_count(1)


async def test_moderation_pages_have_no_axe_violations(
    new_page: NewPage, scene: Scene, client: Any, arrange: Arrange
) -> None:
    async def check(page: Page, what: str) -> None:
        count, report = await axe_violations(page)
        assert count == 0, f"{what}:\n{report}"

    # The newcomer replies through the topic page and lands on their own held posts.
    author = await new_page()
    await log_in(author, scene.newcomer)
    await author.goto(scene.topic_path)
    text = f"My first reply, held {unique('r')}"
    await author.get_by_label("Your reply").fill(text)
    await author.get_by_role("button", name="Post reply").click()
    await expect(author).to_have_url(re.compile(r"/my/review#item-\d+$"))
    item_id = int(author.url.rsplit("-", 1)[1])
    held = author.locator(f"#item-{item_id}")
    await expect(held).to_contain_text("Waiting for a moderator")
    await check(author, "/my/review")

    await author.goto(f"/p/{scene.first_post_id}/flag")
    await expect(author.get_by_role("group", name="What is wrong?")).to_be_visible()
    await check(author, "the flag form")

    mod = await live_page(new_page, "/review", scene.mod1)
    await expect(card(mod, item_id)).to_be_visible()
    await check(mod, "/review with an item waiting")

    # A second newcomer's reply arrives live; its card must be as accessible, and work.
    other = await arrange.user(new=True, name="newcomer")
    live_id = await held_reply(client, scene, f"Arrived live {unique('r')}", author=other)
    await expect(card(mod, live_id)).to_be_visible()
    await expect(announcer(mod)).to_contain_text(NEW_ITEM)
    await check(mod, "/review after a live insert")
    async with action_response(mod, live_id) as info:  # its CSRF token was filled in
        await card(mod, live_id).get_by_role("button", name=f"Approve (item {live_id})").click()
    assert await status_of(info) == 303

    await mod.goto(f"/review/{item_id}")
    await expect(mod.get_by_role("heading", level=1)).to_have_text(f"Review item {item_id}")
    await check(mod, "/review/N")

    await mod.goto("/review/log")
    await expect(mod.get_by_role("region", name="Moderation log")).to_contain_text(
        f"item {live_id}"
    )
    await check(mod, "/review/log")

    await mod.goto("/review/watched-words")
    word = unique("zzqx")
    await mod.get_by_label("Word or phrase").fill(word)
    await mod.get_by_role("button", name="Add", exact=True).click()
    await expect(mod.locator(".words")).to_contain_text(word)
    await check(mod, "/review/watched-words")

    # The newcomer's page hears the outcome of their held reply live.
    await author.goto("/my/review")
    await expect(author.locator("main")).to_have_attribute("data-live-state", "live")
    page = await live_page(new_page, "/review", scene.mod2)
    await card(page, item_id).get_by_role("button", name=f"Approve (item {item_id})").click()
    await expect(held.locator("strong")).to_have_text("Approved")
    await check(author, "/my/review after a live outcome")
