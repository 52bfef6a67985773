"""The Actionhouse code location: everything under `orchestration/defs/`, one folder per domain."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    """Load every domain folder under `defs/`."""
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
