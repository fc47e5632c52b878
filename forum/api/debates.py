"""The JSON API of hosted debates: schedule, read, host (start, close, extend, reveal,
highlight, summarise), answer, and the exports (transcript as Markdown, calendar entry)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from forum.actions import debates as debate_actions
from forum.actions.drafts import DebatePlan, Draft
from forum.actions.holds import Held
from forum.api.serialize import held_json, post_json
from forum.debate_reads import DebateView, read_debate
from forum.errors import BadRequest
from forum.forms import read_input
from forum.queries import posts as post_queries
from forum.queries import topics as topic_queries
from forum.rendering import iso_time
from forum.web import ForumJSON, forum_of, path_int, viewer_of


def debate_json(view: DebateView) -> dict[str, Any]:
    debate = view.debate
    return {
        "id": debate.id,
        "topic_id": debate.topic_id,
        "category_id": debate.group_id,
        "title": debate.title,
        "description": view.description,
        "state": view.state,
        "starts_at": iso_time(debate.starts_at),
        "ends_at": iso_time(debate.ends_at),
        "started_at": iso_time(debate.started_at) if debate.started_at else None,
        "closed_at": iso_time(debate.closed_at) if debate.closed_at else None,
        "participants": debate.participants,
        "slow_mode_seconds": debate.slow_mode_seconds,
        "hosts": [{"username": h.username, "user_title": h.badge} for h in debate.hosts],
        "summary": debate.summary_cooked,
        "questions": [
            {
                "number": q.number,
                "text": q.text,
                "revealed_at": iso_time(q.question.revealed_at) if q.question.revealed_at else None,
                "answers": [
                    {
                        "id": a.post.id,
                        "post_number": a.post.post_number,
                        "username": a.post.username,
                        "user_title": a.post.badge,
                        "cooked": a.post.cooked,
                        "created_at": iso_time(a.post.created_at),
                        "highlighted": a.highlighted,
                    }
                    for a in q.visible_answers
                ],
            }
            for q in view.questions
        ],
        # Questions still hidden from this viewer: how many, never what.
        "hidden_questions": 0 if view.prepares else view.hidden_count,
    }


async def _answer(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    debate_id = path_int(request, "debate_id")
    return ForumJSON(
        {"debate": debate_json(await read_debate(forum.db, viewer, debate_id, forum.now()))}
    )


async def show(request: Request) -> Response:
    return await _answer(request)


async def create(request: Request) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    form = await read_input(request)
    group_id = form.get_int("category")
    if group_id is None:
        raise BadRequest("Give the category (group id) the debate is in.")
    plan = DebatePlan(
        title=form.get("title"),
        description=form.get("description"),
        starts_at=form.get("starts_at"),
        ends_at=form.get("ends_at"),
        questions=tuple(form.get_list("questions")),
        hosts=tuple(form.get_list("hosts")),
        time_zone=form.get("time_zone"),
    )
    debate = await debate_actions.do_schedule_debate(forum, viewer, group_id, plan)
    view = await read_debate(forum.db, viewer, debate.id, forum.now())
    return ForumJSON({"debate": debate_json(view)})


async def start(request: Request) -> Response:
    await read_input(request)
    await debate_actions.do_start_debate(
        forum_of(request), viewer_of(request), path_int(request, "debate_id")
    )
    return await _answer(request)


async def close(request: Request) -> Response:
    await read_input(request)
    await debate_actions.do_close_debate(
        forum_of(request), viewer_of(request), path_int(request, "debate_id")
    )
    return await _answer(request)


async def extend(request: Request) -> Response:
    form = await read_input(request)
    await debate_actions.do_extend_debate(
        forum_of(request),
        viewer_of(request),
        path_int(request, "debate_id"),
        form.get_int("minutes"),
    )
    return await _answer(request)


async def reveal(request: Request) -> Response:
    await read_input(request)
    await debate_actions.do_reveal_question(
        forum_of(request),
        viewer_of(request),
        path_int(request, "debate_id"),
        path_int(request, "number"),
    )
    return await _answer(request)


async def highlight(request: Request) -> Response:
    form = await read_input(request)
    wanted = form.get("highlighted", "true") not in ("false", "0", "no")
    await debate_actions.do_highlight_answer(
        forum_of(request),
        viewer_of(request),
        path_int(request, "debate_id"),
        path_int(request, "post_id"),
        wanted,
    )
    return await _answer(request)


async def summary(request: Request) -> Response:
    form = await read_input(request)
    await debate_actions.do_set_summary(
        forum_of(request), viewer_of(request), path_int(request, "debate_id"), form.get("raw")
    )
    return await _answer(request)


async def answer(request: Request) -> Response:
    """Answer a question: the post, or `"action": "enqueued"` when it waits for review."""
    forum, viewer = forum_of(request), viewer_of(request)
    form = await read_input(request)
    draft = Draft(form.get("raw"), idempotency_key=request.headers.get("idempotency-key"))
    question = form.get_int("question")
    written = await debate_actions.do_answer(
        forum, viewer, path_int(request, "debate_id"), question, draft
    )
    if isinstance(written, Held):
        return ForumJSON(held_json(written, form.get("raw")))
    post = await post_queries.get_post(forum.db, written.post_id)
    topic = await topic_queries.get_topic(forum.db, written.topic_id)
    assert post is not None and topic is not None
    body = post_json(post, topic, can_edit=True, include_raw=True)
    body["question"] = question  # do_answer checked it: the question its reply answers
    return ForumJSON(body)


async def remind(request: Request) -> Response:
    form = await read_input(request)
    wanted = form.get("remind", "true") not in ("false", "0", "no")
    await debate_actions.do_remind(
        forum_of(request), viewer_of(request), path_int(request, "debate_id"), wanted
    )
    return ForumJSON({"success": True, "remind": wanted})
