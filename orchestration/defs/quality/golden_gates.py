"""Blocking Great Expectations gates on the golden records (entity-resolution marts)."""

import dagster as dg

from expectations.golden import GOLDEN_SUITES, MARTS_SCHEMA
from orchestration.defs.quality.checks import build_stage_gates

golden_quality_gates = build_stage_gates(
    "golden", {dg.AssetKey([MARTS_SCHEMA, model]): suite for model, suite in GOLDEN_SUITES.items()}
)
