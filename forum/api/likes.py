"""Thanks as Discourse clients send and read them: POST /post_actions, DELETE
/post_actions/{post id}, GET /post_action_users.json, each with post_action_type_id 2."""

from __future__ import annotations

from dataclasses import replace

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import likes as like_actions
from forum.api.serialize import LIKE, avatar_template, post_json
from forum.errors import BadRequest
from forum.forms import Input, query_input, read_input
from forum.permissions import can_edit_post
from forum.web import ForumJSON, forum_of, path_int, viewer_of


def _check_type(given: Input) -> None:
    kind = given.get("post_action_type_id")
    if kind is None or kind.strip() != str(LIKE):
        raise BadRequest("Only post_action_type_id 2 (a like, said here as a thank you) is taken.")


async def _answer(request: Request, post_id: int, *, liked: bool) -> Response:
    viewer = viewer_of(request)
    done = await like_actions.do_like(forum_of(request), viewer, post_id, liked=liked)
    post = replace(done.post, like_count=done.likes)
    can_edit = can_edit_post(viewer, post, done.topic)
    return ForumJSON(post_json(post, done.topic, can_edit=can_edit, liked=liked))


async def create(request: Request) -> Response:
    """POST /post_actions with `id` (the post) and `post_action_type_id=2`."""
    form = await read_input(request)
    _check_type(form)
    post_id = form.get_int("id")
    if post_id is None:
        raise BadRequest("Give the id of the post to thank.")
    return await _answer(request, post_id, liked=True)


async def destroy(request: Request) -> Response:
    """DELETE /post_actions/{post id}?post_action_type_id=2: take the thanks back."""
    form = await read_input(request)
    _check_type(form if form.get("post_action_type_id") is not None else query_input(request))
    return await _answer(request, path_int(request, "post_id"), liked=False)


async def users(request: Request) -> Response:
    """GET /post_action_users.json?id=N&post_action_type_id=2: who thanked a post."""
    query = query_input(request)
    _check_type(query)
    post_id = query.get_int("id")
    if post_id is None:
        raise BadRequest("Give the id of the post.")
    post, _, likers = await like_actions.likers_of(forum_of(request), viewer_of(request), post_id)
    return ForumJSON(
        {
            "post_action_users": [
                {
                    "id": liker.user_id,
                    "username": liker.username,
                    "name": liker.username,
                    "avatar_template": avatar_template(liker.username),
                }
                for liker in likers
            ],
            "total_rows_post_action_users": post.like_count if post.visible else 0,
        }
    )
