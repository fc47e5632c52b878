"""Where uploaded files are kept: an interface, and the folder on disk that implements it.

The rest of the forum knows a stored file only by its key (random, never derived from what
the uploader named it), so an object store can replace the folder by implementing the same
four methods. A file is written in two steps: `begin` gives a writer for a temporary file
next to the final ones; `commit` moves it into place under a new key, `discard` removes it.
An upload that fails or is cut off is discarded, and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, Protocol, cast

from starlette.concurrency import run_in_threadpool

CHUNK = 64 * 1024
_PARTIAL = ".partial-"  # a temporary file's prefix: never a key (keys are hex)


class Storage(Protocol):
    def begin(self) -> BinaryIO:
        """A new temporary file, open for writing and reading back."""
        ...

    async def commit(self, partial: BinaryIO) -> str:
        """Keep the temporary file (closing it); its key."""
        ...

    def discard(self, partial: BinaryIO) -> None:
        """Close and remove a temporary file; harmless if already gone."""
        ...

    def read(self, key: str) -> AsyncIterator[bytes]:
        """The stored file's bytes, in chunks. FileNotFoundError if there is none."""
        ...

    async def delete(self, key: str) -> None:
        """Remove a stored file; harmless if already gone."""
        ...

    async def sweep(self, older_than: float) -> int:
        """Remove temporary files older than `older_than` seconds (left by a crash); how
        many."""
        ...


class FolderStorage:
    """Files in one folder on disk (settings.documents_dir), made on first use."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def begin(self) -> BinaryIO:
        self.folder.mkdir(parents=True, exist_ok=True)
        # Closed by commit or discard; named, so that commit can move it into place.
        partial = tempfile.NamedTemporaryFile(  # noqa: SIM115
            mode="w+b", dir=self.folder, prefix=_PARTIAL, delete=False
        )
        return cast(BinaryIO, partial)

    async def commit(self, partial: BinaryIO) -> str:
        key = secrets.token_hex(16)

        def keep() -> None:
            partial.flush()
            os.fsync(partial.fileno())
            partial.close()
            os.replace(partial.name, self.folder / key)

        await run_in_threadpool(keep)
        return key

    def discard(self, partial: BinaryIO) -> None:
        partial.close()
        Path(partial.name).unlink(missing_ok=True)

    def path(self, key: str) -> Path:
        if not key or not all(c in "0123456789abcdef" for c in key):
            raise FileNotFoundError(key)  # a key is only ever one this class made
        return self.folder / key

    async def read(self, key: str) -> AsyncIterator[bytes]:
        handle = await run_in_threadpool(open, self.path(key), "rb")
        try:
            while chunk := await run_in_threadpool(handle.read, CHUNK):
                yield chunk
        finally:
            handle.close()

    async def delete(self, key: str) -> None:
        await run_in_threadpool(self.path(key).unlink, missing_ok=True)

    async def sweep(self, older_than: float) -> int:
        def sweep_now() -> int:
            if not self.folder.is_dir():
                return 0
            cutoff, removed = time.time() - older_than, 0
            for partial in self.folder.glob(f"{_PARTIAL}*"):
                with contextlib.suppress(FileNotFoundError):
                    if partial.stat().st_mtime < cutoff:
                        partial.unlink()
                        removed += 1
            return removed

        return await run_in_threadpool(sweep_now)


async def save(storage: Storage, data: bytes) -> str:
    """Keep bytes made here (not an upload arriving): a temporary file, then its key;
    nothing is left behind if writing fails."""
    partial = storage.begin()
    try:
        await run_in_threadpool(partial.write, data)
        return await storage.commit(partial)
    except BaseException:
        storage.discard(partial)
        raise
