"""Who is signed in: local accounts with argon2id password hashes, signed session cookies that expire, a trusted
identity header accepted only from configured proxy addresses, CSRF tokens and roles.

    users = UserStore(engine)
    users.add("Rita Ops", "approver", password)          # `actionhouse users add`
    user = users.authenticate("Rita Ops", password)      # None when the name or password is wrong
    cookie = SessionCodec(secret, hours=8).issue(user.username)
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import IntEnum

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from itsdangerous import BadSignature, URLSafeSerializer

from ops_store.schema import console_users, utc_now

SESSION_COOKIE = "ah_session"
CSRF_COOKIE = "ah_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
MIN_PASSWORD_LENGTH = 10

_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters
# Verified when a name is unknown, so a wrong name costs as long as a wrong password (no user enumeration).
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


class Role(IntEnum):
    """What a person may do: viewers read, approvers also decide what the policy routes to them, admins also
    switch the kill switch."""

    VIEWER = 1
    APPROVER = 2
    ADMIN = 3

    @classmethod
    def parse(cls, name: str) -> Role:
        """`viewer`, `approver` or `admin` (a clear error otherwise)."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown role {name!r}: use viewer, approver or admin") from None

    @property
    def label(self) -> str:
        return self.name.lower()


def hash_password(password: str) -> str:
    """An argon2id hash of `password` (PHC string: algorithm, parameters and salt included)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    """True when `password` matches the stored hash."""
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class User:
    """A signed-in person: the name decisions record, and the role."""

    username: str
    role: Role
    via: str = "password"  # password | header

    def at_least(self, role: Role) -> bool:
        return self.role >= role


class UserStore:
    """Local accounts in the operational store (`console_users`)."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, username: str, role: str, password: str) -> User:
        """Create the account, or set a new password and role on an existing one (its sessions end)."""
        username = username.strip()
        if not username:
            raise ValueError("the user name is empty")
        parsed = Role.parse(role)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValueError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
        now = utc_now()
        values = {
            "role": parsed.label,
            "password_hash": hash_password(password),
            "disabled": False,
            "sessions_valid_from": now,
            "updated_at": now,
        }
        with self.engine.begin() as con:
            exists = con.execute(
                sa.select(console_users.c.username).where(console_users.c.username == username)
            ).first()
            if exists:
                con.execute(console_users.update().where(console_users.c.username == username).values(**values))
            else:
                con.execute(console_users.insert().values(username=username, created_at=now, **values))
        return User(username, parsed)

    def get(self, username: str) -> dict | None:
        """The account row (None when there is no such account)."""
        with self.engine.connect() as con:
            row = con.execute(sa.select(console_users).where(console_users.c.username == username)).mappings().first()
        return dict(row) if row else None

    def authenticate(self, username: str, password: str) -> User | None:
        """The user when the name and password match an enabled account, else None."""
        row = self.get(username.strip())
        if row is None or row["disabled"]:
            verify_password(_DUMMY_HASH, password)
            return None
        if not verify_password(row["password_hash"], password):
            return None
        if _hasher.check_needs_rehash(row["password_hash"]):
            with self.engine.begin() as con:
                con.execute(
                    console_users.update()
                    .where(console_users.c.username == row["username"])
                    .values(password_hash=hash_password(password), updated_at=utc_now())
                )
        return User(row["username"], Role.parse(row["role"]))

    def list(self) -> list[dict]:
        """Every account (name, role, disabled, created), without hashes."""
        cols = [console_users.c.username, console_users.c.role, console_users.c.disabled, console_users.c.created_at]
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(sa.select(*cols).order_by(console_users.c.username)).mappings()]


class SessionCodec:
    """Signed session cookies: `{user, issued at, random id}`, refused once older than `hours` or issued before
    the account's `sessions_valid_from` (a new password or role ends older sessions)."""

    def __init__(self, secret_key: str, hours: float, clock: Callable[[], float] = time.time) -> None:
        self._serializer = URLSafeSerializer(secret_key, salt="actionhouse-console-session")
        self.max_age_seconds = hours * 3600
        self.clock = clock

    def issue(self, username: str) -> str:
        """A new cookie value for `username`."""
        return self._serializer.dumps({"u": username, "iat": float(self.clock()), "sid": secrets.token_urlsafe(16)})

    def read(self, cookie: str | None) -> tuple[str, float] | None:
        """`(username, issued_at)` of a valid, unexpired cookie; None when missing, forged or expired."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie)
        except BadSignature:
            return None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("u"), str)
            or not isinstance(data.get("iat"), (int, float))
        ):
            return None
        age = self.clock() - data["iat"]
        if age < 0 or age > self.max_age_seconds:
            return None
        return data["u"], data["iat"]


def session_user(codec: SessionCodec, users: UserStore, cookie: str | None) -> User | None:
    """The user a session cookie stands for, checked against the account as it is now."""
    read = codec.read(cookie)
    if read is None:
        return None
    username, issued_at = read
    row = users.get(username)
    if row is None or row["disabled"]:
        return None
    if datetime.fromtimestamp(issued_at, UTC) < row["sessions_valid_from"]:
        return None
    return User(row["username"], Role.parse(row["role"]))


def from_trusted_proxy(client_host: str | None, trusted: tuple) -> bool:
    """True only when the request's peer address is inside one of the configured proxy networks."""
    if not client_host or not trusted:
        return False
    try:
        address = ipaddress.ip_address(client_host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


def header_user(
    client_host: str | None, headers, trusted: tuple, header: str, users: UserStore, default_role: str
) -> User | None:
    """The identity a sign-on proxy asserts in `header` — only when the request comes from a trusted proxy.
    The role is the local account's when one exists with that name, else `default_role`."""
    if not from_trusted_proxy(client_host, trusted):
        return None
    name = (headers.get(header) or "").strip()
    if not name or len(name) > 120:
        return None
    row = users.get(name)
    if row is not None and row["disabled"]:
        return None
    role = Role.parse(row["role"]) if row else Role.parse(default_role)
    return User(name, role, via="header")


def new_csrf_seed() -> str:
    """A random value for the CSRF cookie (one per browser)."""
    return secrets.token_urlsafe(24)


def csrf_token(secret_key: str, seed: str) -> str:
    """The token forms carry: an HMAC of the browser's CSRF cookie, so another site can neither read nor forge it."""
    return hmac.new(secret_key.encode(), f"csrf:{seed}".encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, seed: str | None, token: str | None) -> bool:
    """True when `token` was made for this browser's CSRF cookie."""
    if not seed or not token:
        return False
    return hmac.compare_digest(csrf_token(secret_key, seed), token)


def same_origin(origin: str | None, referer: str | None, host: str | None) -> bool:
    """True when the request's Origin (or, lacking it, Referer) names the host the request was sent to."""
    from urllib.parse import urlsplit

    if not host:
        return False
    source = origin if origin and origin != "null" else referer
    if not source:
        return False
    return urlsplit(source).netloc.lower() == host.lower()


def host_allowed(host: str | None, allowed: tuple[str, ...]) -> bool:
    """True when the Host header (port ignored) is one the console answers to."""
    if not host:
        return False
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    name = name.strip("[]").lower()
    return name in {h.strip("[]").lower() for h in allowed} or "*" in allowed
