"""Dagster wiring of scoring: train -> score log -> blocking drift check -> publish, on fake staging tables."""

from datetime import timedelta

import dagster as dg
import duckdb
import polars as pl
import pytest

from ml.synthetic import synthetic_leads


def _write_staging(path, data, pricing_boost: int = 0):
    """Minimal staging + entity mart tables (only the columns ml.warehouse reads) from synthetic leads.

    Every synthetic contact is its own golden contact (`gc-<id>`) at its own golden account (`ga-<id>`).
    """
    c = data.contacts.with_columns(
        pl.concat_str([pl.lit("p"), pl.col("contact_id").cast(pl.String), pl.lit("@x.io")]).alias("email")
    )
    ev = data.events.join(c.select("contact_id", "email"), on="contact_id")
    if pricing_boost:
        recent = c.select("contact_id", "email").with_columns(
            pl.lit("pricing_visit").alias("kind"), pl.lit(data.as_of + timedelta(days=29)).alias("occurred_at")
        )
        ev = pl.concat([ev, *[recent] * pricing_boost], how="diagonal_relaxed")
    kind = pl.col("kind")
    email_events = ev.filter(kind.str.starts_with("email_")).select(
        "contact_id", "email", kind.str.replace("email_", "").alias("event_type"), "occurred_at"
    )
    web = ev.filter(kind.is_in(["pricing_visit", "demo_request", "web_visit"])).select(
        pl.col("email").alias("user_email"),
        (kind == "pricing_visit").alias("is_pricing_page"),
        pl.when(kind == "demo_request").then(pl.lit("Demo Requested")).alias("event_name"),
        pl.when(kind == "demo_request").then(pl.lit("track")).otherwise(pl.lit("page")).alias("event_type"),
        "occurred_at",
    )
    product = ev.filter(kind == "product_event").select(pl.col("email").alias("user_email"), "occurred_at")
    companies = c.select(
        pl.col("contact_id").alias("company_id"),
        "country_code",
        "industry",
        pl.col("employees").alias("number_of_employees"),
        "technologies",
        pl.col("company_domain").alias("domain"),
        pl.lit(None, pl.String).alias("website_domain"),
    )
    contacts = c.select(
        "contact_id",
        "email",
        pl.lit("").alias("job_title"),
        "role_category",
        "seniority",
        "country_code",
        pl.lit(None, pl.String).alias("website_domain"),
        pl.col("contact_id").alias("primary_company_id"),
    )
    outcomes = (
        data.outcomes.with_row_index("outcome_id")
        .with_columns(pl.concat_list("contact_id").alias("associated_contact_ids"))
        .select(
            "associated_contact_ids",
            pl.col("occurred_at").alias("created_at"),
            pl.col("outcome_id").cast(pl.Int64).alias("meeting_id"),
        )
    )
    deals = outcomes.head(0).select(
        "associated_contact_ids",
        "created_at",
        pl.col("meeting_id").alias("deal_id"),
        pl.col("created_at").alias("closed_won_entered_at"),
        pl.col("created_at").alias("closed_lost_entered_at"),
    )
    golden = pl.concat_str([pl.lit("gc-"), pl.col("contact_id").cast(pl.String)])
    account = pl.concat_str([pl.lit("ga-"), pl.col("contact_id").cast(pl.String)])
    dim_contacts = contacts.select(
        golden.alias("golden_contact_id"),
        "email",
        "job_title",
        "role_category",
        "seniority",
        "country_code",
        "website_domain",
        account.alias("golden_account_id"),
        pl.lit(False).alias("is_junk"),
    )
    crosswalk = contacts.select(pl.col("contact_id").alias("source_record_id"), golden.alias("golden_contact_id"))
    dim_accounts = c.select(
        account.alias("golden_account_id"),
        "country_code",
        "industry",
        pl.col("employees").alias("number_of_employees"),
        pl.col("company_domain").alias("account_domain"),
    )
    account_crosswalk = c.select(pl.col("contact_id").alias("source_record_id"), account.alias("golden_account_id"))
    signals = data.signals.select(
        "domain",
        pl.col("kind").str.replace("_signal", "").alias("signal_type"),
        pl.col("occurred_at").alias("observed_at"),
        pl.lit(1.0).alias("magnitude"),
    )
    con = duckdb.connect(str(path))
    con.execute("create schema if not exists staging")
    con.execute("create schema if not exists marts")
    frames = {
        "stg_hubspot__contacts": contacts,
        "stg_hubspot__companies": companies,
        "stg_email__events": email_events,
        "stg_segment__web_events": web,
        "stg_segment__product_events": product,
        "stg_signals__signals": signals,
        "stg_hubspot__meetings": outcomes,
        "stg_hubspot__deals": deals,
        "marts.dim_contacts": dim_contacts,
        "marts.contact_crosswalk": crosswalk,
        "marts.dim_accounts": dim_accounts,
        "marts.account_crosswalk": account_crosswalk,
    }
    for name, frame in frames.items():
        arrow_frame = frame.to_arrow()  # noqa: F841 - DuckDB replacement scan
        table = name if "." in name else f"staging.{name}"
        con.execute(f"create or replace table {table} as select * from arrow_frame")
    con.close()


def test_train_score_publish_then_drift_blocks(tmp_path, monkeypatch, warehouse):
    from orchestration.defs.ml.assets import lead_scorer, lead_scores, score_drift, score_log

    monkeypatch.setenv("ACTIONHOUSE_MODELS_DIR", str(tmp_path / "models"))
    # Events at a constant rate until 30 days after as_of: training (as of now - 30 days) and scoring (now)
    # see the same distributions, so the first run is drift-free.
    data = synthetic_leads(3000, seed=4, stationary_days_after=30)
    _write_staging(warehouse.database_path, data)
    assets = [lead_scorer, score_log, lead_scores]
    result = dg.materialize(assets + [score_drift], resources={"warehouse": warehouse})
    assert result.success
    scorer_meta = result.asset_materializations_for_node("ml__lead_scorer")[0].metadata
    assert scorer_meta["trained"].value is True and scorer_meta["champion"].text.startswith("v0001")
    assert "calibration_plot" in scorer_meta or scorer_meta["model_kind"].text == "rules"
    checks = result.get_asset_check_evaluations()
    assert [c.passed for c in checks] == [True]
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        assert con.execute("select count(*) from ml.lead_scores").fetchone()[0] == 3000
        assert con.execute("select count(distinct run_id) from ml.score_log").fetchone()[0] == 1

    # Every lead suddenly hammers the pricing page: the drift check blocks and the scores are not published.
    _write_staging(warehouse.database_path, data, pricing_boost=3)
    shifted = dg.materialize(
        [score_log, lead_scores, score_drift], resources={"warehouse": warehouse}, raise_on_error=False
    )
    evaluation = shifted.get_asset_check_evaluations()[0]
    assert not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR
    assert evaluation.metadata["verdict"].text == "block"
    assert "ml__lead_scores" not in {e.step_key for e in shifted.get_step_success_events()}
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        runs = con.execute("select count(distinct run_id) from ml.score_log").fetchone()[0]
        published_run = con.execute("select distinct run_id from ml.lead_scores").fetchall()
    assert runs == 2  # the blocked run is logged (auditable) ...
    assert published_run == [(result.run_id,)]  # ... but the published scores are still the first run's
    # The check keeps the report it judged; the console's publication shows that one instead of computing it again.
    from console.publish import _drift_rows
    from ml.pipeline import latest_run_id, recorded_drift_report

    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        kept = recorded_drift_report(con, latest_run_id(con))
        assert kept and max(psi for _, psi, _, _ in kept) == pytest.approx(evaluation.metadata["max_psi"].value)
        assert "block" in {status for *_, status in kept}
        assert _drift_rows(con, None) == kept  # no model registry needed: nothing is recomputed

    # Materializing the published scores alone (the UI lets anyone) still never publishes the blocked run,
    # nor a run scored without being judged.
    alone = dg.materialize([lead_scores], resources={"warehouse": warehouse})
    meta = alone.asset_materializations_for_node("ml__lead_scores")[0].metadata
    assert meta["run_id"].text == result.run_id and meta["latest_run_id"].text != result.run_id
    dg.materialize([score_log], resources={"warehouse": warehouse})
    dg.materialize([lead_scores], resources={"warehouse": warehouse})
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        assert con.execute("select count(distinct run_id) from ml.score_log").fetchone()[0] == 3
        assert con.execute("select distinct run_id from ml.lead_scores").fetchall() == [(result.run_id,)]

    # A week later the log drops the runs older than its window, whole, but never the run the published scores
    # come from (the drift check has blocked every run since).
    with duckdb.connect(warehouse.database_path) as con:
        blocked, unjudged = (
            r[0]
            for r in con.execute(
                "select run_id from ml.score_log where run_id <> ? group by run_id order by max(scored_at)",
                [result.run_id],
            ).fetchall()
        )
        con.execute(
            "update ml.score_log set scored_at = scored_at - interval 8 days where run_id in (?, ?)",
            [result.run_id, blocked],
        )
    monkeypatch.setenv("ACTIONHOUSE_SCORE_LOG_DAYS", "7")
    latest = dg.materialize([score_log], resources={"warehouse": warehouse})
    assert latest.asset_materializations_for_node("ml__score_log")[0].metadata["pruned_runs"].value == 1
    with duckdb.connect(warehouse.database_path, read_only=True) as con:
        kept = {r[0] for r in con.execute("select distinct run_id from ml.score_log").fetchall()}
        assert kept == {result.run_id, unjudged, latest.run_id}
        assert con.execute("select distinct run_id from ml.lead_scores").fetchall() == [(result.run_id,)]


def test_the_lead_features_mart_reads_back_as_the_features_scoring_would_compute(tmp_path):
    from ml.config import load_config
    from ml.features import build_features
    from ml.warehouse import lead_features_mart, load_lead_features, load_scoring_inputs

    _write_staging(tmp_path / "wh.duckdb", synthetic_leads(800, seed=11))
    config = load_config()
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        inputs = load_scoring_inputs(con)
        mart = lead_features_mart(inputs, config).to_arrow()  # noqa: F841 - DuckDB replacement scan
        con.execute("create table marts.fct_lead_features as select * from mart")
        read_back = load_lead_features(con, config)
    computed = build_features(inputs.contacts, inputs.events, inputs.signals, inputs.now, config)
    assert read_back.height == 800
    assert read_back.schema == computed.schema
    assert read_back.equals(computed)  # values, types and row order


def test_scoring_reads_the_features_mart_only_when_this_run_built_it(tmp_path, monkeypatch, warehouse):
    from ml.config import load_config
    from ml.warehouse import lead_features_mart, load_scoring_inputs
    from orchestration.defs.ml.assets import LEAD_FEATURES_KEY, lead_scorer, score_log

    monkeypatch.setenv("ACTIONHOUSE_MODELS_DIR", str(tmp_path / "models"))
    _write_staging(warehouse.database_path, synthetic_leads(600, seed=5))
    marked = 12345.0

    @dg.asset(key=LEAD_FEATURES_KEY)
    def fct_lead_features():
        # The mart as dbt builds it, with one feature marked so the log shows where its values came from.
        with duckdb.connect(warehouse.database_path) as con:
            rows = lead_features_mart(load_scoring_inputs(con), load_config())
            mart = rows.with_columns(pl.lit(marked).alias("decayed_web_visit")).to_arrow()  # noqa: F841
            con.execute("create or replace table marts.fct_lead_features as select * from mart")

    def logged_web_visits(run_id):
        with duckdb.connect(warehouse.database_path, read_only=True) as con:
            return con.execute(
                "select min(f_decayed_web_visit), max(f_decayed_web_visit), count(*) from ml.score_log"
                " where run_id = ?",
                [run_id],
            ).fetchone()

    instance = dg.DagsterInstance.ephemeral()  # one instance: it knows which run built the mart
    together = dg.materialize(
        [fct_lead_features, lead_scorer, score_log], resources={"warehouse": warehouse}, instance=instance
    )
    assert logged_web_visits(together.run_id) == (marked, marked, 600)
    # Scores materialized alone: the mart is from another run and may be older than the data, so computed again.
    alone = dg.materialize([score_log], resources={"warehouse": warehouse}, instance=instance)
    low, high, rows = logged_web_visits(alone.run_id)
    assert rows == 600 and high != marked


@pytest.mark.parametrize("argv", [["model", "list"], ["model", "rollback"]])
def test_model_cli(tmp_path, monkeypatch, capsys, argv):
    from ml.config import load_config
    from ml.registry import ModelRegistry
    from ml.scoring import rules_scorer
    from orchestration.cli import main

    monkeypatch.setenv("ACTIONHOUSE_MODELS_DIR", str(tmp_path / "models"))
    registry = ModelRegistry(tmp_path / "models")
    first = registry.save(rules_scorer(load_config(), "test"))
    registry.set_champion(first, "test")
    second = registry.save(rules_scorer(load_config(), "test"))
    registry.set_champion(second, "test")
    assert main(argv) == 0
    out = capsys.readouterr().out
    if argv[1] == "list":
        assert f"* {second}" in out and first in out
    else:
        assert registry.champion_version() == first and f"{second} -> {first}" in out
        assert main(argv) == 1  # nothing older left
