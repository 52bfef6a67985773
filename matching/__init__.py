"""Entity resolution library (no Dagster): normalization, blocking, pair scoring, clustering, survivorship.

Callable on a DataFrame on its own; the dbt Python models under `dbt_project/models/intermediate/entities/`
call it on the warehouse tables. See docs/entity-resolution.md.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matching.cluster import cluster_pairs
    from matching.contacts import CONTACT_COLUMNS, MatchConfig, prepare_contact_features, score_contact_pairs
    from matching.resolve import ContactResolution, resolve_contacts, resolve_contacts_incremental

__all__ = [
    "CONTACT_COLUMNS",
    "ContactResolution",
    "MatchConfig",
    "cluster_pairs",
    "prepare_contact_features",
    "resolve_contacts",
    "resolve_contacts_incremental",
    "score_contact_pairs",
]

# Imported on first use (PEP 562): a dbt Python model that needs one module (accounts, survivorship, junk) does
# not import the whole library, and the package import itself takes no module locks a model's import could wait on.
_LAZY = {
    "cluster_pairs": "matching.cluster",
    "CONTACT_COLUMNS": "matching.contacts",
    "MatchConfig": "matching.contacts",
    "prepare_contact_features": "matching.contacts",
    "score_contact_pairs": "matching.contacts",
    "ContactResolution": "matching.resolve",
    "resolve_contacts": "matching.resolve",
    "resolve_contacts_incremental": "matching.resolve",
}


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'matching' has no attribute {name!r}")
