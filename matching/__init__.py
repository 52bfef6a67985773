"""Entity resolution library (no Dagster): normalization, blocking, pair scoring, clustering, survivorship.

Callable on a DataFrame on its own; the dbt Python models under `dbt_project/models/intermediate/entities/`
call it on the warehouse tables. See docs/entity-resolution.md.
"""

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
