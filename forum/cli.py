"""The `forum` command: serve, migrate, users, API keys, groups and the demo SIG."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Awaitable, Callable
from typing import Any

from forum.context import Forum
from forum.db import DatabaseReadOnly, open_database
from forum.errors import ForumError
from forum.migrate import migrate
from forum.settings import Settings, SettingsError, load_settings


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        database_url=getattr(args, "db", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        workers=getattr(args, "workers", None),
    )


async def _with_forum(settings: Settings, work: Callable[[Forum], Awaitable[int]]) -> int:
    from forum.app import opened_forum

    async with opened_forum(settings) as forum:
        return await work(forum)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from forum.app import SERVER_OPTIONS

    settings = _settings(args)
    # Thousands of live sockets are hundreds of thousands of long-lived objects; the default
    # thresholds ran full collections every few replies (0.7-1 s pauses, bench/fanout.py).
    gc.set_threshold(50_000, 20, 10)
    if settings.workers > 1:
        # Worker processes build their own app from the environment, so hand settings there.
        os.environ["FORUM_DATABASE_URL"] = settings.database_url
        os.environ["FORUM_SECRET_KEY"] = settings.secret_key
        uvicorn.run(
            "forum.app:app_from_env",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            log_level="info",
            **SERVER_OPTIONS,
        )
    else:
        from forum.app import create_app

        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level="info",
            **SERVER_OPTIONS,
        )
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Apply the migrations not yet applied, and say which (or that there were none)."""
    settings = _settings(args)

    async def work() -> list[int]:
        db = await open_database(settings.database_url, busy_ms=settings.sqlite_busy_ms)
        try:
            await db.check_writable()
            return await migrate(db)
        finally:
            await db.close()

    applied = asyncio.run(work())
    if applied:
        numbers = ", ".join(f"{version:04d}" for version in applied)
        print(f"applied {len(applied)} migration{'s' if len(applied) != 1 else ''}: {numbers}")
    else:
        print("database is up to date")
    return 0


def cmd_user_create(args: argparse.Namespace) -> int:
    from forum.actions.accounts import check_signup, do_create_user

    if not args.password_stdin:
        print("give the password on standard input with --password-stdin", file=sys.stderr)
        return 2
    password = sys.stdin.readline().rstrip("\n")
    signup = check_signup(args.name, args.email, password, args.badge, args.role)

    async def work(forum: Forum) -> int:
        user = await do_create_user(forum, signup)
        print(f"created {user.role} {user.username}")
        return 0

    return asyncio.run(_with_forum(_settings(args), work))


def cmd_apikey_create(args: argparse.Namespace) -> int:
    from forum.actions.accounts import do_create_api_key

    async def work(forum: Forum) -> int:
        print(await do_create_api_key(forum, args.user))
        return 0

    return asyncio.run(_with_forum(_settings(args), work))


def cmd_group_create(args: argparse.Namespace) -> int:
    from forum.actions.groups import OPERATOR, do_create_group

    async def work(forum: Forum) -> int:
        group = await do_create_group(
            forum,
            OPERATOR,
            name=args.name,
            slug=args.slug,
            description=args.description,
            visibility="private" if args.private else "public",
        )
        print(f"created group {group.slug}")
        return 0

    return asyncio.run(_with_forum(_settings(args), work))


def cmd_group_add(args: argparse.Namespace) -> int:
    from forum.actions.groups import OPERATOR, do_add_member
    from forum.queries.groups import get_group_by_slug

    async def work(forum: Forum) -> int:
        group = await get_group_by_slug(forum.db, args.slug)
        if group is None:
            print(f"there is no group {args.slug}", file=sys.stderr)
            return 1
        await do_add_member(forum, OPERATOR, group.id, args.user, args.role)
        print(f"added {args.user} to {group.slug} as {args.role}")
        return 0

    return asyncio.run(_with_forum(_settings(args), work))


def cmd_demo(args: argparse.Namespace) -> int:
    from forum.demo import DEMO_PASSWORD, seed_demo

    settings = _settings(args)

    async def work(forum: Forum) -> int:
        if await seed_demo(forum):
            print(
                f"seeded the demo SIG; log in as sam (admin), ana, ben, priya or dr_chen"
                f" with the password {DEMO_PASSWORD}"
            )
        else:
            print("groups exist already; the demo was not seeded")
        return 0

    return asyncio.run(_with_forum(settings, work))


def cmd_digest(args: argparse.Namespace) -> int:
    """Make the digests that are due and, with --send, send every email due (as `forum
    serve` does in the background), once."""
    from forum.mailer import Mailer

    async def work(forum: Forum) -> int:
        mailer = Mailer(forum)
        made = await mailer.make_digests()
        print(f"{made} digest{'s' if made != 1 else ''} due")
        if args.send:
            if not forum.settings.smtp_host:
                print("no SMTP server is set (FORUM_SMTP_HOST): nothing sent", file=sys.stderr)
                return 1
            finished = await mailer.send_due()
            print(f"{finished} email{'s' if finished != 1 else ''} finished (sent or skipped)")
        return 0

    return asyncio.run(_with_forum(_settings(args), work))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="forum", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def command(
        sub: Any, name: str, handler: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_text)
        p.add_argument("--db", help="database URL (default: FORUM_DATABASE_URL or ./forum.db)")
        p.set_defaults(handler=handler)
        return p

    serve = command(commands, "serve", cmd_serve, "serve the forum over HTTP")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument("--workers", type=int)
    command(commands, "migrate", cmd_migrate, "apply database migrations")
    command(commands, "demo", cmd_demo, "seed a demo SIG if the forum has no groups")
    digest = command(commands, "digest", cmd_digest, "make the email digests that are due")
    digest.add_argument("--send", action="store_true", help="and send every email due now")

    user = commands.add_parser("user", help="manage users").add_subparsers(
        dest="action", required=True
    )
    create = command(user, "create", cmd_user_create, "create a user")
    create.add_argument("name")
    create.add_argument("--email", required=True)
    create.add_argument("--password-stdin", action="store_true")
    create.add_argument("--role", default="member", choices=["member", "moderator", "admin"])
    create.add_argument("--badge", default="other")

    apikey = commands.add_parser("apikey", help="manage API keys").add_subparsers(
        dest="action", required=True
    )
    command(apikey, "create", cmd_apikey_create, "create an API key (printed once)").add_argument(
        "--user", required=True
    )

    group = commands.add_parser("group", help="manage groups").add_subparsers(
        dest="action", required=True
    )
    gcreate = command(group, "create", cmd_group_create, "create a group")
    gcreate.add_argument("slug")
    gcreate.add_argument("--name", required=True)
    gcreate.add_argument("--description", default="")
    gcreate.add_argument("--private", action="store_true")
    gadd = command(group, "add-member", cmd_group_add, "add a user to a group")
    gadd.add_argument("slug")
    gadd.add_argument("--user", required=True)
    gadd.add_argument("--role", default="member", choices=["member", "convener"])
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        result: int = args.handler(args)
    except ForumError as error:
        print("; ".join(error.messages), file=sys.stderr)
        return 1
    except DatabaseReadOnly as error:
        print(error, file=sys.stderr)
        return 1
    except SettingsError as error:
        print(error, file=sys.stderr)
        return 2
    return result
