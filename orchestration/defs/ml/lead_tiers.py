"""The lead tiers asset: each golden contact's first tier copied into `raw.lead_tiers` for the outcome marts.

Wiring only; the copy is `ml.lead_tiers`. Like `raw/decision_log`, the asset has no upstream asset on purpose: it
copies the tiers the previous refreshes scored, at the start of a refresh, so the outcome marts (dbt) can group
leads by tier in the same `dbt build` without a cycle through the `ml` assets, which run after dbt.
"""

import dagster as dg

from ml.lead_tiers import TABLE, copy_lead_tiers
from orchestration.defs.ml.copies import copy_asset

LEAD_TIERS_KEY = dg.AssetKey(["raw", "lead_tiers"])

lead_tiers = copy_asset(
    key=LEAD_TIERS_KEY,
    table=TABLE,
    copy=copy_lead_tiers,
    description=f"Each golden contact's tier at its first scoring (1-3), one row each, copied into {TABLE} from "
    "the published scores at each refresh: how the outcome marts split leads by tier without a cycle through the "
    "ml assets (docs/outcomes.md).",
    summary=lambda report: f"lead tiers: {report.rows} golden contacts ({report.new} scored for the first time)",
)
