"""Email (issue 11) against a real SMTP server (aiosmtpd) on a loopback port, on SQLite and
PostgreSQL: what an email says (both parts, the link to the post, one-click unsubscribe),
what it never says (private groups' text, hidden posts, lost access), retries (a refusal, a
server that hangs), nothing lost or sent twice (a sender that dies, two senders at once),
digests, and the email choices."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.controller import Controller

from forum.actions import following
from forum.actions.accounts import do_create_api_key
from forum.actions.drafts import Decision
from forum.actions.groups import do_leave_group
from forum.actions.moderation import do_flag_post, do_review
from forum.context import Forum
from forum.emails import read_unsubscribe_token, unsubscribe_token
from forum.mailer import Mailer
from forum.queries import outbox
from forum.queries import review as review_queries
from tests.clock import MovableClock
from tests.conftest import Arrange, Client, alerted, free_port, logged_in
from tests.test_debates import until


@dataclass
class Inbox:
    """What the SMTP server received; `refuse` and `hang` make its next DATA fail."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: int = 0  # answer the next N with 451 (try again later)
    hang: int = 0  # hold the next N past any timeout, then drop them

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.hang:
            self.hang -= 1
            await asyncio.sleep(5)
            return "451 4.4.2 too slow"
        if self.refuse:
            self.refuse -= 1
            return "451 4.3.0 please try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


@contextmanager
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def email_on(port: int) -> dict[str, Any]:
    """Settings that send a test server's email to the local SMTP server on `port`, at once."""
    return {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_security": "none",
        "email_delay_seconds": 0,
    }


@dataclass
class Mail:
    inbox: Inbox
    forum: Forum  # a server of its own with email on; the test drives its sending
    arrange: Arrange
    clock: MovableClock
    base_url: str

    def mailer(self) -> Mailer:
        return Mailer(self.forum)

    async def send(self) -> int:
        """Make every waiting post's notifications (their emails join the outbox), then
        send what is due, as the server's background tasks would."""
        await alerted(self.forum)
        return await self.mailer().send_due()

    def client(self) -> Client:
        return Client(httpx.AsyncClient(base_url=self.base_url, timeout=15))


@pytest_asyncio.fixture
async def mail(fresh: Any) -> AsyncIterator[Mail]:
    """A server whose alerter puts emails in the outbox (smtp_host is set) and whose own
    mailer looks only once, at start: the test sends, so it can count tries."""
    with smtp_server() as (inbox, port):
        made = await fresh(
            **email_on(port),
            email_retry_seconds=1,
            smtp_timeout_seconds=1,
            email_poll_ms=10**9,
            base_url="https://forum.example",
        )
        forum = made.arrange.forum
        clock = forum.clock
        assert isinstance(clock, MovableClock)
        yield Mail(inbox, forum, made.arrange, clock, made.server.base_url)


async def api_key(made: Any, user: Any) -> str:
    return await do_create_api_key(made.arrange.forum, user.username)


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


async def test_a_mention_is_emailed_with_a_link_and_one_click_unsubscribe(mail) -> None:
    ana, cat = await mail.arrange.user(name="ana"), await mail.arrange.user(name="cat")
    group = await mail.arrange.group(members=(ana, cat))
    topic = await mail.arrange.topic(group, ana, title="Pacing", raw="How do you pace?")
    written = await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} you pace well.")
    assert await mail.send() == 1
    [message] = mail.inbox.to(cat.email)
    assert message["Subject"] == f"[{group.name}] Pacing"
    text, html = parts(message)
    link = f"https://forum.example/t/pacing/{topic.topic_id}/{written.post_number}"
    assert f"{ana.username} mentioned you in “Pacing”" in text and link in text
    assert "> @" in text and "you pace well" in text  # a public group's post is quoted
    assert f'href="{link}"' in html and "you pace well" in html
    unsubscribe = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe.startswith("https://forum.example/email/unsubscribe/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["Message-ID"].startswith("<outbox-")
    # A mail client's one-click POST: no cookie, no CSRF token, the signed link is enough.
    path = unsubscribe.removeprefix("https://forum.example")
    async with httpx.AsyncClient(base_url=mail.base_url, timeout=15) as http:
        looked = await http.get(path)  # a link scanner opening it changes nothing
        assert looked.status_code == 200 and "Stop these emails" in looked.text
        assert (await outbox.get_prefs(mail.forum.db, cat.id)).immediate
        done = await http.post(
            path,
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert done.status_code == 200 and "no more" in done.text
        forged = await http.post(
            path[:-4] + "0000",
            content=b"List-Unsubscribe=One-Click",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert forged.status_code == 404
    assert not (await outbox.get_prefs(mail.forum.db, cat.id)).immediate
    await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} again")
    assert await mail.send() == 0 and len(mail.inbox.to(cat.email)) == 1


async def test_private_and_hidden_text_never_goes_out(mail) -> None:
    ana, cat = await mail.arrange.user(name="ana"), await mail.arrange.user(name="cat")
    private = await mail.arrange.group("private", members=(ana, cat))
    topic = await mail.arrange.topic(private, ana, title="Our private plans")
    await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} secret detail here")
    assert await mail.send() == 1
    text, html = parts(mail.inbox.to(cat.email)[0])
    assert "secret detail" not in text and "secret detail" not in html
    assert "mentioned you" in text
    # A public group's post hidden by a moderator before the email goes: no text.
    public = await mail.arrange.group(members=(ana, cat))
    other = await mail.arrange.topic(public, ana, title="Open topic")
    reply = await mail.arrange.reply(other.topic_id, ana, f"@{cat.username} flagged words")
    await alerted(mail.forum)  # told, and the email waits in the outbox
    moderator = await mail.arrange.user(role="moderator", name="mod")
    await do_flag_post(mail.forum, moderator, reply.post_id, "inappropriate", "hide it")
    assert await mail.send() == 1
    text, html = parts(mail.inbox.to(cat.email)[1])
    assert "flagged words" not in text and "flagged words" not in html


async def test_nothing_goes_to_someone_who_lost_access_or_read_it(mail) -> None:
    ana, cat, dan = [await mail.arrange.user(name=n) for n in ("ana", "cat", "dan")]
    private = await mail.arrange.group("private", members=(ana, cat, dan))
    topic = await mail.arrange.topic(private, ana)
    await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} and @{dan.username}")
    await alerted(mail.forum)  # both told; their emails wait in the outbox
    await do_leave_group(mail.forum, cat, private.id)
    await following.do_mark_read(mail.forum, dan, None)  # dan read it on the site
    assert await mail.send() == 2  # both finished, neither sent
    assert mail.inbox.messages == []
    rows = await mail.forum.db.fetch_all(
        "SELECT outcome FROM outbox WHERE user_id IN (:c, :d) ORDER BY user_id",
        {"c": cat.id, "d": dan.id},
    )
    assert sorted(r["outcome"] for r in rows) == [
        "skipped: already read",
        "skipped: no longer readable",
    ]


async def test_a_refusal_and_a_hang_are_tried_again_and_sent_once(mail) -> None:
    ana, cat = await mail.arrange.user(name="ana"), await mail.arrange.user(name="cat")
    group = await mail.arrange.group(members=(ana, cat))
    topic = await mail.arrange.topic(group, ana)
    mail.inbox.refuse = 1
    await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} one")
    assert await mail.send() == 0 and mail.inbox.messages == []
    assert await mail.send() == 0  # not due again yet
    mail.clock.advance(1.5)
    assert await mail.send() == 1
    assert len(mail.inbox.to(cat.email)) == 1
    # A server that hangs: the try times out (1 s), and the next one is sent.
    mail.inbox.hang = 1
    await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} two")
    started = time.monotonic()
    assert await mail.send() == 0
    assert time.monotonic() - started < 4
    mail.clock.advance(1.5)
    assert await mail.send() == 1
    assert len(mail.inbox.to(cat.email)) == 2
    row = await mail.forum.db.fetch_one(
        "SELECT attempts, outcome, last_error FROM outbox WHERE user_id = :c ORDER BY id DESC",
        {"c": cat.id},
    )
    assert row is not None and row["attempts"] == 2 and row["outcome"] == "sent"
    assert row["last_error"].startswith("TimeoutError")


async def test_a_permanent_refusal_is_given_up(mail) -> None:
    ana, cat = await mail.arrange.user(name="ana"), await mail.arrange.user(name="cat")
    group = await mail.arrange.group(members=(ana, cat))
    topic = await mail.arrange.topic(group, ana)
    await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} hi")
    original = mail.inbox.handle_DATA

    async def refuse(server: Any, session: Any, envelope: Any) -> str:
        return "550 5.1.1 no such mailbox"

    mail.inbox.handle_DATA = refuse
    assert await mail.send() == 1
    mail.inbox.handle_DATA = original
    outcome = await mail.forum.db.fetch_val(
        "SELECT outcome FROM outbox WHERE user_id = :c", {"c": cat.id}
    )
    assert outcome.startswith("gave up: 550")


async def test_two_senders_and_a_dead_one_send_each_email_once(mail) -> None:
    ana = await mail.arrange.user(name="ana")
    readers = [await mail.arrange.user(name="r") for _ in range(6)]
    group = await mail.arrange.group(members=(ana, *readers))
    topic = await mail.arrange.topic(group, ana)
    names = " ".join(f"@{r.username}" for r in readers)
    await mail.arrange.reply(topic.topic_id, ana, names)
    await alerted(mail.forum)  # six emails in the outbox
    # A sender claims two and dies before sending them.
    async with mail.forum.db.transaction() as conn:
        dead = await outbox.claim_due(conn, "dead-node", mail.forum.now(), 60, 2)
    assert len(dead) == 2
    # Two live senders at once: the other four, once each.
    done = await asyncio.gather(mail.send(), mail.send())
    assert sum(done) == 4 and len(mail.inbox.messages) == 4
    # After the dead sender's claim lapses, the last two go, once.
    assert await mail.send() == 0
    mail.clock.advance(61)
    assert await mail.send() == 2
    assert sorted(m["To"] for m in mail.inbox.messages) == sorted(r.email for r in readers)


async def test_digests_and_the_email_choices(mail) -> None:
    ana, cat = await mail.arrange.user(name="ana"), await mail.arrange.user(name="cat")
    group = await mail.arrange.group(members=(ana, cat))
    private = await mail.arrange.group("private", members=(ana,))
    await following.do_set_email_prefs(mail.forum, cat, immediate=True, digest="daily")
    with pytest.raises(Exception, match="off, daily or weekly"):
        await following.do_set_email_prefs(mail.forum, cat, immediate=True, digest="hourly")
    await mail.arrange.topic(group, ana, title="Swimming again", raw="Back in the pool.")
    await mail.arrange.topic(private, ana, title="Not for cat")
    mailer = mail.mailer()
    assert await mailer.make_digests() == 1
    assert await mailer.make_digests() == 0  # not due again for a day
    assert await mailer.send_due() == 1
    [digest] = mail.inbox.to(cat.email)
    text, _ = parts(digest)
    assert "Swimming again" in text and "Back in the pool." in text and "Not for cat" not in text
    assert "/email/unsubscribe/" in digest["List-Unsubscribe"]
    mail.clock.advance(86401)
    assert await mailer.make_digests() == 1
    assert await mailer.send_due() == 1  # nothing new: skipped, not sent
    assert len(mail.inbox.to(cat.email)) == 1
    # The choices page, without and with its CSRF token.
    c = await logged_in(mail.client, cat)
    page = await c.get("/my/email")
    assert 'value="daily" checked' in page.text
    refused = await c.post_form("/my/email", {"digest": "weekly"}, csrf=False)
    assert refused.status_code == 403
    saved = await c.post_form("/my/email", {"digest": "weekly"})
    assert saved.status_code == 303
    prefs = await outbox.get_prefs(mail.forum.db, cat.id)
    assert prefs.digest == "weekly" and not prefs.immediate  # the box was left unticked
    bad = await c.post_form("/my/email", {"digest": "sometimes", "immediate": "yes"})
    assert bad.status_code == 400


async def test_an_approved_post_is_emailed_to_its_author(mail) -> None:
    ana = await mail.arrange.user(name="ana", new=True)
    moderator = await mail.arrange.user(role="moderator", name="mod")
    group = await mail.arrange.group(members=(ana,))
    held = await mail.arrange.topic(group, ana, title="My first question")
    item = await review_queries.get_item(mail.forum.db, held.item_id)
    assert item is not None
    await do_review(mail.forum, moderator, item.id, Decision("approve", item.version))
    assert await mail.send() == 1
    [message] = mail.inbox.to(ana.email)
    text, _ = parts(message)
    assert "approved your post" in text and "https://forum.example/t/" in text


def test_unsubscribe_links_are_signed() -> None:
    token = unsubscribe_token("secret", 7, "digest")
    assert read_unsubscribe_token("secret", token) == (7, "digest")
    assert read_unsubscribe_token("other", token) is None
    assert read_unsubscribe_token("secret", token.replace("7-", "8-", 1)) is None
    assert read_unsubscribe_token("secret", "7-everything-" + token.split("-")[2]) is None


async def test_forum_serve_sends_from_its_outbox(fresh) -> None:
    """The mailer runs in the server's lifespan: a reply posted over HTTP is emailed."""
    with smtp_server() as (inbox, port):
        made = await fresh(**email_on(port), email_poll_ms=50)
        ana, cat = await made.arrange.user(name="ana"), await made.arrange.user(name="cat")
        group = await made.arrange.group(members=(ana, cat))
        topic = await made.arrange.topic(group, cat, title="Hydrotherapy")
        async with httpx.AsyncClient(base_url=made.server.base_url, timeout=15) as http:
            headers = {"Api-Key": await api_key(made, ana), "Api-Username": ana.username}
            body = {"topic_id": topic.topic_id, "raw": "It helped me.", "reply_to_post_number": 1}
            sent = await http.post("/posts.json", json=body, headers=headers)
            assert sent.status_code == 200, sent.text

        async def arrived() -> list[EmailMessage]:
            return inbox.to(cat.email)

        [message] = await until(arrived, 10)
        assert f"{ana.username} replied to your post in “Hydrotherapy”" in parts(message)[0]


async def test_conveners_choose_whether_emails_quote_their_group(mail) -> None:
    ana, cat = await mail.arrange.user(name="ana"), await mail.arrange.user(name="cat")
    convener = await mail.arrange.user(name="conv")
    private = await mail.arrange.group("private", members=(ana, cat), conveners=(convener,))
    member = await logged_in(mail.client, ana)
    refused = await member.post_form(f"/g/{private.slug}/email-excerpts", {"excerpts": "yes"})
    assert refused.status_code == 403
    c = await logged_in(mail.client, convener)
    bad = await c.post_form(f"/g/{private.slug}/email-excerpts", {"excerpts": "maybe"})
    assert bad.status_code == 400
    done = await c.post_form(f"/g/{private.slug}/email-excerpts", {"excerpts": "yes"})
    assert done.status_code == 303
    topic = await mail.arrange.topic(private, ana, title="Shared on purpose")
    await mail.arrange.reply(topic.topic_id, ana, f"@{cat.username} this may be quoted")
    assert await mail.send() == 1
    assert "this may be quoted" in parts(mail.inbox.to(cat.email)[0])[0]
