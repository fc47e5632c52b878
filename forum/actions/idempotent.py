"""Writes made once however often they are sent: a client's idempotency key (the
Idempotency-Key header, or the composer's hidden field) names one write; the same request sent
again (a double click, a retry after a timeout or a 503) gets what the first one made.

The key is kept with a digest of what was asked (the kind of write, where, and the text), so
the same key sent with a different post (a form restored by the back button) is a new write,
not the old one's answer. A replay is re-checked against the sender's rights now.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass

from forum.access import access_post
from forum.actions.holds import HELD_MESSAGE, Held
from forum.db import Connection
from forum.errors import BadRequest, Conflict, NotFound
from forum.queries import idempotency
from forum.queries import review as review_queries
from forum.queries.users import User


@dataclass(frozen=True)
class Written:
    """What a write produced, for redirects and API responses."""

    topic_id: int
    post_id: int
    post_number: int


Outcome = Written | Held  # a post written, or held for a moderator

_KEY = re.compile(r"[\x21-\x7e]{1,200}")


@dataclass(frozen=True)
class Key:
    """A client's key and the digest of the request it was sent with."""

    key: str
    digest: str

    @classmethod
    def of(cls, key: str | None, *request: object) -> Key | None:
        if not key:
            return None
        if not _KEY.fullmatch(key):
            raise BadRequest(
                "An idempotency key is 1 to 200 letters, digits or punctuation marks, with no"
                " spaces."
            )
        text = json.dumps([str(part) if part is not None else None for part in request])
        return cls(key, hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


async def made_before(conn: Connection, author: User, key: Key | None) -> Outcome | None:
    """What an earlier request with this key (and this content) made, if one did."""
    if key is None:
        return None
    made = await idempotency.find(conn, author.id, key.key, key.digest)
    return await _replay(conn, author, made) if made is not None else None


async def claim(conn: Connection, author: User, key: Key | None, now: float) -> Outcome | None:
    """Take the key inside the write's transaction; if a request racing with the same key
    got it first (and committed), what that one made."""
    if key is None or await idempotency.claim(conn, author.id, key.key, key.digest, now):
        return None
    return await made_before(conn, author, key)


async def remember(conn: Connection, author: User, key: Key | None, result: Outcome) -> None:
    if key is None:
        return
    if isinstance(result, Held):
        made = idempotency.Made(result.topic_id, None, result.item_id)
    else:
        made = idempotency.Made(result.topic_id, result.post_id, None)
    await idempotency.remember(conn, author.id, key.key, key.digest, made)


async def _replay(conn: Connection, author: User, made: idempotency.Made) -> Outcome:
    post_id = made.post_id
    if post_id is None and made.item_id is not None:
        item = await review_queries.get_item(conn, made.item_id)
        if item is None:
            raise Conflict("What this request made earlier no longer exists.")
        if not (item.kind == "queued" and item.status == "approved" and item.target_id):
            return Held(item.id, item.group_id or 0, item.topic_id, (HELD_MESSAGE,))
        post_id = item.target_id  # approved since: the post it became
    if post_id is None:
        raise Conflict("What this request made earlier no longer exists.")
    try:
        post, _ = await access_post(conn, author, post_id)  # their rights as they are now
    except NotFound:
        raise NotFound("What this request made earlier is no longer there for you.") from None
    return Written(post.topic_id, post.id, post.post_number)
