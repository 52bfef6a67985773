"""The hourly pair model's delta logic: the stored features refreshed for an hour's changes
(`refresh_match_features`) and the pairs drawn again (`pairs_to_redraw`) end exactly where computing every
record's features and pairs again ends, with the same match parameters, including blocks that grow past their
cap or shrink under it and shared phone numbers that stop being shared."""

from __future__ import annotations

import importlib.util
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import duckdb
import polars as pl
from matching_fixtures import background, person, records_frame

from matching.contacts import (
    BLOCK_CAPS,
    MatchConfig,
    candidate_pairs,
    estimate_parameters,
    prepare_contact_features,
    score_pairs,
)
from matching.resolve import FEATURE_BOOKKEEPING, match_features, pairs_to_redraw, refresh_match_features

HOUR_0, HOUR_1 = datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, 1, tzinfo=UTC)
MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "intermediate" / "entities"


def _resident(record_id: int, first: str, last: str, street: str) -> dict:
    """A contact without an employer domain (free mail), at a home address: blocked on the street too."""
    return person(
        record_id,
        first,
        last,
        "gmail.com",
        None,
        website_domain=None,
        company_name=None,
        email=f"{first.lower()}{record_id}@gmail.com",
        street_address=street,
        city="Shelbyville",
        postal_code="55555",
    )


def _households() -> list[dict]:
    """Two homes of people with names of their own (only the address blocks them together): one with as many
    residents as the street blocks' cap (4), one with one more."""
    full = [(100, "Al", "Quimby"), (101, "Bea", "Flanders"), (102, "Cy", "Wiggum"), (103, "Di", "Lovejoy")]
    crowded = [(200, "Ed", "Nahasapeema"), (201, "Flo", "Skinner"), (202, "Gus", "Hibbert"), (203, "Hal", "Krabappel")]
    crowded.append((204, "Ivy", "Muntz"))
    return [_resident(i, first, last, "12 Elm Street") for i, first, last in full] + [
        _resident(i, first, last, "7 Oak Road") for i, first, last in crowded
    ]


def _stored(records: pl.DataFrame, at: datetime) -> pl.DataFrame:
    return match_features(records).with_columns(
        pl.lit(False).alias("is_removed"),
        pl.lit([], dtype=pl.List(pl.String)).alias("previous_block_keys"),
        pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("previous_featured_at"),
        pl.lit(at, dtype=pl.Datetime("us", "UTC")).alias("featured_at"),
    )


def _in(ids) -> pl.Expr:
    return pl.col("record_id").is_in(pl.Series(list(ids), dtype=pl.Int64).implode())


def _hour() -> dict:
    """The hour of the tests below: the stored features before and after it, the pairs before it, the rewritten
    feature rows, every record's features after it, the config and the parameters."""
    assert BLOCK_CAPS["street_postal"] == 4
    shared_phone = "+15559990000"
    before_rows = (
        background(200)
        + _households()
        # One person's two records and a colleague of another name on one number: the number is shared.
        + [
            person(300, "Ottilie", "Pemberton", "initech.com", shared_phone),
            person(301, "Ottilie", "Pemberton", "initech.com", shared_phone, email="o.pemberton@initech.com"),
            person(302, "Barnaby", "Rutherford", "initech.com", shared_phone),
        ]
    )
    records_before = records_frame(before_rows)
    config = MatchConfig()
    features_before = prepare_contact_features(records_before)
    parameters = estimate_parameters(candidate_pairs(features_before), features_before, config)
    pairs_before = score_pairs(candidate_pairs(features_before), features_before, config, parameters)
    stored = _stored(records_before, HOUR_0)

    # The hour: a fifth resident at the full home (its street block passes the cap), one resident of the crowded
    # home leaves (its block falls to the cap), the colleague gets a number of his own (the number is no longer
    # shared), a duplicate of a background contact arrives and one background contact changes employer.
    by_id = {row["record_id"]: row for row in before_rows}
    changed = {
        104: _resident(104, "Eli", "Szyslak", "12 Elm Street"),
        302: {**by_id[302], "phone": "+15558880000"},
        5000: person(5000, "Anna", "Adler0", "company0.com", "+15551000000"),
        1010: {**by_id[1010], "website_domain": "globex.io", "email": "x@globex.io", "company_name": "Globex"},
    }
    removed = [204]
    after_rows = [changed.get(i, row) for i, row in by_id.items() if i not in removed] + [changed[5000], changed[104]]
    records_after = records_frame(after_rows)

    def holders_of(emails: pl.Series, phones: pl.Series) -> pl.DataFrame:
        return stored.filter(
            ~pl.col("is_removed")
            & (
                pl.col("email_c").is_in(emails.implode())
                | pl.col("phone_d").is_in(phones.implode())
                | pl.col("mobile_d").is_in(phones.implode())
            )
        )

    rows = refresh_match_features(
        records_frame(list(changed.values())),
        pl.Series(removed),
        stored.filter(_in([*changed, *removed])),
        holders_of,
    ).with_columns(pl.lit(HOUR_1, dtype=pl.Datetime("us", "UTC")).alias("featured_at"))
    # The colleague's old number is no longer shared: the two Pemberton records are rewritten with him.
    assert set(rows["record_id"]) == {*changed, *removed, 300, 301}
    stored_after = pl.concat([stored.filter(~_in(rows["record_id"])), rows], how="diagonal_relaxed").sort("record_id")
    current = stored_after.filter(~pl.col("is_removed"))
    features_after = prepare_contact_features(records_after)
    assert current.drop(*FEATURE_BOOKKEEPING, "switchboard_d", strict=False).equals(features_after)

    return dict(
        rows=rows,
        stored_after=stored_after,
        current=current,
        pairs_before=pairs_before,
        features_after=features_after,
        config=config,
        parameters=parameters,
    )


def _reference_redraw(hour: dict):
    """`pairs_to_redraw` of the hour with lookups written in polars over the stored features."""
    current, pairs_before = hour["current"], hour["pairs_before"]

    def block_sizes(labels: pl.Series) -> pl.DataFrame:
        keys = current.select(pl.col("block_keys").explode().alias("block")).drop_nulls()
        return keys.filter(pl.col("block").is_in(labels.implode())).group_by("block").agg(pl.len().alias("size"))

    def rows_in_blocks(labels: pl.Series, ids: pl.Series) -> pl.DataFrame:
        inside = pl.col("block_keys").list.eval(pl.element().is_in(labels.implode())).list.any()
        return current.filter(inside | _in(ids))

    def earlier_pairs(ids: pl.Series) -> pl.DataFrame:
        either = pl.col("left_id").is_in(ids.implode()) | pl.col("right_id").is_in(ids.implode())
        return pairs_before.filter(either).select("left_id", "right_id")

    rows = hour["rows"]
    return pairs_to_redraw(rows.filter(pl.col("featured_at") > HOUR_0), block_sizes, rows_in_blocks, earlier_pairs)


def test_an_hour_redraws_only_touched_blocks_and_ends_like_a_full_run():
    hour = _hour()
    features_after, config, parameters = hour["features_after"], hour["config"], hour["parameters"]
    pairs_before = hour["pairs_before"]
    redraw = _reference_redraw(hour)
    assert redraw.features.height < features_after.height / 3  # only the touched blocks' records are drawn
    scored = score_pairs(redraw.candidates, redraw.features, config, parameters)
    replaced = pl.concat([scored.select("left_id", "right_id"), redraw.stale])
    pairs_hourly = pl.concat([pairs_before.join(replaced, on=["left_id", "right_id"], how="anti"), scored]).sort(
        "left_id", "right_id"
    )
    pairs_full = score_pairs(candidate_pairs(features_after), features_after, config, parameters)
    assert pairs_hourly.equals(pairs_full)

    def rules(pairs: pl.DataFrame, a: int, b: int) -> str | None:
        found = pairs.filter((pl.col("left_id") == a) & (pl.col("right_id") == b))["blocking_rules"]
        return found[0] if found.len() else None

    # Not vacuous: the full home's street pairs went, the crowded home's came, and the number pairs again.
    assert "street_postal" in rules(pairs_before, 100, 101) and "street_postal" not in (
        rules(pairs_full, 100, 101) or ""
    )
    assert "street_postal" not in (rules(pairs_before, 200, 201) or "") and "street_postal" in rules(
        pairs_full, 200, 201
    )
    assert "phone" not in rules(pairs_before, 300, 301) and "phone" in rules(pairs_full, 300, 301)
    assert redraw.stale.height > 0


class _CountingConnection:
    """A DuckDB connection counting the queries that unnest every stored record's block labels."""

    def __init__(self, con: duckdb.DuckDBPyConnection):
        self.con, self.unnests = con, 0

    def sql(self, query: str, **kwargs):
        self.unnests += "unnest(block_keys)" in query
        return self.con.sql(query, **kwargs)

    def register(self, name, frame):
        return self.con.register(name, frame)

    def unregister(self, name):
        return self.con.unregister(name)


def test_the_pair_models_lookups_redraw_what_the_reference_lookups_do():
    """The pair model's own lookups in the warehouse (`_redraw`: the first block lookup keeps its blocks' members,
    which the rows in the live blocks are read by id from) draw the same records, candidate pairs and stale pairs
    as lookups over every stored feature row, unnesting every record's labels twice, not three times; an hour that
    touched no record looks nothing up."""
    hour = _hour()
    expected = _reference_redraw(hour)
    spec = importlib.util.spec_from_file_location("pairs_model", MODELS / "int_entities__contact_pairs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.register("features_frame", hour["stored_after"].to_arrow())
    con.execute("create table features as select * from features_frame")
    con.register("pairs_frame", hour["pairs_before"].select("left_id", "right_id").to_arrow())
    con.execute("create table pairs as select * from pairs_frame")
    counting = _CountingConnection(con)
    redraw = module._redraw(SimpleNamespace(this="pairs"), counting, "features", HOUR_0)
    assert redraw is not None
    assert redraw.features.equals(expected.features.select(redraw.features.columns))
    assert redraw.candidates.equals(expected.candidates)
    assert redraw.stale.equals(expected.stale)
    assert counting.unnests == 2
    quiet = _CountingConnection(con)
    nothing = module._redraw(SimpleNamespace(this="pairs"), quiet, "features", HOUR_1)
    assert nothing.features.is_empty() and nothing.candidates.is_empty() and nothing.stale.is_empty()
    assert quiet.unnests == 0
