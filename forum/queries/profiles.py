"""Members' profiles and the directory (migrations/0018).

Who may see a profile is written once, as SQL (`_visible`), and used both for one profile
and for the directory, so a profile hidden on its page is hidden from every search too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forum.db import Connection, Database
from forum.queries.users import User

VISIBILITIES = {
    "everyone": "Everyone, even without an account",
    "members": "Members who are signed in (not guest accounts)",
    "shared_groups": "Only people in a group with me",
}
DEFAULT_VISIBILITY = "members"


@dataclass(frozen=True)
class Profile:
    user_id: int
    username: str
    badge: str
    badge_verified: bool
    role: str
    display_name: str
    bio: str
    organisation: str
    region: str
    visibility: str
    picture_version: int
    has_picture: bool
    interests: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.display_name or self.username


_COLUMNS = (
    "u.id AS user_id, u.username, u.badge, u.badge_verified_at IS NOT NULL AS badge_verified,"
    " u.role, coalesce(p.display_name, '') AS display_name, coalesce(p.bio, '') AS bio,"
    " coalesce(p.organisation, '') AS organisation, coalesce(p.region, '') AS region,"
    f" coalesce(p.visibility, '{DEFAULT_VISIBILITY}') AS visibility,"
    " coalesce(p.picture_version, 0) AS picture_version,"
    " p.picture_key IS NOT NULL AS has_picture"
    " FROM users u LEFT JOIN profiles p ON p.user_id = u.id"
)


def _visible(viewer: User | None, is_staff: bool) -> tuple[str, dict[str, Any]]:
    """THE rule: which profiles `viewer` may see. Staff see all; the member their own;
    anyone those for everyone; signed-in members (not guests) those for members; and those
    for shared groups when they are in a group together."""
    if is_staff:
        return "1 = 1", {}
    shown = f"coalesce(p.visibility, '{DEFAULT_VISIBILITY}')"
    if viewer is None:
        return f"{shown} = 'everyone'", {}
    # A guest account (no email, made in a moment) is not a "member who is signed in".
    open_to = "('everyone')" if viewer.is_guest else "('everyone', 'members')"
    return (
        f"(u.id = :viewer OR {shown} IN {open_to} OR EXISTS (SELECT 1"
        " FROM memberships a JOIN memberships b ON b.group_id = a.group_id"
        " WHERE a.user_id = u.id AND b.user_id = :viewer))",
        {"viewer": viewer.id},
    )


def _profile(row: Any, interests: tuple[str, ...]) -> Profile:
    values = dict(row)
    values["badge_verified"] = bool(values["badge_verified"])
    values["has_picture"] = bool(values["has_picture"])
    return Profile(**values, interests=interests)


async def _interests(conn: Connection | Database, user_ids: list[int]) -> dict[int, list[str]]:
    if not user_ids:
        return {}
    marks = ", ".join(f":u{i}" for i in range(len(user_ids)))
    rows = await conn.fetch_all(
        f"SELECT user_id, interest FROM profile_interests WHERE user_id IN ({marks})"
        " ORDER BY interest",
        {f"u{i}": user_id for i, user_id in enumerate(user_ids)},
    )
    found: dict[int, list[str]] = {}
    for row in rows:
        found.setdefault(int(row["user_id"]), []).append(str(row["interest"]))
    return found


async def get_profile(
    conn: Connection | Database, user_id: int, viewer: User | None, is_staff: bool
) -> Profile | None:
    """The member's profile if the viewer may see it, else None."""
    rule, params = _visible(viewer, is_staff)
    row = await conn.fetch_one(
        f"SELECT {_COLUMNS} WHERE u.id = :id AND {rule}", params | {"id": user_id}
    )
    if row is None:
        return None
    return _profile(row, tuple((await _interests(conn, [user_id])).get(user_id, [])))


@dataclass(frozen=True)
class DirectoryQuery:
    name: str = ""
    interest: str = ""
    badge: str = ""
    organisation: str = ""
    region: str = ""

    @property
    def any(self) -> bool:
        return any((self.name, self.interest, self.badge, self.organisation, self.region))


def _like(text: str) -> str:
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_directory(
    conn: Connection | Database,
    query: DirectoryQuery,
    viewer: User | None,
    is_staff: bool,
    now: float,
    *,
    limit: int,
    offset: int,
) -> list[Profile]:
    """Members whose profile the viewer may see, matching every filter given, by name.
    Guests and suspended accounts are not listed."""
    rule, params = _visible(viewer, is_staff)
    where = [rule, "NOT u.is_guest", "(u.suspended_until IS NULL OR u.suspended_until <= :now)"]
    params |= {"now": now, "limit": limit, "offset": offset}
    if query.name:
        where.append(
            "(lower(u.username) LIKE :name ESCAPE '\\' OR lower(coalesce(p.display_name, ''))"
            " LIKE :name ESCAPE '\\')"
        )
        params["name"] = _like(query.name)
    if query.interest:
        where.append(
            "EXISTS (SELECT 1 FROM profile_interests i WHERE i.user_id = u.id"
            " AND i.interest = :interest)"
        )
        params["interest"] = query.interest
    if query.badge:
        where.append("u.badge = :badge")
        params["badge"] = query.badge
    for name in ("organisation", "region"):
        value = getattr(query, name)
        if value:
            where.append(f"lower(coalesce(p.{name}, '')) LIKE :{name} ESCAPE '\\'")
            params[name] = _like(value)
    rows = await conn.fetch_all(
        f"SELECT {_COLUMNS} WHERE {' AND '.join(where)}"
        " ORDER BY lower(u.username), u.id LIMIT :limit OFFSET :offset",
        params,
    )
    interests = await _interests(conn, [int(r["user_id"]) for r in rows])
    return [_profile(r, tuple(interests.get(int(r["user_id"]), []))) for r in rows]


@dataclass(frozen=True)
class ProfileFields:
    display_name: str
    bio: str
    organisation: str
    region: str
    visibility: str
    interests: tuple[str, ...]


async def save_profile(conn: Connection, user_id: int, fields: ProfileFields, now: float) -> None:
    await conn.execute(
        "INSERT INTO profiles (user_id, display_name, bio, organisation, region, visibility,"
        " updated_at) VALUES (:u, :name, :bio, :org, :region, :visibility, :now)"
        " ON CONFLICT (user_id) DO UPDATE SET display_name = excluded.display_name,"
        " bio = excluded.bio, organisation = excluded.organisation, region = excluded.region,"
        " visibility = excluded.visibility, updated_at = excluded.updated_at",
        {
            "u": user_id,
            "name": fields.display_name,
            "bio": fields.bio,
            "org": fields.organisation,
            "region": fields.region,
            "visibility": fields.visibility,
            "now": now,
        },
    )
    await conn.execute("DELETE FROM profile_interests WHERE user_id = :u", {"u": user_id})
    for interest in fields.interests:
        await conn.execute(
            "INSERT INTO profile_interests (user_id, interest) VALUES (:u, :i)",
            {"u": user_id, "i": interest},
        )


async def set_picture(conn: Connection, user_id: int, key: str | None, now: float) -> str | None:
    """Keep `key` as the member's picture (None: none); the key it replaces, if any."""
    old = await conn.fetch_val(
        "SELECT picture_key FROM profiles WHERE user_id = :u", {"u": user_id}
    )
    await conn.execute(
        "INSERT INTO profiles (user_id, picture_key, picture_version, updated_at)"
        " VALUES (:u, :key, 1, :now) ON CONFLICT (user_id) DO UPDATE SET"
        " picture_key = excluded.picture_key,"
        " picture_version = profiles.picture_version + 1, updated_at = excluded.updated_at",
        {"u": user_id, "key": key, "now": now},
    )
    return str(old) if old else None


async def picture_key(conn: Connection | Database, user_id: int) -> str | None:
    found = await conn.fetch_val(
        "SELECT picture_key FROM profiles WHERE user_id = :u", {"u": user_id}
    )
    return str(found) if found else None
