"""The engagement aggregation of `build_features`: numpy sums per (key, kind) against a row-by-row reference on
the hard cases (nulls, unknown kinds, events at or after the cutoff, keys whose every event is filtered out),
and the same bits whatever the key's type."""

import math
import random
from datetime import timedelta

import polars as pl
import pytest

from ml.config import load_config
from ml.features import ALL_KINDS, DAY_SECONDS, EVENT_KINDS, build_features, intent_features, to_epoch_seconds
from ml.synthetic import AS_OF

CONFIG = load_config()
IDS = ["gc-b", "gc-a", "gc-c", "gc-d"]  # gc-d: only events at or after the cutoff


def _contacts(ids):
    n = len(ids)
    return pl.DataFrame(
        {
            "contact_id": ids,
            "role_category": ["sales"] * n,
            "seniority": ["vp"] * n,
            "country_code": ["US"] * n,
            "industry": ["retail"] * n,
            "employees": [50] * n,
            "company_domain": ["acme.io", "beta.io", None, "acme.io"][:n],
        }
    )


def _events():
    rng = random.Random(7)
    rows = []
    for _ in range(400):
        key = rng.choice(["gc-a", "gc-b", "gc-c", "gc-x", None])  # gc-x: no lead; None: no key
        kind = rng.choice([*EVENT_KINDS, "unknown_kind", None])
        at = AS_OF - timedelta(seconds=rng.randrange(-5 * 86_400, 120 * 86_400)) if rng.random() > 0.05 else None
        rows.append((key, kind, at))
    rows += [("gc-d", "web_visit", AS_OF), ("gc-d", "pricing_visit", AS_OF + timedelta(days=1))]
    return pl.DataFrame(
        rows, schema={"contact_id": pl.String, "kind": pl.String, "occurred_at": pl.Datetime("us", "UTC")}, orient="row"
    )


def _signals(days_before):
    return pl.DataFrame(
        {
            "domain": ["acme.io", "acme.io", "beta.io"],
            "kind": ["hiring_signal", "funding_signal", "tool_install_signal"],
            "occurred_at": [AS_OF - timedelta(days=d) for d in days_before],
        }
    )


def _reference(events, ids):
    """Per lead, by hand: decayed sums (math.fsum), windowed counts, days since the last touch."""
    as_of = to_epoch_seconds(AS_OF)
    half_lives = CONFIG["features"]["half_life_days"]
    windows = CONFIG["features"]["count_windows_days"]
    out = {i: {c: 0.0 for c in intent_features(CONFIG)} for i in ids}
    weights, last = {}, {}
    for key, kind, at in events.iter_rows():
        if key not in out or kind not in EVENT_KINDS or at is None or to_epoch_seconds(at) >= as_of:
            continue
        age = (as_of - to_epoch_seconds(at)) / DAY_SECONDS
        weights.setdefault((key, kind), []).append(math.exp(-math.log(2) * age / half_lives[kind]))
        for w in windows:
            out[key][f"count_{kind}_{w}d"] += age < w
        last[key] = min(last.get(key, 365.0), age)
    for (key, kind), ws in weights.items():
        out[key][f"decayed_{kind}"] = math.fsum(ws)
    for key in ids:
        out[key]["days_since_last_touch"] = last.get(key, 365.0)
    return out


def test_event_aggregates_match_a_row_by_row_reference():
    events = _events()
    features = build_features(_contacts(IDS), events, None, AS_OF, CONFIG)
    assert features["contact_id"].to_list() == IDS  # the contacts' rows, in their order
    expected = _reference(events, IDS)
    for row in features.iter_rows(named=True):
        for column, value in expected[row["contact_id"]].items():
            if not column.startswith("count_"):  # sums in another order; polars' division by a day
                assert row[column] == pytest.approx(value, rel=1e-13, abs=0), column
            else:
                assert row[column] == value, column
    d = features.row(3, named=True)
    assert d["days_since_last_touch"] == 365.0 and d["count_web_visit_90d"] == 0.0  # nothing before the cutoff


def test_integer_keys_give_the_same_bits_as_text_keys():
    # `ScoringInputs.features` keys the leads by their row: the features must not depend on the key's type.
    events = _events()
    by_text = build_features(_contacts(IDS), events, _signals([3, 10, 50]), AS_OF, CONFIG)
    position = {k: i for i, k in enumerate(IDS)}
    for dtype in (pl.UInt32, pl.Int64):
        rows = pl.DataFrame({"contact_id": pl.Series(range(len(IDS)), dtype=dtype)})
        contacts = _contacts(IDS).with_columns(rows["contact_id"])
        keyed = events.filter(pl.col("contact_id").is_in(IDS)).with_columns(
            pl.col("contact_id").replace_strict(position, return_dtype=dtype)
        )
        by_row = build_features(contacts, keyed, _signals([3, 10, 50]), AS_OF, CONFIG)
        assert by_row.drop("contact_id").equals(by_text.drop("contact_id"))
        assert by_row["contact_id"].dtype == dtype


def test_same_frame_same_bits():
    events = pl.concat([_events()] * 50)  # enough rows per sum for the addition order to show in the last bits
    first = build_features(_contacts(IDS), events, None, AS_OF, CONFIG)
    for _ in range(3):
        assert build_features(_contacts(IDS), events, None, AS_OF, CONFIG).equals(first)


def test_signals_all_after_the_cutoff_count_for_nothing():
    features = build_features(_contacts(IDS), _events(), _signals([-1, -2, 0]), AS_OF, CONFIG)
    for kind in ALL_KINDS[len(EVENT_KINDS) :]:
        assert features[f"decayed_{kind}"].to_list() == [0.0] * len(IDS)


def test_no_events_at_all():
    empty = _events().clear()
    features = build_features(_contacts(IDS), empty, None, AS_OF, CONFIG)
    assert features["days_since_last_touch"].to_list() == [365.0] * len(IDS)
    assert features["decayed_web_visit"].to_list() == [0.0] * len(IDS)


def test_decayed_sums_add_each_leads_rows_in_frame_order():
    # The sums are the same bits as adding each (lead, kind)'s weights one by one in the frame's row order (the
    # property the lead features mart relies on: the same frame, the same bits, whatever layout the sums use).
    events = pl.concat([_events()] * 20).filter(pl.col("contact_id").is_in(IDS))
    features = build_features(_contacts(IDS), events, None, AS_OF, CONFIG)
    # Each row's weight as build_features computes it: every row its own lead, whose sum is that one weight.
    alone = build_features(
        _contacts(IDS[:1]).select(pl.exclude("contact_id").repeat_by(events.height).explode())
        .with_columns(pl.int_range(events.height).alias("contact_id")),
        events.with_columns(pl.int_range(events.height).alias("contact_id")),
        None,
        AS_OF,
        CONFIG,
    )
    sums: dict[tuple[str, str], float] = {}
    for (key, kind, _), weights in zip(events.iter_rows(), alone.iter_rows(named=True), strict=True):
        if kind in EVENT_KINDS:
            sums[(key, kind)] = sums.get((key, kind), 0.0) + weights[f"decayed_{kind}"]
    for row in features.iter_rows(named=True):
        for kind in EVENT_KINDS:
            assert row[f"decayed_{kind}"] == sums.get((row["contact_id"], kind), 0.0), (row["contact_id"], kind)


def test_events_kept_whole_or_filtered_give_the_reference():
    # The aggregation copies the rows through a filter only when some row is left out; an event whose only fault is
    # a missing time (its cutoff test is null, not false) must still be left out when every other row is kept.
    valid = _events().filter(
        pl.col("contact_id").is_in(IDS[:3])
        & pl.col("kind").is_in(EVENT_KINDS)
        & (pl.col("occurred_at") < AS_OF)
    )
    untimed = pl.DataFrame(
        {"contact_id": ["gc-a"], "kind": ["web_visit"], "occurred_at": [None]},
        schema=valid.schema,
    )
    for events in (valid, pl.concat([valid, untimed])):
        features = build_features(_contacts(IDS), events, None, AS_OF, CONFIG)
        expected = _reference(events, IDS)
        for row in features.iter_rows(named=True):
            for column, value in expected[row["contact_id"]].items():
                assert row[column] == pytest.approx(value, rel=1e-13, abs=0), column
    assert build_features(_contacts(IDS), pl.concat([valid, untimed]), None, AS_OF, CONFIG).equals(
        build_features(_contacts(IDS), valid, None, AS_OF, CONFIG)
    )
