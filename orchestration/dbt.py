"""The one cached dbt project of Actionhouse and how its manifest gets prepared."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import sys
from collections.abc import Mapping, Sequence
from functools import cache, cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from dagster_dbt import DbtCliResource, DbtProject
from filelock import FileLock
from packaging.version import Version

from orchestration.settings import DBT_PROJECT_DIR

# What dbt writes into the project folder: not part of what the manifest is parsed from.
_NOT_PROJECT_FILES = {"target", "logs", "dbt_packages", ".user.yml"}
_ENV_VAR_CALL = re.compile(rb"""env_var\(\s*['"]([A-Za-z0-9_]+)['"]""")
MANIFEST_KEY_FILE = "manifest.key.json"
# The profile's warehouse file (profiles.yml). dbt-duckdb names the database after the file, and that name is all the
# parsed manifest holds of it (the nodes' `database`): a refresh in another data folder needs no new parse.
WAREHOUSE_PATH_VARIABLE = "ACTIONHOUSE_WAREHOUSE"
MANIFEST_LOCK_FILE = "manifest.lock"
# The refresh's `dbt build` writes into a target folder of its own (run results, compiled SQL, its partial parse), so
# that its manifest never replaces the one the definitions are loaded from.
BUILD_TARGET_FOLDER = "build"
# dbt's saved parse state, which its next command in the same target folder starts from (dbt's own file name).
PARTIAL_PARSE_FILE = "partial_parse.msgpack"


def dbt_executable() -> str:
    """The dbt installed beside this Python (dagster-dbt would otherwise look `dbt` up on PATH)."""
    beside_python = Path(sys.executable).parent / "dbt"
    return str(beside_python) if beside_python.exists() else (shutil.which("dbt") or "dbt")


class ActionhouseDbtCliResource(DbtCliResource):
    """dagster-dbt's resource, without its `dbt --version` process per resource instance (a dbt start plus an
    online version check, ~3-7 s of every refresh): the dbt beside this Python is the installed dbt-core; and
    without the dbt adapter it builds in this process before each dbt command (below)."""

    @cached_property
    def _cli_version(self) -> Version:
        if Path(self.dbt_executable).parent == Path(sys.executable).parent:
            return Version(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        """No adapter. dagster-dbt loads the dbt profile and project and registers a dbt-duckdb adapter in this
        process before starting each dbt command (~1-3 s of the dbt step here), for its `fetch_row_counts` and
        `fetch_column_metadata` only, which this project does not use (`orchestration.metadata.tables_metadata`
        gives the row counts and columns); the events of `stream()` do not depend on it."""
        return None


@cache
def actionhouse_dbt_project() -> DbtProject:
    """The dbt project, with profiles kept inside it."""
    return DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


# dbt's command line without building the ~6,000 debug log lines of a build that no logger writes
# (`orchestration.dbt_process`): ~3 s of CPU a build. dagster-dbt runs `[dbt_executable, *global_config_flags,
# *args]`.
DBT_PROCESS_ARGS = ["-m", "orchestration.dbt_process"]
# dbt's own log file (in the build folder) at its default debug level, as JSON, grows ~13 MB a run, up to six
# rotated 10 MB files. Dagster's run log already has dbt's progress lines; the file keeps warnings and errors.
DBT_FILE_LOG = ["--log-level-file", "warn", "--log-format-file", "text"]


def build_target_path(project: DbtProject | None = None) -> Path:
    """The target folder of the refresh's `dbt build` (`BUILD_TARGET_FOLDER` inside the project's target folder)."""
    project = project or actionhouse_dbt_project()
    return Path(project.project_dir).joinpath(project.target_path, BUILD_TARGET_FOLDER)


def dbt_cli_resource(project: DbtProject | None = None) -> DbtCliResource:
    """The dbt CLI resource bound to the project and the venv's dbt, run as `python -m orchestration.dbt_process`
    when that dbt is the one beside this Python (the installed dbt-core), else as that executable."""
    project_dir = project or actionhouse_dbt_project()
    executable = dbt_executable()
    if Path(executable).parent == Path(sys.executable).parent:
        return ActionhouseDbtCliResource(
            project_dir=project_dir, dbt_executable=sys.executable, global_config_flags=DBT_PROCESS_ARGS
        )
    return ActionhouseDbtCliResource(project_dir=project_dir, dbt_executable=executable)


def manifest_key(project_dir: Path, environ: Mapping[str, str] | None = None) -> str:
    """A hash of everything `dbt parse` reads: the project's files (paths and contents), the values of the
    environment variables they name with `env_var(...)` and of every `DBT_*` variable, and dbt's versions.
    Of the warehouse's path only the database name dbt-duckdb derives from it counts (`warehouse_database_name`).
    Equal keys parse to the same manifest."""
    environ = os.environ if environ is None else environ
    digest = hashlib.sha256()
    names: set[str] = set()
    for path in sorted(project_dir.rglob("*")):
        relative = path.relative_to(project_dir)
        if relative.parts[0] in _NOT_PROJECT_FILES or not path.is_file():
            continue
        content = path.read_bytes()
        names.update(name.decode() for name in _ENV_VAR_CALL.findall(content))
        digest.update(relative.as_posix().encode() + b"\0" + hashlib.sha256(content).digest())
    names.update(name for name in environ if name.startswith("DBT_"))
    for name in sorted(names):
        value = environ.get(name)
        if name == WAREHOUSE_PATH_VARIABLE and value is not None:
            value = warehouse_database_name(value)
        digest.update(f"{name}={value}\0".encode())
    for package in ("dbt-core", "dbt-duckdb"):
        digest.update(f"{package}=={importlib.metadata.version(package)}\0".encode())
    return digest.hexdigest()


def warehouse_database_name(path: str) -> str:
    """The database name dbt-duckdb gives a local warehouse file, as DuckDB names its catalog: the first non-empty
    dot-separated part of the file name (`/data/warehouse.duckdb` -> `warehouse`), as
    `DuckDBCredentials.path_derived_database_name` does (not imported: the refresh's process loads no dbt adapter).
    A path with a URL scheme (MotherDuck, DuckLake) is returned whole: any change to it counts."""
    if path == ":memory:":
        return "memory"
    parsed = urlparse(path)
    if parsed.scheme:
        return path
    return os.path.basename(parsed.path).lstrip(".").split(".")[0]


def _manifest_stamp(manifest: Path) -> list[int]:
    stat = manifest.stat()
    return [stat.st_size, stat.st_mtime_ns]


def prepare_dbt_manifest(project: DbtProject | None = None) -> Path:
    """Parse the dbt project into `target/manifest.json` (run before loading definitions, never at import).

    Skipped when the manifest there was parsed by this function from the same project files, environment and
    dbt (`manifest_key`) and has not been rewritten since: a refresh whose project did not change starts no dbt
    process here. Otherwise `dbt parse` runs, itself partial (only changed files are parsed again)."""
    project = project or actionhouse_dbt_project()
    manifest = Path(project.manifest_path)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    # Two processes preparing at once (a scheduled refresh beside `dg dev`, or parallel test workers) would run two
    # parses into one target folder: the second waits for the first, then finds its manifest current.
    with FileLock(manifest.parent / MANIFEST_LOCK_FILE):
        return _prepare_locked(project, manifest)


def _prepare_locked(project: DbtProject, manifest: Path) -> Path:
    key_file = manifest.parent / MANIFEST_KEY_FILE
    key = manifest_key(Path(project.project_dir))
    try:
        saved = json.loads(key_file.read_text())
        if saved["key"] == key and saved["manifest"] == _manifest_stamp(manifest):
            return manifest
    except (OSError, ValueError, KeyError, TypeError):
        pass
    key_file.unlink(missing_ok=True)  # a parse that fails or is interrupted leaves no key behind
    # The stock preparer runs whatever `dbt` is on PATH; use the one beside this Python instead.
    dbt_cli_resource(project).cli(["parse", "--quiet"], target_path=project.target_path).wait()
    _share_partial_parse_with_build(project)
    key_file.write_text(json.dumps({"key": key, "manifest": _manifest_stamp(manifest)}) + "\n")
    return manifest


def _share_partial_parse_with_build(project: DbtProject) -> None:
    """Give the build folder the parse state just saved. dbt keeps a partial parse per target folder and keys it
    on the project's files and on the profile's connection (the warehouse's path): the build folder's, saved before
    the project changed or for another data folder, would make the next `dbt build` parse the project again
    (~2.5 s of a refresh), in this same environment, to the state just saved here. dbt checks the file on load
    and parses again when it does not fit (a build run with other settings)."""
    saved = Path(project.project_dir).joinpath(project.target_path, PARTIAL_PARSE_FILE)
    if not saved.exists():
        return
    destination = build_target_path(project) / PARTIAL_PARSE_FILE
    destination.parent.mkdir(parents=True, exist_ok=True)
    # Written whole, then renamed into place: a build starting meanwhile reads the old file or the new, never half.
    partial = destination.with_name(f".{PARTIAL_PARSE_FILE}.{os.getpid()}")
    shutil.copyfile(saved, partial)
    os.replace(partial, destination)
