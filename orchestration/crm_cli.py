"""`actionhouse crm ...`: run the sandbox CRM and seed it from the sample world."""

from __future__ import annotations

import argparse

from orchestration.settings import resolve_paths


def _say(message: str) -> None:
    print(f"[actionhouse] {message}", flush=True)


def cmd_crm_serve(args: argparse.Namespace) -> int:
    """Serve the sandbox CRM until interrupted."""
    from crm_sandbox.config import config_from_args
    from crm_sandbox.server import serve

    try:
        config = config_from_args(args)
    except ValueError as exc:
        _say(str(exc))
        return 2
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        _say(
            f"Warning: binding {args.host} makes the sandbox CRM (sample contact data, its tokens' API) reachable "
            "from other machines. It is meant for loopback; use 127.0.0.1 unless you need otherwise."
        )
    _say(
        f"Sandbox CRM (HubSpot API subset) on http://{args.host}:{args.port}, data in {config.db_path}, "
        f"limit {config.rate_limit} requests / {config.rate_window_s:g} s per token. Ctrl-C stops it."
    )
    serve(config, host=args.host, port=args.port)
    return 0


def cmd_crm_seed(args: argparse.Namespace) -> int:
    """Load the landing folder's HubSpot contacts/companies/deals exports into the sandbox's SQLite file."""
    from crm_sandbox.config import config_from_env
    from crm_sandbox.seed import seed_from_landing
    from crm_sandbox.store import SandboxStore

    config = config_from_env()
    db_path = args.db or config.db_path
    landing = args.landing or resolve_paths().landing_dir
    if not landing.is_dir():
        _say(f"No landing folder at {landing}: run `actionhouse generate` first or pass --landing.")
        return 2
    store = SandboxStore(db_path, config.unique_properties)
    try:
        report = seed_from_landing(store, landing)
    finally:
        store.close()
    counts = ", ".join(f"{n:,} {t}" for t, n in report.records.items())
    _say(
        f"Seeded the sandbox CRM at {db_path} from {landing}: {counts}; {report.owners} owners, "
        f"{report.associations:,} associations."
    )
    for reason in report.reasons[:20]:
        _say(f"skipped {reason}")
    if len(report.reasons) > 20:
        _say(f"... and {len(report.reasons) - 20} more skipped rows")
    return 0


def add_crm_commands(subparsers) -> None:
    """Register `crm serve` and `crm seed` on the `actionhouse` parser's subcommands."""
    from pathlib import Path

    from crm_sandbox.config import add_server_arguments

    crm = subparsers.add_parser("crm", help="the sandbox CRM (HubSpot API subset): serve it, seed it")
    crm_sub = crm.add_subparsers(dest="crm_command", required=True)
    serve = crm_sub.add_parser(
        "serve",
        help="run the sandbox CRM on 127.0.0.1",
        description="Serve the sandbox CRM. Every flag below overrides the environment variable it names; "
        "clients authenticate with `Authorization: Bearer <token>`.",
    )
    add_server_arguments(serve)
    serve.set_defaults(func=cmd_crm_serve)
    seed = crm_sub.add_parser("seed", help="load the landing folder's HubSpot exports into the sandbox CRM")
    seed.add_argument("--landing", type=Path, default=None, help="landing folder (default: ACTIONHOUSE_LANDING_DIR)")
    seed.add_argument(
        "--db",
        type=Path,
        default=None,
        help="sandbox SQLite file (default: ACTIONHOUSE_SANDBOX_DB or <data dir>/crm_sandbox.sqlite)",
    )
    seed.set_defaults(func=cmd_crm_seed)
