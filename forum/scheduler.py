"""Moves debates at their stored times: live at the start, closed at the end.

Runs inside `forum serve` (the app's lifespan), on every node. It works only from what is
stored: at start-up it finds whatever fell due while no node was running (a restart in the
middle of a debate closes it at its time, or at once if that has passed), then sleeps until
the next stored time, looking again at least every `tick` seconds for debates scheduled or
moved meanwhile, on this node or another. Each move is a conditional update inside a
transaction (forum/actions/debate_state.py), so with several nodes each fires once.
"""

from __future__ import annotations

import asyncio
import logging

from forum.actions.debate_state import bring_up_to_date
from forum.background import Background
from forum.context import Forum
from forum.queries import debates as debate_queries

log = logging.getLogger("forum.scheduler")


class DebateScheduler(Background):
    def __init__(self, forum: Forum, tick: float) -> None:
        self.forum = forum
        self.tick = tick

    async def fire_due(self) -> bool:
        """Bring every debate whose times have passed up to date; False if one failed."""
        forum = self.forum
        due = await debate_queries.due_debates(forum.db, forum.now())
        ok = True
        for debate_id in due:
            try:
                async with forum.db.transaction() as conn:
                    debate = await debate_queries.get_debate(conn, debate_id)
                    if debate is not None:
                        await bring_up_to_date(forum, conn, debate, forum.now())
            except Exception:
                # One debate's failure must not stop the others' clocks; tried again next tick.
                log.exception("could not move debate %d to its state", debate_id)
                ok = False
        return ok

    async def _run(self) -> None:
        while True:
            try:
                ok = await self.fire_due()
                next_due = await debate_queries.next_due(self.forum.db)
            except Exception:
                log.exception("the debate scheduler failed; trying again shortly")
                ok, next_due = False, None
            wait = self.tick
            if ok and next_due is not None:  # a failure waits a whole tick: no busy loop
                wait = min(self.tick, max(next_due - self.forum.now(), 0.0))
            await asyncio.sleep(max(wait, 0.02))
