"""Helpers shared by query modules for SQL text that both dialects accept."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Along:
    """Columns for another module's query to carry (scalar subqueries, their parameters named
    apart), so that two reads cost one round trip: a reply's early pace check rides along
    with its topic's access check."""

    columns: str
    params: dict[str, Any]
    # Data-modifying CTEs (PostgreSQL) the statement runs too: "name AS (INSERT ...)".
    ctes: str = ""


def in_list(prefix: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """`(:p0, :p1, ...)` and its parameters, for `col IN (...)`; an empty list matches nothing."""
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    if not params:
        return "(NULL)", {}
    return "(" + ", ".join(f":{name}" for name in params) + ")", params
