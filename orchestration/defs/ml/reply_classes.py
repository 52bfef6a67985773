"""The reply classes asset: the reply classifier's answers copied into `raw.reply_classes` for the outcome marts.

Wiring only; the copy is `ml.reply_classes`. Like `raw/decision_log` and `raw/lead_tiers`, the asset has no upstream
asset on purpose: it copies the classifications the previous refreshes made, at the start of a refresh, so the
outcome marts (dbt) can count positive replies in the same `dbt build` without a cycle through the `ml` assets,
which run after dbt.
"""

import dagster as dg

from ml.reply_classes import TABLE, copy_reply_classes
from orchestration.defs.ml.copies import copy_asset

REPLY_CLASSES_KEY = dg.AssetKey(["raw", "reply_classes"])

reply_classes = copy_asset(
    key=REPLY_CLASSES_KEY,
    table=TABLE,
    copy=copy_reply_classes,
    description=f"Every email reply classification (reply, class, model version), appended into {TABLE} from "
    "ml.reply_classifications at each refresh, only those not copied yet: how the outcome marts count positive "
    "replies without a cycle through the ml assets (docs/outcomes.md).",
    summary=lambda report: f"reply classes: {report.new} classifications copied ({report.rows} in all)",
)
