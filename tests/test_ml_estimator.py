"""`BinnedLogisticClassifier` as a scikit-learn estimator, its exact reasons and calibration, and
`actionhouse model train|score` on a user's own table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest
from scipy import sparse
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils.estimator_checks import parametrize_with_checks

from ml import BinnedLogisticClassifier, SchemaError
from ml.estimator import _pattern_ids
from orchestration.cli import main


def _table(n: int = 3000, rate: float = 0.3, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    """Mixed features with a known signal: a number, a category, a noisy number with gaps."""
    rng = np.random.default_rng(seed)
    spend = rng.gamma(2.0, 50.0, n)
    plan = rng.choice(["basic", "pro", "enterprise"], n, p=[0.5, 0.3, 0.2])
    noise = np.where(rng.random(n) < 0.1, np.nan, rng.normal(0, 1, n))
    logit = -2.5 + 0.015 * spend + np.select([plan == "pro", plan == "enterprise"], [0.8, 1.6], 0.0)
    shift = np.log(rate / (1 - rate)) - np.log(
        np.mean(1 / (1 + np.exp(-logit))) / (1 - np.mean(1 / (1 + np.exp(-logit))))
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-(logit + shift)))).astype(int)
    return pd.DataFrame({"spend": spend, "plan": plan, "noise": noise}), y


# scikit-learn's own estimator checks, on numeric arrays (three folds keep them quick); none is excluded.
@parametrize_with_checks([BinnedLogisticClassifier(cv=3)])
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


def test_clone_grid_search_pipeline_and_cross_validation():
    X, y = _table(1500)
    model = BinnedLogisticClassifier(n_bins=6)
    assert clone(model).get_params() == model.get_params()
    scores = cross_val_score(BinnedLogisticClassifier(), X, y, cv=3, scoring="roc_auc")
    assert scores.mean() > 0.7
    grid = GridSearchCV(
        make_pipeline(FunctionTransformer(), BinnedLogisticClassifier()),
        {"binnedlogisticclassifier__n_bins": [4, 8]},
        cv=3,
        scoring="roc_auc",
    ).fit(X, y)
    assert grid.best_params_["binnedlogisticclassifier__n_bins"] in (4, 8)
    assert grid.predict_proba(X).shape == (len(y), 2)


def test_pandas_polars_and_numpy_inputs_give_the_same_scores():
    X, y = _table(1200)
    numeric = X[["spend", "noise"]]
    from_pandas = BinnedLogisticClassifier().fit(numeric, y).predict_proba(numeric)[:, 1]
    from_polars = (
        BinnedLogisticClassifier().fit(pl.from_pandas(numeric), y).predict_proba(pl.from_pandas(numeric))[:, 1]
    )
    from_numpy = BinnedLogisticClassifier().fit(numeric.to_numpy(), y).predict_proba(numeric.to_numpy())[:, 1]
    np.testing.assert_allclose(from_pandas, from_polars)
    np.testing.assert_allclose(from_pandas, from_numpy)
    mixed = BinnedLogisticClassifier().fit(X, y)
    assert mixed.categorical_features_ == ["plan"], "text columns are categorical by default"
    np.testing.assert_allclose(mixed.predict_proba(X), mixed.predict_proba(pl.from_pandas(X)))


def test_schema_errors_name_the_column():
    X, y = _table(500)
    with pytest.raises(SchemaError, match=r"column 'plan' has type String but is used as numeric"):
        BinnedLogisticClassifier(categorical=["noise"]).fit(X, y)
    with pytest.raises(SchemaError, match="columns the table does not have: \\['plan_name'\\]"):
        BinnedLogisticClassifier(categorical=["plan_name"]).fit(X, y)
    dated = X.assign(signed=pd.Timestamp("2026-01-01"))
    with pytest.raises(SchemaError, match=r"column 'signed' has type Datetime"):
        BinnedLogisticClassifier().fit(dated, y)
    fitted = BinnedLogisticClassifier().fit(X, y)
    with pytest.raises(SchemaError, match="column 'spend'"):
        fitted.predict_proba(X.assign(spend="a lot"))


def test_reasons_add_up_exactly_to_the_score():
    X, y = _table(2000)
    model = BinnedLogisticClassifier().fit(X, y)
    baseline, contributions = model.explain(X)
    assert contributions.shape == (len(y), 3)
    np.testing.assert_allclose(baseline + contributions.sum(axis=1), model.decision_function(X), atol=1e-12)
    p = model.predict_proba(X)[:, 1]
    np.testing.assert_allclose(1 / (1 + np.exp(-(baseline + contributions.sum(axis=1)))), p, atol=1e-12)
    # The signal is in spend and plan, not in the noise column.
    spread = contributions.max(axis=0) - contributions.min(axis=0)
    assert spread[2] < min(spread[0], spread[1])


def test_calibration_keeps_the_mean_rate_of_rare_positives():
    X, y = _table(6000, rate=0.04, seed=3)
    assert y.mean() < 0.1, "rare positives"
    train, test = np.arange(4000), np.arange(4000, 6000)
    model = BinnedLogisticClassifier().fit(X.iloc[train], y[train])
    p = model.predict_proba(X.iloc[test])[:, 1]
    assert abs(p.mean() - y[test].mean()) < 0.01
    assert abs(model.predict_proba(X.iloc[train])[:, 1].mean() - y[train].mean()) < 0.005


def test_model_train_and_score_a_users_table(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("ACTIONHOUSE_MODELS_DIR", str(tmp_path / "models"))
    X, y = _table(1500)
    table = X.assign(customer_id=[f"c{i}" for i in range(len(y))], churned=np.where(y == 1, "yes", "no"))
    table.to_csv(tmp_path / "customers.csv", index=False)
    assert (
        main(
            ["model", "train", "--table", str(tmp_path / "customers.csv"), "--target", "churned", "--id", "customer_id"]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "registered v0001-table" in out and "categorical columns (inferred from their types): plan" in out
    assert "holdout (300 rows): AUC" in out
    pl.from_pandas(table.drop(columns=["churned"])).write_parquet(tmp_path / "this_month.parquet")
    assert (
        main(
            [
                "model",
                "score",
                "--table",
                str(tmp_path / "this_month.parquet"),
                "--model",
                "v0001-table",
                "--out",
                str(tmp_path / "scores.csv"),
            ]
        )
        == 0
    )
    scores = pl.read_csv(tmp_path / "scores.csv")
    assert scores.columns == ["customer_id", "score", "top_reasons"] and scores.height == len(y)
    assert scores["score"].is_between(0, 1).all()
    assert scores["top_reasons"].str.contains("spend=").mean() > 0.5
    assert main(["model", "train", "--table", str(tmp_path / "customers.csv"), "--target", "status"]) == 2
    assert "no column 'status'" in capsys.readouterr().out


def _fit_on_every_row(model: BinnedLogisticClassifier, X: pd.DataFrame, y: np.ndarray) -> dict:
    """The fit by its plain definition, with `model`'s bins: each C on every training row of each fold, Platt
    scaling on every row's out-of-fold log-odds, the final fit on every row."""
    frame = pl.from_pandas(X)
    idx = np.column_stack([b.index(frame[b.name]) for b in model.bins_])
    offsets = np.cumsum([0] + [b.n_bins for b in model.bins_[:-1]])
    rows = np.repeat(np.arange(len(y)), idx.shape[1])
    design = sparse.csr_matrix((np.ones(idx.size), (rows, (idx + offsets).ravel())))
    folds = list(StratifiedKFold(n_splits=model.cv, shuffle=True, random_state=model.random_state).split(idx, y))
    losses, platt = {}, {}
    for c in model.C_grid:
        oof = np.zeros(len(y))
        for train, test in folds:
            fold_model = LogisticRegression(C=c, max_iter=2000).fit(design[train], y[train])
            oof[test] = fold_model.decision_function(design[test])
        platt[c] = LogisticRegression(C=1e6, max_iter=1000).fit(oof.reshape(-1, 1), y)
        p = np.clip(platt[c].predict_proba(oof.reshape(-1, 1))[:, 1], 1e-12, 1 - 1e-12)
        losses[c] = float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
    chosen = min(model.C_grid, key=lambda c: (losses[c], -c))
    final = LogisticRegression(C=chosen, max_iter=2000).fit(design, y)
    a, b = float(platt[chosen].coef_[0, 0]), float(platt[chosen].intercept_[0])
    return {"C": chosen, "losses": losses, "calibration": (a, b), "logit": a * final.decision_function(design) + b}


def test_fit_on_distinct_bin_patterns_equals_the_fit_on_every_row():
    # `fit` runs each logistic regression on the distinct (bin pattern, label) pairs weighted by their counts;
    # its C choice, out-of-fold losses, calibration and scores must be those of fitting every row.
    X, y = _table(3000)
    model = BinnedLogisticClassifier().fit(X, y)
    assert len({tuple(row) for row in model._bin_indices(pl.from_pandas(X), model.bins_)}) < len(y) / 5
    plain = _fit_on_every_row(model, X, y)
    assert plain["C"] == model.C_
    for c, loss in plain["losses"].items():
        assert model.cv_log_loss_[c] == pytest.approx(loss, abs=2e-6)
    np.testing.assert_allclose(model.calibration_, plain["calibration"], atol=1e-5)
    np.testing.assert_allclose(model.decision_function(X), plain["logit"], atol=1e-5)


def test_bin_pattern_ids_hold_for_many_features():
    # The pattern key is mixed-radix; with 40 features of 12 bins it would pass 64 bits without re-numbering.
    rng = np.random.default_rng(0)
    idx = rng.integers(0, 2, size=(500, 40))
    idx[250:] = idx[:250]  # every pattern twice
    ids, first = _pattern_ids(idx, [12] * 40)
    _, expected = np.unique(idx, axis=0, return_inverse=True)
    assert len(first) == len(np.unique(expected)) == 250
    assert len(set(zip(ids.tolist(), expected.ravel().tolist(), strict=True))) == 250  # the same partition
    np.testing.assert_array_equal(idx[first][ids], idx)
