"""Hosted debates: the debate (its times, state, hosts), its prepared questions, the answers
under them and who asked to be reminded. The debate's topic holds the posts themselves."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row
from forum.queries._sql import in_list
from forum.queries.posts import POST_SELECT, Post

DEBATE_SELECT = (
    "SELECT d.id, d.topic_id, d.group_id, t.title, t.slug, g.slug AS group_slug,"
    " g.name AS group_name, d.description, d.starts_at, d.ends_at, d.state, d.started_at,"
    " d.closed_at, d.summary_raw, d.summary_cooked, d.participants, d.created_by, d.created_at,"
    " t.slow_mode_seconds"
    " FROM debates d JOIN topics t ON t.id = d.topic_id JOIN groups g ON g.id = d.group_id"
)


@dataclass(frozen=True, slots=True)
class Host:
    id: int
    username: str
    badge: str


@dataclass(frozen=True, slots=True)
class Debate:
    id: int
    topic_id: int
    group_id: int
    title: str
    slug: str
    group_slug: str
    group_name: str
    description: str  # raw markdown; the topic's first post holds it cooked
    starts_at: float  # as scheduled (a host starting early sets started_at)
    ends_at: float  # as scheduled or extended (a host closing early sets closed_at)
    state: str  # as stored: see state_at() for the state at a given time
    started_at: float | None
    closed_at: float | None
    summary_raw: str | None
    summary_cooked: str | None
    participants: int  # people who answered, hosts aside
    created_by: int
    created_at: float
    slow_mode_seconds: int
    hosts: tuple[Host, ...] = ()

    @classmethod
    def from_row(cls, row: Row, hosts: tuple[Host, ...] = ()) -> Debate:
        values = {name: row[name] for name in cls.__slots__ if name != "hosts"}
        return cls(**values, hosts=hosts)

    def is_host(self, user_id: int | None) -> bool:
        return user_id is not None and any(host.id == user_id for host in self.hosts)

    def state_at(self, now: float) -> str:
        """The state the stored times call for at `now`: the scheduler (forum/scheduler.py)
        stores it within a moment, and every action brings the debate up to date first."""
        if self.state == "closed" or now >= self.ends_at:
            return "closed"
        if self.state == "live" or now >= self.starts_at:
            return "live"
        return "scheduled"


@dataclass(frozen=True, slots=True)
class Question:
    """A prepared question (`raw`, as scheduled: for its hosts only until revealed) and, once
    revealed, its post, whose text is what everyone reads from then on (edited, hidden or
    removed as any post)."""

    number: int
    raw: str
    revealed_at: float | None
    revealed_by: int | None
    post_id: int | None
    post_number: int | None
    post_raw: str | None
    cooked: str | None
    hidden: bool = False  # its post is hidden or removed by a moderator

    @property
    def revealed(self) -> bool:
        return self.revealed_at is not None

    @property
    def text(self) -> str | None:
        """What readers may read of a revealed question: its post's text, unless hidden."""
        return None if self.hidden else self.post_raw


@dataclass(frozen=True, slots=True)
class Answering:
    """What a reply in a debate's topic answers, as its checks found it: read once in the
    reply's transaction and handed on to the write (forum/actions/places.py)."""

    debate_id: int
    question: int
    hosts: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Answer:
    post: Post
    question: int
    highlighted_at: float | None

    @property
    def highlighted(self) -> bool:
        return self.highlighted_at is not None


async def insert_debate(
    conn: Connection,
    *,
    topic_id: int,
    group_id: int,
    description: str,
    starts_at: float,
    ends_at: float,
    created_by: int,
    now: float,
) -> int:
    debate_id = await conn.fetch_val(
        "INSERT INTO debates (topic_id, group_id, description, starts_at, ends_at, created_by,"
        " created_at) VALUES (:t, :g, :d, :s, :e, :u, :now) RETURNING id",
        {
            "t": topic_id,
            "g": group_id,
            "d": description,
            "s": starts_at,
            "e": ends_at,
            "u": created_by,
            "now": now,
        },
    )
    return int(debate_id)


async def add_host(conn: Connection, debate_id: int, user_id: int) -> None:
    await conn.execute(
        "INSERT INTO debate_hosts (debate_id, user_id) VALUES (:d, :u)",
        {"d": debate_id, "u": user_id},
    )


async def insert_question(conn: Connection, debate_id: int, number: int, raw: str) -> None:
    await conn.execute(
        "INSERT INTO debate_questions (debate_id, number, raw) VALUES (:d, :n, :raw)",
        {"d": debate_id, "n": number, "raw": raw},
    )


async def _hosts(conn: Connection, debate_ids: list[int]) -> dict[int, tuple[Host, ...]]:
    if not debate_ids:
        return {}
    ids_sql, params = in_list("d", debate_ids)
    rows = await conn.fetch_all(
        "SELECT h.debate_id, u.id, u.username, u.badge FROM debate_hosts h"
        f" JOIN users u ON u.id = h.user_id WHERE h.debate_id IN {ids_sql}"
        " ORDER BY u.username",
        params,
    )
    hosts: dict[int, list[Host]] = {}
    for row in rows:
        hosts.setdefault(int(row["debate_id"]), []).append(
            Host(int(row["id"]), row["username"], row["badge"])
        )
    return {debate_id: tuple(found) for debate_id, found in hosts.items()}


async def _with_hosts(conn: Connection, rows: list[Row]) -> list[Debate]:
    hosts = await _hosts(conn, [int(row["id"]) for row in rows])
    return [Debate.from_row(row, hosts.get(int(row["id"]), ())) for row in rows]


async def get_debate(conn: Connection, debate_id: int) -> Debate | None:
    rows = await conn.fetch_all(f"{DEBATE_SELECT} WHERE d.id = :id", {"id": debate_id})
    found = await _with_hosts(conn, rows)
    return found[0] if found else None


async def get_debate_id_of_topic(conn: Connection, topic_id: int) -> int | None:
    value = await conn.fetch_val("SELECT id FROM debates WHERE topic_id = :t", {"t": topic_id})
    return int(value) if value is not None else None


# What each list shows, by the times as well as the stored state: a debate whose start has
# passed is live even in the moment before the scheduler stores it.
_LIVE = "d.state <> 'closed' AND d.starts_at <= :now AND d.ends_at > :now OR d.state = 'live'"
_UPCOMING = "d.state = 'scheduled' AND d.starts_at > :now"
_PAST = "(d.state = 'closed' OR d.ends_at <= :now)"


async def _list(
    conn: Connection, group_ids: list[int], where: str, order: str, now: float, limit: int
) -> list[Debate]:
    if not group_ids:
        return []
    groups_sql, params = in_list("g", group_ids)
    rows = await conn.fetch_all(
        f"{DEBATE_SELECT} WHERE d.group_id IN {groups_sql} AND ({where})"
        f" ORDER BY {order} LIMIT :lim",
        params | {"now": now, "lim": limit},
    )
    return await _with_hosts(conn, rows)


async def list_live(
    conn: Connection, group_ids: list[int], now: float, limit: int = 20
) -> list[Debate]:
    live = f"({_LIVE}) AND NOT {_PAST}"
    return await _list(conn, group_ids, live, "d.ends_at, d.id", now, limit)


async def list_upcoming(
    conn: Connection, group_ids: list[int], now: float, limit: int = 20
) -> list[Debate]:
    return await _list(conn, group_ids, _UPCOMING, "d.starts_at, d.id", now, limit)


async def list_past(
    conn: Connection, group_ids: list[int], now: float, limit: int = 10
) -> list[Debate]:
    return await _list(conn, group_ids, _PAST, "d.starts_at DESC, d.id DESC", now, limit)


async def list_questions(conn: Connection, debate_id: int) -> list[Question]:
    rows = await conn.fetch_all(
        "SELECT q.number, q.raw, q.revealed_at, q.revealed_by, q.post_id, p.post_number,"
        " p.raw AS post_raw, p.cooked,"
        " (p.hidden_at IS NOT NULL OR p.deleted_at IS NOT NULL) AS hidden"
        " FROM debate_questions q LEFT JOIN posts p ON p.id = q.post_id"
        " WHERE q.debate_id = :d ORDER BY q.number",
        {"d": debate_id},
    )
    return [
        Question(
            **({name: row[name] for name in Question.__slots__} | {"hidden": bool(row["hidden"])})
        )
        for row in rows
    ]


async def reveal_question(
    conn: Connection, debate_id: int, number: int, user_id: int, now: float
) -> bool:
    """Mark the question revealed, if nobody has yet (one of two racing hosts wins)."""
    row = await conn.fetch_one(
        "UPDATE debate_questions SET revealed_at = :now, revealed_by = :u"
        " WHERE debate_id = :d AND number = :n AND revealed_at IS NULL RETURNING number",
        {"now": now, "u": user_id, "d": debate_id, "n": number},
    )
    return row is not None


async def set_question_post(conn: Connection, debate_id: int, number: int, post_id: int) -> None:
    await conn.execute(
        "UPDATE debate_questions SET post_id = :p WHERE debate_id = :d AND number = :n",
        {"p": post_id, "d": debate_id, "n": number},
    )


async def move_state(
    conn: Connection,
    debate_id: int,
    from_states: tuple[str, ...],
    to: str,
    at: float,
    *,
    due_by: float | None = None,
) -> bool:
    """Move the debate to `to` if it is still in one of `from_states`: a conditional update,
    so of several nodes or requests making the same move, exactly one does. `due_by`: a move
    the clock calls for happens only if its time has still come by then, as the row reads
    now: a host who extended it a moment ago, in a transaction this one waited for, wins."""
    states_sql, params = in_list("s", from_states)
    stamp = {"live": "started_at", "closed": "closed_at"}[to]
    when = ""
    if due_by is not None:
        when = " AND starts_at <= :due" if to == "live" else " AND ends_at <= :due"
        params["due"] = due_by
    row = await conn.fetch_one(
        f"UPDATE debates SET state = :to, {stamp} = :at"
        f" WHERE id = :id AND state IN {states_sql}{when} RETURNING id",
        params | {"to": to, "at": at, "id": debate_id},
    )
    return row is not None


async def extend(conn: Connection, debate_id: int, seconds: float) -> None:
    await conn.execute(
        "UPDATE debates SET ends_at = ends_at + :s WHERE id = :id", {"s": seconds, "id": debate_id}
    )


async def set_summary(
    conn: Connection, debate_id: int, raw: str | None, cooked: str | None
) -> None:
    await conn.execute(
        "UPDATE debates SET summary_raw = :raw, summary_cooked = :cooked WHERE id = :id",
        {"raw": raw, "cooked": cooked, "id": debate_id},
    )


async def insert_answer(
    conn: Connection, post_id: int, debate_id: int, question: int, user_id: int, *, counts: bool
) -> int | None:
    """Record a post as an answer to a question; if it is the first answer of someone who
    `counts` as a participant (hosts do not), the new count of participants, else None."""
    # The debate's row locked first: two answers of one person written at once (theirs and
    # a moderator approving their held one) see each other, so they are counted once.
    await conn.execute(
        "UPDATE debates SET participants = participants WHERE id = :d", {"d": debate_id}
    )
    first = counts and (
        await conn.fetch_one(
            "SELECT 1 AS one FROM debate_answers WHERE debate_id = :d AND user_id = :u LIMIT 1",
            {"d": debate_id, "u": user_id},
        )
        is None
    )
    await conn.execute(
        "INSERT INTO debate_answers (post_id, debate_id, question, user_id)"
        " VALUES (:p, :d, :q, :u)",
        {"p": post_id, "d": debate_id, "q": question, "u": user_id},
    )
    if not first:
        return None
    count = await conn.fetch_val(
        "UPDATE debates SET participants = participants + 1 WHERE id = :d RETURNING participants",
        {"d": debate_id},
    )
    return int(count)


async def get_answer_mark(conn: Connection, post_id: int) -> tuple[int, bool] | None:
    """(question number, highlighted) of an answer; None if the post is not one."""
    row = await conn.fetch_one(
        "SELECT question, highlighted_at FROM debate_answers WHERE post_id = :p", {"p": post_id}
    )
    return (int(row["question"]), row["highlighted_at"] is not None) if row else None


async def question_at(conn: Connection, debate_id: int, post_number: int) -> int | None:
    """The number of the revealed question whose post is `post_number` in the topic."""
    value = await conn.fetch_val(
        "SELECT q.number FROM debate_questions q JOIN posts p ON p.id = q.post_id"
        " WHERE q.debate_id = :d AND p.post_number = :n",
        {"d": debate_id, "n": post_number},
    )
    return int(value) if value is not None else None


async def question_of_post(conn: Connection, post_id: int) -> int | None:
    value = await conn.fetch_val(
        "SELECT number FROM debate_questions WHERE post_id = :p", {"p": post_id}
    )
    return int(value) if value is not None else None


async def host_ids(conn: Connection, debate_id: int) -> tuple[int, ...]:
    rows = await conn.fetch_all(
        "SELECT user_id FROM debate_hosts WHERE debate_id = :d ORDER BY user_id", {"d": debate_id}
    )
    return tuple(int(row["user_id"]) for row in rows)


async def set_highlight(
    conn: Connection, post_id: int, user_id: int | None, at: float | None
) -> None:
    await conn.execute(
        "UPDATE debate_answers SET highlighted_at = :at, highlighted_by = :u WHERE post_id = :p",
        {"at": at, "u": user_id, "p": post_id},
    )


async def list_answers(conn: Connection, debate_id: int) -> list[Answer]:
    """Every answer, in the order written (hidden and removed ones too: callers show them as
    a topic page does)."""
    rows = await conn.fetch_all(
        POST_SELECT.replace(" FROM posts p ", ", a.question, a.highlighted_at FROM posts p ", 1)
        + " JOIN debate_answers a ON a.post_id = p.id WHERE a.debate_id = :d ORDER BY p.id",
        {"d": debate_id},
    )
    return [Answer(Post.from_row(row), int(row["question"]), row["highlighted_at"]) for row in rows]


async def get_answer(conn: Connection, post_id: int) -> Answer | None:
    row = await conn.fetch_one(
        POST_SELECT.replace(" FROM posts p ", ", a.question, a.highlighted_at FROM posts p ", 1)
        + " JOIN debate_answers a ON a.post_id = p.id WHERE p.id = :p",
        {"p": post_id},
    )
    return Answer(Post.from_row(row), int(row["question"]), row["highlighted_at"]) if row else None


async def due_debates(conn: Connection, now: float) -> list[int]:
    """Debates whose stored state is behind their times."""
    rows = await conn.fetch_all(
        "SELECT id FROM debates WHERE state = 'scheduled' AND starts_at <= :now"
        " UNION SELECT id FROM debates WHERE state = 'live' AND ends_at <= :now",
        {"now": now},
    )
    return sorted(int(row["id"]) for row in rows)


async def next_due(conn: Connection) -> float | None:
    """When the next stored time falls due, of any debate."""
    row = await conn.fetch_one(
        "SELECT (SELECT min(starts_at) FROM debates WHERE state = 'scheduled') AS start,"
        " (SELECT min(ends_at) FROM debates WHERE state = 'live') AS finish"
    )
    times = [t for t in (row or {}).values() if t is not None]
    return min(times) if times else None


async def set_reminder(
    conn: Connection, debate_id: int, user_id: int, wanted: bool, now: float
) -> None:
    if wanted:
        await conn.execute(
            "INSERT INTO debate_reminders (debate_id, user_id, created_at) VALUES (:d, :u, :now)"
            " ON CONFLICT (debate_id, user_id) DO NOTHING",
            {"d": debate_id, "u": user_id, "now": now},
        )
    else:
        await conn.execute(
            "DELETE FROM debate_reminders WHERE debate_id = :d AND user_id = :u",
            {"d": debate_id, "u": user_id},
        )


async def has_reminder(conn: Connection, debate_id: int, user_id: int) -> bool:
    row = await conn.fetch_one(
        "SELECT 1 AS one FROM debate_reminders WHERE debate_id = :d AND user_id = :u",
        {"d": debate_id, "u": user_id},
    )
    return row is not None


async def list_reminded(conn: Connection, debate_id: int) -> list[int]:
    rows = await conn.fetch_all(
        "SELECT user_id FROM debate_reminders WHERE debate_id = :d ORDER BY user_id",
        {"d": debate_id},
    )
    return [int(row["user_id"]) for row in rows]
