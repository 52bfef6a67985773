"""Fit/intent scorer: trains and scores plain DataFrames, exact reasons, fallback, tiers, score log."""

import re
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import polars as pl
import pytest

from ml.config import load_config
from ml.features import LeakageError, build_features, conversion_labels, fit_labels
from ml.metrics import auc
from ml.reasons import reason_eligible
from ml.score_log import KEEP_DAYS_ENV, append_score_log, keep_days, prune_score_log
from ml.scoring import SCORE_LOG_COLUMNS, assign_tiers, features_from_log, rules_scorer, train_scorer
from ml.synthetic import synthetic_leads

CONFIG = load_config()


def synthetic_closed_deals(data, share: float = 0.5, seed: int = 0) -> pl.DataFrame:
    """Won/lost history for synthetic leads: `share` of them had a deal closed 1-300 days before as_of, won more
    often the better their hidden fit."""
    rng = np.random.default_rng(seed)
    truth = data.truth
    n = truth.height
    has = rng.random(n) < share
    won = rng.random(n) < 0.05 + 0.9 * truth["fit"].to_numpy()
    closed = int(data.as_of.timestamp()) - rng.integers(1, 300, n) * 86_400
    return pl.DataFrame(
        {"contact_id": truth["contact_id"], "deal_id": np.arange(n), "won": won, "closed_at": closed}
    ).filter(pl.Series(has))


@pytest.fixture(scope="module")
def trained():
    data = synthetic_leads(6000, seed=11)
    features = build_features(data.contacts, data.events, data.signals, data.as_of, CONFIG)
    labels = conversion_labels(data.contacts, data.outcomes, data.as_of, 30)
    won_lost = fit_labels(synthetic_closed_deals(data), data.as_of)
    return data, features, labels, train_scorer(features, labels, CONFIG, fit_labels=won_lost)


def test_learned_scorer_ranks_converters(trained):
    data, features, labels, scorer = trained
    assert scorer.kind == "learned" and scorer.fallback_reason == ""
    assert scorer.metadata["fit_kind"] == "learned" and scorer.metadata["fit_labelled"] > 2500
    scores = scorer.score(features)
    y = features.select("contact_id").join(data.truth, on="contact_id", how="left")["converted"].to_numpy()
    assert auc(y, scores["combined_score"].to_numpy()) > 0.7
    for col in ("fit_score", "intent_score", "combined_score"):
        assert scores[col].min() >= 0 and scores[col].max() <= 100 and scores[col].null_count() == 0
    assert set(scores["tier"].unique().to_list()) <= {1, 2, 3}
    # Calibrated: mean predicted close to the observed rate.
    joined = scores.join(labels, on="contact_id")
    assert joined["combined_score"].mean() / 100 == pytest.approx(joined["label"].mean(), abs=0.03)


def test_reasons_match_contributions(trained):
    _, features, _, scorer = trained
    sample = features.head(300)
    scores = scorer.score(sample)
    fit_base, fit_c = scorer.fit_model.contributions(sample)
    int_base, int_c = scorer.intent_model.contributions(sample)
    # Contributions are exact: baseline + sum == the model's log-odds == the shown score.
    fit_p = 1 / (1 + np.exp(-(fit_base + fit_c.sum(axis=1))))
    assert np.allclose(np.round(100 * fit_p, 1), scores["fit_score"].to_numpy())
    names = scorer.fit_model.feature_names + scorer.intent_model.feature_names
    quotable = reason_eligible(sample, names, np.hstack([fit_c, int_c]))
    checked = 0
    for i, reasons in enumerate(scores["reasons"].to_list()):
        parts = [p for p in reasons.split("; ") if p]
        values = [float(re.match(r"([+-]\d+(?:\.\d+)?) (fit|intent): ", p).group(1)) for p in parts]
        for part, value in zip(parts, values, strict=True):
            model = part.split(" ")[1].rstrip(":")
            own = fit_c[i] if model == "fit" else int_c[i]
            assert np.min(np.abs(np.round(own, 2) - value)) < 1e-9, part
            checked += 1
        positives = [v for v in values if v > 0]
        if quotable[i].max() >= 0.05:
            assert positives and positives[0] == pytest.approx(round(quotable[i].max(), 2)), reasons
        if quotable[i].min() <= -0.05:
            assert min(values) == pytest.approx(round(quotable[i].min(), 2)), reasons
    assert checked > 300


def test_reason_words_carry_numbers(trained):
    _, features, _, scorer = trained
    reasons = " ".join(scorer.score(features.head(500))["reasons"].to_list())
    assert re.search(r"pricing page visited \d+x in 7 days / \d+x in 30 / \d+x in 90", reasons)
    assert "industry: " in reasons


def test_fallback_when_history_is_thin():
    data = synthetic_leads(600, seed=5)
    features = build_features(data.contacts, data.events, data.signals, data.as_of, CONFIG)
    labels = conversion_labels(data.contacts, data.outcomes, data.as_of, 30)
    scorer = train_scorer(features, labels, CONFIG)
    assert scorer.kind == "rules" and "labelled leads" in scorer.fallback_reason
    assert scorer.metadata["fallback_reason"] == scorer.fallback_reason
    scores = scorer.score(features)
    assert scores.height == features.height and scores["reasons"].str.len_chars().min() > 0
    # Enough rows but too few positives also falls back; lowering the bar in config trains a model.
    few_pos = labels.with_columns(
        pl.when(pl.int_range(pl.len()) < 50).then(pl.col("label")).otherwise(0).alias("label")
    )
    assert (
        "positive"
        in train_scorer(features, few_pos, load_config(overrides={"fallback": {"min_labelled": 500}})).fallback_reason
    )
    learned = train_scorer(
        features, labels, load_config(overrides={"fallback": {"min_labelled": 100, "min_positives": 20}})
    )
    assert learned.kind == "learned"


def test_fit_labels_are_won_vs_lost_before_as_of():
    t = 1_700_000_000
    deals = pl.DataFrame(
        {
            "contact_id": [1, 1, 2, 3, 4, 5],
            "deal_id": [10, 11, 12, 13, 14, 15],
            "won": [False, True, False, True, False, True],
            "closed_at": [t - 900, t - 100, t - 50, t + 10, t - 5, t],
        }
    )
    got = fit_labels(deals, t).sort("contact_id")
    # 1: one lost and one won deal -> won; 2, 4: lost only; 3, 5: closed at/after as_of -> no label (no leakage).
    assert got["contact_id"].to_list() == [1, 2, 4]
    assert got["label"].to_list() == [1, 0, 0]
    assert got["label_known_at"].to_list() == [t - 100, t - 50, t - 5]
    assert fit_labels(deals.head(0), t).is_empty()


def test_fit_model_learns_won_lost_and_leakage_is_refused(trained):
    data, features, labels, scorer = trained
    deals = synthetic_closed_deals(data, seed=1)
    held = fit_labels(deals, data.as_of).join(features, on="contact_id")
    y = held["label"].to_numpy()
    fit_auc = auc(y, scorer.score(held, with_reasons=False)["fit_score"].to_numpy())
    assert fit_auc > 0.7, fit_auc
    # Labels built from deals closed after the features' cutoff would leak the future.
    later = deals.with_columns(pl.col("closed_at") + 200 * 86_400)
    late = fit_labels(later, data.as_of.timestamp() + 400 * 86_400)
    with pytest.raises(LeakageError):
        train_scorer(features, labels, CONFIG, fit_labels=late)


def test_fit_part_falls_back_to_rules_on_thin_won_lost_history(trained):
    data, features, labels, _ = trained
    few = fit_labels(synthetic_closed_deals(data, share=0.1), data.as_of)
    scorer = train_scorer(features, labels, CONFIG, fit_labels=few)
    assert scorer.kind == "learned" and scorer.metadata["fit_kind"] == "rules"
    assert "leads with a closed deal" in scorer.metadata["fit_fallback_reason"]
    assert scorer.fallback_reason.startswith("fit part scored by ICP rules")
    assert type(scorer.fit_model).__name__ == "RulesModel"
    assert train_scorer(features, labels, CONFIG).metadata["fit_fallback_reason"] == "no won/lost history given"


def test_rules_fit_part_uses_its_own_tier_thresholds(trained):
    _, features, _, scorer = trained
    assert scorer.metadata["fit_kind"] == "learned"
    assert scorer.tier_thresholds()["fit_high"] == CONFIG["tiers"]["fit_high"]
    rules = rules_scorer(CONFIG, "too little history")
    thresholds = rules.tier_thresholds()
    assert thresholds["fit_high"] == CONFIG["tiers"]["rules_fit"]["fit_high"] != CONFIG["tiers"]["fit_high"]
    assert thresholds["intent_high"] == CONFIG["tiers"]["intent_high"] and "rules_fit" not in thresholds
    scored = rules.score(features.head(500), with_reasons=False)
    expected = assign_tiers(scored["fit_score"].to_numpy(), scored["intent_score"].to_numpy(), thresholds)
    assert scored["tier"].to_list() == expected.tolist()


def test_tiers_from_config_matrix():
    tiers = {"fit_high": 50, "fit_medium": 20, "intent_high": 40, "intent_medium": 10}
    got = assign_tiers(np.array([60, 60, 30, 60, 10, 30]), np.array([50, 15, 45, 5, 90, 15]), tiers)
    assert got.tolist() == [1, 2, 2, 3, 3, 3]


def test_score_log_holds_exact_feature_values(trained, tmp_path):
    _, features, _, scorer = trained
    log = scorer.score_log(features.head(50), run_id="r1")
    assert log.columns[: len(SCORE_LOG_COLUMNS)] == SCORE_LOG_COLUMNS and log["contact_id"].n_unique() == 50
    rebuilt = features_from_log(log)
    assert set(scorer.feature_names) <= set(rebuilt.columns)
    again = scorer.score(rebuilt)
    assert again["combined_score"].to_list() == log["combined_score"].to_list()
    assert again["reasons"].to_list() == log["reasons"].to_list()
    # Appending runs: a later run with an extra feature column keeps the older run queryable.
    con = duckdb.connect(str(tmp_path / "log.duckdb"))
    assert append_score_log(con, log) == 50
    later = scorer.score_log(features.head(10), run_id="r2").with_columns(pl.lit(1.5).alias("f_new_feature"))
    append_score_log(con, later)
    counts = dict(con.execute("select run_id, count(*) from ml.score_log group by 1").fetchall())
    assert counts == {"r1": 50, "r2": 10}
    assert con.execute("select count(f_new_feature) from ml.score_log where run_id = 'r1'").fetchone()[0] == 0
    # Lead ids that turn from record numbers into golden ids widen the column; older ids survive as text.
    golden = scorer.score_log(features.head(5), run_id="r3").with_columns(
        ("gc-" + pl.col("contact_id").cast(pl.String)).alias("contact_id")
    )
    assert append_score_log(con, golden) == 5
    first_id = str(log["contact_id"][0])
    assert con.execute("select count(*) from ml.score_log where contact_id = ?", [first_id]).fetchone()[0] == 2
    assert con.execute("select count(*) from ml.score_log where contact_id like 'gc-%'").fetchone()[0] == 5


def test_score_log_keeps_the_runs_of_its_window_whole(tmp_path):
    """Runs scored more than `days` before the latest run go whole; a run at the edge stays; exempt runs stay."""
    con = duckdb.connect(str(tmp_path / "log.duckdb"))
    latest = datetime(2026, 6, 11, 12, tzinfo=UTC)
    for day in range(11):  # run d0 .. d10, one a day, d10 the latest; two leads each, scored a minute apart
        scored = [latest - timedelta(days=10 - day, minutes=m) for m in (1, 0)]
        frame = pl.DataFrame({"run_id": [f"d{day}"] * 2, "contact_id": ["a", "b"], "scored_at": scored})
        append_score_log(con, frame)

    def runs() -> list[str]:
        return [r[0] for r in con.execute("select distinct run_id from ml.score_log order by 1").fetchall()]

    assert prune_score_log(con, None) == (0, 0) and len(runs()) == 11  # `all`: never pruned
    report = prune_score_log(con, 3, keep_run_ids=["d1", None])
    # Cut-off: 3 days before the latest run; d7's last row is exactly there and stays (strictly older goes).
    assert (report.runs, report.rows) == (6, 12)
    assert runs() == ["d1", "d10", "d7", "d8", "d9"]
    assert prune_score_log(con, 3, keep_run_ids=["d1"]) == (0, 0)  # idempotent
    assert prune_score_log(con, 0.5) == (4, 8) and runs() == ["d10"]  # half a day; nothing exempt
    assert prune_score_log(duckdb.connect(), 1) == (0, 0)  # no log yet


def test_score_log_window_setting(monkeypatch):
    monkeypatch.delenv(KEEP_DAYS_ENV, raising=False)
    assert keep_days() == 7
    for raw, days in (("all", None), (" ALL ", None), ("30", 30), ("0.5", 0.5)):
        monkeypatch.setenv(KEEP_DAYS_ENV, raw)
        assert keep_days() == days
    for raw in ("0", "-2", "a week", "nan"):
        monkeypatch.setenv(KEEP_DAYS_ENV, raw)
        with pytest.raises(ValueError, match=KEEP_DAYS_ENV):
            keep_days()


def test_ml_api_needs_no_dagster():
    code = (
        "import sys\nfrom ml.synthetic import synthetic_leads\nfrom ml.features import build_features, "
        "conversion_labels\nfrom ml.config import load_config\nfrom ml.scoring import train_scorer\n"
        "import ml.registry, ml.drift, ml.replies\n"
        "c = load_config(); d = synthetic_leads(3000, seed=2)\n"
        "f = build_features(d.contacts, d.events, d.signals, d.as_of, c)\n"
        "s = train_scorer(f, conversion_labels(d.contacts, d.outcomes, d.as_of, 30), c)\n"
        "out = s.score(f)\nassert out.height == f.height and s.kind == 'learned'\n"
        "assert not any(m.startswith('dagster') for m in sys.modules), 'dagster imported'\nprint('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
