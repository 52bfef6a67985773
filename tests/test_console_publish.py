"""The console's publication: written under a temporary name, swapped in atomically, read while being replaced."""

from __future__ import annotations

import threading

import duckdb
import pytest
from console_world import build_warehouse
from console_world import publish_warehouse as _publish

from console import publish as publish_module
from console.reader import NoPublication, PublicationReader


def _add_contact(warehouse, n: int) -> None:
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            "insert into ml.lead_scores by name select * replace ('gc-new-' || ? as contact_id) "
            "from ml.lead_scores limit 1",
            [n],
        )
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_warehouse(path)
    return path


def test_publication_swaps_atomically_and_open_readers_keep_their_copy(warehouse, tmp_path):
    target = tmp_path / "console" / "publication.duckdb"
    reader = PublicationReader(target)
    with pytest.raises(NoPublication):
        reader.cursor()
    report = _publish(warehouse, target, "run-a")
    assert report.rows["scores"] == 60 and report.rows["deals"] == 20 and not report.missing
    first = reader.cursor()
    assert first.execute("select count(*) from scores").fetchone()[0] == 60
    assert first.execute("select refresh_run_id from publication_info").fetchone()[0] == "run-a"

    _add_contact(warehouse, 1)
    _publish(warehouse, target, "run-b")
    second = reader.cursor()
    assert second.execute("select count(*) from scores").fetchone()[0] == 61
    assert second.execute("select refresh_run_id from publication_info").fetchone()[0] == "run-b"
    # The reader that opened the first publication still reads it, whole.
    assert first.execute("select count(*) from scores").fetchone()[0] == 60
    # Nothing is left behind but the publication itself.
    assert sorted(p.name for p in target.parent.iterdir()) == ["publication.duckdb"]
    reader.close()


def test_a_failed_publication_leaves_the_previous_one(warehouse, tmp_path, monkeypatch):
    target = tmp_path / "publication.duckdb"
    _publish(warehouse, target, "good")
    before = target.stat().st_ino
    broken = dict(publish_module.TABLES)
    broken["zz_broken"] = (("ml.lead_scores",), "select no_such_column from ml.lead_scores")
    monkeypatch.setattr(publish_module, "TABLES", broken)
    with pytest.raises(duckdb.Error):
        _publish(warehouse, target, "bad")
    assert target.stat().st_ino == before
    con = duckdb.connect(str(target), read_only=True)
    try:
        assert con.execute("select refresh_run_id from publication_info").fetchone()[0] == "good"
    finally:
        con.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_tables_whose_inputs_are_missing_are_left_out_and_said(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse))
    con.execute("drop table marts.merge_proposals")
    con.close()
    report = _publish(warehouse, tmp_path / "p.duckdb", "r")
    assert report.missing == {"merge_proposals": ["marts.merge_proposals"]}
    assert "merge_proposals" not in report.rows and report.rows["scores"] == 60


def test_reads_never_fail_while_refreshes_republish(warehouse, tmp_path):
    target = tmp_path / "publication.duckdb"
    _publish(warehouse, target, "r0")
    reader = PublicationReader(target)
    errors: list[BaseException] = []
    counts: list[int] = []
    stop = threading.Event()

    def read_loop():
        while not stop.is_set():
            try:
                cur = reader.cursor()
                n = cur.execute("select count(*) from scores").fetchone()[0]
                tiers = cur.execute("select tier, count(*) from scores group by 1").fetchall()
                assert sum(c for _, c in tiers) == n
                counts.append(n)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)

    threads = [threading.Thread(target=read_loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for i in range(1, 6):
            _add_contact(warehouse, i)
            _publish(warehouse, target, f"r{i}")
    finally:
        stop.set()
        for t in threads:
            t.join()
    reader.close()
    assert errors == []
    assert counts and min(counts) >= 60 and max(counts) <= 65
    assert PublicationReader(target).cursor().execute("select count(*) from scores").fetchone()[0] == 65
