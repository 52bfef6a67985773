"""Issue 18's landing-side fault scenarios (evaluation/fault_scenarios_landing.py), each as a test, and the loader
behaviour behind them in detail (stray quotes, byte ranges)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from evaluation.fault_scenarios_landing import (
    internal_error_scenario,
    stray_quote_scenario,
    truncated_copy_scenario,
)
from landing import ensure_raw_schema, ingest_landing


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    yield c
    c.close()


def rows(con, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_a_stray_quote_hides_no_rows(tmp_path):
    figures = stray_quote_scenario(tmp_path)
    assert figures["stray_quote_rows_lost"] == 0
    # Every record of both 3,000-row files is counted, and rows_loaded = accepted + quarantined.
    assert figures["stray_quote_rows_loaded"] == figures["stray_quote_file_rows"] == 6000
    assert figures["stray_quote_rows_accepted"] + figures["stray_quote_rows_quarantined"] == 6000
    # Per file: the sample world's two planted bad rows and the row with the stray quote.
    assert figures["stray_quote_rows_quarantined"] == 6


def test_a_load_that_failed_for_an_internal_reason_is_retried_and_a_bad_file_is_not(tmp_path):
    assert internal_error_scenario(tmp_path) == {
        "internal_error_retried": 1,
        "internal_error_failed_recorded": 1,
        "bad_input_retried": 0,
    }


def test_a_file_still_being_copied_is_not_loaded_until_complete(tmp_path):
    assert truncated_copy_scenario(tmp_path) == {"truncated_copy_loaded": 0, "complete_copy_loaded": 1}


def test_a_stray_quote_is_cut_at_its_line_and_every_later_row_loads(con, tmp_path):
    from landing.ingest import MAX_QUOTED_LINES

    lines = [f"{i},Name {i},Street {i}\n" for i in range(1, 400)]
    note = "Long note\n" + "".join(f"line {n}\n" for n in range(150)) + "end"
    lines[2] = f'3,Cy,"{note}"\n'  # a real quoted field of 152 lines (lines 4-155)
    lines[9] = '10,"Ann,Street 10\n'  # line 162: a quote that is never closed
    lines[299] = '300,"Main St 1\nApt 2","Bo\n'  # lines 452-453: a real two-line address, then a stray quote
    landing = tmp_path / "landing"
    (landing / "hubspot_contacts").mkdir(parents=True)
    path = landing / "hubspot_contacts" / "stray.csv"
    path.write_text("Record ID,First Name,Street Address\n" + "".join(lines))
    data = path.read_bytes()
    report = ingest_landing(con, landing)
    (r,) = report.files
    assert (r.rows_loaded, r.rows_accepted, r.rows_quarantined) == (399, 397, 2)
    line_of = dict(rows(con, "SELECT record_id, _source_line FROM raw.hubspot_contacts"))
    assert (line_of["3"], line_of["11"], line_of["301"], line_of["399"]) == (4, 163, 454, 552)
    assert "10" not in line_of and "300" not in line_of
    assert rows(con, "SELECT street_address FROM raw.hubspot_contacts WHERE record_id = '3'") == [(note,)]
    q = rows(con, "SELECT line, reason, raw_text, byte_offset, byte_length FROM raw.quarantine_rows ORDER BY line")
    (line10, reason10, text10, *_), (line300, reason300, text300, *_) = q
    assert (line10, text10) == (162, '10,"Ann,Street 10\n')
    assert reason10.startswith(
        f"stray quote: the quoted field opened on line 162 is not closed within {MAX_QUOTED_LINES}"
    )
    assert (line300, text300) == (452, '300,"Main St 1\nApt 2","Bo\n')
    assert "opened on line 453 is never closed" in reason300 and "read as rows of their own" in reason300
    for _, _, text, offset, length in q:  # the byte range reads each row back exactly
        assert data[offset : offset + length].decode() == text


def test_an_older_quarantine_table_gains_the_byte_range_columns(con):
    con.execute("CREATE SCHEMA raw")
    con.execute(
        "CREATE TABLE raw.quarantine_rows (file_id BIGINT, source VARCHAR, path VARCHAR, line BIGINT, reason VARCHAR,"
        " raw_text VARCHAR, quarantined_at TIMESTAMP)"
    )
    ensure_raw_schema(con)
    columns = [
        c
        for (c,) in rows(
            con,
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'quarantine_rows' ORDER BY ordinal_position",
        )
    ]
    assert columns[-2:] == ["byte_offset", "byte_length"]


def test_a_failed_load_is_listed_for_retry_until_it_loads(con, tmp_path):
    from landing.ingest import files_to_retry

    landing = tmp_path / "landing"
    (landing / "hubspot_contacts").mkdir(parents=True)
    (landing / "hubspot_contacts" / "a.csv").write_text("Record ID,Email\n1,a@x.io\n2,b@x.io\n")
    ensure_raw_schema(con)
    con.execute("ALTER TABLE raw.hubspot_contacts ALTER COLUMN extra_columns SET NOT NULL")  # refuses every row
    (first,) = ingest_landing(con, landing, settle_seconds=0).files
    assert first.status == "failed" and "NOT NULL constraint failed" in first.error
    assert files_to_retry(con) == [("hubspot_contacts/a.csv", first.error)]
    assert rows(con, "SELECT count(*) FROM raw.hubspot_contacts") == [(0,)]
    con.execute("ALTER TABLE raw.hubspot_contacts ALTER COLUMN extra_columns DROP NOT NULL")
    (second,) = ingest_landing(con, landing, settle_seconds=0).files
    assert (second.status, second.rows_accepted) == ("loaded", 2)
    assert files_to_retry(con) == []
    (third,) = ingest_landing(con, landing, settle_seconds=0).files
    assert third.status == "skipped"


def test_a_runaway_quote_is_found_even_when_the_line_past_the_limit_opens_another(con, tmp_path):
    lines = [f"{i},Name {i},Street {i}\n" for i in range(1, 400)]
    lines[9] = '10,"Ann,Street 10\n'  # line 11
    lines[209] = '210,x",N,"open\n'  # line 211, one past the limit: it would close the first quote and open another
    landing = tmp_path / "landing"
    (landing / "hubspot_contacts").mkdir(parents=True)
    (landing / "hubspot_contacts" / "a.csv").write_text("Record ID,First Name,Street Address\n" + "".join(lines))
    (r,) = ingest_landing(con, landing, settle_seconds=0).files
    assert (r.rows_loaded, r.rows_accepted, r.rows_quarantined) == (399, 397, 2)
    assert [line for (line,) in rows(con, "SELECT line FROM raw.quarantine_rows ORDER BY line")] == [11, 211]
