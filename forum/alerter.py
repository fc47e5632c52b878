"""Makes the notifications of published posts, in the background of `forum serve`, on every
node (forum/actions/notify.alert_post says who is told of what).

A post's transaction leaves a `post_alerts` row; this takes one at a time and does its work
in one transaction that also marks it done, so an alert is either done completely (its
notifications, their live events and their emails in the outbox) or not at all and taken
again. Several nodes share the work (PostgreSQL skips a row another node holds; SQLite has
one writer). An alert that keeps failing is tried last, and given up after five tries.

Why not in the post's own transaction: a reply in a topic with hundreds of watchers would
write hundreds of rows and events before its author saw their post; here a reply costs two
small statements whatever its topic, and the bell rings a poll interval later.
"""

from __future__ import annotations

import asyncio
import logging

from forum.actions.notify import alert_post
from forum.background import Background
from forum.context import Forum
from forum.queries import notifications as queries

log = logging.getLogger("forum.alerter")


class Alerter(Background):
    def __init__(self, forum: Forum, poll: float) -> None:
        self.forum = forum
        self.poll = poll

    async def run_due(self, limit: int = 100) -> int:
        """Do waiting alerts, up to `limit`; how many were taken."""
        forum = self.forum
        done = 0
        while done < limit:
            # A read first: an idle forum never takes SQLite's write lock for nothing.
            async with forum.db.reads() as conn:
                if not await queries.alert_waiting(conn, forum.now()):
                    return done
            post_id = None
            try:
                async with forum.db.transaction() as conn:
                    alert = await queries.take_alert(conn, forum.now())
                    if alert is None:
                        return done
                    post_id = alert.post_id
                    events = await alert_post(
                        forum, conn, alert.post_id, alert.new_topic, alert.mentions_only
                    )
                    await forum.publish(conn, *events)
            except Exception:
                # Logged by id only (no text, no names); tried again, after the others.
                log.exception("could not make the notifications of post %s", post_id)
                if post_id is None:
                    return done
                async with forum.db.transaction() as conn:
                    await queries.alert_failed(conn, post_id, forum.now())
                return done + 1  # the rest at the next look: a fault may be passing
            done += 1
        return done

    async def _run(self) -> None:
        tidied = 0.0
        while True:
            try:
                await self.run_due()
                if self.forum.now() - tidied > 3600:  # done alerts kept a day, then forgotten
                    tidied = self.forum.now()
                    async with self.forum.db.transaction() as conn:
                        await queries.forget_done_alerts(conn, tidied - 86400)
            except Exception:
                log.exception("the alerter failed; trying again shortly")
            await asyncio.sleep(self.poll)
