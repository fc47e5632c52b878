"""A group's events: meetings with a time, a place or a link, and who answered what
(migrations/0017). Named group_events and GroupEvent so as not to be taken for the live
events (forum/events.py, whose log is the table `events`)."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Database

ANSWERS = ("going", "waiting", "maybe", "not_going")

_SELECT = (
    "SELECT e.id, e.group_id, e.user_id, u.username, e.title, e.description, e.starts_at,"
    " e.ends_at, e.time_zone, e.online_url, e.place, e.capacity, e.created_at, e.updated_at,"
    " e.cancelled_at, e.sequence,"
    " (SELECT count(*) FROM group_event_answers a WHERE a.event_id = e.id AND a.answer = 'going')"
    " AS going"
    " FROM group_events e JOIN users u ON u.id = e.user_id"
)


@dataclass(frozen=True)
class GroupEvent:
    id: int
    group_id: int
    user_id: int  # who scheduled it
    username: str
    title: str
    description: str
    starts_at: float
    ends_at: float
    time_zone: str  # the organiser's: the form shows the times in it
    online_url: str | None
    place: str | None
    capacity: int | None  # places; None: no limit
    created_at: float
    updated_at: float
    cancelled_at: float | None
    sequence: int  # iCalendar's SEQUENCE: raised by each change, so calendars take it
    going: int = 0

    @property
    def full(self) -> bool:
        return self.capacity is not None and self.going >= self.capacity

    @property
    def places_left(self) -> int | None:
        return None if self.capacity is None else max(self.capacity - self.going, 0)


@dataclass(frozen=True)
class Answer:
    user_id: int
    username: str
    badge: str
    answer: str
    answered_at: float


@dataclass(frozen=True)
class EventFields:
    title: str
    description: str
    starts_at: float
    ends_at: float
    time_zone: str
    online_url: str | None
    place: str | None
    capacity: int | None


def _params(fields: EventFields) -> dict[str, object]:
    return {
        "title": fields.title,
        "description": fields.description,
        "starts": fields.starts_at,
        "ends": fields.ends_at,
        "zone": fields.time_zone,
        "url": fields.online_url,
        "place": fields.place,
        "capacity": fields.capacity,
    }


async def insert_event(
    conn: Connection, group_id: int, user_id: int, fields: EventFields, now: float
) -> int:
    return int(
        await conn.fetch_val(
            "INSERT INTO group_events (group_id, user_id, title, description, starts_at, ends_at,"
            " time_zone, online_url, place, capacity, created_at, updated_at)"
            " VALUES (:g, :u, :title, :description, :starts, :ends, :zone, :url, :place,"
            " :capacity, :now, :now) RETURNING id",
            _params(fields) | {"g": group_id, "u": user_id, "now": now},
        )
    )


async def update_event(conn: Connection, event_id: int, fields: EventFields, now: float) -> None:
    await conn.execute(
        "UPDATE group_events SET title = :title, description = :description, starts_at = :starts,"
        " ends_at = :ends, time_zone = :zone, online_url = :url, place = :place,"
        " capacity = :capacity, updated_at = :now, sequence = sequence + 1 WHERE id = :id",
        _params(fields) | {"id": event_id, "now": now},
    )


async def cancel_event(conn: Connection, event_id: int, now: float) -> None:
    await conn.execute(
        "UPDATE group_events SET cancelled_at = :now, updated_at = :now, sequence = sequence + 1"
        " WHERE id = :id AND cancelled_at IS NULL",
        {"id": event_id, "now": now},
    )


async def lock_event(conn: Connection, event_id: int) -> None:
    """Hold the event's row until the transaction ends, so two answers racing for its last
    place are counted one after the other (SQLite's writers already are)."""
    await conn.execute(
        "UPDATE group_events SET sequence = sequence WHERE id = :id", {"id": event_id}
    )


async def get_event(conn: Connection | Database, group_id: int, event_id: int) -> GroupEvent | None:
    row = await conn.fetch_one(
        f"{_SELECT} WHERE e.id = :id AND e.group_id = :g", {"id": event_id, "g": group_id}
    )
    return GroupEvent(**row) if row else None


async def list_upcoming(
    conn: Connection | Database, group_id: int, now: float, limit: int
) -> list[GroupEvent]:
    """Events not yet over (cancelled ones too, marked so), soonest first."""
    rows = await conn.fetch_all(
        f"{_SELECT} WHERE e.group_id = :g AND e.ends_at > :now"
        " ORDER BY e.starts_at, e.id LIMIT :limit",
        {"g": group_id, "now": now, "limit": limit},
    )
    return [GroupEvent(**r) for r in rows]


async def list_past(
    conn: Connection | Database, group_id: int, now: float, limit: int
) -> list[GroupEvent]:
    """Events over (or cancelled ones that would be), latest first."""
    rows = await conn.fetch_all(
        f"{_SELECT} WHERE e.group_id = :g AND e.ends_at <= :now"
        " ORDER BY e.starts_at DESC, e.id DESC LIMIT :limit",
        {"g": group_id, "now": now, "limit": limit},
    )
    return [GroupEvent(**r) for r in rows]


async def list_for_feed(
    conn: Connection | Database, group_id: int, since: float, limit: int
) -> list[GroupEvent]:
    """The group_events a calendar feed carries: those ending after `since`, cancelled ones too (a
    calendar that has one learns it is cancelled)."""
    rows = await conn.fetch_all(
        f"{_SELECT} WHERE e.group_id = :g AND e.ends_at > :since"
        " ORDER BY e.starts_at, e.id LIMIT :limit",
        {"g": group_id, "since": since, "limit": limit},
    )
    return [GroupEvent(**r) for r in rows]


async def list_answers(conn: Connection | Database, event_id: int) -> list[Answer]:
    """Everyone's answer, in the order given (the waiting list's order)."""
    rows = await conn.fetch_all(
        "SELECT a.user_id, u.username, u.badge, a.answer, a.answered_at FROM group_event_answers a"
        " JOIN users u ON u.id = a.user_id WHERE a.event_id = :e"
        " ORDER BY a.answered_at, a.user_id",
        {"e": event_id},
    )
    return [Answer(**r) for r in rows]


async def answer_of(conn: Connection | Database, event_id: int, user_id: int) -> str | None:
    found = await conn.fetch_val(
        "SELECT answer FROM group_event_answers WHERE event_id = :e AND user_id = :u",
        {"e": event_id, "u": user_id},
    )
    return str(found) if found is not None else None


async def set_answer(
    conn: Connection, event_id: int, user_id: int, answer: str, now: float
) -> None:
    await conn.execute(
        "INSERT INTO group_event_answers (event_id, user_id, answer, answered_at)"
        " VALUES (:e, :u, :a, :now) ON CONFLICT (event_id, user_id)"
        " DO UPDATE SET answer = excluded.answer, answered_at = excluded.answered_at",
        {"e": event_id, "u": user_id, "a": answer, "now": now},
    )


async def count_going(conn: Connection, event_id: int) -> int:
    return int(
        await conn.fetch_val(
            "SELECT count(*) FROM group_event_answers WHERE event_id = :e AND answer = 'going'",
            {"e": event_id},
        )
    )


# Only members are given a place or told of a change (answers of those who left are taken
# away as they go: forget_answers; this is the second guard).
_STILL_MEMBER = (
    "EXISTS (SELECT 1 FROM group_events e JOIN memberships m ON m.group_id = e.group_id"
    " WHERE e.id = a.event_id AND m.user_id = a.user_id)"
)


async def forget_answers(
    conn: Connection, group_id: int, user_id: int, now: float
) -> list[tuple[int, str]]:
    """Take away a member's answers to the group's events to come; (event id, answer) of
    each taken."""
    rows = await conn.fetch_all(
        "SELECT a.event_id, a.answer FROM group_event_answers a"
        " JOIN group_events e ON e.id = a.event_id"
        " WHERE e.group_id = :g AND a.user_id = :u AND e.ends_at > :now",
        {"g": group_id, "u": user_id, "now": now},
    )
    for row in rows:
        await conn.execute(
            "DELETE FROM group_event_answers WHERE event_id = :e AND user_id = :u",
            {"e": row["event_id"], "u": user_id},
        )
    return [(int(r["event_id"]), str(r["answer"])) for r in rows]


async def first_waiting(conn: Connection, event_id: int, n: int) -> list[int]:
    rows = await conn.fetch_all(
        f"SELECT user_id FROM group_event_answers a WHERE event_id = :e AND answer = 'waiting'"
        f" AND {_STILL_MEMBER} ORDER BY answered_at, user_id LIMIT :n",
        {"e": event_id, "n": n},
    )
    return [int(r["user_id"]) for r in rows]


async def answered_by(conn: Connection, event_id: int, answers: tuple[str, ...]) -> list[int]:
    marks = ", ".join(f":a{i}" for i in range(len(answers)))
    rows = await conn.fetch_all(
        f"SELECT user_id FROM group_event_answers a WHERE event_id = :e AND answer IN ({marks})"
        f" AND {_STILL_MEMBER}",
        {"e": event_id} | {f"a{i}": a for i, a in enumerate(answers)},
    )
    return [int(r["user_id"]) for r in rows]


@dataclass(frozen=True)
class FeedKey:
    """What a member's private feed address is signed over: their membership (its start: a
    member who leaves and comes back has a new one) and its version (raised to replace it)."""

    version: int
    joined_at: float


async def feed_key(conn: Connection | Database, group_id: int, user_id: int) -> FeedKey | None:
    """None: not a member."""
    row = await conn.fetch_one(
        "SELECT calendar_version, created_at FROM memberships WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )
    return FeedKey(int(row["calendar_version"]), float(row["created_at"])) if row else None


async def bump_calendar_version(conn: Connection, group_id: int, user_id: int) -> None:
    await conn.execute(
        "UPDATE memberships SET calendar_version = calendar_version + 1"
        " WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )


@dataclass(frozen=True)
class FeedDebate:
    id: int
    title: str
    description: str
    starts_at: float
    ends_at: float
    cancelled: bool  # closed without ever starting


async def list_debates_for_feed(
    conn: Connection | Database, group_id: int, since: float, limit: int
) -> list[FeedDebate]:
    rows = await conn.fetch_all(
        "SELECT d.id, t.title, d.description, d.starts_at, d.ends_at,"
        " (d.state = 'closed' AND d.started_at IS NULL) AS cancelled"
        " FROM debates d JOIN topics t ON t.id = d.topic_id"
        " WHERE d.group_id = :g AND d.ends_at > :since ORDER BY d.starts_at LIMIT :limit",
        {"g": group_id, "since": since, "limit": limit},
    )
    return [FeedDebate(**{**r, "cancelled": bool(r["cancelled"])}) for r in rows]
