"""CSV files read by DuckDB (`landing.ingest._load_csv_in_engine`) load exactly what the Python reader loads.

The engine path is taken only for files it can prove it reads as the Python reader does; every other file (a BOM,
bytes that are not UTF-8, a quoted line break, a blank line, a stray or loose quote, a row of the wrong width, a
lone carriage return, two unknown columns of the same label) is read by the Python reader. Either way the raw
rows, quarantine rows (line, reason, raw text, byte span) and the file's counts and dialect are the same.
"""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import pytest

import landing.ingest as ingest
from landing import ingest_landing

HEADER = ["Record ID", "First Name", "Last Name", "Email", "Create Date", "Lifecycle Stage"]
GOOD = ["1001", "Ann", "Lee", "ann@x.io", "2026-03-01 09:30", "lead"]


def _csv(rows: list[list[str]], delimiter: str = ",", newline: str = "\n", final: bool = True) -> bytes:
    text = newline.join(delimiter.join(row) for row in rows) + (newline if final else "")
    return text.encode("utf-8")


def _load(tmp_path: Path, name: str, content: bytes, engine: bool, source: str = "hubspot_contacts"):
    """Load ``content`` as one file of ``source``; with ``engine`` False the Python reader is forced."""
    landing = tmp_path / name / "landing"
    (landing / source).mkdir(parents=True)
    (landing / source / "export.csv").write_bytes(content)
    con = duckdb.connect(str(tmp_path / name / "wh.duckdb"))
    used: list[bool] = []
    real = ingest._load_csv_in_engine

    def spy(*args, **kwargs):
        took = real(*args, **kwargs) if engine else False
        used.append(took)
        return took

    ingest._load_csv_in_engine = spy
    try:
        report = ingest_landing(con, landing, sources=[source], settle_seconds=0)
    finally:
        ingest._load_csv_in_engine = real
    table = ingest.SOURCES[source].table
    out = {
        "status": [(r.status, r.rows_loaded, r.rows_accepted, r.rows_quarantined, r.error) for r in report.files],
        "rows": con.execute(
            f"SELECT * EXCLUDE (_loaded_at, extra_columns), extra_columns::VARCHAR FROM {table} ORDER BY _source_line"
        ).fetchall(),
        "quarantine": con.execute(
            "SELECT line, reason, raw_text, byte_offset, byte_length FROM raw.quarantine_rows ORDER BY line"
        ).fetchall(),
        "files": con.execute(
            "SELECT status, rows_loaded, rows_accepted, rows_quarantined, delimiter, encoding, line_ending"
            " FROM raw.load_files"
        ).fetchall(),
    }
    con.close()
    return out, used


def _same_both_ways(tmp_path: Path, content: bytes, source: str = "hubspot_contacts") -> bool:
    """Load ``content`` through both readers, assert the results are identical, and say whether the engine took it."""
    python, _ = _load(tmp_path, "python", content, engine=False, source=source)
    engine, used = _load(tmp_path, "engine", content, engine=True, source=source)
    assert engine == python
    return any(used)


ENGINE_CASES = {
    "plain": _csv([HEADER, GOOD, ["1002", "Bo", "Ng", "bo@x.io", "2026-03-02", "customer"]]),
    "semicolon": _csv([HEADER, GOOD, ["1002", "Bo", "Ng", "bo@x.io", "", ""]], delimiter=";"),
    "tab": _csv([HEADER, GOOD], delimiter="\t"),
    "crlf": _csv([HEADER, GOOD, ["1002", "", "", "", "", ""]], newline="\r\n"),
    "crlf, a bad last row, no final newline": _csv(
        [HEADER, GOOD, ["x1", "Bad", "Id", "", "", "lead"]], newline="\r\n", final=False
    ),
    "no final newline": _csv([HEADER, GOOD, ["1002", "Bo", "Ng", "bo@x.io", "", "lead"]], final=False),
    "quoted fields": _csv(
        [
            [f'"{h}"' for h in HEADER],
            ["1001", '"Lee, Ann"', '"O""Brien"', '""', '""', '"lead"'],
            ["1002", '""""', '"a;b|c"', "x", "", ""],
        ]
    ),
    "non-ASCII and odd characters": _csv(
        [HEADER, ["1001", "Jürgen", "Müller\u2028", "j@x.io", "", ""], ["1002", "李", "\\n", "x\x0b", "", ""]]
    ),
    "rows with problems": _csv(
        [
            HEADER,
            GOOD,
            ["", "No", "Id", "", "", ""],
            ["  ", "Blank", "Id", "", "", ""],
            ["12a", "Bad", "Id", "", "", ""],
            ["1003", "Bad", "Date", "", "yesterday", ""],
            ["1004", "Bad", "Day", "", "2026-02-30", ""],
            ["1005", "Padded", "Date", "", " 2026-03-01 ", ""],
            ["1006", "Bad", "Stage", "", "", "Lead"],
            [" 1007 ", "Padded", "Id", "", "", ""],
            ["１００８", "Wide", "Digits", "", "", ""],
            ["1009", "Many", "Problems", "", "0000-01-01", "nope"],
        ]
    ),
    "unknown and duplicate known columns": _csv(
        [
            [*HEADER, "Favourite Color", "email", " Shoe Size "],
            [*GOOD, "blue", "second@x.io", ""],
            [*GOOD[:1], "Q", "U", "q@x.io", "", "", '"say ""hi"""', "back\\slash", "tab\there"],
            ["1003", "", "", "", "", "", "", "", "€"],
        ]
    ),
    "labels in another case and order": _csv(
        [["email", "RECORD ID", "  first name "], ["a@x.io", "1", "Ann"], ["b@x.io", "2", "Bo"]]
    ),
}


@pytest.mark.parametrize("case", list(ENGINE_CASES))
def test_the_engine_reads_what_the_python_reader_reads(tmp_path, case):
    assert _same_both_ways(tmp_path, ENGINE_CASES[case]), f"{case}: expected the engine path"


FALLBACK_CASES = {
    "BOM": b"\xef\xbb\xbf" + _csv([HEADER, GOOD]),
    "not UTF-8": _csv([HEADER, GOOD]) + "1002,J\u00fcrgen,X,,,\n".encode("latin-1") + _csv([GOOD]),
    "quoted line break": _csv([HEADER, ["1001", '"Ann\nMarie"', "Lee", "", "", ""], GOOD]),
    "blank line": _csv([HEADER, GOOD, [""], GOOD]),
    "whitespace line": _csv([HEADER, GOOD, ["  \t"], GOOD]),
    "blank line before the header": b"\n" + _csv([HEADER, GOOD]),
    "too many fields": _csv([HEADER, GOOD, [*GOOD, "x"], GOOD]),
    "too few fields": _csv([HEADER, GOOD, GOOD[:3], GOOD]),
    "stray quote": _csv([HEADER, GOOD, ["1002", '"Ann', "Lee", "", "", ""], GOOD, GOOD]),
    "quote closed then text": _csv([HEADER, ["1002", '"Ann"x', "Lee", "", "", ""], GOOD]),
    "quote inside an unquoted field": _csv([HEADER, ["1002", 'O"Brien', "Lee", "", "", ""], GOOD]),
    "space before a quote": _csv([HEADER, ["1002", ' "Ann"', "Lee", "", "", ""], GOOD]),
    "space after a quote": _csv([HEADER, ["1002", '"Ann" ', "Lee", "", "", ""], GOOD]),
    "lone carriage return": _csv([HEADER, ["1002", "Ann\rMarie", "Lee", "", "", ""], GOOD]),
    "mixed line endings": _csv([HEADER, GOOD], newline="\r\n") + _csv([GOOD]),
    "two unknown columns of one label": _csv([[*HEADER, "Color", " Color"], [*GOOD, "a", "b"]]),
    "NUL byte": _csv([HEADER, ["1002", "A\x00n", "Lee", "", "", ""], GOOD]),
}


@pytest.mark.parametrize("case", list(FALLBACK_CASES))
def test_files_the_engine_cannot_vouch_for_are_read_by_python(tmp_path, case):
    assert not _same_both_ways(tmp_path, FALLBACK_CASES[case]), f"{case}: expected the Python reader"


def test_a_file_larger_than_the_engine_holds_in_memory_is_streamed_by_python(tmp_path, monkeypatch):
    content = ENGINE_CASES["rows with problems"]
    monkeypatch.setattr(ingest, "_ENGINE_MAX_BYTES", len(content) - 1)
    assert not _same_both_ways(tmp_path, content)


def test_a_rejected_file_is_rejected_the_same_way(tmp_path):
    assert not _same_both_ways(tmp_path, _csv([["First Name", "Email"], ["Ann", "a@x.io"]]))


def test_an_activity_export_with_its_vocabularies(tmp_path):
    header = ["Record ID", "Activity type", "Activity date", "Task status", "Subject"]
    content = _csv(
        [
            header,
            ["1", "CALL", "2026-03-01T09:30:00Z", "", "hi"],
            ["2", "call", "2026-03-01T09:30:00+02:00", "", ""],  # outside the vocabulary (case matters)
            ["3", "TASK", "", "DONE", ""],  # missing date; status outside the vocabulary
            ["4", "EMAIL", "2026-03-01T09:30:00.123456+0530", "COMPLETED", ""],
        ]
    )
    assert _same_both_ways(tmp_path, content, source="hubspot_activities")


def test_random_small_files_load_the_same_both_ways(tmp_path):
    """Fuzz: files built from the characters that matter to CSV give the same result through either path."""
    rng = random.Random(1405)
    pieces = ["a", "1", "1001", '"', '""', ",", ";", " ", "\t", "\r", "\n", "\r\n", "é", "2026-03-01", "lead", "\\"]
    engine_taken = 0
    for i in range(120):
        rows = [HEADER]
        for _ in range(rng.randint(1, 6)):
            row = list(GOOD)
            for _ in range(rng.randint(0, 3)):
                col = rng.randrange(len(row))
                row[col] = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 3)))
            if rng.random() < 0.5:
                row = [f'"{v}"' if '"' not in v and rng.random() < 0.5 else v for v in row]
            rows.append(row)
        content = _csv(rows, newline=rng.choice(["\n", "\r\n"]), final=rng.random() < 0.8)
        engine_taken += _same_both_ways(tmp_path / str(i), content)
    assert engine_taken >= 20  # the fuzz must exercise the engine path too, not only the fallback


def test_the_flag_is_queried_again_only_when_a_row_was_held_back(tmp_path, monkeypatch):
    """The engine path inserts the rows no check flags; the flagged rows are read back for the Python checks only
    when the insert did not take every row (the flag is never NULL, so it took them all exactly when none is
    flagged). Either way the file loads as the Python reader loads it."""
    flag_queries: list[str] = []
    real_execute = duckdb.DuckDBPyConnection.execute

    def execute(self, query, *args, **kwargs):
        if isinstance(query, str) and query.startswith("SELECT _line, c0"):
            flag_queries.append(query)
        return real_execute(self, query, *args, **kwargs)

    monkeypatch.setattr(duckdb.DuckDBPyConnection, "execute", execute)
    clean = _csv([HEADER, GOOD, ["1002", "Bo", "Ng", "bo@x.io", "2026-03-02", "customer"]])
    assert _same_both_ways(tmp_path / "clean", clean)
    assert flag_queries == []  # every row inserted: the flag not queried a second time
    held_back = _csv([HEADER, GOOD, ["x1", "Bad", "Id", "", "", "lead"]])
    assert _same_both_ways(tmp_path / "held_back", held_back)
    assert len(flag_queries) == 1  # a row held back: read back and quarantined by the Python checks
