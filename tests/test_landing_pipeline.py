"""JSON lines groups read ahead of their commits (landing/ingest.py, ``_Pipeline``): the next group's files are read
and checked while the last group is written by another thread, with the tables, file ids, records, results and
messages of the serial group commit (``_Group``)."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import duckdb
import pytest

from landing import ingest, ingest_landing
from tests.landing_fixtures import web_events_file

SOURCES = ["email_events", "web_events"]


def _email_events(landing: Path, name: str, first: int, count: int) -> None:
    lines = [
        f'{{"event_id": "e-{n}", "type": "open", "email": "p{n % 31}@x.io", "timestamp": "2026-05-02T10:00:00Z"}}\n'
        for n in range(first, first + count)
    ]
    lines[2] = "{not json}\n"  # quarantined
    path = landing / "email_events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))


def _landing(landing: Path) -> None:
    """Two sources; bad lines, a file that fails, a copy of an earlier file, several groups a source."""
    _email_events(landing, "a.jsonl", 1, 300)
    _email_events(landing, "b.jsonl", 301, 200)
    web_events_file(landing, "a.jsonl", 1, 400)
    web_events_file(landing, "b.jsonl", 401, 300, bad_at=123)
    web_events_file(landing, "c_fails.jsonl", 701, 200)
    web_events_file(landing, "d.jsonl", 901, 500, bad_at=1)
    (landing / "web_events" / "e_copy_of_a.jsonl").write_bytes((landing / "web_events" / "a.jsonl").read_bytes())
    web_events_file(landing, "f.jsonl", 1_401, 100)
    web_events_file(landing, "g.jsonl", 1_501, 300)


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every raw table in table order, quarantine rows and load records with their file ids; load times aside."""
    state = {
        table: con.execute(f"SELECT rowid, * EXCLUDE (_loaded_at) FROM raw.{table} ORDER BY rowid").fetchall()
        for table in SOURCES
    }
    state["quarantine"] = con.execute(
        "SELECT rowid, * EXCLUDE (quarantined_at) FROM raw.quarantine_rows ORDER BY rowid"
    ).fetchall()
    state["load_files"] = con.execute("SELECT * EXCLUDE (loaded_at) FROM raw.load_files ORDER BY file_id").fetchall()
    return state


@pytest.mark.parametrize("fault", [None, "write"])
def test_read_ahead_loads_what_the_serial_group_commit_loads(tmp_path, monkeypatch, fault):
    monkeypatch.setattr(ingest, "_GROUP_MIN_BYTES", 0)  # tiny files: group them anyway
    monkeypatch.setattr(ingest, "_GROUP_ROWS", 600)  # several groups a source, one written while the next is read
    monkeypatch.setattr(ingest, "_JSONL_BATCH_ROWS", 150)  # several batches a file
    real_parse = ingest._parse_jsonl

    fixed = []

    parsed = []

    def parse(path, *args):
        parsed.append(path.name)
        if path.name == "c_fails.jsonl" and not fixed:
            raise RuntimeError("disk on fire")
        return real_parse(path, *args)

    monkeypatch.setattr(ingest, "_parse_jsonl", parse)
    real_insert = ingest._Gathered.insert
    writes = []

    def insert(self):
        writes.append(self.table)
        if fault == "write" and len(writes) == 2:  # the second group's write fails: its files load one by one
            raise duckdb.IOException("no space left on device")
        real_insert(self)

    monkeypatch.setattr(ingest._Gathered, "insert", insert)
    read_ahead = []
    prepare = ingest._prepare_file
    monkeypatch.setattr(ingest, "_prepare_file", lambda *args: (read_ahead.append(args[3]), prepare(*args))[1])
    _landing(tmp_path / "landing")
    runs = {}
    for pipelined in (True, False):
        if not pipelined:  # every source too large for the pipeline: the serial group commit
            monkeypatch.setattr(ingest, "_PIPELINE_MAX_FILE_BYTES", -1)
        writes.clear()
        fixed.clear()
        landing = tmp_path / f"landing_{pipelined}"
        shutil.copytree(tmp_path / "landing", landing)  # the same files, modification times included
        messages: list[str] = []
        with duckdb.connect(str(tmp_path / f"wh_{pipelined}.duckdb")) as con:
            report = ingest_landing(con, landing, settle_seconds=0, progress=messages.append)
            outcomes = [
                (r.path, r.status, r.rows_accepted, r.rows_quarantined, r.error, r.file_id) for r in report.files
            ]
            state = _state(con)
            fixed.append(True)
            parsed.clear()
            again = ingest_landing(con, landing, settle_seconds=0)
            assert parsed == ["c_fails.jsonl"]  # the copy of a.jsonl is hashed again (its name is new), not read
            assert {r.status for r in again.files} == {"skipped", "loaded"}
            assert [r.path for r in again.files if r.status == "loaded"] == ["web_events/c_fails.jsonl"]
        runs[pipelined] = (outcomes, messages, state)
    # Every file read ahead in the pipelined run, and the one that failed again in the second run.
    assert [path.split("/")[1] for path in read_ahead] == [
        *("a.jsonl", "b.jsonl", "a.jsonl", "b.jsonl", "c_fails.jsonl", "d.jsonl", "e_copy_of_a.jsonl"),
        *("f.jsonl", "g.jsonl", "c_fails.jsonl", "e_copy_of_a.jsonl"),
    ]
    assert runs[True] == runs[False]
    outcomes, _, state = runs[True]
    assert [o[1] for o in outcomes] == ["loaded"] * 4 + ["failed", "loaded", "skipped", "loaded", "loaded"]
    assert outcomes[6][4] == "same content as web_events/a.jsonl"
    assert [o[5] for o in outcomes] == [1, 2, 3, 4, 5, 6, None, 7, 8]
    assert len(state["quarantine"]) == 4 and len(state["web_events"]) == 400 + 299 + 499 + 100 + 300


def test_a_file_too_large_to_hold_keeps_its_source_on_the_serial_group_commit(tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "_GROUP_MIN_BYTES", 0)
    landing = tmp_path / "landing"
    small = web_events_file(landing, "a.jsonl", 1, 100)
    big = web_events_file(landing, "b.jsonl", 101, 300)
    monkeypatch.setattr(ingest, "_PIPELINE_MAX_FILE_BYTES", (small.stat().st_size + big.stat().st_size) // 2)
    read_ahead, grouped = [], []
    prepare, add = ingest._prepare_file, ingest._Group.add
    monkeypatch.setattr(ingest, "_prepare_file", lambda *args: (read_ahead.append(args[3]), prepare(*args))[1])
    monkeypatch.setattr(ingest._Group, "add", lambda self, *args: (grouped.append(args[3]), add(self, *args))[1])
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        report = ingest_landing(con, landing, settle_seconds=0)
        assert [(r.status, r.rows_accepted) for r in report.files] == [("loaded", 100), ("loaded", 300)]
    assert read_ahead == [] and len(grouped) == 2


def test_the_pipeline_files_are_read_while_the_sources_before_them_load(tmp_path, monkeypatch):
    """The JSON lines files are read and checked on their own thread while a CSV source before them loads, with the
    results, messages, tables, file ids and records of the serial group commit; a JSON lines file whose content a CSV
    file of the same run holds (a rejected copy, recorded only after the JSON lines file was read) is still skipped."""
    monkeypatch.setattr(ingest, "_GROUP_MIN_BYTES", 0)
    monkeypatch.setattr(ingest, "_GROUP_ROWS", 600)
    landing = tmp_path / "landing"
    contacts = landing / "hubspot_contacts"
    contacts.mkdir(parents=True)
    (contacts / "a.csv").write_text("Record ID,Email\n1,a@x.io\n2,b@x.io\n")
    (contacts / "b.csv").write_text("Record ID,Email\n3,c@x.io\n")
    _email_events(landing, "a.jsonl", 1, 300)
    web_events_file(landing, "a.jsonl", 1, 400)
    web_events_file(landing, "b.jsonl", 401, 300, bad_at=7)
    (contacts / "z_copy_of_web_a.csv").write_bytes((landing / "web_events" / "a.jsonl").read_bytes())

    web_a_read = threading.Event()
    prepared_on, waited = [], []
    prepare, parse_csv = ingest._prepare_file, ingest._parse_csv

    def prepare_file(cur, spec, path, rel, stamp):
        try:
            return prepare(cur, spec, path, rel, stamp)
        finally:
            prepared_on.append((rel, threading.current_thread().name))
            if rel == "web_events/a.jsonl":
                web_a_read.set()

    def parse(path, *args):
        if reading_ahead and path.name == "z_copy_of_web_a.csv":
            waited.append(web_a_read.wait(10))  # the CSV source is still loading when web_events/a.jsonl is read
        return parse_csv(path, *args)

    monkeypatch.setattr(ingest, "_prepare_file", prepare_file)
    monkeypatch.setattr(ingest, "_parse_csv", parse)
    runs = {}
    for reading_ahead in (True, False):
        if not reading_ahead:  # every source too large for the pipeline: the serial group commit
            monkeypatch.setattr(ingest, "_PIPELINE_MAX_FILE_BYTES", -1)
        copy = tmp_path / f"landing_{reading_ahead}"
        shutil.copytree(landing, copy)
        messages: list[str] = []
        with duckdb.connect(str(tmp_path / f"wh_{reading_ahead}.duckdb")) as con:
            report = ingest_landing(con, copy, settle_seconds=0, progress=messages.append)
            outcomes = [(r.path, r.status, r.rows_accepted, r.error, r.file_id) for r in report.files]
            state = {
                table: con.execute(f"SELECT rowid, * EXCLUDE (_loaded_at) FROM raw.{table} ORDER BY rowid").fetchall()
                for table in ("hubspot_contacts", *SOURCES)
            }
            state["quarantine"] = con.execute(
                "SELECT rowid, * EXCLUDE (quarantined_at) FROM raw.quarantine_rows ORDER BY rowid"
            ).fetchall()
            state["load_files"] = con.execute(
                "SELECT * EXCLUDE (loaded_at) FROM raw.load_files ORDER BY file_id"
            ).fetchall()
        runs[reading_ahead] = (outcomes, messages, state)
    assert waited and all(waited)
    read_ahead = [rel for rel, thread in prepared_on if thread == "landing-read-ahead"]
    assert read_ahead == ["email_events/a.jsonl", "web_events/a.jsonl", "web_events/b.jsonl"]
    assert len(prepared_on) == 3  # the serial run reads no file through the pipeline
    assert runs[True] == runs[False]
    outcomes = runs[True][0]
    assert [o[1] for o in outcomes] == ["loaded", "loaded", "rejected", "loaded", "skipped", "loaded"]
    assert outcomes[4][3] == "same content as hubspot_contacts/z_copy_of_web_a.csv"


def test_a_run_with_no_file_for_the_pipeline_starts_no_thread(tmp_path, monkeypatch):
    """An hour's few small files load one transaction each, with no reading thread started."""
    web_events_file(tmp_path / "landing", "a.jsonl", 1, 100)
    started = []
    monkeypatch.setattr(ingest._ReadAhead, "__init__", lambda self, *args: started.append(args))
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        report = ingest_landing(con, tmp_path / "landing", settle_seconds=0)
    assert [(r.status, r.rows_accepted) for r in report.files] == [("loaded", 100)]
    assert started == [] and [t.name for t in threading.enumerate() if t.name.startswith("landing")] == []
