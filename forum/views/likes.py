"""Thanks on posts, from the page: the button under a post and who thanked it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import likes as like_actions
from forum.errors import BadRequest
from forum.forms import read_input
from forum.pages import PostLikesPage
from forum.rendering import likes_label
from forum.views.common import base
from forum.web import ForumJSON, forum_of, path_int, redirect, render, speaks_json, viewer_of


async def like_post(request: Request) -> Response:
    """POST /p/{id}/like, `liked` yes or no. live.js sends it asking for JSON and updates the
    button and count in place; without JavaScript the page comes back at the post."""
    form = await read_input(request)
    choice = form.get("liked")
    if choice not in ("yes", "no"):
        raise BadRequest("Say whether to thank the post (liked=yes) or take it back (liked=no).")
    done = await like_actions.do_like(
        forum_of(request), viewer_of(request), path_int(request, "post_id"), liked=choice == "yes"
    )
    if speaks_json(request):
        return ForumJSON(
            {"liked": done.liked, "likes": done.likes, "likes_label": likes_label(done.likes)}
        )
    topic, number = done.topic, done.post.post_number
    link = request.url_for("post_link", slug=topic.slug, topic_id=topic.id, number=number).path
    return redirect(f"{link}#post-{number}", "thanked" if done.liked else "unthanked")


async def post_likes(request: Request) -> Response:
    """GET /p/{id}/likes: who thanked a post, for its readers."""
    post, topic, likers = await like_actions.likers_of(
        forum_of(request), viewer_of(request), path_int(request, "post_id")
    )
    title = f"Who thanked post #{post.post_number} in {topic.title}"
    page = PostLikesPage(**base(request, title), post=post, topic=topic, likers=likers)
    return render(request, page)
