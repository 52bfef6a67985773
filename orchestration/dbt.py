"""The one cached dbt project of Actionhouse and how its manifest gets prepared."""

from __future__ import annotations

import shutil
import sys
from functools import cache
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject

from orchestration.settings import DBT_PROJECT_DIR


def dbt_executable() -> str:
    """The dbt installed beside this Python (dagster-dbt would otherwise look `dbt` up on PATH)."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


@cache
def actionhouse_dbt_project() -> DbtProject:
    """The dbt project, with profiles kept inside it."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def dbt_cli_resource() -> DbtCliResource:
    """The dbt CLI resource bound to the project and the venv's dbt."""
    return DbtCliResource(project_dir=actionhouse_dbt_project(), dbt_executable=dbt_executable())


def prepare_dbt_manifest() -> Path:
    """Parse the dbt project into `target/manifest.json` (run before loading definitions, never at import)."""
    project = actionhouse_dbt_project()
    # The stock preparer runs whatever `dbt` is on PATH; use the one beside this Python instead.
    dbt_cli_resource().cli(["parse", "--quiet"], target_path=project.target_path).wait()
    return project.manifest_path
