"""The forum in a real browser: accessibility (axe), keyboard use, no JavaScript, phones, weight.

Every test runs against the uvicorn test server on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import pytest_asyncio
from axe_playwright_python.async_playwright import Axe, AxeResults
from playwright.async_api import Locator, Page, Request, expect

from forum.actions import (
    accounts,
    documents,
    edits,
    events,
    founding,
    learning,
    likes,
    membership,
    posts,
    profiles,
)
from forum.actions.drafts import Draft, PostEdit
from forum.forms import Input
from forum.queries import topics as topic_queries
from forum.queries.groups import Group
from forum.queries.users import User
from tests.browser.conftest import NewPage
from tests.conftest import PASSWORD, Arrange, unique

RICH_POST = """\
# Living with it day to day

Things that helped me:

- pacing, with rests *before* I need them
- a symptom diary
- talking to others here

| Week | Steps a day | How it felt |
|------|------------:|-------------|
| 1    | 2000        | tired       |
| 2    | 3500        | better      |

The [NHS page on pacing](https://www.nhs.uk/) and https://example.org/guide are good.

> Rest is not giving up.
"""

LONG_URL = "https://example.org/" + "averyveryverylongpathsegment" * 8 + "?query=" + "x" * 60
WIDE_TABLE = (
    "| " + " | ".join(f"Column heading {n}" for n in range(1, 11)) + " |\n"
    "|" + "---|" * 10 + "\n"
    "| " + " | ".join(f"value{n}withnospaces" for n in range(1, 11)) + " |\n"
)


@dataclass
class World:
    """One public group and a topic with several posts, made once per database."""

    author: User
    reader: User
    convener: User
    group: Group
    topic_id: int
    edited_post_id: int
    admin: User  # verified the reader's clinician badge
    asking: Group  # conveners approve each member; it has a statement and a waiting request
    invite_token: str  # an invite link to `asking`
    document_id: int  # a PDF in `group`, tagged, added by the author
    link_id: int  # a link in `group`
    event_id: int  # an event in `group`, full, the reader going and the author waiting
    update_id: int  # a learning update of `group`, with its sources
    first_post_id: int = 0  # the topic's first post, which the reader thanked


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def world(arrange: Arrange) -> World:
    author = await arrange.user(badge="patient", name="author")
    reader = await arrange.user(badge="clinician", name="reader")
    convener = await arrange.user(badge="carer", name="convener")
    group = await arrange.group(members=(author, reader), conveners=(convener,))
    first = await arrange.topic(group, author, "Pacing and fatigue", RICH_POST)
    await posts.do_reply(
        arrange.forum,
        reader,
        first.topic_id,
        Draft("Thank you, the **diary** idea is a good one.", reply_to_post_number=1),
    )
    edited = await arrange.reply(first.topic_id, author, "I walk 2000 steps on a bad day.")
    await likes.do_like(arrange.forum, reader, first.post_id, liked=True)
    await edits.do_edit_post(
        arrange.forum, author, edited.post_id, PostEdit("I walk 2500 steps on a bad day.", 1)
    )
    # The reader's clinician badge is verified, so pages show the verified mark too.
    admin = await arrange.user(role="admin", name="admin")
    await accounts.do_verify_badge(arrange.forum, admin, reader.username)
    # Founding and running groups: a proposal waiting, a group taking requests, with one
    # waiting, and an invite link.
    statement = {
        "description": ["Swapping ways to pace daily life."],
        "aim": ["Share what helps with fatigue."],
        "approach": ["Monthly hot topics."],
        "audience": ["Patients and carers."],
        "measures": ["Members tell us it helped."],
    }
    await founding.do_propose_group(
        arrange.forum,
        author,
        Input({"name": [f"Fatigue {unique('p')}"], "visibility": ["public"], **statement}),
    )
    asking = await arrange.group(conveners=(convener,))
    settings = {"joining": ["request"], "members_listed": ["members"], "unanswered_hours": ["24"]}
    await founding.do_edit_group(arrange.forum, convener, asking.id, Input(statement | settings))
    await membership.do_ask_to_join(arrange.forum, author, asking.id, "I would like to help.")
    made = await membership.do_create_invite(arrange.forum, convener, asking.id, 7, 10)
    # Documents: a file and a link, tagged.
    partial = arrange.forum.storage.begin()
    partial.write(PDF)
    described = {"title": ["Pacing leaflet"], "description": ["Two pages."], "tags": ["pacing"]}
    document_id = await documents.do_add_file(
        arrange.forum, author, group.id, Input(described), partial, "leaflet.pdf", len(PDF)
    )
    link = {"title": ["NHS pages"], "url": ["https://www.nhs.uk/"], "tags": ["pacing, nhs"]}
    link_id = await documents.do_add_link(arrange.forum, reader, group.id, Input(link))
    # An event with one place: the reader has it, the author waits.
    start = arrange.forum.now() + 3 * 86400
    meeting = {
        "title": ["Walk and talk"],
        "description": ["A gentle walk, then tea."],
        "starts_at": [iso(start)],
        "ends_at": [iso(start + 5400)],
        "place": ["Victoria Park gates"],
        "online_url": ["https://meet.example.org/walk"],
        "capacity": ["1"],
    }
    event_id = await events.do_schedule_event(arrange.forum, convener, group.id, Input(meeting))
    for person in (reader, author):
        await events.do_answer(arrange.forum, person, group.id, event_id, "going")
    # The reader's profile, for everyone to see.
    about = {
        "display_name": ["Dr Rea Der"],
        "bio": ["Respiratory physio.\nI run a pacing clinic."],
        "organisation": ["St Elsewhere NHS Trust"],
        "region": ["North West"],
        "interests": ["pacing, long-covid"],
        "visibility": ["everyone"],
    }
    await profiles.do_save_profile(arrange.forum, reader, Input(about))
    learned = {
        "title": ["Diaries help pacing"],
        "summary": ["Keeping a **diary** helped most."],
        "sources": [
            f"/t/pacing-and-fatigue/{first.topic_id}\n/g/{group.slug}/documents/{document_id}"
        ],
    }
    update_id = await learning.do_post_update(arrange.forum, convener, group.id, Input(learned))
    return World(
        author,
        reader,
        convener,
        group,
        first.topic_id,
        edited.post_id,
        admin,
        asking,
        made.token,
        document_id,
        link_id,
        event_id,
        update_id,
        first.post_id,
    )


PDF = b"%PDF-1.4\n%%EOF\n"


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat()


async def log_in(page: Page, user: User) -> None:
    """Log in through the real form, as a person would."""
    await page.goto("/login")
    await page.get_by_label("Username or email").fill(user.username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(user_menu(page)).to_contain_text(user.username)


def site_nav(page: Page) -> Locator:
    return page.get_by_role("navigation", name="Site")


def user_menu(page: Page) -> Locator:
    """The signed-in member's menu in the header (its button shows their name)."""
    return site_nav(page).locator(".user-menu summary")


async def focused(page: Page) -> dict[str, str]:
    return await page.evaluate(
        "() => { const e = document.activeElement;"
        " return {tag: e.tagName.toLowerCase(), id: e.id, text: e.textContent.trim()}; }"
    )


# --- accessibility: axe finds nothing on any page ------------------------------------------


async def failed_signup(page: Page, world: World) -> None:
    await page.goto("/signup")
    await page.get_by_label("Username", exact=True).fill(unique("newbie"))
    await page.get_by_label("Email").fill(f"{unique('n')}@example.org")
    await page.get_by_label("Password").fill("short")
    await page.get_by_role("button", name="Create account").click()
    await expect(page.get_by_role("alert")).to_contain_text("at least 10 characters")


Visit = Callable[[Page, World], Awaitable[None]]


def visit(path: Callable[[World], str], as_user: str | None = None, status: int = 200) -> Visit:
    async def go(page: Page, world: World) -> None:
        if as_user:
            await log_in(page, getattr(world, as_user))
        response = await page.goto(path(world))
        assert response is not None and response.status == status

    return go


async def rich_topic(page: Page, world: World) -> None:
    await visit(lambda w: f"/t/{w.topic_id}")(page, world)
    first = page.locator("#post-1 .cooked")
    for selector in ("h3", "ul > li", "table th", "a[href='https://www.nhs.uk/']", "blockquote"):
        await expect(first.locator(selector).first).to_be_visible()
    # The post answered opens in place; the thanks are counted for every reader.
    summary = page.locator("#post-2 details.reply-to summary")
    await expect(summary).to_have_text(f"In reply to #1 by {world.author.username}")
    await summary.click()
    await expect(page.locator("#post-2 details.reply-to blockquote")).to_be_visible()
    await expect(page.locator("#post-1 .post-likes")).to_contain_text("1 thank you")
    await expect(page.locator("#post-3").get_by_role("link", name="edited")).to_be_visible()


async def refused_upload(page: Page, world: World) -> None:
    """An HTML file named .pdf, refused, the form shown again with the problem."""
    await visit(lambda w: f"/g/{w.group.slug}/documents", as_user="author")(page, world)
    await page.get_by_label("File").set_input_files(
        {"name": "results.pdf", "mimeType": "application/pdf", "buffer": b"<html><p>x</p>"}
    )
    await page.locator("#file-title").fill("Results")
    await page.get_by_role("button", name="Upload").click()
    await expect(page.get_by_role("alert")).to_contain_text("cannot be shared here")


AXE_PAGES: dict[str, Visit] = {
    "home": visit(lambda w: "/"),
    "home-logged-in": visit(lambda w: "/", as_user="reader"),
    "group": visit(lambda w: f"/g/{w.group.slug}"),
    "topic": rich_topic,
    "topic-logged-in": visit(lambda w: f"/t/{w.topic_id}", as_user="author"),
    "login": visit(lambda w: "/login"),
    "signup": visit(lambda w: "/signup"),
    "signup-failed": failed_signup,
    "new-topic": visit(lambda w: f"/g/{w.group.slug}/new-topic", as_user="reader"),
    "reply-quote": visit(lambda w: f"/t/{w.topic_id}/reply?to=1", as_user="reader"),
    "revisions": visit(lambda w: f"/p/{w.edited_post_id}/revisions"),
    "post-likes": visit(lambda w: f"/p/{w.first_post_id}/likes", as_user="reader"),
    "topic-thanked": visit(lambda w: f"/t/{w.topic_id}", as_user="reader"),
    "user": visit(lambda w: f"/u/{w.author.username}"),
    "user-verified": visit(lambda w: f"/u/{w.reader.username}"),
    "user-own-badge-form": visit(lambda w: f"/u/{w.reader.username}", as_user="reader"),
    "user-as-admin": visit(lambda w: f"/u/{w.reader.username}", as_user="admin"),
    "not-found": visit(lambda w: "/no/such/page", status=404),
    "members": visit(lambda w: f"/g/{w.group.slug}/members", as_user="convener"),
    "notifications": visit(lambda w: "/notifications", as_user="reader"),
    "search": visit(lambda w: "/search?q=post&order=latest", as_user="reader"),
    "search-anonymous": visit(lambda w: "/search?q=post"),
    "email-choices": visit(lambda w: "/my/email", as_user="reader"),
    "group-as-convener": visit(lambda w: f"/g/{w.group.slug}", as_user="convener"),
    "propose-group": visit(lambda w: "/groups/propose", as_user="author"),
    "proposals": visit(lambda w: "/proposals", as_user="admin"),
    "group-asking": visit(lambda w: f"/g/{w.asking.slug}", as_user="reader"),
    "group-settings": visit(lambda w: f"/g/{w.asking.slug}/settings", as_user="convener"),
    "join-requests": visit(lambda w: f"/g/{w.asking.slug}/requests", as_user="convener"),
    "invites": visit(lambda w: f"/g/{w.asking.slug}/invites", as_user="convener"),
    "invite": visit(lambda w: f"/invite/{w.invite_token}", as_user="reader"),
    "invite-signed-out": visit(lambda w: f"/invite/{w.invite_token}"),
    "unanswered": visit(lambda w: "/unanswered", as_user="convener"),
    "group-unanswered-filter": visit(lambda w: f"/g/{w.group.slug}?show=unanswered"),
    "documents": visit(lambda w: f"/g/{w.group.slug}/documents", as_user="author"),
    "documents-anonymous": visit(lambda w: f"/g/{w.group.slug}/documents?tag=pacing&sort=title"),
    "documents-refused": refused_upload,
    "document": visit(lambda w: f"/g/{w.group.slug}/documents/{w.document_id}", as_user="author"),
    "document-link": visit(lambda w: f"/g/{w.group.slug}/documents/{w.link_id}"),
    "events": visit(lambda w: f"/g/{w.group.slug}/events", as_user="convener"),
    "events-anonymous": visit(lambda w: f"/g/{w.group.slug}/events"),
    "event-waiting": visit(lambda w: f"/g/{w.group.slug}/events/{w.event_id}", as_user="author"),
    "event-as-convener": visit(
        lambda w: f"/g/{w.group.slug}/events/{w.event_id}", as_user="convener"
    ),
    "event-new": visit(lambda w: f"/g/{w.group.slug}/events/new", as_user="convener"),
    "event-edit": visit(
        lambda w: f"/g/{w.group.slug}/events/{w.event_id}/edit", as_user="convener"
    ),
    "my-profile": visit(lambda w: "/my/profile", as_user="reader"),
    "my-profile-empty": visit(lambda w: "/my/profile", as_user="author"),
    "people": visit(lambda w: "/people", as_user="author"),
    "people-search": visit(lambda w: "/people?interest=pacing&badge=clinician"),
    "people-refused": visit(lambda w: "/people?badge=wizard", status=400),
    "user-with-profile": visit(lambda w: f"/u/{w.reader.username}"),
    "learning": visit(lambda w: "/learning"),
    "learning-update": visit(lambda w: f"/learning/{w.update_id}", as_user="convener"),
    "learning-new": visit(lambda w: f"/g/{w.group.slug}/learning/new", as_user="convener"),
}


async def axe(page: Page, **context: object) -> AxeResults:
    """axe's default rules plus label-in-name (WCAG 2.5.3), which axe still calls experimental."""
    options = {
        "resultTypes": ["violations"],
        "rules": {"label-content-name-mismatch": {"enabled": True}},
    }
    return await Axe().run(page, context=context or None, options=options)


@pytest.mark.parametrize("name", AXE_PAGES)
async def test_page_has_no_axe_violations(page: Page, world: World, name: str) -> None:
    await AXE_PAGES[name](page, world)
    results = await axe(page)
    assert results.violations_count == 0, results.generate_report()


# --- keyboard ------------------------------------------------------------------------------


async def test_skip_link_is_first_and_moves_focus_to_main(page: Page, world: World) -> None:
    await page.goto(f"/t/{world.topic_id}")
    await page.keyboard.press("Tab")
    assert await focused(page) == {"tag": "a", "id": "", "text": "Skip to content"}
    await expect(page.get_by_role("link", name="Skip to content")).to_be_in_viewport()
    await page.keyboard.press("Enter")
    assert (await focused(page))["id"] == "main"
    await page.keyboard.press("Tab")  # the next stop is inside main: the breadcrumb
    assert (await focused(page))["text"] == world.group.name


async def test_reply_with_the_keyboard_only(page: Page, world: World) -> None:
    await log_in(page, world.reader)
    await page.goto(f"/t/{world.topic_id}")
    for _ in range(100):
        await page.keyboard.press("Tab")
        if (await focused(page))["id"] == "raw":
            break
    else:
        pytest.fail("Tab never reached the reply box")
    text = f"Typed without a mouse {unique('k')}"
    await page.keyboard.type(text)
    await page.keyboard.press("Tab")
    # The preview's disclosure comes first once the writing help has shown it (composer.js
    # loads when the box is first used): a stop on the way, as its place in the page says.
    if await focused(page) == {"tag": "summary", "id": "", "text": "Preview"}:
        await page.keyboard.press("Tab")
    assert await focused(page) == {"tag": "button", "id": "", "text": "Post reply"}
    await page.keyboard.press("Enter")
    await expect(page.locator("article.post").last).to_contain_text(text)
    await expect(page.locator("article.post").last).to_contain_text(world.reader.username)


# --- JavaScript off: the whole round trip with plain HTML forms -----------------------------


async def test_the_forum_works_without_javascript(new_page: NewPage, arrange: Arrange) -> None:
    group = await arrange.group()
    # A group that trusts new members' first posts (the hold is tested in test_review.py).
    await arrange.db.execute(
        "UPDATE groups SET hold_first_posts = 0 WHERE id = :g", {"g": group.id}
    )
    page = await new_page(java_script_enabled=False)
    name = unique("nojs")

    await page.goto("/signup")
    await page.get_by_label("Username", exact=True).fill(name)
    await page.get_by_label("Email").fill(f"{name}@example.org")
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_label("Carer").check()
    await page.get_by_role("button", name="Create account").click()
    await expect(user_menu(page)).to_contain_text(name)

    await page.goto(f"/g/{group.slug}")
    await page.get_by_role("link", name="Start a topic").click()
    await page.get_by_label("Title").fill("Does anyone else nap at noon?")
    await page.get_by_label("Your post").fill("I nap at noon most days.")
    await page.get_by_role("button", name="Post").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Does anyone else nap at noon?")
    await expect(page.locator("#post-1")).to_contain_text("I nap at noon most days.")

    await page.get_by_label("Your reply").fill("Only after a clinic day.")
    await page.get_by_role("button", name="Post reply").click()
    await expect(page.locator("#post-2")).to_contain_text("Only after a clinic day.")

    await page.get_by_role("link", name="Quote and reply to post 1").click()
    await expect(page.get_by_text(f"You are replying to post 1 by {name}")).to_be_visible()
    box = page.get_by_label("Your post")
    await expect(box).to_have_value(
        f"> **{name}** wrote (post 1):\n>\n> I nap at noon most days.\n\n"
    )
    await box.press("Control+End")
    await box.press_sequentially("Noon is when my energy dips too.")
    await page.get_by_role("button", name="Post").click()
    third = page.locator("#post-3")
    await expect(third).to_contain_text("Noon is when my energy dips too.")
    await expect(third.locator(".cooked blockquote")).to_contain_text("I nap at noon most days.")
    await expect(third.locator(".reply-to summary")).to_have_text(f"In reply to #1 by {name}")

    await page.get_by_role("link", name="Edit post 2").click()
    await expect(page.get_by_label("Your post")).to_have_value("Only after a clinic day.")
    await page.get_by_label("Your post").fill("Only after a long clinic day.")
    await page.get_by_role("button", name="Save changes").click()
    second = page.locator("#post-2")
    await expect(second).to_contain_text("Only after a long clinic day.")
    await second.get_by_role("link", name="edited").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Edit history of post 2 by {name}"
    )
    await expect(page.locator("main")).to_contain_text("Only after a clinic day.")
    # Word by word: only the word added is marked.
    await expect(page.locator(".diff del")).to_have_count(0)
    await expect(page.locator(".diff ins")).to_contain_text("long")

    await user_menu(page).click()
    await site_nav(page).get_by_role("button", name="Log out").click()
    await expect(site_nav(page).get_by_role("link", name="Log in")).to_be_visible()
    await expect(user_menu(page)).to_have_count(0)


# --- phones ---------------------------------------------------------------------------------


async def test_topic_page_fits_a_phone(new_page: NewPage, arrange: Arrange, world: World) -> None:
    written = await arrange.topic(
        world.group,
        world.author,
        "Links and tables on a small screen",
        f"Here is the guidance: {LONG_URL}\n\n{WIDE_TABLE}",
    )
    await arrange.reply(written.topic_id, world.reader, f"The same link again: <{LONG_URL}>")
    await arrange.reply(written.topic_id, world.author, f"```\n{'x = 1; ' * 40}\n```")
    page = await new_page(viewport={"width": 360, "height": 640})
    await log_in(page, world.reader)
    await page.goto(f"/t/{written.topic_id}")
    await expect(page.locator("article.post")).to_have_count(3)
    await expect(page.locator("article.post table")).to_be_visible()
    await page.screenshot(path="/tmp/topic-phone.png", full_page=True)
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 360, f"the page scrolls sideways: {width}px wide on a 360px screen"
    # The table scrolls inside its focusable box instead, each cell's word whole on one line.
    box = page.locator("article.post .table-scroll")
    assert await box.evaluate("b => b.scrollWidth > b.clientWidth && b.clientWidth <= 360")
    assert await box.get_attribute("tabindex") == "0"
    table = page.locator("article.post table")
    lines_per_cell = await table.evaluate(
        "t => [...t.querySelectorAll('td')].map(td => {"
        " const r = document.createRange(); r.selectNodeContents(td);"
        " return r.getClientRects().length; })"
    )
    assert lines_per_cell == [1] * 10, f"table cells broken over lines: {lines_per_cell}"
    # The code block wraps rather than scrolls. The scrolling table is left to the next test.
    results = await axe(page)
    assert results.violations_count == 0, results.generate_report()


async def test_wide_table_can_be_scrolled_by_keyboard(
    new_page: NewPage, arrange: Arrange, world: World
) -> None:
    written = await arrange.topic(world.group, world.author, "A wide table", WIDE_TABLE)
    page = await new_page(viewport={"width": 360, "height": 640})
    await page.goto(f"/t/{written.topic_id}")
    results = await Axe().run(page, options={"runOnly": ["scrollable-region-focusable"]})
    assert results.violations_count == 0, results.generate_report()


# --- page weight ----------------------------------------------------------------------------


async def transferred_bytes(page: Page, path: str) -> dict[str, int]:
    """Bytes on the wire (headers + body) per resource type, for a first, uncached visit."""
    finished: list[Request] = []
    page.on("requestfinished", lambda request: finished.append(request))
    await page.goto(path, wait_until="load")
    totals: dict[str, int] = {}
    for request in finished:
        sizes = await request.sizes()
        size = sizes["responseHeadersSize"] + sizes["responseBodySize"]
        totals[request.resource_type] = totals.get(request.resource_type, 0) + size
    return totals


async def test_topic_page_is_light(new_page: NewPage, arrange: Arrange, world: World) -> None:
    written = await arrange.topic(world.group, world.author, "Short replies", "Post number 1.")
    for n in range(2, 21):
        await arrange.reply(
            written.topic_id,
            world.reader if n % 2 else world.author,
            f"Post number {n}, a short one.",
        )
    topic = await topic_queries.get_topic(arrange.db, written.topic_id)
    assert topic is not None
    path = f"/t/{topic.slug}/{topic.id}"

    anonymous = await transferred_bytes(await new_page(), path)
    login_page = await new_page()
    await log_in(login_page, world.reader)
    # A new context with the session cookie but a cold cache, as on a member's first visit.
    session = await login_page.context.storage_state()
    member = await transferred_bytes(await new_page(storage_state=session), path)

    for who, totals in (("anonymous", anonymous), ("member", member)):
        print(f"\ntopic page with 20 posts, {who}: {totals} = {sum(totals.values())} bytes")
        # "other": the favicon (a small SVG), fetched once per site.
        assert set(totals) <= {"document", "stylesheet", "script", "other"}, totals
        assert totals.get("other", 0) < 1024, totals
        # Issue 13 asks 60 KB compressed for an anonymous reader; pages are sent as they are
        # (issue 14 compresses cached ones), and we hold to two thirds of that uncompressed,
        # with an avatar, marks and thanks on each post. A member's page carries each post's
        # controls and the reply box: 50 KB.
        page_bytes = sum(v for k, v in totals.items() if k != "other")
        assert page_bytes < (40 if who == "anonymous" else 50) * 1024, f"{who}: {totals}"
