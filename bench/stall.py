"""Does costly input stall the server for everyone else? /healthz latency while clients post
text that markdown finds costly, beside the same server's idle latency (the ceiling).

    .venv/bin/python bench/stall.py                       # this tree, about 1 minute
    .venv/bin/python bench/stall.py --baseline ../old     # also a checkout to compare with

The load: N clients each posting, in a loop, 32,000 characters of "![" (about 15 us of
markdown-it-py per character, the costliest input found) to POST /posts.json; once as an
anonymous visitor (who must be refused before any markdown is run), once as a signed-in
member with pace limits off (whose text must be cooked where it cannot stall the loop). While
they post, one client asks GET /healthz one request at a time. Each server is `forum serve`
(one uvicorn worker) in its own process on a fresh SQLite database. Figures are medians and
95th percentiles of the /healthz round trips, in milliseconds; the ratio is to the idle p50 of
the same server in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
COSTLY = "![" * 16_000
PASSWORD = "correct horse battery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def serve(tree: Path, folder: Path) -> Iterator[tuple[str, str]]:
    """`forum serve` from `tree` on a fresh database; yields (base URL, an API key header)."""
    url = f"sqlite:///{folder / 'forum.db'}"
    env = os.environ | {
        "FORUM_DATABASE_URL": url,
        "FORUM_SECRET_KEY": "stall-bench",
        "FORUM_POST_INTERVAL_SECONDS": "0",
        "FORUM_NEW_POST_INTERVAL_SECONDS": "0",
        "FORUM_POSTS_PER_HOUR": "1000000",
        "FORUM_NEW_POSTS_PER_HOUR": "1000000",
        "PYTHONPATH": str(tree),
    }
    python = [sys.executable, "-m", "forum"]

    def run(*args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*python, *args], cwd=folder, env=env, input=stdin, capture_output=True, text=True
        )
        if done.returncode:
            raise RuntimeError(done.stderr)
        return done.stdout.strip()

    run("migrate")
    run("user", "create", "poster", "--email", "p@example.org", "--password-stdin", stdin=PASSWORD)
    run("group", "create", "bench", "--name", "Bench")
    run("group", "add-member", "bench", "--user", "poster")
    key = run("apikey", "create", "--user", "poster").splitlines()[-1]
    port = free_port()
    server = subprocess.Popen(
        [*python, "serve", "--port", str(port)],
        cwd=folder,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/healthz", timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("forum serve did not answer") from None
                time.sleep(0.1)
        yield base, key
    finally:
        server.terminate()
        server.wait(10)


async def healthz_latencies(http: httpx.AsyncClient, count: int) -> list[float]:
    times = []
    for _ in range(count):
        t0 = time.perf_counter()
        r = await http.get("/healthz")
        times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200
    return times


async def post_forever(http: httpx.AsyncClient, headers: dict[str, str], topic_id: int) -> None:
    while True:
        with contextlib.suppress(httpx.HTTPError):
            await http.post(
                "/posts.json", headers=headers, json={"topic_id": topic_id, "raw": COSTLY}
            )


async def measure(base: str, key: str, clients: int, count: int) -> dict[str, list[float]]:
    member = {"Api-Key": key, "Api-Username": "poster"}
    async with httpx.AsyncClient(base_url=base, timeout=120) as http:
        r = await http.post(
            "/posts.json",
            headers=member,
            json={"title": "A bench topic", "raw": "first", "category": 1},
        )
        topic_id = r.json().get("topic_id") or 1
        anon = httpx.AsyncClient(base_url=base, timeout=120)
        page = await anon.get("/login")
        csrf = page.text.split('name="csrf-token" content="')[1].split('"')[0]
        results = {"idle": await healthz_latencies(http, count)}
        for name, headers, poster in (
            ("anonymous posters", {"X-CSRF-Token": csrf}, anon),
            ("member posters", member, http),
        ):
            load = [
                asyncio.create_task(post_forever(poster, headers, topic_id)) for _ in range(clients)
            ]
            await asyncio.sleep(1.0)  # the posters are under way
            results[name] = await healthz_latencies(http, count)
            for task in load:
                task.cancel()
            await asyncio.gather(*load, return_exceptions=True)
            await asyncio.sleep(1.0)  # let the server finish what it was given
        await anon.aclose()
    return results


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to measure alike")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=100, help="/healthz per phase")
    args = parser.parse_args()
    trees = [("this tree", ROOT)]
    if args.baseline:
        trees.append(("baseline", args.baseline.resolve()))
    print(
        f"forum bench/stall.py   cores: {os.cpu_count()}   {args.clients} posting clients,"
        f" {args.requests} /healthz per phase; load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'server':<12}{'phase':<20}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}{'p50 / idle':>12}")
    for label, tree in trees:
        with tempfile.TemporaryDirectory() as folder, serve(tree, Path(folder)) as (base, key):
            results = asyncio.run(measure(base, key, args.clients, args.requests))
        idle = statistics.median(results["idle"])
        for phase, values in results.items():
            p50 = statistics.median(values)
            print(
                f"{label:<12}{phase:<20}{p50:>9.1f}{p95(values):>9.1f}{max(values):>9.1f}"
                f"{p50 / idle:>11.1f}x"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
