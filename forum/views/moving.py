"""Moving a topic to another group: the page that offers the groups (GET) and the move (POST)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import moving
from forum.errors import BadRequest, Conflict
from forum.forms import read_input
from forum.pages import MoveTopicPage
from forum.views.common import base
from forum.web import forum_of, path_int, redirect, render, require_viewer


async def move_topic(request: Request) -> Response:
    forum, topic_id = forum_of(request), path_int(request, "topic_id")
    chosen: int | None = None
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        form = await read_input(request)
        viewer = require_viewer(request)
        try:
            try:
                chosen = form.get_int("group_id")
            except BadRequest:
                raise BadRequest("Choose the group to move the topic to.") from None
            moved = await moving.do_move_topic(forum, viewer, topic_id, chosen)
        except (BadRequest, Conflict) as error:
            # Said on the form, the choice kept; rights, missing groups and pace (429, with
            # Retry-After) are answered by the error pages.
            errors, status = error.messages, error.status_code
        else:
            topic = moved.topic
            path = request.url_for("topic", slug=topic.slug, topic_id=topic.id).path
            return redirect(path, said="moved")
    choices = await moving.move_choices(forum, require_viewer(request), topic_id)
    page = MoveTopicPage(
        **base(request, f"Move “{choices.topic.title}”"),
        topic=choices.topic,
        group=choices.group,
        targets=choices.targets,
        chosen=chosen,
        errors=errors,
    )
    return render(request, page, status)
