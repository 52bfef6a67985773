"""Preparing the dbt manifest (`orchestration.dbt.prepare_dbt_manifest`): skipped when nothing dbt reads changed,
parsed again (and right) when a model file changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from dagster_dbt import DbtProject
from filelock import FileLock

from orchestration.dbt import (
    MANIFEST_LOCK_FILE,
    build_target_path,
    dbt_cli_resource,
    manifest_key,
    prepare_dbt_manifest,
    warehouse_database_name,
)

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"


def _copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages", ".user.yml"))
    return project


def test_manifest_key_follows_project_files_env_vars_they_read_and_nothing_else(tmp_path):
    project = _copy_project(tmp_path)
    env = {"ACTIONHOUSE_WAREHOUSE": "/a/warehouse.duckdb", "UNRELATED": "1"}
    key = manifest_key(project, env)
    assert manifest_key(project, {**env, "UNRELATED": "2"}) == key
    (project / "target").mkdir()
    (project / "target" / "manifest.json").write_text("{}")  # dbt's own output is not an input
    assert manifest_key(project, env) == key
    # profiles.yml reads ACTIONHOUSE_WAREHOUSE and dbt_project.yml ACTIONHOUSE_EXPORT_TIMEZONE. Of the warehouse
    # only the database name dbt-duckdb derives from the file counts: another data folder parses the same.
    assert manifest_key(project, {**env, "ACTIONHOUSE_WAREHOUSE": "/b/warehouse.duckdb"}) == key
    assert manifest_key(project, {**env, "ACTIONHOUSE_WAREHOUSE": "/a/archive.duckdb"}) != key
    assert manifest_key(project, {**env, "ACTIONHOUSE_EXPORT_TIMEZONE": "Europe/Paris"}) != key
    assert manifest_key(project, {**env, "DBT_PARTIAL_PARSE": "false"}) != key
    model = project / "models" / "marts" / "entities" / "dim_contacts.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    assert manifest_key(project, env) != key


def test_an_unchanged_project_is_not_parsed_again_and_a_changed_model_is(tmp_path, monkeypatch):
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE", str(tmp_path / "warehouse.duckdb"))
    project = DbtProject(project_dir=_copy_project(tmp_path), profiles_dir=tmp_path / "dbt_project")
    manifest = prepare_dbt_manifest(project)
    stamp = manifest.stat().st_mtime_ns
    assert prepare_dbt_manifest(project) == manifest
    assert manifest.stat().st_mtime_ns == stamp  # no dbt parse ran
    # Another data folder's warehouse file of the same name: the same manifest (see the test below), no parse.
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE", str(tmp_path / "elsewhere" / "warehouse.duckdb"))
    assert prepare_dbt_manifest(project) == manifest
    assert manifest.stat().st_mtime_ns == stamp

    # While another process prepares (holds the lock), a second one waits, then finds the manifest current.
    with ThreadPoolExecutor(1) as pool:
        with FileLock(manifest.parent / MANIFEST_LOCK_FILE):
            waiting = pool.submit(prepare_dbt_manifest, project)
            time.sleep(0.5)
            assert not waiting.done()
        assert waiting.result(timeout=60) == manifest and manifest.stat().st_mtime_ns == stamp

    model = Path(project.project_dir) / "models" / "marts" / "entities" / "dim_contacts.sql"
    model.write_text(model.read_text() + "\n-- parsed again after this edit\n")
    prepare_dbt_manifest(project)
    nodes = json.loads(manifest.read_text())["nodes"]
    assert "-- parsed again after this edit" in nodes["model.actionhouse.dim_contacts"]["raw_code"]

    # A manifest rewritten by another dbt command (e.g. a hand-run `dbt compile`) is not trusted either.
    manifest.write_text(manifest.read_text())
    stamp = manifest.stat().st_mtime_ns
    prepare_dbt_manifest(project)
    assert manifest.stat().st_mtime_ns != stamp


def test_after_a_parse_the_build_folder_starts_from_it_instead_of_parsing_the_project_again(tmp_path, monkeypatch):
    # A project changed, in a data folder the build folder has not seen: the refresh parses before loading its
    # definitions, and its `dbt build` (own target folder) used to parse the whole project a second time.
    project_dir = _copy_project(tmp_path)
    project = DbtProject(project_dir=project_dir, profiles_dir=project_dir)
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE", str(tmp_path / "first" / "warehouse.duckdb"))
    prepare_dbt_manifest(project)
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE", str(tmp_path / "second" / "warehouse.duckdb"))
    model = project_dir / "models" / "marts" / "entities" / "dim_contacts.sql"
    model.write_text(model.read_text() + "\n-- changed\n")
    prepare_dbt_manifest(project)

    build = subprocess.run(
        [sys.executable, "-m", "orchestration.dbt_process", "parse", "--project-dir", str(project_dir),
         "--profiles-dir", str(project_dir), "--target-path", str(build_target_path(project))],
        cwd=project_dir, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert "Unable to do partial parsing" not in build.stdout, build.stdout
    manifest = json.loads((build_target_path(project) / "manifest.json").read_text())
    assert "-- changed" in manifest["nodes"]["model.actionhouse.dim_contacts"]["raw_code"]


def test_dbt_commands_start_without_a_dbt_adapter_in_this_process():
    # dagster-dbt's adapter serves only `fetch_row_counts` / `fetch_column_metadata` (not used here); building it
    # cost every dbt step 1-3 s. The dbt process itself is unchanged (the parse test above runs one).
    assert dbt_cli_resource()._initialize_dbt_core_adapter(["build"]) is None


@pytest.mark.parametrize(
    "path",
    ["/data/warehouse.duckdb", "rel/x.db", "/a/my.db.duckdb", "/a/.hidden.duckdb", "/a/noext", ":memory:", "/q#r/w.db"],
)
def test_the_warehouse_database_name_is_dbt_duckdbs(path):
    from dbt.adapters.duckdb.credentials import DuckDBCredentials

    assert warehouse_database_name(path) == DuckDBCredentials.path_derived_database_name(path)


def test_a_warehouse_file_of_the_same_name_elsewhere_parses_to_the_same_manifest(tmp_path):
    """Why `manifest_key` keeps only the warehouse's database name: two parses, in two data folders, differ only in
    when they ran."""

    def parsed(folder: str) -> dict:
        target = tmp_path / folder / "target"
        env = {**os.environ, "ACTIONHOUSE_WAREHOUSE": str(tmp_path / folder / "warehouse.duckdb")}
        subprocess.run(
            [sys.executable, "-m", "orchestration.dbt_process", "parse", "--quiet", "--project-dir", str(DBT_PROJECT),
             "--profiles-dir", str(DBT_PROJECT), "--target-path", str(target)],
            env=env, cwd=DBT_PROJECT, check=True,
        )  # fmt: skip
        return json.loads((target / "manifest.json").read_text())

    def without_times(value):
        if isinstance(value, dict):
            return {key: without_times(item) for key, item in value.items() if key not in ("created_at", "metadata")}
        if isinstance(value, list):
            return [without_times(item) for item in value]
        return value

    first, second = parsed("one"), parsed("two")
    assert first["nodes"]["model.actionhouse.dim_contacts"]["database"] == "warehouse"
    assert without_times(first) == without_times(second)
