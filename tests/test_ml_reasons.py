"""Reason texts: the top contributions picked as a stable sort picks them, each row's text as a row-by-row render."""

import numpy as np
import polars as pl
import pytest

from ml.config import load_config
from ml.features import build_features
from ml.reasons import reason_eligible, reason_text_expr, render_reasons, top_reasons
from ml.synthetic import synthetic_leads

CONFIG = load_config()


def sorted_top(contributions: np.ndarray, n_positive: int = 3, n_negative: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """The rule `top_reasons` keeps: the first columns of stable sorts, largest (smallest) first, ties to the
    lower column, -1 where the contribution is too small to quote."""
    f = contributions.shape[1]
    pos = np.argsort(-contributions, axis=1, kind="stable")[:, : min(n_positive, f)]
    neg = np.argsort(contributions, axis=1, kind="stable")[:, : min(n_negative, f)]
    pos_val, neg_val = np.take_along_axis(contributions, pos, 1), np.take_along_axis(contributions, neg, 1)
    return np.where(pos_val >= 0.05, pos, -1), np.where(neg_val <= -0.05, neg, -1)


@pytest.mark.parametrize("seed", range(6))
def test_top_reasons_pick_what_stable_sorts_pick(seed):
    rng = np.random.default_rng(seed)
    # Few distinct values (ties everywhere, a negative zero among them), or continuous ones; some rows with fewer
    # columns than reasons asked for.
    for n, f in ((200, 1), (200, 2), (500, 7), (300, 18)):
        if seed % 2:
            c = rng.choice([-1.0, -0.5, -0.0, 0.0, 0.04, 0.2, 0.5, 1.0], size=(n, f))
        else:
            c = rng.normal(scale=0.3, size=(n, f))
        for k_pos, k_neg in ((3, 2), (1, 1), (5, 4)):
            got, want = top_reasons(c, k_pos, k_neg), sorted_top(c, k_pos, k_neg)
            assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


def test_top_reasons_with_infinities_and_nan_keep_the_sort_order():
    c = np.array([[np.inf, 1.0, -np.inf, 0.2], [np.nan, 0.3, 0.3, -0.4], [-np.inf, -np.inf, 0.1, 0.1]])
    got, want = top_reasons(c), sorted_top(c)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])


@pytest.fixture(scope="module")
def feature_rows():
    data = synthetic_leads(400, seed=3)
    return build_features(data.contacts, data.events, data.signals, data.as_of, CONFIG)


def row_by_row(features: pl.DataFrame, names: list[str], contributions: np.ndarray, prefixes: list[str]) -> list[str]:
    """Each row's reasons rendered on its own: the slots in order, each phrase from that one row."""
    pos, neg = top_reasons(reason_eligible(features, names, contributions))
    out = []
    for i in range(features.height):
        row = features.slice(i, 1).with_columns(pl.lit(0.0).alias("_contribution"))
        parts = []
        for j in [*pos[i], *neg[i]]:
            if j < 0:
                continue
            value = contributions[i, j]
            text = row.with_columns(pl.lit(value).alias("_contribution")).select(
                pl.concat_str(
                    [
                        pl.when(pl.col("_contribution") >= 0).then(pl.lit("+")).otherwise(pl.lit("")),
                        pl.col("_contribution").round(2).cast(pl.String),
                        pl.lit(f" {prefixes[j]}: "),
                        reason_text_expr(names[j], features.columns),
                    ]
                )
            )
            parts.append(text.item())
        out.append("; ".join(parts))
    return out


def test_render_reasons_equals_rendering_each_row_alone(feature_rows):
    names = ["industry", "employees", "icp_match", "decayed_pricing_visit", "decayed_web_visit"]
    names.append("days_since_last_touch")
    prefixes = ["fit", "fit", "fit", "intent", "intent", "intent"]
    rng = np.random.default_rng(7)
    contributions = rng.choice([-0.8, -0.3, -0.04, 0.0, 0.03, 0.2, 0.6, 1.1], size=(feature_rows.height, len(names)))
    got = render_reasons(feature_rows, names, contributions, prefixes)
    assert got.name == "reasons" and got.to_list() == row_by_row(feature_rows, names, contributions, prefixes)


def test_render_reasons_when_nothing_is_worth_quoting(feature_rows):
    names = ["industry", "decayed_web_visit"]
    small = np.full((feature_rows.height, 2), 0.01)
    assert render_reasons(feature_rows, names, small).to_list() == [""] * feature_rows.height
    assert render_reasons(feature_rows.head(0), names, small[:0]).to_list() == []


def test_distinct_rendering_equals_rendering_every_row():
    """`_render_distinct` renders each distinct input once: the same texts as every row rendered, also where
    polars' equality merges values that print differently (-0.0 and 0.0), with NaN and null keys."""
    from ml.reasons import _DISTINCT_RENDER_MIN_ROWS, _render_distinct

    rng = np.random.default_rng(3)
    n = 3 * _DISTINCT_RENDER_MIN_ROWS
    value = rng.choice(np.array([0.0, -0.0, 1.5, np.nan, 2.25]), n)
    frame = pl.DataFrame(
        {
            "_contribution": rng.choice(np.array([0.25, -0.125, 0.0, -0.0, 0.5]), n),
            "value": pl.Series(value).set(pl.Series(rng.random(n) < 0.1), None),
            "level": pl.Series(rng.choice(np.array(["a_b", "c", "d_e_f"]), n)).set(
                pl.Series(rng.random(n) < 0.1), None
            ),
        }
    )
    expr = pl.concat_str(
        [
            pl.col("_contribution").round(2).cast(pl.String),
            pl.lit(" "),
            pl.col("value").round(2).cast(pl.String).fill_null("none"),
            pl.lit(" "),
            pl.col("level").str.replace_all("_", " ").fill_null("unknown"),
        ]
    )
    expected = frame.select(expr).to_series()
    assert {"-0.0", "0.0"} <= {text.split(" ")[0] for text in expected.drop_nulls()}  # both zeros are rendered
    assert _render_distinct(frame, expr).equals(expected)
    # Mostly distinct inputs and small inputs take the plain path: the same texts.
    distinct = frame.with_columns(pl.Series("value", rng.random(n)))
    assert _render_distinct(distinct, expr).equals(distinct.select(expr).to_series())
    small = frame.head(10)
    assert _render_distinct(small, expr).equals(small.select(expr).to_series())


@pytest.mark.parametrize("bound", [1, 18, 256, 257, 65_536, 65_537])
def test_small_codes_sort_as_the_original_codes(bound):
    """The quoting cells are grouped by a stable sort of their feature indices in the narrowest unsigned type:
    the same permutation as the sort of the indices as they are, up to each type's last value."""
    from ml.reasons import _small_codes

    rng = np.random.default_rng(bound)
    codes = rng.integers(0, bound, size=50_000).astype(np.intp)
    codes[:2] = [0, bound - 1]
    small = _small_codes(codes, bound)
    assert (small.astype(np.intp) == codes).all()
    assert small.dtype == (np.uint8 if bound <= 256 else np.uint16 if bound <= 65_536 else np.intp)
    assert (np.argsort(small, kind="stable") == np.argsort(codes, kind="stable")).all()


def test_distinct_rendering_with_nan_and_signed_keys_in_one_group_each():
    """NaN keys (either sign), nulls and both zeros each keep their own text when rows are grouped (the grouping
    takes every NaN as one value and -0.0 as 0.0; the sign bit in the key splits what prints differently)."""
    from ml.reasons import _DISTINCT_RENDER_MIN_ROWS, _render_distinct

    rng = np.random.default_rng(11)
    n = 2 * _DISTINCT_RENDER_MIN_ROWS
    values = rng.choice(np.array([np.nan, -np.nan, 0.0, -0.0, 3.0]), n)
    nulled = pl.Series(values).set(pl.Series(rng.random(n) < 0.2), None)
    frame = pl.DataFrame({"_contribution": values, "value": nulled})
    expr = pl.concat_str([pl.col("_contribution").cast(pl.String), pl.lit("/"), pl.col("value").cast(pl.String)])
    expected = frame.select(expr).to_series()
    got = _render_distinct(frame, expr)
    assert got.equals(expected) and got.name == expected.name
