"""Documents (issue 12): what an upload and a download cost the forum, beside a bare server
that only moves the same bytes, measured in the same run.

    .venv/bin/python bench/uploads.py              # 15 alternated rounds per figure
    .venv/bin/python bench/uploads.py --rounds 3   # smoke run

`forum serve` (one worker, SQLite, its own documents folder) and the ceiling: a bare
Starlette app under the same uvicorn that writes a request's body to a file as it arrives,
and serves a file back, with no parsing, checks or database. Both get the same multipart
bodies from one client on this machine. The forum's upload also parses the multipart form,
checks the member, the pace and the CSRF rule, reads the file's kind from its content (a PDF:
its first bytes; a text file: all of it, as UTF-8), fsyncs it into place and writes the row.

Figures: median wall time per request (ms) for each size, forum beside ceiling, and the
ratio. No target was set; the ratio says what the forum's checks cost over moving bytes.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import FileResponse, PlainTextResponse, Response  # noqa: E402
from starlette.routing import Route  # noqa: E402

from bench.pages import SECRET, Server, forum_server, free_port  # noqa: E402
from forum.actions import accounts, groups  # noqa: E402
from forum.actions.groups import OPERATOR  # noqa: E402
from forum.app import opened_forum  # noqa: E402
from forum.settings import Settings  # noqa: E402

SIZES = {"100 KB": 100 * 1024, "2 MB": 2 * 1024 * 1024, "20 MB": 20 * 1024 * 1024 - 4096}
BOUNDARY = "benchboundary"


def ceiling_app(folder: str) -> Starlette:
    """The bare server: body to a file as it arrives; a file back."""

    async def upload(request: Request) -> Response:
        path = Path(folder) / f"up-{time.monotonic_ns()}"
        with open(path, "wb") as out:  # noqa: ASYNC230 - the ceiling does the simplest thing
            async for chunk in request.stream():
                out.write(chunk)
        return PlainTextResponse(path.name)

    async def download(request: Request) -> Response:
        return FileResponse(Path(folder) / request.path_params["name"])

    async def healthz(request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[
            Route("/up", upload, methods=["POST"]),
            Route("/down/{name}", download),
            Route("/healthz", healthz),
        ]
    )


def body_of(content: bytes, name: str) -> bytes:
    return (
        (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="title"\r\n\r\nBench\r\n'
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{name}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        + content
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


async def seed(url: str, documents: Path) -> tuple[str, str, str]:
    """A member of a public group with an API key: (slug, username, key)."""
    settings = Settings(database_url=url, secret_key=SECRET, documents_dir=str(documents))
    async with opened_forum(settings) as forum:
        signup = accounts.check_signup("bencher", "b@example.org", "bench-password-1", "patient")
        user = await accounts.do_create_user(forum, signup)
        group = await groups.do_create_group(
            forum, OPERATOR, name="Bench", slug="bench", description="", visibility="public"
        )
        await groups.do_add_member(forum, OPERATOR, group.id, user.username)
        await forum.db.execute(
            "UPDATE users SET approved_posts = 100, created_at = 0 WHERE id = :u", {"u": user.id}
        )
        key = await accounts.do_create_api_key(forum, user.username)
    return group.slug, user.username, key


async def timed(
    http: httpx.AsyncClient, method: str, url: str, **kwargs: object
) -> tuple[float, httpx.Response]:
    started = time.perf_counter()
    response = await http.request(method, url, **kwargs)  # type: ignore[arg-type]
    return (time.perf_counter() - started) * 1000, response


async def run(rounds: int) -> None:
    tmp = Path(tempfile.mkdtemp(prefix="forum_uploads_bench_"))
    documents, ceiling_dir = tmp / "documents", tmp / "ceiling"
    ceiling_dir.mkdir()
    url = f"sqlite:///{tmp / 'forum.db'}"
    slug, username, key = await seed(url, documents)
    os.environ["FORUM_DOCUMENTS_DIR"] = str(documents)
    os.environ["FORUM_DOCUMENTS_PER_HOUR"] = str(10**6)
    forum = forum_server("forum", url, tmp, pg=False)
    port = free_port()
    ceiling = Server(
        "ceiling",
        [sys.executable, "-m", "bench.uploads", "--ceiling", str(ceiling_dir), "--port", str(port)],
        port,
        tmp / "ceiling.log",
    )
    rng = os.urandom
    contents = {
        f"PDF {label}": (b"%PDF-1.7\n" + rng(size), "bench.pdf") for label, size in SIZES.items()
    }
    line = b"Pacing notes, line by line.\n"
    contents["text 20 MB"] = (line * (SIZES["20 MB"] // len(line)), "bench.txt")
    headers = {"Api-Key": key, "Api-Username": username}
    content_type = {"content-type": f"multipart/form-data; boundary={BOUNDARY}"}
    results: dict[str, tuple[list[float], list[float]]] = {}
    try:
        for server in (forum, ceiling):
            server.start()
        for server in (forum, ceiling):
            server.wait_ready()
        async with httpx.AsyncClient(timeout=120) as http:
            for label, (content, name) in contents.items():
                body = body_of(content, name)
                ours, bare = results.setdefault(f"upload, {label}", ([], []))
                down_ours, down_bare = results.setdefault(f"download, {label}", ([], []))
                for _ in range(rounds):
                    ms, r = await timed(
                        http,
                        "POST",
                        f"{forum.base_url}/g/{slug}/documents/upload",
                        content=body,
                        headers=headers | content_type,
                    )
                    assert r.status_code == 303, r.text[:300]
                    ours.append(ms)
                    download = r.headers["location"].split("?")[0] + "/download"
                    ms, r = await timed(http, "POST", f"{ceiling.base_url}/up", content=body)
                    assert r.status_code == 200
                    bare.append(ms)
                    stored = r.text
                    ms, r = await timed(http, "GET", f"{forum.base_url}{download}", headers=headers)
                    assert r.status_code == 200 and len(r.content) == len(content)
                    down_ours.append(ms)
                    ms, r = await timed(http, "GET", f"{ceiling.base_url}/down/{stored}")
                    assert r.status_code == 200
                    down_bare.append(ms)
    finally:
        for server in (forum, ceiling):
            server.stop()
    print(f"\nforum bench/uploads.py   cores: {os.cpu_count()}   {rounds} alternated rounds")
    print("-" * 78)
    print(f"{'median ms':34} {'forum':>9} {'ceiling':>9} {'ratio':>8}")
    for label, (ours, bare) in results.items():
        a, b = statistics.median(ours), statistics.median(bare)
        print(f"{label:34} {a:9.1f} {b:9.1f} {a / b:7.2f}x")
    print("ceiling: a bare Starlette app writing the body to a file / serving the file")


def serve_ceiling(folder: str, port: int) -> None:
    import uvicorn

    uvicorn.run(ceiling_app(folder), host="127.0.0.1", port=port, log_level="warning")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--ceiling", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.ceiling:
        serve_ceiling(args.ceiling, args.port)
        return
    asyncio.run(run(args.rounds))


if __name__ == "__main__":
    main()
