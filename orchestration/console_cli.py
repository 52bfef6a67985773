"""`actionhouse console` (serve the RevOps console), `actionhouse users add` (local accounts) and
`actionhouse publish` (publish the console's tables from the warehouse now)."""

from __future__ import annotations

import argparse
import getpass
import ipaddress
import os
import sys

from orchestration.settings import resolve_paths

DEFAULT_PORT = 8080
DEMO_USER = "Demo Approver"
DEMO_ROLE = "admin"
DEMO_PASSWORD_DEFAULT = "actionhouse-demo"


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def cmd_console(args: argparse.Namespace) -> int:
    import uvicorn

    from console.app import create_app
    from console.settings import ConsoleSettings

    if not _is_loopback(args.host):
        print(
            f"WARNING: serving the console on {args.host}, reachable from other machines. Put it behind HTTPS (a "
            "reverse proxy or a sign-on proxy, see docs/console.md): session cookies are only sent over HTTPS there.",
            file=sys.stderr,
        )
    settings = ConsoleSettings.from_environment(host=args.host)
    if not settings.publication.exists():
        print(
            f"No publication yet at {settings.publication}: run `actionhouse refresh` (or `make demo`) first; "
            "pages show what exists meanwhile."
        )
    app = create_app(settings)
    print(
        f"Actionhouse console on http://{args.host}:{args.port}  (sign in with a local account: "
        "actionhouse users add NAME --role viewer|approver|admin)",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level="info", proxy_headers=False)
    return 0


def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ")
    return first


def cmd_users_add(args: argparse.Namespace) -> int:
    from console.auth import UserStore
    from ops_store import open_store, ops_db_url_from_env

    try:
        password = _read_password(args)
        engine = open_store(ops_db_url_from_env(resolve_paths().data_dir))
        try:
            user = UserStore(engine).add(args.name, args.role, password)
        finally:
            engine.dispose()
    except ValueError as exc:
        print(f"Not added: {exc}", file=sys.stderr)
        return 2
    print(f"{user.username} can sign in to the console as {user.role.label}.")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from console.auth import UserStore
    from ops_store import open_store, ops_db_url_from_env

    engine = open_store(ops_db_url_from_env(resolve_paths().data_dir))
    try:
        for row in UserStore(engine).list():
            state = " (disabled)" if row["disabled"] else ""
            print(f"{row['username']:<30} {row['role']:<9}{state}")
    finally:
        engine.dispose()
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    from console.publish import publish_from_file
    from console.settings import publication_path
    from orchestration.defs.ml.assets import models_dir

    paths = resolve_paths()
    if not paths.warehouse.exists():
        print(f"No warehouse at {paths.warehouse}: run `actionhouse refresh` first.", file=sys.stderr)
        return 2
    report = publish_from_file(paths.warehouse, publication_path(paths.data_dir), models_dir=models_dir())
    print(
        f"Published {sum(report.rows.values()):,} rows in {len(report.rows)} tables to {report.path} "
        f"in {report.seconds:.1f} s"
    )
    for name, lacking in report.missing.items():
        print(f"  not published: {name} ({', '.join(lacking)} not built yet)")
    return 0


def ensure_demo_user(say) -> None:
    """The demo's local account: `Demo Approver` (admin; in every approver group of the default policy), with the
    password from `ACTIONHOUSE_DEMO_PASSWORD` or the documented demo default. Says how to sign in."""
    from console.auth import UserStore
    from console.settings import DEMO_PASSWORD_ENV
    from ops_store import open_store, ops_db_url_from_env

    password = os.environ.get(DEMO_PASSWORD_ENV, "").strip() or DEMO_PASSWORD_DEFAULT
    engine = open_store(ops_db_url_from_env(resolve_paths().data_dir))
    try:
        users = UserStore(engine)
        if users.authenticate(DEMO_USER, password) is None:
            users.add(DEMO_USER, DEMO_ROLE, password)
    finally:
        engine.dispose()
    where = (
        "the password in ACTIONHOUSE_DEMO_PASSWORD"
        if os.environ.get(DEMO_PASSWORD_ENV, "").strip()
        else (f"password '{DEMO_PASSWORD_DEFAULT}' (the demo default; set ACTIONHOUSE_DEMO_PASSWORD to choose another)")
    )
    say(
        f"Console: `actionhouse console`, then open http://127.0.0.1:{DEFAULT_PORT} and sign in as "
        f"'{DEMO_USER}' with {where}."
    )


def add_console_commands(sub) -> None:
    """Register `console`, `users` and `publish` on the `actionhouse` parser."""
    console = sub.add_parser("console", help="serve the RevOps console (scores, queue, pipeline, quality)")
    console.add_argument("--port", type=int, default=DEFAULT_PORT)
    console.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; another address prints a warning)"
    )
    console.set_defaults(func=cmd_console)

    users = sub.add_parser("users", help="local console accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    add = users_sub.add_parser("add", help="create an account, or set a new password and role on one")
    add.add_argument("name", help="the name people sign in with (the same name the policy's approver groups use)")
    add.add_argument("--role", required=True, choices=["viewer", "approver", "admin"])
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.set_defaults(func=cmd_users_add)
    listing = users_sub.add_parser("list", help="accounts and their roles")
    listing.set_defaults(func=cmd_users_list)

    publish = sub.add_parser("publish", help="publish the console's tables from the warehouse now")
    publish.set_defaults(func=cmd_publish)
