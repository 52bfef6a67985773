"""Sample CRM world generator for Actionhouse.

Writes landing files that follow docs/landing-contract.md plus a hidden `truth/` folder (who is who,
which records are duplicates, which leads are junk, true reply classes, wrong enrichment values) that
only evaluation code reads. No Dagster imports: the CLI and tests call it directly.
"""

from .hard_cases import HardWorldSummary, generate_hard_world
from .world import WorldSummary, generate_next_hours, generate_world, load_truth

__all__ = ["HardWorldSummary", "WorldSummary", "generate_hard_world", "generate_next_hours", "generate_world",
           "load_truth"]
