"""Live updates in a real browser (static/live.js over `/live`): replies, edits, presence,
topic lists, a reader scrolled up, reconnecting and resuming, lost access, and axe.

Every test runs against the uvicorn test server on SQLite and on PostgreSQL. Changes that must
arrive live are made through the server (a browser form or an HTTP client), never by `arrange`:
only the server's own writes wake its bus.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Any

import pytest_asyncio
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Locator, Page, WebSocketRoute, expect

from forum.queries.groups import Group
from forum.queries.users import User
from tests.browser.conftest import NewPage
from tests.conftest import PASSWORD, Arrange, Client, unique

OFFLINE = "You are offline. Live updates will start again when you are back online."
REPLYING = "…"  # live.js ends "<name> is replying…" with an ellipsis


@dataclass
class Scene:
    """Two members of a public group, and a topic `ana` started there."""

    ana: User
    bob: User
    group: Group
    topic_id: int

    @property
    def topic_path(self) -> str:
        return f"/t/{self.topic_id}"


@pytest_asyncio.fixture(loop_scope="session")
async def scene(arrange: Arrange) -> Scene:
    ana, bob = await arrange.user(name="ana"), await arrange.user(name="bob")
    group = await arrange.group(members=(ana, bob))
    written = await arrange.topic(group, ana, "Sleep after night shifts", "How do you sleep?")
    return Scene(ana, bob, group, written.topic_id)


async def log_in(page: Page, user: User) -> None:
    await page.goto("/login")
    await page.get_by_label("Username or email").fill(user.username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator(".user-menu summary")).to_contain_text(user.username)


async def live_page(new_page: NewPage, path: str, user: User | None = None, **options: Any) -> Page:
    """A page (logged in as `user`, if given) at `path`, once every channel is subscribed."""
    page = await new_page(**options)
    if user is not None:
        await log_in(page, user)
    await page.goto(path)
    await expect(page.locator("main")).to_have_attribute("data-live-state", "live")
    return page


async def http_member(client: Any, user: User) -> Client:
    """Another person acting through plain HTTP forms, as a browser without JavaScript would."""
    made: Client = client()
    await made.login(user)
    return made


async def reply(member: Client, topic_id: int, raw: str) -> None:
    response = await member.post_form(f"/t/{topic_id}/reply", {"raw": raw})
    assert response.status_code == 303, response.text


def announcer(page: Page) -> Locator:
    return page.locator("[aria-live=polite]")


def replying(page: Page) -> Locator:
    return page.locator(".presence [role=status]")


async def axe_violations(page: Page) -> tuple[int, str]:
    options = {
        "resultTypes": ["violations"],
        "rules": {"label-content-name-mismatch": {"enabled": True}},
    }
    results = await Axe().run(page, options=options)
    return results.violations_count, results.generate_report()


# --- topic pages ----------------------------------------------------------------------------


async def test_a_reply_appears_on_the_other_page_within_a_second(
    new_page: NewPage, scene: Scene
) -> None:
    a = await live_page(new_page, scene.topic_path, scene.ana)
    b = await live_page(new_page, scene.topic_path, scene.bob)
    for page in (a, b):
        await expect(page.locator(".presence")).to_contain_text("2 reading")

    text = f"Blackout blinds help {unique('r')}"
    await a.get_by_label("Your reply").fill(text)
    posted = time.monotonic()
    await a.get_by_role("button", name="Post reply").click()
    left_ms = max(1, round(1000 - (time.monotonic() - posted) * 1000))
    await expect(b.locator("#post-2")).to_be_visible(timeout=left_ms)

    await expect(b.locator("#post-2 .cooked")).to_have_text(text)
    await expect(b.locator("article.post")).to_have_count(2)
    await expect(announcer(b)).to_contain_text(f"New reply from {scene.ana.username}")
    # The shared html has no per-viewer controls; the page adds the reader's own.
    await expect(b.get_by_role("link", name="Quote and reply to post 2")).to_be_visible()
    # Ana's page reloaded after posting; once back, two pages are reading again.
    for page in (a, b):
        await expect(page.locator(".presence")).to_contain_text("2 reading")


async def test_typing_a_reply_shows_who_is_replying(new_page: NewPage, scene: Scene) -> None:
    a = await live_page(new_page, scene.topic_path, scene.ana)
    b = await live_page(new_page, scene.topic_path, scene.bob)
    await expect(replying(b)).to_have_text("")

    box = a.get_by_label("Your reply")
    await box.press_sequentially("I find")
    await expect(replying(b)).to_have_text(f"{scene.ana.username} is replying{REPLYING}")
    await expect(replying(a)).to_have_text("")  # not told about oneself

    await box.fill("")
    await box.blur()  # an empty box left behind: viewing again
    await expect(replying(b)).to_have_text("")
    await expect(b.locator(".presence")).to_contain_text("2 reading")


async def test_an_edit_changes_the_post_in_place(
    new_page: NewPage, scene: Scene, arrange: Arrange
) -> None:
    written = await arrange.reply(scene.topic_id, scene.ana, "Earplugs, every night.")
    number = written.post_number
    a = await live_page(new_page, scene.topic_path, scene.ana)
    b = await live_page(new_page, scene.topic_path, scene.bob)
    post = b.locator(f"#post-{number}")
    await post.evaluate("article => { article.dataset.mark = 'the same element'; }")

    await a.get_by_role("link", name=f"Edit post {number}").click()
    await a.get_by_label("Your post").fill("Earplugs and an eye mask, every night.")
    await a.get_by_role("button", name="Save changes").click()

    await expect(post.locator(".cooked")).to_have_text("Earplugs and an eye mask, every night.")
    await expect(post.get_by_role("link", name="edited")).to_be_visible()
    await expect(post).to_have_attribute("data-mark", "the same element")
    await expect(b.locator(f"[id=post-{number}]")).to_have_count(1)
    await expect(b.get_by_role("link", name=f"Quote and reply to post {number}")).to_be_visible()


async def test_a_reader_scrolled_up_is_not_moved_and_gets_a_new_replies_button(
    new_page: NewPage, scene: Scene, arrange: Arrange, client: Any
) -> None:
    written = await arrange.topic(scene.group, scene.ana, "A long one", "Post number 1.")
    for n in range(2, 21):
        await arrange.reply(written.topic_id, scene.bob, f"Post number {n}.")
    b = await live_page(new_page, f"/t/{written.topic_id}", scene.bob)
    await expect(b.get_by_role("link", name="Later posts")).to_have_count(0)  # the last page
    await b.evaluate("window.scrollTo(0, 0)")
    assert await b.evaluate("document.documentElement.scrollHeight > 2 * innerHeight")

    ana = await http_member(client, scene.ana)
    await reply(ana, written.topic_id, "Post number 21.")
    await reply(ana, written.topic_id, "Post number 22.")

    button = b.get_by_role("button", name="2 new replies")
    await expect(button).to_be_visible()
    await expect(b.locator("#post-22")).to_be_attached()
    assert await b.evaluate("scrollY") == 0, "the reader was moved"
    await expect(b.locator("#post-21")).not_to_be_in_viewport()

    await button.focus()
    await b.keyboard.press("Enter")
    await expect(b.locator("#post-21")).to_be_focused()
    await expect(b.locator("#post-21")).to_be_in_viewport()
    await expect(b.locator(".live-new")).to_be_hidden()


# --- topic lists ----------------------------------------------------------------------------


async def test_group_and_home_lists_take_new_and_bumped_topics(
    new_page: NewPage, scene: Scene, arrange: Arrange, client: Any
) -> None:
    older = await arrange.topic(scene.group, scene.bob, f"Older {unique('t')}", "Old news.")
    await arrange.topic(scene.group, scene.bob, f"Newer {unique('t')}", "New news.")
    group_page = await live_page(new_page, f"/g/{scene.group.slug}", scene.bob)
    home_page = await live_page(new_page, "/")  # anonymous: `latest`, public groups only
    ana = await http_member(client, scene.ana)

    title = f"Naps before a night shift {unique('t')}"
    response = await ana.post_form(
        f"/g/{scene.group.slug}/new-topic", {"title": title, "raw": "Do naps help?"}
    )
    assert response.status_code == 303, response.text
    for page, in_group_shown in ((group_page, False), (home_page, True)):
        first = page.locator("[data-live-list] > li").first
        await expect(first.locator(".topic-title")).to_have_text(title)
        await expect(first.locator(".in-group")).to_be_visible(visible=in_group_shown)
        await expect(announcer(page)).to_contain_text(f"New topic: {title}")

    await reply(ana, older.topic_id, "Still relevant.")
    for page in (group_page, home_page):
        first = page.locator("[data-live-list] > li").first
        await expect(first).to_have_id(f"topic-row-{older.topic_id}")
        await expect(first.locator(".replies")).to_have_text("1 reply")
        await expect(first.locator(".activity")).to_contain_text(
            f"Last post by {scene.ana.username}"
        )
        # The readers counted when the page was made stay with the row as it moves.
        await expect(first.locator(".readers")).to_have_text(re.compile(r"^\d+ readers?$"))
        await expect(page.locator(f"[id=topic-row-{older.topic_id}]")).to_have_count(1)


async def test_an_empty_group_loses_its_empty_message(
    new_page: NewPage, scene: Scene, arrange: Arrange, client: Any
) -> None:
    group = await arrange.group(members=(scene.ana,))
    page = await live_page(new_page, f"/g/{group.slug}")
    await expect(page.get_by_text("No topics yet.")).to_be_visible()
    ana = await http_member(client, scene.ana)
    response = await ana.post_form(
        f"/g/{group.slug}/new-topic", {"title": "The first topic here", "raw": "Hello."}
    )
    assert response.status_code == 303, response.text
    await expect(page.locator("[data-live-list] > li")).to_have_count(1)
    await expect(page.get_by_text("No topics yet.")).to_have_count(0)


# --- connection -----------------------------------------------------------------------------

# Until `__liveHeld` is cleared, new sockets go to a port the page's policy (connect-src
# 'self') refuses, and fail: the page cannot reconnect, so what happens meanwhile can only reach
# it by resuming. Chromium ends such a try with an `error` event and no `close`.
HOLD_RECONNECTS = """() => {
  window.__liveHeld = true;
  const Real = window.WebSocket;
  window.WebSocket = class extends Real {
    constructor(url, protocols) { super(window.__liveHeld ? 'ws://127.0.0.1:9/' : url, protocols); }
  };
  window.forumLive._socket.close();
}"""


async def dropped(new_page: NewPage, scene: Scene, how: str) -> tuple[Page, int, Locator]:
    """Bob's live page on the scene's topic, with its post count and live status, once its
    socket is closed by `how` (a script that also decides what the next tries meet)."""
    b = await live_page(new_page, scene.topic_path, scene.bob)
    count = await b.locator("article.post").count()
    status = b.get_by_role("status").filter(has_text=re.compile("Live updates"))
    await b.evaluate(how)
    await expect(status).to_have_text("Live updates paused. Reconnecting…")
    await expect(b.locator("main")).to_have_attribute("data-live-state", "paused")
    return b, count, status


async def test_a_dropped_connection_resumes_without_loss_or_duplicates(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    b, count, status = await dropped(new_page, scene, HOLD_RECONNECTS)
    text = f"Sent while you were away {unique('r')}"
    await reply(await http_member(client, scene.ana), scene.topic_id, text)
    await expect(b.locator("article.post")).to_have_count(count)  # nothing can arrive yet

    # The network comes back: the browser says so, and live.js tries at once, not after
    # the backoff its failed tries built up (which grows the longer it was away).
    await b.evaluate("window.__liveHeld = false; window.dispatchEvent(new Event('online'))")
    await expect(status).to_have_text("Live updates are back.", timeout=10_000)
    await expect(b.locator(".live-bar button")).to_have_count(2)
    for button in await b.locator(".live-bar button").all():
        await expect(button).to_be_hidden()  # no reload needed, no reply out of view
    await expect(b.locator("article.post", has_text=text)).to_have_count(1)
    await expect(b.locator("article.post")).to_have_count(count + 1)
    await expect(b.locator("article.post").last).to_contain_text(text)
    # Resuming again from the same place brings nothing twice.
    await b.evaluate(HOLD_RECONNECTS)
    await expect(b.locator("main")).to_have_attribute("data-live-state", "paused")
    await b.evaluate("window.__liveHeld = false")
    await expect(b.locator("main")).to_have_attribute("data-live-state", "live")
    await expect(b.locator("article.post")).to_have_count(count + 1)


async def test_going_offline_pauses_and_coming_back_brings_what_was_missed(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    b = await live_page(new_page, scene.topic_path, scene.bob)
    status = b.get_by_role("status").filter(has_text=re.compile("Live updates"))
    await b.context.set_offline(True)
    await expect(status).to_have_text(OFFLINE)
    # live.js closed the socket itself: Chromium's offline emulation leaves open ones open.
    assert await b.evaluate("window.forumLive._socket") is None
    text = f"Sent while you were offline {unique('r')}"
    await reply(await http_member(client, scene.ana), scene.topic_id, text)
    await expect(b.locator("article.post", has_text=text)).to_have_count(0)
    await b.context.set_offline(False)
    await expect(status).to_have_text("Live updates are back.", timeout=10_000)
    await expect(b.locator("article.post", has_text=text)).to_have_count(1)


async def test_a_socket_gone_silent_is_noticed_and_replaced(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    """A socket that stays open but hears nothing (a router forgot it): live.js pings every
    25 s; two pings in a row unanswered, and the page starts a new socket. One that answers
    is kept however long it is quiet."""
    b = await new_page()
    await b.clock.install()
    silent = {"now": False}

    async def relay(page_side: WebSocketRoute) -> None:
        server_side = page_side.connect_to_server()
        page_side.on_message(server_side.send)
        server_side.on_message(lambda m: None if silent["now"] else page_side.send(m))

    await b.route_web_socket(re.compile(r"/live$"), relay)
    await log_in(b, scene.bob)
    await b.goto(scene.topic_path)
    await expect(b.locator("main")).to_have_attribute("data-live-state", "live")
    status = b.get_by_role("status").filter(has_text=re.compile("Live updates"))
    await b.evaluate("window.forumLive._socket.first = true")
    for _ in range(3):  # quiet, but its pings are answered
        await b.clock.run_for(25_000)
        await b.wait_for_timeout(100)  # the pong's way back through the relay
    assert await b.evaluate("window.forumLive._socket.first === true")

    silent["now"] = True
    text = f"Sent while the socket was silent {unique('r')}"
    await reply(await http_member(client, scene.ana), scene.topic_id, text)
    await b.clock.run_for(50_000)  # two pings go out; nothing comes back
    await expect(b.locator("article.post", has_text=text)).to_have_count(0)
    await expect(b.locator("main")).to_have_attribute("data-live-state", "live")
    await b.clock.run_for(25_000)  # the next finds both unanswered
    await expect(status).to_have_text("Live updates paused. Reconnecting…")
    silent["now"] = False
    await b.clock.run_for(2_000)  # the first retry's backoff
    await expect(status).to_have_text("Live updates are back.", timeout=10_000)
    await expect(b.locator("article.post", has_text=text)).to_have_count(1)
    assert await b.evaluate("window.forumLive._socket.first") is None  # a new socket


# A try that hangs unanswered (a phone in a tunnel: no reply, no refusal) stays CONNECTING.
HANG_RECONNECTS = """() => {
  window.__liveHung = true;
  const Real = window.WebSocket;
  window.WebSocket = class extends Real {
    constructor(url, protocols) {
      if (!window.__liveHung) { super(url, protocols); return; }
      window.__liveHangs = (window.__liveHangs || 0) + 1;
      return {readyState: 0, close() { this.readyState = 3; }, send() {}};
    }
  };
  window.forumLive._socket.close();
}"""


async def test_a_try_hanging_when_the_network_returns_does_not_hold_up_the_next(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    b, count, status = await dropped(new_page, scene, HANG_RECONNECTS)
    # The first try after the drop (within 0.75 s) hangs; nothing else is tried behind it.
    deadline = time.monotonic() + 10  # the page's policy forbids wait_for_function's eval
    while await b.evaluate("window.__liveHangs || 0") < 1:
        assert time.monotonic() < deadline, "live.js never tried again"
        await b.wait_for_timeout(50)
    text = f"Sent while the try hung {unique('r')}"
    await reply(await http_member(client, scene.ana), scene.topic_id, text)

    await b.evaluate("window.__liveHung = false; window.dispatchEvent(new Event('online'))")
    await expect(status).to_have_text("Live updates are back.", timeout=10_000)
    await expect(b.locator("article.post", has_text=text)).to_have_count(1)
    await expect(b.locator("article.post")).to_have_count(count + 1)
    assert await b.evaluate("window.__liveHangs") == 1


async def test_a_try_unanswered_for_15_seconds_is_given_up_without_a_network_event(
    new_page: NewPage, scene: Scene, client: Any
) -> None:
    """15 s for the first try after a drop; after repeated failures longer (30 s for the
    second), so a slow link's handshake is not cut off every time."""
    b = await new_page()
    await b.clock.install()
    await log_in(b, scene.bob)
    await b.goto(scene.topic_path)
    await expect(b.locator("main")).to_have_attribute("data-live-state", "live")
    status = b.get_by_role("status").filter(has_text=re.compile("Live updates"))
    await b.evaluate(HANG_RECONNECTS)
    await expect(status).to_have_text("Live updates paused. Reconnecting…")
    hangs = "window.__liveHangs || 0"
    await b.clock.run_for(1_000)  # the first retry (0.25-0.75 s): it hangs
    assert await b.evaluate(hangs) == 1
    await b.clock.run_for(14_000)
    assert await b.evaluate(hangs) == 1  # still waiting on it
    await b.clock.run_for(3_000)  # 15 s: given up; the next try after 0.5-1.5 s hangs too
    assert await b.evaluate(hangs) == 2
    await b.clock.run_for(25_000)
    assert await b.evaluate(hangs) == 2  # waited on for 30 s, this one
    await b.evaluate("window.__liveHung = false")
    await b.clock.run_for(10_000)  # given up; the next try after 1-3 s connects
    await expect(status).to_have_text("Live updates are back.", timeout=10_000)


async def test_leaving_a_private_group_stops_its_updates(
    new_page: NewPage, scene: Scene, arrange: Arrange, client: Any
) -> None:
    group = await arrange.group("private", members=(scene.ana, scene.bob))
    b = await live_page(new_page, f"/g/{group.slug}", scene.bob)
    bob = await http_member(client, scene.bob)  # Bob leaves from another device
    response = await bob.post_form(f"/g/{group.slug}/leave")
    assert response.status_code == 303, response.text
    await expect(b.get_by_role("status")).to_contain_text(
        "You no longer have access to this group."
    )
    await expect(b.locator("main")).to_have_attribute("data-live-state", "live")


# --- accessibility --------------------------------------------------------------------------


async def test_a_live_topic_page_has_no_axe_violations(
    new_page: NewPage, scene: Scene, arrange: Arrange
) -> None:
    written = await arrange.topic(scene.group, scene.bob, "Accessible live pages", "First.")
    for n in range(2, 9):
        await arrange.reply(written.topic_id, scene.bob, f"Reply {n}, with some words in it.")
    path = f"/t/{written.topic_id}"
    a = await live_page(new_page, path, scene.ana)
    b = await live_page(new_page, path, scene.bob, viewport={"width": 1024, "height": 600})
    await a.get_by_label("Your reply").press_sequentially("Typing")
    await expect(replying(b)).to_contain_text("is replying")
    await a.get_by_label("Your reply").fill("Posted live.")
    await a.get_by_role("button", name="Post reply").click()
    await expect(b.locator("#post-9")).to_contain_text("Posted live.")
    await expect(b.get_by_role("button", name="1 new reply")).to_be_visible()
    await expect(b.locator(".presence")).to_contain_text("2 reading")

    count, report = await axe_violations(b)
    assert count == 0, report


async def test_a_live_post_shows_each_viewer_the_controls_a_reload_would(
    new_page: NewPage, scene: Scene, arrange: Arrange, client: Any
) -> None:
    """The author sees Edit on their own post as it arrives, a moderator their controls,
    an anonymous reader none; each page passes axe with the new post in it."""
    moderator = await arrange.user(role="moderator", name="mod")
    written = await arrange.topic(scene.group, scene.bob, "Controls as they arrive", "First.")
    path = f"/t/{written.topic_id}"
    author = await live_page(new_page, path, scene.ana)
    moderating = await live_page(new_page, path, moderator)
    anonymous = await live_page(new_page, path)
    await author.get_by_label("Your reply").fill("My reply, arriving live.")
    await author.get_by_role("button", name="Post reply").click()
    for page in (moderating, anonymous):
        await expect(page.locator("#post-2")).to_contain_text("My reply, arriving live.")
    # The author's own page reloads after posting without JavaScript's help; the live
    # insert is what the others see, so the author's live view is checked with a 2nd reply.
    author_live = await live_page(new_page, path, scene.ana)
    await reply(await http_member(client, scene.ana), written.topic_id, "A second one.")
    await expect(author_live.locator("#post-3")).to_contain_text("A second one.")

    def actions(page: Page, number: int) -> Locator:
        return page.locator(f"#post-{number} .post-actions a")

    await expect(actions(author_live, 3)).to_have_text(["Quote and reply to post 3", "Edit post 3"])
    await expect(actions(moderating, 2)).to_have_text(
        ["Quote and reply to post 2", "Edit post 2", "Flag post 2"]
    )
    await expect(actions(anonymous, 2)).to_have_count(0)
    # The moderator's Edit opens the editor for that post, by keyboard too.
    await actions(moderating, 2).nth(1).focus()
    await moderating.keyboard.press("Enter")
    await expect(moderating).to_have_url(re.compile(r"/p/\d+/edit$"))
    for page in (author_live, anonymous):
        count, report = await axe_violations(page)
        assert count == 0, report
