"""The block-wise JSON lines reader gives exactly what the line-at-a-time reader gives, bad lines included."""

from __future__ import annotations

import json
import random
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


def _mixed_lines() -> list[bytes]:
    """Lines around the fast path's edges: which lines are simple (``{`` ... ``}`` less a CR), and text values
    the JSON type check looks at again (text starting with { or [, NaN as a string and as a number)."""
    good = json.dumps(GOOD).encode()
    return [
        good,
        good + b"\r",  # a CR before the line break: simple
        good + b"\r\r",  # two CRs: not simple (one is part of the text Python strips)
        good + b" ",  # a trailing blank: not simple
        b" " + good,  # a leading blank: not simple
        good + "\u2028".encode(),  # a line separator Python's strip takes: not simple
        good + b"\x1f",  # a control character Python's strip takes: not simple
        b'{"event_id": "e2", }',  # simple, not JSON
        b"{}",  # simple, no keys
        b"{",  # not simple
        json.dumps(dict(GOOD, email="{not an object}")).encode(),  # text starting with {: accepted
        json.dumps(dict(GOOD, email="[x]@y.io")).encode(),  # text starting with [: accepted
        json.dumps(dict(GOOD, email=["a@x.io"])).encode(),  # an array for a value
        json.dumps(dict(GOOD, contact_record_id="NaN")).encode(),  # NaN as text: accepted
        json.dumps(dict(GOOD, contact_record_id=float("inf"))).encode(),  # Infinity as a number
        json.dumps(dict(GOOD, email="ä@x.io"), ensure_ascii=False).encode(),  # UTF-8
        json.dumps(dict(GOOD, email="ä@x.io"), ensure_ascii=False).encode("latin-1"),  # not UTF-8
        b"",  # blank
    ]


@pytest.mark.parametrize("seed", range(4))
def test_block_reader_fast_path_equals_line_reader(tmp_path, monkeypatch, seed):
    """Random files of the lines above, read in small blocks and batches of a few lines: the same rows, quarantine
    rows (reasons, texts, byte ranges) and file records as the line reader's."""
    rng = random.Random(seed)
    pool = _mixed_lines()
    lines = [
        json.dumps(dict(GOOD, event_id=f"e{i}")).encode() if rng.random() < 0.6 else rng.choice(pool)
        for i in range(120)
    ]
    endings = [rng.choice([b"\n", b"\r\n"]) if seed % 2 else b"\n" for _ in lines]
    content = b"".join(line + ending for line, ending in zip(lines, endings, strict=True))
    if seed % 3 == 0:
        content = content.rstrip(b"\n")  # a last line without a line break (and maybe with a CR)
    monkeypatch.setattr(ingest, "_JSONL_BLOCK_BYTES", rng.choice([64, 97, 500, 4096]))
    monkeypatch.setattr(ingest, "_JSONL_BATCH_ROWS", rng.choice([15, 40, 1000]))
    simple = ingest._simple_jsonl_block
    took: list[bool] = []
    monkeypatch.setattr(ingest, "_simple_jsonl_block", lambda *a: took.append(simple(*a) is not None) or simple(*a))
    fast = _load(tmp_path, "fast", content)
    monkeypatch.setattr(ingest, "_parse_jsonl", _parse_jsonl_by_line)
    slow = _load(tmp_path, "slow", content)
    assert fast == slow
    assert fast["quarantine"] and fast["events"]
    assert any(took) and not all(took)  # blocks of both kinds


def test_text_values_that_look_like_objects_or_numbers(tmp_path):
    """The JSON type of a text key is looked at again only where its text starts with { or [ or is NaN/Infinity:
    such text values load, objects, arrays and non-JSON numbers are quarantined."""
    content = b"\n".join(_mixed_lines()[10:15]) + b"\n"
    out = _load(tmp_path, "types", content)
    assert [(row[0], row[2], row[3]) for row in out["events"]] == [
        ("e1", "{not an object}", None),
        ("e1", "[x]@y.io", None),
        ("e1", "a@x.io", "NaN"),
    ]
    assert [(line, reason) for line, reason, *_ in out["quarantine"]] == [
        (3, "email is an array, expected a single value"),
        (5, "contact_record_id is inf, which is not a JSON number"),
    ]
