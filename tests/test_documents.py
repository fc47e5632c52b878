"""A group's documents (issue 12) on SQLite and PostgreSQL: uploading files and adding links,
the kind read from the content, downloads that are only ever downloads, the size limit, an
upload cut off, who adds and removes, what a private group hides, the pace, and bad input."""

from __future__ import annotations

import asyncio
import html
import io
import os
import re
import time
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from forum.content.filetypes import REFUSED
from tests.conftest import Arrange, Client, logged_in

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + bytes(40)
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(40) + b"\xff\xd9"
HTML = b"<!doctype html><title>x</title><script>alert(document.cookie)</script>"


def zipped(entries: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in entries.items():
            kind = zipfile.ZIP_STORED if name == "mimetype" else zipfile.ZIP_DEFLATED
            archive.writestr(name, data, compress_type=kind)
    return out.getvalue()


DOCX = zipped({"[Content_Types].xml": b"<Types/>", "word/document.xml": b"<w:document/>"})
XLSX = zipped({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"})
ODT = zipped({"mimetype": b"application/vnd.oasis.opendocument.text", "content.xml": b"<x/>"})
# An Office 97-2003 spreadsheet: a compound file whose directory names its Workbook stream.
XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + "Workbook".encode("utf-16-le") + bytes(64)


def storage_of(arrange: Arrange) -> Path:
    return Path(arrange.settings.documents_dir)


def stored(arrange: Arrange) -> list[str]:
    """Every file in the storage folder, kept or partial."""
    folder = storage_of(arrange)
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


async def upload(c: Client, slug: str, name: str, content: bytes, **fields: str) -> httpx.Response:
    if not c.csrf:
        await c.get("/")
    data = {"csrf_token": c.csrf, "title": f"About {name}", **fields}
    files = {"file": (name, content, "application/octet-stream")}
    return await c.http.post(f"/g/{slug}/documents/upload", data=data, files=files)


async def count_documents(arrange: Arrange, group_id: int) -> int:
    return int(
        await arrange.db.fetch_val(
            "SELECT count(*) FROM documents WHERE group_id = :g", {"g": group_id}
        )
    )


def document_id_of(response: httpx.Response) -> int:
    assert response.status_code == 303, response.text
    found = re.search(r"/documents/(\d+)\?added=1$", response.headers["location"])
    assert found, response.headers["location"]
    return int(found.group(1))


async def test_members_share_files_and_links_and_download_them(client, arrange) -> None:
    member, reader = await arrange.user(name="mem"), await arrange.user(name="reader")
    group = await arrange.group(members=(member,))
    m = await logged_in(client, member)
    sent = await upload(
        m, group.slug, "Pacing leaflet.pdf", PDF, title="Pacing leaflet", tags="Pacing, leaflets"
    )
    pdf_id = document_id_of(sent)
    page = await m.get(sent.headers["location"])
    assert "The document was added." in page.text and "Pacing leaflet" in page.text
    assert f"PDF, {len(PDF)} bytes" in page.text

    # A reader of the public group downloads it: always as a download, never shown inline.
    r = await logged_in(client, reader)
    got = await r.http.get(f"/g/{group.slug}/documents/{pdf_id}/download")
    assert got.status_code == 200 and got.content == PDF
    assert got.headers["content-type"] == "application/pdf"
    assert got.headers["content-disposition"].startswith("attachment;")
    assert 'filename="Pacing leaflet.pdf"' in got.headers["content-disposition"]
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in got.headers["content-security-policy"]

    # Every accepted kind is stored as what its content is.
    kinds = {
        "plan.docx": (DOCX, "wordprocessingml.document"),
        "budget.xlsx": (XLSX, "spreadsheetml.sheet"),
        "notes.odt": (ODT, "opendocument.text"),
        "old figures.xls": (XLS, "application/vnd.ms-excel"),
        "chart.png": (PNG, "image/png"),
        "photo.JPG": (JPEG, "image/jpeg"),
        "minutes.txt": ("Minutes: we met. Café at 3.\n".encode(), "text/plain"),
    }
    for name, (content, kind) in kinds.items():
        made = document_id_of(await upload(m, group.slug, name, content, tags="kinds"))
        file = await r.http.get(f"/g/{group.slug}/documents/{made}/download")
        assert file.status_code == 200 and file.content == content, name
        assert kind in file.headers["content-type"], name
    # A name in any script survives, offered in UTF-8 beside an ASCII fallback.
    named = document_id_of(await upload(m, group.slug, "Zuhause-Übungen.pdf", PDF))
    file = await r.http.get(f"/g/{group.slug}/documents/{named}/download")
    assert "filename*=UTF-8''Zuhause-%C3%9Cbungen.pdf" in file.headers["content-disposition"]

    link = await m.post_form(
        f"/g/{group.slug}/documents/link",
        {"url": "https://www.nhs.uk/conditions/", "title": "NHS conditions", "tags": "leaflets"},
    )
    link_id = document_id_of(link)
    # A link has no file: its download address leads to its page here, never off the site.
    not_off = await r.http.get(f"/g/{group.slug}/documents/{link_id}/download")
    assert not_off.status_code == 303
    assert not_off.headers["location"] == f"/g/{group.slug}/documents/{link_id}"
    shown = await r.get(f"/g/{group.slug}/documents/{link_id}")
    assert 'href="https://www.nhs.uk/conditions/"' in shown.text and "www.nhs.uk" in shown.text

    # The list: newest first, by title, by tag; the same in JSON.
    listing = await r.get(f"/g/{group.slug}/documents")
    assert listing.text.index("NHS conditions") < listing.text.index("Pacing leaflet")
    by_title = await r.get(f"/g/{group.slug}/documents?sort=title")
    assert by_title.text.index("About budget.xlsx") < by_title.text.index("NHS conditions")
    tagged = await r.get(f"/g/{group.slug}/documents?tag=leaflets")
    assert "NHS conditions" in tagged.text and "Pacing leaflet" in tagged.text
    assert "About chart.png" not in tagged.text
    as_json = (await r.http.get(f"/g/{group.slug}/documents.json?tag=leaflets")).json()
    assert [d["title"] for d in as_json["documents"]] == ["NHS conditions", "Pacing leaflet"]
    assert as_json["documents"][1]["tags"] == ["leaflets", "pacing"]
    assert as_json["documents"][0]["link"] == "https://www.nhs.uk/conditions/"
    assert as_json["documents"][1]["content_type"] == "application/pdf"
    assert {"name": "kinds", "count": len(kinds)} in as_json["tags"]
    # The group page leads to them.
    assert f'href="/g/{group.slug}/documents"' in (await r.get(f"/g/{group.slug}")).text


async def test_a_file_is_judged_by_its_content_not_its_name(client, arrange) -> None:
    member = await arrange.user(name="mem")
    group = await arrange.group(members=(member,))
    m = await logged_in(client, member)
    before = stored(arrange)
    html = await upload(m, group.slug, "results.pdf", HTML, title="Results")
    assert html.status_code == 400 and REFUSED in html.text
    # What was typed comes back, in the form that was refused.
    assert 'value="Results"' in html.text
    svg = await upload(m, group.slug, "chart.txt", b"\n <svg onload=alert(1)></svg>")
    assert svg.status_code == 400 and REFUSED in svg.text
    renamed = await upload(m, group.slug, "plan.docx", PDF)
    assert renamed.status_code == 400
    assert "This file is a PDF, but its name ends in .docx" in html_text(renamed)
    for name, content in {
        "archive.docx": zipped({"readme.txt": b"hello"}),  # a zip, but no document
        "tool.doc": b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),  # no Word stream
        "app.exe": b"MZ\x90\x00" + bytes(100),
        "latin1.txt": "Café".encode("latin-1"),
        "nul.txt": b"text\x00more",
    }.items():
        refused = await upload(m, group.slug, name, content)
        assert refused.status_code == 400 and REFUSED in refused.text, name
    # A name the browser sends with trailing dots is judged as it will be saved: "x.js".
    for name in ("invoice.js.", "page.html.", "run.hta..", "image.svg. "):
        sneaky = await upload(m, group.slug, name, b"WScript.Echo('hi')\n")
        assert sneaky.status_code == 400, name
        assert "This file is a text file, but its name ends in" in html_text(sneaky), name
    empty = await upload(m, group.slug, "empty.txt", b"")
    assert empty.status_code == 400 and "The file is empty." in empty.text
    # Every problem at once.
    many = await upload(m, group.slug, "x.pdf", HTML, title="", tags="ok, not ok!, fine")
    text = html_text(many)
    assert "The title cannot be empty." in text and "cannot be used" in text and REFUSED in text
    assert await count_documents(arrange, group.id) == 0
    assert stored(arrange) == before


def html_text(response: httpx.Response) -> str:
    return html.unescape(response.text)


async def test_an_oversize_upload_is_refused_with_nothing_kept(client, arrange) -> None:
    member = await arrange.user(name="mem")
    group = await arrange.group(members=(member,))
    m = await logged_in(client, member)
    before = stored(arrange)
    limit = arrange.settings.max_upload_bytes
    big = b"a" * (limit + 1)
    declared = await upload(m, group.slug, "big.txt", big, title="Big")
    assert declared.status_code == 413
    assert f"larger than {limit // (1024 * 1024)} MB" in declared.text

    # Sent in chunks with no declared length: counted as it arrives.
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{m.csrf}\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nBig\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield head
        for _ in range(limit // (1024 * 1024) + 1):
            yield b"a" * (1024 * 1024)
        yield f"\r\n--{boundary}--\r\n".encode()

    chunked = await m.http.post(
        f"/g/{group.slug}/documents/upload",
        content=chunks(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert chunked.status_code == 413 and "MB, the most that can be uploaded here" in chunked.text
    # Just under the limit is kept.
    fits = await upload(m, group.slug, "fits.txt", b"a" * limit)
    document_id_of(fits)
    assert await count_documents(arrange, group.id) == 1
    assert len(stored(arrange)) == len(before) + 1


async def test_an_upload_cut_off_leaves_nothing_behind(server, client, arrange) -> None:
    member = await arrange.user(name="mem")
    group = await arrange.group(members=(member,))
    m = await logged_in(client, member)
    await m.get(f"/g/{group.slug}/documents")
    before = stored(arrange)
    boundary = "cut0ff"
    body_start = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n{m.csrf}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nHalf\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.pdf"\r\n'
            "Content-Type: application/pdf\r\n\r\n"
        ).encode()
        + PDF
        + b"x" * (2 * 1024 * 1024)
    )
    address = urlsplit(server.base_url)
    _, writer = await asyncio.open_connection(address.hostname, address.port)
    cookies = "; ".join(f"{k}={v}" for k, v in m.http.cookies.items())
    writer.write(
        (
            f"POST /g/{group.slug}/documents/upload HTTP/1.1\r\nHost: {address.netloc}\r\n"
            f"Cookie: {cookies}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\n"
            f"Content-Length: {len(body_start) + 5 * 1024 * 1024}\r\n\r\n"
        ).encode()
        + body_start
    )
    await writer.drain()
    # The partial file exists while the body arrives...
    for _ in range(100):
        if any(name.startswith(".partial-") for name in stored(arrange)):
            break
        await asyncio.sleep(0.05)
    assert any(name.startswith(".partial-") for name in stored(arrange))
    writer.close()  # ...and the client goes away mid-body.
    for _ in range(100):
        if stored(arrange) == before:
            break
        await asyncio.sleep(0.05)
    assert stored(arrange) == before
    assert await count_documents(arrange, group.id) == 0
    # The server is none the worse.
    assert (await m.get(f"/g/{group.slug}/documents")).status_code == 200


async def test_a_private_groups_documents_are_hidden_from_others(client, arrange) -> None:
    member, outsider = await arrange.user(name="mem"), await arrange.user(name="out")
    private = await arrange.group("private", members=(member,))
    m = await logged_in(client, member)
    doc = document_id_of(await upload(m, private.slug, "secret.pdf", PDF, tags="minutes"))
    o = await logged_in(client, outsider)
    base = f"/g/{private.slug}/documents"
    for who in (o, client()):
        for path in (
            base,
            f"{base}.json",
            f"{base}?tag=minutes",
            f"{base}/{doc}",
            f"{base}/{doc}/download",
        ):
            response = await who.http.get(path)
            assert response.status_code == 404, path
            assert "secret" not in response.text and "minutes" not in response.text
    await o.get("/")
    assert (await upload(o, private.slug, "mine.pdf", PDF)).status_code == 404
    link = await o.post_form(f"{base}/link", {"url": "https://example.org", "title": "x"})
    assert link.status_code == 404
    assert (await o.post_form(f"{base}/{doc}/remove", {})).status_code == 404
    # The member reads it; the private file is not kept by shared caches.
    got = await m.http.get(f"{base}/{doc}/download")
    assert got.status_code == 200 and got.headers["cache-control"] == "private, no-cache"
    assert await count_documents(arrange, private.id) == 1


async def test_who_may_add_and_remove_documents(client, arrange) -> None:
    convener, member = await arrange.user(name="con"), await arrange.user(name="mem")
    other, visitor = await arrange.user(name="other"), await arrange.user(name="vis")
    group = await arrange.group(members=(member, other), conveners=(convener,))
    base = f"/g/{group.slug}/documents"
    # A signed-in reader who has not joined is asked to join; a visitor to log in.
    v = await logged_in(client, visitor)
    refused = await upload(v, group.slug, "v.pdf", PDF)
    assert refused.status_code == 403 and "Join the group first" in refused.text
    anonymous = client()
    assert (await anonymous.http.post(f"{base}/link", data={})).status_code in (401, 403)
    assert "Add a document" not in (await v.get(base)).text
    # Whoever added it removes it, and the convener removes anyone's; others cannot.
    m = await logged_in(client, member)
    mine = document_id_of(await upload(m, group.slug, "mine.pdf", PDF))
    theirs = document_id_of(await upload(m, group.slug, "theirs.pdf", PDF))
    o = await logged_in(client, other)
    assert "Remove this document" not in (await o.get(f"{base}/{mine}")).text
    assert (await o.post_form(f"{base}/{mine}/remove", {})).status_code == 403
    key = await arrange.db.fetch_val("SELECT storage_key FROM documents WHERE id = :d", {"d": mine})
    assert key in stored(arrange)
    removed = await m.post_form(f"{base}/{mine}/remove", {})
    assert removed.status_code == 303
    assert "The document was removed." in (await m.get(removed.headers["location"])).text
    assert key not in stored(arrange)
    assert (await m.http.get(f"{base}/{mine}/download")).status_code == 404
    c = await logged_in(client, convener)
    assert (await c.post_form(f"{base}/{theirs}/remove", {})).status_code == 303
    logged = await arrange.db.fetch_val(
        "SELECT count(*) FROM moderator_actions WHERE action = 'remove_document' AND group_id = :g",
        {"g": group.id},
    )
    assert logged == 1
    assert await count_documents(arrange, group.id) == 0
    # Without the form's token nothing is removed.
    again = document_id_of(await upload(m, group.slug, "again.pdf", PDF))
    assert (await m.http.post(f"{base}/{again}/remove", data={})).status_code == 403
    assert (await upload(m, group.slug, "x.pdf", PDF, csrf_token="wrong")).status_code == 403
    assert await count_documents(arrange, group.id) == 1


async def test_new_accounts_add_documents_at_a_gentler_pace(client, arrange) -> None:
    newcomer = await arrange.user(name="new", new=True)
    group = await arrange.group(members=(newcomer,))
    n = await logged_in(client, newcomer)
    limit = arrange.settings.new_documents_per_hour
    for i in range(limit):
        link = await n.post_form(
            f"/g/{group.slug}/documents/link", {"url": f"https://example.org/{i}", "title": "x"}
        )
        assert link.status_code == 303, link.text
    paced = await n.post_form(
        f"/g/{group.slug}/documents/link", {"url": "https://example.org/late", "title": "Late"}
    )
    assert paced.status_code == 429 and "retry-after" in paced.headers
    assert (await upload(n, group.slug, "late.pdf", PDF)).status_code == 429
    assert await count_documents(arrange, group.id) == limit


async def test_bad_document_input_gets_a_clear_answer(client, arrange) -> None:
    member = await arrange.user(name="mem")
    group, other = await arrange.group(members=(member,)), await arrange.group(members=(member,))
    m = await logged_in(client, member)
    base = f"/g/{group.slug}/documents"
    elsewhere = document_id_of(await upload(m, other.slug, "there.pdf", PDF))
    # A document is found only under its own group.
    assert (await m.http.get(f"{base}/{elsewhere}")).status_code == 404
    assert (await m.http.get(f"{base}/{elsewhere}/download")).status_code == 404
    assert (await m.http.get(f"{base}/99999999")).status_code == 404
    assert (await m.http.get(f"{base}?sort=size")).status_code == 400
    assert (await m.http.get(f"{base}?tag=%3Cb%3E")).status_code == 400
    assert (await m.http.get(f"{base}.json?page=abc")).status_code == 400
    assert "errors" in (await m.http.get(f"{base}.json?page=abc")).json()
    for url in (
        "javascript:alert(1)",
        "ftp://example.org/x",
        "https://",
        "not a link",
        "http://[x",
        "https://a]b/",
    ):
        refused = await m.post_form(f"{base}/link", {"url": url, "title": "Bad"})
        assert refused.status_code == 400, url
    too_many = await m.post_form(
        f"{base}/link", {"url": "https://example.org", "title": "T", "tags": "a,b,c,d,e,f"}
    )
    assert too_many.status_code == 400 and "at most 5 tags" in too_many.text
    # A document goes to the whole group at once: nothing that could identify a patient.
    named = await m.post_form(
        f"{base}/link",
        {"url": "https://example.org", "title": "Letter for NHS number 943 476 5919"},
    )
    assert named.status_code == 400 and "cannot wait for a moderator" in named.text
    # A form that is not multipart, and a field that is not UTF-8.
    plain = await m.post_form(f"{base}/upload", {"title": "x"})
    assert plain.status_code == 415
    bad_utf8 = await m.http.post(
        f"{base}/upload",
        data={"csrf_token": m.csrf, "title": "x"},
        files={"file": ("a.pdf", PDF, "application/pdf"), "description": (None, b"\xff\xfe")},
    )
    assert bad_utf8.status_code == 400 and "UTF-8" in bad_utf8.text
    two = await m.http.post(
        f"{base}/upload",
        data={"csrf_token": m.csrf, "title": "x"},
        files=[("file", ("a.pdf", PDF, "application/pdf")), ("file", ("b.pdf", PDF, "x/y"))],
    )
    assert two.status_code == 400 and "one file" in two.text
    assert await count_documents(arrange, group.id) == 0


def leftovers(folder: Path) -> tuple[Path, Path]:
    """A temporary upload file a crash left seven hours ago, and one still arriving."""
    old, young = folder / ".partial-crashed", folder / ".partial-arriving"
    old.write_bytes(b"half an upload")
    young.write_bytes(b"an upload on its way")
    past = time.time() - 7 * 3600
    os.utime(old, (past, past))
    return old, young


async def test_uploads_a_crash_left_are_swept_when_the_server_starts(fresh, tmp_path) -> None:
    folder = tmp_path / "documents"
    folder.mkdir()
    old, young = leftovers(folder)
    await fresh(documents_dir=str(folder))
    assert sorted(p.name for p in await asyncio.to_thread(list, folder.iterdir())) == [young.name]
    assert old.name != young.name
