"""Discourse-shaped JSON for our records: groups are served as categories."""

from __future__ import annotations

from typing import Any

from forum.actions.holds import Held
from forum.notices import notification_text
from forum.permissions import VERIFIABLE_BADGES
from forum.queries.groups import Group
from forum.queries.notifications import Notification
from forum.queries.posts import Post
from forum.queries.topics import Topic
from forum.queries.users import User
from forum.rendering import iso_time


def avatar_template(username: str) -> str:
    return f"/letter_avatar/{username.lower()}/{{size}}/1.png"


def category_json(group: Group, topic_url: str) -> dict[str, Any]:
    return {
        "id": group.id,
        "name": group.name,
        "slug": group.slug,
        "description": group.description,
        "description_text": group.description,
        "topic_count": group.topic_count,
        "post_count": group.post_count,
        "read_restricted": group.is_private,
        "color": "0088CC",
        "text_color": "FFFFFF",
        "position": group.id,
        "parent_category_id": None,
        "topic_url": topic_url,
    }


def topic_list_item(topic: Topic) -> dict[str, Any]:
    return {
        "id": topic.id,
        "title": topic.title,
        "fancy_title": topic.title,
        "slug": topic.slug,
        "posts_count": topic.posts_count,
        "reply_count": topic.reply_count,
        "highest_post_number": topic.highest_post_number,
        "created_at": iso_time(topic.created_at),
        "last_posted_at": iso_time(topic.bumped_at),
        "bumped": True,
        "bumped_at": iso_time(topic.bumped_at),
        "pinned": topic.pinned,
        "closed": topic.closed,
        "archived": False,
        "visible": True,
        "category_id": topic.group_id,
        "last_poster_username": topic.last_poster_username,
    }


def topic_list(
    topics: list[Topic], more_url: str | None, per_page: int, can_create_topic: bool
) -> dict[str, Any]:
    usernames = sorted(
        {t.username for t in topics}
        | {t.last_poster_username for t in topics if t.last_poster_username}
    )
    body: dict[str, Any] = {
        "users": [{"username": u, "avatar_template": avatar_template(u)} for u in usernames],
        "topic_list": {
            "can_create_topic": can_create_topic,
            "per_page": per_page,
            "topics": [topic_list_item(t) for t in topics],
        },
    }
    if more_url:
        body["topic_list"]["more_topics_url"] = more_url
    return body


# Discourse's post action type of a like, the only one taken here (flags have their pages).
LIKE = 2

# What the API shows of a post a moderator hid or removed: never its text.
HIDDEN_COOKED = "<p>This post is hidden or was removed by a moderator.</p>"


def post_json(
    post: Post,
    topic: Topic,
    *,
    can_edit: bool,
    include_raw: bool = False,
    liked: bool | None = None,
) -> dict[str, Any]:
    """`liked`: whether the viewer has thanked it, where that was read (Discourse's
    actions_summary "acted")."""
    body: dict[str, Any] = {
        "id": post.id,
        "name": post.username,
        "username": post.username,
        "avatar_template": avatar_template(post.username),
        "created_at": iso_time(post.created_at),
        "updated_at": iso_time(post.edited_at or post.created_at),
        "cooked": post.cooked if post.visible else HIDDEN_COOKED,
        "post_number": post.post_number,
        "post_type": 1,
        "reply_to_post_number": post.reply_to_post_number,
        "topic_id": post.topic_id,
        "topic_slug": topic.slug,
        "version": post.version,
        "can_edit": can_edit,
        "user_id": post.user_id,
        "user_title": post.badge,
        "badge_verified": bool(post.badge_verified) and post.badge in VERIFIABLE_BADGES,
        # Ours: the author's first post in this group (the page marks it for a welcome).
        "first_in_group": post.first_in_group,
        # Thanks: Discourse's likes (post_action_type_id 2), counted.
        "actions_summary": [
            {"id": LIKE, "count": post.like_count} | ({} if liked is None else {"acted": liked})
        ],
    }
    if include_raw and post.visible:
        body["raw"] = post.raw
    if not post.visible:
        body["hidden"] = post.hidden_at is not None
        body["deleted"] = post.deleted_at is not None
    return body


def user_json(user: User, post_count: int) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "name": user.username,
        "avatar_template": avatar_template(user.username),
        "created_at": iso_time(user.created_at),
        "trust_level": 1,
        "admin": user.role == "admin",
        "moderator": user.role in ("moderator", "admin"),
        "title": user.badge,
        "badge_verified": user.badge_verified_at is not None and user.badge in VERIFIABLE_BADGES,
        "post_count": post_count,
    }


def held_json(held: Held, raw: str | None) -> dict[str, Any]:
    """A post waiting for review, as Discourse answers for a queued post: nothing is
    published yet."""
    return {
        "success": True,
        "action": "enqueued",
        "pending_post": {"id": held.item_id, "raw": raw},
        "reasons": list(held.messages),
    }


def notification_json(n: Notification, user_id: int) -> dict[str, Any]:
    """One notification as Discourse's /notifications.json lists it. The topic's title is
    today's (a notification keeps no title of its own: titles can be edited or redacted)."""
    data = dict(n.data)
    if n.topic_title is not None:
        data["topic_title"] = n.topic_title
    if n.actor is not None:
        data.setdefault("display_username", n.actor)
    if "message" in data:  # in words, as the bell says it: a client cannot know our keys
        data["message"] = notification_text(n)
    return {
        "id": n.id,
        "user_id": user_id,
        "notification_type": n.notification_type,
        "read": n.read,
        "high_priority": False,
        "created_at": iso_time(n.created_at),
        "post_number": n.post_number,
        "topic_id": n.topic_id,
        "fancy_title": n.topic_title,
        "slug": n.topic_slug,
        "data": data,
    }
