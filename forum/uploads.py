"""Reading an upload: a multipart/form-data body with one file, written straight into the
storage's temporary file (forum/storage.py) as it arrives, never held in memory.

As strict as forms.read_input for everything but the file: a size limit counted on the bytes
received (a declared length over it is refused before any is read), fields in strict UTF-8,
few and small fields, one file, NUL refused, and the CSRF check. When anything fails, the
request is cut off or the handler raises later, the temporary file is discarded: an upload
that does not become a document leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, BinaryIO, cast

import python_multipart
from python_multipart.exceptions import FormParserError
from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from forum.auth import Auth, check_csrf
from forum.errors import BadRequest, Forbidden, PayloadTooLarge, UnsupportedMediaType
from forum.forms import Input, field_value, refuse_nul
from forum.storage import Storage

MAX_FIELDS = 20
MAX_FIELD_BYTES = 64 * 1024
MAX_HEADER_BYTES = 8 * 1024
_WRITE_BATCH = 1024 * 1024
# Room for the fields and the multipart framing beside the file itself.
_FRAMING = 256 * 1024


@dataclass
class Upload:
    """The form's fields, and the file if one was chosen (an empty file input: none)."""

    fields: Input
    file: BinaryIO | None
    filename: str
    size: int


def too_large(limit: int) -> PayloadTooLarge:
    size = f"{limit // (1024 * 1024)} MB" if limit >= 1024 * 1024 else f"{limit // 1024} KB"
    return PayloadTooLarge(f"The file is larger than {size}, the most that can be uploaded here.")


class _Reader:
    def __init__(self, storage: Storage, limit: int) -> None:
        self.storage, self.limit = storage, limit
        self.fields: dict[str, list[str]] = {}
        self.file: BinaryIO | None = None
        self.filename = ""
        self.size = 0
        self._name = b""
        self._value = b""
        self._disposition = b""
        self._part: bytearray | None = None  # a field's bytes; None while in the file
        self._field_name = ""
        self._pending: list[bytes] = []  # file bytes to write (off the loop)
        self._pending_bytes = 0
        self._count = 0

    # python-multipart's callbacks (synchronous: file bytes are written after each chunk).
    def on_part_begin(self) -> None:
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._name += data[start:end]
        self._check_header()

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]
        self._check_header()

    def _check_header(self) -> None:
        if len(self._name) + len(self._value) > MAX_HEADER_BYTES:
            raise BadRequest("The form is malformed (a part's header is too long).")

    def on_header_end(self) -> None:
        if self._name.lower() == b"content-disposition":
            self._disposition = self._value
        self._name = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if b"name" not in options:
            raise BadRequest("The form is malformed (a part has no name).")
        self._field_name = refuse_nul(_text(options[b"name"]))
        self._count += 1
        if self._count > MAX_FIELDS:
            raise BadRequest("The form has too many fields.")
        if b"filename" in options:
            if self.file is not None or self.filename:
                raise BadRequest("Send one file at a time.")
            self.filename = refuse_nul(_text(options[b"filename"]))
            self._part = None
            if self.filename:
                self.file = self.storage.begin()
        else:
            self._part = bytearray()

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self._part is not None:
            self._part += data[start:end]
            if len(self._part) > MAX_FIELD_BYTES:
                raise PayloadTooLarge("A field of the form is too long.")
        elif self.file is not None:
            self.size += end - start
            if self.size > self.limit:
                raise too_large(self.limit)
            self._pending.append(data[start:end])
            self._pending_bytes += end - start

    def on_part_end(self) -> None:
        if self._part is not None:
            name = self._field_name
            self.fields.setdefault(name, []).append(field_value(name, _text(bytes(self._part))))
            self._part = None

    def callbacks(self) -> dict[str, object]:
        return {
            name: getattr(self, name)
            for name in (
                "on_part_begin",
                "on_part_data",
                "on_part_end",
                "on_header_field",
                "on_header_value",
                "on_header_end",
                "on_headers_finished",
            )
        }

    async def flush(self, *, least: int = 0) -> None:
        """Write what arrived, off the loop, once there is at least `least` bytes of it:
        one hop to a thread per megabyte, not per network chunk."""
        if self._pending and self.file is not None and self._pending_bytes >= least:
            chunks, self._pending, self._pending_bytes = self._pending, [], 0
            await run_in_threadpool(self.file.writelines, chunks)


def _text(data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The request is not valid UTF-8 text.") from None


@asynccontextmanager
async def read_upload(
    request: Request, storage: Storage, limit: int, *, csrf: bool = True
) -> AsyncIterator[Upload]:
    """The upload, its file in storage's temporary file until the block ends: discarded
    then (a file the block committed has moved, and its old name is gone already)."""
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or b"boundary" not in params:
        raise UnsupportedMediaType("Send the document as a form with a file (multipart).")
    # A body a little over the limit is read to its end (and dropped) before the refusal, so
    # that a browser, still sending, shows the message rather than a broken connection; one
    # far over it is refused at once.
    declared = request.headers.get("content-length")
    body_limit, drain_limit = limit + _FRAMING, 2 * limit + _FRAMING
    if declared is not None and declared.isdigit() and int(declared) > drain_limit:
        raise too_large(limit)
    reader = _Reader(storage, limit)
    received, refusal = 0, None
    try:
        parser = python_multipart.MultipartParser(
            params[b"boundary"], cast(Any, reader.callbacks())
        )
        async for chunk in request.stream():
            received += len(chunk)
            if received > drain_limit:  # a chunked body has no length to check up front
                raise too_large(limit)
            if refusal is None:
                try:
                    parser.write(chunk)
                    if received > body_limit:
                        raise too_large(limit)
                    await reader.flush(least=_WRITE_BATCH)
                except PayloadTooLarge as error:
                    refusal = error  # the rest is read and dropped
        if refusal is not None:
            raise refusal
        parser.finalize()
        await reader.flush()
    except FormParserError:
        _discard(storage, reader.file)
        raise BadRequest("The form is malformed.") from None
    except BaseException:  # a refusal, or the client gone mid-body
        _discard(storage, reader.file)
        raise
    upload = Upload(Input(reader.fields), reader.file, reader.filename, reader.size)
    try:
        auth: Auth = request.state.auth
        if csrf and not check_csrf(
            auth, request.headers.get("x-csrf-token") or upload.fields.get("csrf_token")
        ):
            raise Forbidden(
                "This form has expired or did not come from this site. Please try again."
            )
        yield upload
    finally:
        _discard(storage, upload.file)


def _discard(storage: Storage, file: BinaryIO | None) -> None:
    if file is not None:
        storage.discard(file)
