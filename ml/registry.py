"""Model registry under a folder (default `data/models/`): artifacts, metadata JSON, champion, rollback.

Layout: `<root>/<version>/scorer.pkl` + `<root>/<version>/metadata.json`, and `<root>/registry.json` holding the
champion and the stack of previous champions (what `rollback` restores). Files are written atomically.
"""

from __future__ import annotations

import json
import os
import pickle
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from .metrics import calibration_table, score_metrics, tier_summary, tier_table
from .scoring import LeadScorer


class RegistryError(RuntimeError):
    """A registry operation cannot be done (unknown version, nothing to roll back to...)."""


class IncompatibleModelError(RegistryError):
    """A stored model written by an older version of the code: it cannot be loaded, a new one is trained."""


@dataclass
class PromotionDecision:
    """Outcome of comparing a challenger with the champion on the same holdout."""

    promoted: bool
    reason: str
    challenger: str
    champion: str | None
    challenger_metrics: dict[str, float]
    champion_metrics: dict[str, float] | None


def evaluate_scorer(scorer: LeadScorer, features: pl.DataFrame, labels: np.ndarray) -> dict[str, Any]:
    """Holdout figures of a scorer: AUC / lift / calibration error per score, tier capture, tables."""
    y = np.asarray(labels).astype(int)
    scores = scorer.score(features, with_reasons=False)
    out: dict[str, Any] = {}
    for col in ("fit_score", "intent_score", "combined_score"):
        for k, v in score_metrics(y, scores[col].to_numpy() / 100.0).items():
            out[f"{col.removesuffix('_score')}_{k}"] = round(v, 5) if np.isfinite(v) else None
    out.update({k: round(v, 5) if np.isfinite(v) else None for k, v in tier_summary(y, scores["tier"]).items()})
    out["holdout_rows"] = int(y.size)
    out["holdout_positives"] = int(y.sum())
    out["tier_table"] = tier_table(y, scores["tier"].to_numpy())
    out["calibration"] = calibration_table(y, scores["combined_score"].to_numpy() / 100.0)
    return out


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class ModelRegistry:
    """Versioned scorers on disk with one champion and a rollback history."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    # --- state -------------------------------------------------------------------------------------------
    def _state_path(self) -> Path:
        return self.root / "registry.json"

    def state(self) -> dict[str, Any]:
        """`{"champion": version|None, "previous": [older champions, newest last], "events": [...]}`."""
        path = self._state_path()
        if not path.exists():
            return {"champion": None, "previous": [], "events": []}
        return json.loads(path.read_text())

    def _save_state(self, state: dict[str, Any]) -> None:
        _write_atomic(self._state_path(), (json.dumps(state, indent=2) + "\n").encode())

    def versions(self) -> list[str]:
        """Every saved version, oldest first."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and (p / "metadata.json").exists())

    def champion_version(self) -> str | None:
        """The version currently used for scoring (None before the first promotion)."""
        return self.state()["champion"]

    # --- artifacts ---------------------------------------------------------------------------------------
    def save(self, scorer: LeadScorer, metadata: dict[str, Any] | None = None) -> str:
        """Store a scorer as a new version (not yet champion); returns the version id."""
        existing = self.versions()
        number = 1 + max((int(v.split("-")[0][1:]) for v in existing if v[1:].split("-")[0].isdigit()), default=0)
        version = f"v{number:04d}-{scorer.kind}"
        scorer.version = version
        folder = self.root / version
        folder.mkdir(parents=True, exist_ok=False)
        meta = {
            "version": version,
            "saved_at": time.time(),
            "kind": scorer.kind,
            "fallback_reason": scorer.fallback_reason,
            **scorer.metadata,
            **(metadata or {}),
        }
        scorer.metadata = meta
        _write_atomic(folder / "scorer.pkl", pickle.dumps(scorer, protocol=pickle.HIGHEST_PROTOCOL))
        _write_atomic(folder / "metadata.json", (json.dumps(meta, indent=2, default=str) + "\n").encode())
        return version

    def metadata(self, version: str) -> dict[str, Any]:
        """The metadata JSON of a version."""
        path = self.root / version / "metadata.json"
        if not path.exists():
            raise RegistryError(f"unknown model version {version!r}")
        return json.loads(path.read_text())

    def load(self, version: str) -> LeadScorer:
        """Load a stored scorer."""
        path = self.root / version / "scorer.pkl"
        if not path.exists():
            raise RegistryError(f"unknown model version {version!r}")
        try:
            with path.open("rb") as fh:
                return pickle.load(fh)  # noqa: S301 - our own artifact, written by save()
        except (AttributeError, ImportError, ModuleNotFoundError) as exc:
            raise IncompatibleModelError(
                f"model version {version!r} was saved by an older Actionhouse and cannot be loaded ({exc}); "
                "train a new one (the next refresh does, or `actionhouse model train`)"
            ) from exc

    def load_champion(self) -> LeadScorer | None:
        """The champion scorer, or None when nothing has been promoted yet."""
        version = self.champion_version()
        return self.load(version) if version else None

    # --- promotion / rollback ----------------------------------------------------------------------------
    def set_champion(self, version: str, event: str) -> None:
        """Make `version` the champion (the old one goes on the rollback stack) and record why."""
        state = self.state()
        if state["champion"] and state["champion"] != version:
            state["previous"].append(state["champion"])
        state["champion"] = version
        state["events"].append({"at": time.time(), "event": event, "version": version})
        self._save_state(state)

    def promote_if_not_worse(
        self,
        challenger: str,
        holdout: pl.DataFrame,
        labels: np.ndarray,
        metric: str = "combined_auc",
        tolerance: float = 0.0,
    ) -> PromotionDecision:
        """Score champion and challenger on the SAME holdout; promote the challenger only if its `metric` is
        not below the champion's minus `tolerance`. The first model is promoted when there is no champion."""
        challenger_scorer = self.load(challenger)
        ch_metrics = evaluate_scorer(challenger_scorer, holdout, labels)
        champion = self.champion_version()
        if champion is None:
            self.set_champion(challenger, "promoted (no champion)")
            return PromotionDecision(True, "no champion yet", challenger, None, ch_metrics, None)
        if champion == challenger:
            return PromotionDecision(
                False, "challenger is already the champion", challenger, champion, ch_metrics, ch_metrics
            )
        try:
            cp_metrics = evaluate_scorer(self.load(champion), holdout, labels)
        except IncompatibleModelError:
            self.set_champion(challenger, f"promoted over {champion}, which this version cannot load")
            return PromotionDecision(
                True, f"champion {champion} cannot be loaded", challenger, champion, ch_metrics, None
            )
        ch_value, cp_value = ch_metrics.get(metric), cp_metrics.get(metric)
        if ch_value is None or (cp_value is not None and ch_value < cp_value - tolerance):
            return PromotionDecision(
                False,
                f"{metric} {ch_value} < champion {cp_value} (tolerance {tolerance})",
                challenger,
                champion,
                ch_metrics,
                cp_metrics,
            )
        self.set_champion(challenger, f"promoted over {champion}: {metric} {ch_value} >= {cp_value}")
        return PromotionDecision(
            True, f"{metric} {ch_value} >= champion {cp_value}", challenger, champion, ch_metrics, cp_metrics
        )

    def rollback(self) -> str:
        """Make the previous champion the champion again; returns it. Raises when there is none."""
        state = self.state()
        if not state["previous"]:
            raise RegistryError("no previous champion to roll back to")
        current = state["champion"]
        restored = state["previous"].pop()
        state["champion"] = restored
        state["events"].append({"at": time.time(), "event": f"rollback from {current}", "version": restored})
        self._save_state(state)
        return restored
