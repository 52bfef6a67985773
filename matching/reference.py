"""Reference lists shared with the dbt project: read from its seed files, so each list lives in one place."""

from __future__ import annotations

import csv
import hashlib
from functools import cache
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"


@cache
def seed_column(seed: str, column: str) -> frozenset[str]:
    """The distinct non-blank values of one column of a dbt seed (`dbt_project/seeds/<seed>.csv`)."""
    with open(SEEDS_DIR / f"{seed}.csv", newline="", encoding="utf-8") as handle:
        return frozenset(row[column].strip().lower() for row in csv.DictReader(handle) if row[column].strip())


@cache
def seed_rows(seed: str, columns: tuple[str, ...]) -> tuple[tuple[str, ...], ...]:
    """The rows of a dbt seed, lowercased and stripped, as tuples of the given columns."""
    with open(SEEDS_DIR / f"{seed}.csv", newline="", encoding="utf-8") as handle:
        return tuple(tuple(row[c].strip().lower() for c in columns) for row in csv.DictReader(handle))


@cache
def reference_fingerprint() -> str:
    """A hash of every matcher seed file (`er_*.csv`): an incremental model whose rules read these lists stores
    it, and processes every row again when a list changed (the warehouse's seed tables are not its input)."""
    digest = hashlib.sha256()
    for path in sorted(SEEDS_DIR.glob("er_*.csv")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def free_mail_domains() -> frozenset[str]:
    """Personal mailbox providers (gmail.com ...): an address there says nothing about the employer."""
    return seed_column("er_free_mail_domains", "domain")


def legal_suffixes() -> frozenset[str]:
    """Company legal-form words (inc, gmbh, pty ltd ...), lowercase, punctuation removed."""
    return seed_column("er_legal_suffixes", "suffix")


def name_particles() -> frozenset[str]:
    """Surname particles (van, von, der, de, da, dos, la ...): "van der Berg" and "Berg" are one surname."""
    return seed_column("er_name_particles", "particle")


def placeholder_company_names() -> frozenset[str]:
    """What a CRM field holds when no company was given ("n/a", "none", "unknown", "-"): no company at all."""
    return seed_column("er_placeholder_companies", "name")


def role_mailbox_names() -> frozenset[str]:
    """Mailbox names of a function, not a person (info, sales, vertrieb, contato ...): shared by whoever works there."""
    return seed_column("er_role_mailboxes", "mailbox")
