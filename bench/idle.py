"""Idle live sockets: what one node spends holding many quiet readers, beside its ceiling.

    .venv/bin/python bench/idle.py              # 10,000 sockets for 5 minutes, SQLite (~8 min)
    .venv/bin/python bench/idle.py --quick      # 1,000 sockets for 30 s, about a minute
    .venv/bin/python bench/idle.py --pg         # the same on PostgreSQL
    .venv/bin/python bench/idle.py --both       # SQLite, then PostgreSQL

1. One node: `forum serve` (one uvicorn worker, as the CLI runs it: uvicorn's websocket pings
   every 30 s with 20 s to answer, as forum/app.py sets them) in its own process, on SQLite
   (default) or PostgreSQL.
   `--sockets` anonymous readers (`websockets` asyncio clients, uvloop, in `--procs` load
   processes, opened `--batch` at a time per process) spread evenly over `--topics` topics:
   each subscribes (`{"type":"subscribe","channel":"topic:<id>"}`), waits for `subscribed`,
   then announces its presence (`{"type":"presence",...,"state":"viewing"}`). From then on
   the clients answer the server's pings and send nothing else; with `--page-pings 25` each
   also sends `{"type":"ping"}` every 25 s (at a moment of its own), as a page running
   static/live.js does.
2. The idle window (`--minutes`), once the joining has settled: the server process's CPU as a
   share of one core (every thread, /proc/<pid>/task/*/schedstat), its RSS per socket
   ((VmRSS at the end of the window - VmRSS after warm-up with no socket) / sockets), and on
   PostgreSQL the CPU of the database's backends. Every `--every` seconds (at the middle of
   each such slice of the window) one reply is posted to each topic with POST /posts.json
   (an API key made by forum.actions.accounts.do_create_api_key), as a user's client or a bot
   does; every reader counts the `post.created` frames of its topic. No frame lost: each
   reader must receive every reply posted to its topic in the window (lost = expected -
   received, over the readers; duplicates counted apart). Presence frames received are
   counted while the readers join and during the window. The window's CPU includes those
   replies; "between replies" leaves out each round of replies from its first POST until the
   last reader has it.
3. Ceiling, in the same run and the same window: a bare websockets server (bench/fanout.py's:
   websockets.asyncio.server.serve, compression off, the same 30 s pings) holding the same
   number of sockets from the same clients, which send it the same two frames (it answers
   each with a `subscribed` frame) and then nothing. It is sent no replies.
4. Targets (issue 14): server CPU < 5% of a core over the window; 0 events lost.

What the forum does while idle, all counted: uvicorn's pings (every 30 s per socket), the
presence heartbeat (one small message per node every 15 s, whatever the number of sockets),
the endpoint's sweep of signed-in sockets' rights (spread over 60 s; these readers have no
account, so they are checked again only when an "everyone" event says so), the SQLite bus's
poll of the log (~10 a second), and the page cache's hints.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `bench` and `forum` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from websockets.asyncio.client import ClientConnection, connect

from bench.fanout import (
    EVENT_PREFIX,
    LoadProcess,
    _websockets_version,
    ceiling_process,
    cpu_ns,
    raise_fd_limit,
    rss_kb,
    serve_commands,
)
from bench.pages import (
    REPLY_BYTES,
    Server,
    cpu_seconds,
    create_pg_database,
    drop_pg_database,
    forum_server,
    markdown_post,
    pg_backend_pids,
    published,
    run_async,
    running,
    seed,
)
from forum.actions import accounts, posts
from forum.actions.drafts import Draft
from forum.queries import topics as topic_queries

CPU_TARGET = 0.05  # share of one core over the idle window
PRESENCE_PREFIX = '{"type":"presence"'
REPLY_KIND = '"kind":"post.created"'
_EVENT_ID = '"id":'


# --- the load process: many quiet websocket clients, driven over stdin/stdout ------------------


@dataclass
class Reader:
    channel: str
    events: int = 0  # post.created frames of its channel since the window began
    other_events: int = 0  # other event frames since the window began
    duplicates: int = 0  # event frames with an id it already had
    last_id: int = 0
    presence: int = 0  # presence frames since the window began
    presence_joining: int = 0  # presence frames before it
    errors: int = 0  # error frames
    closed: bool = False
    close_code: int | None = None


@dataclass
class Group:
    """This load process's readers on one server."""

    readers: list[Reader] = field(default_factory=list)
    counting: bool = False  # the window has begun


def _event_id(message: str) -> int:
    at = message.find(_EVENT_ID, 0, 200)
    if at < 0:
        return 0
    end = at + len(_EVENT_ID)
    stop = end
    while stop < len(message) and message[stop].isdigit():
        stop += 1
    return int(message[end:stop] or 0)


async def _read(ws: ClientConnection, group: Group, reader: Reader, ready: asyncio.Future[str]):
    try:
        async for message in ws:
            assert isinstance(message, str)
            if message.startswith(EVENT_PREFIX):
                event_id = _event_id(message)
                if event_id <= reader.last_id:
                    reader.duplicates += 1
                    continue
                reader.last_id = event_id
                if message.find(REPLY_KIND, 0, 300) >= 0:
                    reader.events += 1
                else:
                    reader.other_events += 1
            elif message.startswith(PRESENCE_PREFIX):
                if group.counting:
                    reader.presence += 1
                else:
                    reader.presence_joining += 1
            elif not ready.done():
                ready.set_result(message)  # "subscribed" (forum) or its echo (ceiling)
            elif message.startswith('{"type":"error"'):
                reader.errors += 1
    except Exception:
        pass
    finally:
        reader.closed = True
        reader.close_code = ws.close_code
        if not ready.done():
            ready.set_exception(ConnectionError("closed before it was subscribed"))


async def _page_pings(ws: ClientConnection, every: float) -> None:
    """What static/live.js sends while a page is open: a ping every `every` seconds."""
    await asyncio.sleep(random.uniform(0, every))
    with contextlib.suppress(Exception):
        while True:
            await ws.send('{"type":"ping"}')
            await asyncio.sleep(every)


async def _open(
    url: str, group: Group, channel: str, tasks: set[asyncio.Task[None]], ping_every: float
) -> None:
    # No protocol pings from the client: the server pings (every 30 s) and the client
    # answers; the page's own pings are frames, as live.js sends them.
    ws = await connect(
        url, compression=None, ping_interval=None, open_timeout=60, close_timeout=1, max_size=2**20
    )
    reader = Reader(channel)
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    task = asyncio.get_running_loop().create_task(_read(ws, group, reader, ready))
    tasks.add(task)
    task.add_done_callback(tasks.discard)
    try:
        await ws.send(json.dumps({"type": "subscribe", "channel": channel}))
        await asyncio.wait_for(ready, 60)
        await ws.send(json.dumps({"type": "presence", "channel": channel, "state": "viewing"}))
    except BaseException:
        await ws.close()
        raise
    group.readers.append(reader)
    if ping_every > 0:
        pinging = asyncio.get_running_loop().create_task(_page_pings(ws, ping_every))
        tasks.add(pinging)
        pinging.add_done_callback(tasks.discard)


async def _connect(
    group: Group,
    tasks: set[asyncio.Task[None]],
    url: str,
    channels: list[str],
    batch: int,
    ping_every: float,
) -> dict[str, Any]:
    started, errors, last_error = time.perf_counter(), 0, ""
    todo = list(channels)
    while todo:
        now, todo = todo[:batch], todo[batch:]
        results = await asyncio.gather(
            *(_open(url, group, channel, tasks, ping_every) for channel in now),
            return_exceptions=True,
        )
        failed = [c for c, r in zip(now, results, strict=True) if isinstance(r, BaseException)]
        if failed:
            errors += len(failed)
            last_error = repr(next(r for r in results if isinstance(r, BaseException)))
            if errors > max(10, len(channels) // 20):
                break
            todo += failed
            await asyncio.sleep(0.5)
    return {
        "sockets": sum(not r.closed for r in group.readers),
        "errors": errors,
        "last_error": last_error,
        "seconds": time.perf_counter() - started,
    }


async def _wait(group: Group, expected: dict[str, int], within: float) -> dict[str, Any]:
    """Until every open reader of the named channels has that many replies (or the time)."""
    deadline = time.perf_counter() + within
    while True:
        behind = sum(
            1
            for r in group.readers
            if not r.closed and r.channel in expected and r.events < expected[r.channel]
        )
        if not behind or time.perf_counter() >= deadline:
            return {"behind": behind}
        await asyncio.sleep(0.02)


def _counts(group: Group) -> dict[str, Any]:
    """Per channel: how many readers received how many replies, and the rest summed."""
    channels: dict[str, dict[str, Any]] = {}
    for r in group.readers:
        c = channels.setdefault(r.channel, {"received": {}, "readers": 0})
        c["readers"] += 1
        c["received"][str(r.events)] = c["received"].get(str(r.events), 0) + 1
    codes: dict[str, int] = {}
    for r in group.readers:
        if r.closed:
            codes[str(r.close_code)] = codes.get(str(r.close_code), 0) + 1
    return {
        "channels": channels,
        "closed": codes,
        "other_events": sum(r.other_events for r in group.readers),
        "duplicates": sum(r.duplicates for r in group.readers),
        "presence": sum(r.presence for r in group.readers),
        "presence_joining": sum(r.presence_joining for r in group.readers),
        "errors": sum(r.errors for r in group.readers),
    }


async def load_worker() -> None:
    groups: dict[str, Group] = {}
    tasks: set[asyncio.Task[None]] = set()

    async def answer(command: dict[str, Any]) -> dict[str, Any]:
        group = groups.setdefault(command.get("group", ""), Group())
        match command["cmd"]:
            case "connect":
                return await _connect(
                    group,
                    tasks,
                    command["url"],
                    command["channels"],
                    command["batch"],
                    command["ping_every"],
                )
            case "begin":  # the window begins: count from here
                for r in group.readers:
                    r.events = r.other_events = r.duplicates = r.presence = 0
                group.counting = True
                return {}
            case "wait":
                return await _wait(group, command["expected"], command["within"])
            case "counts":
                return _counts(group)
            case other:
                return {"error": f"unknown command {other}"}

    await serve_commands(answer)


class IdleLoad(LoadProcess):
    module = "bench.idle"


# --- one run: a server and its ceiling, the same readers on each --------------------------------


@dataclass
class Held:
    """One server's figures over the window."""

    label: str
    sockets: int = 0
    connect_seconds: float = 0.0
    baseline_kb: int = 0
    kb_start: int = 0
    kb_end: int = 0
    cpu: float = 0.0  # CPU-seconds of the server process over the window
    db_cpu: float | None = None  # of its PostgreSQL backends (None: SQLite, or the ceiling)
    reply_cpu: float = 0.0  # CPU-seconds during the rounds of replies
    reply_wall: float = 0.0  # seconds of those rounds
    wall: float = 0.0
    counts: list[dict[str, Any]] = field(default_factory=list)  # from each load process

    @property
    def cpu_share(self) -> float:
        return self.cpu / self.wall

    @property
    def between_share(self) -> float:
        return (self.cpu - self.reply_cpu) / max(self.wall - self.reply_wall, 1e-9)

    @property
    def kb_per_socket(self) -> float:
        return (self.kb_end - self.baseline_kb) / max(self.sockets, 1)

    def total(self, name: str) -> int:
        return sum(int(c[name]) for c in self.counts)

    def closed(self) -> int:
        return sum(sum(c["closed"].values()) for c in self.counts)

    def close_codes(self) -> str:
        codes: dict[str, int] = {}
        for c in self.counts:
            for code, n in c["closed"].items():
                codes[code] = codes.get(code, 0) + n
        return ", ".join(f"{code}: {n}" for code, n in sorted(codes.items()))


@dataclass
class Run:
    database: str
    rounds: int = 0
    topics: int = 0
    round_ms: list[float] = field(default_factory=list)  # first POST -> the last reader has it
    forum: Held = field(default_factory=lambda: Held("forum serve"))
    ceiling: Held | None = None
    expected: int = 0
    received: int = 0
    lost: int = 0
    load_cpu_share: float = 0.0  # each load process, share of a core over the window


async def warm_up(server: Server, topic_id: int, client: httpx.AsyncClient) -> None:
    """One reader receives a reply, so the first round is not the first of anything."""
    async with connect(
        f"ws://127.0.0.1:{server.port}/live", compression=None, ping_interval=None
    ) as ws:
        await ws.send(json.dumps({"type": "subscribe", "channel": f"topic:{topic_id}"}))
        assert json.loads(await ws.recv())["type"] == "subscribed"
        await post(client, topic_id, 0)
        while not str(await asyncio.wait_for(ws.recv(), 10)).startswith(EVENT_PREFIX):
            pass


async def post(client: httpx.AsyncClient, topic_id: int, k: int) -> None:
    text = markdown_post(9000 + k, REPLY_BYTES)
    response = await client.post("/posts.json", json={"topic_id": topic_id, "raw": text})
    response.raise_for_status()


async def open_readers(
    key: str,
    url: str,
    channels: list[str],
    loads: list[LoadProcess],
    batch: int,
    ping_every: float,
) -> tuple[int, float]:
    """Open one reader per channel named, split over the load processes; (open, seconds)."""
    t0 = time.perf_counter()
    shares = [channels[i :: len(loads)] for i in range(len(loads))]
    answers = await asyncio.gather(
        *(
            lp.call(
                cmd="connect",
                group=key,
                url=url,
                channels=share,
                batch=batch,
                ping_every=ping_every,
            )
            for lp, share in zip(loads, shares, strict=True)
        )
    )
    opened = sum(int(a["sockets"]) for a in answers)
    if opened < len(channels):
        errors = "; ".join(a["last_error"] for a in answers if a["errors"])
        raise RuntimeError(f"{key}: {opened} of {len(channels)} sockets opened: {errors}")
    return opened, time.perf_counter() - t0


async def settle(pids: list[int], limit: float, quiet: float = 0.10) -> float:
    """Wait until each process uses less than `quiet` of a core over a second (the joining's
    presence frames sent and read), at most `limit` seconds; return the seconds waited."""
    t0 = time.perf_counter()
    await asyncio.sleep(1.0)
    while time.perf_counter() - t0 < limit:
        before = [cpu_ns(p) for p in pids]
        await asyncio.sleep(1.0)
        if all((cpu_ns(p) - b) / 1e9 < quiet for p, b in zip(pids, before, strict=True)):
            break
    return time.perf_counter() - t0


async def one_run(args: argparse.Namespace, database: str, url: str, pg: bool, tmp: Path) -> Run:
    run = Run(database, topics=args.topics)
    print(f"{database}: seeding {args.topics} topics ...", file=sys.stderr)
    seeded = await seed(url, writers=4)
    key = await accounts.do_create_api_key(seeded.forum, seeded.authors[0].username)
    page = await topic_queries.get_topic(seeded.db, seeded.page_topic_id)
    assert page is not None
    topics = []
    for i in range(args.topics):
        draft = Draft("The first post.", title=f"Idle readers {i}")
        written = published(
            await posts.do_new_topic(seeded.forum, seeded.authors[0], page.group_id, draft)
        )
        topics.append(written.topic_id)
    await seeded.close()

    server = forum_server(f"idle-{database.lower()}", url, tmp, pg=pg)
    servers = [server]
    ceiling = None if args.no_ceiling else ceiling_process(tmp)
    if ceiling is not None:
        servers.append(ceiling)
        run.ceiling = Held("ceiling: bare websockets")
    loads: list[LoadProcess] = [
        IdleLoad(i, tmp / f"load-{database}-{i}.log") for i in range(args.procs)
    ]
    headers = {"Api-Key": key, "Api-Username": seeded.authors[0].username}
    channels = [f"topic:{topics[i % len(topics)]}" for i in range(args.sockets)]
    with running(servers):
        async with httpx.AsyncClient(
            base_url=server.base_url, headers=headers, timeout=60
        ) as client:
            try:
                await warm_up(server, topics[0], client)
                await asyncio.sleep(1.0)
                pid = pid_of(server)
                run.forum.baseline_kb = rss_kb(pid)
                if ceiling is not None and run.ceiling is not None:
                    run.ceiling.baseline_kb = rss_kb(pid_of(ceiling))
                for lp in loads:
                    await lp.start()
                targets = [(server, run.forum, "/live")]
                if ceiling is not None and run.ceiling is not None:
                    targets.append((ceiling, run.ceiling, "/"))
                for srv, held, path in targets:
                    print(
                        f"{database}: opening {args.sockets:,} readers on {held.label} ...",
                        file=sys.stderr,
                    )
                    held.sockets, held.connect_seconds = await open_readers(
                        srv.name,
                        f"ws://127.0.0.1:{srv.port}{path}",
                        channels,
                        loads,
                        args.batch,
                        args.page_pings,
                    )
                pids = [pid_of(s) for s in servers]
                waited = await settle(pids, limit=120 if not args.quick else 30)
                print(
                    f"{database}: settled after {waited:.0f} s; idle window"
                    f" {args.minutes:g} min ...",
                    file=sys.stderr,
                )
                await window(args, run, server, ceiling, loads, topics, client, pg, url)
            finally:
                for lp in loads:
                    await lp.stop()
    return run


def pid_of(server: Server) -> int:
    assert server.process is not None
    return server.process.pid


async def window(
    args: argparse.Namespace,
    run: Run,
    server: Server,
    ceiling: Server | None,
    loads: list[LoadProcess],
    topics: list[int],
    client: httpx.AsyncClient,
    pg: bool,
    url: str,
) -> None:
    seconds = args.minutes * 60
    run.rounds = max(1, math.floor(seconds / args.every))
    held = [(server, run.forum)] + ([(ceiling, run.ceiling)] if ceiling and run.ceiling else [])
    for srv, h in held:
        await asyncio.gather(*(lp.call(cmd="begin", group=srv.name) for lp in loads))
        h.kb_start = rss_kb(pid_of(srv))
    db_pids = await pg_backend_pids(url) if pg else []
    db0 = {p: cpu_seconds(p) for p in db_pids}
    load0 = sum(cpu_ns(lp.pid) for lp in loads)
    cpu0 = {srv.name: cpu_ns(pid_of(srv)) for srv, _ in held}
    t0 = time.perf_counter()
    for k in range(run.rounds):
        # Each round at the middle of its slice of the window, so the last one is delivered
        # well within it.
        await asyncio.sleep(max(0.0, t0 + (k + 0.5) * seconds / run.rounds - time.perf_counter()))
        c0, r0 = cpu_ns(pid_of(server)), time.perf_counter()
        for topic_id in topics:
            await post(client, topic_id, k * len(topics) + topic_id)
        expected = {f"topic:{t}": k + 1 for t in topics}
        answers = await asyncio.gather(
            *(
                lp.call(cmd="wait", group=server.name, expected=expected, within=args.every / 2)
                for lp in loads
            )
        )
        run.round_ms.append((time.perf_counter() - r0) * 1e3)
        run.forum.reply_cpu += (cpu_ns(pid_of(server)) - c0) / 1e9
        run.forum.reply_wall += time.perf_counter() - r0
        behind = sum(a["behind"] for a in answers)
        if behind and args.verbose:
            print(f"  round {k}: {behind} readers still behind", file=sys.stderr)
    await asyncio.sleep(max(0.0, t0 + seconds - time.perf_counter()))
    wall = time.perf_counter() - t0
    for srv, h in held:
        h.cpu = (cpu_ns(pid_of(srv)) - cpu0[srv.name]) / 1e9
        h.wall = wall
        h.kb_end = rss_kb(pid_of(srv))
    if pg:
        run.forum.db_cpu = sum(
            max(cpu_seconds(p) - db0.get(p, 0.0), 0.0) for p in await pg_backend_pids(url)
        )
    run.load_cpu_share = (sum(cpu_ns(lp.pid) for lp in loads) - load0) / 1e9 / wall / len(loads)
    for srv, h in held:
        h.counts = list(
            await asyncio.gather(*(lp.call(cmd="counts", group=srv.name) for lp in loads))
        )
    for c in run.forum.counts:
        for info in c["channels"].values():
            for got, readers in info["received"].items():
                run.received += int(got) * readers
                run.lost += max(0, run.rounds - int(got)) * readers
            run.expected += run.rounds * int(info["readers"])


# --- printing ----------------------------------------------------------------------------------


def print_report(args: argparse.Namespace, runs: list[Run], elapsed: float) -> None:
    line = "-" * 118
    print()
    kind = "QUICK (smoke run)" if args.quick else "full run"
    print(
        f"forum bench/idle.py   {date.today().isoformat()}   cores: {os.cpu_count()}"
        f"   python {sys.version.split()[0]}   {kind}"
    )
    print(
        f"load average at start {args.loadavg[0]:.1f}, at end {os.getloadavg()[0]:.1f}"
        " (1 min; other processes share these cores)"
    )
    per_topic = args.sockets / args.topics
    pings = f"a ping every {args.page_pings:g} s as live.js does" if args.page_pings else "nothing"
    print(
        f"readers: websockets {_websockets_version()} asyncio client, {args.procs} load processes"
        f" (uvloop); {args.sockets:,} per server over {args.topics} topics ({per_topic:,.0f}"
        " each),\neach subscribed, then presence 'viewing'; then they answer pings and send"
        f" {pings}; window {args.minutes:g} min, a reply\nto every topic each {args.every:g} s"
        " (POST /posts.json, API key), at the middle of each slice of the window"
    )
    print(line)
    print(
        f"{'':<28}{'sockets':>8}{'min':>5}{'CPU % core':>11}{'< 5%':>7}{'between':>9}"
        f"{'DB CPU':>8}{'KB/sock':>8}{'expected':>10}{'received':>10}{'lost':>6}{'= 0':>7}"
        f"{'presence':>10}{'closed':>7}"
    )
    print(line)
    for run in runs:
        f = run.forum
        print(
            f"{run.database + ' ' + f.label:<28}{f.sockets:>8,}{f.wall / 60:>5.1f}"
            f"{f.cpu_share * 100:>10.2f}%{verdict_below(f.cpu_share, CPU_TARGET):>7}"
            f"{f.between_share * 100:>8.2f}%"
            f"{(f'{f.db_cpu / f.wall * 100:.2f}%' if f.db_cpu is not None else '-'):>8}"
            f"{f.kb_per_socket:>8.1f}{run.expected:>10,}{run.received:>10,}{run.lost:>6,}"
            f"{('MET' if run.lost == 0 else 'MISSED'):>7}"
            f"{f.total('presence'):>10,}{f.closed():>7,}"
        )
        c = run.ceiling
        if c is not None:
            print(
                f"{'  ' + c.label:<28}{c.sockets:>8,}{c.wall / 60:>5.1f}"
                f"{c.cpu_share * 100:>10.2f}%{'':>7}{'':>9}{'-':>8}{c.kb_per_socket:>8.1f}"
                f"{'-':>10}{'-':>10}{'-':>6}{'':>7}{'-':>10}{c.closed():>7,}"
            )
            ratio = f.between_share / max(c.cpu_share, 1e-9)
            print(
                f"{'  forum / ceiling':<28}{'':>8}{'':>5}"
                f"{f.cpu_share / max(c.cpu_share, 1e-9):>10.1f}x{'':>7}{ratio:>8.1f}x"
                f"{'':>8}{f.kb_per_socket / max(c.kb_per_socket, 1e-9):>7.1f}x"
            )
    print(
        "CPU % core: the server process's CPU over the window (every thread) as a share of one"
        " core, the replies included;\nbetween: the same without the rounds of replies (first"
        " POST -> last reader has it); DB CPU: PostgreSQL backends\nof the forum's database;"
        " KB/sock: (VmRSS at the end of the window - VmRSS after warm-up, no socket) / sockets;"
        "\nexpected, received, lost: post.created frames, over every reader (each should get"
        " every reply to its topic);\npresence: presence frames the readers received during the"
        " window; closed: readers whose socket closed.\nThe server pings every socket every"
        " 30 s (uvicorn; the ceiling likewise): part of the idle CPU."
    )
    print(line)
    for run in runs:
        f = run.forum
        joining = f.total("presence_joining")
        print(
            f"{run.database}: {run.rounds} round(s) of {run.topics} replies; a round took"
            f" {statistics.median(run.round_ms):,.0f} ms (median; max"
            f" {max(run.round_ms):,.0f}) from its first POST to the last reader;\n  reader"
            f" connects: forum {f.connect_seconds:.1f} s"
            + (f", ceiling {run.ceiling.connect_seconds:.1f} s" if run.ceiling is not None else "")
            + f"; presence frames received while the readers joined: {joining:,}"
            f" ({joining / max(f.sockets, 1):,.0f} per reader);\n  duplicates"
            f" {f.total('duplicates')}, other event frames {f.total('other_events')}, error"
            f" frames {f.total('errors')}; each load process used"
            f" {run.load_cpu_share:.1%} of a core over the window"
            + (f"; closed by code: {f.close_codes()}" if f.closed() else "")
        )
    print(line)
    print(f"total run time {elapsed:.0f} s")


def verdict_below(value: float, target: float) -> str:
    return "MET" if value < target else "MISSED"


# --- main --------------------------------------------------------------------------------------


async def bench(args: argparse.Namespace, tmp: Path) -> list[Run]:
    runs = []
    databases = ["SQLite", "PostgreSQL"] if args.both else ["PostgreSQL" if args.pg else "SQLite"]
    for database in databases:
        if database == "SQLite":
            url = f"sqlite:///{tmp / 'idle.db'}"
            runs.append(await one_run(args, database, url, False, tmp))
            continue
        pg_url = await create_pg_database()
        if pg_url is None:
            continue
        try:
            runs.append(await one_run(args, database, pg_url, True, tmp))
        finally:
            await asyncio.sleep(1.0)  # the server's connections close with it
            await drop_pg_database(pg_url)
    return runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true", help="1,000 sockets for 30 s")
    parser.add_argument("--sockets", type=int, help="readers per server (default 10,000)")
    parser.add_argument("--minutes", type=float, help="the idle window (default 5)")
    parser.add_argument("--topics", type=int, default=20, help="topics the readers spread over")
    parser.add_argument("--every", type=float, default=30.0, help="seconds between reply rounds")
    parser.add_argument("--procs", type=int, default=2, help="load processes (2-4)")
    parser.add_argument("--batch", type=int, default=100, help="concurrent connects per process")
    parser.add_argument(
        "--page-pings",
        type=float,
        default=0.0,
        help="seconds between a reader's own pings (live.js: 25; default 0: none)",
    )
    parser.add_argument("--pg", action="store_true", help="PostgreSQL instead of SQLite")
    parser.add_argument("--both", action="store_true", help="SQLite, then PostgreSQL")
    parser.add_argument("--no-ceiling", action="store_true", help="no bare websockets server")
    parser.add_argument("--verbose", action="store_true", help="say when a round is late")
    parser.add_argument("--load-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.load_worker:
        run_async(load_worker())
        return 0
    args.sockets = args.sockets or (1000 if args.quick else 10_000)
    args.minutes = args.minutes or (0.5 if args.quick else 5.0)
    # Each load process holds its share of both servers' sockets; the server all of its own.
    per_process = 2 * math.ceil(args.sockets / args.procs)
    raise_fd_limit(max(args.sockets, per_process) + 1024)
    args.loadavg = os.getloadavg()
    started = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix="forum_idle_"))
    try:
        runs = run_async(bench(args, tmp))
        print_report(args, runs, time.perf_counter() - started)
    except BaseException:
        for log in sorted(tmp.glob("*.log")):
            tail = log.read_text(errors="replace")[-1500:]
            if "Traceback" in tail or "Error" in tail:
                print(f"--- {log.name} (tail) ---\n{tail}", file=sys.stderr)
        raise
    finally:
        with contextlib.suppress(Exception):
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
