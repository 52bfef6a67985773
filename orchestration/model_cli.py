"""`actionhouse model ...`: inspect the lead-scorer registry, roll back to the previous champion, retrain."""

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
        auc = (meta.get("holdout_metrics") or {}).get("combined_auc")
        mark = "*" if version == champion else " "
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


def add_model_commands(subparsers) -> None:
    """Register `model list|show|rollback` on the `actionhouse` parser's subcommands."""
    model = subparsers.add_parser("model", help="lead-scorer registry: list, show, rollback")
    model_sub = model.add_subparsers(dest="model_command", required=True)
    listing = model_sub.add_parser("list", help="stored model versions (* = champion)")
    listing.set_defaults(func=cmd_model_list)
    show = model_sub.add_parser("show", help="metadata of a version (default: the champion)")
    show.add_argument("version", nargs="?")
    show.set_defaults(func=cmd_model_show)
    rollback = model_sub.add_parser("rollback", help="make the previous champion the champion again")
    rollback.set_defaults(func=cmd_model_rollback)
