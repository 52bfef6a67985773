"""The block-wise JSON lines reader gives exactly what the line-at-a-time reader gives, bad lines included."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

import landing.ingest as ingest
from landing import ingest_landing

GOOD = {"event_id": "e1", "type": "open", "email": "a@x.io", "timestamp": "2026-03-01T09:30:00Z"}


def _lines() -> list[bytes]:
    good = [json.dumps(dict(GOOD, event_id=f"e{i}")).encode() for i in range(40)]
    return [
        b"\xef\xbb\xbf" + good[0],  # BOM
        good[1],
        b"",  # blank
        b"   \t",  # whitespace only
        b'{"event_id": "e2", ',  # invalid JSON
        b"[1, 2]",  # not an object
        json.dumps({"type": "open", "timestamp": "2026-03-01T09:30:00Z"}).encode(),  # missing keys
        json.dumps(dict(GOOD, event_id="e3", timestamp="yesterday")).encode(),  # bad timestamp
        json.dumps(dict(GOOD, event_id="e4", timestamp="2099-01-01T00:00:00Z")).encode(),  # future
        json.dumps(dict(GOOD, event_id={"id": "e5"})).encode(),  # object for a value
        json.dumps(dict(GOOD, event_id="e6")).replace('"open"', '"open", "contact_record_id": NaN').encode(),
        json.dumps(dict(GOOD, event_id="e7", type="bounced_hard")).encode(),  # outside the vocabulary
        b'{"event_id": "e8", "type": "open", "email": "a@x.io", "timestamp": "2026-03-01", "x": "\\ud800"}',
        json.dumps(dict(GOOD, event_id="e9", email="j\u00fcrgen@x.io"), ensure_ascii=False).encode("latin-1"),
        json.dumps(dict(GOOD, event_id="e10", email="m\u00fcller@x.io"), ensure_ascii=False).encode(),  # UTF-8
        json.dumps(dict(GOOD, event_id="e11", note="x" * 300)).encode(),  # longer than a block
        *good[2:],
    ]


def _load(tmp_path: Path, name: str, content: bytes) -> dict[str, list[tuple]]:
    landing = tmp_path / name / "landing"
    (landing / "email_events").mkdir(parents=True)
    (landing / "email_events" / "events.jsonl").write_bytes(content)
    con = duckdb.connect(str(tmp_path / name / "wh.duckdb"))
    report = ingest_landing(con, landing, sources=["email_events"], settle_seconds=0)
    assert [r.status for r in report.files] == ["loaded"]
    out = {
        "events": con.execute("SELECT * EXCLUDE (_loaded_at) FROM raw.email_events ORDER BY _source_line").fetchall(),
        "quarantine": con.execute(
            "SELECT line, reason, raw_text, byte_offset, byte_length FROM raw.quarantine_rows ORDER BY line"
        ).fetchall(),
        "files": con.execute(
            "SELECT rows_loaded, rows_accepted, rows_quarantined, delimiter, encoding, line_ending FROM raw.load_files"
        ).fetchall(),
    }
    con.close()
    return out


def _parse_jsonl_by_line(path, spec, rel, writer):
    """The line-at-a-time reading the block reader (`landing.ingest._parse_jsonl`) must equal: the reference."""
    # Lines are only split and decoded here; validation happens set-wise in DuckDB (see _Writer), which is
    # several times faster than json.loads per line. Only lines DuckDB flags come back to _jsonl_problem.
    with open(path, "rb") as f:
        lines = ingest._Lines(f, rel)
        add = writer.add_jsonl
        for text in lines:
            problem = lines.taken_problem
            span = lines.span()
            lines.take_clear()  # one line per record; keep `taken` from growing
            line = text.strip()
            if problem:
                writer.quarantine(lines.lineno, problem, ingest._raw_text([text.rstrip("\r\n")]), span)
            elif line:
                add(line, lines.lineno, span)
    return ingest._Dialect(None, "utf-8 with BOM" if lines.has_bom else "utf-8", lines.line_ending)


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_block_reader_equals_line_reader(tmp_path, monkeypatch, newline, final_newline):
    content = newline.join(_lines()) + (newline if final_newline else b"")
    monkeypatch.setattr(ingest, "_JSONL_BLOCK_BYTES", 97)  # many blocks, cut mid-line, one line longer than one
    fast = _load(tmp_path, "fast", content)
    monkeypatch.setattr(ingest, "_parse_jsonl", _parse_jsonl_by_line)
    slow = _load(tmp_path, "slow", content)
    assert fast == slow
    assert fast["files"] == [(52, 42, 10, None, "utf-8 with BOM", "crlf" if newline == b"\r\n" else "lf")]
    spans = {line: (offset, length) for line, _, _, offset, length in fast["quarantine"]}
    lines = content.split(b"\n")
    assert spans[14] == (sum(len(x) + 1 for x in lines[:13]), len(lines[13]) + 1)
    assert fast["quarantine"][-1][1].startswith("not UTF-8: byte 0xfc")
