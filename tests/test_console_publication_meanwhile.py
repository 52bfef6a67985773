"""The console's publication prepared while the planner's step runs, swapped in by its own step
(`orchestration/defs/console/assets.py`): the same file as a publication made in its step, made again when the
warehouse was written to meanwhile, never started for a run without the publication's step, and deleted when that
step does not run."""

import dagster as dg
import duckdb
import pytest
from console_world import build_warehouse, publish_warehouse

from console.publish import publish
from orchestration.defs.actions.assets import PROPOSALS_KEY
from orchestration.defs.console import assets as console_assets
from orchestration.defs.console.assets import prepare_publication_meanwhile, publication
from orchestration.resources import WarehouseResource


@pytest.fixture
def data_dir(tmp_path, monkeypatch):
    folder = tmp_path / "data"
    folder.mkdir()
    build_warehouse(folder / "warehouse.duckdb")
    monkeypatch.setenv("ACTIONHOUSE_DATA_DIR", str(folder))
    monkeypatch.setenv("ACTIONHOUSE_MODELS_DIR", str(folder / "models"))
    return folder


def _resources(data_dir):
    return {"warehouse": WarehouseResource(database_path=str(data_dir / "warehouse.duckdb"), landing_dir=str(data_dir))}


def _planner(write_meanwhile: str | None = None, fail: bool = False):
    """A stand-in for the planner's step (same key): starts the publication as the real one does, then optionally
    writes to the warehouse (as a step running between the two could) or fails."""

    @dg.asset(key=PROPOSALS_KEY)
    def planner(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
        started = prepare_publication_meanwhile(context, warehouse)
        if write_meanwhile:
            with warehouse.connect() as con:  # waits for the preparation's read-only connection
                con.execute(write_meanwhile)
        if fail:
            raise RuntimeError("planning failed")
        return dg.MaterializeResult(metadata={"publication_started": started})

    return planner


def _tables(path) -> dict[str, tuple]:
    """Every table of a publication but its info: rows (sorted) by table."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("select table_name from duckdb_tables() order by 1").fetchall()]
        return {
            name: tuple(sorted(map(repr, con.execute(f"select * from {name}").fetchall())))
            for name in names
            if name != "publication_info"
        }
    finally:
        con.close()


def _leftovers(data_dir) -> list[str]:
    return sorted(p.name for p in (data_dir / "console").iterdir() if p.name.endswith((".tmp", ".tmp.wal")))


def _materialization(result, key) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event.materialization.metadata


def test_the_publication_prepared_while_planning_is_swapped_in_and_equals_one_made_in_its_step(data_dir, tmp_path):
    result = dg.materialize([_planner(), publication], resources=_resources(data_dir))
    assert result.success
    assert _materialization(result, PROPOSALS_KEY)["publication_started"].value is True
    assert _materialization(result, publication.key)["prepared_while_planning"].value is True
    published = data_dir / "console" / "publication.duckdb"
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        reference = publish(con, tmp_path / "reference.duckdb", run_id="ref", models_dir=data_dir / "models")
    finally:
        con.close()
    assert reference.rows and _tables(published) == _tables(tmp_path / "reference.duckdb")
    con = duckdb.connect(str(published), read_only=True)
    try:
        assert con.execute("select refresh_run_id from publication_info").fetchone()[0] == result.run_id
    finally:
        con.close()
    assert _leftovers(data_dir) == []


def test_a_warehouse_written_meanwhile_is_published_again(data_dir):
    # The write waits for the preparation (DuckDB refuses a read-write connection beside this process's read-only
    # one), changes the warehouse's files, and the publication's step then publishes the warehouse as it is.
    write = "update ml.lead_scores set combined_score = 0.123456"
    result = dg.materialize([_planner(write_meanwhile=write), publication], resources=_resources(data_dir))
    assert result.success
    assert _materialization(result, publication.key)["prepared_while_planning"].value is False
    con = duckdb.connect(str(data_dir / "console" / "publication.duckdb"), read_only=True)
    try:
        assert con.execute("select distinct combined_score from lead_scores").fetchall() == [(0.123456,)]
    finally:
        con.close()
    assert _leftovers(data_dir) == []


def test_nothing_is_prepared_for_a_run_without_the_publication(data_dir):
    result = dg.materialize([_planner()], resources=_resources(data_dir))
    assert result.success
    assert _materialization(result, PROPOSALS_KEY)["publication_started"].value is False
    assert not (data_dir / "console").exists() or _leftovers(data_dir) == []
    assert not (data_dir / "console" / "publication.duckdb").exists()


def test_a_publication_whose_step_did_not_run_is_deleted_not_swapped_in(data_dir):
    previous = publish_warehouse(data_dir / "warehouse.duckdb", data_dir / "console" / "publication.duckdb", "before")
    assert previous.rows
    result = dg.materialize([_planner(fail=True), publication], resources=_resources(data_dir), raise_on_error=False)
    assert not result.success
    console_assets._discard_all_unclaimed()  # what the process's exit does (the preparation has ended by then)
    assert _leftovers(data_dir) == []
    con = duckdb.connect(str(data_dir / "console" / "publication.duckdb"), read_only=True)
    try:
        assert con.execute("select refresh_run_id from publication_info").fetchone()[0] == "before"
    finally:
        con.close()
