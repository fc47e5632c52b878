"""What a debate's page, its JSON and its exports read: the debate as one viewer may see it
(questions not yet revealed only for its hosts, the group's conveners and site staff), its
answers grouped under their questions, and the transcript (Markdown) and calendar entry
(iCalendar) made from them. Shared by views/ and api/, which never import each other."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from icalendar import Calendar
from icalendar import Event as CalendarEvent

from forum.access import DebateAccess, access_debate
from forum.db import Connection
from forum.permissions import is_staff
from forum.queries import debates as debate_queries
from forum.queries import posts as post_queries
from forum.queries.debates import Answer, Debate, Question
from forum.queries.posts import Post
from forum.queries.users import User


@dataclass(frozen=True)
class QuestionView:
    question: Question
    shown: bool  # its text is shown to this viewer (revealed, or they prepare the debate)
    answers: list[Answer] = field(default_factory=list)

    @property
    def number(self) -> int:
        return self.question.number

    @property
    def text(self) -> str | None:
        """The question as this viewer may read it: its post once revealed (None if hidden
        by a moderator), the prepared text before, for those who prepare the debate."""
        if self.question.revealed:
            return self.question.text
        return self.question.raw if self.shown else None

    @property
    def visible_answers(self) -> list[Answer]:
        return [a for a in self.answers if a.post.visible]

    @property
    def in_transcript(self) -> list[Answer]:
        """Highlights first, then the rest, each in the order written; hidden ones left out."""
        visible = self.visible_answers
        return [a for a in visible if a.highlighted] + [a for a in visible if not a.highlighted]

    @property
    def answerers(self) -> int:
        return len({a.post.user_id for a in self.visible_answers})


@dataclass(frozen=True)
class DebateView:
    access: DebateAccess
    state: str  # as of the read: the stored state, or what the times already call for
    questions: list[QuestionView]
    prepares: bool  # the viewer hosts it, convenes its group or is site staff
    hidden_count: int  # questions not yet revealed (everyone is told how many, never what)
    opening: Post | None  # the topic's first post: the description as readers may see it

    @property
    def description(self) -> str | None:
        """The description's text, unless a moderator hid or removed it."""
        return self.opening.raw if self.opening and self.opening.visible else None

    @property
    def debate(self) -> Debate:
        return self.access.debate

    @property
    def revealed(self) -> list[QuestionView]:
        return [q for q in self.questions if q.question.revealed]

    @property
    def next_question(self) -> int | None:
        return next((q.number for q in self.questions if not q.question.revealed), None)

    @property
    def answer_count(self) -> int:
        return sum(len(q.visible_answers) for q in self.questions)


def prepares_debate(user: User | None, debate: Debate, membership: str | None) -> bool:
    """Hosts, the group's conveners and site staff see the questions before they are out."""
    return user is not None and (
        debate.is_host(user.id) or is_staff(user) or membership == "convener"
    )


async def read_debate(
    conn: Connection, viewer: User | None, debate_id: int, now: float
) -> DebateView:
    access = await access_debate(conn, viewer, debate_id)
    debate = access.debate
    prepares = prepares_debate(viewer, debate, access.membership)
    questions = await debate_queries.list_questions(conn, debate.id)
    answers = await debate_queries.list_answers(conn, debate.id)
    views = {
        q.number: QuestionView(q, q.revealed or prepares)
        for q in questions
        if q.revealed or prepares
    }
    for answer in answers:
        if answer.question in views:
            views[answer.question].answers.append(answer)
    hidden = sum(1 for q in questions if not q.revealed)
    opening = await post_queries.get_post_by_number(conn, debate.topic_id, 1)
    return DebateView(access, debate.state_at(now), list(views.values()), prepares, hidden, opening)


# --- exports ----------------------------------------------------------------------------------


def _utc(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%-d %B %Y, %H:%M UTC")


def _quoted(text: str) -> str:
    return "\n".join(f"> {line}" if line else ">" for line in text.splitlines())


REMOVED = "(Hidden by a moderator.)"


def transcript_markdown(view: DebateView, url: str) -> str:
    """The closed debate as Markdown: its summary, then each question with its answers,
    highlights first, and how many answered. Hidden and removed answers are left out."""
    debate = view.debate
    lines = [
        f"# {debate.title}",
        "",
        f"A debate in {debate.group_name}, {_utc(debate.started_at or debate.starts_at)} to"
        f" {_utc(debate.closed_at or debate.ends_at)}.",
        f"Hosted by {', '.join(h.username for h in debate.hosts)}."
        f" {debate.participants} {'person' if debate.participants == 1 else 'people'} took part,"
        f" with {view.answer_count} {'answer' if view.answer_count == 1 else 'answers'}.",
        f"Transcript of {url}",
        "",
    ]
    if debate.summary_raw:
        lines += ["## What we learned", "", debate.summary_raw.strip(), ""]
    lines += ["## About this debate", "", (view.description or REMOVED).strip(), ""]
    for q in view.revealed:
        answers = q.in_transcript
        count = f"{len(answers)} {'answer' if len(answers) == 1 else 'answers'}"
        people = f"{q.answerers} {'person' if q.answerers == 1 else 'people'}"
        lines += [
            f"## Question {q.number}",
            "",
            (q.text or REMOVED).strip(),
            "",
            f"{count} from {people}.",
            "",
        ]
        for answer in answers:
            mark = " (highlighted)" if answer.highlighted else ""
            post = answer.post
            lines += [
                f"**{post.username}** ({post.badge}){mark}:",
                "",
                _quoted(post.raw.strip()),
                "",
            ]
    return "\n".join(lines).rstrip() + "\n"


def debate_calendar(view: DebateView, url: str, now: float) -> bytes:
    """An iCalendar file with the debate as one event, for "add to calendar"."""
    debate = view.debate
    calendar = Calendar()
    calendar.add("prodid", "-//forum//hosted debates//EN")
    calendar.add("version", "2.0")
    event = CalendarEvent()
    event.add("uid", f"debate-{debate.id}@{url.split('/')[2] if '//' in url else 'forum'}")
    event.add("dtstamp", datetime.fromtimestamp(now, UTC))
    event.add("dtstart", datetime.fromtimestamp(debate.starts_at, UTC))
    event.add("dtend", datetime.fromtimestamp(debate.ends_at, UTC))
    event.add("summary", debate.title)
    event.add("description", f"{view.description or REMOVED}\n\n{url}")
    event.add("url", url)
    if debate.state == "closed":
        event.add("status", "CANCELLED" if debate.started_at is None else "CONFIRMED")
    calendar.add_component(event)
    data: bytes = calendar.to_ical()
    return data
