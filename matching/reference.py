"""Reference lists shared with the dbt project: read from its seed files, so each list lives in one place."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

SEEDS_DIR = Path(__file__).resolve().parent.parent / "dbt_project" / "seeds"


@cache
def seed_column(seed: str, column: str) -> frozenset[str]:
    """The distinct non-blank values of one column of a dbt seed (`dbt_project/seeds/<seed>.csv`)."""
    with open(SEEDS_DIR / f"{seed}.csv", newline="", encoding="utf-8") as handle:
        return frozenset(row[column].strip().lower() for row in csv.DictReader(handle) if row[column].strip())


def free_mail_domains() -> frozenset[str]:
    """Personal mailbox providers (gmail.com ...): an address there says nothing about the employer."""
    return seed_column("er_free_mail_domains", "domain")


def multi_label_public_suffixes() -> frozenset[str]:
    """Public suffixes of two labels (co.uk, com.au ...): the registrable domain then has three labels."""
    return seed_column("er_public_suffixes", "suffix")


def legal_suffixes() -> frozenset[str]:
    """Company legal-form words (inc, gmbh, pty ltd ...), lowercase, punctuation removed."""
    return seed_column("er_legal_suffixes", "suffix")
