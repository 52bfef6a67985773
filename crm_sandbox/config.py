"""Settings of the sandbox CRM server: environment variables, with command-line flags on top."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

DEFAULT_TOKEN = "actionhouse-sandbox"  # a local, documented token: the sandbox holds no real data
DEFAULT_PORT = 8765

# (field name, environment variable, flag, help) -- one table drives env parsing, flags and --help.
_SETTINGS: tuple[tuple[str, str, str, str], ...] = (
    ("db_path", "ACTIONHOUSE_SANDBOX_DB", "--db", "SQLite file (default <data dir>/crm_sandbox.sqlite)"),
    ("rate_limit", "ACTIONHOUSE_SANDBOX_RATE_LIMIT", "--rate-limit", "requests per rolling window per token (100)"),
    ("rate_window_s", "ACTIONHOUSE_SANDBOX_RATE_WINDOW_S", "--rate-window", "rolling window in seconds (10)"),
    (
        "search_rate_limit",
        "ACTIONHOUSE_SANDBOX_SEARCH_RATE_LIMIT",
        "--search-rate-limit",
        "search requests per second per token (5)",
    ),
    ("fault_5xx_rate", "ACTIONHOUSE_SANDBOX_FAULT_5XX", "--fault-5xx", "share of requests answered 5xx (0)"),
    ("fault_slow_rate", "ACTIONHOUSE_SANDBOX_FAULT_SLOW", "--fault-slow", "share of responses delayed (0)"),
    ("slow_seconds", "ACTIONHOUSE_SANDBOX_SLOW_SECONDS", "--slow-seconds", "delay of a slow response (3)"),
    (
        "fault_partial_rate",
        "ACTIONHOUSE_SANDBOX_FAULT_207",
        "--fault-207",
        "share of batch inputs failed in a 207 multi-status answer (0)",
    ),
    ("fault_locked_rate", "ACTIONHOUSE_SANDBOX_FAULT_423", "--fault-423", "share of writes answered 423 Locked (0)"),
    ("fault_seed", "ACTIONHOUSE_SANDBOX_FAULT_SEED", "--fault-seed", "seed of the fault dice (0)"),
)
TOKEN_ENV = "ACTIONHOUSE_CRM_TOKEN"


@dataclass
class SandboxConfig:
    """What the sandbox CRM accepts, how fast, and which faults it injects (all faults off by default)."""

    db_path: Path = Path("crm_sandbox.sqlite")
    tokens: tuple[str, ...] = (DEFAULT_TOKEN,)
    rate_limit: int = 100
    rate_window_s: float = 10.0
    search_rate_limit: int = 5
    search_window_s: float = 1.0
    fault_5xx_rate: float = 0.0
    fault_slow_rate: float = 0.0
    slow_seconds: float = 3.0
    fault_partial_rate: float = 0.0
    fault_locked_rate: float = 0.0
    fault_seed: int = 0
    search_max_results: int = 10_000
    unique_properties: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "contacts": ("email", "actionhouse_id"),
            "companies": ("actionhouse_id",),
            "deals": ("actionhouse_id",),
            "tasks": ("actionhouse_id",),
            "notes": ("actionhouse_id",),
        }
    )


def default_db_path() -> Path:
    """`<ACTIONHOUSE_DATA_DIR or ./data>/crm_sandbox.sqlite`."""
    data_dir = Path(os.environ.get("ACTIONHOUSE_DATA_DIR", Path(__file__).resolve().parents[1] / "data"))
    return data_dir / "crm_sandbox.sqlite"


def _coerce(name: str, raw: str):
    kind = {f.name: f.type for f in fields(SandboxConfig)}[name]
    if name == "db_path":
        return Path(raw)
    if kind == "int" or name in ("rate_limit", "search_rate_limit", "fault_seed"):
        return int(raw)
    return float(raw)


def config_from_env(environ: dict[str, str] | None = None) -> SandboxConfig:
    """Build the config from `ACTIONHOUSE_SANDBOX_*` and `ACTIONHOUSE_CRM_TOKEN` (bad values raise ValueError)."""
    env = os.environ if environ is None else environ
    values: dict = {"db_path": default_db_path()}
    for name, variable, _flag, _help in _SETTINGS:
        if env.get(variable):
            try:
                values[name] = _coerce(name, env[variable])
            except ValueError as exc:
                raise ValueError(f"{variable} must be a number, got {env[variable]!r}") from exc
    if env.get(TOKEN_ENV):
        values["tokens"] = tuple(t.strip() for t in env[TOKEN_ENV].split(",") if t.strip())
    return SandboxConfig(**values)


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of `crm serve` (each overrides its environment variable, named in --help)."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (loopback only by default)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port ({DEFAULT_PORT})")
    parser.add_argument(
        "--token",
        action="append",
        default=None,
        help=f"accepted bearer token, repeatable (env {TOKEN_ENV}, comma-separated; default {DEFAULT_TOKEN!r})",
    )
    for name, variable, flag, text in _SETTINGS:
        parser.add_argument(flag, dest=name, default=None, help=f"{text}; env {variable}")


def config_from_args(args: argparse.Namespace) -> SandboxConfig:
    """Environment first, then any flag given on the command line."""
    config = config_from_env()
    for name, _variable, flag, _help in _SETTINGS:
        raw = getattr(args, name, None)
        if raw is not None:
            try:
                setattr(config, name, _coerce(name, str(raw)))
            except ValueError as exc:
                raise ValueError(f"{flag} must be a number, got {raw!r}") from exc
    if getattr(args, "token", None):
        config.tokens = tuple(args.token)
    return config
