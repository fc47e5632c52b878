"""A group's documents: shared files and links, with their tags (migrations/0016)."""

from __future__ import annotations

from dataclasses import dataclass

from forum.db import Connection, Database

_SELECT = (
    "SELECT d.id, d.group_id, d.user_id, u.username, d.title, d.description, d.url,"
    " d.storage_key, d.filename, d.content_type, d.size_bytes, d.created_at"
    " FROM documents d JOIN users u ON u.id = d.user_id"
)


@dataclass(frozen=True)
class Document:
    id: int
    group_id: int
    user_id: int
    username: str
    title: str
    description: str
    url: str | None  # a link; else a stored file:
    storage_key: str | None
    filename: str | None
    content_type: str | None
    size_bytes: int | None
    created_at: float
    tags: tuple[str, ...] = ()

    @property
    def is_link(self) -> bool:
        return self.url is not None


@dataclass(frozen=True)
class NewDocument:
    group_id: int
    user_id: int
    title: str
    description: str
    tags: tuple[str, ...]
    url: str | None = None
    storage_key: str | None = None
    filename: str | None = None
    content_type: str | None = None
    size_bytes: int | None = None


async def insert_document(conn: Connection, new: NewDocument, now: float) -> int:
    document_id = int(
        await conn.fetch_val(
            "INSERT INTO documents (group_id, user_id, title, description, url, storage_key,"
            " filename, content_type, size_bytes, created_at)"
            " VALUES (:g, :u, :title, :description, :url, :key, :filename, :type, :size, :now)"
            " RETURNING id",
            {
                "g": new.group_id,
                "u": new.user_id,
                "title": new.title,
                "description": new.description,
                "url": new.url,
                "key": new.storage_key,
                "filename": new.filename,
                "type": new.content_type,
                "size": new.size_bytes,
                "now": now,
            },
        )
    )
    for tag in new.tags:
        await conn.execute(
            "INSERT INTO document_tags (document_id, tag) VALUES (:d, :t)",
            {"d": document_id, "t": tag},
        )
    return document_id


async def _with_tags(conn: Connection | Database, rows: list[Document]) -> list[Document]:
    if not rows:
        return rows
    ids = {d.id: d for d in rows}
    marks = ", ".join(f":d{i}" for i in range(len(ids)))
    tagged = await conn.fetch_all(
        f"SELECT document_id, tag FROM document_tags WHERE document_id IN ({marks}) ORDER BY tag",
        {f"d{i}": document_id for i, document_id in enumerate(ids)},
    )
    tags: dict[int, list[str]] = {}
    for row in tagged:
        tags.setdefault(int(row["document_id"]), []).append(str(row["tag"]))
    return [_tagged(d, tuple(tags.get(d.id, ()))) for d in rows]


def _tagged(document: Document, tags: tuple[str, ...]) -> Document:
    return Document(**{**document.__dict__, "tags": tags})


async def get_document(
    conn: Connection | Database, group_id: int, document_id: int
) -> Document | None:
    row = await conn.fetch_one(
        f"{_SELECT} WHERE d.id = :id AND d.group_id = :g", {"id": document_id, "g": group_id}
    )
    if row is None:
        return None
    return (await _with_tags(conn, [Document(**row)]))[0]


SORTS = {"date": "d.created_at DESC, d.id DESC", "title": "lower(d.title), d.id"}


async def list_documents(
    conn: Connection | Database,
    group_id: int,
    *,
    tag: str | None,
    sort: str,
    limit: int,
    offset: int,
) -> list[Document]:
    """One page of the group's documents, with `tag` if given, in the order `sort` names."""
    where = "d.group_id = :g"
    params: dict[str, object] = {"g": group_id, "limit": limit, "offset": offset}
    if tag is not None:
        where += (
            " AND EXISTS (SELECT 1 FROM document_tags t"
            " WHERE t.document_id = d.id AND t.tag = :tag)"
        )
        params["tag"] = tag
    rows = await conn.fetch_all(
        f"{_SELECT} WHERE {where} ORDER BY {SORTS[sort]} LIMIT :limit OFFSET :offset", params
    )
    return await _with_tags(conn, [Document(**row) for row in rows])


async def group_tags(conn: Connection | Database, group_id: int) -> list[tuple[str, int]]:
    """The tags the group's documents carry, with how many carry each, most used first."""
    rows = await conn.fetch_all(
        "SELECT t.tag, count(*) AS n FROM document_tags t JOIN documents d ON d.id = t.document_id"
        " WHERE d.group_id = :g GROUP BY t.tag ORDER BY count(*) DESC, t.tag LIMIT 50",
        {"g": group_id},
    )
    return [(str(r["tag"]), int(r["n"])) for r in rows]


async def delete_document(conn: Connection, document_id: int) -> None:
    await conn.execute("DELETE FROM documents WHERE id = :id", {"id": document_id})
