"""The published scores copied while the drift check runs, swapped in by the lead_scores step (or copied again)."""

import dagster as dg
import duckdb
import pytest
from test_ml_dagster import _write_staging

from ml.pipeline import (
    PREPARED_TABLE,
    discard_prepared_scores,
    prepare_published_scores,
    publish_prepared_scores,
    publish_scores,
)
from ml.score_log import table_exists
from ml.synthetic import synthetic_leads


def _same_rows(con, left: str, right: str) -> bool:
    """Both tables hold the same columns (names, types, order) and the same rows (`except all` both ways)."""

    def columns(table: str):
        return con.execute(f"select column_name, column_type from (describe {table})").fetchall()

    if columns(left) != columns(right):
        return False
    return not con.execute(
        f"(select * from {left} except all select * from {right}) "
        f"union all (select * from {right} except all select * from {left})"
    ).fetchall()


def _log_run(con, run_id: str) -> str:
    """A view of one logged run's rows, as `publish_scores` copies them."""
    con.execute(f"create or replace temp view logged_run as select * from ml.score_log where run_id = '{run_id}'")
    return "logged_run"


@pytest.fixture
def scored(tmp_path, monkeypatch, warehouse):
    """A warehouse with a trained scorer and a first scoring run published (drift-free world)."""
    from orchestration.defs.ml.assets import lead_scorer, lead_scores, score_drift, score_log

    monkeypatch.setenv("ACTIONHOUSE_MODELS_DIR", str(tmp_path / "models"))
    data = synthetic_leads(2000, seed=4, stationary_days_after=30)
    _write_staging(warehouse.database_path, data)
    first = dg.materialize([lead_scorer, score_log, lead_scores, score_drift], resources={"warehouse": warehouse})
    assert first.success
    return data


def test_the_drift_checks_copy_is_what_gets_published(scored, warehouse, monkeypatch):
    from orchestration.defs.ml import assets
    from orchestration.defs.ml.assets import lead_scores, score_drift, score_log

    # The lead_scores step does not copy the run itself: it renames the copy the drift check made meanwhile.
    def no_copy_in_the_step(*_args, **_kwargs):
        raise AssertionError("the lead_scores step copied the run again")

    monkeypatch.setattr(assets, "publish_scores", no_copy_in_the_step)
    result = dg.materialize([score_log, lead_scores, score_drift], resources={"warehouse": warehouse})
    assert result.success
    meta = result.asset_materializations_for_node("ml__lead_scores")[0].metadata
    assert meta["run_id"].text == result.run_id and meta["latest_run_id"].text == result.run_id
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        assert not table_exists(con, PREPARED_TABLE)
        assert meta["dagster/row_count"].value == con.execute("select count(*) from ml.lead_scores").fetchone()[0]
        assert _same_rows(con, "ml.lead_scores", _log_run(con, result.run_id))


def test_a_failed_copy_is_made_again_by_the_step(scored, warehouse, monkeypatch):
    from orchestration.defs.ml import assets
    from orchestration.defs.ml.assets import lead_scores, score_drift, score_log

    def failing_copy(*_args, **_kwargs):
        raise duckdb.IOException("disk full")

    monkeypatch.setattr(assets, "prepare_published_scores", failing_copy)
    result = dg.materialize([score_log, lead_scores, score_drift], resources={"warehouse": warehouse})
    assert result.success
    assert [c.passed for c in result.get_asset_check_evaluations()] == [True]  # the check itself is unaffected
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        assert _same_rows(con, "ml.lead_scores", _log_run(con, result.run_id))


def test_nothing_is_copied_when_the_run_does_not_publish(scored, warehouse, monkeypatch):
    from orchestration.defs.ml import assets
    from orchestration.defs.ml.assets import score_drift, score_log

    def no_copy(*_args, **_kwargs):
        raise AssertionError("copied for a lead_scores step this run does not have")

    monkeypatch.setattr(assets, "prepare_published_scores", no_copy)
    result = dg.materialize([score_log, score_drift], resources={"warehouse": warehouse})
    assert result.success
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        assert not table_exists(con, PREPARED_TABLE)


def test_a_blocked_run_leaves_no_copy_and_the_published_scores_alone(scored, warehouse):
    from orchestration.defs.ml.assets import lead_scores, score_drift, score_log

    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        before = con.execute("select distinct run_id from ml.lead_scores").fetchall()
    _write_staging(warehouse.database_path, scored, pricing_boost=3)
    shifted = dg.materialize(
        [score_log, lead_scores, score_drift], resources={"warehouse": warehouse}, raise_on_error=False
    )
    assert shifted.get_asset_check_evaluations()[0].metadata["verdict"].text == "block"
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        assert not table_exists(con, PREPARED_TABLE)
        assert con.execute("select distinct run_id from ml.lead_scores").fetchall() == before


def test_a_copy_left_by_an_earlier_run_is_dropped_not_published(scored, warehouse):
    from orchestration.defs.ml.assets import lead_scores, score_log

    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        published = con.execute("select distinct run_id from ml.lead_scores").fetchall()[0][0]
    # A later run logged and copied, whose lead_scores step never ran (its gate failed): not judged, not published.
    later = dg.materialize([score_log], resources={"warehouse": warehouse})
    with duckdb.connect(warehouse.database_path) as con:
        prepare_published_scores(con, later.run_id)
    again = dg.materialize([lead_scores], resources={"warehouse": warehouse})
    assert again.asset_materializations_for_node("ml__lead_scores")[0].metadata["run_id"].text == published
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        assert not table_exists(con, PREPARED_TABLE)
        assert _same_rows(con, "ml.lead_scores", _log_run(con, published))


def test_publish_prepared_scores_only_takes_a_copy_of_the_run_as_the_log_holds_it(scored, warehouse):
    from orchestration.defs.ml.assets import score_log

    second = dg.materialize([score_log], resources={"warehouse": warehouse}).run_id
    with duckdb.connect(warehouse.database_path) as con:
        first = con.execute("select run_id from ml.score_log where run_id <> ? limit 1", [second]).fetchone()[0]
        publish_scores(con, first, published="ml.expected")  # what publishing `second` must not disturb

        # Another run than the copy's: dropped, nothing published.
        prepared = prepare_published_scores(con, second)
        assert publish_prepared_scores(con, prepared, first) is None
        assert not table_exists(con, PREPARED_TABLE)
        assert _same_rows(con, "ml.lead_scores", "ml.expected")

        # The log gained a column since the copy (a later run's feature): `select *` would now copy it too.
        prepared = prepare_published_scores(con, second)
        con.execute('alter table ml.score_log add column "f_new_feature" double')
        assert publish_prepared_scores(con, prepared, second) is None
        assert not table_exists(con, PREPARED_TABLE)

        # The run's rows changed since the copy.
        prepared = prepare_published_scores(con, second)
        con.execute(
            "delete from ml.score_log where run_id = ? "
            "and contact_id = (select min(contact_id) from ml.score_log where run_id = ?)",
            [second, second],
        )
        assert publish_prepared_scores(con, prepared, second) is None

        # Unchanged: the copy becomes the published table, equal to what `publish_scores` writes now.
        prepared = prepare_published_scores(con, second)
        rows = publish_prepared_scores(con, prepared, second)
        publish_scores(con, second, published="ml.expected")
        assert rows == con.execute("select count(*) from ml.expected").fetchone()[0]
        assert not table_exists(con, PREPARED_TABLE)
        assert _same_rows(con, "ml.lead_scores", "ml.expected")
        discard_prepared_scores(con)  # nothing to drop: no error
