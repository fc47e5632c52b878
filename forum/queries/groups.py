"""Groups (SIGs) and who belongs to them."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Row

GROUP_COLUMNS = (
    "id, slug, name, description, visibility, topic_count, post_count, created_at,"
    " hold_first_posts, email_excerpts"
)


@dataclass(frozen=True, slots=True)
class Group:
    id: int
    slug: str
    name: str
    description: str
    visibility: str
    topic_count: int
    post_count: int
    created_at: float
    hold_first_posts: int = 1  # a new account's first N posts here wait for a moderator
    email_excerpts: bool | None = None  # emails quote its posts (None: if the group is public)

    @property
    def is_private(self) -> bool:
        return self.visibility == "private"

    @classmethod
    def from_row(cls, row: Row) -> Group:
        values = {name: row[name] for name in cls.__slots__}
        if values["email_excerpts"] is not None:
            values["email_excerpts"] = bool(values["email_excerpts"])
        return cls(**values)


async def list_groups(conn: Connection) -> list[Group]:
    rows = await conn.fetch_all(f"SELECT {GROUP_COLUMNS} FROM groups ORDER BY name, id")
    return [Group.from_row(r) for r in rows]


async def get_group(conn: Connection, group_id: int) -> Group | None:
    row = await conn.fetch_one(
        f"SELECT {GROUP_COLUMNS} FROM groups WHERE id = :id", {"id": group_id}
    )
    return Group.from_row(row) if row else None


async def get_group_by_slug(conn: Connection, slug: str) -> Group | None:
    row = await conn.fetch_one(f"SELECT {GROUP_COLUMNS} FROM groups WHERE slug = :s", {"s": slug})
    return Group.from_row(row) if row else None


async def insert_group(
    conn: Connection, *, slug: str, name: str, description: str, visibility: str, now: float
) -> Group:
    row = await conn.fetch_one(
        "INSERT INTO groups (slug, name, description, visibility, created_at)"
        f" VALUES (:slug, :name, :d, :v, :now) RETURNING {GROUP_COLUMNS}",
        {"slug": slug, "name": name, "d": description, "v": visibility, "now": now},
    )
    assert row is not None
    return Group.from_row(row)


async def count_groups(conn: Connection) -> int:
    return int(await conn.fetch_val("SELECT count(*) FROM groups"))


# --- memberships ----------------------------------------------------------------------------


async def get_membership_role(conn: Connection, group_id: int, user_id: int) -> str | None:
    role = await conn.fetch_val(
        "SELECT role FROM memberships WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )
    return str(role) if role is not None else None


async def get_memberships(conn: Connection, user_id: int) -> dict[int, str]:
    """group id -> role, for every group the user belongs to."""
    rows = await conn.fetch_all(
        "SELECT group_id, role FROM memberships WHERE user_id = :u", {"u": user_id}
    )
    return {int(r["group_id"]): str(r["role"]) for r in rows}


async def upsert_membership(
    conn: Connection, *, group_id: int, user_id: int, role: str, now: float
) -> None:
    await conn.execute(
        "INSERT INTO memberships (group_id, user_id, role, created_at) VALUES (:g, :u, :r, :now)"
        " ON CONFLICT (group_id, user_id) DO UPDATE SET role = excluded.role",
        {"g": group_id, "u": user_id, "r": role, "now": now},
    )


async def delete_membership(conn: Connection, group_id: int, user_id: int) -> None:
    await conn.execute(
        "DELETE FROM memberships WHERE group_id = :g AND user_id = :u",
        {"g": group_id, "u": user_id},
    )


async def list_members(conn: Connection, group_id: int, limit: int = 200) -> list[Row]:
    return await conn.fetch_all(
        "SELECT u.username, u.badge, m.role FROM memberships m JOIN users u ON u.id = m.user_id"
        " WHERE m.group_id = :g ORDER BY m.role DESC, lower(u.username) LIMIT :lim",
        {"g": group_id, "lim": limit},
    )


async def set_membership_role(conn: Connection, group_id: int, user_id: int, role: str) -> bool:
    """Change an existing member's role; False if the user is not a member."""
    found = await conn.fetch_val(
        "UPDATE memberships SET role = :r WHERE group_id = :g AND user_id = :u RETURNING user_id",
        {"r": role, "g": group_id, "u": user_id},
    )
    return found is not None


async def set_hold_first_posts(conn: Connection, group_id: int, posts: int) -> None:
    await conn.execute(
        "UPDATE groups SET hold_first_posts = :n WHERE id = :id", {"n": posts, "id": group_id}
    )
