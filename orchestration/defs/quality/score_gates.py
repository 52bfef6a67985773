"""Blocking Great Expectations gate on the score log (ranges, no nulls, every lead scored once per run)."""

import dagster as dg

from expectations.scores import SCORES_SUITES
from orchestration.defs.quality.checks import build_stage_gates

scores_quality_gates = build_stage_gates(
    "scores", {dg.AssetKey(["ml", model]): suite for model, suite in SCORES_SUITES.items()}
)
