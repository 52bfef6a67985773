"""Chunked Python dbt models (`landing.chunks`): the chunks cover every group whole, and a model computed a chunk at a
time writes the rows, in the order, of one pass over everything.

The models run here as dbt-duckdb runs them: `model(dbt, session)` from the model file, and what it returns
written by `create table ... as select * from <it>` on a second cursor while the model's session reads.
"""

from __future__ import annotations

import importlib.util
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest
from matching_fixtures import FIRSTS, person, records_frame

from landing.chunks import chunk_bounds, stream_frames
from matching.contacts import MatchConfig, candidate_pairs, estimate_parameters, score_pairs
from matching.resolve import FEATURE_BOOKKEEPING, match_features
from matching.survivorship import select_survivors

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "intermediate" / "entities"


def test_chunk_bounds_cover_every_group_whole_and_in_order():
    rows = [5, 1, 1, 1, 4, 1, 2, 2]
    bounds = chunk_bounds(rows, 3)
    assert bounds == [(0, 1), (1, 2), (2, 5), (5, 7), (7, 8)]
    # Contiguous, in order, covering every group once.
    assert [b[0] for b in bounds[1:]] == [b[1] for b in bounds[:-1]] and bounds[0][0] == 0 and bounds[-1][1] == 8
    # At most rows_per_chunk rows before a chunk's last group.
    assert all(sum(rows[start : end - 1]) <= 3 for start, end in bounds)
    assert chunk_bounds(pl.Series([1] * 10), 4) == [(0, 4), (4, 8), (8, 10)]
    assert chunk_bounds([], 4) == [(0, 0)]
    with pytest.raises(ValueError):
        chunk_bounds([1], 0)


def _materialize(con: duckdb.DuckDBPyConnection, returned, table: str) -> pl.DataFrame:
    """What dbt-duckdb does with a Python model's arrow result: register it and create the table on another cursor."""
    cursor = con.cursor()
    cursor.register("returned", returned)
    cursor.execute(f"create or replace table {table} as select * from returned")
    cursor.unregister("returned")
    return con.sql(f"select * from {table}").pl()


def test_stream_frames_computes_chunks_while_the_table_is_written_and_conforms_their_columns():
    con = duckdb.connect()
    con.execute("create table source as select i as id, i % 3 as g from range(10) t(i)")
    computed: list[int] = []

    def chunk(start: int, end: int) -> pl.DataFrame:
        computed.append(start)
        frame = con.sql(f"select id, g * 10 as g10, 'x' as tag from source where id >= {start} and id < {end}").pl()
        return frame.drop("tag") if start == 8 else frame  # a chunk lacking a column: nulls, as a diagonal concat

    reader = stream_frames(chunk(start, end) for start, end in chunk_bounds([1] * 10, 4))
    assert computed == [0]  # only the first chunk, for the columns
    table = _materialize(con, reader, "out")
    assert computed == [0, 4, 8]
    assert table["id"].to_list() == list(range(10))
    assert table["g10"].to_list() == [i % 3 * 10 for i in range(10)]
    assert table["tag"].to_list() == ["x"] * 8 + [None, None]
    with pytest.raises(ValueError):
        stream_frames(iter([]))
    extra = stream_frames(iter([pl.DataFrame({"a": [1]}), pl.DataFrame({"a": [2], "b": [3]})]))
    with pytest.raises(Exception, match="columns differ"):
        extra.read_all()


class _Config(dict):
    def __call__(self, **kwargs):
        return None


class _FakeDbt:
    """The part of dbt-duckdb's `dbt` object the models read (a first build: not incremental)."""

    def __init__(self, session: duckdb.DuckDBPyConnection, config: dict):
        self.session = session
        self.config = _Config(config)
        self.is_incremental = False
        self.this = None

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.session.table(name)


def _model(name: str):
    spec = importlib.util.spec_from_file_location(name, MODELS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model


def _pair_thresholds(config: MatchConfig) -> dict[str, float]:
    """The pair model's dbt config of probability thresholds, as the project sets them from the matcher's."""
    return {
        "automerge_min_probability": config.automerge_min_probability,
        "review_min_probability": config.review_min_probability,
        "uncorroborated_review_min_probability": config.uncorroborated_review_min_probability,
    }


def _run(con: duckdb.DuckDBPyConnection, name: str, rows_per_chunk: int, **config) -> pl.DataFrame:
    returned = _model(name)(_FakeDbt(con, {"rows_per_chunk": rows_per_chunk, **config}), con)
    return _materialize(con, returned, f"{name}__out_{rows_per_chunk}")


def test_golden_fields_in_chunks_equal_one_pass():
    at = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for contact in range(12):
        for record in range(contact % 3 + 1):
            for field, value in (("email", f"p{contact}@x.com"), ("job_title", f"title {record % 2}")):
                observed = at - timedelta(days=record)
                crm = ("crm_user_entered", "hubspot", f"{contact}-{record}", observed, None)
                rows.append((f"gc-{contact:02d}", field, value, *crm))
        rows.append((f"gc-{contact:02d}", "phone", f"+1555{contact}", "enrichment", "vendor", f"v{contact}", at, 0.8))
    rows.append(("gc-99", "email", None, "crm_user_entered", "hubspot", "99", at, None))  # no value left at all
    con = duckdb.connect()
    con.execute(
        "create table int_entities__contact_field_candidates (entity_id varchar, field_name varchar, value varchar, "
        "source_class varchar, source_name varchar, source_record_id varchar, observed_at timestamptz, "
        "confidence double)"
    )
    con.executemany("insert into int_entities__contact_field_candidates values (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    whole = _run(con, "int_entities__contact_golden_fields", 1_000_000)
    assert whole["_written_at"].n_unique() == 1 and whole["_written_at"].null_count() == 0  # one stamp a run
    whole = whole.drop("_written_at")
    assert len(chunk_bounds([7] * 13, 10)) > 5
    for rows_per_chunk in (1, 10):
        assert _run(con, "int_entities__contact_golden_fields", rows_per_chunk).drop("_written_at").equals(whole)
    # And the survivors are survivorship's over every candidate at once, with the emptied contact's placeholder.
    survivors = select_survivors(con.table("int_entities__contact_field_candidates").pl())
    assert (
        whole.filter(pl.col("field_name").is_not_null())
        .drop("candidates_hash")
        .equals(survivors.rename({"entity_id": "golden_contact_id"}))
    )
    assert whole.filter(pl.col("field_name").is_null())["golden_contact_id"].to_list() == ["gc-99"]


def test_contact_pairs_in_chunks_equal_one_pass():
    records = records_frame(
        [
            person(3000 + i, FIRSTS[i % len(FIRSTS)], "Lee", f"lee{i % 7}.com", f"+1 555 010 {i % 9:04d}")
            for i in range(60)
        ]
    )
    features = match_features(records)
    pairs = candidate_pairs(features.drop(FEATURE_BOOKKEEPING, strict=False))
    assert pairs.height > 20
    parameters = estimate_parameters(pairs, features.drop(FEATURE_BOOKKEEPING, strict=False), MatchConfig())
    at = datetime(2026, 1, 1, tzinfo=UTC)
    con = duckdb.connect()
    con.register("f", features.with_columns(pl.lit(False).alias("is_removed"), pl.lit(at).alias("featured_at")))
    con.execute("create table int_entities__contact_match_features as select * from f")
    con.execute("create table int_entities__contact_record_changes as select ?::timestamptz as changed_at", [at])
    con.execute(
        "create table int_entities__contact_match_parameters as select 1::bigint as parameters_version, "
        "?::varchar as parameters",
        [parameters.to_json()],
    )
    config = MatchConfig()
    thresholds = _pair_thresholds(config)
    whole = _run(con, "int_entities__contact_pairs", 1_000_000, **thresholds)
    assert whole.height == pairs.height
    assert _run(con, "int_entities__contact_pairs", 7, **thresholds).equals(whole)
    # And the scores are those of scoring every pair at once.
    scored = score_pairs(pairs, features.drop(FEATURE_BOOKKEEPING, strict=False), config, parameters)
    assert whole.select(scored.columns).equals(scored)


def test_contact_pairs_after_an_estimation_score_the_candidates_it_compared():
    # A full build estimates the parameters on every candidate pair's levels and hands those over to the pair
    # model in the same process: the pairs it writes are the ones blocking and comparing again would give.
    from matching import resolve

    # 300 people with five records each: 3000 candidate pairs, enough for EM.
    records = records_frame(
        [
            person(4000 + i, FIRSTS[i // 5 % len(FIRSTS)], f"Park{i // 5}", f"co{i // 5}.com", f"+1 555 {i // 5:07d}")
            for i in range(1500)
        ]
    )
    features = match_features(records)
    at = datetime(2026, 1, 1, tzinfo=UTC)
    con = duckdb.connect()
    con.register("f", features.with_columns(pl.lit(False).alias("is_removed"), pl.lit(at).alias("featured_at")))
    con.execute("create table int_entities__contact_match_features as select * from f")
    con.execute("create table int_entities__contact_records as select record_id from f")
    con.execute("create table int_entities__contact_record_changes as select ?::timestamptz as changed_at", [at])
    estimated = _model("int_entities__contact_match_parameters")(_FakeDbt(con, {}), con)
    parameters = _materialize(con, estimated, "int_entities__contact_match_parameters")
    assert parameters["candidate_pair_count"][0] >= MatchConfig().min_pairs_for_em  # EM ran on the levels
    assert resolve._handed_over is not None
    handed_over = resolve._handed_over[0]
    assert handed_over.pairs.height == parameters["candidate_pair_count"][0]
    config = MatchConfig()
    thresholds = _pair_thresholds(config)
    shared = _run(con, "int_entities__contact_pairs", 100, **thresholds)
    assert resolve._handed_over is None  # taken once
    computed = _run(con, "int_entities__contact_pairs", 100, **thresholds)
    assert shared.height == handed_over.pairs.height
    assert shared.drop("scored_through", "features_through").equals(computed.drop("scored_through", "features_through"))
    # What is taken is told by the stored features' version, not by reading them again: candidates handed over as
    # of the features' present version are scored (here those of ten records alone, to tell them apart)...
    table = "int_entities__contact_match_features"
    version = resolve.stored_features_version(con, table)
    few = features.drop(FEATURE_BOOKKEEPING, strict=False).head(10)
    resolve.compare_candidates(few, hand_over_as=version)
    taken = _run(con, "int_entities__contact_pairs", 100, **thresholds)
    assert taken.height == candidate_pairs(few).height < computed.height
    # ... and none once the features were written since: blocking and comparing run again. A write stamps its rows
    # with its time, later than every stamp before it or, the clock set back, not (the latest stamp and the count
    # kept); a delete alone keeps every stamp.
    stamped = datetime.now(UTC)
    writes = (
        f"update {table} set featured_at = '{stamped.isoformat()}' where record_id = 4001",
        f"update {table} set featured_at = featured_at - interval 1 day where record_id = 4002",
        f"delete from {table} where record_id = 4003",
    )
    for write in writes:
        version = resolve.stored_features_version(con, table)
        resolve.compare_candidates(few, hand_over_as=version)
        con.execute(write)
        assert resolve.stored_features_version(con, table) != version
        again = _run(con, "int_entities__contact_pairs", 100, **thresholds)
        assert resolve._handed_over is None
        recomputed = _run(con, "int_entities__contact_pairs", 100, **thresholds)  # nothing handed over
        assert again.height > taken.height
        assert again.equals(recomputed)
    assert resolve.stored_features_version(con, table).latest == stamped  # only the first write moved it
    assert again.height < computed.height  # record 4003's pairs went


class _This:
    """dbt's `this` as the golden fields model reads it: schema, identifier, and the relation's name."""

    schema, identifier = "main", "golden_fields__previous"

    def __str__(self) -> str:
        return self.identifier


def test_golden_fields_hour_writes_a_placeholder_for_a_contact_gone():
    """An hour after which a contact has no candidates (merged into another) writes one placeholder row for it (NULL
    field_name, deleted by the post-hook like an emptied contact's), beside the changed contact's survivors; the
    unchanged contacts are not written. Without it the gone contact's rows would stay."""
    at = datetime(2026, 1, 1, tzinfo=UTC)
    con = duckdb.connect()
    con.execute(
        "create table int_entities__contact_field_candidates (entity_id varchar, field_name varchar, value varchar, "
        "source_class varchar, source_name varchar, source_record_id varchar, observed_at timestamptz, "
        "confidence double)"
    )
    rows = [(f"gc-{c}", "email", f"p{c}@x.com", "crm_user_entered", "hubspot", f"{c}", at, None) for c in range(4)]
    con.executemany("insert into int_entities__contact_field_candidates values (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    _run(con, "int_entities__contact_golden_fields", 1_000_000)
    con.execute(f"create table {_This.identifier} as "
                "select * from int_entities__contact_golden_fields__out_1000000")
    con.execute("delete from int_entities__contact_field_candidates where entity_id = 'gc-2'")  # gone
    con.execute("update int_entities__contact_field_candidates set value = 'new@x.com' where entity_id = 'gc-1'")

    dbt = _FakeDbt(con, {"rows_per_chunk": 1_000_000})
    dbt.is_incremental, dbt.this = True, _This()
    hour = _materialize(con, _model("int_entities__contact_golden_fields")(dbt, con), "hour")
    assert hour.filter(pl.col("field_name").is_not_null()).select("golden_contact_id", "value").rows() == [
        ("gc-1", "new@x.com")
    ]
    placeholders = hour.filter(pl.col("field_name").is_null())
    assert placeholders["golden_contact_id"].to_list() == ["gc-2"]
    assert placeholders.drop("golden_contact_id").null_count().row(0) == (1,) * (hour.width - 1)
    # A previous table from before the hash was kept: every contact is drawn again, the gone one still found.
    con.execute(f"alter table {_This.identifier} drop column candidates_hash")
    hour = _materialize(con, _model("int_entities__contact_golden_fields")(dbt, con), "hour")
    assert hour.filter(pl.col("field_name").is_not_null())["golden_contact_id"].to_list() == ["gc-0", "gc-1", "gc-3"]
    assert hour.filter(pl.col("field_name").is_null())["golden_contact_id"].to_list() == ["gc-2"]


def test_stream_frames_computes_the_next_chunk_while_the_last_is_read():
    computed: list[int] = []
    second_started = threading.Event()

    def chunks():
        for start in range(3):
            computed.append(start)
            if start == 1:
                second_started.set()
            yield pl.DataFrame({"id": [start, start]})

    reader = stream_frames(chunks(), compute_ahead=True)
    first = reader.read_next_batch()
    assert first.column(0).to_pylist() == [0, 0]
    # Nothing more is asked of the reader: the second chunk is computed on the stream's own thread meanwhile.
    assert second_started.wait(timeout=10)
    assert reader.read_all().column(0).to_pylist() == [1, 1, 2, 2]
    assert computed == [0, 1, 2]


def test_stream_frames_raises_a_chunks_error_to_the_reader_and_closes_the_frames_when_stopped_early():
    def failing():
        yield pl.DataFrame({"id": [0]})
        raise RuntimeError("chunk 1 failed")

    with pytest.raises(Exception, match="chunk 1 failed"):
        stream_frames(failing(), compute_ahead=True).read_all()

    closed = threading.Event()

    def endless():
        try:
            n = 0
            while True:
                yield pl.DataFrame({"id": [n]})
                n += 1
        finally:
            closed.set()  # e.g. the golden fields' reader cursor, closed in its generator's `finally`

    reader = stream_frames(endless(), compute_ahead=True)
    assert reader.read_next_batch().column(0).to_pylist() == [0]
    del reader  # as dbt-duckdb drops it after a failed write
    assert closed.wait(timeout=10)
    assert not [t for t in threading.enumerate() if t.name == "stream_frames-ahead"]
