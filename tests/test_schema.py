"""SQLite and PostgreSQL migrate to one schema, and realtime's tables are the ones it defines.

A fresh database of each dialect is migrated by the real `migrate()`, then described table by
table: columns (type family, nullability, default, identity, collation), primary key, indexes
(name, keys, unique, partial WHERE), unique constraints, foreign keys and CHECK constraints.
SQLite is read through PRAGMA table_info / index_list / index_xinfo / foreign_key_list and the
SQL sqlite_master keeps (collations and CHECKs are only there); PostgreSQL through
information_schema and pg_catalog. Any difference fails, named by table and column.

Type families, declared SQLite type / PostgreSQL type:

    integer   INTEGER, INT, BIGINT, SMALLINT  /  smallint, integer, bigint
              (SQLite keeps 64 bits in any of them; PostgreSQL's integer keeps 32)
    text      TEXT, VARCHAR                   /  text, character varying
    real      REAL, DOUBLE PRECISION, FLOAT   /  real, double precision
    boolean   BOOLEAN                         /  boolean
              (SQLite stores 0 and 1; the app reads either as a bool)
    blob      BLOB                            /  bytea

A type outside this table fails as unmapped, so a new one is a decision, not an accident.

Ids: a SQLite INTEGER PRIMARY KEY is the rowid, which numbers a row given no id and keeps the id
it is given; its PostgreSQL counterpart may be an identity (users.id) or a plain integer key
(schema_migrations.version), and SQLite cannot say which is meant, so across dialects a rowid
matches either. An identity on both sides must match: AUTOINCREMENT on SQLite, GENERATED ...
AS IDENTITY (or serial) on PostgreSQL. Accepted, and not fixable without rebuilding users: a
rowid may hand out again the id of the highest row after it is deleted, where an identity
never does; the forum deletes such rows only from sessions and watched_words, whose ids
nothing keeps.

Expressions (CHECKs, index keys and WHERE clauses, defaults) are compared after normalising
PostgreSQL's rendering: casts dropped (`'x'::text`), `= ANY (ARRAY[...])` read as `IN (...)`,
grouping parentheses around a single comparison dropped, case folded outside string literals.
Column order is not compared: SQLite can only add a column at the end.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from forum.db import Connection, Database, Row, open_database
from forum.migrate import migrate, migration_files
from realtime import schema as realtime_schema
from tests.conftest import create_pg_database, drop_pg_database

DIALECTS = ("sqlite", "postgresql")

# --- what a schema is made of ---------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    type: str  # the family, see the module docstring
    not_null: bool
    default: str | None  # normalised SQL
    identity: str  # "identity", "rowid" (SQLite without AUTOINCREMENT) or ""
    collation: str  # "default" for the database's own


@dataclass(frozen=True)
class Index:
    keys: tuple[str, ...]  # normalised expressions, " desc" where descending
    unique: bool
    where: str | None

    def __str__(self) -> str:
        where = "" if self.where is None else f" where {self.where}"
        return f"{'unique ' if self.unique else ''}({', '.join(self.keys)}){where}"


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]
    table: str
    references: tuple[str, ...]
    on_delete: str
    on_update: str

    def __str__(self) -> str:
        return (
            f"({', '.join(self.columns)}) -> {self.table} ({', '.join(self.references)})"
            f" on delete {self.on_delete} on update {self.on_update}"
        )


@dataclass
class Table:
    columns: dict[str, Column] = field(default_factory=dict)
    primary_key: tuple[str, ...] = ()
    indexes: dict[str, Index] = field(default_factory=dict)  # CREATE INDEX, by name
    unique: set[tuple[str, ...]] = field(default_factory=set)  # UNIQUE constraints
    foreign_keys: set[ForeignKey] = field(default_factory=set)
    checks: set[str] = field(default_factory=set)


Schema = dict[str, Table]

_SQLITE_FAMILIES = {
    "INTEGER": "integer",
    "INT": "integer",
    "BIGINT": "integer",
    "SMALLINT": "integer",
    "TEXT": "text",
    "VARCHAR": "text",
    "REAL": "real",
    "DOUBLE PRECISION": "real",
    "DOUBLE": "real",
    "FLOAT": "real",
    "BOOLEAN": "boolean",
    "BLOB": "blob",
}
_POSTGRESQL_FAMILIES = {
    "smallint": "integer",
    "integer": "integer",
    "bigint": "integer",
    "text": "text",
    "character varying": "text",
    "real": "real",
    "double precision": "real",
    "boolean": "boolean",
    "bytea": "blob",
}


def _family(families: dict[str, str], declared: str) -> str:
    base = re.sub(r"\s*\(.*\)$", "", declared.strip())  # VARCHAR(20) -> VARCHAR
    return families.get(base, f"unmapped {declared!r}")


# --- SQL text: tokens and normal forms ------------------------------------------------------

_TOKEN = re.compile(
    r"""\s+|--[^\n]*|/\*.*?\*/
    |(?P<string>'(?:[^']|'')*')
    |(?P<quoted>"(?:[^"]|"")*"|`[^`]*`)
    |(?P<number>\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)
    |(?P<word>[A-Za-z_][A-Za-z0-9_$]*)
    |(?P<op>::|<>|!=|<=|>=|\|\||[-+*/%=<>(),.;\[\]])""",
    re.VERBOSE | re.DOTALL,
)


def tokens(sql: str) -> list[str]:
    """Words and quoted identifiers lower-cased and unquoted; string literals kept as written."""
    out: list[str] = []
    for match in _TOKEN.finditer(sql):
        kind = match.lastgroup
        text = match.group()
        if kind is None:
            continue  # whitespace or a comment
        if kind == "quoted":
            out.append(text[1:-1].replace('""', '"').lower())
        elif kind == "string":
            out.append(text)
        else:
            out.append(text.lower())
    return out


_TYPE_WORDS = {
    "text",
    "integer",
    "int",
    "bigint",
    "smallint",
    "boolean",
    "double",
    "precision",
    "real",
    "numeric",
    "character",
    "varying",
    "bytea",
}
# Words before "(" that are not function names: the parenthesis groups rather than calls.
_OPERATOR_WORDS = {"and", "or", "not", "is", "like", "between", "when", "then", "else", "where"}


def _drop_casts(toks: list[str]) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(toks):
        if toks[i] == "::":
            i += 1
            while i < len(toks) and toks[i] in _TYPE_WORDS:
                i += 1
            if toks[i : i + 2] == ["[", "]"]:
                i += 2
            continue
        out.append(toks[i])
        i += 1
    return out


def _any_array_as_in(toks: list[str]) -> list[str]:
    # PostgreSQL renders `x IN ('a', 'b')` as `x = ANY (ARRAY['a', 'b'])`.
    out: list[str] = []
    i = 0
    while i < len(toks):
        if toks[i] in ("=", "<>") and toks[i + 1 : i + 5] in (
            ["any", "(", "array", "["],
            ["all", "(", "array", "["],
        ):
            close = toks.index("]", i + 5)
            assert toks[close + 1] == ")", toks
            out += ["in" if toks[i] == "=" else "not in", "(", *toks[i + 5 : close], ")"]
            i = close + 2
            continue
        out.append(toks[i])
        i += 1
    return out


def _matching(toks: list[str], start: int) -> int:
    depth = 0
    for i in range(start, len(toks)):
        depth += {"(": 1, ")": -1}.get(toks[i], 0)
        if depth == 0:
            return i
    raise ValueError(f"unbalanced parentheses in {' '.join(toks)}")


def _drop_grouping(toks: list[str]) -> list[str]:
    """Drop grouping parentheses around an atom or a single comparison (PostgreSQL adds them
    everywhere), and around the whole expression; keep those that order AND and OR."""
    changed = True
    while changed:
        changed = False
        for i, tok in enumerate(toks):
            if tok != "(":
                continue
            before = toks[i - 1] if i else ""
            calls = re.fullmatch(r"[a-z_][a-z0-9_$]*", before) and before not in _OPERATOR_WORDS
            if calls or before in ("in", "not in"):
                continue
            close = _matching(toks, i)
            inner, depth, logical = toks[i + 1 : close], 0, False
            for t in inner:
                depth += {"(": 1, ")": -1}.get(t, 0)
                logical = logical or (depth == 0 and t in ("and", "or"))
            whole = i == 0 and close == len(toks) - 1
            if whole or not logical:
                toks = toks[:i] + inner + toks[close + 1 :]
                changed = True
                break
    return toks


def _join(toks: list[str]) -> str:
    """Tokens as readable SQL: `lower(x)`, `x in ('a', 'b')`, `(a or b) and c`."""
    text = ""
    for i, tok in enumerate(toks):
        before = toks[i - 1] if i else ""
        if tok == "(":
            spaced = before in ("in", "not in", ",") or before in _OPERATOR_WORDS
        else:
            spaced = tok not in (")", ",", "[", "]") and before not in ("(", "[")
        text += (" " if spaced and i else "") + tok
    return text


def normalise(sql: str) -> str:
    """One text for an expression however the dialect rendered it."""
    return _join(_drop_grouping(_any_array_as_in(_drop_casts(tokens(sql)))))


def _split_top(toks: list[str]) -> list[list[str]]:
    """Split at the commas outside parentheses."""
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in toks:
        depth += {"(": 1, ")": -1}.get(tok, 0)
        if tok == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return parts


def _normal_default(default: str | None, family: str) -> str | None:
    if default is None:
        return None
    text = normalise(default)
    if family == "boolean":
        return {"0": "false", "1": "true"}.get(text, text)
    if family in ("integer", "real") and re.fullmatch(r"-?\d+(\.\d*)?", text):
        return repr(float(text)) if family == "real" else str(int(float(text)))
    return text


# --- SQLite ---------------------------------------------------------------------------------


_TABLE_CONSTRAINTS = {"constraint", "primary", "unique", "check", "foreign"}


@dataclass
class _SqliteTableText:
    """What only the CREATE TABLE text says: collations, CHECKs, AUTOINCREMENT."""

    collations: dict[str, str]
    checks: set[str]
    autoincrement: set[str]


def _sqlite_table_text(sql: str) -> _SqliteTableText:
    toks = tokens(sql)
    open_at = toks.index("(")
    body = toks[open_at + 1 : _matching(toks, open_at)]
    parsed = _SqliteTableText({}, set(), set())
    for part in _split_top(body):
        column = None if part[0] in _TABLE_CONSTRAINTS else part[0]  # else the column's name
        for j, tok in enumerate(part):
            if tok == "check" and part[j + 1] == "(":
                close = _matching(part, j + 1)
                parsed.checks.add(_join(_drop_grouping(part[j + 2 : close])))
            elif column is not None and tok == "collate":
                parsed.collations[column] = part[j + 1]
            elif column is not None and tok == "autoincrement":
                parsed.autoincrement.add(column)
    return parsed


def _sqlite_index_text(sql: str) -> tuple[list[str], str | None]:
    """The key expressions (without ASC/DESC) and the WHERE of a CREATE INDEX."""
    toks = tokens(sql)
    open_at = toks.index("(")
    close = _matching(toks, open_at)
    keys = []
    for part in _split_top(toks[open_at + 1 : close]):
        if part[-1] in ("asc", "desc"):
            part = part[:-1]
        keys.append(_join(_drop_grouping(part)))
    rest = [t for t in toks[close + 1 :] if t != ";"]
    where = _join(_drop_grouping(rest[1:])) if rest[:1] == ["where"] else None
    return keys, where


def _sqlite_key(key: Row) -> str:
    """A column of a UNIQUE constraint, with its collation where not the default."""
    collation = str(key["coll"]).lower()
    return str(key["name"]) + ("" if collation == "binary" else f" collate {collation}")


async def describe_sqlite(conn: Connection) -> Schema:
    schema: Schema = {}
    rows = await conn.fetch_all(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    )
    for row in rows:
        name, text = row["name"], _sqlite_table_text(row["sql"])
        table = schema[name] = Table()
        info = await conn.fetch_all("SELECT * FROM pragma_table_info(:t)", {"t": name})
        pk = [c for c in sorted(info, key=lambda c: c["pk"]) if c["pk"]]
        table.primary_key = tuple(c["name"] for c in pk)
        without_rowid = re.search(r"\)\s*without\s+rowid\s*;?\s*$", row["sql"], re.I)
        rowid = (
            len(pk) == 1 and pk[0]["type"].upper() == "INTEGER" and not without_rowid
        )  # the column IS the rowid: never NULL, numbered by SQLite
        for col in info:
            family = _family(_SQLITE_FAMILIES, col["type"].upper())
            is_rowid = rowid and col["pk"] == 1
            identity = ""
            if is_rowid:
                identity = "identity" if col["name"].lower() in text.autoincrement else "rowid"
            collation = text.collations.get(col["name"].lower(), "binary")
            table.columns[col["name"]] = Column(
                type=family,
                not_null=bool(col["notnull"]) or is_rowid,
                default=_normal_default(col["dflt_value"], family),
                identity=identity,
                collation="default" if collation == "binary" else collation,
            )
        table.checks = text.checks
        for index in await conn.fetch_all("SELECT * FROM pragma_index_list(:t)", {"t": name}):
            if index["origin"] == "pk":
                continue  # the primary key, above
            keys = [
                k
                for k in await conn.fetch_all(
                    "SELECT * FROM pragma_index_xinfo(:i) ORDER BY seqno", {"i": index["name"]}
                )
                if k["key"]
            ]
            if index["origin"] == "u":  # a UNIQUE constraint's own index
                table.unique.add(tuple(_sqlite_key(k) for k in keys))
                continue
            sql = await conn.fetch_val(
                "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = :i",
                {"i": index["name"]},
            )
            expressions, where = _sqlite_index_text(sql)
            table.indexes[index["name"]] = Index(
                keys=tuple(
                    expr + (" desc" if k["desc"] else "")
                    for expr, k in zip(expressions, keys, strict=True)
                ),
                unique=bool(index["unique"]),
                where=where,
            )
        fks: dict[int, list[Row]] = {}
        for fk in await conn.fetch_all(
            "SELECT * FROM pragma_foreign_key_list(:t) ORDER BY id, seq", {"t": name}
        ):
            fks.setdefault(fk["id"], []).append(fk)
        for parts in fks.values():
            table.foreign_keys.add(
                ForeignKey(
                    columns=tuple(p["from"] for p in parts),
                    table=parts[0]["table"],
                    references=tuple(p["to"] for p in parts),
                    on_delete=parts[0]["on_delete"].lower(),
                    on_update=parts[0]["on_update"].lower(),
                )
            )
    return schema


# --- PostgreSQL -----------------------------------------------------------------------------

_PG_ACTIONS = {
    "a": "no action",
    "r": "restrict",
    "c": "cascade",
    "n": "set null",
    "d": "set default",
}


async def describe_postgresql(conn: Connection, namespace: str = "public") -> Schema:
    schema: Schema = {}
    where = {"s": namespace}
    for row in await conn.fetch_all(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = :s AND table_type = 'BASE TABLE'",
        where,
    ):
        schema[row["table_name"]] = Table()
    for col in await conn.fetch_all(
        "SELECT table_name, column_name, data_type, is_nullable, column_default, is_identity,"
        " collation_name FROM information_schema.columns WHERE table_schema = :s",
        where,
    ):
        family = _family(_POSTGRESQL_FAMILIES, col["data_type"])
        default = col["column_default"]
        identity = col["is_identity"] == "YES"
        if default is not None and default.startswith("nextval("):  # serial: an identity too
            default, identity = None, True
        schema[col["table_name"]].columns[col["column_name"]] = Column(
            type=family,
            not_null=col["is_nullable"] == "NO",
            default=_normal_default(default, family),
            identity="identity" if identity else "",
            collation=col["collation_name"] or "default",
        )
    for con in await conn.fetch_all(
        "SELECT cl.relname AS table_name, con.contype::text AS kind,"
        " pg_get_constraintdef(con.oid) AS definition,"
        " ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(n, i)"
        "   JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.n"
        "   ORDER BY k.i) AS columns,"
        " ref.relname AS ref_table,"
        " ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(n, i)"
        "   JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.n"
        "   ORDER BY k.i) AS ref_columns,"
        " con.confdeltype::text AS on_delete, con.confupdtype::text AS on_update"
        " FROM pg_constraint con JOIN pg_class cl ON cl.oid = con.conrelid"
        " JOIN pg_namespace n ON n.oid = cl.relnamespace"
        " LEFT JOIN pg_class ref ON ref.oid = con.confrelid"
        " WHERE n.nspname = :s AND con.contype IN ('p', 'u', 'f', 'c')",
        where,
    ):
        table = schema[con["table_name"]]
        columns = tuple(con["columns"])
        if con["kind"] == "p":
            table.primary_key = columns
        elif con["kind"] == "u":
            table.unique.add(columns)
        elif con["kind"] == "f":
            table.foreign_keys.add(
                ForeignKey(
                    columns=columns,
                    table=con["ref_table"],
                    references=tuple(con["ref_columns"]),
                    on_delete=_PG_ACTIONS[con["on_delete"]],
                    on_update=_PG_ACTIONS[con["on_update"]],
                )
            )
        else:
            definition = con["definition"]
            assert definition.startswith("CHECK "), definition
            table.checks.add(normalise(definition.removeprefix("CHECK ")))
    for index in await conn.fetch_all(
        "SELECT cl.relname AS table_name, ic.relname AS name, i.indisunique AS is_unique,"
        " ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true)"
        "   FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS keys,"
        " ARRAY(SELECT (i.indoption[k - 1] & 1) = 1"
        "   FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS descending,"
        " pg_get_expr(i.indpred, i.indrelid, true) AS predicate"
        " FROM pg_index i JOIN pg_class cl ON cl.oid = i.indrelid"
        " JOIN pg_class ic ON ic.oid = i.indexrelid"
        " JOIN pg_namespace n ON n.oid = cl.relnamespace"
        " WHERE n.nspname = :s AND NOT EXISTS (SELECT 1 FROM pg_constraint con"
        "   WHERE con.conindid = i.indexrelid AND con.contype IN ('p', 'u', 'x'))",
        where,
    ):
        schema[index["table_name"]].indexes[index["name"]] = Index(
            keys=tuple(
                normalise(key) + (" desc" if desc else "")
                for key, desc in zip(index["keys"], index["descending"], strict=True)
            ),
            unique=index["is_unique"],
            where=None if index["predicate"] is None else normalise(index["predicate"]),
        )
    return schema


async def describe(conn: Connection, namespace: str = "public") -> Schema:
    if conn.dialect == "sqlite":
        return await describe_sqlite(conn)
    return await describe_postgresql(conn, namespace)


# --- comparing ------------------------------------------------------------------------------


def _keys(keys: tuple[str, ...]) -> str:
    return f"({', '.join(keys)})"


def compare(a: Schema, b: Schema, names: tuple[str, str], *, same_dialect: bool) -> list[str]:
    """Every difference between two schemas, one line each, naming the table (and column).
    Across dialects a rowid counts as an identity (see the module docstring)."""
    na, nb = names
    found: list[str] = []

    def one_side(what: str, in_a: bool) -> str:
        return f"{what} only on {na if in_a else nb}"

    for name in sorted(a.keys() | b.keys()):
        if name not in b or name not in a:
            found.append(one_side(f"table {name}", name in a))
            continue
        ta, tb = a[name], b[name]
        for col in sorted(ta.columns.keys() | tb.columns.keys()):
            if col not in tb.columns or col not in ta.columns:
                found.append(one_side(f"{name}.{col}: column", col in ta.columns))
                continue
            ca, cb = ta.columns[col], tb.columns[col]
            for attr in ("type", "not_null", "default", "identity", "collation"):
                va, vb = getattr(ca, attr), getattr(cb, attr)
                if attr == "identity" and not same_dialect and "rowid" in (va, vb):
                    continue  # SQLite's one integer key: numbered when not given, or given
                if va != vb:
                    found.append(f"{name}.{col}: {attr} {va!r} on {na}, {vb!r} on {nb}")
        if ta.primary_key != tb.primary_key:
            found.append(
                f"{name}: primary key {_keys(ta.primary_key)} on {na},"
                f" {_keys(tb.primary_key)} on {nb}"
            )
        for index in sorted(ta.indexes.keys() | tb.indexes.keys()):
            if index not in tb.indexes or index not in ta.indexes:
                found.append(one_side(f"{name}: index {index}", index in ta.indexes))
            elif ta.indexes[index] != tb.indexes[index]:
                found.append(
                    f"{name}: index {index} is {ta.indexes[index]} on {na},"
                    f" {tb.indexes[index]} on {nb}"
                )
        for keys in sorted(ta.unique ^ tb.unique):
            found.append(one_side(f"{name}: unique {_keys(keys)}", keys in ta.unique))
        for fk in sorted(ta.foreign_keys ^ tb.foreign_keys, key=str):
            found.append(one_side(f"{name}: foreign key {fk}", fk in ta.foreign_keys))
        for check in sorted(ta.checks ^ tb.checks):
            found.append(one_side(f"{name}: check ({check})", check in ta.checks))
    return found


# Differences one dialect cannot express or that cannot be changed on a database already made;
# each must still be found (a stale entry fails too), so this list stays the truth.
ACCEPTED: dict[str, str] = {
    # SQLite makes these columns case-insensitive (COLLATE NOCASE, with the UNIQUE index that
    # goes with it); PostgreSQL has no such collation and keeps the same rule as a unique
    # index on lower(column), which SQLite has too since 0004. Removing the collation would
    # mean rebuilding users, which every other table references: not possible in a migration
    # with foreign keys on. Queries compare lower() on both, never the collation.
    "users.username: collation 'nocase' on sqlite, 'default' on postgresql": "case-insensitive",
    "users.email: collation 'nocase' on sqlite, 'default' on postgresql": "case-insensitive",
    "watched_words.word: collation 'nocase' on sqlite, 'default' on postgresql": "as users",
    "users: unique (username collate nocase) only on sqlite": "case-insensitive",
    "users: unique (email collate nocase) only on sqlite": "case-insensitive",
    "watched_words: unique (word collate nocase) only on sqlite": "as users",
    # Full-text search is each dialect's own (migrations/0010): a tsvector column and GIN
    # indexes on PostgreSQL, FTS5 tables (and the tables FTS5 keeps them in) on SQLite.
    # tests/test_search.py checks both find the same posts.
    "posts.search: column only on postgresql": "full-text search",
    "posts: index posts_search only on postgresql": "full-text search",
    "topics: index topics_search only on postgresql": "full-text search",
    "table search_posts only on sqlite": "full-text search",
    "table search_posts_config only on sqlite": "full-text search",
    "table search_posts_data only on sqlite": "full-text search",
    "table search_posts_docsize only on sqlite": "full-text search",
    "table search_posts_idx only on sqlite": "full-text search",
    "table search_topics only on sqlite": "full-text search",
    "table search_topics_config only on sqlite": "full-text search",
    "table search_topics_data only on sqlite": "full-text search",
    "table search_topics_docsize only on sqlite": "full-text search",
    "table search_topics_idx only on sqlite": "full-text search",
}


# --- databases --------------------------------------------------------------------------------


class Databases:
    """Fresh databases for this module's tests, each closed (and dropped) at the end."""

    def __init__(self, tmp: Path) -> None:
        self._tmp = tmp
        self._migrated: dict[str, Schema] = {}
        self.opened: list[Database] = []
        self.pg_urls: list[str] = []

    async def fresh(self, dialect: str) -> Database:
        if dialect == "sqlite":
            url = f"sqlite:///{self._tmp / f'db{len(self.opened)}.db'}"
        else:
            url = await create_pg_database()  # skips, or fails under CI=true, without one
            self.pg_urls.append(url)
        db = await open_database(url)
        self.opened.append(db)
        return db

    async def migrated(self, dialect: str) -> Schema:
        """The schema a fresh database of `dialect` has once migrated (made once)."""
        if dialect not in self._migrated:
            db = await self.fresh(dialect)
            await migrate(db)
            self._migrated[dialect] = await describe(db)
        return self._migrated[dialect]


@pytest_asyncio.fixture(scope="module")
async def databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Databases]:
    made = Databases(tmp_path_factory.mktemp("schema"))
    yield made
    for db in made.opened:
        await db.close()
    for url in made.pg_urls:
        await drop_pg_database(url)


# --- the tests --------------------------------------------------------------------------------


async def test_sqlite_and_postgresql_migrate_to_the_same_schema(databases: Databases) -> None:
    sqlite = await databases.migrated("sqlite")
    postgresql = await databases.migrated("postgresql")
    found = compare(sqlite, postgresql, ("sqlite", "postgresql"), same_dialect=False)
    unexpected = [line for line in found if line not in ACCEPTED]
    stale = [line for line in ACCEPTED if line not in found]
    assert not unexpected, "the dialects' schemas differ:\n  " + "\n  ".join(unexpected)
    assert not stale, "accepted differences no longer found (remove them):\n  " + "\n  ".join(stale)
    assert len(sqlite) > 10  # the comparison saw the real schema


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_realtime_defines_the_event_log_tables_a_migrated_forum_has(
    dialect: str, databases: Databases
) -> None:
    db = await databases.fresh(dialect)
    async with db.transaction() as conn:
        await realtime_schema.create_tables(conn)
    own = await describe(db)
    assert set(own) == set(realtime_schema.TABLES)
    migrated = await databases.migrated(dialect)
    forum = {name: migrated[name] for name in realtime_schema.TABLES}
    found = compare(own, forum, ("realtime", "migrated"), same_dialect=True)
    assert not found, "realtime/schema.py and the migrations differ:\n  " + "\n  ".join(found)


@pytest.mark.parametrize("dialect", DIALECTS)
async def test_a_database_made_before_the_alignment_upgrades_to_the_same_schema(
    dialect: str, databases: Databases
) -> None:
    db = await databases.fresh(dialect)
    assert await migrate(db, target=3) == [1, 2, 3]
    yes, no = ("1", "0") if dialect == "sqlite" else ("TRUE", "FALSE")
    async with db.transaction() as conn:
        await conn.execute(
            "INSERT INTO users (username, email, password_hash, created_at)"
            " VALUES ('Ana', 'ana@example.org', 'x', 0)"
        )
        await conn.execute("INSERT INTO groups (slug, name, created_at) VALUES ('g', 'G', 0)")
        for title, closed, pinned in (("a", yes, no), ("b", no, yes), ("c", no, no)):
            await conn.execute(
                "INSERT INTO topics (group_id, title, slug, user_id, created_at, bumped_at,"
                f" closed, pinned) VALUES (1, '{title}', '{title}', 1, 0, 0, {closed}, {pinned})"
            )
        await conn.execute("INSERT INTO channel_heads (channel, last_id) VALUES ('topic:1', 7)")
    later = [v for v, _, _ in migration_files(dialect) if v > 3]
    assert await migrate(db) == later
    fresh = await databases.migrated(dialect)
    found = compare(await describe(db), fresh, ("upgraded", "fresh"), same_dialect=True)
    assert not found, "an upgraded database differs from a fresh one:\n  " + "\n  ".join(found)
    rows = await db.fetch_all("SELECT title, closed, pinned FROM topics ORDER BY title")
    # The app reads these with bool(): SQLite keeps 0 and 1, PostgreSQL gives booleans.
    assert [(r["title"], bool(r["closed"]), bool(r["pinned"])) for r in rows] == [
        ("a", True, False),
        ("b", False, True),
        ("c", False, False),
    ]
    assert await db.fetch_val("SELECT last_id FROM channel_heads WHERE channel = 'topic:1'") == 7
    shown = await db.fetch_all("SELECT title FROM topics WHERE pinned ORDER BY title")
    assert [r["title"] for r in shown] == ["b"]  # as forum/queries/topics.py asks for them


async def test_the_comparison_names_each_difference(databases: Databases) -> None:
    """The checker is not vacuous: small tables that differ in each way are told apart."""
    sqlite, postgresql = await databases.fresh("sqlite"), await databases.fresh("postgresql")
    async with sqlite.transaction() as conn:
        await conn.execute("CREATE TABLE p (id INTEGER PRIMARY KEY, k TEXT NOT NULL)")
        await conn.execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, flag INTEGER NOT NULL DEFAULT 0,"
            " note TEXT, p_id INTEGER REFERENCES p (id) ON DELETE CASCADE,"
            " n INTEGER CHECK (n > 0), UNIQUE (note))"
        )
        await conn.execute("CREATE INDEX t_note ON t (note) WHERE note IS NOT NULL")
    async with postgresql.transaction() as conn:
        await conn.execute(
            "CREATE TABLE p (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, k TEXT NOT NULL)"
        )
        await conn.execute(
            "CREATE TABLE t (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " flag BOOLEAN NOT NULL DEFAULT FALSE, note TEXT NOT NULL DEFAULT '',"
            " p_id BIGINT REFERENCES p (id), n INTEGER CHECK (n >= 0))"
        )
        await conn.execute("CREATE INDEX t_note ON t (note DESC)")
    found = compare(
        {k: v for k, v in (await describe(sqlite)).items() if k in ("p", "t")},
        {k: v for k, v in (await describe(postgresql)).items() if k in ("p", "t")},
        ("sqlite", "postgresql"),
        same_dialect=False,
    )
    assert found == [
        "t.flag: type 'integer' on sqlite, 'boolean' on postgresql",
        "t.flag: default '0' on sqlite, 'false' on postgresql",
        "t.note: not_null False on sqlite, True on postgresql",
        "t.note: default None on sqlite, \"''\" on postgresql",
        "t: index t_note is (note) where note is not null on sqlite, (note desc) on postgresql",
        "t: unique (note) only on sqlite",
        "t: foreign key (p_id) -> p (id) on delete cascade on update no action only on sqlite",
        "t: foreign key (p_id) -> p (id) on delete no action on update no action"
        " only on postgresql",
        "t: check (n > 0) only on sqlite",
        "t: check (n >= 0) only on postgresql",
    ]


def test_postgresql_renderings_read_as_the_sql_written() -> None:
    assert normalise("((role = ANY (ARRAY['member'::text, 'moderator'::text])))") == normalise(
        "role IN ('member', 'moderator')"
    )
    assert normalise("(kind <> 'queued'::text)") == normalise("kind <> 'queued'")
    assert normalise("(0)::double precision") == "0"
    assert normalise("((a > 0) AND (b > 0))") == normalise("a > 0 AND b > 0")
    assert normalise("((a OR b) AND c)") != normalise("a OR b AND c")
    assert normalise("lower(username)") == "lower(username)"
