"""The time every action and check reads: one clock, handed in, so tests can move it.

Actions never call time.time() themselves: a pace window, a slow mode, a silence or a session
ends when the forum's clock says so, and a test moves that clock instead of sleeping.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch, as time.time()."""
        ...


class SystemClock:
    """The wall clock: what a running forum uses."""

    def now(self) -> float:
        return time.time()
