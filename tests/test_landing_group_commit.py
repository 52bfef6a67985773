"""Group commit: files of one source committed together, each still all-or-nothing and recorded as when every file
had a transaction of its own (landing/ingest.py, ``_Group``)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from landing import ingest, ingest_landing, load_file
from tests.landing_fixtures import web_events_file

CONTACTS = "hubspot_contacts"


@pytest.fixture(autouse=True)
def _group_small_sources(monkeypatch):
    """These files are tiny: group them anyway (by default a source under ~32 MB of new files is not grouped)."""
    monkeypatch.setattr(ingest, "_GROUP_MIN_BYTES", 0)


def _write(landing: Path, name: str, content: str) -> Path:
    path = landing / CONTACTS / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    return path


def _files(landing: Path) -> None:
    """Good files, one rejected, one with a quarantined row, one with the content of an earlier one."""
    _write(landing, "a.csv", "Record ID,Email\n1,a@x.io\n2,b@x.io\n")
    _write(landing, "b_no_id.csv", "First Name,Email\nAna,a@x.io\n")
    _write(landing, "c.csv", "Record ID,Email\n3,c@x.io\nnot-a-number,d@x.io\n")
    _write(landing, "d_copy_of_a.csv", "Record ID,Email\n1,a@x.io\n2,b@x.io\n")
    _write(landing, "e.csv", "Record ID,Email\n5,e@x.io\n")


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """The raw tables' content, file ids and load times aside."""
    return {
        "contacts": con.execute(
            "SELECT record_id, email, _source_file, _source_line FROM raw.hubspot_contacts ORDER BY ALL"
        ).fetchall(),
        "quarantine": con.execute(
            "SELECT path, line, reason, raw_text, byte_offset, byte_length FROM raw.quarantine_rows ORDER BY ALL"
        ).fetchall(),
        "load_files": con.execute(
            "SELECT source, path, sha256, size_bytes, status, rows_loaded, rows_accepted, rows_quarantined, error,"
            " delimiter, encoding, line_ending, modified_ns FROM raw.load_files ORDER BY ALL"
        ).fetchall(),
    }


def _outcomes(report) -> list[tuple]:
    return [(r.path, r.status, r.rows_accepted, r.rows_quarantined, r.error) for r in report.files]


def _one_transaction_per_file(con: duckdb.DuckDBPyConnection, landing: Path) -> list[tuple]:
    """What loading each file on its own (the per-file transaction of `load_file`) gives."""
    results = [load_file(con, CONTACTS, path, landing) for path in sorted((landing / CONTACTS).iterdir())]
    return [(r.path, r.status, r.rows_accepted, r.rows_quarantined, r.error) for r in results]


@pytest.mark.parametrize("group_rows", [1, 3, 10**9])
def test_a_group_loads_what_one_transaction_per_file_loads(tmp_path, monkeypatch, group_rows):
    monkeypatch.setattr(ingest, "_GROUP_ROWS", group_rows)  # a commit after every file, every few files, or once
    states, outcomes = [], []
    for grouped in (True, False):
        landing = tmp_path / f"landing_{grouped}"
        _files(landing)
        with duckdb.connect(str(tmp_path / f"wh_{grouped}.duckdb")) as con:
            if grouped:
                outcomes.append(_outcomes(ingest_landing(con, landing, settle_seconds=0)))
            else:
                ingest.ensure_raw_schema(con)
                outcomes.append(_one_transaction_per_file(con, landing))
            state = _state(con)
        # (load_file is given no settled stamp, so it keeps no modification time)
        state["load_files"] = [row[:-1] for row in state["load_files"]]
        states.append(state)
    assert states[0] == states[1]
    assert outcomes[0] == outcomes[1]
    assert [status for _, status, *_ in outcomes[0]] == ["loaded", "rejected", "loaded", "skipped", "loaded"]


def _parse_then(monkeypatch, name: str, effect) -> None:
    """Run ``effect(path)`` once the CSV parser has read the file called ``name`` (every time it does)."""
    real = ingest._parse_csv

    def parse(path, *args):
        dialect = real(path, *args)
        if path.name == name:
            effect(path)
        return dialect

    monkeypatch.setattr(ingest, "_parse_csv", parse)


def test_a_file_that_changes_while_loading_leaves_its_group_and_waits(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    _write(landing, "a.csv", "Record ID,Email\n1,a@x.io\n")
    _write(landing, "b.csv", "Record ID,Email\n2,b@x.io\n")
    _write(landing, "c.csv", "Record ID,Email\n3,c@x.io\n")
    monkeypatch.setattr(ingest, "_GROUP_ROWS", 10**9)
    appended: list[Path] = []

    def append_once(path: Path) -> None:
        if not appended:  # a writer still adding rows, once
            path.write_text(path.read_text() + "4,d@x.io\n")
            appended.append(path)

    _parse_then(monkeypatch, "b.csv", append_once)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        report = ingest_landing(con, landing, settle_seconds=0)
        assert [(r.path, r.status) for r in report.files] == [
            ("hubspot_contacts/a.csv", "loaded"),
            ("hubspot_contacts/b.csv", "waiting"),
            ("hubspot_contacts/c.csv", "loaded"),
        ]
        assert "changed while it was loading" in report.files[1].error
        assert con.execute("SELECT record_id FROM raw.hubspot_contacts ORDER BY 1").fetchall() == [("1",), ("3",)]
        assert con.execute("SELECT path, status FROM raw.load_files ORDER BY 1").fetchall() == [
            ("hubspot_contacts/a.csv", "loaded"),
            ("hubspot_contacts/c.csv", "loaded"),
        ]
        # Once it stops changing it loads, on its own.
        monkeypatch.undo()
        again = ingest_landing(con, landing, settle_seconds=0)
        assert [r.status for r in again.files] == ["skipped", "loaded", "skipped"]
        assert con.execute("SELECT count(*) FROM raw.hubspot_contacts").fetchall() == [(4,)]


def test_a_file_that_fails_in_a_group_is_recorded_as_failed_and_the_others_load(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    for name, record_id in (("a.csv", 1), ("b.csv", 2), ("c.csv", 3)):
        _write(landing, name, f"Record ID,Email\n{record_id},x{record_id}@x.io\n")
    monkeypatch.setattr(ingest, "_GROUP_ROWS", 10**9)

    def fail(path):
        raise RuntimeError("disk on fire")

    _parse_then(monkeypatch, "b.csv", fail)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        report = ingest_landing(con, landing, settle_seconds=0)
        assert [r.status for r in report.files] == ["loaded", "failed", "loaded"]
        assert "disk on fire" in report.files[1].error and "the next run tries it again" in report.files[1].error
        assert con.execute("SELECT record_id FROM raw.hubspot_contacts ORDER BY 1").fetchall() == [("1",), ("3",)]
        assert con.execute("SELECT path, status FROM raw.load_files ORDER BY file_id").fetchall() == [
            ("hubspot_contacts/a.csv", "loaded"),
            ("hubspot_contacts/b.csv", "failed"),
            ("hubspot_contacts/c.csv", "loaded"),
        ]
        monkeypatch.undo()
        again = ingest_landing(con, landing, settle_seconds=0)
        assert [r.status for r in again.files] == ["skipped", "loaded", "skipped"]
        assert con.execute("SELECT count(*) FROM raw.hubspot_contacts").fetchall() == [(3,)]


def test_a_crash_mid_group_leaves_none_of_its_files_and_the_next_run_loads_them(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    for name, record_id in (("a.csv", 1), ("b.csv", 2), ("c.csv", 3), ("d.csv", 4)):
        _write(landing, name, f"Record ID,Email\n{record_id},x{record_id}@x.io\n")
    monkeypatch.setattr(ingest, "_GROUP_ROWS", 2)  # a and b commit together; c and d would be the next group

    def crash(path):
        raise KeyboardInterrupt

    _parse_then(monkeypatch, "d.csv", crash)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        with pytest.raises(KeyboardInterrupt):
            ingest_landing(con, landing, settle_seconds=0)
        # The first group committed; of the second, c's rows went with d's crash.
        assert con.execute("SELECT record_id FROM raw.hubspot_contacts ORDER BY 1").fetchall() == [("1",), ("2",)]
        assert con.execute("SELECT path FROM raw.load_files ORDER BY 1").fetchall() == [
            ("hubspot_contacts/a.csv",),
            ("hubspot_contacts/b.csv",),
        ]
        monkeypatch.undo()
        again = ingest_landing(con, landing, settle_seconds=0)
        assert [r.status for r in again.files] == ["skipped", "skipped", "loaded", "loaded"]
        assert con.execute("SELECT record_id FROM raw.hubspot_contacts ORDER BY 1").fetchall() == [
            ("1",),
            ("2",),
            ("3",),
            ("4",),
        ]


def test_progress_names_every_file_in_order_once_its_group_commits(tmp_path, monkeypatch):
    landing = tmp_path / "landing"
    _files(landing)
    monkeypatch.setattr(ingest, "_GROUP_ROWS", 10**9)
    lines: list[str] = []
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        ingest_landing(con, landing, settle_seconds=0, progress=lines.append)
    assert [line.split(":")[0] for line in lines] == [
        "hubspot_contacts/a.csv",
        "hubspot_contacts/b_no_id.csv",
        "hubspot_contacts/c.csv",
        "hubspot_contacts/d_copy_of_a.csv",
        "hubspot_contacts/e.csv",
    ]


def test_a_group_larger_than_a_row_group_keeps_every_row(tmp_path):
    # More than one of DuckDB's row groups (122,880 rows) from one statement into the group's temporary table: the
    # case in which DuckDB 2.0.0 read a temporary table made in the same transaction as empty.
    landing = tmp_path / "landing"
    big = 130_000
    _write(landing, "a.csv", "Record ID,Email\n" + "".join(f"{i},x@x.io\n" for i in range(1, big + 1)))
    _write(landing, "b.csv", "Record ID,Email\n" + "".join(f"{i},y@x.io\n" for i in range(big + 1, big + 11)))
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        report = ingest_landing(con, landing, settle_seconds=0)
        assert [(r.status, r.rows_accepted) for r in report.files] == [("loaded", big), ("loaded", 10)]
        n, total, lines = con.execute(
            "SELECT count(*), sum(record_id::BIGINT), sum(_source_line) FROM raw.hubspot_contacts"
        ).fetchall()[0]
        assert (n, total) == (big + 10, (big + 10) * (big + 11) // 2)
        assert lines == big * (big + 3) // 2 + 65  # lines 2..big+1 of a, 2..11 of b
        assert con.execute("SELECT count(*) FROM duckdb_tables() WHERE temporary").fetchall() == [(0,)]


@pytest.mark.parametrize(("min_bytes", "grouped"), [(0, True), (ingest._GROUP_MIN_BYTES, False)])
def test_only_a_source_with_enough_new_bytes_is_grouped(tmp_path, monkeypatch, min_bytes, grouped):
    """A source whose new files cannot fill a row group loads one transaction per file, with the same result."""
    monkeypatch.setattr(ingest, "_GROUP_MIN_BYTES", min_bytes)
    added = []
    add = ingest._Group.add
    monkeypatch.setattr(ingest._Group, "add", lambda self, *args: (added.append(args[2]), add(self, *args))[1])
    landing = tmp_path / "landing"
    _files(landing)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    outcomes = _outcomes(ingest_landing(con, landing, sources=[CONTACTS], settle_seconds=0))
    assert bool(added) is grouped
    expected = duckdb.connect(str(tmp_path / "one_by_one.duckdb"))
    assert outcomes == _one_transaction_per_file(expected, landing)
    states = [_state(con), _state(expected)]
    for state in states:  # load_file is given no settled stamp, so it keeps no modification time
        state["load_files"] = [row[:-1] for row in state["load_files"]]
    assert states[0] == states[1]


@pytest.mark.parametrize(("group_rows", "gather_max_bytes"), [(10**9, ingest._GATHER_MAX_BYTES), (25_000, 1)])
def test_json_lines_in_a_group_keep_their_files_and_lines_in_order(tmp_path, monkeypatch, group_rows, gather_max_bytes):
    # Several batches a file (each DuckDB result comes back in record batches per thread, in no fixed order), a
    # quarantined line, groups of one or several files, and rows inserted before the group commits (past the cap).
    monkeypatch.setattr(ingest, "_GROUP_ROWS", group_rows)
    monkeypatch.setattr(ingest, "_GATHER_MAX_BYTES", gather_max_bytes)
    monkeypatch.setattr(ingest, "_JSONL_BATCH_ROWS", 7_000)
    states = []
    for grouped in (True, False):
        landing = tmp_path / f"landing_{grouped}"
        web_events_file(landing, "a.jsonl", 1, 20_000)
        web_events_file(landing, "b.jsonl", 20_001, 15_000, bad_at=9_000)
        web_events_file(landing, "c.jsonl", 35_001, 20_000)
        with duckdb.connect(str(tmp_path / f"wh_{grouped}.duckdb")) as con:
            if grouped:
                report = ingest_landing(con, landing, settle_seconds=0)
            else:
                ingest.ensure_raw_schema(con)
                report = ingest.IngestReport(
                    [load_file(con, "web_events", path, landing) for path in sorted((landing / "web_events").iterdir())]
                )
            assert [(r.status, r.rows_accepted, r.rows_quarantined) for r in report.files] == [
                ("loaded", 20_000, 0),
                ("loaded", 14_999, 1),
                ("loaded", 20_000, 0),
            ]
            rows = con.execute(
                "SELECT * EXCLUDE (_loaded_at) FROM raw.web_events ORDER BY _source_file, _source_line"
            ).fetchall()
            if grouped:  # the raw table keeps the files' order and each file's line order
                in_table_order = "SELECT * EXCLUDE (_loaded_at) FROM raw.web_events ORDER BY rowid"
                assert con.execute(in_table_order).fetchall() == rows
            quarantine = con.execute(
                "SELECT path, line, reason, raw_text, byte_offset, byte_length FROM raw.quarantine_rows"
            ).fetchall()
        states.append((rows, quarantine))
    assert states[0] == states[1]
    assert len(states[0][0]) == 54_999 and states[0][1][0][1] == 9_000
    assert states[0][0][0][6] == '{"path":"/p/1","n":1}'  # a JSON column as DuckDB extracts it
