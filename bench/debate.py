"""A hosted debate under load: N participants connected to one debate, answering for a minute
while a host reveals questions. Figures printed beside their targets.

    .venv/bin/python bench/debate.py                # 500 participants, 60 s, SQLite
    .venv/bin/python bench/debate.py --pg           # the same on PostgreSQL
    .venv/bin/python bench/debate.py --quick        # 100 participants, 20 s: a smoke run

`forum serve` (one uvicorn worker, as the CLI runs it) in its own process, on a database
seeded here: N established members of a public group (each with an API key), and a debate
they all follow. The participants live in two load processes (the machine has two cores;
the server and the database share them): each opens one websocket per participant (its own
API key), subscribes to `debate:<id>`, and, once the host has revealed question 1, answers
the newest question it has seen every 10.5-13 s (the debate's slow mode is 10 s) with
POST /debates/<id>/answers.json. The host reveals a question every quarter of the run.

Figures: for each answer, the time from sending its POST to the LAST of the N sockets
receiving its event (clocks: time.perf_counter, CLOCK_MONOTONIC, one clock for every process
on the machine), p50 and p95 over all answers; and for each participant, the events received
against the events the channel holds from their subscribe to the end (the channel's head):
equal, with no id twice, or the run fails. Targets (issue 10, one node): p95 <= 500 ms,
0 events lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import websockets  # noqa: E402

from bench.pages import (  # noqa: E402
    SECRET,
    create_pg_database,
    drop_pg_database,
    forum_server,
)
from forum.actions import accounts, groups  # noqa: E402
from forum.actions.debates import do_schedule_debate  # noqa: E402
from forum.actions.drafts import DebatePlan  # noqa: E402
from forum.actions.groups import OPERATOR  # noqa: E402
from forum.app import opened_forum  # noqa: E402
from forum.queries.users import get_user_by_username  # noqa: E402
from forum.settings import Settings  # noqa: E402

P95_TARGET_MS = 500.0
PASSWORD = "bench-password-1"
QUESTIONS = (
    "What helped you most before your operation?",
    "What got in the way?",
    "Carers: what helped you help?",
    "What do you wish you had been told sooner?",
)
# The head of an event frame, before its payload (realtime/protocol.py writes these first).
EVENT_HEAD = re.compile(
    r'^\{"type":"event","channel":"[^"]*","id":(\d+),"kind":"([^"]+)","data":\{(.{0,300})'
)
POST_ID = re.compile(r'"post_id":(\d+)')
NUMBER = re.compile(r'"number":(\d+)')


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


# --- seeding ----------------------------------------------------------------------------------


@dataclass
class Seeded:
    debate_id: int
    host_key: str
    host_name: str
    participants: list[tuple[str, str]]  # (username, API key)


async def seed(url: str, count: int) -> Seeded:
    settings = Settings(database_url=url, secret_key=SECRET)
    async with opened_forum(settings) as forum:
        db = forum.db
        host = await accounts.do_create_user(
            forum,
            accounts.check_signup("bench_host", "host@example.org", PASSWORD, "ahp", "member"),
        )
        # Participants made with SQL (the host's password hash): signing up hashes a password.
        for i in range(count):
            await db.execute(
                "INSERT INTO users (username, email, password_hash, role, badge, created_at)"
                " SELECT :name, :email, password_hash, 'member', :badge, created_at"
                " FROM users WHERE id = :id",
                {
                    "name": f"p{i:04d}",
                    "email": f"p{i}@example.org",
                    "badge": ("patient", "carer", "clinician", "ahp")[i % 4],
                    "id": host.id,
                },
            )
        # Established members: answers are published, not held for review as a new account's.
        await db.execute(
            "UPDATE users SET approved_posts = 100, created_at = :t",
            {"t": time.time() - 90 * 86400},
        )
        group = await groups.do_create_group(
            forum,
            OPERATOR,
            name="Bench debates",
            slug="bench-debates",
            description="Benchmark data.",
            visibility="public",
        )
        await groups.do_add_member(forum, OPERATOR, group.id, "bench_host", "convener")
        host_user = await get_user_by_username(db, "bench_host")
        now = time.time()
        debate = await do_schedule_debate(
            forum,
            host_user,
            group.id,
            DebatePlan(
                title="Bench: a busy hot topic",
                description="Many people answering at once.",
                starts_at=datetime.fromtimestamp(now + 3600, UTC).isoformat(),
                ends_at=datetime.fromtimestamp(now + 7200, UTC).isoformat(),
                questions=QUESTIONS,
            ),
        )
        keys = []
        for i in range(count):
            name = f"p{i:04d}"
            keys.append((name, await accounts.do_create_api_key(forum, name)))
        host_key = await accounts.do_create_api_key(forum, "bench_host")
        return Seeded(debate.id, host_key, "bench_host", keys)


# --- a load process: participants ---------------------------------------------------------------


@dataclass
class Participant:
    name: str
    key: str
    subscribed_at: int = -1  # the channel's head when the subscribe was answered
    sent: int = 0
    refused: int = 0

    def __post_init__(self) -> None:
        self.ids: list[int] = []


@dataclass
class Shared:
    """What a load process's participants share: the newest question seen, when to stop,
    the latest receive of each answer and when each was sent."""

    latest: int = 0
    stop: float = float("inf")
    received: dict[int, float] | None = None
    sent_at: dict[int, float] | None = None

    def __post_init__(self) -> None:
        self.received, self.sent_at = {}, {}


async def participate(
    base: str,
    debate_id: int,
    person: Participant,
    shared: Shared,
    ready: asyncio.Event,
    go: asyncio.Event,
    http: httpx.AsyncClient,
) -> None:
    headers = {"Api-Key": person.key, "Api-Username": person.name}
    url = base.replace("http://", "ws://") + "/live"
    received, sent_at = shared.received, shared.sent_at
    assert received is not None and sent_at is not None
    async with websockets.connect(url, additional_headers=headers, open_timeout=120) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": f"debate:{debate_id}"}))
        while True:
            frame = json.loads(await ws.recv())
            if frame.get("type") == "subscribed":
                person.subscribed_at = int(frame["last_id"])
                break
        ready.set()

        async def read() -> None:
            async for message in ws:
                text = message if isinstance(message, str) else message.decode()
                head = EVENT_HEAD.match(text)
                if head is None:
                    continue
                now = time.perf_counter()
                person.ids.append(int(head.group(1)))
                kind, rest = head.group(2), head.group(3)
                if kind == "post.created":
                    found = POST_ID.search(rest)
                    if found:  # the latest receive of each answer, in this process
                        post_id = int(found.group(1))
                        received[post_id] = max(received.get(post_id, 0.0), now)
                elif kind == "debate.question":
                    found = NUMBER.search(rest)
                    if found:
                        shared.latest = max(shared.latest, int(found.group(1)))

        reader = asyncio.create_task(read())
        await go.wait()
        await asyncio.sleep(random.uniform(0.5, 11))  # the first answers spread out
        n = 0
        while time.perf_counter() < shared.stop:
            if shared.latest:
                n += 1
                raw = f"Answer {n} from {person.name}: a short walk every day helps me."
                body = {"question": shared.latest, "raw": raw}
                t0 = time.perf_counter()
                r = await http.post(
                    f"/debates/{debate_id}/answers.json", json=body, headers=headers
                )
                if r.status_code == 200 and "id" in r.json():
                    sent_at[int(r.json()["id"])] = t0
                    person.sent += 1
                else:
                    person.refused += 1
            await asyncio.sleep(random.uniform(10.5, 13))
        await asyncio.sleep(3)  # the last answers' events arrive
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader


async def load_worker() -> None:
    """One JSON command on stdin (who and where); "ready" once all are subscribed; then the
    run's length on stdin; at the end one JSON answer on stdout."""
    loop = asyncio.get_running_loop()
    command = json.loads(await loop.run_in_executor(None, sys.stdin.readline))
    base, debate_id = command["base"], command["debate_id"]
    people = [Participant(name, key) for name, key in command["participants"]]
    shared = Shared()
    readies = [asyncio.Event() for _ in people]
    go = asyncio.Event()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        tasks = []
        for i, person in enumerate(people):
            task = participate(base, debate_id, person, shared, readies[i], go, http)
            tasks.append(asyncio.create_task(task))
            if i % 50 == 49:
                await asyncio.sleep(0.3)  # connect in batches, as people arrive
        await asyncio.gather(*(ready.wait() for ready in readies))
        print(json.dumps({"ready": True}), flush=True)
        seconds = json.loads(await loop.run_in_executor(None, sys.stdin.readline))["seconds"]
        shared.stop = time.perf_counter() + seconds
        go.set()
        await asyncio.gather(*tasks)
    answer = {
        "people": [
            {
                "name": p.name,
                "from": p.subscribed_at,
                "ids": p.ids,
                "sent": p.sent,
                "refused": p.refused,
            }
            for p in people
        ],
        "received": shared.received,
        "sent_at": shared.sent_at,
    }
    print(json.dumps(answer), flush=True)


# --- the run ---------------------------------------------------------------------------------


async def start_worker(log: Path) -> asyncio.subprocess.Process:
    with log.open("wb") as err:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.debate",
            "--load-worker",
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=err,
            limit=2**28,
        )


async def send(proc: asyncio.subprocess.Process, message: dict[str, Any]) -> None:
    assert proc.stdin is not None
    proc.stdin.write((json.dumps(message) + "\n").encode())
    await proc.stdin.drain()


async def receive(proc: asyncio.subprocess.Process) -> dict[str, Any]:
    assert proc.stdout is not None
    line = await proc.stdout.readline()
    if not line:
        raise RuntimeError("a load process died (see its log)")
    answer: dict[str, Any] = json.loads(line)
    return answer


async def run(args: argparse.Namespace) -> int:
    tmp = Path(tempfile.mkdtemp(prefix="forum_debate_bench_"))
    url = await create_pg_database() if args.pg else f"sqlite:///{tmp / 'forum.db'}"
    if url is None:
        print("PostgreSQL is not available", file=sys.stderr)
        return 2
    server = forum_server("debate", url, tmp, args.pg)
    workers: list[asyncio.subprocess.Process] = []
    try:
        print(f"seeding {args.participants} participants ...", file=sys.stderr)
        seeded = await seed(url, args.participants)
        server.start()
        server.wait_ready()
        halves = [seeded.participants[i :: args.workers] for i in range(args.workers)]
        for i, half in enumerate(halves):
            worker = await start_worker(tmp / f"worker{i}.log")
            workers.append(worker)
            base = server.base_url
            await send(worker, {"base": base, "debate_id": seeded.debate_id, "participants": half})
        for worker in workers:
            await receive(worker)  # every socket subscribed
        print(
            f"{args.participants} connected; the debate runs {args.seconds:g} s ...",
            file=sys.stderr,
        )
        host = {"Api-Key": seeded.host_key, "Api-Username": seeded.host_name}
        async with httpx.AsyncClient(base_url=server.base_url, headers=host, timeout=60) as http:
            r = await http.post(f"/debates/{seeded.debate_id}/start.json")
            assert r.status_code == 200, r.text
            for worker in workers:
                await send(worker, {"seconds": args.seconds})
            started = time.perf_counter()
            for number in range(1, len(QUESTIONS) + 1):
                r = await http.post(f"/debates/{seeded.debate_id}/questions/{number}/reveal.json")
                assert r.status_code == 200, r.text
                wait = started + number * args.seconds / len(QUESTIONS) - time.perf_counter()
                if number < len(QUESTIONS) and wait > 0:
                    await asyncio.sleep(wait)
            answers = [await receive(worker) for worker in workers]
            state = (await http.get(f"/debates/{seeded.debate_id}.json")).json()["debate"]
        head = await channel_head(url, seeded.debate_id)
        report(args, answers, head, state)
        return 0
    finally:
        for worker in workers:
            with contextlib.suppress(ProcessLookupError):
                worker.kill()
        server.stop()
        if args.pg:
            await drop_pg_database(url)


async def channel_head(url: str, debate_id: int) -> int:
    settings = Settings(database_url=url, secret_key=SECRET)
    async with opened_forum(settings) as forum:
        value = await forum.db.fetch_val(
            "SELECT last_id FROM channel_heads WHERE channel = :c", {"c": f"debate:{debate_id}"}
        )
        return int(value)


def report(
    args: argparse.Namespace, answers: list[dict[str, Any]], head: int, state: dict[str, Any]
) -> None:
    sent_at: dict[int, float] = {}
    last: dict[int, float] = {}
    for answer in answers:
        sent_at |= {int(k): v for k, v in answer["sent_at"].items()}
        for k, v in answer["received"].items():
            last[int(k)] = max(last.get(int(k), 0.0), v)
    latencies = [(last[p] - t) * 1000 for p, t in sent_at.items() if p in last]
    people = [p for answer in answers for p in answer["people"]]
    lost = duplicated = 0
    for person in people:
        expected = head - person["from"]
        ids = person["ids"]
        duplicated += len(ids) - len(set(ids))
        lost += expected - len(set(ids))
    sent = sum(p["sent"] for p in people)
    refused = sum(p["refused"] for p in people)
    p50, p95 = percentile(latencies, 50), percentile(latencies, 95)
    total = sum(len(p["ids"]) for p in people)
    line = "-" * 92

    def row(label: str, value: float, target: str = "", met: bool | None = None) -> None:
        verdict = "" if met is None else ("MET" if met else "MISSED")
        print(f"{label:<58}{value:>12.0f}{target:>12}{verdict:>10}")

    print()
    print(f"forum bench/debate.py   {datetime.now(UTC):%Y-%m-%d}   cores: {os.cpu_count()}")
    print(
        f"{'PostgreSQL' if args.pg else 'SQLite'}, one `forum serve` worker; {len(people)}"
        f" participants in {args.workers} load processes; {args.seconds:g} s;"
        f" load average {os.getloadavg()[0]:.1f}"
    )
    print(line)
    print(f"{'figure':<58}{'value':>12}{'target':>12}{'':>10}")
    print(line)
    row("answers published (POST 200)", sent)
    row("answers refused (slow mode, pace): told to wait", refused)
    row("answers whose event reached every socket", len(latencies))
    row("POST sent -> LAST participant receives it, p50 ms", p50)
    row("POST sent -> LAST participant receives it, p95 ms", p95, "<= 500", p95 <= P95_TARGET_MS)
    row("  max ms", max(latencies))
    row("events delivered (all participants)", total)
    row("events lost (the channel's head says sent, not received)", lost, "0", lost == 0)
    row("events duplicated", duplicated, "0", duplicated == 0)
    row("participants counted by the debate", state["participants"])
    print(line)
    # The same latency by when each answer was sent: a stall shows as one bad window.
    start = min(sent_at.values())
    windows: dict[int, list[float]] = {}
    for post_id, t in sent_at.items():
        if post_id in last:
            windows.setdefault(int((t - start) // 10), []).append((last[post_id] - t) * 1000)
    print(
        "p95 ms by 10 s of sending: "
        + "  ".join(f"{10 * w}s {percentile(v, 95):.0f}" for w, v in sorted(windows.items()))
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--participants", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2, help="load processes")
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--quick", action="store_true", help="100 participants, 20 s")
    parser.add_argument("--load-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_worker:
        asyncio.run(load_worker())
        return 0
    if args.quick:
        args.participants, args.seconds = 100, 20
    return asyncio.run(run(args))


if __name__ == "__main__":
    raise SystemExit(main())
