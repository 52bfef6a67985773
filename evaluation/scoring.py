"""Scoring evaluation on a sample world: `python -m evaluation.scoring` (what `make eval-scoring` runs).

Generates (or reuses) a sample world, refreshes its warehouse with the `actionhouse` CLI, trains the scorer on
features as of `horizon` days before the data's end with labels observed in the warehouse (intent and combined:
meetings / opportunities; fit: won vs lost among deals closed before that date — `fit_auc` is on held-out
won/lost labels), and evaluates a holdout of golden contacts (one lead per resolved person) against the hidden
truth (`converted` of the person most of the golden contact's records belong to).
The reply classifier is trained and tested on the world's labelled replies. The last line is machine-readable.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl

from ml.config import load_config
from ml.features import conversion_labels, fit_labels
from ml.metrics import auc, tier_summary, tier_table, top_decile_lift
from ml.model import points_baseline
from ml.pipeline import won_lost_metrics
from ml.registry import evaluate_scorer
from ml.replies import ReplyClassifier, classification_report, macro_f1
from ml.scoring import train_scorer
from ml.warehouse import load_scoring_inputs

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def generator_fingerprint() -> str:
    """Hash of the sample-world generator's source: a world built by other generator code is rebuilt."""
    digest = hashlib.sha256()
    for path in sorted((PROJECT_ROOT / "sample_world").glob("*.py")):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def prepare_world(out_dir: Path, contacts: int, seed: int) -> Path:
    """Generate and refresh a sample world unless `out_dir` already holds one with the same size, seed and
    generator code (`eval_world.json` records them once the warehouse is built)."""
    marker = out_dir / "eval_world.json"
    warehouse = out_dir / "warehouse.duckdb"
    wanted = {"contacts": contacts, "seed": seed, "generator": generator_fingerprint()}
    if marker.exists() and warehouse.exists() and json.loads(marker.read_text()) == wanted:
        return warehouse
    marker.unlink(missing_ok=True)
    venv_bin = Path(sys.executable).parent
    env = {**os.environ, "ACTIONHOUSE_DATA_DIR": str(out_dir), "DAGSTER_HOME": str(out_dir / "dagster_home")}
    env.pop("ACTIONHOUSE_WAREHOUSE", None)
    env.pop("ACTIONHOUSE_LANDING_DIR", None)
    warehouse.unlink(missing_ok=True)
    (out_dir / "operations.sqlite").unlink(missing_ok=True)  # the decision queue of a previous world
    subprocess.run(
        [sys.executable, "-m", "sample_world", "--contacts", str(contacts), "--seed", str(seed), "--out", str(out_dir)],
        check=True,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    subprocess.run(
        [str(venv_bin / "actionhouse"), "refresh"],
        check=True,
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    marker.write_text(json.dumps(wanted) + "\n")
    return warehouse


def holdout_mask(ids: pl.Series, share: float, seed: int) -> np.ndarray:
    """Deterministic split by contact id hash (the same lead is always on the same side)."""
    h = ids.hash(seed=seed).to_numpy()
    return (h % 10_000) < share * 10_000


def golden_truth_people(crosswalk: pl.DataFrame, truth_contacts: pl.DataFrame) -> pl.DataFrame:
    """Hidden person of each golden contact: the person most of its member records belong to (ties: smallest id).

    `crosswalk`: `record_id`, `golden_contact_id`; `truth_contacts`: the world's `record_id`, `person_id`.
    Returns `contact_id` (the golden id, as scored), `person_id`.
    """
    return (
        crosswalk.join(truth_contacts.select("record_id", "person_id"), on="record_id", how="inner")
        .group_by("golden_contact_id", "person_id")
        .len()
        .sort(["golden_contact_id", "len", "person_id"], descending=[False, True, False])
        .unique("golden_contact_id", keep="first", maintain_order=True)
        .select(pl.col("golden_contact_id").alias("contact_id"), "person_id")
    )


def evaluate_leads(world: Path, warehouse: Path, holdout_share: float, seed: int) -> dict:
    """Train on the warehouse's observed labels, score the holdout, compare with the hidden truth."""
    from sample_world import load_truth

    config = load_config()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        inputs = load_scoring_inputs(con)
        crosswalk = con.sql(
            "select source_record_id as record_id, golden_contact_id from marts.contact_crosswalk"
        ).pl()
    horizon = int(config["labels"]["horizon_days"])
    as_of = inputs.now - timedelta(days=horizon)
    features = inputs.features(as_of, config)
    labels = conversion_labels(inputs.contacts, inputs.outcomes, as_of, horizon)
    won_lost = fit_labels(inputs.closed_deals, as_of)
    hold = holdout_mask(labels["contact_id"], holdout_share, seed)
    fit_hold = pl.Series(holdout_mask(won_lost["contact_id"], holdout_share, seed))
    t0 = time.perf_counter()
    scorer = train_scorer(
        features, labels.filter(pl.Series(~hold)), config, seed=seed, fit_labels=won_lost.filter(~fit_hold)
    )
    train_seconds = time.perf_counter() - t0

    truth_contacts = golden_truth_people(crosswalk, load_truth(world, "contacts"))
    people = load_truth(world, "people").select("person_id", "converted", "converted_at")
    as_of_epoch = as_of.timestamp()
    truth = (
        labels.filter(pl.Series(hold))
        .select("contact_id")
        .join(truth_contacts, on="contact_id", how="inner")
        .join(people, on="person_id", how="inner")
        .with_columns((pl.col("converted") & (pl.col("converted_at") >= as_of_epoch)).cast(pl.Int8).alias("truth"))
    )
    holdout = features.join(truth.select("contact_id", "truth"), on="contact_id", how="inner")
    y = holdout["truth"].to_numpy()
    metrics = evaluate_scorer(scorer, holdout, y)
    # The fit score is judged on its own label (won vs lost among held-out leads with a closed deal); its AUC
    # against conversion is kept as `fit_conversion_auc`.
    metrics["fit_conversion_auc"] = metrics["fit_auc"]
    metrics.update(won_lost_metrics(scorer, features, won_lost.filter(fit_hold)))
    metrics["fit_auc"] = metrics["fit_won_lost_auc"]
    metrics["fit_calibration_error"] = metrics["fit_won_lost_calibration_error"]
    metrics["fit_train_rows"] = int((~fit_hold).sum())
    baseline = points_baseline(holdout, config)
    metrics.update(
        {
            "baseline_auc": auc(y, baseline),
            "baseline_top_decile_lift": top_decile_lift(y, baseline),
            "train_rows": int((~hold).sum()),
            "train_seconds": round(train_seconds, 2),
            "model_kind": scorer.kind,
            "fallback_reason": scorer.fallback_reason,
            **{k: scorer.metadata.get(k) for k in ("fit_kind", "fit_fallback_reason", "fit_labelled", "fit_positives")},
        }
    )
    scores = scorer.score(holdout.head(3))
    metrics["example_reasons"] = scores["reasons"].to_list()
    metrics["tier_table"] = tier_table(y, scorer.score(holdout, with_reasons=False)["tier"].to_numpy())
    metrics.update(tier_summary(y, scorer.score(holdout, with_reasons=False)["tier"].to_numpy()))
    return metrics


def evaluate_replies(world: Path, holdout_share: float, seed: int) -> dict:
    """Train the reply classifier on part of the labelled replies and report per-class figures on the rest."""
    from sample_world import load_truth

    config = load_config()
    replies = load_truth(world, "replies").select("event_id", "true_class", "reply_text")
    hold = holdout_mask(replies["event_id"], holdout_share, seed)
    train, test = replies.filter(pl.Series(~hold)), replies.filter(pl.Series(hold))
    clf = ReplyClassifier(min_confidence=float(config["replies"]["min_confidence"]), seed=seed)
    clf.fit(train["reply_text"].to_list(), train["true_class"].to_list())
    preds = [p.label for p in clf.predict(test["reply_text"].to_list())]
    report = classification_report(test["true_class"].to_list(), preds)
    all_preds = [p.label for p in clf.predict(replies["reply_text"].to_list())]
    full = classification_report(replies["true_class"].to_list(), all_preds)
    return {
        "report": report,
        "macro_f1": macro_f1(report),
        "unsubscribe_recall": report["unsubscribe"]["recall"],
        "unsubscribe_recall_all_labelled": full["unsubscribe"]["recall"],
        "test_rows": test.height,
    }


def scorer_fit_text(leads: dict) -> str:
    """How the fit part was trained, in words (learned on N won/lost leads, or the rules fallback and why)."""
    if leads["fit_kind"] == "learned":
        return f"learned on {leads['fit_labelled']:,} leads with a closed deal ({leads['fit_positives']:,} won)"
    return f"ICP rules ({leads['fit_fallback_reason']})"


def _fmt(v: float | None, digits: int = 3) -> str:
    return "nan" if v is None or not np.isfinite(v) else f"{v:.{digits}f}"


def main(argv: list[str] | None = None) -> int:
    """Print the evaluation; the last line is `eval-scoring key=value ...`."""
    parser = argparse.ArgumentParser(prog="python -m evaluation.scoring", description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--holdout-share", type=float, default=0.3)
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="world folder (default bench_data/scoring_<contacts>_<seed> in the checkout)",
    )
    args = parser.parse_args(argv)
    world = args.work_dir or PROJECT_ROOT / "bench_data" / f"scoring_{args.contacts}_{args.seed}"
    world.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    warehouse = prepare_world(world, args.contacts, args.seed)
    print(f"world: {world} ({args.contacts:,} contacts, seed {args.seed}) ready in {time.perf_counter() - t0:.0f}s")
    leads = evaluate_leads(world, warehouse, args.holdout_share, args.seed)
    replies = evaluate_replies(world, args.holdout_share, args.seed)
    print(
        f"model: {leads['model_kind']} {leads['fallback_reason']}; trained on {leads['train_rows']:,} leads in "
        f"{leads['train_seconds']}s; holdout {leads['holdout_rows']:,} golden contacts "
        f"({leads['holdout_positives']:,} converted)"
    )
    print(
        f"fit model: {scorer_fit_text(leads)}; fit auc / calibration below are on its own label, won vs lost among "
        f"{leads['fit_won_lost_rows']:,} held-out leads with a deal closed before the as-of date "
        f"({leads['fit_won_lost_positives']:,} won); intent and combined on conversion"
    )
    print("score      auc    top-decile-lift  calibration-error")
    for name in ("fit", "intent", "combined"):
        lift = "(won/lost)" if name == "fit" else _fmt(leads[f"{name}_top_decile_lift"], 2)
        print(f"{name:<9} {_fmt(leads[f'{name}_auc'])}  {lift:>8}  {_fmt(leads[f'{name}_calibration_error'], 4):>16}")
    print(f"{'fit->conv':<9} {_fmt(leads['fit_conversion_auc'])}  {'(fit score vs conversion)':>26}")
    print(
        f"{'baseline':<9} {_fmt(leads['baseline_auc'])}  {_fmt(leads['baseline_top_decile_lift'], 2):>8}"
        f"  {'(points, n/a)':>16}"
    )
    print("tier  leads   lead-share  conversion-rate  conversion-capture")
    for row in leads["tier_table"]:
        print(
            f"{row['tier']:<5} {row['leads']:<7} {row['lead_share']:>9.3f}  {row['conversion_rate']:>14.3f}"
            f"  {row['conversion_capture']:>17.3f}"
        )
    print("example reasons:")
    for r in leads["example_reasons"]:
        print(f"  {r}")
    print(f"reply classifier (holdout of {replies['test_rows']} labelled replies):")
    for cls, row in replies["report"].items():
        if not cls.startswith("_"):
            print(
                f"  {cls:<22} precision={_fmt(row['precision'])} recall={_fmt(row['recall'])} support={row['support']}"
            )
    print(
        f"  needs_human share={_fmt(replies['report']['_needs_human_share']['share'])}; unsubscribe recall on all "
        f"labelled replies={_fmt(replies['unsubscribe_recall_all_labelled'])}"
    )
    print(
        f"eval-scoring fit_auc={_fmt(leads['fit_auc'])} intent_auc={_fmt(leads['intent_auc'])} "
        f"combined_auc={_fmt(leads['combined_auc'])} baseline_auc={_fmt(leads['baseline_auc'])} "
        f"combined_top_decile_lift={_fmt(leads['combined_top_decile_lift'], 2)} "
        f"baseline_top_decile_lift={_fmt(leads['baseline_top_decile_lift'], 2)} "
        f"tier12_share={_fmt(leads['tier12_share'])} tier12_capture={_fmt(leads['tier12_capture'])} "
        f"tier1_vs_tier3={_fmt(leads['tier1_vs_tier3'], 1)} reply_macro_f1={_fmt(replies['macro_f1'])} "
        f"unsubscribe_recall={_fmt(replies['unsubscribe_recall'])}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
