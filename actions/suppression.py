"""The global suppression list: emails and domains nobody reaches, with the reason and source kept forever.

Append-only (the store refuses updates and deletes). Adding what is already listed for the same reason and scope
is a no-op, so hourly runs can offer every unsubscribe they see. Scope `all` suppresses every contact-reaching
action; scope `prospecting` only prospecting (e.g. existing customers still get service and renewals).
"""

from __future__ import annotations

from collections.abc import Iterable
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
        entries = list(entries)
        for entry in entries:
            if entry.kind not in KINDS:
                raise ValueError(f"suppression kind must be one of {KINDS}, not {entry.kind!r}")
            if entry.scope not in SCOPES:
                raise ValueError(f"suppression scope must be one of {SCOPES}, not {entry.scope!r}")
        with self.engine.begin() as con:
            # Every hour offers every entry it sees (~146,000 at 1M contacts), nearly all listed already: each is
            # tested by its key, and only a new one becomes a row.
            existing = {
                (k, v, s, r)
                for k, v, s, r in con.execute(
                    sa.select(suppressions.c.kind, suppressions.c.value, suppressions.c.scope, suppressions.c.reason)
                )
            }
            for entry in entries:
                value = normalize_value(entry.kind, entry.value)
                key = (entry.kind, value, entry.scope, entry.reason)
                if not value or key in existing or key in seen:
                    continue
                seen.add(key)
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
