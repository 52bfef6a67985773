"""JSON lines checked with one parse fewer (landing/ingest.py, ``_Writer._flush_jsonl``): a line's validity is
decided by ``TRY(json_extract_string(...))`` instead of a cast to JSON before it, and the gathered rows keep the
line's text for the JSON ``payload`` column instead of casting it again (``_Gathered.add``'s ``json_text``)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from landing import ingest, ingest_landing

# Email events whose JSON is written in every way a reader may or may not take: the verdict must be the cast's.
_GOOD = '"event_id": "e-{n}", "type": "open", "email": "p{n}@x.io", "timestamp": "2026-05-02T10:00:00Z"'
_LINES = [
    "{" + _GOOD + "}",
    "{ " + _GOOD + ' ,  "extra" :  1.50 }',  # spaces kept as they are in the payload
    "{" + _GOOD + ",}",  # a trailing comma
    "{" + _GOOD + ', "x": NaN}',  # a number JSON forbids, in a key no column reads
    "{" + _GOOD + ', "x": "\\ud800"}',  # a lone surrogate
    "{" + _GOOD + ', "x": "\\u00e9\\n"}',  # escapes
    "{" + _GOOD + ', "event_id": "dup-{n}"}',  # a duplicate key
    "{" + _GOOD + ', "x": [1, {{"y": null}}]}',
    "{" + _GOOD,  # cut short
    "{" + _GOOD + "}}",  # one brace too many
    "{'event_id': 'e-{n}'}",  # single quotes
    "{event_id: 1}",  # an unquoted key
    "[1, 2]",  # JSON, not an object
    "17",
    "null",
    "{" + _GOOD + ', /* a comment */ "x": 1}',
]


def _write(landing: Path, name: str, first: int) -> list[str]:
    texts = [line.replace("{n}", str(first + i)) for i, line in enumerate(_LINES)]
    path = landing / "email_events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(text + "\n" for text in texts))
    return texts


@pytest.mark.parametrize("grouped", [False, True])
def test_a_lines_verdict_and_payload_are_the_cast_to_jsons(tmp_path, monkeypatch, grouped):
    """Every line loads or is quarantined as the cast to JSON (and the checks after it) decides, with its text
    stored unchanged: loaded a file per transaction, and in groups read ahead (the gathered rows, ``json_text``)."""
    if grouped:
        monkeypatch.setattr(ingest, "_GROUP_MIN_BYTES", 0)
        monkeypatch.setattr(ingest, "_JSONL_BATCH_ROWS", 5)  # several batches a file, some with bad lines
    landing = tmp_path / "landing"
    texts = _write(landing, "a.jsonl", 1) + _write(landing, "b.jsonl", 100)
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    report = ingest_landing(con, landing, sources=["email_events"], settle_seconds=0)
    assert [r.status for r in report.files] == ["loaded", "loaded"]
    cast = duckdb.connect()
    valid = [cast.execute("SELECT TRY_CAST(? AS JSON) IS NOT NULL", [text]).fetchall()[0][0] for text in texts]
    # The ones the cast takes and the required keys hold (a JSON array, a number, null have none).
    expected = [text for text, ok in zip(texts, valid, strict=True) if ok and text.startswith("{")]
    loaded = con.execute("SELECT payload::VARCHAR FROM raw.email_events ORDER BY rowid").fetchall()
    assert [p for (p,) in loaded] == expected
    quarantined = con.execute("SELECT raw_text, reason FROM raw.quarantine_rows ORDER BY rowid").fetchall()
    assert [raw for raw, _ in quarantined] == [text for text in texts if text not in expected]
    assert all(reason for _, reason in quarantined)
    # Both kinds of line occur, so each path of the check ran.
    assert 0 < len(expected) < len(texts)


def test_gathered_json_text_is_held_as_given_without_a_cast():
    """A column named in ``json_text`` is held as the select's text (not cast to JSON: a cast would parse it again)
    and handed to the insert as Arrow JSON, which stores it unchanged."""
    con = duckdb.connect()
    con.execute("CREATE TABLE t (payload JSON, properties JSON, n BIGINT, _source_line BIGINT)")
    gathered = ingest._Gathered(con, "t")
    text = ' { "a" :  1.50 , "b": [1,2] } '
    rows = gathered.add(
        "SELECT ? AS payload, '{\"p\": 1}' AS properties, 1 AS n, 1 AS _source_line", [text], json_text=("payload",)
    )
    assert rows == 1
    batch = gathered.batches[0]
    assert batch.schema.field("payload").type == pa.json_(pa.string())
    assert batch.column("payload").to_pylist() == [text]
    gathered.insert()
    assert con.execute("SELECT payload::VARCHAR, json_type(payload) FROM t").fetchall() == [(text, "OBJECT")]
    # Not parsed on the way: a text that is not JSON passes the gathering (the select's own check vouches for it).
    gathered.add("SELECT '{not json' AS payload, 2 AS n, 1 AS _source_line", [], json_text=("payload",))
    assert gathered.batches[-1].column("payload").to_pylist() == ["{not json"]
    # Without json_text the same select is cast, and the cast refuses it.
    with pytest.raises(duckdb.ConversionException):
        ingest._Gathered(con, "t").add("SELECT '{not json' AS payload, 2 AS n, 1 AS _source_line", [])
