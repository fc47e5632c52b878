"""What kind of file an upload is, read from its content, never from its name (issue 12's
document store).

Only the kinds a group shares are accepted: PDF, Word, Excel, PowerPoint (current and
97-2003), OpenDocument, PNG, JPEG and plain text. The name's extension must agree with the
content, so a file is never served under a name that would make a computer open it as
something else; anything else, HTML above all (whatever it is called), is refused.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import BinaryIO

from forum.errors import BadRequest


@dataclass(frozen=True)
class FileKind:
    label: str  # in plain words, for the list of documents
    content_type: str  # what downloads are served as
    extensions: tuple[str, ...]  # the names it may have; the first is added if none


PDF = FileKind("PDF", "application/pdf", (".pdf",))
PNG = FileKind("PNG image", "image/png", (".png",))
JPEG = FileKind("JPEG image", "image/jpeg", (".jpg", ".jpeg"))
TEXT = FileKind("text file", "text/plain; charset=utf-8", (".txt", ".csv", ".md"))
_OOXML = "application/vnd.openxmlformats-officedocument"
DOCX = FileKind("Word document", f"{_OOXML}.wordprocessingml.document", (".docx",))
XLSX = FileKind("Excel spreadsheet", f"{_OOXML}.spreadsheetml.sheet", (".xlsx",))
PPTX = FileKind("PowerPoint presentation", f"{_OOXML}.presentationml.presentation", (".pptx",))
DOC = FileKind("Word 97-2003 document", "application/msword", (".doc",))
XLS = FileKind("Excel 97-2003 spreadsheet", "application/vnd.ms-excel", (".xls",))
PPT = FileKind("PowerPoint 97-2003 presentation", "application/vnd.ms-powerpoint", (".ppt",))
_ODF = "application/vnd.oasis.opendocument"
ODT = FileKind("OpenDocument text", f"{_ODF}.text", (".odt",))
ODS = FileKind("OpenDocument spreadsheet", f"{_ODF}.spreadsheet", (".ods",))
ODP = FileKind("OpenDocument presentation", f"{_ODF}.presentation", (".odp",))

KINDS = (PDF, DOCX, XLSX, PPTX, DOC, XLS, PPT, ODT, ODS, ODP, PNG, JPEG, TEXT)
ACCEPTED = "PDF, Word, Excel, PowerPoint, OpenDocument, PNG, JPEG or plain text"
REFUSED = f"This kind of file cannot be shared here. You can add {ACCEPTED} files."

# An OpenDocument file's first entry, stored uncompressed, names its type.
_ODF_TYPES = {kind.content_type.encode(): kind for kind in (ODT, ODS, ODP)}
# Office Open XML: a zip holding [Content_Types].xml and its main part.
_OOXML_PARTS = (
    ("word/document.xml", DOCX),
    ("xl/workbook.xml", XLSX),
    ("ppt/presentation.xml", PPTX),
)
# An Office 97-2003 file is a compound file whose directory names its main stream (in
# UTF-16); the directory may sit anywhere in the file, so the whole file is searched.
_CFB_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_CFB_STREAMS = (
    ("WordDocument".encode("utf-16-le"), DOC),
    ("Workbook".encode("utf-16-le"), XLS),
    ("Book".encode("utf-16-le"), XLS),
    ("PowerPoint Document".encode("utf-16-le"), PPT),
)


def detect(file: BinaryIO) -> FileKind | None:
    """The kind of the file's content, or None if it is none we accept. Reads the file (from
    its start; left at an unknown position); never unpacks more than a zip's directory."""
    file.seek(0)
    head = file.read(8)
    if head.startswith(b"%PDF-"):
        return PDF
    if head == b"\x89PNG\r\n\x1a\n":
        return PNG
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"PK\x03\x04"):
        return _zipped(file)
    if head == _CFB_MAGIC:
        file.seek(0)
        content = file.read()
        return next((kind for name, kind in _CFB_STREAMS if name in content), None)
    return _text(file)


def _zipped(file: BinaryIO) -> FileKind | None:
    try:
        with zipfile.ZipFile(file) as archive:
            names = archive.namelist()
            if names and names[0] == "mimetype":
                with archive.open("mimetype") as entry:
                    return _ODF_TYPES.get(entry.read(100).strip())
            if "[Content_Types].xml" in names:
                return next((kind for part, kind in _OOXML_PARTS if part in names), None)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None
    return None


def _text(file: BinaryIO) -> FileKind | None:
    """Plain UTF-8 text with no NUL, and nothing a browser could take for markup: a text
    file that opens with "<" (HTML, SVG, XML) is refused, whatever its name. Uploads are
    at most tens of megabytes: read whole."""
    file.seek(0)
    content = file.read()
    if b"\x00" in content:
        return None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.lstrip("\ufeff \t\r\n").startswith("<"):
        return None
    return TEXT


def extension_of(filename: str) -> str:
    return PurePosixPath(filename.lower()).suffix


def check_kind(file: BinaryIO, filename: str) -> FileKind:
    """The file's kind, if accepted and its name agrees with it; else a BadRequest that says
    what is wrong in plain words."""
    kind = detect(file)
    if kind is None:
        raise BadRequest(REFUSED)
    extension = extension_of(filename)
    if extension and extension not in kind.extensions:
        article = "an" if kind.label[0] in "AEIOUaeiou" else "a"
        raise BadRequest(
            f"This file is {article} {kind.label}, but its name ends in {extension}."
            f" Rename it to end in {kind.extensions[0]}, or choose another file."
        )
    return kind


_LABELS = {kind.content_type: kind.label for kind in KINDS}


def label_of(content_type: str | None) -> str:
    """What a stored file is, in words, from the type it was stored with."""
    return _LABELS.get(content_type or "", "File")
