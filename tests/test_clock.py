"""Time is the forum's clock: a test moves it instead of sleeping, and the server agrees."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from forum.actions.drafts import Draft
from forum.actions.posts import do_reply
from forum.errors import Forbidden
from forum.queries.users import get_user
from tests.conftest import Client, advance_clock


async def test_a_silence_ends_when_the_forums_clock_passes_it(fresh: Any) -> None:
    made = await fresh()
    arrange = made.arrange
    member = await arrange.user()
    group = await arrange.group(members=(member,))
    written = await arrange.topic(group, member, "Quiet for an hour", "First.")
    until = arrange.forum.now() + 3600
    await made.db.execute(
        "UPDATE users SET silenced_until = :t WHERE id = :id", {"t": until, "id": member.id}
    )
    silenced = await get_user(made.db, member.id)
    with pytest.raises(Forbidden):
        await do_reply(arrange.forum, silenced, written.topic_id, Draft("Too soon."))
    async with httpx.AsyncClient(base_url=made.server.base_url, timeout=15) as http:
        c = Client(http)
        await c.login(member)
        r = await c.post_form(f"/t/{written.topic_id}/reply", {"raw": "Too soon, by form."})
        assert r.status_code == 403
        advance_clock(arrange.forum, 3601)  # the server's clock: they are one
        r = await c.post_form(f"/t/{written.topic_id}/reply", {"raw": "An hour later."})
        assert r.status_code == 303, r.text
    await do_reply(arrange.forum, silenced, written.topic_id, Draft("And by the action."))
