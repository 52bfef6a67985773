"""The publication updated in a copy of the previous one: the same tables, row for row, as one written from scratch
of the same warehouse; a bounded score history; a rebuild from scratch every so often; the swap stays atomic."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
from console_world import build_warehouse
from console_world import publish_warehouse as _publish

from console import publish as publish_module
from console.publish import (
    DEALS_STATE_PREFIX,
    FINGERPRINT_STATE_PREFIX,
    INDEXED,
    KEPT_WHEN_UNCHANGED,
    KEYED,
    RESCORED,
    RESCORED_STATE_PREFIX,
    STAMP_STATE_PREFIX,
    STATE_PREFIX,
    TABLES,
    UNCHANGED_STATE,
    UNCHANGED_STATE_PREFIX,
    _select,
)
from console.reader import PublicationReader
from console.settings import HISTORY_RUNS_ENV, REBUILD_EVERY_ENV


def _sql(warehouse: Path, sql: str) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(sql)
    finally:
        con.close()


def _add_run(warehouse: Path, run: int) -> None:
    """A new scoring run: every contact scored again, scores shifted (one row per contact in the log)."""
    _sql(
        warehouse,
        f"""insert into ml.score_log select * replace ('run-{run}' as run_id,
               timestamp '2026-12-02 10:00:00' + to_hours({run}) as scored_at,
               least(combined_score + {run}, 100) as combined_score)
        from ml.score_log where run_id = 'run-2';
        create or replace table ml.lead_scores as select * from ml.score_log where run_id = 'run-{run}'""",
    )


def _tables(path: Path) -> dict[str, list[tuple]]:
    """Every table but publication_info, as sorted rows with its column names first."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [
            r[0]
            for r in con.execute(
                f"select table_name from duckdb_tables() where not starts_with(table_name, '{STATE_PREFIX}') "
                f"and not starts_with(table_name, '{RESCORED_STATE_PREFIX}') "
                f"and not starts_with(table_name, '{FINGERPRINT_STATE_PREFIX}') "
                f"and not starts_with(table_name, '{STAMP_STATE_PREFIX}') "
                f"and not starts_with(table_name, '{UNCHANGED_STATE_PREFIX}') "
                f"and not starts_with(table_name, '{DEALS_STATE_PREFIX}') order by 1"
            ).fetchall()
        ]
        out = {}
        for name in names:
            if name == "publication_info":
                continue
            result = con.execute(f"select * from {name}")
            columns = tuple(d[0] for d in result.description)
            out[name] = [columns, *sorted(result.fetchall(), key=repr)]
        return out
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path):
    return build_warehouse(tmp_path / "warehouse.duckdb")


def test_an_updated_publication_equals_one_written_from_scratch(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv(HISTORY_RUNS_ENV, "3")
    target = tmp_path / "console" / "publication.duckdb"
    first = _publish(warehouse, target, "h0")
    assert first.from_scratch and not first.updated
    # Nothing changed: the keyed tables are carried over as they are.
    again = _publish(warehouse, target, "h1")
    assert not again.from_scratch and again.updated == {name: 0 for name in KEYED}

    # An hour's delta: two golden records change, one loses a field, one contact merges away, a new one appears,
    # a new scoring run.
    _sql(
        warehouse,
        """update marts.dim_contacts set job_title = 'Chief Revenue Officer',
               provenance = json_object('job_title', json_object('source', 'leads'))
           where golden_contact_id in ('gc-5', 'gc-17');
        update intermediate.int_entities__contact_golden_fields set value = 'Chief Revenue Officer'
           where golden_contact_id in ('gc-5', 'gc-17') and field_name = 'job_title';
        delete from intermediate.int_entities__contact_golden_fields
           where golden_contact_id = 'gc-9' and field_name = 'email';
        update marts.contact_crosswalk set golden_contact_id = 'gc-12', is_anchor_record = false, cluster_size = 2
           where golden_contact_id = 'gc-13';
        update marts.contact_crosswalk set cluster_size = 2 where golden_contact_id = 'gc-12';
        delete from marts.dim_contacts where golden_contact_id = 'gc-13';
        delete from intermediate.int_entities__contact_golden_fields where golden_contact_id = 'gc-13';
        insert into marts.dim_contacts by name
           select * replace ('gc-new' as golden_contact_id, 'New' as first_name) from marts.dim_contacts
           where golden_contact_id = 'gc-1';
        insert into intermediate.int_entities__contact_golden_fields by name
           select * replace ('gc-new' as golden_contact_id) from intermediate.int_entities__contact_golden_fields
           where golden_contact_id = 'gc-1';""",
    )
    _add_run(warehouse, 3)
    updated = _publish(warehouse, target, "h2")
    assert not updated.from_scratch
    # Keys changed: contacts gc-5, gc-17, gc-13 (gone), gc-new; fields also gc-9; crosswalk gc-12 and gc-13.
    assert updated.updated == {"contacts": 4, "golden_fields": 5, "crosswalk": 2}
    assert updated.rescored == {"scores": 60, "lead_scores": 60}  # every lead's score shifted

    scratch = tmp_path / "scratch" / "publication.duckdb"
    monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
    assert _publish(warehouse, scratch, "h2").from_scratch
    assert _publish(warehouse, scratch, "h2").from_scratch  # every publication from scratch
    carried, rebuilt = _tables(target), _tables(scratch)
    assert sorted(carried) == sorted(rebuilt)
    for name in rebuilt:
        assert carried[name] == rebuilt[name], name
    con = duckdb.connect(str(target), read_only=True)
    try:
        fields = con.execute(
            "select value from golden_fields where golden_contact_id = 'gc-5' and field_name = 'job_title'"
        ).fetchall()
        assert fields == [("Chief Revenue Officer",)]
        assert con.execute("select count(*) from contacts where golden_contact_id = 'gc-13'").fetchone()[0] == 0
        info = con.execute("select history_runs, publications_since_rebuild from publication_info").fetchone()
        assert info == (3, 2)
        # The keyed tables keep their index on the key through updates (a lead's lookup stays a point lookup); the
        # scores written whole get theirs each time.
        indexed = con.execute("select table_name, expressions from duckdb_indexes() order by 1").fetchall()
        assert [t for t, _ in indexed] == sorted([*KEYED, *INDEXED])
    finally:
        con.close()


def test_the_score_history_keeps_the_latest_runs(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv(HISTORY_RUNS_ENV, "2")
    target = tmp_path / "publication.duckdb"
    reader = PublicationReader(target)
    _add_run(warehouse, 3)
    _publish(warehouse, target, "a")
    runs = "select run_id, count(*) from score_history group by 1 order by 1"
    first = reader.cursor()
    assert first.execute(runs).fetchall() == [("run-2", 60), ("run-3", 60)]
    _add_run(warehouse, 4)
    assert not _publish(warehouse, target, "b").from_scratch
    second = reader.cursor()
    assert second.execute(runs).fetchall() == [("run-3", 60), ("run-4", 60)]
    assert (
        second.execute("select max(n) from (select count(*) n from score_history group by contact_id)").fetchone()[0]
        == 2
    )
    # The reader that opened the previous publication still reads it whole (the swap is still a rename).
    assert first.execute(runs).fetchall() == [("run-2", 60), ("run-3", 60)]
    # tier movers still compare the last two runs of the whole log.
    assert second.execute("select count(*) from tier_movers").fetchone()[0] >= 0
    # A different window is a publication from scratch.
    monkeypatch.setenv(HISTORY_RUNS_ENV, "3")
    wider = _publish(warehouse, target, "c")
    assert wider.from_scratch and reader.cursor().execute(runs).fetchall() == [
        ("run-2", 60),
        ("run-3", 60),
        ("run-4", 60),
    ]
    reader.close()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_every_nth_publication_is_written_from_scratch(warehouse, tmp_path, monkeypatch):
    monkeypatch.setenv(REBUILD_EVERY_ENV, "3")
    target = tmp_path / "publication.duckdb"
    kinds = [_publish(warehouse, target, f"r{i}").from_scratch for i in range(7)]
    assert kinds == [True, False, False, True, False, False, True]


def test_a_changed_warehouse_schema_rewrites_that_table(warehouse, tmp_path):
    target = tmp_path / "publication.duckdb"
    _publish(warehouse, target, "a")
    _sql(warehouse, "alter table marts.dim_contacts add column seniority varchar default 'vp'")
    report = _publish(warehouse, target, "b")
    assert "contacts" not in report.updated and report.updated["golden_fields"] == 0
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert con.execute("select distinct seniority from contacts").fetchall() == [("vp",)]
    finally:
        con.close()


def test_a_publication_of_an_older_format_is_rewritten(warehouse, tmp_path):
    target = tmp_path / "publication.duckdb"
    _publish(warehouse, target, "a")
    con = duckdb.connect(str(target))
    try:  # the first format had no history window nor rebuild count
        con.execute("alter table publication_info drop column history_runs")
    finally:
        con.close()
    report = _publish(warehouse, target, "b")
    assert report.from_scratch and not report.updated


def _stored_hashes_match(path: Path) -> None:
    """The per-key hash sums kept for the next update equal those of the published tables, for each KEYED one."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        for name, (key, _) in KEYED.items():
            stored = con.execute(f"select k, h from {STATE_PREFIX}{name}_key_hashes order by k").fetchall()
            actual = con.execute(
                f"select {key}, sum(hash(s)::hugeint) from {name} s group by all order by 1"
            ).fetchall()
            assert stored == actual, name
        for name, spec in RESCORED.items():
            stored = con.execute(f"select k, h from {RESCORED_STATE_PREFIX}{name}_key_hashes order by k").fetchall()
            columns = [c for (c,) in con.execute(f"select column_name from (describe {name})").fetchall()]
            run_columns = [c for c in columns if re.fullmatch(spec.run_columns, c)]
            actual = con.execute(
                f"select {spec.key}, sum(hash(s)::hugeint) from (select * exclude ({', '.join(run_columns)}) "
                f"from {name}) s group by all order by 1"
            ).fetchall()
            assert stored == actual, name
    finally:
        con.close()


def test_updates_from_stored_hashes_still_equal_a_publication_from_scratch(warehouse, tmp_path, monkeypatch):
    target = tmp_path / "console" / "publication.duckdb"
    assert _publish(warehouse, target, "h0").from_scratch
    # A publication written whole keeps no hash sums: the first update hashes the previous tables and stores them.
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert (
            con.execute(
                f"select count(*) from duckdb_tables() where starts_with(table_name, '{STATE_PREFIX}')"
            ).fetchone()[0]
            == 0
        )
    finally:
        con.close()
    assert _publish(warehouse, target, "h1").updated == {name: 0 for name in KEYED}
    _stored_hashes_match(target)
    # Two hours in a row, each compared against the sums the previous update stored.
    for hour, contact in ((2, "gc-3"), (3, "gc-3")):
        _sql(
            warehouse,
            f"""update marts.dim_contacts set job_title = 'Title {hour}' where golden_contact_id = '{contact}';
            update intermediate.int_entities__contact_golden_fields set value = 'Title {hour}'
               where golden_contact_id = '{contact}' and field_name = 'job_title';""",
        )
        report = _publish(warehouse, target, f"h{hour}")
        assert report.updated["contacts"] == 1 and report.updated["crosswalk"] == 0
        _stored_hashes_match(target)
    scratch = tmp_path / "scratch" / "publication.duckdb"
    monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
    assert _publish(warehouse, scratch, "h3").from_scratch
    carried, rebuilt = _tables(target), _tables(scratch)
    assert carried == rebuilt


def test_stored_hashes_updated_at_changed_keys_only_still_match_the_tables(warehouse, tmp_path):
    """The stored per-key hash sums are rewritten only at the keys an update changed (changed, gone and new
    contacts): afterwards they still equal the sums of the published tables, and the next update finds nothing."""
    target = tmp_path / "publication.duckdb"
    _publish(warehouse, target, "h0")
    _publish(warehouse, target, "h1")  # stores the sums
    _sql(
        warehouse,
        """update marts.dim_contacts set job_title = 'Head of Sales' where golden_contact_id = 'gc-4';
        delete from marts.dim_contacts where golden_contact_id = 'gc-8';
        delete from intermediate.int_entities__contact_golden_fields where golden_contact_id = 'gc-8';
        delete from marts.contact_crosswalk where golden_contact_id = 'gc-8';
        insert into marts.dim_contacts by name
           select * replace ('gc-new' as golden_contact_id) from marts.dim_contacts where golden_contact_id = 'gc-2';
        insert into intermediate.int_entities__contact_golden_fields by name
           select * replace ('gc-new' as golden_contact_id) from intermediate.int_entities__contact_golden_fields
           where golden_contact_id = 'gc-2';""",
    )
    assert _publish(warehouse, target, "h2").updated == {"contacts": 3, "golden_fields": 2, "crosswalk": 1}
    _stored_hashes_match(target)
    assert _publish(warehouse, target, "h3").updated == {name: 0 for name in KEYED}
    _stored_hashes_match(target)


def _rescore(warehouse: Path, run: int, where: str = "false") -> None:
    """A new scoring run in which only the leads matching `where` get another reason: every other lead's score row
    differs from the previous run's in its run id and time alone."""
    _sql(
        warehouse,
        f"""insert into ml.score_log select * replace ('run-{run}' as run_id,
               timestamp '2026-12-02 10:00:00' + to_hours({run}) as scored_at,
               case when {where} then reasons || '; +0.2 intent: demo requested' else reasons end as reasons)
        from ml.score_log where run_id = 'run-2';
        create or replace table ml.lead_scores as select * from ml.score_log where run_id = 'run-{run}'""",
    )


def test_scores_rescored_by_key_equal_a_publication_from_scratch(warehouse, tmp_path, monkeypatch):
    """A scoring run that changes few leads' scores rewrites those leads' rows of `scores` and sets the run id and
    time of the others in place: the same table, row for row, as one written from scratch; its stored sums still
    describe it, hour after hour."""
    monkeypatch.setenv(HISTORY_RUNS_ENV, "3")
    target = tmp_path / "console" / "publication.duckdb"
    assert _publish(warehouse, target, "h0").from_scratch
    # Written whole, the scores keep no sums: the first update hashes the published table.
    assert _publish(warehouse, target, "h1").rescored == {"scores": 0, "lead_scores": 0}
    _stored_hashes_match(target)
    _rescore(warehouse, 3, "contact_id in ('gc-3', 'gc-7')")
    report = _publish(warehouse, target, "h2")
    assert report.rescored == {"scores": 2, "lead_scores": 2}
    _stored_hashes_match(target)
    # A lead no longer scored (its decile's neighbours move too) and one scored for the first time.
    _rescore(warehouse, 4)
    _sql(
        warehouse,
        """delete from ml.lead_scores where contact_id = 'gc-11';
        insert into ml.lead_scores select * replace ('gc-new' as contact_id) from ml.lead_scores
        where contact_id = 'gc-12';""",
    )
    report = _publish(warehouse, target, "h3")
    # gc-3 and gc-7 back to their reasons, gc-11 gone, gc-new (the scores: their deciles too)
    assert report.rescored["scores"] >= 4 and report.rescored["lead_scores"] == 4
    _stored_hashes_match(target)
    con = duckdb.connect(str(target), read_only=True)
    try:
        runs = con.execute("select run_id, scored_at, count(*) from scores group by all").fetchall()
        assert [(r, n) for r, _, n in runs] == [("run-4", 60)]
        assert con.execute("select count(*) from scores where contact_id = 'gc-11'").fetchone()[0] == 0
        indexed = con.execute("select table_name from duckdb_indexes() order by 1").fetchall()
        assert ("scores",) in indexed
    finally:
        con.close()
    # Leads of two runs in one table: the run's columns set lead by lead.
    _rescore(warehouse, 5)
    _sql(warehouse, "update ml.lead_scores set run_id = 'run-4' where contact_id in ('gc-20', 'gc-21')")
    assert "scores" in _publish(warehouse, target, "h4").rescored  # gc-11 scored again, gc-new gone
    _stored_hashes_match(target)
    scratch = tmp_path / "scratch" / "publication.duckdb"
    monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
    assert _publish(warehouse, scratch, "h4").from_scratch
    assert _tables(target) == _tables(scratch)


def test_changed_leads_scores_updated_in_place_equal_a_publication_from_scratch(warehouse, tmp_path, monkeypatch):
    """A lead whose score row changed, with one row on both sides, has its `scores` row updated in place (it keeps
    its row id; deleting such rows made the next checkpoint rewrite the table's text columns); a new, gone or
    repeated lead's rows are deleted and inserted. Each result equals a publication from scratch, and the lead's
    lookup by its id (the index) finds the updated row."""
    monkeypatch.setenv(HISTORY_RUNS_ENV, "3")
    target = tmp_path / "console" / "publication.duckdb"
    scratch = tmp_path / "scratch" / "publication.duckdb"

    def rows_of(path: Path, leads: tuple[str, ...]) -> dict[str, tuple]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            ids = ", ".join(f"'{lead}'" for lead in leads)
            rows = con.execute(f"select contact_id, rowid, reasons from scores where contact_id in ({ids})").fetchall()
            return {lead: (rowid, reasons) for lead, rowid, reasons in rows}
        finally:
            con.close()

    def equals_scratch(run: str) -> None:
        monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
        assert _publish(warehouse, scratch, run).from_scratch
        monkeypatch.delenv(REBUILD_EVERY_ENV)
        assert _tables(target) == _tables(scratch)

    assert _publish(warehouse, target, "h0").from_scratch
    assert _publish(warehouse, target, "h1").rescored["scores"] == 0
    before = rows_of(target, ("gc-3", "gc-7"))
    # gc-3 and gc-7 rescored; gc-8's company renamed (another column); gc-11 gone; gc-new new; gc-30 scored twice.
    _rescore(warehouse, 3, "contact_id in ('gc-3', 'gc-7')")
    _sql(
        warehouse,
        """update marts.dim_contacts set company_name = 'Renamed Co' where golden_contact_id = 'gc-8';
        delete from ml.lead_scores where contact_id = 'gc-11';
        insert into ml.lead_scores select * replace ('gc-new' as contact_id) from ml.lead_scores
        where contact_id = 'gc-12';
        insert into ml.lead_scores select * replace ('demo requested twice' as reasons) from ml.lead_scores
        where contact_id = 'gc-30';""",
    )
    assert _publish(warehouse, target, "h2").rescored["scores"] >= 6
    after = rows_of(target, ("gc-3", "gc-7", "gc-11", "gc-new"))
    for lead in ("gc-3", "gc-7"):  # updated in place, found by the index with its new reasons
        assert after[lead][0] == before[lead][0] and after[lead][1] != before[lead][1]
        assert after[lead][1].endswith("demo requested")
    assert "gc-11" not in after and "gc-new" in after
    equals_scratch("h2")
    # gc-30 back to one row (two published): deleted and inserted; gc-3 changed again.
    _rescore(warehouse, 4, "contact_id = 'gc-3'")
    assert _publish(warehouse, target, "h3").rescored["scores"] >= 2
    equals_scratch("h3")
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert con.execute("select count(*) from scores where contact_id = 'gc-30'").fetchone()[0] == 1
    finally:
        con.close()


def test_scores_with_a_null_lead_id_are_written_whole(warehouse, tmp_path, monkeypatch):
    """A row without a lead id matches no key: the scores are then written whole, the same as from scratch."""
    target = tmp_path / "console" / "publication.duckdb"
    _publish(warehouse, target, "h0")
    _rescore(warehouse, 3, "contact_id = 'gc-3'")
    _sql(warehouse, "update ml.lead_scores set contact_id = null where contact_id = 'gc-5'")
    report = _publish(warehouse, target, "h1")
    assert not report.from_scratch and not report.rescored
    # Once the ids are whole again: written whole once more (the published table has the null), then by key.
    _rescore(warehouse, 4)
    assert not _publish(warehouse, target, "h2").rescored
    _rescore(warehouse, 5, "contact_id = 'gc-4'")
    assert _publish(warehouse, target, "h3").rescored == {"scores": 1, "lead_scores": 1}
    _stored_hashes_match(target)
    scratch = tmp_path / "scratch" / "publication.duckdb"
    monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
    _publish(warehouse, scratch, "h3")
    assert _tables(target) == _tables(scratch)


def test_lead_features_the_run_decays_are_set_lead_by_lead(warehouse, tmp_path, monkeypatch):
    """Features a run's time decays differ on most leads each run: they are left out of the comparison and set in
    place lead by lead; only the leads whose other columns changed are rewritten. The same as from scratch."""
    _sql(
        warehouse,
        """alter table ml.score_log add column f_decayed_web_visit double;
        update ml.score_log set f_decayed_web_visit = f_employees / 7;
        create or replace table ml.lead_scores as select * from ml.score_log where run_id = 'run-2'""",
    )
    target = tmp_path / "console" / "publication.duckdb"
    assert _publish(warehouse, target, "h0").from_scratch
    for run in (3, 4):
        _rescore(warehouse, run, f"contact_id = 'gc-{run}'")
        _sql(warehouse, f"update ml.lead_scores set f_decayed_web_visit = f_decayed_web_visit * 0.{run}")
        report = _publish(warehouse, target, f"h{run}")
        # The lead rescored this run, and from the second on the one of the run before (back to its reasons).
        assert report.rescored == {"scores": run - 2, "lead_scores": run - 2}
        _stored_hashes_match(target)
    scratch = tmp_path / "scratch" / "publication.duckdb"
    monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
    assert _publish(warehouse, scratch, "h4").from_scratch
    assert _tables(target) == _tables(scratch)


def _state_tables(path: Path, suffix: str = "_key_hashes") -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {r[0] for r in con.execute("select table_name from duckdb_tables()").fetchall() if suffix in r[0]}
    finally:
        con.close()


def test_contacts_compared_by_their_fields_hash_equal_a_publication_from_scratch(warehouse, tmp_path, monkeypatch):
    """With dim_contacts' `fields_hash` (the hash of the golden fields a contact's provenance is built from), the
    contacts are compared by their other columns and that hash, not by their provenance JSON: its sums are stored
    from scratch on, changed contacts are found by any other column or the hash, and the result equals a publication
    from scratch. A publication without those sums (an older one) is compared row by row once, then by the hash."""
    _sql(
        warehouse,
        "alter table marts.dim_contacts add column fields_hash ubigint;"
        "update marts.dim_contacts set fields_hash = hash(provenance, job_title, email)",
    )
    target = tmp_path / "console" / "publication.duckdb"
    assert _publish(warehouse, target, "h0").from_scratch
    fingerprints = f"{FINGERPRINT_STATE_PREFIX}contacts_key_hashes"
    assert fingerprints in _state_tables(target)  # stored with the table written whole
    # An hour: one contact's golden fields change (provenance and hash), another's owner (no new hash), and one
    # contact's provenance alone: the hash stands for it, so that one is not seen (dim_contacts never changes so).
    _sql(
        warehouse,
        """update marts.dim_contacts set job_title = 'VP Sales', provenance = '{"job_title": {}}',
               fields_hash = fields_hash + 1 where golden_contact_id = 'gc-5';
        update marts.dim_contacts set contact_owner = 'Nia Moss' where golden_contact_id = 'gc-7';
        update marts.dim_contacts set provenance = '{}' where golden_contact_id = 'gc-9';""",
    )
    report = _publish(warehouse, target, "h1")
    assert report.updated["contacts"] == 2
    _sql(warehouse, "update marts.dim_contacts set fields_hash = fields_hash + 1 where golden_contact_id = 'gc-9'")
    assert _publish(warehouse, target, "h2").updated["contacts"] == 1
    con = duckdb.connect(str(target), read_only=True)
    try:  # the stored sums equal the warehouse's, key for key
        stored = con.execute(f"select k, h from {fingerprints} order by k").fetchall()
    finally:
        con.close()
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        actual = con.execute(
            "select golden_contact_id, sum(hash(s)::hugeint) from (select * exclude (provenance) "
            "from marts.dim_contacts) s group by all order by 1"
        ).fetchall()
    finally:
        con.close()
    assert stored == actual
    scratch = tmp_path / "scratch" / "publication.duckdb"
    monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
    assert _publish(warehouse, scratch, "h3").from_scratch
    assert _tables(target) == _tables(scratch)

    # An older publication: the row sums only. Compared row by row once (a provenance change is then seen), the
    # fingerprint sums stored and the row sums dropped (no longer kept up to date).
    monkeypatch.delenv(REBUILD_EVERY_ENV)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"drop table {fingerprints}")
        con.execute(
            f"create table {STATE_PREFIX}contacts_key_hashes as "
            "select golden_contact_id as k, sum(hash(s)::hugeint) as h from contacts s group by all"
        )
    finally:
        con.close()
    _sql(warehouse, "update marts.dim_contacts set provenance = '{\"x\": 1}' where golden_contact_id = 'gc-11'")
    assert _publish(warehouse, target, "h4").updated["contacts"] == 1
    states = _state_tables(target)
    assert fingerprints in states and f"{STATE_PREFIX}contacts_key_hashes" not in states
    monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
    assert _publish(warehouse, scratch, "h4").from_scratch
    assert _tables(target) == _tables(scratch)


GOLDEN_FIELDS = "intermediate.int_entities__contact_golden_fields"


def _write_contacts(warehouse: Path, stamp: str, keys: tuple[str, ...], value: str | None = None) -> None:
    """Golden fields' write of `keys` by a run stamped `stamp`, as the model writes: each contact's rows deleted and
    inserted again, every row stamped (`value`: their job title's new value; else the same rows)."""
    ids = ", ".join(f"'{k}'" for k in keys)
    title = f"'{value}'" if value is not None else "value"
    _sql(
        warehouse,
        f"""create temp table rewritten as select * replace (
               case when field_name = 'job_title' then {title} else value end as value,
               timestamp '{stamp}' as _written_at)
           from {GOLDEN_FIELDS} where golden_contact_id in ({ids});
        delete from {GOLDEN_FIELDS} where golden_contact_id in ({ids});
        insert into {GOLDEN_FIELDS} select * from rewritten""",
    )


def _stored_stamps(target: Path) -> list[tuple]:
    con = duckdb.connect(str(target), read_only=True)
    try:
        return con.execute(f"select k, h from {STAMP_STATE_PREFIX}golden_fields_key_stamps order by k").fetchall()
    finally:
        con.close()


def test_golden_fields_compared_by_their_write_stamps_equal_a_publication_from_scratch(
    warehouse, tmp_path, monkeypatch
):
    """With golden fields' `_written_at` (one stamp per run, a contact's rows written together), an update hashes
    only the rows of the contacts whose stamps changed (written again, new, gone, or with a row without a stamp) and
    rewrites those whose rows differ; every result equals a publication from scratch. The stamps are the contract:
    a row changed in place without a new stamp is not seen (the model never writes so), unless it has no stamp."""
    _sql(warehouse, f"alter table {GOLDEN_FIELDS} add column _written_at timestamp default timestamp '2026-12-01'")
    target = tmp_path / "console" / "publication.duckdb"
    scratch = tmp_path / "scratch" / "publication.duckdb"

    def equals_scratch(run: str) -> None:
        monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
        assert _publish(warehouse, scratch, run).from_scratch
        monkeypatch.delenv(REBUILD_EVERY_ENV)
        assert _tables(target) == _tables(scratch)

    def stamps_of_warehouse() -> list[tuple]:
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return con.execute(
                f"select golden_contact_id, hash(min(_written_at), max(_written_at), count(*)) "
                f"from {GOLDEN_FIELDS} group by all order by 1"
            ).fetchall()
        finally:
            con.close()

    assert _publish(warehouse, target, "h0").from_scratch
    assert _stored_stamps(target) == stamps_of_warehouse()  # stored with the table written whole
    con = duckdb.connect(str(target), read_only=True)
    try:  # not published
        assert "_written_at" not in {c[0] for c in con.execute("describe golden_fields").fetchall()}
    finally:
        con.close()

    # An hour: gc-5 written with a new title, gc-7 written again with the same rows (not a change), gc-13 gone,
    # gc-new new; and gc-9's title changed in place without a stamp: not seen.
    _write_contacts(warehouse, "2026-12-01 01:00:00", ("gc-5",), "VP Sales")
    _write_contacts(warehouse, "2026-12-01 01:00:00", ("gc-7",))
    _sql(
        warehouse,
        f"""delete from {GOLDEN_FIELDS} where golden_contact_id = 'gc-13';
        insert into {GOLDEN_FIELDS} select * replace ('gc-new' as golden_contact_id,
               timestamp '2026-12-01 01:00:00' as _written_at)
           from {GOLDEN_FIELDS} where golden_contact_id = 'gc-1';
        update {GOLDEN_FIELDS} set value = 'Unseen' where golden_contact_id = 'gc-9' and field_name = 'job_title'""",
    )
    assert _publish(warehouse, target, "h1").updated["golden_fields"] == 3  # gc-5, gc-13, gc-new
    assert _stored_stamps(target) == stamps_of_warehouse()
    con = duckdb.connect(str(target), read_only=True)
    try:
        titles = dict(
            con.execute(
                "select golden_contact_id, value from golden_fields where field_name = 'job_title' "
                "and golden_contact_id in ('gc-5', 'gc-9')"
            ).fetchall()
        )
    finally:
        con.close()
    assert titles["gc-5"] == "VP Sales" and titles["gc-9"] != "Unseen"
    # gc-9 written again by a run: now seen, and the publication equals one from scratch.
    _write_contacts(warehouse, "2026-12-01 02:00:00", ("gc-9",))
    assert _publish(warehouse, target, "h2").updated["golden_fields"] == 1
    equals_scratch("h2")

    # Rows without a stamp (written before the column) are compared on every update: a change to them is seen.
    _sql(
        warehouse,
        f"""update {GOLDEN_FIELDS} set _written_at = null where golden_contact_id in ('gc-11', 'gc-12');
        update {GOLDEN_FIELDS} set value = 'Changed' where golden_contact_id = 'gc-11' and field_name = 'job_title'""",
    )
    assert _publish(warehouse, target, "h3").updated["golden_fields"] == 1
    assert _publish(warehouse, target, "h4").updated["golden_fields"] == 0
    equals_scratch("h4")

    # Every contact written again (a full refresh), one of them changed: compared whole, one contact rewritten.
    _write_contacts(warehouse, "2026-12-01 05:00:00", tuple(k for (k, _) in stamps_of_warehouse()))
    _write_contacts(warehouse, "2026-12-01 05:00:00", ("gc-20",), "Head of RevOps")
    assert _publish(warehouse, target, "h5").updated["golden_fields"] == 1
    assert _stored_stamps(target) == stamps_of_warehouse()
    equals_scratch("h5")

    # A warehouse without the stamps: compared row by row, the stored stamps dropped (no longer kept up to date);
    # with them again, compared whole once and stored again.
    _sql(warehouse, f"alter table {GOLDEN_FIELDS} drop column _written_at")
    _sql(warehouse, f"update {GOLDEN_FIELDS} set value = 'Again' where golden_contact_id = 'gc-21'")
    assert _publish(warehouse, target, "h6").updated["golden_fields"] == 1
    assert not _state_tables(target, "_key_stamps")
    _sql(warehouse, f"alter table {GOLDEN_FIELDS} add column _written_at timestamp default timestamp '2026-12-02'")
    _sql(warehouse, f"update {GOLDEN_FIELDS} set value = 'Later' where golden_contact_id = 'gc-22'")
    assert _publish(warehouse, target, "h7").updated["golden_fields"] == 1
    assert _stored_stamps(target) == stamps_of_warehouse()
    equals_scratch("h7")


def test_a_select_over_the_changed_keys_rows_gives_those_keys_rows(warehouse):
    """A KEYED table whose select reads its table as `{rows}` gets, updated by key, a select over the changed keys'
    rows only (picked by row id): the same rows of those keys as the whole select, and no other key's. The contacts
    and golden fields are read so (their rows are wide: the provenance JSON); the crosswalk, a join, is not."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(
            "create temp table publish_delta as select * from (values ('gc-5', true), ('gc-7', true), "
            "('gc-9', false), ('gc-404', true)) t(k, present)"
        )
        narrowed = set()
        for name, (key, _) in KEYED.items():
            whole, changed = _select(name, 3), _select(name, 3, key)
            assert "{rows}" not in whole and "{rows}" not in changed
            if whole == changed:
                continue
            narrowed.add(name)
            assert TABLES[name][0][0] in whole and "rowid in" in changed and "rowid in" not in whole
            keys = "(select k from publish_delta where present)"
            expected = con.execute(f"select * from ({whole}) where {key} in {keys} order by all").fetchall()
            actual = con.execute(f"select * from ({changed}) order by all").fetchall()
            assert actual == expected and {r[0] for r in actual} == {"gc-5", "gc-7"}
        assert narrowed == {"contacts", "golden_fields"}
    finally:
        con.close()


def test_rows_of_changed_keys_picked_by_row_id_include_gone_keys_when_asked(warehouse):
    """`_changed_rows` picks a table's rows of the keys in a keys table by row id: of the keys still present, or of
    every key there with `gone_too` (the published golden fields of the stamp candidates, whose gone contacts'
    rows count in the published side's sums): the same rows as a filter on the key, read by row id."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute(
            "create temp table publish_candidates as select * from (values ('gc-5', true), ('gc-7', false), "
            "('gc-404', false)) t(k, present)"
        )
        table = "intermediate.int_entities__contact_golden_fields"
        for gone_too, keys in ((False, "('gc-5')"), (True, "('gc-5', 'gc-7', 'gc-404')")):
            picked = publish_module._changed_rows(table, "golden_contact_id", "publish_candidates", gone_too=gone_too)
            assert "rowid in" in picked
            expected = con.execute(f"select * from {table} where golden_contact_id in {keys} order by all").fetchall()
            actual = con.execute(f"select * from {picked} order by all").fetchall()
            assert actual == expected
            assert {r[0] for r in actual} == ({"gc-5", "gc-7"} if gone_too else {"gc-5"})
    finally:
        con.close()


def test_tier_reasons_follow_the_rescored_leads(warehouse, tmp_path, monkeypatch):
    """With the scores updated by lead, `tier_reasons` is the previous counts less the changed leads' old rows plus
    their new ones: the same rows as counted from every lead, through leads into and out of Tier 1, another reason,
    another owner, a reason's count down to nothing, a lead gone and one new."""
    import console.publish as publish_module

    calls = []
    update = publish_module._update_tier_reasons
    monkeypatch.setattr(publish_module, "_update_tier_reasons", lambda con: calls.append(1) or update(con))
    target = tmp_path / "console" / "publication.duckdb"
    scratch = tmp_path / "scratch" / "publication.duckdb"

    def same_as_from_scratch(hour: str) -> None:
        monkeypatch.setenv(REBUILD_EVERY_ENV, "1")
        _publish(warehouse, scratch, hour)
        monkeypatch.delenv(REBUILD_EVERY_ENV)
        assert _tables(target)["tier_reasons"] == _tables(scratch)["tier_reasons"]
        assert _tables(target) == _tables(scratch)

    _publish(warehouse, target, "h0")
    tier_1 = "(select contact_id from ml.lead_scores where tier = 1 order by contact_id limit 3)"
    hours = [
        # Two Tier 1 leads out of it, one into it; a Tier 1 lead with a reason of its own (its count then drops to 0).
        f"""update ml.lead_scores set tier = 2 where contact_id in {tier_1};
        update ml.lead_scores set tier = 1
            where contact_id = (select min(contact_id) from ml.lead_scores where tier = 3);
        update ml.lead_scores set reasons = reasons || '; -0.4 fit: only here;; ' where contact_id =
            (select max(contact_id) from ml.lead_scores where tier = 1)""",
        # Another owner for a Tier 1 lead (a contact's change, not the score's), a lead gone, a new Tier 1 lead.
        """update marts.dim_contacts set contact_owner = null where golden_contact_id =
            (select max(contact_id) from ml.lead_scores where tier = 1);
        delete from ml.lead_scores where contact_id = (select min(contact_id) from ml.lead_scores where tier = 1);
        insert into ml.lead_scores select * replace ('gc-new' as contact_id, 1::tinyint as tier) from ml.lead_scores
        where contact_id = 'gc-12'""",
        "",  # nothing but the run's id and time
    ]
    for run, changes in enumerate(hours, start=3):
        _rescore(warehouse, run)
        if changes:
            _sql(warehouse, changes)
        assert "scores" in _publish(warehouse, target, f"h{run}").rescored
        same_as_from_scratch(f"h{run}")
    assert len(calls) == len(hours)


def test_the_order_check_finds_any_step_down(monkeypatch):
    """`_in_order` says whether a scan's rows are already sorted by the columns given (ties allowed, no NULL), the
    first column first, across its Arrow batches (two rows each here, so most steps fall on a batch boundary)."""
    monkeypatch.setattr(publish_module, "ORDER_CHECK_ROWS", 2)
    con = duckdb.connect()
    try:
        cases = {
            "sorted, ties, text byte-wise": [("a", "x"), ("a", "x"), ("a", "y"), ("b", "a"), ("ba", "a"), ("c", "")],
            "first column down at a boundary": [("a", "x"), ("b", "x"), ("a", "z"), ("c", "a")],
            "second column down, first equal": [("a", "x"), ("a", "y"), ("a", "b")],
            "second column down, first up": [("a", "y"), ("b", "a"), ("c", "a")],
            "upper case sorts before lower": [("B", "a"), ("a", "a")],
            "a null key": [("a", "x"), (None, "y")],
            "a null second column": [("a", None), ("b", "y")],
            "one row": [("a", "x")],
            "no rows": [],
        }
        for case, rows in cases.items():
            con.execute("create or replace table t (k varchar, f varchar)")
            if rows:
                con.executemany("insert into t values (?, ?)", rows)
            expected = all(None not in r for r in rows) and rows == sorted(rows)
            assert publish_module._in_order(con, "select * from t", "k, f") == expected, case
        con.execute("create or replace table t as select range as k from range(10)")
        assert publish_module._in_order(con, "select * from t", "k")
        con.execute("create or replace table t as select 9 - range as k from range(10)")
        assert not publish_module._in_order(con, "select * from t", "k")
    finally:
        con.close()


def test_tables_already_in_key_order_are_written_without_a_sort(warehouse, tmp_path, monkeypatch):
    """A publication from scratch writes `golden_fields` in key order whether the warehouse has them in that order
    (then not sorted again) or not (then sorted): the same rows in the same order either way. `contacts`
    (UNORDERED) is written in the warehouse's order, sorted or not, and a lead's row is found through its index."""
    written = []
    real = publish_module._in_order
    monkeypatch.setattr(
        publish_module, "_in_order", lambda con, sql, order: written.append(real(con, sql, order)) or written[-1]
    )

    def rows_in_file_order(path: Path) -> dict[str, list[tuple]]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return {
                name: con.execute(f"select * from {name} order by rowid").fetchall()
                for name in ("contacts", "golden_fields")
            }
        finally:
            con.close()

    def warehouse_contacts() -> list[tuple]:
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            return con.execute(
                f"select columns(lambda c: c <> 'fields_hash') from {contacts} order by rowid"
            ).fetchall()
        finally:
            con.close()

    fields, contacts = "intermediate.int_entities__contact_golden_fields", "marts.dim_contacts"
    _sql(
        warehouse,
        f"create or replace table {fields} as select * from {fields} order by hash(golden_contact_id, field_name)",
    )
    _sql(
        warehouse,
        f"create or replace table {contacts} as select * from {contacts} order by hash(golden_contact_id)",
    )
    shuffled = _publish(warehouse, tmp_path / "shuffled" / "publication.duckdb", "h0")
    assert written == [False]
    first = rows_in_file_order(shuffled.path)
    assert first["contacts"] == warehouse_contacts()
    assert first["contacts"] != sorted(first["contacts"], key=lambda r: r[0])  # not sorted: shuffled as read
    assert [r[:2] for r in first["golden_fields"]] == sorted(r[:2] for r in first["golden_fields"])
    con = duckdb.connect(str(shuffled.path), read_only=True)
    try:
        lead = first["contacts"][len(first["contacts"]) // 2][0]
        plan = con.execute("explain analyze select * from contacts where golden_contact_id = ?", [lead]).fetchall()
        assert "Index Scan" in plan[0][1]
        assert con.execute("select * from contacts where golden_contact_id = ?", [lead]).fetchall() == [
            r for r in first["contacts"] if r[0] == lead
        ]
    finally:
        con.close()
    _sql(
        warehouse, f"create or replace table {fields} as select * from {fields} order by golden_contact_id, field_name"
    )
    _sql(
        warehouse,
        f"create or replace table {contacts} as select * from {contacts} order by golden_contact_id",
    )
    in_order = _publish(warehouse, tmp_path / "in_order" / "publication.duckdb", "h0")
    assert written == [False, True]
    second = rows_in_file_order(in_order.path)
    assert first["golden_fields"] == second["golden_fields"]
    assert second["contacts"] == warehouse_contacts()
    assert _tables(shuffled.path) == _tables(in_order.path)


def _publish_equal_to_scratch(warehouse, target, scratch, run: str, monkeypatch):
    """Publish `run` to `target` (updating it), and from scratch to `scratch`: the two publications' tables equal."""
    report = _publish(warehouse, target, run)
    with monkeypatch.context() as m:
        m.setenv(REBUILD_EVERY_ENV, "1")
        assert _publish(warehouse, scratch, run).from_scratch
    assert _tables(target) == _tables(scratch)
    return report


def test_whole_tables_whose_rows_did_not_change_are_kept(warehouse, tmp_path, monkeypatch):
    """A table written whole (KEPT_WHEN_UNCHANGED) stays as it is in the copy when its rows are the same as when it
    was last written, and is written again when they changed, when a column's type changed with the same values (an
    int and a bigint hash alike), or when the previous publication has no sums (an older one); every publication
    equals one written from scratch."""
    monkeypatch.setenv(HISTORY_RUNS_ENV, "3")
    target = tmp_path / "console" / "publication.duckdb"
    scratch = tmp_path / "scratch" / "publication.duckdb"

    def publish_and_compare(run: str):
        return _publish_equal_to_scratch(warehouse, target, scratch, run, monkeypatch)

    def mark_tables() -> None:
        """A comment on each such table of the publication: a table kept in the copy keeps it, one written again
        (dropped and created) has none."""
        con = duckdb.connect(str(target))
        try:
            for name in KEPT_WHEN_UNCHANGED:
                con.execute(f"comment on table {name} is 'kept'")
        finally:
            con.close()

    def marked() -> set[str]:
        con = duckdb.connect(str(target), read_only=True)
        try:
            return {
                r[0] for r in con.execute("select table_name from duckdb_tables() where comment = 'kept'").fetchall()
            }
        finally:
            con.close()

    first = _publish(warehouse, target, "h0")
    assert first.from_scratch and first.unchanged == []
    mark_tables()
    assert sorted(_publish(warehouse, target, "h1").unchanged) == sorted(KEPT_WHEN_UNCHANGED)
    assert marked() == KEPT_WHEN_UNCHANGED

    _sql(
        warehouse,
        """insert into marts.enrichment_review by name select * replace ('f-9' as enrichment_field_id)
            from marts.enrichment_review where enrichment_field_id = 'f-1';
        delete from raw.quarantine_rows where file_id = 2;
        alter table marts.merge_proposals alter left_record_id type bigint;""",
    )
    changed = publish_and_compare("h2")
    rewritten = {"enrichment_review", "quarantine_rows", "merge_proposals"}
    assert sorted(changed.unchanged) == sorted(KEPT_WHEN_UNCHANGED - rewritten)
    assert marked() == KEPT_WHEN_UNCHANGED - rewritten
    # The sums now describe the tables as rewritten: the next hour keeps them all.
    assert sorted(_publish(warehouse, target, "h3").unchanged) == sorted(KEPT_WHEN_UNCHANGED)

    # A publication without the sums (an older publish drops them): every such table written again, sums stored.
    con = duckdb.connect(str(target))
    try:
        con.execute(f"drop table {UNCHANGED_STATE.removeprefix('console_pub.')}")
    finally:
        con.close()
    assert publish_and_compare("h4").unchanged == []
    assert not marked()
    assert sorted(_publish(warehouse, target, "h5").unchanged) == sorted(KEPT_WHEN_UNCHANGED)


def test_deals_updated_by_deal_equal_a_publication_from_scratch(warehouse, tmp_path, monkeypatch):
    """`deals` is updated by deal in the copy, the run's `as_of` set in place: changed, gone and new deals, an
    as_of moved on every row; written whole again from a publication without its sums, or when the source has no
    deal id; each result equal to a publication from scratch."""
    deals = "staging.stg_hubspot__deals"
    target = tmp_path / "console" / "publication.duckdb"
    scratch = tmp_path / "scratch" / "publication.duckdb"

    def publish_and_compare(run: str):
        return _publish_equal_to_scratch(warehouse, target, scratch, run, monkeypatch)

    _sql(warehouse, f"alter table {deals} add column as_of timestamp; update {deals} set as_of = '2026-12-02 10:00'")
    assert _publish(warehouse, target, "h0").deals_rescored is None  # from scratch: written whole
    assert _publish(warehouse, target, "h1").deals_rescored == 0
    _sql(
        warehouse,
        f"""update {deals} set as_of = '2026-12-02 11:00';
        update {deals} set amount = amount + 1 where deal_id = 7003;
        delete from {deals} where deal_id = 7004;
        insert into {deals} by name select * replace (7100 as deal_id) from {deals} where deal_id = 7005;""",
    )
    assert publish_and_compare("h2").deals_rescored == 3
    _sql(warehouse, f"update {deals} set as_of = '2026-12-02 12:00'")
    assert publish_and_compare("h3").deals_rescored == 0  # only the run's time moved: set in place
    con = duckdb.connect(str(target))
    try:
        assert con.execute("select count(distinct as_of) from deals").fetchone()[0] == 1
        con.execute(f"drop table {DEALS_STATE_PREFIX}deals_key_hashes")  # as an older publish leaves it
    finally:
        con.close()
    _sql(warehouse, f"update {deals} set deal_name = 'Renamed' where deal_id = 7006")
    assert publish_and_compare("h4").deals_rescored == 1  # compared with the published rows once
    # A deal source without a deal id: written whole, each time.
    _sql(warehouse, f"create table marts.fct_pipeline_deals as select deal_id as id, * exclude (deal_id) from {deals}")
    assert _publish(warehouse, target, "h5").deals_rescored is None
    assert _publish(warehouse, target, "h6").deals_rescored is None
