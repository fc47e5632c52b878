"""Hosted debates as pages: schedule one, the debate page (lobby, live, transcript), the
hosts' buttons and the answer form, which all work without JavaScript, and the exports."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from forum.access import access_group
from forum.actions import debates as debate_actions
from forum.actions.drafts import DebatePlan, Draft
from forum.actions.holds import Held, PrivacyWarning
from forum.actions.validation import time_zones
from forum.debate_reads import DebateView, debate_calendar, read_debate, transcript_markdown
from forum.errors import BadRequest, Conflict, Forbidden, RateLimited
from forum.forms import read_input
from forum.pages import AnswerItem, DebateFormPage, DebatePage, QuestionItem
from forum.permissions import can_reply, is_staff, post_controls, post_facts
from forum.queries import debates as debate_queries
from forum.queries import likes as like_queries
from forum.queries import posts as post_queries
from forum.views.common import base, live_since, seen_on_page
from forum.views.topics import held_url, new_idempotency_key
from forum.web import forum_of, path_int, redirect, render, require_viewer, viewer_of


def debate_url(request: Request, debate_id: int) -> str:
    return request.url_for("debate", debate_id=debate_id).path


# --- scheduling -------------------------------------------------------------------------------


async def new_debate(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    access = await access_group(forum.db, viewer, slug=request.path_params["slug"])
    if not debate_actions.can_schedule_debate(viewer, access.membership):
        raise Forbidden("Only the group's conveners and moderators can schedule debates.")
    fields = ("title", "description", "starts_at", "ends_at", "time_zone", "hosts")
    values = dict.fromkeys(fields, "") | {"time_zone": forum.settings.time_zone}
    questions: list[str] = [""] * 5
    errors: list[str] = []
    if request.method == "POST":
        form = await read_input(request)
        values = {name: form.get(name) or "" for name in fields}
        questions = [q for q in form.get_list("questions")]
        plan = DebatePlan(
            title=values["title"],
            description=values["description"],
            starts_at=values["starts_at"],
            ends_at=values["ends_at"],
            questions=tuple(questions),
            hosts=tuple(values["hosts"].replace(",", " ").split()),
            time_zone=values["time_zone"] or forum.settings.time_zone,
        )
        try:
            debate = await debate_actions.do_schedule_debate(forum, viewer, access.group.id, plan)
        except BadRequest as error:
            errors = error.messages
        else:
            return redirect(debate_url(request, debate.id))
        filled = [q for q in questions if q.strip()]
        questions = (filled + [""] * 5)[: max(len(filled) + 2, 5)]
    page = DebateFormPage(
        **base(request, f"Schedule a debate in {access.group.name}"),
        group=access.group,
        errors=errors,
        values=values,
        questions=questions,
        time_zones=time_zones(),
    )
    return render(request, page, 400 if errors else 200)


# --- the debate page --------------------------------------------------------------------------


def _question_items(
    view: DebateView, request: Request, liked: set[int]
) -> tuple[list[QuestionItem], list[QuestionItem]]:
    viewer, debate = viewer_of(request), view.debate
    topic = view.access.topic.topic
    hosts = tuple(h.id for h in debate.hosts)
    revealed, prepared = [], []
    for q in view.questions:
        answers = q.in_transcript if view.state == "closed" else q.answers
        items = [
            AnswerItem(
                a.post,
                post_controls(
                    viewer,
                    post_facts(a.post, topic, hosts=hosts, highlighted=a.highlighted),
                    liked=a.post.id in liked,
                ),
                a.highlighted,
                a.post.user_id in hosts,
            )
            for a in answers
        ]
        if q.question.revealed:
            shown = "" if q.question.hidden else (q.question.cooked or "")
            revealed.append(QuestionItem(q.number, shown, True, items, q.answerers))
        else:
            prepared.append(QuestionItem(q.number, q.question.raw, False, [], 0))
    return revealed, prepared


async def _debate_page(
    request: Request,
    *,
    errors: list[str] | None = None,
    raw: str = "",
    question: int | None = None,
    warned: bool = False,
    status: int = 200,
    idempotency_key: str | None = None,
) -> Response:
    forum, viewer = forum_of(request), viewer_of(request)
    db = forum.db
    view = await read_debate(db, viewer, path_int(request, "debate_id"), forum.now())
    debate, access = view.debate, view.access.topic
    opening = view.opening
    answers = [a for q in view.questions for a in (*q.answers, *q.in_transcript)]
    thanked = [a.post.id for a in answers if a.post.like_count]
    liked = await like_queries.liked_among(db, viewer.id, thanked) if viewer and thanked else set()
    revealed, prepared = _question_items(view, request, liked)
    reminded = viewer is not None and await debate_queries.has_reminder(db, debate.id, viewer.id)
    # The form is there from the start, its questions added as they are revealed (live.js).
    can_answer = (
        view.state == "live"
        and viewer is not None
        and can_reply(viewer, access.group, access.membership, access.topic)
    )
    fields = base(request, debate.title)
    if viewer is not None and errors is None:  # it shows all of the debate, and its start
        fields |= await seen_on_page(request, viewer, debate.topic_id, None)
    page = DebatePage(
        **fields,
        live_since=await live_since(request, f"debate:{debate.id}"),
        debate=debate,
        topic=access.topic,
        group=access.group,
        state=view.state,
        description=opening.cooked if opening and opening.visible else "",
        questions=revealed,
        prepared=prepared if view.prepares else [],
        hidden_count=view.hidden_count,
        next_question=view.next_question,
        is_host=viewer is not None and debate.is_host(viewer.id),
        can_answer=can_answer,
        reminded=reminded,
        can_see_hidden=is_staff(viewer),
        idempotency_key=idempotency_key or new_idempotency_key(),
        answer_count=view.answer_count,
        summary_value=debate.summary_raw or "",
        raw_value=raw,
        errors=errors or [],
        privacy_warning=warned,
        chosen_question=question or (revealed[-1].number if revealed else None),
    )
    return render(request, page, status)


async def debate_page(request: Request) -> Response:
    return await _debate_page(request)


async def answer(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    debate_id = path_int(request, "debate_id")
    form = await read_input(request)
    raw, question = form.get("raw") or "", form.get_int("question")
    key = form.get("idempotency_key") or ""
    draft = Draft(raw, confirmed=form.get("post_anyway") == "yes", idempotency_key=key)
    try:
        written = await debate_actions.do_answer(forum, viewer, debate_id, question, draft)
    except (BadRequest, Conflict, RateLimited) as error:
        warned = isinstance(error, PrivacyWarning)
        return await _debate_page(
            request,
            errors=error.messages,
            raw=raw,
            question=question,
            warned=warned,
            status=error.status_code,
            idempotency_key=key,
        )
    if isinstance(written, Held):
        return redirect(held_url(request, written))
    return redirect(f"{debate_url(request, debate_id)}#post-{written.post_number}")


# --- what hosts do ----------------------------------------------------------------------------


async def _host_action(request: Request, act: str) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    debate_id = path_int(request, "debate_id")
    form = await read_input(request)
    anchor = ""
    try:
        if act == "start":
            await debate_actions.do_start_debate(forum, viewer, debate_id)
        elif act == "close":
            await debate_actions.do_close_debate(forum, viewer, debate_id)
        elif act == "extend":
            await debate_actions.do_extend_debate(forum, viewer, debate_id, form.get_int("minutes"))
        elif act == "reveal":
            number = form.get_int("number")
            if number is None:
                raise BadRequest("Choose the question to reveal.")
            await debate_actions.do_reveal_question(forum, viewer, debate_id, number)
            anchor = f"#q{number}"
        elif act == "summary":
            await debate_actions.do_set_summary(forum, viewer, debate_id, form.get("raw"))
            anchor = "#summary"
    except (BadRequest, Conflict) as error:
        return await _debate_page(request, errors=error.messages, status=error.status_code)
    return redirect(debate_url(request, debate_id) + anchor)


async def start(request: Request) -> Response:
    return await _host_action(request, "start")


async def close(request: Request) -> Response:
    return await _host_action(request, "close")


async def extend(request: Request) -> Response:
    return await _host_action(request, "extend")


async def reveal(request: Request) -> Response:
    return await _host_action(request, "reveal")


async def summary(request: Request) -> Response:
    return await _host_action(request, "summary")


async def highlight(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    debate_id, post_id = path_int(request, "debate_id"), path_int(request, "post_id")
    form = await read_input(request)
    wanted = form.get("highlighted", "yes") == "yes"
    try:
        await debate_actions.do_highlight_answer(forum, viewer, debate_id, post_id, wanted)
    except (BadRequest, Conflict) as error:
        return await _debate_page(request, errors=error.messages, status=error.status_code)
    post = await post_queries.get_post(forum.db, post_id)
    anchor = f"#post-{post.post_number}" if post else ""
    return redirect(debate_url(request, debate_id) + anchor)


async def remind(request: Request) -> Response:
    forum, viewer = forum_of(request), require_viewer(request)
    debate_id = path_int(request, "debate_id")
    form = await read_input(request)
    await debate_actions.do_remind(forum, viewer, debate_id, form.get("remind") != "no")
    return redirect(debate_url(request, debate_id) + "#reminder")


# --- exports ----------------------------------------------------------------------------------


async def transcript(request: Request) -> Response:
    forum = forum_of(request)
    view = await read_debate(
        forum.db, viewer_of(request), path_int(request, "debate_id"), forum.now()
    )
    if view.state != "closed":
        raise Conflict("The transcript is ready once the debate has ended.")
    url = str(request.url_for("debate", debate_id=view.debate.id))
    body = transcript_markdown(view, url)
    filename = f"debate-{view.debate.id}-{view.debate.slug}.md"
    return Response(
        body,
        media_type="text/markdown; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


async def calendar(request: Request) -> Response:
    forum = forum_of(request)
    view = await read_debate(
        forum.db, viewer_of(request), path_int(request, "debate_id"), forum.now()
    )
    url = str(request.url_for("debate", debate_id=view.debate.id))
    return Response(
        debate_calendar(view, url, forum.now()),
        media_type="text/calendar; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="debate-{view.debate.id}.ics"'},
    )
