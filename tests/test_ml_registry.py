"""Model registry (promotion on the same holdout, rollback) and drift (PSI per feature and score)."""

import json

import numpy as np
import polars as pl
import pytest

from ml.config import load_config
from ml.drift import build_reference, drift_report, drift_verdict, psi, reference_distribution
from ml.features import build_features, conversion_labels
from ml.registry import ModelRegistry, RegistryError
from ml.scoring import train_scorer
from ml.synthetic import synthetic_leads

CONFIG = load_config()


@pytest.fixture(scope="module")
def data():
    d = synthetic_leads(5000, seed=21)
    features = build_features(d.contacts, d.events, d.signals, d.as_of, CONFIG)
    labels = conversion_labels(d.contacts, d.outcomes, d.as_of, 30)
    rng = np.random.default_rng(0)
    hold = rng.random(labels.height) < 0.3
    holdout = features.join(labels.filter(pl.Series(hold)), on="contact_id")
    return features, labels.filter(pl.Series(~hold)), holdout


def test_promotion_refuses_worse_challenger_and_rollback_restores(tmp_path, data):
    features, train_labels, holdout = data
    registry = ModelRegistry(tmp_path / "models")
    good = train_scorer(features, train_labels, CONFIG)
    v1 = registry.save(good)
    meta = registry.metadata(v1)
    assert meta["training_fingerprint"] and meta["feature_schema"]["industry"] == "categorical"
    y = holdout["label"].to_numpy()
    first = registry.promote_if_not_worse(v1, holdout, y)
    assert first.promoted and registry.champion_version() == v1

    # A challenger trained on shuffled labels is worse on the same holdout: refused, champion unchanged.
    shuffled = train_labels.with_columns(
        pl.Series("label", np.random.default_rng(1).permutation(train_labels["label"].to_numpy()))
    )
    v2 = registry.save(train_scorer(features, shuffled, CONFIG))
    refused = registry.promote_if_not_worse(v2, holdout, y)
    assert not refused.promoted and registry.champion_version() == v1
    assert refused.challenger_metrics["combined_auc"] < refused.champion_metrics["combined_auc"]

    # An equally good challenger (same data, other seed) is promoted; rollback restores v1.
    v3 = registry.save(train_scorer(features, train_labels, CONFIG, seed=0))
    assert registry.promote_if_not_worse(v3, holdout, y, tolerance=0.01).promoted
    assert registry.champion_version() == v3
    assert registry.rollback() == v1 and registry.champion_version() == v1
    assert registry.load_champion().version == v1
    with pytest.raises(RegistryError, match="no previous champion"):
        registry.rollback()
    state = json.loads((tmp_path / "models" / "registry.json").read_text())
    assert [e["event"].split(" ")[0] for e in state["events"]] == ["promoted", "promoted", "rollback"]


def test_registry_unknown_version(tmp_path):
    with pytest.raises(RegistryError, match="unknown model version"):
        ModelRegistry(tmp_path).load("v9999-learned")
    assert ModelRegistry(tmp_path).load_champion() is None


def test_psi_zero_for_same_and_large_for_shifted():
    rng = np.random.default_rng(0)
    base = pl.Series(rng.normal(0, 1, 20_000))
    ref = reference_distribution(base, "numeric")
    assert psi(ref, pl.Series(rng.normal(0, 1, 20_000))) < 0.01
    assert psi(ref, pl.Series(rng.normal(1.0, 1, 20_000))) > 0.25
    cat = reference_distribution(pl.Series(["a"] * 80 + ["b"] * 20), "categorical")
    assert psi(cat, pl.Series(["a"] * 80 + ["b"] * 20)) == pytest.approx(0.0)
    assert psi(cat, pl.Series(["a"] * 20 + ["b"] * 60 + ["c"] * 20)) > 0.25


def test_drift_report_blocks_on_shifted_feature(data):
    features, train_labels, _ = data
    scorer = train_scorer(features, train_labels, CONFIG)
    scores = scorer.score(features, with_reasons=False)
    schema = {**scorer.fit_model.schema, **scorer.intent_model.schema}
    reference = build_reference(features, scores, schema)
    same = drift_report(reference, features.join(scores, on="contact_id"))
    assert (same["status"] == "ok").all()
    shifted = features.with_columns((pl.col("decayed_pricing_visit") + 3.0).alias("decayed_pricing_visit"))
    report = drift_report(reference, shifted.join(scorer.score(shifted, with_reasons=False), on="contact_id"))
    worst = report.row(0, named=True)
    assert worst["status"] == "block" and worst["column"] in ("decayed_pricing_visit", "intent_score", "combined_score")
    assert report.filter(pl.col("column") == "decayed_pricing_visit")["status"][0] == "block"
    assert report.filter(pl.col("column") == "industry")["status"][0] == "ok"


def test_drift_verdict_levels():
    cfg = {"warn_psi": 0.1, "block_psi": 0.25, "noise_quantile": 0.99}
    report = pl.DataFrame(
        {"column": ["a", "b"], "psi": [0.3, 0.05], "noise_psi": [0.02, 0.02], "status": ["block", "ok"]}
    )
    assert drift_verdict(report, 5000, cfg)[0] == "block"
    warn = pl.DataFrame({"column": ["a"], "psi": [0.15], "noise_psi": [0.02], "status": ["warn"]})
    assert drift_verdict(warn, 5000, cfg) == ("warn", "PSI > 0.1 beyond sampling noise on a (worst a 0.150)")
    noisy = pl.DataFrame({"column": ["a"], "psi": [0.3], "noise_psi": [0.4], "status": ["ok"]})
    verdict, message = drift_verdict(noisy, 400, cfg)
    assert verdict == "ok" and "within sampling noise for 400 leads" in message
    assert drift_verdict(None, 5000, cfg)[0] == "ok"
