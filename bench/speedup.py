"""The write path against the tree issue 9 was measured on, both in one run on this machine.

    .venv/bin/python bench/speedup.py             # 5 alternated rounds each, about 3 minutes
    .venv/bin/python bench/speedup.py --rounds 1 --seconds 1   # smoke run

Issue 9 asked for 1,500 (SQLite) and 1,000 (PostgreSQL) replies per CPU-second where the
machine it was measured on did 443 and 369: 3.39x and 2.71x that tree. Absolute figures do not
carry from one machine to another (this one runs the same old tree at about half those), so
this bench measures the old tree and this one side by side, in alternated rounds, and prints
each ratio beside the ratio the issue asked for.

The old tree (commit BEFORE, the last before issue 9's work) is exported from git into a
cache folder with a virtualenv of its own dependencies (markdown-it-py, aiosqlite: it cooks
with what it shipped), made once and reused. Each round is a fresh process and a fresh
database: the old bench's replies come from 4 authors, whose pace check walks every post of
theirs in the hour, a cost that grows with the length of a run, so both trees are run with
4 authors and rounds of the same length.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

BEFORE = "8f78a4c"  # the last commit before issue 9 (the hardening measured)
ISSUE_BEFORE = {"SQLite": 443.0, "PostgreSQL": 369.0}  # replies per CPU-second, issue 9's "today"
ISSUE_TARGET = {"SQLite": 1500.0, "PostgreSQL": 1000.0}
HERE = Path(__file__).resolve().parent.parent
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "forum-bench"

# Run in the tree being measured (its bench/pages.py seeds and writes as that tree's bench
# did); prints one JSON line. Replies come from 4 authors in both trees (see above).
ROUND = """
import asyncio, inspect, json, sys, tempfile
sys.path[:0] = [sys.argv[1], sys.argv[1] + "/bench"]
import pages

async def main(kind, seconds):
    url = await pages.create_pg_database() if kind == "pg" else (
        "sqlite:///" + tempfile.mkdtemp() + "/bench.db")
    if url is None:
        raise SystemExit("PostgreSQL is not reachable")
    try:
        if "writers" in inspect.signature(pages.seed).parameters:
            seeded = await pages.seed(url, writers=4)
        else:
            seeded = await pages.seed(url)
        texts = [pages.markdown_post(1000 + i, pages.REPLY_BYTES) for i in range(100)]
        await pages.write_round(seeded, texts[:10], 0.3)
        n, wall, cpu = await pages.write_round(seeded, texts, seconds)
        close = getattr(seeded, "close", None)
        await (close() if close else seeded.db.close())
    finally:
        if kind == "pg":
            await pages.drop_pg_database(url)
    print(json.dumps({"posts": n, "wall": wall, "cpu": cpu}))

asyncio.run(main(sys.argv[2], float(sys.argv[3])))
"""


@dataclass
class Tree:
    name: str
    root: Path
    python: Path


def before_tree(rev: str) -> Tree:
    """The old tree and its virtualenv, made once per commit in the cache folder."""
    commit = subprocess.run(
        ["git", "-C", str(HERE), "rev-parse", f"{rev}^{{commit}}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    home = CACHE / commit[:12]
    root, venv = home / "tree", home / "venv"
    python = venv / "bin" / "python"
    if (home / ".ready").exists():
        return Tree("before", root, python)
    shutil.rmtree(home, ignore_errors=True)
    root.mkdir(parents=True)
    print(f"exporting {commit[:12]} and installing its dependencies (once) ...", flush=True)
    with tempfile.TemporaryFile() as archive:
        subprocess.run(["git", "-C", str(HERE), "archive", commit], check=True, stdout=archive)
        archive.seek(0)
        with tarfile.open(fileobj=archive) as tar:
            tar.extractall(root, filter="data")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "-e", str(root), "httpx"],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,  # pip's warnings about this machine's mirrors
    )
    (home / ".ready").touch()
    return Tree("before", root, python)


def one_round(tree: Tree, kind: str, seconds: float) -> dict[str, float]:
    out = subprocess.run(
        [str(tree.python), "-c", ROUND, str(tree.root), kind, str(seconds)],
        check=True,
        capture_output=True,
        text=True,
        cwd=tree.root,
    ).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", default=BEFORE, help=f"the old commit (default {BEFORE})")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per tree (default 5)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds of replies a round")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args(argv)
    trees = [before_tree(args.before), Tree("after", HERE, Path(sys.executable))]
    kinds = [("SQLite", "sqlite")] + ([] if args.no_pg else [("PostgreSQL", "pg")])
    per_cpu: dict[tuple[str, str], list[float]] = {}
    for r in range(args.rounds):
        for name, kind in kinds:
            # Alternated, the old tree first in even rounds and second in odd ones, so a
            # drift in the machine's load falls on both.
            for tree in trees if r % 2 == 0 else trees[::-1]:
                got = one_round(tree, kind, args.seconds)
                per_cpu.setdefault((tree.name, name), []).append(got["posts"] / got["cpu"])
        print(f"round {r + 1} of {args.rounds} done", flush=True)
    load = os.getloadavg()[0]
    print()
    print(
        f"forum bench/speedup.py   cores: {os.cpu_count()}   {args.rounds} alternated round(s)"
        f" x {args.seconds:g} s of ~1 KB replies from 4 authors; load average {load:.1f}"
    )
    print(f"before: {args.before} (its own markdown-it-py and aiosqlite); after: this tree")
    print("-" * 100)
    print(
        f"{'replies per CPU-second, medians':<34}{'before':>8}{'after':>8}{'ratio':>8}"
        f"{'asked':>8}{'':>8}  issue's figures on this machine"
    )
    for name, _ in kinds:
        before = statistics.median(per_cpu[("before", name)])
        after = statistics.median(per_cpu[("after", name)])
        asked = ISSUE_TARGET[name] / ISSUE_BEFORE[name]
        verdict = "MET" if after / before >= asked else "MISSED"
        scaled = ISSUE_TARGET[name] * before / ISSUE_BEFORE[name]
        print(
            f"  {name:<32}{before:>8.0f}{after:>8.0f}{after / before:>7.2f}x{asked:>7.2f}x"
            f"{verdict:>8}  {ISSUE_TARGET[name]:,.0f} there ~ {scaled:,.0f} here"
        )
    print("  asked: issue 9's target over its 'today' (1,500 / 443 and 1,000 / 369)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
