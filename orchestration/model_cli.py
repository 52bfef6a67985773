"""`actionhouse model ...`: the model registry (list, show, roll back the lead scorer) and models for any table
(`model train --table FILE --target COL`, `model score --table FILE --model ID --out FILE`)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from orchestration.settings import resolve_paths


def _registry():
    from ml.registry import ModelRegistry

    path = Path(os.environ.get("ACTIONHOUSE_MODELS_DIR", resolve_paths().data_dir / "models"))
    return ModelRegistry(path)


def cmd_model_list(args: argparse.Namespace) -> int:
    """Print every stored version, its kind, holdout AUC, and which one is the champion."""
    registry = _registry()
    champion = registry.champion_version()
    versions = registry.versions()
    if not versions:
        print(f"no models in {registry.root}")
        return 0
    for version in versions:
        meta = registry.metadata(version)
        mark = "*" if version == champion else " "
        if meta.get("kind") == "table":
            print(
                f"{mark} {version:<18} kind=table target={meta.get('target')} rows={meta.get('rows')} "
                f"holdout_auc={meta.get('holdout_auc')} table={meta.get('table')}"
            )
            continue
        auc = (meta.get("holdout_metrics") or {}).get("combined_auc")
        print(
            f"{mark} {version:<18} kind={meta.get('kind')} combined_auc={auc} "
            f"labelled={meta.get('labelled')} config={meta.get('config_version')} "
            f"{meta.get('fallback_reason') or ''}".rstrip()
        )
    return 0


def cmd_model_rollback(args: argparse.Namespace) -> int:
    """Restore the previous champion; the next scoring run uses it."""
    from ml.registry import RegistryError

    registry = _registry()
    current = registry.champion_version()
    try:
        restored = registry.rollback()
    except RegistryError as err:
        print(f"rollback refused: {err}")
        return 1
    print(f"champion: {current} -> {restored} (scores use it from the next scoring run)")
    return 0


def cmd_model_show(args: argparse.Namespace) -> int:
    """Print a version's metadata (default: the champion) without the bulky drift reference."""
    registry = _registry()
    version = args.version or registry.champion_version()
    if not version:
        print("no champion yet")
        return 1
    meta = {k: v for k, v in registry.metadata(version).items() if k != "drift_reference"}
    print(json.dumps(meta, indent=2, default=str))
    return 0


def cmd_model_train(args: argparse.Namespace) -> int:
    """Train the explainable classifier on a labelled CSV/Parquet table and register it with its metrics."""
    from ml.tables import TableError, read_table, train_table_model

    try:
        table = read_table(args.table)
        categorical = [c.strip() for part in args.categorical or [] for c in part.split(",") if c.strip()]
        trained = train_table_model(
            table, args.target, id_column=args.id, categorical=categorical or None, positive=args.positive
        )
    except (TableError, ValueError) as err:
        print(f"cannot train: {err}")
        return 2
    version = _registry().save(trained, {"table": str(Path(args.table).resolve())})
    meta = trained.metadata
    positives = f"{meta['positives']:,} with {args.target} = {meta['positive_value']}"
    print(f"registered {version}: {meta['rows']:,} rows, {positives}")
    if "holdout_auc" in meta:
        print(
            f"holdout ({meta['holdout_rows']:,} rows): AUC {meta['holdout_auc']}, calibration slope "
            f"{meta['holdout_calibration_slope']}, mean predicted {meta['holdout_mean_predicted']} vs observed "
            f"{meta['holdout_mean_observed']}"
        )
    inferred = "inferred from their types" if not args.categorical else "as given"
    print(
        f"categorical columns ({inferred}): {', '.join(meta['categorical']) or 'none'}; L2 C chosen by CV: {meta['C']}"
    )
    print(f"score a table with it: actionhouse model score --table FILE --model {version} --out scores.csv")
    return 0


def cmd_model_score(args: argparse.Namespace) -> int:
    """Score a CSV/Parquet table with a registered table model; write scores and top reasons."""
    from ml.registry import RegistryError
    from ml.tables import TableError, TableModel, read_table, score_table

    try:
        trained = _registry().load(args.model)
        if not isinstance(trained, TableModel):
            print(f"{args.model} is the lead scorer, not a table model (train one with `actionhouse model train`)")
            return 2
        scores = score_table(trained, read_table(args.table), top=args.top)
    except (RegistryError, TableError, ValueError) as err:
        print(f"cannot score: {err}")
        return 2
    out = Path(args.out)
    if out.suffix.lower() == ".parquet":
        scores.write_parquet(out)
    else:
        scores.write_csv(out)
    print(f"wrote {scores.height:,} scores to {out} (score = probability of {trained.target} = {trained.positive})")
    return 0


def add_model_commands(subparsers) -> None:
    """Register `model list|show|rollback` on the `actionhouse` parser's subcommands."""
    model = subparsers.add_parser("model", help="model registry: list, show, rollback; train and score your own table")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    listing = model_sub.add_parser("list", help="stored model versions (* = champion)")
    listing.set_defaults(func=cmd_model_list)
    show = model_sub.add_parser("show", help="metadata of a version (default: the champion)")
    show.add_argument("version", nargs="?")
    show.set_defaults(func=cmd_model_show)
    rollback = model_sub.add_parser("rollback", help="make the previous champion the champion again")
    rollback.set_defaults(func=cmd_model_rollback)
    train = model_sub.add_parser("train", help="train the explainable classifier on your own labelled table")
    train.add_argument("--table", required=True, help="CSV or Parquet file, one row per example")
    train.add_argument("--target", required=True, help="the column to predict (two values)")
    train.add_argument("--id", help="a column identifying rows (not a feature; kept in the scores)")
    train.add_argument("--categorical", action="append", help="columns to treat as categories (comma-separated)")
    train.add_argument("--positive", help="the target value that counts as positive (default: the larger one)")
    train.set_defaults(func=cmd_model_train)
    score = model_sub.add_parser("score", help="score a table with a model from `model train`")
    score.add_argument("--table", required=True)
    score.add_argument("--model", required=True, help="model version (see `actionhouse model list`)")
    score.add_argument("--out", required=True, help="output file (.csv or .parquet)")
    score.add_argument("--top", type=int, default=3, help="reasons per row")
    score.set_defaults(func=cmd_model_score)
