"""Sends the email outbox (forum/queries/outbox.py) in the background of `forum serve`, on
every node, and makes the digests that fall due.

Nothing is lost: a row leaves the outbox only when it is finished (sent, skipped with why, or
given up after `email_max_attempts`). A failed try (the server refused with a 4xx, hung past
`smtp_timeout_seconds`, dropped the connection) is tried again after `email_retry_seconds`,
doubling each time to at most an hour; a 5xx refusal is final. Several nodes share the work:
each row is claimed for one sender at a time (a lease longer than a try may take), so a
row is sent by one node, and a node that dies mid-try lets its claim lapse for another.

Sent once: a row is marked sent right after the SMTP server accepts it. If the process dies
in between, the row is tried again once the claim lapses, with the same Message-ID, so a
receiving server can tell a repeat; no sender can do better without the server's help.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import secrets
import socket
from email.message import EmailMessage

import aiosmtplib

from forum import emails
from forum.background import Background
from forum.context import Forum
from forum.queries import outbox

log = logging.getLogger("forum.mailer")

BATCH = 20
_ADDRESS_RE = re.compile(r"\S+@\S+")
MAX_BACKOFF = 3600.0


class Mailer(Background):
    def __init__(self, forum: Forum) -> None:
        self.forum = forum
        self.name = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._wake = asyncio.Event()

    @property
    def lease(self) -> float:
        # Longer than one try can take (connect, TLS, login, send), with room to finish it.
        return 3.0 * self.forum.settings.smtp_timeout_seconds + 30

    def wake(self) -> None:
        self._wake.set()

    async def make_digests(self) -> int:
        async with self.forum.db.transaction() as conn:
            return await outbox.enqueue_digests(conn, self.forum.now())

    async def send_due(self) -> int:
        """Try every row that is due now; how many were finished."""
        forum = self.forum
        async with forum.db.transaction() as conn:
            claimed = await outbox.claim_due(conn, self.name, forum.now(), self.lease, BATCH)
        done = 0
        for outgoing in claimed:
            done += await self._try(outgoing)
        return done

    async def _try(self, outgoing: outbox.Outgoing) -> int:
        forum = self.forum
        if outgoing.attempts > forum.settings.email_max_attempts:  # claimed once too often
            async with forum.db.transaction() as conn:
                await outbox.finish(conn, outgoing.id, self.name, "gave up", forum.now())
            return 1
        try:
            async with forum.db.reads() as conn:
                letter = await emails.compose(forum, conn, outgoing)
            if isinstance(letter, str):  # nothing to send, and why
                async with forum.db.transaction() as conn:
                    await outbox.finish(conn, outgoing.id, self.name, letter, forum.now())
                return 1
            message = emails.to_message(forum, letter)
            # Still ours? A row claimed in a batch may have waited behind a slow server past
            # its lease and been taken by another sender: then it is theirs to send.
            async with forum.db.transaction() as conn:
                if not await outbox.renew(conn, outgoing.id, self.name, forum.now(), self.lease):
                    return 0
            await deliver(forum, message)
        except aiosmtplib.SMTPRecipientsRefused as refused:
            codes = [r.code for r in refused.recipients] or [550]
            return await self._failed(outgoing, f"{min(codes)} recipient refused", min(codes))
        except aiosmtplib.SMTPResponseException as refused:
            return await self._failed(outgoing, f"{refused.code} {refused.message}", refused.code)
        except Exception as error:  # a dropped connection, a timeout, a fault of our own
            return await self._failed(outgoing, f"{type(error).__name__}: {error}", None)
        async with forum.db.transaction() as conn:
            await outbox.finish(conn, outgoing.id, self.name, "sent", forum.now())
        return 1

    async def _failed(self, outgoing: outbox.Outgoing, said: str, code: int | None) -> int:
        forum = self.forum
        settings = forum.settings
        # Never an address or any text of ours: what the server said, addresses taken out
        # (servers often repeat the recipient; logs and the outbox hold no personal data).
        error = _ADDRESS_RE.sub("<address>", said)
        log.warning("email %d, try %d, failed: %s", outgoing.id, outgoing.attempts, error[:200])
        async with forum.db.transaction() as conn:
            final = code is not None and code >= 500  # a refusal, not a "try later"
            if final or outgoing.attempts >= settings.email_max_attempts:
                await outbox.finish(conn, outgoing.id, self.name, f"gave up: {error}", forum.now())
                return 1
            wait = min(settings.email_retry_seconds * 2 ** (outgoing.attempts - 1), MAX_BACKOFF)
            await outbox.retry_later(conn, outgoing.id, self.name, forum.now() + wait, error)
        return 0

    async def _run(self) -> None:
        settings = self.forum.settings
        poll = settings.email_poll_ms / 1000
        next_digests = 0.0
        while True:
            try:
                if self.forum.now() >= next_digests:
                    await self.make_digests()
                    next_digests = self.forum.now() + 600  # due digests looked for every 10 min
                    async with self.forum.db.transaction() as conn:  # kept 30 days, then gone
                        await outbox.forget_finished(conn, self.forum.now() - 30 * 86400)
                await self.send_due()
            except Exception:
                log.exception("the mailer failed; trying again shortly")
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), poll)


async def deliver(forum: Forum, message: EmailMessage) -> None:
    """One SMTP conversation, bounded by `smtp_timeout_seconds` as a whole (a server that
    hangs mid-conversation is a failed try, tried again later)."""
    settings = forum.settings
    security = settings.smtp_security.lower()
    sending = aiosmtplib.send(
        message,
        sender=emails.sender_address(forum),
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username or None,
        password=settings.smtp_password or None,
        use_tls=security == "tls",
        start_tls=security == "starttls",
        timeout=settings.smtp_timeout_seconds,
    )
    await asyncio.wait_for(sending, settings.smtp_timeout_seconds)
