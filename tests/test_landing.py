"""Tests for the landing loader (landing/): contract, raw schema, idempotency, quarantine, rejection."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from landing import SOURCES, ensure_raw_schema, ingest_landing, load_file, snake_case, stage_file
from landing.contract import parse_timestamp
from landing.schema import raw_columns


@pytest.fixture
def con(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    yield c
    c.close()


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    d = tmp_path / "landing"
    d.mkdir()
    return d


def write(landing: Path, rel: str, content: str | bytes) -> Path:
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    return path


def rows(con, sql: str, params=None) -> list[tuple]:
    return con.execute(sql, params or []).fetchall()


def check_load_files(con, report=None) -> None:
    """rows_loaded = accepted + quarantined, in the report and in raw.load_files, matching quarantine_rows."""
    for r in report.files if report else []:
        assert r.rows_loaded == r.rows_accepted + r.rows_quarantined, r
    bad = rows(con, "SELECT path FROM raw.load_files WHERE rows_loaded <> rows_accepted + rows_quarantined")
    assert bad == []
    mismatch = rows(con, """
        SELECT f.path FROM raw.load_files f
        LEFT JOIN (SELECT file_id, count(*) n FROM raw.quarantine_rows GROUP BY 1) q USING (file_id)
        WHERE f.rows_quarantined <> coalesce(q.n, 0)""")
    assert mismatch == []


CONTACTS_HEADER = '  record id ,FIRST NAME,Email,create date,Last Modified Date,"Favourite Color"\n'


# ---------------------------------------------------------------------------------------------------------


def test_snake_case_rules():
    assert snake_case('Date entered "Closed Won (Sales Pipeline)"') == "date_entered_closed_won_sales_pipeline"
    assert snake_case("State/Region") == "state_region"
    assert snake_case("Associated Company ID (Primary)") == "associated_company_id_primary"
    assert snake_case("LinkedIn URL") == "linkedin_url"
    assert snake_case("messageId", split_camel=True) == "message_id"
    assert snake_case("anonymousId", split_camel=True) == "anonymous_id"
    assert SOURCES["web_events"].column_names[:4] == ["type", "message_id", "anonymous_id", "user_id"]


def test_parse_timestamp_formats():
    assert parse_timestamp("2026-03-01T09:30:00Z").isoformat() == "2026-03-01T09:30:00+00:00"
    assert parse_timestamp("2026-03-01T10:30:00+01:00").isoformat() == "2026-03-01T09:30:00+00:00"
    assert parse_timestamp("2026-03-01 09:30").isoformat() == "2026-03-01T09:30:00+00:00"
    assert parse_timestamp("2026-03-01 09:30:15").second == 15
    assert parse_timestamp("2026-03-01").day == 1
    for bad in ("31/02/2024", "2024-02-31", "20260301", "soon", ""):
        assert parse_timestamp(bad) is None, bad


def test_all_sources_and_raw_tables_exist_on_empty_landing(con, landing):
    assert len(SOURCES) == 14
    report = ingest_landing(con, landing)
    assert report.files == []
    tables = {r[0] for r in rows(con, "SELECT table_name FROM information_schema.tables WHERE table_schema='raw'")}
    assert tables == {s.table.split(".")[1] for s in SOURCES.values()} | {"load_files", "quarantine_rows"}
    cols = [r[0] for r in rows(con, "SELECT column_name FROM information_schema.columns WHERE table_schema='raw' "
                                    "AND table_name='hubspot_deals' ORDER BY ordinal_position")]
    assert "date_entered_closed_won_sales_pipeline" in cols
    assert cols[-4:] == ["extra_columns", "_source_file", "_source_line", "_loaded_at"]
    types = dict(rows(con, "SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema='raw' AND table_name='web_events'"))
    assert types["properties"] == "JSON" and types["payload"] == "JSON" and types["message_id"] == "VARCHAR"
    # Also fine when the landing folder does not exist at all.
    report = ingest_landing(con, landing / "missing")
    assert report.files == [] and "does not exist" in report.notes[0]


def test_schema_evolution_adds_new_known_column(con):
    ensure_raw_schema(con)
    spec = SOURCES["product_usage"]
    from dataclasses import replace

    newer = replace(spec, columns=(*spec.columns, "Churn Risk"))
    ensure_raw_schema(con, {"product_usage": newer})
    cols = [c for c, _ in raw_columns(newer)]
    have = {r[0] for r in rows(con, "SELECT column_name FROM information_schema.columns "
                                    "WHERE table_schema='raw' AND table_name='product_usage'")}
    assert set(cols) <= have and "churn_risk" in have


def test_jsonl_payload_stored_with_zstd_values_unchanged(con, landing):
    """A new warehouse stores the JSON lines' whole lines (``payload``) with zstd, other columns as DuckDB
    chooses; the values read back are the lines. A raw table created before keeps its compression."""
    con.execute("CREATE SCHEMA raw")
    con.execute("CREATE TABLE raw.signals AS SELECT 1 AS signal_id")  # an older table: left as it is
    ensure_raw_schema(con)
    ddl = dict(rows(con, "SELECT table_name, sql FROM duckdb_tables() WHERE schema_name = 'raw'"))
    for name, spec in SOURCES.items():
        zstd = spec.format == "jsonl" and name != "signals"
        assert ddl[name].count("USING COMPRESSION ZSTD") == zstd, ddl[name]
        assert ("payload JSON USING COMPRESSION ZSTD" in ddl[name]) == zstd, ddl[name]
    lines = [json.dumps({"event_id": f"e{i}", "type": "open", "email": f"a{i}@x.io",
                         "timestamp": "2026-03-01T09:30:00Z", "note": "\u00e9 " * (i % 7)}) for i in range(3000)]
    write(landing, "email_events/events.jsonl", "\n".join(lines) + "\n")
    ingest_landing(con, landing, sources=["email_events"], settle_seconds=0)
    con.execute("CHECKPOINT")
    assert rows(con, "SELECT payload::VARCHAR FROM raw.email_events ORDER BY _source_line") == [(x,) for x in lines]
    used = rows(con, "SELECT column_name, compression FROM pragma_storage_info('raw.email_events')"
                     " WHERE segment_type <> 'VALIDITY' GROUP BY ALL")
    assert {c for n, c in used if n == "payload"} == {"ZSTD"}
    assert "ZSTD" not in {c for n, c in used if n != "payload"}


def test_hubspot_export_labels_case_unknown_and_absent_columns(con, landing):
    write(landing, "hubspot_contacts/contacts_0001.csv",
          "\ufeff" + CONTACTS_HEADER
          + "1001,Ana,ana@acme.io,2026-03-01 09:30,2026-03-02T10:00:00Z,blue\n"
          + "1002,Bo,,2026-03-01,,\n")
    messages: list[str] = []
    report = ingest_landing(con, landing, progress=messages.append)
    assert [(r.status, r.rows_loaded, r.rows_accepted) for r in report.files] == [("loaded", 2, 2)]
    assert messages == ["hubspot_contacts/contacts_0001.csv: 2 rows, 0 quarantined (UTF-8 with BOM)"]
    got = rows(con, """SELECT record_id, first_name, email, create_date, job_title, extra_columns,
                              _source_file, _source_line, _loaded_at IS NOT NULL
                       FROM raw.hubspot_contacts ORDER BY _source_line""")
    assert got[0][:5] == ("1001", "Ana", "ana@acme.io", "2026-03-01 09:30", None)
    assert json.loads(got[0][5]) == {"Favourite Color": "blue"}
    assert got[0][6:] == ("hubspot_contacts/contacts_0001.csv", 2, True)
    assert got[1][2] is None and json.loads(got[1][5]) == {"Favourite Color": None}
    assert report.totals["hubspot_contacts"].rows_accepted == 2
    check_load_files(con, report)


def test_idempotent_and_incremental(con, landing):
    body = "Record ID,Email\n1,a@x.io\n2,b@x.io\n"
    write(landing, "hubspot_contacts/a.csv", body)
    first = ingest_landing(con, landing)
    assert [r.status for r in first.files] == ["loaded"]
    # Same content again, also under another name: nothing new.
    write(landing, "hubspot_contacts/copy_of_a.csv", body)
    second = ingest_landing(con, landing)
    assert sorted(r.status for r in second.files) == ["skipped", "skipped"]
    assert any("same content as hubspot_contacts/a.csv" in (r.error or "") for r in second.files)
    assert rows(con, "SELECT count(*) FROM raw.hubspot_contacts") == [(2,)]
    # A new file later: only it loads.
    write(landing, "hubspot_contacts/b.csv", "Record ID,Email\n3,c@x.io\n")
    third = ingest_landing(con, landing)
    assert [(r.path, r.status) for r in third.files if r.status == "loaded"] == [("hubspot_contacts/b.csv", "loaded")]
    assert rows(con, "SELECT count(*) FROM raw.hubspot_contacts") == [(3,)]
    assert rows(con, "SELECT count(*) FROM raw.load_files") == [(2,)]


def test_files_loaded_before_and_unchanged_are_not_read_again(con, landing, monkeypatch):
    import os

    import landing.ingest as ingest

    write(landing, "hubspot_contacts/a.csv", "Record ID,Email\n1,a@x.io\n")
    write(landing, "hubspot_contacts/bad.csv", b"\x00\x01 not a csv at all")
    first = ingest_landing(con, landing)
    assert sorted(r.status for r in first.files) == ["loaded", "rejected"]
    hashed: list[str] = []
    real_sha256 = ingest._sha256
    monkeypatch.setattr(ingest, "_sha256", lambda path: hashed.append(path.name) or real_sha256(path))
    lines: list[str] = []
    # Unchanged (path, size, modification time): skipped without reading, loaded and rejected files alike,
    # with one line for all of them instead of one per file.
    second = ingest_landing(con, landing, progress=lines.append)
    assert [r.status for r in second.files] == ["skipped", "skipped"] and hashed == []
    assert [r.sha256 for r in second.files] == [r.sha256 for r in first.files]
    assert lines == ["2 file(s) loaded before and unchanged: skipped"]
    # Touched (new modification time, same bytes): read and hashed, still skipped.
    path = landing / "hubspot_contacts/a.csv"
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**9))
    third = ingest_landing(con, landing)
    assert hashed == ["a.csv"] and {r.status for r in third.files} == {"skipped"}
    assert {r.status for r in ingest_landing(con, landing).files} == {"skipped"} and hashed == ["a.csv"]
    # Appended to (size and modification time move): its new content loads.
    with path.open("a") as f:
        f.write("2,b@x.io\n")
    fourth = ingest_landing(con, landing)
    assert [(r.path, r.status) for r in fourth.files if r.status == "loaded"] == [("hubspot_contacts/a.csv", "loaded")]
    assert rows(con, "SELECT count(*) FROM raw.hubspot_contacts") == [(3,)]
    check_load_files(con, fourth)


def test_a_warehouse_without_modification_times_hashes_its_files_once_more(con, landing, monkeypatch):
    import landing.ingest as ingest

    write(landing, "hubspot_contacts/a.csv", "Record ID,Email\n1,a@x.io\n")
    ingest_landing(con, landing)
    # As a warehouse loaded before modification times were recorded.
    con.execute("ALTER TABLE raw.load_files DROP COLUMN modified_ns")
    hashed: list[str] = []
    real_sha256 = ingest._sha256
    monkeypatch.setattr(ingest, "_sha256", lambda path: hashed.append(path.name) or real_sha256(path))
    assert [r.status for r in ingest_landing(con, landing).files] == ["skipped"] and hashed == ["a.csv"]
    assert [r.status for r in ingest_landing(con, landing).files] == ["skipped"] and hashed == ["a.csv"]
    assert rows(con, "SELECT count(*) FROM raw.hubspot_contacts") == [(1,)]


def test_quarantine_accounting_on_broken_csv(con, landing):
    content = (
        "Record ID,First Name,Email,Create Date,Job Title\n"          # line 1
        "1,Ana,ana@acme.io,2026-03-01,\"Head of\nSales\"\n"            # lines 2-3 (quoted newline)
        "2,Bo,bo@acme.io\n"                                            # 4 too few fields
        "abc,Cy,cy@acme.io,2026-03-01,CTO\n"                           # 5 bad id
        ",Di,di@acme.io,2026-03-01,CEO\n"                              # 6 missing id
        "\n"                                                           # 7 blank, ignored
        "5,Ed,ed@acme.io,31/02/2024,\"VP\n\"\n"                        # 8-9 bad timestamp
        "6,Fi,fi@acme.io,2026-03-01 10:00,\"quoted\nvalue\",extra\n"   # 10-11 too many fields
        "7,Gu,gu@acme.io,,Eng\n"                                       # 12 ok, empty date allowed
        "8,Ha,\"ha@acme.io,2026-03-01,never closed\n"                  # 13 unterminated at EOF
    )
    write(landing, "hubspot_contacts/broken.csv", content)
    report = ingest_landing(con, landing)
    (r,) = report.files
    assert (r.status, r.rows_loaded, r.rows_accepted, r.rows_quarantined) == ("loaded", 8, 2, 6)
    good = rows(con, "SELECT record_id, job_title, _source_line FROM raw.hubspot_contacts ORDER BY 1")
    assert good == [("1", "Head of\nSales", 2), ("7", "Eng", 12)]
    q = rows(con, "SELECT line, reason, raw_text FROM raw.quarantine_rows ORDER BY line")
    reasons = {line: reason for line, reason, _ in q}
    assert reasons == {
        4: "row has 3 fields, header has 5",
        5: "Record ID 'abc' is not a whole number",
        6: "missing Record ID",
        8: "Create Date '31/02/2024' is not a date/time",
        10: "row has 6 fields, header has 5",
        13: "unterminated quoted field at end of file (file truncated?)",
    }
    raw_text = {line: text for line, _, text in q}
    assert raw_text[8] == '5,Ed,ed@acme.io,31/02/2024,"VP\n"\n'
    assert raw_text[13].startswith("8,Ha,")
    check_load_files(con, report)


def test_rejected_files_do_not_stop_the_others(con, landing):
    write(landing, "hubspot_contacts/a_latin1.csv", "Record ID,First Name\n1,José\n2,Zoë\n".encode("latin-1"))
    write(landing, "hubspot_contacts/b_semicolon.csv", "Record ID;First Name\n1;Ana\n")
    write(landing, "hubspot_contacts/c_no_id.csv", "First Name,Email\nAna,a@x.io\nBo,b@x.io\n")
    write(landing, "hubspot_contacts/d_empty.csv", "")
    write(landing, "hubspot_contacts/e_good.csv", "Record ID,First Name\n10,Ok\n")
    write(landing, "hubspot_contacts/notes.txt", "not data")
    write(landing, "hubspot_contacts/.DS_Store", b"\x00\x01")
    report = ingest_landing(con, landing)
    by_name = {Path(r.path).name: r for r in report.files}
    assert set(by_name) == {"a_latin1.csv", "b_semicolon.csv", "c_no_id.csv", "d_empty.csv", "e_good.csv"}
    # Rows that are not UTF-8 are quarantined one by one (here all of them); the file itself loads.
    latin = by_name["a_latin1.csv"]
    assert latin.status == "loaded"
    assert (latin.rows_loaded, latin.rows_accepted, latin.rows_quarantined) == (2, 0, 2)
    semi = by_name["b_semicolon.csv"]
    assert semi.status == "loaded" and (semi.rows_accepted, semi.rows_quarantined) == (1, 0)
    no_id = by_name["c_no_id.csv"]
    assert no_id.status == "rejected" and "missing required column 'Record ID'" in no_id.error
    assert "c_no_id.csv" in no_id.error and no_id.rows_quarantined == 2
    empty = by_name["d_empty.csv"]
    assert empty.status == "rejected" and "d_empty.csv is empty" in empty.error and empty.rows_loaded == 0
    assert by_name["e_good.csv"].status == "loaded"
    assert rows(con, "SELECT record_id, first_name FROM raw.hubspot_contacts ORDER BY 1") == [
        ("1", "Ana"), ("10", "Ok")]
    assert any("notes.txt" in n and "ignored" in n for n in report.notes)
    assert any(".DS_Store" in n for n in report.notes)
    # The refresh summary lists the same files, from the folder alone (no load needed).
    write(landing, "mystery/data.csv", "a\n1\n")
    write(landing, "stray.csv", "a\n1\n")
    from landing.ingest import ignored_files

    ignored = ignored_files(landing)
    assert [n for n in ignored if "notes.txt" in n or ".DS_Store" in n] == [
        n for n in report.notes if "notes.txt" in n or ".DS_Store" in n]
    assert "mystery/: not a known source folder, ignored" in ignored
    assert "stray.csv: file outside any source folder, ignored" in ignored
    assert rows(con, "SELECT status, count(*) FROM raw.load_files GROUP BY 1 ORDER BY 1") == [
        ("loaded", 3), ("rejected", 2)]
    q = rows(con, "SELECT line, raw_text FROM raw.quarantine_rows WHERE path LIKE '%latin1%' ORDER BY line")
    assert q == [(2, "1,Jos\\xe9\n"), (3, "2,Zo\\xeb\n")]
    check_load_files(con, report)
    # A rejected file is not retried on the next run (same content).
    again = ingest_landing(con, landing)
    assert {r.status for r in again.files} == {"skipped"}


def test_jsonl_broken_lines_and_missing_keys(con, landing):
    good = {"type": "page", "messageId": "m1", "anonymousId": "a1", "userId": "ana@acme.io", "name": "Pricing",
            "properties": {"path": "/pricing"}, "context": {"ip": "1.2.3.4"}, "timestamp": "2026-03-01T09:30:00Z",
            "sentAt": "2026-03-01T09:30:01Z"}
    lines = [
        json.dumps(good),                                                     # 1
        "",                                                                   # 2 blank
        '{"type": "page", "messageId": "m2", ',                               # 3 invalid
        "[1, 2]",                                                             # 4 not an object
        json.dumps({"type": "track", "timestamp": "2026-03-01T09:30:00Z"}),   # 5 missing messageId
        json.dumps({"type": "track", "messageId": "m3", "timestamp": "yesterday"}),  # 6 bad timestamp
        json.dumps({"type": "identify", "messageId": "m4", "traits": {"email": "x@y.io"},
                    "timestamp": "2026-03-01 09:30", "userId": 42}),          # 7 ok
        '{"type": "track", "messageId": "m5", "timestamp": "2026-03-01", "x": "\\ud800"}',  # 8 lone surrogate
    ]
    write(landing, "web_events/2026-03-01.jsonl", "\n".join(lines) + "\n")
    write(landing, "signals/s.ndjson", json.dumps({"signal_id": "s-1", "type": "hiring", "domain": "acme.io",
                                                   "observed_at": "2026-03-01T00:00:00Z", "magnitude": 4}) + "\n")
    report = ingest_landing(con, landing)
    web = next(r for r in report.files if r.source == "web_events")
    assert (web.status, web.rows_loaded, web.rows_accepted, web.rows_quarantined) == ("loaded", 7, 2, 5)
    got = rows(con, """SELECT message_id, anonymous_id, user_id, properties->>'$.path', traits->>'$.email',
                              payload->>'$.sentAt', _source_line FROM raw.web_events ORDER BY _source_line""")
    assert got == [("m1", "a1", "ana@acme.io", "/pricing", None, "2026-03-01T09:30:01Z", 1),
                   ("m4", None, "42", None, "x@y.io", None, 7)]
    reasons = dict(rows(con, "SELECT line, reason FROM raw.quarantine_rows ORDER BY line"))
    assert reasons[3].startswith("invalid JSON")
    assert reasons[4] == "line is not a JSON object (found an array)"
    assert reasons[5] == "missing messageId"
    assert reasons[6] == "timestamp 'yesterday' is not a date/time"
    assert "surrogate" in reasons[8]
    assert rows(con, "SELECT signal_id, magnitude FROM raw.signals") == [("s-1", "4")]
    check_load_files(con, report)


def test_load_file_and_stage_file(con, landing, tmp_path):
    outside = tmp_path / "export.csv"
    outside.write_text("Ticket ID,Ticket name,Create date\n7,Broken login,2026-03-01\n")
    staged = stage_file(outside, landing, "hubspot_tickets")
    assert staged == landing / "hubspot_tickets" / "export.csv"
    assert stage_file(outside, landing, "hubspot_tickets") == staged  # identical content: no second copy
    outside.write_text("Ticket ID,Ticket name,Create date\n8,Other,2026-03-02\n")
    staged2 = stage_file(outside, landing, "hubspot_tickets")
    assert staged2.name == "export_1.csv"
    r1 = load_file(con, "hubspot_tickets", staged, landing)
    assert (r1.path, r1.status, r1.rows_accepted) == ("hubspot_tickets/export.csv", "loaded", 1)
    assert load_file(con, "hubspot_tickets", staged, landing).status == "skipped"
    report = ingest_landing(con, landing)
    assert [(r.path, r.status) for r in report.files] == [
        ("hubspot_tickets/export.csv", "skipped"), ("hubspot_tickets/export_1.csv", "loaded")]
    assert rows(con, "SELECT ticket_id FROM raw.hubspot_tickets ORDER BY 1") == [("7",), ("8",)]
    with pytest.raises(ValueError, match="unknown source"):
        stage_file(outside, landing, "nope")


def test_jsonl_timestamp_check_in_sql_matches_python(con, landing):
    from landing.contract import is_timestamp

    values = ["2026-03-01", "2026-02-30", "2024-02-29T23:59:59Z", "0000-01-01", "2026-03-01T24:00:00Z",
              "2026-03-01T09:30:00.123456+01:00", "2026-03-01T09:30:00.1234567Z", "2026-03-01T09:30+0100",
              " 2026-03-01", "2026-3-1", "2026-03-01T09:30:00z", "2026-03-01 09:30", 20260301, "", None]
    lines = [json.dumps({"signal_id": f"s{i}", "type": "funding", "domain": "a.io", "observed_at": v})
             for i, v in enumerate(values)]
    write(landing, "signals/ts.jsonl", "\n".join(lines))  # no trailing newline on purpose
    report = ingest_landing(con, landing)
    accepted = {r[0] for r in rows(con, "SELECT signal_id FROM raw.signals")}
    expected = {f"s{i}" for i, v in enumerate(values) if is_timestamp(v)}
    assert accepted == expected and len(expected) == 5
    reasons = dict(rows(con, "SELECT line, reason FROM raw.quarantine_rows"))
    assert reasons[2] == "observed_at '2026-02-30' is not a date/time"
    assert reasons[15] == "missing observed_at" and reasons[14] == "missing observed_at"
    check_load_files(con, report)


def test_crlf_line_endings_and_quoted_newlines_keep_line_numbers(con, landing):
    content = (
        "\ufeffSubmission ID,Submitted At,Lead Source,Message\r\n"
        "s-1,2026-03-01 09:30,form,\"line one\r\nline two\"\r\n"
        "s-2,2026-03-01 09:31,chat,hi\r\n"
        ",2026-03-01 09:32,chat,no id\r\n"
    )
    write(landing, "leads/leads.csv", content)
    report = ingest_landing(con, landing)
    assert rows(con, "SELECT submission_id, message, _source_line FROM raw.leads ORDER BY 1") == [
        ("s-1", "line one\r\nline two", 2), ("s-2", "hi", 4)]
    assert rows(con, "SELECT line, reason FROM raw.quarantine_rows") == [(5, "missing Submission ID")]
    check_load_files(con, report)


def test_values_outside_a_closed_vocabulary_are_quarantined(con, landing):
    events = [
        {"event_id": "e1", "type": "click", "email": "a@b.io", "timestamp": "2026-03-01T09:30:00Z"},
        {"event_id": "e2", "type": "clicked", "email": "a@b.io", "timestamp": "2026-03-01T09:31:00Z"},
        {"event_id": "e3", "type": "bounce", "bounce_type": "medium", "email": "a@b.io",
         "timestamp": "2026-03-01T09:32:00Z"},
    ]
    write(landing, "email_events/e.jsonl", "\n".join(json.dumps(e) for e in events) + "\n")
    write(landing, "leads/l.csv", "Submission ID,Submitted At,Lead Source\nS1,2026-03-01,form\nS2,2026-03-01,fax\n")
    report = ingest_landing(con, landing)
    assert rows(con, "SELECT event_id FROM raw.email_events") == [("e1",)]
    assert rows(con, "SELECT submission_id FROM raw.leads") == [("S1",)]
    reasons = sorted(r[0] for r in rows(con, "SELECT reason FROM raw.quarantine_rows"))
    assert reasons == [
        "Lead Source 'fax' is not one of form, chat, webinar, demo_request, list_upload",
        "bounce_type 'medium' is not one of hard, soft",
        "type 'clicked' is not one of sent, delivered, open, click, reply, bounce, unsubscribe, spam_report",
    ]
    check_load_files(con, report)


# ---------------------------------------------------------------------------------------------------------
# Exports as people save them: delimiters, BOM, CRLF, a few rows in another encoding
# ---------------------------------------------------------------------------------------------------------

EXPORT_ROWS = [
    ["Record ID", "First Name", "Last Name", "Email", "City", "Postal Code", "Create Date"],
    ["1", "Jürgen", "Müller", "jm@beispiel.de", "Köln", "50667", "2026-11-20 10:00"],
    ["2", "Ana", "Lopez", "ana@example.io", "São Paulo", "01310-100", "2026-11-20 10:05"],
    ["3", "Bo", "Chen, Jr.", "bo@example.io", "Zürich; Kreis 1", "8001", "2026-11-20 10:10"],
    ["4", "Élodie", "Martin", "", "Lyon", "69001", "2026-11-21 08:00"],
]


def _export(rows_: list[list[str]], delimiter: str, bom: bool, newline: str) -> bytes:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator=newline).writerows(rows_)
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


RAW_COLUMNS = "record_id, first_name, last_name, email, city, postal_code, create_date, extra_columns"


@pytest.mark.parametrize(
    ("delimiter", "bom", "newline", "name"),
    [(";", True, "\r\n", "semicolon"), ("\t", False, "\n", "tab"), ("|", True, "\n", "pipe")],
    ids=["excel-europe", "tab", "pipe"],
)
def test_an_export_saved_another_way_loads_the_same_rows_as_its_comma_twin(
    tmp_path, delimiter, bom, newline, name
):
    loaded = {}
    for label, content in (
        ("comma", _export(EXPORT_ROWS, ",", False, "\n")),
        (name, _export(EXPORT_ROWS, delimiter, bom, newline)),
    ):
        landing = tmp_path / label / "landing"
        write(landing, "hubspot_contacts/export.csv", content)
        con = duckdb.connect(str(tmp_path / label / "wh.duckdb"))
        report = ingest_landing(con, landing)
        assert [(r.status, r.rows_accepted, r.rows_quarantined) for r in report.files] == [("loaded", 4, 0)]
        loaded[label] = rows(con, f"SELECT {RAW_COLUMNS} FROM raw.hubspot_contacts ORDER BY record_id")
        loaded[label + " dialect"] = rows(con, "SELECT delimiter, encoding, line_ending FROM raw.load_files")
        con.close()
    assert loaded[name] == loaded["comma"]
    assert loaded["comma"][2][4] == "Zürich; Kreis 1" and loaded["comma"][1][5] == "01310-100"
    assert loaded["comma dialect"] == [("comma", "utf-8", "lf")]
    assert loaded[name + " dialect"] == [
        (name, "utf-8 with BOM" if bom else "utf-8", "crlf" if newline == "\r\n" else "lf")]


def test_a_few_rows_in_another_encoding_are_quarantined_and_every_other_row_loads(con, landing):
    lines = [_export(EXPORT_ROWS[:1], ",", False, "\r\n")]
    bad_ids = {17, 250, 251, 998}
    for i in range(1, 1001):
        name = "Müller" if i % 3 else "Nguyễn"
        encoding = "cp1252" if i in bad_ids else "utf-8"
        if i == 250:
            name = "Nguyen"  # ASCII name, but a cp1252 city below
        city = "Düsseldorf" if i in (250, 251) else "Berlin"
        lines.append(f"{i},Ana,{name},a{i}@example.io,{city},10115,2026-11-20 10:00\r\n".encode(encoding))
    # A quoted field spanning two lines whose second line holds the bad byte: the whole record goes.
    lines.append('1001,Bo,"Chen\r\nB\u00e9la",b@example.io,Berlin,10115,2026-11-20 10:00\r\n'.encode("cp1252"))
    write(landing, "hubspot_contacts/excel_ansi_rows.csv", b"".join(lines))
    report = ingest_landing(con, landing)
    (result,) = report.files
    assert (result.status, result.rows_loaded, result.rows_accepted, result.rows_quarantined) == (
        "loaded", 1001, 996, 5)
    q = rows(con, "SELECT line, reason, raw_text FROM raw.quarantine_rows ORDER BY line")
    assert [line for line, _, _ in q] == [18, 251, 252, 999, 1002]
    assert all(reason.startswith("not UTF-8: byte 0x") for _, reason, _ in q)
    assert "0xfc" in q[0][1] and "M\\xfcller" in q[0][2]  # the raw bytes are kept, escaped
    assert q[-1][2].startswith("1001,Bo,") and "B\\xe9la" in q[-1][2]
    loaded_ids = {int(r[0]) for r in rows(con, "SELECT record_id FROM raw.hubspot_contacts")}
    assert loaded_ids == set(range(1, 1001)) - bad_ids
    assert rows(con, "SELECT count(*) FROM raw.hubspot_contacts WHERE last_name = 'Nguyễn'") == [(333,)]
    check_load_files(con, report)


def test_a_json_line_in_another_encoding_is_quarantined(con, landing):
    good = {"type": "track", "messageId": "m1", "anonymousId": "a1", "event": "Signed Up",
            "timestamp": "2026-03-01T09:30:00Z"}
    bad = dict(good, messageId="m2", properties={"plan": "Grüße"})
    content = (json.dumps(good) + "\n").encode() + (json.dumps(bad, ensure_ascii=False) + "\n").encode("latin-1")
    write(landing, "product_events/events.jsonl", content)
    report = ingest_landing(con, landing, sources=["product_events"])
    (result,) = report.files
    assert (result.rows_accepted, result.rows_quarantined) == (1, 1)
    assert rows(con, "SELECT line, left(reason, 15) FROM raw.quarantine_rows") == [(2, "not UTF-8: byte")]
    check_load_files(con, report)


# ---------------------------------------------------------------------------------------------------------
# Which source a file is: read from its header, refused when it cannot be told or contradicts --source
# ---------------------------------------------------------------------------------------------------------


def test_a_files_source_is_read_from_its_header(tmp_path):
    from landing.ingest import guess_source

    def guess(name: str, text: str):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return guess_source(path)

    contacts = guess("export.csv", "Record ID;First Name;Last Name;Email;City\n1;Ana;Lopez;a@x.io;Lyon\n")
    assert contacts.source == "hubspot_contacts" and "First Name" in contacts.evidence
    deals = guess("deals.csv", "Record ID,Deal Name,Deal Stage,Amount,Create Date\n7,Big,won,10,2026-01-01\n")
    assert deals.source == "hubspot_deals" and deals.contradicts("hubspot_contacts")
    assert not deals.contradicts("hubspot_deals")
    companies = guess("c.csv", "Record ID,Company name,Company Domain Name,Industry\n1,Acme,acme.io,Software\n")
    assert companies.source == "hubspot_companies"
    bare = guess("ids.csv", "Record ID,Create Date\n1,2026-01-01\n")
    assert bare.source is None and bare.problem == "its header fits several sources equally"
    assert {"hubspot_contacts", "hubspot_deals"} <= set(bare.candidates)
    unknown = guess("x.csv", "Foo,Bar\n1,2\n")
    assert unknown.source is None and "required columns of no source" in unknown.problem
    event = {"event_id": "e1", "type": "open", "email": "a@x.io", "timestamp": "2026-03-01T09:30:00Z"}
    assert guess("events.jsonl", json.dumps(event) + "\n").source == "email_events"


def test_ingest_refuses_a_file_it_cannot_place_and_says_which_source_it_read(tmp_path, monkeypatch, capsys):
    from orchestration.cli import main

    monkeypatch.setenv("ACTIONHOUSE_DATA_DIR", str(tmp_path / "data"))
    deals = tmp_path / "deals.csv"
    deals.write_text("Record ID,Deal Name,Deal Stage,Amount\n7,Big,closedwon,10\n", encoding="utf-8")
    assert main(["ingest", str(deals), "--source", "hubspot_contacts", "--no-refresh"]) == 2
    assert "looks like hubspot_deals" in capsys.readouterr().out
    assert not (tmp_path / "data" / "landing" / "hubspot_contacts").exists()
    assert main(["ingest", str(deals), "--source", "events", "--no-refresh"]) == 2
    assert "Unknown source 'events'" in capsys.readouterr().out
    bare = tmp_path / "ids.csv"
    bare.write_text("Record ID,Create Date\n1,2026-01-01\n", encoding="utf-8")
    assert main(["ingest", str(bare), "--no-refresh"]) == 2
    assert "Cannot tell which source ids.csv is" in capsys.readouterr().out
    assert main(["ingest", str(deals), "--no-refresh"]) == 0
    out = capsys.readouterr().out
    assert "Reading deals.csv as hubspot_deals (its header has Deal Name, Deal Stage, Amount)" in out
    assert (tmp_path / "data" / "landing" / "hubspot_deals" / "deals.csv").exists()
    assert main(["ingest", str(deals), "--no-refresh"]) == 0
    assert "already in the landing folder" in capsys.readouterr().out


def test_json_events_with_an_object_for_a_value_or_nan_are_quarantined(con, landing):
    good = {"event_id": "e1", "type": "open", "email": "a@x.io", "timestamp": "2026-03-01T09:30:00Z"}
    lines = [
        json.dumps(good),
        json.dumps(dict(good, event_id={"id": "e2"})),
        json.dumps(dict(good, event_id="e3", email=["a@x.io", "b@x.io"])),
        json.dumps(dict(good, event_id="e4")).replace('"open"', '"open", "contact_record_id": NaN'),
        json.dumps(dict(good, event_id="e5", contact_record_id=15)),
    ]
    write(landing, "email_events/events.jsonl", "\n".join(lines) + "\n")
    report = ingest_landing(con, landing, sources=["email_events"])
    (result,) = report.files
    assert (result.rows_accepted, result.rows_quarantined) == (2, 3)
    reasons = dict(rows(con, "SELECT line, reason FROM raw.quarantine_rows ORDER BY line"))
    assert reasons[2] == "event_id is an object, expected a single value"
    assert reasons[3] == "email is an array, expected a single value"
    assert reasons[4] == "contact_record_id is nan, which is not a JSON number"
    check_load_files(con, report)


def test_events_dated_in_the_future_are_quarantined(con, landing):
    from datetime import UTC, datetime, timedelta

    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    base = {"type": "open", "email": "a@x.io"}
    lines = [
        dict(base, event_id="e1", timestamp="2026-03-01T09:30:00Z"),
        dict(base, event_id="e2", timestamp=tomorrow),  # a clock a little ahead (or a time zone): kept
        *[dict(base, event_id=f"f{i}", timestamp=f"2099-01-0{i}T00:00:00Z") for i in range(1, 4)],
    ]
    write(landing, "email_events/events.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n")
    report = ingest_landing(con, landing, sources=["email_events"])
    (result,) = report.files
    assert (result.rows_accepted, result.rows_quarantined) == (2, 3)
    reasons = [r for (r,) in rows(con, "SELECT reason FROM raw.quarantine_rows ORDER BY line")]
    assert reasons[0] == (
        "timestamp '2099-01-01T00:00:00Z' is in the future (more than 2 days after the day it was loaded)"
    )
    assert rows(con, "SELECT event_id FROM raw.email_events ORDER BY 1") == [("e1",), ("e2",)]
    check_load_files(con, report)
