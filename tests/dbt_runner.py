"""Run the dbt project as a test needs it: against one warehouse file, with the test's own target and log folders."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"


def run_dbt(
    warehouse: Path, work_dir: Path, *args: str, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`dbt <args>` on `warehouse`; target and logs under `work_dir`. The completed process (output captured)."""
    env = {
        **os.environ,
        "ACTIONHOUSE_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra_env or {}),
    }
    cmd = [
        str(DBT) if DBT.exists() else "dbt",
        *args,
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(work_dir / "target"),
        "--log-path",
        str(work_dir / "logs"),
    ]
    return subprocess.run(cmd, env=env, cwd=DBT_PROJECT, capture_output=True, text=True, timeout=600)


def create_dev_raw(database: Path, empty: bool = False) -> Path:
    """The dbt project's small hand-made raw tables (`dbt_project/scripts/create_dev_raw.py`) in `database`."""
    spec = importlib.util.spec_from_file_location("create_dev_raw", DBT_PROJECT / "scripts" / "create_dev_raw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_dev_raw(database, empty=empty)
