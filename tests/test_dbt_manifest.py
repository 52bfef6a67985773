"""Preparing the dbt manifest (`orchestration.dbt.prepare_dbt_manifest`): skipped when nothing dbt reads changed,
parsed again (and right) when a model file changes."""

from __future__ import annotations

import json
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from dagster_dbt import DbtProject
from filelock import FileLock

from orchestration.dbt import MANIFEST_LOCK_FILE, dbt_cli_resource, manifest_key, prepare_dbt_manifest

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
    # profiles.yml reads ACTIONHOUSE_WAREHOUSE and dbt_project.yml ACTIONHOUSE_EXPORT_TIMEZONE.
    assert manifest_key(project, {**env, "ACTIONHOUSE_WAREHOUSE": "/b/warehouse.duckdb"}) != key
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


def test_dbt_commands_start_without_a_dbt_adapter_in_this_process():
    # dagster-dbt's adapter serves only `fetch_row_counts` / `fetch_column_metadata` (not used here); building it
    # cost every dbt step 1-3 s. The dbt process itself is unchanged (the parse test above runs one).
    assert dbt_cli_resource()._initialize_dbt_core_adapter(["build"]) is None
