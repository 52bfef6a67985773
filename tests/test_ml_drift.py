"""Sample-size-aware drift: PSI is judged against the PSI sampling noise alone gives for the same sizes."""

import numpy as np
import polars as pl
import pytest

from ml.config import load_config
from ml.drift import (
    build_reference,
    design_effect,
    drift_report,
    drift_verdict,
    psi_noise_limit,
    reference_distribution,
)
from ml.features import build_features, feature_schema
from ml.synthetic import synthetic_leads

CONFIG = load_config()
DRIFT = CONFIG["drift"]


def _features(n: int, seed: int) -> pl.DataFrame:
    d = synthetic_leads(n, seed=seed)
    return build_features(d.contacts, d.events, d.signals, d.as_of, CONFIG)


@pytest.fixture(scope="module")
def reference():
    training = _features(5000, seed=21)
    schema = {k: v for k, v in feature_schema(CONFIG).items() if not k.startswith("count_")}
    return build_reference(training, pl.DataFrame(), schema)


def _report(reference, frame):
    return drift_report(
        reference, frame, warn=DRIFT["warn_psi"], block=DRIFT["block_psi"], noise_quantile=DRIFT["noise_quantile"]
    )


def test_unshifted_sample_of_400_passes(reference):
    scored = _features(400, seed=99)  # a fresh draw of the same world: nothing changed
    report = _report(reference, scored)
    verdict, message = drift_verdict(report, scored.height, DRIFT)
    assert verdict == "ok", message
    assert (report["status"] == "ok").all()
    assert (report["noise_psi"] > 0).all()


def test_noise_keeps_a_tiny_unshifted_run_quiet(reference):
    scored = _features(150, seed=98)
    report = _report(reference, scored)
    # Raw PSI alone would warn at this size (nothing changed): the noise limit is what keeps it quiet.
    assert report["psi"].max() > DRIFT["warn_psi"]
    assert drift_verdict(report, scored.height, DRIFT)[0] == "ok"


def test_shifted_feature_blocks_at_400(reference):
    scored = _features(400, seed=99)
    shifted = scored.with_columns(
        (pl.col("decayed_pricing_visit") + 3.0).alias("decayed_pricing_visit"),
        pl.lit("DE").alias("country_code"),  # every lead suddenly from one country
    )
    report = _report(reference, shifted)
    verdict, message = drift_verdict(report, shifted.height, DRIFT)
    assert verdict == "block", message
    blocked = set(report.filter(pl.col("status") == "block")["column"])
    assert {"decayed_pricing_visit", "country_code"} <= blocked
    assert report.filter(pl.col("column") == "industry")["status"][0] == "ok"


def test_noise_limit_matches_closed_form_and_shrinks_with_size():
    shares = np.full(10, 0.1)
    # Mean PSI of two samples of one distribution ~ (bins - 1) * (1/n1 + 1/n2); the median is a bit below it.
    median = psi_noise_limit(shares, 400, 5000, quantile=0.5)
    assert median == pytest.approx(9 * (1 / 400 + 1 / 5000), rel=0.25)
    assert psi_noise_limit(shares, 400, 5000) > psi_noise_limit(shares, 40_000, 50_000)
    assert psi_noise_limit(shares, 400, None, quantile=0.99) == psi_noise_limit(shares, 400, None, quantile=0.99)


def test_account_level_columns_are_judged_at_the_number_of_accounts():
    rng = np.random.default_rng(0)
    reference = {"signal": reference_distribution(pl.Series(np.repeat(rng.exponential(1.0, 500), 10)), "numeric")}
    accounts = np.repeat([f"acct-{i}.io" for i in range(40)], 10)
    scored = pl.DataFrame({"signal": np.repeat(rng.exponential(1.0, 40), 10), "company_domain": accounts})
    assert design_effect(scored, "signal", "company_domain") == 10.0
    # 400 leads but only 40 accounts: read as 400 independent rows, unchanged data would block.
    assert drift_report(reference, scored)["status"][0] == "block"
    same = drift_report(reference, scored, cluster_column="company_domain").row(0, named=True)
    assert (same["status"], same["effective_rows"]) == ("ok", 40)
    tripled = scored.with_columns(pl.col("signal") * 3)
    assert drift_report(reference, tripled, cluster_column="company_domain")["status"][0] == "block"
    # A lead-level column (two values inside one account) keeps its full size.
    lead_level = scored.with_columns(pl.Series("signal", rng.exponential(1.0, 400)))
    assert design_effect(lead_level, "signal", "company_domain") == 1.0


def test_a_column_that_varies_inside_an_account_only_past_the_first_rows_is_lead_level():
    # 25,000 leads in 2,500 accounts, account-level throughout the first 20,000 rows (the quick probe), then one
    # lead whose value differs from its account's: the whole column is lead-level, as a full pass says.
    accounts = np.repeat([f"acct-{i}.io" for i in range(2_500)], 10)
    values = np.repeat(np.arange(2_500, dtype=float), 10)
    values[24_995] += 0.5
    frame = pl.DataFrame({"signal": values, "company_domain": accounts})
    assert design_effect(frame, "signal", "company_domain") == 1.0
    constant = frame.with_columns(pl.Series("signal", np.repeat(np.arange(2_500, dtype=float), 10)))
    assert design_effect(constant, "signal", "company_domain") == 10.0
    # drift_report codes the accounts as numbers first (nulls kept): the same effective sizes as on the text.
    reference = {"signal": reference_distribution(constant["signal"], "numeric")}
    with_null = constant.with_columns(
        pl.when(pl.int_range(pl.len()) < 10).then(None).otherwise(pl.col("company_domain")).alias("company_domain")
    )
    row = drift_report(reference, with_null, cluster_column="company_domain").row(0, named=True)
    assert (row["rows"], row["effective_rows"]) == (25_000, 2_500)


def test_run_drift_reads_only_the_referenced_columns_and_reports_as_on_the_whole_run(tmp_path):
    import duckdb

    from ml.drift import SCORE_COLUMNS
    from ml.pipeline import run_drift
    from ml.registry import ModelRegistry
    from ml.score_log import append_score_log
    from ml.scoring import features_from_log, rules_scorer

    scored = _features(1200, seed=5)
    scorer = rules_scorer(CONFIG, "test")
    # A reference of some features only (the log holds more), and the scores.
    schema = {"industry": "categorical", "employees": "numeric", "decayed_web_visit": "numeric"}
    reference = build_reference(_features(2000, seed=6), scorer.score(_features(2000, seed=6)), schema)
    registry = ModelRegistry(tmp_path / "models")
    registry.save(scorer, {"drift_reference": reference})
    con = duckdb.connect()
    append_score_log(con, scorer.score_log(scored, run_id="run-1"))
    append_score_log(con, scorer.score_log(_features(300, seed=8), run_id="run-2"))
    ids = scored["contact_id"].to_list()
    # Leads in accounts of about ten (one without an account, one junk record that is no lead).
    con.execute("create schema marts")
    con.execute(
        "create table marts.dim_contacts as select unnest(?) as golden_contact_id, "
        "unnest(?) as golden_account_id, unnest(?) as website_domain, false as is_junk",
        [ids, [None if i == 0 else f"ga-{i // 10}" for i in range(len(ids))], [f"own{i}.io" for i in range(len(ids))]],
    )
    con.execute("insert into marts.dim_contacts values (-1, 'ga-0', 'junk.io', true)")
    con.execute(
        "create table marts.dim_accounts as select distinct golden_account_id, "
        "'acct' || golden_account_id || '.io' as account_domain from marts.dim_contacts "
        "where golden_account_id is not null"
    )
    report = run_drift(con, registry, CONFIG, "run-1")

    # What the drift check compared before it read only the referenced columns: every logged feature and score,
    # joined by lead, and each lead's account domain.
    log = con.sql("select * exclude (reasons) from ml.score_log where run_id = 'run-1'").pl()
    frame = features_from_log(log).join(log.select("contact_id", *SCORE_COLUMNS), on="contact_id", how="left")
    accounts = con.sql(
        "select g.golden_contact_id as contact_id, coalesce(a.account_domain, g.website_domain) as company_domain "
        "from marts.dim_contacts g left join marts.dim_accounts a using (golden_account_id) where not g.is_junk"
    ).pl()
    expected = drift_report(
        reference,
        frame.join(accounts, on="contact_id", how="left"),
        warn=DRIFT["warn_psi"],
        block=DRIFT["block_psi"],
        noise_quantile=DRIFT["noise_quantile"],
        cluster_column="company_domain",
    )
    assert report.equals(expected)
    assert sorted(report["column"].to_list()) == sorted([*schema, *SCORE_COLUMNS])
    assert run_drift(con, registry, CONFIG, "no-such-run") is None


def _design_effect_by_pairs(frame: pl.DataFrame, column: str, cluster_column: str) -> float:
    """The rule as polars' distinct (value, cluster) pairs state it: the reference for the numpy pass."""
    known = frame.select(column, cluster_column).drop_nulls()
    if known.is_empty():
        return 1.0
    clusters = known[cluster_column].n_unique()
    return 1.0 if known.unique().height > clusters else known.height / clusters


@pytest.mark.parametrize(
    ("values", "constant"),
    [
        ([0.0, -0.0, 2.0, 2.0], True),  # -0.0 and 0.0 are one value, as polars' unique has them
        ([float("nan"), float("nan"), 2.0, 2.0], True),  # NaN and NaN too
        ([float("nan"), 1.0, 2.0, 2.0], False),
        ([1.0, None, 2.0, 2.0], True),  # nulls are not judged
        (["a", "a", "b", "b"], True),
        (["a", "b", "b", "b"], False),
        ([1, 1, 3, 3], True),
        ([True, False, True, True], False),
    ],
)
def test_design_effect_matches_the_distinct_pairs(values, constant):
    accounts = ["x.io", "x.io", "y.io", "y.io"]
    frame = pl.DataFrame({"v": values * 3, "company_domain": accounts * 3}, strict=False)
    expected = _design_effect_by_pairs(frame, "v", "company_domain")
    assert (expected > 1.0) == constant
    assert design_effect(frame, "v", "company_domain") == expected
    # drift_report's account codes (numbers, nulls kept), and a null account left out.
    coded = frame.with_columns(pl.col("company_domain").cast(pl.Categorical).to_physical())
    assert design_effect(coded, "v", "company_domain") == expected
    gap = frame.with_columns(pl.Series("company_domain", ["x.io", None, "y.io", "y.io"] * 3))
    assert design_effect(gap, "v", "company_domain") == _design_effect_by_pairs(gap, "v", "company_domain")
    # Accounts of other kinds, numbered by `ml.features.group_codes` as the engagement sums' keys are: ids far
    # above the row count, negative ids, float ids with -0.0 / 0.0 and NaN (polars' equality, as the pairs').
    for ids in (
        [10**12, 10**12, 7, 7],
        [-5, -5, 3, 3],
        [0.0, -0.0, float("nan"), float("nan")],
        [0.0, 1.0, float("nan"), float("nan")],
    ):
        other = frame.with_columns(pl.Series("company_domain", ids * 3))
        assert design_effect(other, "v", "company_domain") == _design_effect_by_pairs(other, "v", "company_domain")
