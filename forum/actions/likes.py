"""Thanks on posts (Discourse's likes): given and taken back by readers of the post, paced,
counted on the post, and the new count published live in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass

from forum.access import access_post
from forum.actions.posts import require_author
from forum.context import Forum
from forum.errors import BadRequest
from forum.events import PostLiked
from forum.pace import check_pace
from forum.queries import debates as debate_queries
from forum.queries import likes as like_queries
from forum.queries.likes import Liker
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.rendering import likes_label


@dataclass(frozen=True)
class Liked:
    """A post after a thank-you was given or taken back, and the viewer's part in it."""

    post: Post
    topic: Topic
    likes: int
    liked: bool


async def do_like(forum: Forum, user: User | None, post_id: int, *, liked: bool) -> Liked:
    """Thank a post (`liked`) or take the thanks back. Anyone signed in who may read the post
    and may write (not silenced) thanks others' posts, while they are shown. Doing what is
    already done changes nothing and is not an error (a double click, two tabs)."""
    liker = require_author(user, forum.now())
    async with forum.db.transaction() as conn:
        post, access = await access_post(conn, liker, post_id)
        if post.user_id == liker.id:
            raise BadRequest("You cannot thank yourself for your own post.")
        if not post.visible:
            raise BadRequest("This post is hidden or was removed, so it cannot be thanked.")
        now = forum.now()
        if liked:
            count = await like_queries.add_like(conn, post.id, liker.id, now)
            if count is not None:  # a thank-you given twice is not counted twice; a refusal
                await check_pace(conn, forum.settings, liker, "like", now)  # rolls it back
        else:
            count = await like_queries.remove_like(conn, post.id, liker.id)
        if count is None:  # already so: nothing to tell anyone
            return Liked(post, access.topic, post.like_count, liked)
        debate_id = None
        if access.topic.is_debate:
            debate_id = await debate_queries.get_debate_id_of_topic(conn, access.topic.id)
        event = PostLiked(
            access.topic.id, post.id, post.post_number, count, likes_label(count), debate_id
        )
        await forum.publish(conn, event)
        return Liked(post, access.topic, count, liked)


async def likers_of(
    forum: Forum, user: User | None, post_id: int, limit: int = 200
) -> tuple[Post, Topic, list[Liker]]:
    """Who thanked a post, for a reader of it (404 for anyone else, as the post itself)."""
    async with forum.db.reads() as conn:
        post, access = await access_post(conn, user, post_id)
        if not post.visible:
            return post, access.topic, []
        return post, access.topic, await like_queries.list_likers(conn, post.id, limit)
