"""A data team's own table in, a scored table out: train the explainable model on any labelled CSV or Parquet
file and score another with it (what `actionhouse model train|score` run).

    model = train_table_model(read_table("customers.parquet"), target="churned", id_column="customer_id")
    scores = score_table(model, read_table("customers_this_month.parquet"))   # id, score, top reasons
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.model_selection import train_test_split

from .estimator import BinnedLogisticClassifier
from .metrics import auc, calibration_slope


class TableError(ValueError):
    """A table or a column the training or scoring cannot use, said in words."""


@dataclass
class TableModel:
    """A trained classifier for one table: which column it predicts, which class counts as positive, which
    columns are features (and which one identifies rows). Stored in the model registry like the lead scorer."""

    model: BinnedLogisticClassifier
    target: str
    positive: str
    id_column: str | None
    features: list[str]
    kind: str = "table"
    fallback_reason: str = ""
    version: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)


def read_table(path: str | Path) -> pl.DataFrame:
    """A CSV or Parquet file as a polars frame (types inferred from the whole CSV)."""
    path = Path(path)
    if not path.is_file():
        raise TableError(f"no such file: {path}")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pl.read_parquet(path)
    if suffix in (".csv", ".txt"):
        try:
            return pl.read_csv(path, infer_schema_length=None, null_values=["", "NA", "NaN", "null"])
        except pl.exceptions.ComputeError as exc:
            raise TableError(f"{path} is not a readable CSV file: {exc}") from exc
    raise TableError(f"{path}: only .csv and .parquet tables are supported")


def _labels(table: pl.DataFrame, target: str, positive: str | None) -> tuple[np.ndarray, str]:
    if target not in table.columns:
        raise TableError(f"the table has no column '{target}' (columns: {', '.join(table.columns)})")
    column = table[target]
    if column.null_count():
        raise TableError(f"target column '{target}' has {column.null_count()} empty values; drop or fill those rows")
    values = sorted(str(v) for v in column.unique().to_list())
    if len(values) != 2:
        raise TableError(f"target column '{target}' must have exactly two values, it has {len(values)}: {values[:5]}")
    positive = str(positive) if positive is not None else values[1]
    if positive not in values:
        raise TableError(f"positive value '{positive}' is not in target column '{target}' (values: {values})")
    return (column.cast(pl.String) == positive).to_numpy().astype(int), positive


def train_table_model(
    table: pl.DataFrame,
    target: str,
    id_column: str | None = None,
    categorical: list[str] | None = None,
    positive: str | None = None,
    holdout_share: float = 0.2,
    seed: int = 0,
) -> TableModel:
    """Train on every row; report AUC, calibration slope and mean rates on a stratified holdout first.

    `positive`: the target value that counts as 1 (default: the larger of the two values, e.g. "yes" or 1).
    `categorical`: columns to treat as categories (default: inferred from their types).
    """
    y, positive = _labels(table, target, positive)
    if id_column is not None and id_column not in table.columns:
        raise TableError(f"the table has no id column '{id_column}'")
    features = [c for c in table.columns if c not in (target, id_column)]
    if not features:
        raise TableError("the table has no feature columns besides the target and id")
    X = table.select(features)
    params = {"categorical": categorical if categorical else "auto", "random_state": seed}
    metrics: dict[str, Any] = {"rows": table.height, "positives": int(y.sum()), "positive_value": positive}
    if min(y.sum(), y.size - y.sum()) >= 10:
        rows = np.arange(table.height)
        train, test = train_test_split(rows, test_size=holdout_share, stratify=y, random_state=seed)
        held = BinnedLogisticClassifier(**params).fit(X[train], y[train])
        p = held.predict_proba(X[test])[:, 1]
        metrics.update(
            holdout_rows=int(test.size),
            holdout_auc=round(auc(y[test], p), 4),
            holdout_calibration_slope=round(calibration_slope(y[test], p), 3),
            holdout_mean_predicted=round(float(p.mean()), 4),
            holdout_mean_observed=round(float(y[test].mean()), 4),
        )
    model = BinnedLogisticClassifier(**params).fit(X, y)
    metrics.update(C=model.C_, categorical=model.categorical_features_, features=features, target=target)
    return TableModel(model, target, positive, id_column, features, metadata=metrics)


def score_table(table_model: TableModel, table: pl.DataFrame, top: int = 3) -> pl.DataFrame:
    """The table's id (when the model has one), the score (probability of the positive value, 0-1) and the
    `top` features that moved it most, in words with their log-odds contribution."""
    missing = [c for c in table_model.features if c not in table.columns]
    if missing:
        raise TableError(f"the table lacks the model's feature columns: {missing}")
    X = table.select(table_model.features)
    explanation = table_model.model.explain(X)
    probability = 1 / (1 + np.exp(-explanation.logit))
    order = np.argsort(-np.abs(explanation.contributions), axis=1)[:, :top]
    names = table_model.features
    values = {name: X[name].cast(pl.String).to_list() for name in names}
    reasons = [
        "; ".join(f"{names[j]}={values[names[j]][i]} ({explanation.contributions[i, j]:+.2f})" for j in order[i])
        for i in range(table.height)
    ]
    out = pl.DataFrame({"score": np.round(probability, 6), "top_reasons": reasons})
    if table_model.id_column and table_model.id_column in table.columns:
        out = out.insert_column(0, table[table_model.id_column])
    return out
