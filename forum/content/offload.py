"""Where the costly content work runs: markdown and the identifiable-data scan of a long text
must not stall the event loop, where every other request and live socket is served.

Short texts (most posts) are handled inline: a thread hand-off would cost more than the work.
Long ones go to one dedicated thread, so however many arrive at once they queue there and the
loop keeps its turn (Python switches threads every 5 ms). Callers check who is writing, the
size and the pace first, so only an allowed author's allowed text ever gets here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")

# Characters up to which the work is done on the loop. Set when markdown cost about a
# millisecond per KB (markdown-it-py); pyromark is about 0.2 ms per KB for ordinary posts
# (bench/cook.py), so this could rise: measured in docs/PERFORMANCE.md, "Write path, issue 9".
INLINE_CHARS = 2048

# One thread for the whole process: cooking is CPU-bound and holds the GIL, so more threads
# would not run it faster, only take more turns from the loop.
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="forum-content")


def is_inline(size: int) -> bool:
    """Whether work on `size` characters of text is done on the loop (off_the_loop)."""
    return size <= INLINE_CHARS


async def off_the_loop(size: int, work: Callable[[], T]) -> T:
    """`work()`, inline when `size` (characters of text it handles) is small, else on the
    content thread."""
    if is_inline(size):
        return work()
    return await asyncio.get_running_loop().run_in_executor(_worker, work)
