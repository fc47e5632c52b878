"""Helpers shared by query modules for SQL text that both dialects accept."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any


def in_list(prefix: str, values: Iterable[Any]) -> tuple[str, dict[str, Any]]:
    """`(:p0, :p1, ...)` and its parameters, for `col IN (...)`; an empty list matches nothing."""
    params = {f"{prefix}{i}": v for i, v in enumerate(values)}
    if not params:
        return "(NULL)", {}
    return "(" + ", ".join(f":{name}" for name in params) + ")", params
