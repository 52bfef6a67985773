"""The global suppression list: emails and domains nobody reaches, with the reason and source kept forever.

Append-only (the store refuses updates and deletes). Adding what is already listed for the same reason and scope
is a no-op, so hourly runs can offer every unsubscribe they see. Scope `all` suppresses every contact-reaching
action; scope `prospecting` only prospecting (e.g. existing customers still get service and renewals).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ops_store.bulk import insert_many
from ops_store.schema import suppressions, utc_now

SCOPES = ("all", "prospecting")
KINDS = ("email", "domain")


@dataclass(frozen=True)
class SuppressionEntry:
    """A value to put on the list, and why."""

    kind: str
    value: str
    reason: str
    source: str
    scope: str = "all"
    evidence: dict[str, Any] | None = None

    def key(self) -> tuple[str, str, str, str]:
        return (self.kind, self.value, self.scope, self.reason)


class LazyEntries(Sequence[SuppressionEntry]):
    """Entries offered to the list, each built only when it is read: their keys up front, and how to build the
    entry at a position.

    Every hour offers every entry the signals give (~146,000 at 1M contacts), and nearly all are listed already:
    merging them into the planner's snapshot and adding them to the list need only their keys (`entry_keys`), so
    the entries themselves (their source and evidence) are built for the few that are new. Reading one gives the
    `SuppressionEntry` the list held before; `extra` follow the keyed ones, as they are."""

    __slots__ = ("_keys", "_make", "_extra")

    def __init__(
        self,
        keys: list[tuple[str, str, str, str]],
        make: Callable[[int], SuppressionEntry],
        extra: list[SuppressionEntry] | None = None,
    ) -> None:
        self._keys = keys  # (kind, value, scope, reason) as `SuppressionEntry.key()` gives them
        self._make = make
        self._extra = list(extra or [])

    def __len__(self) -> int:
        return len(self._keys) + len(self._extra)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        return self._make(index) if index < len(self._keys) else self._extra[index - len(self._keys)]

    def __iter__(self) -> Iterator[SuppressionEntry]:
        for i in range(len(self._keys)):
            yield self._make(i)
        yield from self._extra

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Sequence) and not isinstance(other, str):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"LazyEntries({len(self)} entries)"

    def keys(self) -> list[tuple[str, str, str, str]]:
        """Every entry's `key()`, in order, without building the entries."""
        return [*self._keys, *(e.key() for e in self._extra)]


def entry_keys(entries: Sequence[SuppressionEntry]) -> list[tuple[str, str, str, str]]:
    """Each entry's `key()` (kind, value as offered, scope, reason), in order; a `LazyEntries` builds none."""
    if isinstance(entries, LazyEntries):
        return entries.keys()
    return [e.key() for e in entries]


def normalize_value(kind: str, value: str) -> str:
    """Emails and domains are compared lowercased and trimmed (a leading '@' on a domain is dropped)."""
    value = value.strip().lower()
    return value.removeprefix("@") if kind == "domain" else value


@dataclass(frozen=True)
class SuppressionSnapshot:
    """Everything on the list at one moment, for fast membership tests while planning."""

    emails: dict[str, str]  # email -> first reason
    domains: dict[str, str]
    prospecting_emails: dict[str, str]
    prospecting_domains: dict[str, str]

    def reason(self, emails: Iterable[str], domain: str | None, prospecting: bool = False) -> str | None:
        """Why a contact with these emails / domain is suppressed (None if not)."""
        for email in emails:
            email = email.lower()
            if email in self.emails:
                return f"{email} is suppressed ({self.emails[email]})"
            email_domain = email.rsplit("@", 1)[-1]
            if email_domain in self.domains:
                return f"domain {email_domain} is suppressed ({self.domains[email_domain]})"
            if prospecting and email in self.prospecting_emails:
                return f"{email} is suppressed for prospecting ({self.prospecting_emails[email]})"
            if prospecting and email_domain in self.prospecting_domains:
                return f"domain {email_domain} is suppressed for prospecting ({self.prospecting_domains[email_domain]})"
        if domain:
            domain = domain.lower()
            if domain in self.domains:
                return f"domain {domain} is suppressed ({self.domains[domain]})"
            if prospecting and domain in self.prospecting_domains:
                return f"domain {domain} is suppressed for prospecting ({self.prospecting_domains[domain]})"
        return None


class SuppressionList:
    """Read and append the suppression list in the operational store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, entry: SuppressionEntry, added_by: str, at: datetime | None = None) -> bool:
        """Append one entry; False if the same value, scope and reason is already listed."""
        return self.add_many([entry], added_by, at) == 1

    def add_many(self, entries: Iterable[SuppressionEntry], added_by: str, at: datetime | None = None) -> int:
        """Append entries not listed yet (same kind, value, scope, reason); returns how many were added."""
        rows, seen = [], set()
        at = at or utc_now()
        if not isinstance(entries, LazyEntries):
            entries = list(entries)
        # The keys alone are read until an entry turns out to be new (a `LazyEntries` builds only those).
        keys = entry_keys(entries)
        for kind, _, scope, _ in keys:
            if kind not in KINDS:
                raise ValueError(f"suppression kind must be one of {KINDS}, not {kind!r}")
            if scope not in SCOPES:
                raise ValueError(f"suppression scope must be one of {SCOPES}, not {scope!r}")
        with self.engine.begin() as con:
            # Every hour offers every entry it sees (~146,000 at 1M contacts), nearly all listed already: each is
            # tested by its key, and only a new one becomes a row.
            existing = {
                (k, v, s, r)
                for k, v, s, r in con.execute(
                    sa.select(suppressions.c.kind, suppressions.c.value, suppressions.c.scope, suppressions.c.reason)
                )
            }
            for i, (kind, offered, scope, reason) in enumerate(keys):
                value = normalize_value(kind, offered)
                key = (kind, value, scope, reason)
                if not value or key in existing or key in seen:
                    continue
                seen.add(key)
                entry = entries[i]
                rows.append(
                    {
                        "kind": entry.kind,
                        "value": value,
                        "scope": entry.scope,
                        "reason": entry.reason,
                        "source": entry.source,
                        "evidence": entry.evidence,
                        "added_by": added_by,
                        "added_at": at,
                    }
                )
            if rows:
                insert_many(con, suppressions, rows)
        return len(rows)

    def snapshot(self) -> SuppressionSnapshot:
        """The whole list as lookup tables (first reason per value)."""
        maps: dict[tuple[str, str], dict[str, str]] = {(k, s): {} for k in KINDS for s in SCOPES}
        query = sa.select(suppressions.c.kind, suppressions.c.value, suppressions.c.scope, suppressions.c.reason)
        with self.engine.connect() as con:
            for kind, value, scope, reason in con.execute(query.order_by(suppressions.c.suppression_id)):
                maps[(kind, scope)].setdefault(value, reason)
        return SuppressionSnapshot(
            emails=maps[("email", "all")],
            domains=maps[("domain", "all")],
            prospecting_emails=maps[("email", "prospecting")],
            prospecting_domains=maps[("domain", "prospecting")],
        )

    def entries(self, value: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Rows of the list (oldest first), optionally only one value."""
        query = sa.select(suppressions).order_by(suppressions.c.suppression_id)
        if value:
            query = query.where(suppressions.c.value == value.strip().lower().removeprefix("@"))
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(query).mappings()]

    def count(self) -> int:
        """Rows on the list."""
        with self.engine.connect() as con:
            return con.execute(sa.select(sa.func.count()).select_from(suppressions)).scalar_one()
