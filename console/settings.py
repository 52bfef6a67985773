"""The console's configuration, from `ACTIONHOUSE_CONSOLE_*` environment variables with safe defaults."""

from __future__ import annotations

import ipaddress
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

SECRET_ENV = "ACTIONHOUSE_CONSOLE_SECRET"
SESSION_HOURS_ENV = "ACTIONHOUSE_CONSOLE_SESSION_HOURS"
TRUSTED_PROXIES_ENV = "ACTIONHOUSE_CONSOLE_TRUSTED_PROXIES"
IDENTITY_HEADER_ENV = "ACTIONHOUSE_CONSOLE_IDENTITY_HEADER"
HEADER_ROLE_ENV = "ACTIONHOUSE_CONSOLE_HEADER_DEFAULT_ROLE"
ALLOWED_HOSTS_ENV = "ACTIONHOUSE_CONSOLE_ALLOWED_HOSTS"
PUBLICATION_ENV = "ACTIONHOUSE_CONSOLE_PUBLICATION"
HISTORY_RUNS_ENV = "ACTIONHOUSE_CONSOLE_HISTORY_RUNS"
REBUILD_EVERY_ENV = "ACTIONHOUSE_CONSOLE_REBUILD_EVERY"
DEMO_PASSWORD_ENV = "ACTIONHOUSE_DEMO_PASSWORD"

DEFAULT_SESSION_HOURS = 8.0
DEFAULT_HISTORY_RUNS = 24  # a day of hourly refreshes in the lead page's score history
DEFAULT_REBUILD_EVERY = 24  # publications updated in place between two written from scratch
DEFAULT_IDENTITY_HEADER = "X-Forwarded-User"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def publication_path(data_dir: Path) -> Path:
    """Where refreshes publish the console's tables: `ACTIONHOUSE_CONSOLE_PUBLICATION` or
    `<data dir>/console/publication.duckdb`."""
    raw = os.environ.get(PUBLICATION_ENV, "").strip()
    return Path(raw).resolve() if raw else Path(data_dir) / "console" / "publication.duckdb"


def _positive_int(env: str, default: int, minimum: int) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise ValueError(f"{env} must be a whole number, got {raw!r}") from exc
    if value < minimum:
        raise ValueError(f"{env} must be at least {minimum}, got {value}")
    return value


def history_runs() -> int:
    """How many scoring runs the publication's score history keeps (`ACTIONHOUSE_CONSOLE_HISTORY_RUNS`, the latest
    runs by time; default 24)."""
    return _positive_int(HISTORY_RUNS_ENV, DEFAULT_HISTORY_RUNS, 1)


def rebuild_every() -> int:
    """After how many publications updated in a copy of the previous one the next is written from scratch
    (`ACTIONHOUSE_CONSOLE_REBUILD_EVERY`, default 24; 0 or 1: every publication from scratch)."""
    return _positive_int(REBUILD_EVERY_ENV, DEFAULT_REBUILD_EVERY, 0)


def parse_networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """Comma-separated addresses or networks (`10.0.0.5, 10.1.0.0/16`); a bad entry is a clear error."""
    networks = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{TRUSTED_PROXIES_ENV}: '{item}' is not an IP address or network") from exc
    return tuple(networks)


def _secret_from_file(data_dir: Path) -> str:
    """A random signing key kept beside the data (mode 0600), made on first use, when none is configured."""
    path = Path(data_dir) / "console" / "secret_key"
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key)
    return key


@dataclass(frozen=True)
class ConsoleSettings:
    """Everything the console app needs: where to read, how to sign people in, whom to trust."""

    data_dir: Path
    ops_db_url: str
    publication: Path
    secret_key: str = field(repr=False)
    session_hours: float = DEFAULT_SESSION_HOURS
    trusted_proxies: tuple = ()
    identity_header: str = DEFAULT_IDENTITY_HEADER
    header_default_role: str = "viewer"
    # Host header values the console answers to (a guard against DNS rebinding); ports are ignored.
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS
    # Cookies only over HTTPS (browsers also accept them on http://127.0.0.1 and localhost).
    secure_cookies: bool = True

    @property
    def header_mode(self) -> bool:
        """Whether identities from a sign-on proxy's header are accepted (only when proxies are configured)."""
        return bool(self.trusted_proxies)

    @classmethod
    def from_environment(cls, host: str | None = None) -> ConsoleSettings:
        """Read the `ACTIONHOUSE_CONSOLE_*` variables; `host` (the bound address) is added to the allowed hosts."""
        from ops_store import ops_db_url_from_env
        from orchestration.settings import resolve_paths

        data_dir = resolve_paths().data_dir
        hours_raw = os.environ.get(SESSION_HOURS_ENV, "").strip()
        try:
            hours = float(hours_raw) if hours_raw else DEFAULT_SESSION_HOURS
        except ValueError as exc:
            raise ValueError(f"{SESSION_HOURS_ENV} must be a number of hours, got {hours_raw!r}") from exc
        hosts = [h.strip() for h in os.environ.get(ALLOWED_HOSTS_ENV, "").split(",") if h.strip()]
        hosts = list(dict.fromkeys([*LOOPBACK_HOSTS, *hosts, *([host] if host else [])]))
        role = os.environ.get(HEADER_ROLE_ENV, "viewer").strip() or "viewer"
        if role not in ("viewer", "approver", "admin"):
            raise ValueError(f"{HEADER_ROLE_ENV} must be viewer, approver or admin, got {role!r}")
        return cls(
            data_dir=data_dir,
            ops_db_url=ops_db_url_from_env(data_dir),
            publication=publication_path(data_dir),
            secret_key=os.environ.get(SECRET_ENV, "").strip() or _secret_from_file(data_dir),
            session_hours=hours,
            trusted_proxies=parse_networks(os.environ.get(TRUSTED_PROXIES_ENV, "")),
            identity_header=os.environ.get(IDENTITY_HEADER_ENV, "").strip() or DEFAULT_IDENTITY_HEADER,
            header_default_role=role,
            allowed_hosts=tuple(hosts),
        )
