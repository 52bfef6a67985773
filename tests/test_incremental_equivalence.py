"""An hourly (incremental) build ends in the same warehouse as one build from scratch over the same landing files.

Warehouse A is built the way the hourly schedule builds it: the sample world's first export, then two more hours
(changed and new contacts, new events, a file of late events dated days before they arrive, new versions of vendor
payloads with a field gone, product usage restating earlier account-days, a contacts file holding the first export's
versions of contacts changed since: an old version arriving late, changed and new deals and the first export's
versions of those deals again an hour later, changed and new meetings and activities and their first versions again
an hour later, and a companies file moving records between accounts), each loaded and built incrementally. Warehouse
B loads every one of those files at once and builds from scratch. Every staging, intermediate and mart table must
then hold the same rows, with these exceptions, each by design:

- bookkeeping of *when* a row was loaded or processed (`_loaded_at`, `_staged_at`, `_written_at`, `changed_at`,
  `resolved_through`, `scored_through`, `flagged_through`, `estimated_at`, `parameters_version`, `featured_at`,
  `changes_through`, `features_through`) and of what a stored matching-features row was before (`previous_block_keys`,
  `previous_featured_at`): A loaded and built its rows at different times;
- history tables that keep one entry per run (`fct_account_risk_history`, the match parameters' estimations):
  B's rows are A's latest; the outcome rows derived from them (`flagged_accounts_renewed`: an account's first
  flag is its earliest kept verdict) are left out;
- decimals are compared to 9 places (sums of decayed weights add up in no fixed order).

The match parameters are re-estimated on every growth of the contact records here
(`er_reestimate_after_growth: 0`); the hourly default keeps them until the records grew by half, so that hours
are scored alike (docs/entity-resolution.md).
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import datetime, timedelta
from itertools import islice
from pathlib import Path

import duckdb
import pytest
from dbt_runner import run_dbt

from landing.ingest import ingest_landing
from sample_world import generate_next_hours, generate_world

BUILD = [
    "build",
    "--exclude",
    "resource_type:test",
    "resource_type:unit_test",
    "--vars",
    "{er_reestimate_after_growth: 0}",
]
RUN_TIME_COLUMNS = {
    "_loaded_at",
    # The event staging models and product usage: the start of the run that wrote the row (their tests check the
    # latest run's rows).
    "_staged_at",
    # The field candidates and golden fields: when the run that wrote the row started (their key tests check the
    # latest run's rows).
    "_written_at",
    "changed_at",
    "resolved_through",
    "scored_through",
    "flagged_through",
    "estimated_at",
    "parameters_version",
    # The stored matching features: when a row was written, and what it was before (the pair model's delta).
    "featured_at",
    "previous_featured_at",
    "previous_block_keys",
    "changes_through",
    "features_through",
    # fct_outcome_events: the newest email event the run had staged (which recipients the next run computes again).
    "email_events_through",
}
# Tables with one entry per run: compared as B against the rows of A's last run.
PER_RUN_HISTORY = {
    "intermediate.int_entities__contact_match_parameters": "parameters_version",
    "marts.fct_account_risk_history": "as_of",
}
# Rows derived from a per-run history, left out of the comparison: an account's first at-risk flag is the earliest
# verdict in fct_account_risk_history, which A kept from each of its runs and B, built once, cannot have.
ROWS_FROM_RUN_HISTORY = {
    "marts.fct_outcome_events": "metric <> 'flagged_accounts_renewed'",
    "marts.fct_workflow_outcomes": "metric <> 'flagged_accounts_renewed'",
}


def _load_and_build(warehouse: Path, landing: Path, work_dir: Path, *select: str) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        report = ingest_landing(con, landing, settle_seconds=0)
    finally:
        con.close()
    assert not report.failed and not report.rejected, report.summary()
    result = run_dbt(warehouse, work_dir, *BUILD, *(("--select", *select) if select else ()))
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]


def _first_export_records(landing: Path, source: str) -> list[tuple[int, dict]]:
    """(line index, record) of the first JSON-lines export of `source`; the sample world's broken lines are left out
    (they are quarantined; not what these tests are about)."""
    first = sorted((landing / source).glob("*_0000.jsonl"))[0]
    records = []
    for number, line in enumerate(first.read_text().splitlines()):
        try:
            records.append((number, json.loads(line)))
        except ValueError:
            continue
    return records


def _late_events(landing: Path) -> None:
    """Email events of the first export sent again under new ids, arriving now with their old (days ago) times."""
    late = [
        json.dumps({**event, "event_id": f"late-{number}"})
        for number, event in _first_export_records(landing, "email_events")
        if number < 200
    ]
    (landing / "email_events" / "email_events_late.jsonl").write_text("\n".join(late) + "\n")


def _readdressed_events(landing: Path) -> int:
    """Email events of the first export sent again under their own ids with another recipient's address (the latest
    load wins): the recipients they leave lose units (a day of sends, an enrollment) although no event of theirs was
    staged since, which only the earlier versions in the raw table tell (fct_outcome_events' per-recipient units).
    Returns how many events."""
    moved = []
    for _, event in _first_export_records(landing, "email_events"):
        if event.get("type") in ("sent", "spam_report", "unsubscribe") and event.get("email"):
            moved.append(json.dumps({**event, "email": f"readdressed-{len(moved)}@example.com"}))
        if len(moved) == 60:
            break
    (landing / "email_events" / "email_events_readdressed.jsonl").write_text("\n".join(moved) + "\n")
    return len(moved)


def _relabelled_replies(landing: Path) -> tuple[int, int]:
    """Hand labels arriving now for replies of the first export whose recipients have no email event in this hour's
    files (nor among the late ones): the first 12 unlabelled replies labelled positive, the first 6 labelled ones
    relabelled as objections. Their enrollments' positive-reply units change although none of their recipients'
    events do (fct_outcome_events looks such classes up again). Returns how many of each."""
    events_now = [
        json.loads(line)
        for path in sorted((landing / "email_events").glob("*.jsonl"))
        if not path.name.endswith("_0000.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    busy = {str(event.get("email") or "").strip().lower() for event in events_now}
    labels = []
    for path in sorted((landing / "email_reply_labels").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                labels.append(json.loads(line))
            except ValueError:
                continue
    labelled = {label.get("event_id") for label in labels}
    stamps = []
    for label in labels:
        try:
            stamps.append(datetime.strptime(label["labelled_at"], "%Y-%m-%dT%H:%M:%SZ"))
        except (KeyError, TypeError, ValueError):
            continue
    later = (max(stamps) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    positive, objection = [], []
    for _, event in _first_export_records(landing, "email_events"):
        if event.get("type") != "reply" or str(event.get("email") or "").strip().lower() in busy:
            continue
        new_label = {
            "event_id": event["event_id"],
            "message_id": event.get("message_id"),
            "labelled_by": "Test SDR",
            "labelled_at": later,
        }
        if event["event_id"] in labelled and len(objection) < 6:
            objection.append({**new_label, "label": "objection"})
        elif event["event_id"] not in labelled and len(positive) < 12:
            positive.append({**new_label, "label": "positive"})
    rows = [json.dumps(label) for label in positive + objection]
    (landing / "email_reply_labels" / "reply_labels_relabelled.jsonl").write_text("\n".join(rows) + "\n")
    return len(positive), len(objection)


def _changed_enrichment(landing: Path) -> int:
    """New versions of the first 40 vendor payloads: one field gone, the first made near-certain (it may now win
    survivorship); staging must replace every field row of those payloads. Returns how many payloads."""
    changed = []
    for _, payload in _first_export_records(landing, "enrichment"):
        fields = payload.get("fields")
        if not isinstance(fields, dict) or len(fields) < 2:
            continue
        names = list(fields)
        kept = {name: fields[name] for name in names[:-1]}
        if isinstance(kept[names[0]], dict):
            kept[names[0]] = {**kept[names[0]], "confidence": 0.99}
        changed.append(json.dumps({**payload, "fields": kept}))
        if len(changed) == 40:
            break
    (landing / "enrichment" / "enrichment_changed.jsonl").write_text("\n".join(changed) + "\n")
    return len(changed)


def _restated_usage(landing: Path) -> int:
    """The product's usage export restating its first 30 account-days (new figures: the latest load wins) and
    adding a day after each of them (staging keeps one row per account and day). Returns how many rows."""
    first = sorted((landing / "product_usage").glob("*_0000.csv"))[0]
    with first.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = list(islice(reader, 30))
    column = {name: index for index, name in enumerate(header)}
    restated = []
    for row in rows:
        try:
            day = datetime.strptime(row[column["Usage Date"]], "%Y-%m-%d")
        except ValueError:
            continue  # the sample world's broken rows are not what this test is about
        again = list(row)
        again[column["Active Users"]] = "999"
        later = list(row)
        later[column["Usage Date"]] = (day + timedelta(days=400)).strftime("%Y-%m-%d")
        restated += [again, later]
    with (landing / "product_usage" / "usage_restated.csv").open("w", newline="") as out:
        csv.writer(out).writerows([header, *restated])
    return len(restated)


def _stale_contact_versions(landing: Path) -> int:
    """The first export's rows of the contacts the first next-hour file changed, exported again now (a re-sent old
    file): staging must keep the newer versions. Returns how many rows."""
    folder = landing / "hubspot_contacts"
    changed = {row["Record ID"] for row in csv.DictReader((folder / "contacts_h0001.csv").open(newline=""))}
    with (folder / "contacts_0000.csv").open(newline="") as first:
        reader = csv.reader(first)
        header = next(reader)
        id_column = header.index("Record ID")
        stale = [row for row in reader if len(row) == len(header) and row[id_column] in changed]
    with (folder / "contacts_stale.csv").open("w", newline="") as out:
        csv.writer(out).writerows([header, *stale])
    return len(stale)


def _changed_deals(landing: Path) -> int:
    """A deals file with a new version of the first 5 deals (another stage and amount, modified a minute after the
    newest deal) and a new deal: staging keeps the new versions and adds the new deal. Returns how many rows."""
    header, versions = _export_versions(landing / "hubspot_deals")
    column = {name: index for index, name in enumerate(header)}
    modified = column["Last Modified Date"]
    rows = {record: max(rows, key=lambda r: r[modified]) for record, rows in versions.items() if record.isdigit()}
    stamps = [datetime.strptime(row[modified], "%Y-%m-%d %H:%M") for row in rows.values() if row[modified]]
    later = (max(stamps) + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M")
    changed = []
    for record in sorted(rows, key=int)[:5]:
        row = list(rows[record])
        row[column["Deal Stage"]], row[column["Amount"]], row[modified] = "Contract Sent", "4321", later
        changed.append(row)
    new_deal = list(changed[0])
    new_deal[column["Record ID"]], new_deal[column["Deal Name"]] = str(max(int(r) for r in rows) + 1), "Fresh Deal"
    with (landing / "hubspot_deals" / "deals_changed.csv").open("w", newline="") as out:
        csv.writer(out).writerows([header, *changed, new_deal])
    return len(changed) + 1


def _stale_deal_versions(landing: Path) -> int:
    """The first export's rows of the deals changed an hour before, exported again now (a re-sent old file): staging
    must keep the newer versions. Returns how many rows."""
    folder = landing / "hubspot_deals"
    changed = {row["Record ID"] for row in csv.DictReader((folder / "deals_changed.csv").open(newline=""))}
    with (folder / "deals_0000.csv").open(newline="") as first:
        reader = csv.reader(first)
        header = next(reader)
        stale = [row for row in reader if len(row) == len(header) and row[0] in changed]
    with (folder / "deals_stale.csv").open("w", newline="") as out:
        csv.writer(out).writerows([header, *stale])
    return len(stale)


def _reexported_records(landing: Path, folder: str, prefix: str, column: str, value: str) -> int:
    """A `folder` export file `<prefix>_changed.csv` with the first export's rows of its first 5 records, `column` set
    to `value`, and a new record (the latest load wins: staging replaces the 5 and adds the new one). Returns how
    many rows."""
    first = sorted((landing / folder).glob("*_0000.csv"))[0]
    with first.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [row for row in reader if len(row) == len(header) and row[0].isdigit()]
    changed = [list(row) for row in rows[:5]]
    for row in changed:
        row[header.index(column)] = value
    new_record = [str(max(int(row[0]) for row in rows) + 1), *changed[0][1:]]
    with (landing / folder / f"{prefix}_changed.csv").open("w", newline="") as out:
        csv.writer(out).writerows([header, *changed, new_record])
    return len(changed) + 1


def _reexported_first_versions(landing: Path, folder: str, prefix: str) -> int:
    """The first export's rows of the records `_reexported_records` changed an hour before, exported again now as
    `<prefix>_stale.csv` (the latest load wins: they replace the changed versions). Returns how many rows."""
    changed = {row[0] for row in csv.reader((landing / folder / f"{prefix}_changed.csv").open(newline=""))}
    first = sorted((landing / folder).glob("*_0000.csv"))[0]
    with first.open(newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        again = [row for row in reader if len(row) == len(header) and row[0] in changed]
    with (landing / folder / f"{prefix}_stale.csv").open("w", newline="") as out:
        csv.writer(out).writerows([header, *again])
    return len(again)


def _export_versions(folder: Path) -> tuple[list[str], dict[str, list[list[str]]]]:
    """The header of a HubSpot export folder's CSV files and every well-formed row of each record id in them."""
    versions: dict[str, list[list[str]]] = {}
    for path in sorted(folder.glob("*.csv")):
        with path.open(newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader)
            for row in reader:
                if len(row) == len(header):
                    versions.setdefault(row[0], []).append(row)
    return header, versions


def _changed_companies(landing: Path) -> dict[str, int]:
    """A companies file changing the account side: a new company on a new domain, a new company on an existing
    account's domain, the only record of a one-record account moving to another one-record account's domain (the
    two accounts become one, under the smaller record id: the other golden id is gone) and the anchor (smallest
    id) of a multi-record account moving to a new domain (the account it leaves takes its next record's id).
    Returns the record ids by case."""
    header, versions = _export_versions(landing / "hubspot_companies")
    column = {name: index for index, name in enumerate(header)}
    modified = column["Last Modified Date"]
    # The latest version of each record (the export's broken ids are quarantined: left out).
    rows = {record: max(rows, key=lambda r: r[modified]) for record, rows in versions.items() if record.isdigit()}
    domain, parent = column["Company Domain Name"], column["Parent Company ID"]
    by_domain: dict[str, list[str]] = {}
    for record, row in rows.items():
        if row[domain]:
            by_domain.setdefault(row[domain], []).append(record)
    singles = sorted((ids[0] for ids in by_domain.values() if len(ids) == 1 and not rows[ids[0]][parent]), key=int)
    multi = sorted((sorted(ids, key=int) for ids in by_domain.values() if len(ids) > 1), key=lambda ids: int(ids[0]))
    moved, target = rows[singles[0]], rows[singles[1]]
    anchor = rows[multi[0][0]]
    stamps = [row[modified] for row in rows.values() if row[modified]]
    later = (max(datetime.strptime(stamp, "%Y-%m-%d %H:%M") for stamp in stamps) + timedelta(minutes=1)).strftime(
        "%Y-%m-%d %H:%M"
    )
    next_id = max(int(record) for record in rows) + 1
    new_domain = list(rows[singles[2]])
    new_domain[column["Record ID"]], new_domain[domain] = str(next_id), "freshly-founded-example.com"
    new_domain[column["Website URL"]], new_domain[column["Company name"]] = "", "Freshly Founded Ltd"
    new_domain[parent] = ""
    joining = list(target)
    joining[column["Record ID"]] = str(next_id + 1)
    moved = list(moved)
    moved[domain], moved[column["Website URL"]] = target[domain], ""
    for name in ("Company name", "Country/Region"):  # a name variant of the same company, not a subsidiary
        moved[column[name]] = target[column[name]]
    anchor = list(anchor)
    anchor[domain], anchor[column["Website URL"]] = "anchor-moved-example.com", ""
    for row in (new_domain, joining, moved, anchor):
        row[modified] = later
    with (landing / "hubspot_companies" / "companies_changed.csv").open("w", newline="") as out:
        csv.writer(out).writerows([header, new_domain, joining, moved, anchor])
    return {
        "new_domain": next_id,
        "joining": next_id + 1,
        "joined": int(target[0]),
        "moved": int(moved[0]),
        "anchor": int(anchor[0]),
        "anchor_next": int(multi[0][1]),
    }


@pytest.fixture(scope="module")
def hourly_and_from_scratch(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("equivalence")
    world = root / "world"
    generate_world(world, contacts=300, seed=2024)
    landing = world / "landing"
    hourly = root / "hourly.duckdb"
    _load_and_build(hourly, landing, root / "a")
    for hour in range(2):
        generate_next_hours(world, hours=1)
        if hour == 0:
            _late_events(landing)
            assert min(_relabelled_replies(landing)) > 0
            assert _changed_enrichment(landing) == 40
            assert _restated_usage(landing) > 0
            assert _changed_deals(landing) == 6
            assert _reexported_records(landing, "hubspot_meetings", "meetings", "Meeting outcome", "CANCELED") == 6
            assert _reexported_records(landing, "hubspot_activities", "activities", "Task status", "COMPLETED") == 6
        else:
            assert _stale_contact_versions(landing) > 0
            assert _stale_deal_versions(landing) == 5
            assert _reexported_first_versions(landing, "hubspot_meetings", "meetings") == 5
            assert _reexported_first_versions(landing, "hubspot_activities", "activities") == 5
            assert _readdressed_events(landing) == 60
            (root / "company_changes.json").write_text(json.dumps(_changed_companies(landing)))
        _load_and_build(hourly, landing, root / "a")
    from_scratch = root / "from_scratch.duckdb"
    _load_and_build(from_scratch, landing, root / "b")
    return hourly, from_scratch


def _columns(con: duckdb.DuckDBPyConnection, database: str, table: str) -> list[tuple[str, str]]:
    schema, name = table.split(".")
    return con.execute(
        "select column_name, data_type from duckdb_columns() where database_name = ? and schema_name = ? "
        "and table_name = ? order by column_index",
        [database, schema, name],
    ).fetchall()


def _comparable(column: str, data_type: str) -> str:
    quoted = f'"{column}"'
    return f"round({quoted}, 9) as {quoted}" if data_type in ("DOUBLE", "FLOAT") else quoted


def differences(hourly: Path, from_scratch: Path) -> dict[str, str]:
    """Per table that differs: how (rows only in one of the two, the columns that differ)."""
    con = duckdb.connect()
    con.execute(f"attach '{hourly}' as a (read_only)")
    con.execute(f"attach '{from_scratch}' as b (read_only)")
    tables = [
        f"{schema}.{name}"
        for schema, name in con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'b' "
            "and schema_name in ('staging', 'intermediate', 'marts') order by 1, 2"
        ).fetchall()
    ]
    found = {}
    for table in tables:
        columns = [(c, t) for c, t in _columns(con, "b", table) if c not in RUN_TIME_COLUMNS]
        if [c for c, _ in columns] != [c for c, _ in _columns(con, "a", table) if c not in RUN_TIME_COLUMNS]:
            found[table] = "different columns"
            continue
        select = ", ".join(_comparable(c, t) for c, t in columns)
        a_rows, b_rows = f"a.{table}", f"b.{table}"
        if table in PER_RUN_HISTORY:
            run = PER_RUN_HISTORY[table]
            a_rows = f"(select * from a.{table} where {run} = (select max({run}) from a.{table}))"
        if table in ROWS_FROM_RUN_HISTORY:
            a_rows = f"(select * from a.{table} where {ROWS_FROM_RUN_HISTORY[table]})"
            b_rows = f"(select * from b.{table} where {ROWS_FROM_RUN_HISTORY[table]})"
        only_a, only_b = (
            con.execute(
                f"select count(*) from (select {select} from {x} except all select {select} from {y})"
            ).fetchone()[0]
            for x, y in ((a_rows, b_rows), (b_rows, a_rows))
        )
        if only_a or only_b:
            differing = [
                c
                for c, t in columns
                if con.execute(
                    f"select count(*) from (select {_comparable(c, t)} from {a_rows} "
                    f"except all select {_comparable(c, t)} from {b_rows})"
                ).fetchone()[0]
            ]
            found[table] = f"{only_a} row(s) only hourly, {only_b} only from scratch; columns {differing}"
    con.close()
    return found


def test_hourly_builds_end_where_a_build_from_scratch_does(hourly_and_from_scratch):
    hourly, from_scratch = hourly_and_from_scratch
    assert differences(hourly, from_scratch) == {}


def test_no_model_leaves_a_table_behind(hourly_and_from_scratch):
    """dbt-duckdb's incremental Python models build their rows into `main.<model>__dbt_tmp<time>` tables it never
    drops; the project's on-run-end hook does, after every build."""
    hourly, from_scratch = hourly_and_from_scratch
    for path in (hourly, from_scratch):
        con = duckdb.connect(str(path), read_only=True)
        try:
            left = con.execute("select table_name from duckdb_tables() where table_name like '%dbt_tmp%'").fetchall()
        finally:
            con.close()
        assert left == [], path


def test_the_hours_really_changed_the_warehouse(hourly_and_from_scratch):
    """The comparison is not vacuous: late events, changed and new contacts and re-sent old versions all arrived
    after the first build."""
    hourly, _ = hourly_and_from_scratch
    con = duckdb.connect(str(hourly), read_only=True)
    try:

        def count(table: str, where: str) -> int:
            return con.execute(f"select count(*) from {table} where {where}").fetchone()[0]

        late = count("staging.stg_email__events", "event_id like 'late-%'")
        loads = con.execute("select count(distinct _loaded_at) from staging.stg_hubspot__contacts").fetchone()[0]
        changed = count("staging.stg_hubspot__contacts", "_source_file like '%_h0%'")
        estimations = count("intermediate.int_entities__contact_match_parameters", "true")
        stale_kept = count("staging.stg_hubspot__contacts", "_source_file like '%contacts_stale%'")
        stale_loaded = count("raw.hubspot_contacts", "_source_file like '%contacts_stale%'")
        changed_deals = count("staging.stg_hubspot__deals", "_source_file like '%deals_changed%'")
        stale_deals_kept = count("staging.stg_hubspot__deals", "_source_file like '%deals_stale%'")
        stale_deals_loaded = count("raw.hubspot_deals", "_source_file like '%deals_stale%'")
        # Meetings and activities: the latest load wins, so the first versions exported again last replace the changed
        # ones; the new record of the changed file stays.
        reexported = {
            (name, kind): count(f"staging.stg_hubspot__{name}", f"_source_file like '%{name}_{kind}%'")
            for name in ("meetings", "activities")
            for kind in ("changed", "stale")
        }
        restated_usage = count("staging.stg_product__usage", "_source_file like '%usage_restated%'")
        readdressed = count("staging.stg_email__events", "_source_file like '%email_events_readdressed%'")
        readdressed_units = count("marts.fct_outcome_events", "unit_id like 'readdressed-%'")
        # Relabelled replies whose recipient had no email event since the first load (their units were looked up
        # again, not computed from the recipient's events), now counted as positive replies.
        relabelled_kept = count(
            "marts.fct_outcome_events as o "
            "inner join staging.stg_email__reply_labels as l on l.event_id = o.evidence_id",
            "o.metric = 'sequence_positive_reply_rate' and o.in_numerator and l._source_file like '%relabelled%' "
            "and not exists (select 1 from staging.stg_email__events as e where e.email = l.email "
            "and e._loaded_at > (select min(_loaded_at) from staging.stg_email__events))",
        )
    finally:
        con.close()
    assert late > 50 and loads == 3 and changed > 0 and estimations >= 2
    assert stale_loaded > 0 and stale_kept == 0  # the re-sent old versions loaded, and lost to the newer ones
    assert changed_deals == 6 and stale_deals_loaded == 5 and stale_deals_kept == 0  # likewise the deals
    assert reexported == {(name, kind): {"changed": 1, "stale": 5}[kind] for name, kind in reexported}
    assert restated_usage > 30  # restated account-days replaced the first load's (latest load wins), new days added
    assert readdressed == 60 and readdressed_units > 0  # events moved to new recipients (their old ones lost them)
    assert relabelled_kept > 0


def test_the_company_changes_moved_accounts(hourly_and_from_scratch):
    """The hour of company changes reached the account side of the hourly warehouse: new accounts, a record joining
    an account, one account merged away (its contacts with it) and one whose anchor left (compared with a rebuild by
    the first test)."""
    hourly, _ = hourly_and_from_scratch
    ids = json.loads((hourly.parent / "company_changes.json").read_text())
    con = duckdb.connect(str(hourly), read_only=True)
    try:
        golden = dict(con.execute("select source_record_id, golden_account_id from marts.account_crosswalk").fetchall())
        accounts = {row[0] for row in con.execute("select golden_account_id from marts.dim_accounts").fetchall()}
        # Contacts whose anchor record works at the merged-away company: their golden fields did not change this
        # hour (the same fields_hash), only their account, which dim_contacts' narrow comparison must still see.
        merged_contacts = con.execute(
            "select d.golden_account_id, d.fields_hash = v.fields_hash from marts.dim_contacts d "
            "inner join intermediate.int_entities__contact_records r on r.record_id = d.anchor_record_id "
            "inner join intermediate.int_entities__contact_golden_values v using (golden_contact_id) "
            "where r.primary_company_id = ?",
            [ids["joined"]],
        ).fetchall()
    finally:
        con.close()
    assert merged_contacts and set(merged_contacts) == {(f"ga-{ids['moved']}", True)}
    assert golden[ids["new_domain"]] == f"ga-{ids['new_domain']}" in accounts
    # The moved record has the smaller id: the account it joins takes it, its old id is gone (merged away).
    assert golden[ids["joining"]] == golden[ids["joined"]] == golden[ids["moved"]] == f"ga-{ids['moved']}" in accounts
    assert f"ga-{ids['joined']}" not in accounts
    assert golden[ids["anchor"]] == f"ga-{ids['anchor']}" in accounts  # its own account now
    assert golden[ids["anchor_next"]] != f"ga-{ids['anchor']}" and golden[ids["anchor_next"]] in accounts


# Models an hour rebuilds only in part (delete+insert of the keys whose inputs or rows changed, post-hooks deleting
# keys gone): the comparison above covers them, as it covers every table of the three schemas.
FOLLOW_THE_DELTA = {
    "int_enrichment__contact_candidates": "enrichment_field_id",
    "dim_contacts": "golden_contact_id",
    "fct_action_contacts": "golden_contact_id",
    "int_entities__contact_records": "record_id",
    "int_entities__company_records": "record_id",
    "fct_outcome_events": ["metric", "workflow", "unit_id"],
    "dim_accounts": "golden_account_id",
    "account_crosswalk": "source_record_id",
}


# Columns stored with zstd (their models' `column_compression` config: long or all distinct), by schema and table,
# each with a text column of the same table left to DuckDB's own choice.
ZSTD_COLUMNS = {
    ("staging", "stg_segment__web_events"): ({"context", "message_id"}, "anonymous_id"),
    ("staging", "stg_segment__product_events"): ({"message_id"}, "anonymous_id"),
    ("staging", "stg_email__events"): ({"event_id", "message_id"}, "email_raw"),
    ("intermediate", "int_entities__contact_golden_values"): ({"provenance"}, "email"),
    ("marts", "dim_contacts"): ({"provenance"}, "email"),
}


def test_columns_stored_with_zstd(hourly_and_from_scratch):
    """`column_compression` (macros/column_compression.sql): the event staging models' and the golden contacts'
    configured columns are stored with zstd both in a build from scratch and after the hours' delete+insert runs,
    another text column not, and the tables have the select's columns and types in its order (the rows are compared
    with the from-scratch build above)."""
    for path in hourly_and_from_scratch:
        con = duckdb.connect(str(path), read_only=True)
        try:
            stored = {
                (table, column): methods
                for schema, table in ZSTD_COLUMNS
                for column, methods in con.execute(
                    "select column_name, list(distinct compression order by compression) "
                    f"from pragma_storage_info('{schema}.{table}') where segment_type <> 'VALIDITY' group by all"
                ).fetchall()
            }
            columns = {
                table: con.execute(
                    "select column_name, data_type from duckdb_columns() "
                    "where schema_name = ? and table_name = ? order by column_index",
                    [schema, table],
                ).fetchall()
                for schema, table in ZSTD_COLUMNS
            }
        finally:
            con.close()
        for (_, table), (zstd_columns, other) in ZSTD_COLUMNS.items():
            for column in zstd_columns:
                assert stored[table, column] == ["ZSTD"], (table, column)
            # A text column without the config keeps DuckDB's own choice.
            assert "ZSTD" not in stored[table, other], (table, other)
        # Both Segment models share one select: the one created from a column list has the other's columns.
        assert columns["stg_segment__web_events"] == columns["stg_segment__product_events"]
        # dim_contacts is the golden values' columns but `fields_hash`, then its own.
        golden_values = [c for c in columns["int_entities__contact_golden_values"] if c[0] != "fields_hash"]
        assert columns["dim_contacts"][: len(golden_values)] == golden_values


def test_the_delta_following_marts_are_incremental_and_compared(hourly_and_from_scratch):
    hourly, from_scratch = hourly_and_from_scratch
    manifest = json.loads((hourly.parent / "a" / "target" / "manifest.json").read_text())
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    con = duckdb.connect(str(from_scratch), read_only=True)
    try:
        for name, key in FOLLOW_THE_DELTA.items():
            config = models[name]["config"]
            assert (config["materialized"], config["incremental_strategy"], config["unique_key"]) == (
                "incremental",
                "delete+insert",
                key,
            ), name
            assert any("delete from" in hook["sql"] for hook in config["post-hook"]), name
            assert con.execute(f"select count(*) from {models[name]['schema']}.{name}").fetchone()[0] > 0, name
    finally:
        con.close()


def _export_edits(landing: Path, name: str, edits: dict[int, dict[str, str]]) -> None:
    """A contacts file `name` with the current version of each contact in `edits` changed as given, modified a
    minute after the newest version exported so far (so it wins)."""
    header, versions = _export_versions(landing / "hubspot_contacts")
    column = {title: index for index, title in enumerate(header)}
    modified = column["Last Modified Date"]
    stamps = [r[modified] for rows in versions.values() for r in rows if r[modified]]
    later = (max(datetime.strptime(stamp, "%Y-%m-%d %H:%M") for stamp in stamps) + timedelta(minutes=1)).strftime(
        "%Y-%m-%d %H:%M"
    )
    rows = []
    for record, changes in edits.items():
        row = list(max(versions[str(record)], key=lambda r: r[modified]))
        for title, value in changes.items():
            row[column[title]] = value
        row[modified] = later
        rows.append(row)
    with (landing / "hubspot_contacts" / name).open("w", newline="") as out:
        csv.writer(out).writerows([header, *rows])


def _resident(record: int, street: str) -> dict[str, str]:
    """Edits making a contact a private person living at `street` (no employer: blocked on the address)."""
    return {
        "Email": f"resident{record}@gmail.com",
        "Website URL": "",
        "Company Name": "",
        "Associated Company IDs": "",
        "Associated Company ID (Primary)": "",
        "Phone Number": "",
        "Mobile Phone Number": "",
        "Street Address": street,
        "City": "Shelbyville",
        "Postal Code": "55555",
    }


HOME, CROWDED_HOME = "12 Elm Street", "7 Oak Road"


def _split_merge_and_homes(landing: Path, warehouse: Path) -> dict[str, int | list[int]]:
    """A contacts file editing existing contacts (no new record, so the match parameters are kept and the hour
    resolves incrementally): the newest member of a multi-record cluster becomes someone else (a split), one lone
    contact takes on another's name, email, phones and employer (a merge), four lone contacts move into one home
    (as many as the street blocks' cap: their street pairs are proposed) and five into another (one more: none).
    Returns the record ids: split, one it was clustered with, merged, the one it now duplicates, the home's
    residents, the crowded home's, and two more lone contacts (for the next hour)."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        clusters = "intermediate.int_entities__contact_clusters"
        split, kept = con.execute(
            f"select max(record_id), min(record_id) from {clusters} where golden_contact_id = "
            f"(select golden_contact_id from {clusters} where cluster_size > 1 order by golden_contact_id limit 1)"
        ).fetchone()
        lone = con.execute(
            f"select c.record_id from {clusters} as c join intermediate.int_entities__contact_junk as j "
            "using (record_id) join staging.stg_hubspot__contacts as s on s.contact_id = c.record_id "
            "where c.cluster_size = 1 and not j.is_junk and s.email is not null and s.phone is not null "
            "order by c.record_id limit 13"
        ).fetchall()
    finally:
        con.close()
    lone = [record for (record,) in lone]
    target, merged = lone[0], lone[1]
    ids = {"split": split, "kept": kept, "merged": merged, "target": target}
    ids |= {"home": lone[2:6], "crowded_home": lone[6:11], "spare": lone[11:13]}
    header, versions = _export_versions(landing / "hubspot_contacts")
    column = {title: index for index, title in enumerate(header)}

    def current(record: int, title: str) -> str:
        rows = versions[str(record)]
        return max(rows, key=lambda r: r[column["Last Modified Date"]])[column[title]]

    someone_else = {
        "First Name": "Philippa",
        "Last Name": "Quackenbush",
        "Email": "pq@quackenbush-consulting.example.org",
        "Phone Number": "+442071234567",
        "Mobile Phone Number": "",
        "LinkedIn URL": "",
    }
    twin = {
        title: current(target, title)
        for title in ("First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number", "LinkedIn URL",
                      "Company Name", "Website URL", "Associated Company IDs", "Associated Company ID (Primary)")
    }
    edits = {split: someone_else, merged: twin}
    edits |= {record: _resident(record, HOME) for record in ids["home"]}
    edits |= {record: _resident(record, CROWDED_HOME) for record in ids["crowded_home"]}
    _export_edits(landing, "contacts_edited.csv", edits)
    return ids


def _pairs_rules(warehouse: Path, records: list[int]) -> dict[tuple[int, int], str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select left_id, right_id, blocking_rules from intermediate.int_entities__contact_pairs "
            "where left_id in (select unnest(?)) and right_id in (select unnest(?))",
            [records, records],
        ).fetchall()
    finally:
        con.close()
    return {(left, right): rules for left, right, rules in rows}


def test_hours_that_split_merge_and_cross_block_caps_resolve_like_a_rebuild(hourly_and_from_scratch, tmp_path):
    """Two hours of edits only (no new record: the pairs and clusters models take their incremental paths, scoring
    and drawing only what the edits touch) end in the pairs and clusters that rebuilding both from scratch over
    the same records and match parameters gives. The second hour moves a fifth person into a home of four (the
    street blocks pass their cap: the pairs of the four, untouched, go) and one out of a home of five (the
    blocks fall to the cap: the pairs of the four left, untouched, come). The second hour also brings the golden
    records up to date incrementally: the merged contact's golden id is gone, and its rows must leave the field
    candidates, golden fields and golden values (each finds the gone contacts in its own comparison with its
    previous rows) as rebuilding them from scratch gives."""
    hourly, _ = hourly_and_from_scratch
    edited = tmp_path / "edited.duckdb"
    shutil.copy(hourly, edited)
    landing = hourly.parent / "world" / "landing"
    ids = _split_merge_and_homes(landing, edited)
    # Only what resolution reads and writes is built (the rest of the hour is the first test's business).
    resolution = ("+int_entities__contact_clusters", "+int_entities__contact_junk")
    _load_and_build(edited, landing, tmp_path / "a", *resolution)
    home, crowded = ids["home"], ids["crowded_home"]
    street = "street_postal"
    before = _pairs_rules(edited, home + crowded)
    assert all(street in before[(a, b)] for a, b in zip(home, home[1:], strict=False))
    assert not any(street in rules for (a, _), rules in before.items() if a in crowded)
    joiner, _ = ids["spare"]
    leaver = crowded[-1]
    _export_edits(
        landing, "contacts_edited_again.csv", {joiner: _resident(joiner, HOME), leaver: _resident(leaver, "1 Far Lane")}
    )
    golden_records = (
        "int_enrichment__contact_candidates", "int_entities__contact_field_candidates",
        "int_entities__contact_golden_fields", "int_entities__contact_golden_values",
    )
    _load_and_build(edited, landing, tmp_path / "a", *resolution, *golden_records)
    after = _pairs_rules(edited, home + crowded)
    assert not any(street in rules for (a, _), rules in after.items() if a in home)
    assert all(street in after[(a, b)] for a, b in zip(crowded[:-2], crowded[1:-1], strict=False))

    rebuilt = tmp_path / "rebuilt.duckdb"
    shutil.copy(edited, rebuilt)
    result = run_dbt(
        rebuilt, tmp_path / "b", "run", "--full-refresh", "--select",
        "int_entities__contact_match_features", "int_entities__contact_pairs", "int_entities__contact_clusters",
        *golden_records,
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    con = duckdb.connect()
    con.execute(f"attach '{edited}' as a (read_only)")
    con.execute(f"attach '{rebuilt}' as b (read_only)")
    try:
        con.execute(f"attach '{hourly}' as before (read_only)")
        estimations = "select count(*) from {}.intermediate.int_entities__contact_match_parameters"
        # No new record, so no new estimation: the hours were scored and clustered incrementally.
        assert con.execute(estimations.format("a")).fetchone() == con.execute(estimations.format("before")).fetchone()
        pairs = "intermediate.int_entities__contact_pairs"
        # Each hour rewrote only the pairs it drew again (a full pass writes every row in one run).
        assert con.execute(f"select count(distinct features_through) from a.{pairs}").fetchone()[0] == 3
        clusters = "intermediate.int_entities__contact_clusters"
        golden = dict(con.execute(f"select record_id, golden_contact_id from a.{clusters}").fetchall())
        assert golden[ids["split"]] != golden[ids["kept"]]  # the split
        assert golden[ids["merged"]] == golden[ids["target"]]  # the merge
        values = "intermediate.int_entities__contact_golden_values"
        gone = con.execute(
            f"select golden_contact_id from before.{clusters} where record_id in (?, ?) "
            f"except select golden_contact_id from a.{values}",
            [ids["merged"], ids["target"]],
        ).fetchall()
        assert len(gone) == 1  # the merge's other golden id: gone from the golden records
        golden_tables = [f"intermediate.{model}" for model in golden_records]
        for table in (clusters, pairs, "intermediate.int_entities__contact_match_features", *golden_tables):
            columns = [c for c, _ in _columns(con, "b", table) if c not in RUN_TIME_COLUMNS]
            select = ", ".join(columns)
            for x, y in (("a", "b"), ("b", "a")):
                only = con.execute(f"select count(*) from (select {select} from {x}.{table} "
                                   f"except all select {select} from {y}.{table})").fetchone()[0]
                assert only == 0, f"{only} row(s) of {table} only in {x}"
    finally:
        con.close()
