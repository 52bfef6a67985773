"""Gates in bounded memory: chunked validation gives Great Expectations' whole-frame results, uniqueness is
checked across chunks (in SQL), and no chunk handed to the validator is larger than the chunk size."""

from __future__ import annotations

import duckdb
import pytest

import expectations.chunked as chunked
from expectations.chunked import validate_table
from expectations.suite import Suite, expect, validate_dataframe

# Rows in load order; with chunks of 3 the failures sit on both sides of chunk boundaries:
# id 2 repeats across rows 1 and 3, id 9 across rows 0 and 10; (a, b) = (1, 'x') repeats across rows 2 and 8,
# (5, null) across rows 7 and 10;
# bad emails at rows 2 and 3, a null id at row 5, tier 7 at row 6, a negative amount at row 9.
ROWS = [
    # id, email, tier, amount, a, b
    (9, "ana@acme.io", 1, 10.0, 1, "p"),
    (2, "bo@acme.io", 2, 0.0, 2, "q"),
    (3, "not-an-email", 3, 5.5, 1, "x"),
    (2, "also bad", 1, None, 3, None),
    (4, None, None, 1.0, None, None),
    (None, "cy@acme.io", 2, 2.0, None, None),
    (6, "di@acme.io", 7, 3.0, 4, "r"),
    (7, "ed@acme.io", 3, 4.0, 5, None),
    (8, "fa@acme.io", 1, 6.0, 1, "x"),
    (10, "gu@acme.io", 2, -1.0, 6, "s"),
    (9, "ha@acme.io", 3, 7.0, 5, None),
]

SUITE = Suite(
    name="people",
    table="main.people",
    expectations=(
        expect("ExpectColumnValuesToNotBeNull", column="id"),
        expect("ExpectColumnValuesToBeUnique", column="id"),
        expect("ExpectColumnValuesToMatchRegex", column="email", regex=r"^[a-z]+@[a-z]+\.io$"),
        expect("ExpectColumnValuesToMatchRegex", column="email", regex=r"^[a-z]+@acme\.io$", mostly=0.7),
        expect("ExpectColumnValuesToBeInSet", column="tier", value_set=[1, 2, 3]),
        expect("ExpectColumnValuesToBeBetween", column="amount", min_value=0),
        expect("ExpectCompoundColumnsToBeUnique", column_list=["a", "b"]),
        expect("ExpectColumnValuesToNotBeNull", column="amount", mostly=0.5),
    ),
)


@pytest.fixture
def con():
    connection = duckdb.connect()
    connection.execute(
        "create table people (id bigint, email varchar, tier integer, amount double, a integer, b varchar, seq integer)"
    )
    connection.executemany("insert into people values (?, ?, ?, ?, ?, ?, ?)", [(*row, i) for i, row in enumerate(ROWS)])
    yield connection
    connection.close()


def _summary(result):
    return [
        (
            o.expectation,
            o.column,
            o.success,
            o.element_count,
            o.unexpected_count,
            None if o.unexpected_percent is None else round(o.unexpected_percent, 9),
            # A null in a repeated key: GX shows pandas' nan, the SQL pushdown None (JSON null).
            sorted(str(v).replace("nan", "None") for v in o.failing_examples),
        )
        for o in result.outcomes
    ]


def _whole_frame(con, where: str = "true"):
    return validate_dataframe(SUITE, con.execute(f"select * from people where {where} order by seq").df())


@pytest.mark.parametrize("chunk_rows", [1, 3, 4, 1000])
def test_chunked_results_equal_whole_frame_results(con, chunk_rows):
    expected = _whole_frame(con)
    got = validate_table(con, SUITE, chunk_rows=chunk_rows)
    assert got.row_count == expected.row_count == len(ROWS)
    assert _summary(got) == _summary(expected)
    # The figures themselves, so that a change in both would show too.
    by_index = got.outcomes
    assert [o.success for o in by_index] == [False, False, False, True, False, False, False, True]
    assert [o.unexpected_count for o in by_index] == [1, 4, 2, 2, 1, 1, 4, 1]
    assert by_index[2].unexpected_percent == pytest.approx(2 / 10 * 100)  # nulls left out, like GX
    assert by_index[0].unexpected_percent == pytest.approx(1 / 11 * 100)  # not null counts every row
    assert sorted(by_index[1].failing_examples) == [2, 2, 9, 9]
    # (1, 'x') and (5, null) repeat; rows with both values null are not checked (GX's ignore_row_if default).
    assert by_index[6].failing_examples == [{"a": 1, "b": "x"}] * 2 + [{"a": 5, "b": None}] * 2
    assert by_index[6].unexpected_percent == pytest.approx(4 / 9 * 100)


def test_a_key_repeated_in_two_chunks_fails_though_each_chunk_is_unique(con):
    suite = Suite(name="ids", table="people", expectations=(expect("ExpectColumnValuesToBeUnique", column="id"),))
    first, last = (con.execute(f"select id from people where seq in {s}").df() for s in ("(0, 1)", "(9, 10)"))
    assert validate_dataframe(suite, first).success and validate_dataframe(suite, last).success
    result = validate_table(con, suite, where="seq in (0, 1, 9, 10)", chunk_rows=2)
    assert not result.success
    assert result.outcomes[0].unexpected_count == 2 and result.outcomes[0].failing_examples == [9, 9]


def test_an_empty_row_set_passes_like_an_empty_frame(con):
    got = validate_table(con, SUITE, where="seq > ?", params=[100], chunk_rows=3)
    assert got.success and got.row_count == 0
    assert _summary(got) == _summary(_whole_frame(con, "seq > 100"))
    assert all(o.unexpected_count == 0 and o.unexpected_percent is None for o in got.outcomes)


def test_the_filter_selects_the_rows_checked(con):
    got = validate_table(con, SUITE, where="seq >= ?", params=[6], chunk_rows=2)
    assert got.row_count == 5
    assert _summary(got) == _summary(_whole_frame(con, "seq >= 6"))


def test_no_chunk_handed_to_the_validator_exceeds_the_chunk_size(monkeypatch):
    """Memory is bounded by the chunk size: 10,000 rows in chunks of 3,000 are handed over as 4 frames of at
    most 3,000 rows (DuckDB fetches whole vectors of 2,048 rows; the extra rows wait for the next chunk)."""
    seen: list[int] = []
    validate = chunked._validate_chunk

    def watching(name, expectations, chunk):
        seen.append(len(chunk))
        return validate(name, expectations, chunk)

    monkeypatch.setattr(chunked, "_validate_chunk", watching)
    con = duckdb.connect()
    con.execute("create table big as select i as id, 'v' || (i % 7) as v from range(10000) r(i)")
    suite = Suite(
        name="big",
        table="big",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="id"),
            expect("ExpectColumnValuesToBeUnique", column="id"),
            expect("ExpectColumnValuesToBeInSet", column="v", value_set=[f"v{i}" for i in range(6)]),
        ),
    )
    result = validate_table(con, suite, chunk_rows=3000)
    assert sum(seen) == result.row_count == 10000
    assert max(seen) <= 3000 and len(seen) <= 6
    assert result.outcomes[1].success
    assert result.outcomes[2].unexpected_count == len(range(6, 10000, 7))


def test_a_suite_with_an_expectation_that_cannot_be_chunked_is_refused():
    with pytest.raises(ValueError, match="cannot be validated in bounded chunks"):
        Suite(name="s", table="t", expectations=(expect("ExpectColumnMeanToBeBetween", column="x", min_value=0),))
    with pytest.raises(ValueError, match="does not implement row_condition"):
        Suite(
            name="s",
            table="t",
            expectations=(expect("ExpectColumnValuesToBeUnique", column="x", row_condition='col("y") > 0'),),
        )


def test_each_outcome_is_the_result_of_its_own_expectation():
    """Great Expectations returns results in an order of its own (here: between, not null, unique); each
    outcome must still be its expectation's, or the results store names the wrong expectation and column."""
    import pandas as pd

    suite = Suite(
        name="golden",
        table="t",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="id"),
            expect("ExpectColumnValuesToBeUnique", column="id"),
            expect("ExpectColumnValuesToBeBetween", column="n", min_value=0, max_value=1),
        ),
    )
    result = validate_dataframe(suite, pd.DataFrame({"id": ["a", "b", "c"], "n": [0, 1, 5]}))
    assert [(o.expectation, o.column, o.success) for o in result.outcomes] == [
        ("ExpectColumnValuesToNotBeNull", "id", True),
        ("ExpectColumnValuesToBeUnique", "id", True),
        ("ExpectColumnValuesToBeBetween", "n", False),
    ]
    assert result.outcomes[2].failing_examples == [5]


def test_keys_can_be_checked_over_the_whole_table_while_rows_are_checked_since_a_point(con):
    # Rows 6..10: row by row only they count (tier 7, amount -1); the key over all 11 rows (2 and 9 repeat,
    # each once on either side of the point).
    got = validate_table(con, SUITE, where="seq >= ?", params=[6], chunk_rows=2, sets_over_whole_table=True)
    whole, since = _summary(_whole_frame(con)), _summary(_whole_frame(con, "seq >= 6"))
    assert got.row_count == 5
    set_level = {1, 6}
    assert [s for i, s in enumerate(_summary(got)) if i in set_level] == [whole[i] for i in sorted(set_level)]
    assert [s for i, s in enumerate(_summary(got)) if i not in set_level] == [
        since[i] for i in range(len(since)) if i not in set_level
    ]
    assert got.outcomes[1].unexpected_count == 4 and not got.outcomes[1].success


def test_a_gate_checking_new_versions_still_finds_a_key_repeated_from_an_earlier_pass(tmp_path):
    from datetime import datetime

    from expectations.store import advance_watermark
    from orchestration.defs.quality.checks import run_gate_suite

    con = duckdb.connect(str(tmp_path / "wh.duckdb"))
    con.execute("create table contacts (contact_id varchar, email varchar, _loaded_at timestamp)")
    con.execute("insert into contacts values ('1', 'bad email', '2026-01-01'), ('2', 'b@x.io', '2026-01-01')")
    suite = Suite(
        name="contacts",
        table="contacts",
        expectations=(
            expect("ExpectColumnValuesToBeUnique", column="contact_id"),
            expect("ExpectColumnValuesToMatchRegex", column="email", regex=r"^[a-z]+@[a-z]+\.io$"),
        ),
        incremental_by="_loaded_at",
        keys_over_whole_table=True,
    )
    first, reached = run_gate_suite(con, suite)
    assert not first.success and first.row_count == 2  # no pass yet: every row, and the bad email fails
    advance_watermark(con, suite.name, reached)  # as if it had been fixed and passed
    con.execute("insert into contacts values ('3', 'c@x.io', '2026-01-01 01:00')")
    second, reached = run_gate_suite(con, suite)
    assert second.success and second.row_count == 1  # only the new row is read row by row
    advance_watermark(con, suite.name, reached)
    con.execute("insert into contacts values ('2', 'd@x.io', ?)", [datetime(2026, 1, 1, 2)])
    third, _ = run_gate_suite(con, suite)
    assert third.row_count == 1 and not third.success
    assert third.outcomes[0].unexpected_count == 2 and third.outcomes[1].success


def test_rows_that_pass_are_judged_in_sql_with_great_expectations_figures(monkeypatch):
    """When no row fails, one SQL scan gives the outcomes (no chunk handed to Great Expectations); they equal the
    whole frame's: NULL and NaN missing from between and in set (not null counts them), all-null and empty sets."""
    con = duckdb.connect()
    con.execute(
        "create table scores as select i as id, case when i % 5 = 0 then null else i % 3 + 1 end::integer as tier, "
        "case when i % 7 = 0 then null when i % 11 = 0 then 'nan'::double else (i % 101)::double end as score, "
        "(i % 100)::decimal(6, 2) as share, case i % 2 when 0 then 'learned' else 'rules' end as kind, "
        "null::varchar as note, i as seq from range(500) r(i)"
    )
    suite = Suite(
        name="scores",
        table="scores",
        expectations=(
            expect("ExpectColumnValuesToNotBeNull", column="id"),
            expect("ExpectColumnValuesToBeInSet", column="tier", value_set=[1, 2, 3]),
            expect("ExpectColumnValuesToBeBetween", column="score", min_value=0, max_value=100),
            expect("ExpectColumnValuesToBeBetween", column="share", min_value=0),
            expect("ExpectColumnValuesToBeInSet", column="kind", value_set=["learned", "rules"]),
            expect("ExpectColumnValuesToBeInSet", column="note", value_set=["x"]),
            expect("ExpectColumnValuesToNotBeNull", column="kind", mostly=0.5),
            expect("ExpectColumnValuesToBeUnique", column="id"),
        ),
    )
    handed: list[int] = []
    monkeypatch.setattr(chunked, "_validate_chunk", lambda name, exps, chunk: handed.append(len(chunk)))
    for where, params in ((None, ()), ("seq >= ?", [490]), ("seq > ?", [1000]), ("seq % 7 = ?", [0])):
        got = validate_table(con, suite, where, params, chunk_rows=64)
        frame = con.execute(f"select * from scores where {where or 'true'} order by seq", list(params)).df()
        monkeypatch.undo()
        expected = validate_dataframe(suite, frame)
        monkeypatch.setattr(chunked, "_validate_chunk", lambda name, exps, chunk: handed.append(len(chunk)))
        assert got.success and got.row_count == expected.row_count
        assert got.outcomes == expected.outcomes  # every field the results store keeps
    assert handed == []
    # A failing row (a NaN is one for not null): Great Expectations judges the rows, as before.
    con.execute("update scores set tier = 7 where id = 3")
    monkeypatch.undo()
    got = validate_table(con, suite, chunk_rows=64)
    assert not got.success and got.outcomes[1].unexpected_count == 1
    assert _summary(got) == _summary(validate_dataframe(suite, con.execute("select * from scores order by seq").df()))


REGEX_SUITE_PATTERNS = [
    r"^[a-z0-9._%+'-]+@[a-z0-9.-]+\.[a-z]{2,}$",  # the staging gates' email, E.164, country and domain formats
    r"^\+[1-9][0-9]{7,14}$",
    r"^[A-Z]{2}$",
    r"^[a-z0-9-]+(\.[a-z0-9-]+)+$",
    r"acme|(io|com)$",
]


def test_a_regex_duckdb_matches_is_matched_by_python_on_awkward_text():
    """The regexes judged in SQL: every value DuckDB's engine matches, Python's `re.search` (Great Expectations'
    pandas check) matches too, on text with newlines, capitals, accents, full-width digits and controls."""
    import random
    import re

    rng = random.Random(7)
    alphabet = "abcxyzAZ09+-._%'@ \n\r\t\x00éÉ１ß" + "".join(chr(c) for c in range(0x21, 0x7F))
    values = [
        "ana@acme.io",
        "ana@acme.io\n",
        "\nana@acme.io",
        "+4915112345678",
        "+4915112345678\n",
        "DE",
        "DE\n",
        "dé",
        "ÄB",
        "acme.io",
        "acme.io\n",
        "ACME.IO",
        "x.y",
        "１２３",
        "",
    ]
    values += ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(3000)]
    values += [v[: rng.randint(0, len(v))] + rng.choice(alphabet) + v for v in values[:15] for _ in range(40)]
    con = duckdb.connect()
    con.execute("create table t (v varchar)")
    con.executemany("insert into t values (?)", [(v,) for v in values])
    for pattern in REGEX_SUITE_PATTERNS:
        assert chunked._regex_agrees_with_python(pattern)
        matched = con.execute("select v from t where regexp_matches(v, ?)", [pattern]).fetchall()
        assert matched, pattern
        assert all(re.search(pattern, v) for (v,) in matched), pattern
    # Python's $ also matches before a final newline, DuckDB's does not: DuckDB is the stricter of the two.
    assert re.search(REGEX_SUITE_PATTERNS[2], "DE\n")
    assert not con.execute("select regexp_matches('DE' || chr(10), ?)", [REGEX_SUITE_PATTERNS[2]]).fetchone()[0]
    for pattern in (r"^\d+$", r"^\w+$", r"a.b", r"[^a]", r"(?i)abc", r"\bx", "(a", r"a{2000}"):
        assert not chunked._regex_agrees_with_python(pattern), pattern


def test_regex_checks_are_judged_in_sql_and_go_to_great_expectations_only_where_a_row_fails(monkeypatch):
    con = duckdb.connect()
    con.execute(
        "create table contacts as select i as seq, case when i % 9 = 0 then null else 'p' || i || '@acme.io' end "
        "as email, case when i % 4 = 0 then 'DE' else 'FR' end as country from range(300) r(i)"
    )
    suite = Suite(
        name="contacts",
        table="contacts",
        expectations=(
            expect("ExpectColumnValuesToMatchRegex", column="email", regex=REGEX_SUITE_PATTERNS[0]),
            expect("ExpectColumnValuesToMatchRegex", column="country", regex=REGEX_SUITE_PATTERNS[2], mostly=0.9),
        ),
    )
    handed: list[int] = []

    def judged():
        handed.clear()
        monkeypatch.setattr(chunked, "_validate_chunk", _recording(handed))
        got = validate_table(con, suite, chunk_rows=64)
        monkeypatch.undo()
        frame = con.execute("select * from contacts order by seq").df()
        expected = validate_dataframe(suite, frame)
        return got, expected

    got, expected = judged()
    assert got.success and got.outcomes == expected.outcomes and handed == []
    # A value Python's regex accepts and DuckDB's does not (a final newline): Great Expectations decides, and passes.
    con.execute("update contacts set country = 'DE' || chr(10) where seq = 5")
    got, expected = judged()
    assert handed and got.success and _summary(got) == _summary(expected)
    # A value both reject: Great Expectations' failing examples, as before.
    con.execute("update contacts set email = 'not an email' where seq = 7")
    got, expected = judged()
    assert handed and not got.success and got.outcomes[0].unexpected_count == 1
    assert _summary(got) == _summary(expected)
    # A regex outside the agreeing syntax always goes to Great Expectations.
    con.execute("update contacts set email = 'p7@acme.io' where seq = 7")
    suite = Suite(
        name="contacts",
        table="contacts",
        expectations=(expect("ExpectColumnValuesToMatchRegex", column="email", regex=r"^\w+@acme\.io$"),),
    )
    got, expected = judged()
    assert handed and got.success and got.outcomes == expected.outcomes


def _recording(handed: list[int]):
    real = chunked._validate_chunk

    def validate(name, exps, chunk):
        handed.append(len(chunk))
        return real(name, exps, chunk)

    return validate


def test_an_incremental_gate_on_a_plain_timestamp_reads_only_the_row_groups_after_its_watermark():
    """A TIMESTAMP load time against the watermark (an instant): in a UTC session compared in the column's type,
    so the row groups before the watermark are skipped; the same rows either way, also at the edge (equal, one
    microsecond after, NULL) and in a session of another zone (compared as before there)."""
    import json
    from datetime import UTC, datetime

    from expectations.store import advance_watermark
    from orchestration.defs.quality.checks import _rows_to_validate

    con = duckdb.connect()
    con.execute("create schema ml")
    con.execute("create table ml.log (id bigint, scored_at timestamp)")
    con.execute(
        "insert into ml.log select i, timestamp '2026-03-08 00:00:00' + to_microseconds(i * 1000) "
        "from range(400000) t(i)"
    )
    edge = datetime(2026, 3, 8, 0, 5, 40, tzinfo=UTC)  # row 340,000: 60,000 rows from it, one at the edge
    con.execute(
        "insert into ml.log values (-1, null), (-2, timestamp '2026-03-08 00:05:40'), "
        "(-3, timestamp '2026-03-08 00:05:40.000001'), (-4, timestamp '2026-03-08 00:05:39.999999')"
    )
    suite = Suite(name="log", table="ml.log", expectations=(), incremental_by="scored_at")
    advance_watermark(con, suite.name, edge)
    expected = con.execute(
        'select id from ml.log where "scored_at" is null or "scored_at" > ? order by id', [edge]
    ).fetchall()
    assert len(expected) == 1 + 1 + 59_999  # NULL, one microsecond after, the rows after the edge
    for zone, skips in (("UTC", True), ("America/New_York", False)):
        con.execute(f"set TimeZone = '{zone}'")
        if zone != "UTC":
            expected = con.execute(
                'select id from ml.log where "scored_at" is null or "scored_at" > ? order by id', [edge]
            ).fetchall()
        where, params, _ = _rows_to_validate(con, suite)
        con.execute("pragma enable_profiling = 'no_output'")
        assert con.execute(f"select id from ml.log where {where} order by id", params).fetchall() == expected, zone
        scanned = json.loads(con.get_profiling_information(format="json"))["query"]["total_row_groups_scanned"]
        con.execute("pragma disable_profiling")
        assert (scanned <= 2) == skips, (zone, scanned)  # of four row groups: the last one or two
