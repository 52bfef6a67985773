"""Files hashed ahead of their loading (landing/ingest.py, ``_HashAhead``): each new file's SHA-256 is computed on a
thread of its own, a few files ahead of the file being loaded, with the tables, records, results and messages of
hashing each file when it is loaded."""

from __future__ import annotations

import hashlib
import shutil
import threading
from pathlib import Path

import duckdb
import pytest

from landing import ingest, ingest_landing
from tests.landing_fixtures import web_events_file


def _email_events(landing: Path, name: str, first: int, count: int) -> Path:
    lines = [
        f'{{"event_id": "e-{n}", "type": "open", "email": "p{n % 31}@x.io", "timestamp": "2026-05-02T10:00:00Z"}}\n'
        for n in range(first, first + count)
    ]
    lines[1] = "{not json}\n"  # quarantined
    path = landing / "email_events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path


def _landing(landing: Path) -> list[Path]:
    """Email events loaded a file per transaction, web events read ahead in groups (one file a copy of another)."""
    files = [_email_events(landing, name, 1 + 100 * i, 100) for i, name in enumerate(["a.jsonl", "b.jsonl"])]
    files += [web_events_file(landing, f"{name}.jsonl", 1 + 300 * i, 300) for i, name in enumerate("abcd")]
    copy = landing / "web_events" / "e_copy_of_a.jsonl"
    copy.write_bytes(files[2].read_bytes())
    files.append(copy)
    files.append(web_events_file(landing, "f.jsonl", 1_201, 300, bad_at=7))
    return files


def _group_web_events_only(monkeypatch, landing: Path) -> None:
    """Web events (the larger source) grouped and read ahead, email events a transaction per file."""
    sizes = {
        folder: sum(p.stat().st_size for p in (landing / folder).iterdir()) for folder in ("email_events", "web_events")
    }
    assert sizes["email_events"] < sizes["web_events"]
    monkeypatch.setattr(ingest, "_GROUP_MIN_BYTES", sizes["email_events"] + 1)
    monkeypatch.setattr(ingest, "_GROUP_ROWS", 500)  # several groups, one written while the next is read


def _state(con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    state = {
        table: con.execute(f"SELECT rowid, * EXCLUDE (_loaded_at) FROM raw.{table} ORDER BY rowid").fetchall()
        for table in ("email_events", "web_events")
    }
    state["quarantine"] = con.execute(
        "SELECT rowid, * EXCLUDE (quarantined_at) FROM raw.quarantine_rows ORDER BY rowid"
    ).fetchall()
    state["load_files"] = con.execute("SELECT * EXCLUDE (loaded_at) FROM raw.load_files ORDER BY file_id").fetchall()
    return state


def _recording_sha256(monkeypatch) -> list[tuple[str, str]]:
    """(file name, thread name) of every hash computed."""
    hashed: list[tuple[str, str]] = []
    real = ingest._sha256

    def sha256(path: Path) -> tuple[str, int]:
        hashed.append((path.name, threading.current_thread().name))
        return real(path)

    monkeypatch.setattr(ingest, "_sha256", sha256)
    return hashed


def test_files_hashed_ahead_load_what_hashing_each_file_when_loaded_loads(tmp_path, monkeypatch):
    files = _landing(tmp_path / "landing")
    _group_web_events_only(monkeypatch, tmp_path / "landing")
    hashed = _recording_sha256(monkeypatch)
    runs = {}
    for ahead in (True, False):
        if not ahead:  # nothing handed to the thread: every file hashed by the loading thread as it is loaded
            monkeypatch.setattr(ingest._HashAhead, "_read_ahead", lambda self: None)
        hashed.clear()
        landing = tmp_path / f"landing_{ahead}"
        shutil.copytree(tmp_path / "landing", landing)  # the same files, modification times included
        messages: list[str] = []
        with duckdb.connect(str(tmp_path / f"wh_{ahead}.duckdb")) as con:
            report = ingest_landing(con, landing, settle_seconds=0, progress=messages.append)
            outcomes = [
                (r.path, r.status, r.rows_accepted, r.rows_quarantined, r.error, r.file_id) for r in report.files
            ]
            runs[ahead] = (outcomes, messages, _state(con))
            names = [name for name, _ in hashed]
            # Every file hashed once, in load order; ahead, on the hashing thread.
            assert names == [p.name for p in files]
            threads = [thread for _, thread in hashed]
            if ahead:
                assert all(thread.startswith("landing-hash") for thread in threads)
            else:
                assert set(threads) == {"MainThread"}
            assert not any(t.name.startswith("landing-hash") for t in threading.enumerate())  # the thread is gone
            recorded = dict(con.execute("SELECT path, sha256 FROM raw.load_files").fetchall())
            for path in files:
                if path.name != "e_copy_of_a.jsonl":  # skipped: same content as web_events/a.jsonl
                    rel = path.relative_to(tmp_path / "landing").as_posix()
                    assert recorded[rel] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert runs[True] == runs[False]
    outcomes = runs[True][0]
    assert [o[1] for o in outcomes] == ["loaded"] * 6 + ["skipped", "loaded"]
    assert outcomes[6][4] == "same content as web_events/a.jsonl"
    assert [o[3] for o in outcomes] == [1, 1, 0, 0, 0, 0, 0, 1]


@pytest.mark.parametrize("source", ["email_events", "web_events"])
def test_a_file_changed_after_it_was_hashed_ahead_waits_for_the_next_run(tmp_path, monkeypatch, source):
    landing = tmp_path / "landing"
    _landing(landing)
    _group_web_events_only(monkeypatch, landing)
    changed = landing / source / "b.jsonl"
    real = ingest._sha256

    def sha256(path: Path) -> tuple[str, int]:
        result = real(path)
        if path == changed and threading.current_thread().name.startswith("landing-hash"):
            with open(path, "a") as f:  # written to after it was hashed, before it is read
                f.write(path.read_text().splitlines(keepends=True)[-1].replace("-", "-x"))
        return result

    monkeypatch.setattr(ingest, "_sha256", sha256)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        report = ingest_landing(con, landing, settle_seconds=0)
        statuses = {r.path: r.status for r in report.files}
        assert statuses[f"{source}/b.jsonl"] == "waiting"
        assert [s for p, s in statuses.items() if p != f"{source}/b.jsonl"].count("loaded") == 6
        assert (
            con.execute("SELECT count(*) FROM raw.load_files WHERE path = ?", [f"{source}/b.jsonl"]).fetchone()[0] == 0
        )
        monkeypatch.setattr(ingest, "_sha256", real)
        again = ingest_landing(con, landing, settle_seconds=0)
        assert [(r.path, r.status) for r in again.files if r.status != "skipped"] == [(f"{source}/b.jsonl", "loaded")]
        sha = con.execute("SELECT sha256 FROM raw.load_files WHERE path = ?", [f"{source}/b.jsonl"]).fetchone()[0]
        assert sha == hashlib.sha256(changed.read_bytes()).hexdigest()


@pytest.mark.parametrize("source", ["email_events", "web_events"])
def test_a_file_the_hashing_thread_cannot_read_fails_and_loads_on_the_next_run(tmp_path, monkeypatch, source):
    landing = tmp_path / "landing"
    _landing(landing)
    _group_web_events_only(monkeypatch, landing)
    unreadable = landing / source / "b.jsonl"
    real = ingest._sha256

    def sha256(path: Path) -> tuple[str, int]:
        if path == unreadable and threading.current_thread().name.startswith("landing-hash"):
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(ingest, "_sha256", sha256)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        report = ingest_landing(con, landing, settle_seconds=0)
        failed = [r for r in report.files if r.status == "failed"]
        assert [r.path for r in failed] == [f"{source}/b.jsonl"]
        assert failed[0].error.startswith(f"{source}/b.jsonl: cannot be read: [Errno 13] Permission denied")
        assert sum(r.status == "loaded" for r in report.files) == 6
        monkeypatch.setattr(ingest, "_sha256", real)  # readable again
        again = ingest_landing(con, landing, settle_seconds=0)
        assert [(r.path, r.status) for r in again.files if r.status != "skipped"] == [(f"{source}/b.jsonl", "loaded")]


@pytest.mark.parametrize("size", [0, 1, 6, 7, 8, 14, 15, 1_000])
def test_a_threads_buffered_read_gives_the_files_sha256(tmp_path, size):
    path = tmp_path / "f.jsonl"
    path.write_bytes(bytes(range(256)) * (size // 256) + bytes(range(size % 256)))
    unbuffered = ingest._sha256(path)
    ingest._READ_BUFFER.buffer = bytearray(7)  # as the hashing thread's, a few bytes: blocks end everywhere
    try:
        assert ingest._sha256(path) == unbuffered == (hashlib.sha256(path.read_bytes()).hexdigest(), size)
    finally:
        del ingest._READ_BUFFER.buffer


def test_the_hashing_thread_reads_into_its_buffer(tmp_path, monkeypatch):
    web_events_file(tmp_path / "landing", "a.jsonl", 1, 10)
    buffers = []
    real = ingest._sha256

    def sha256(path: Path) -> tuple[str, int]:
        buffers.append(len(getattr(ingest._READ_BUFFER, "buffer", b"")))
        return real(path)

    monkeypatch.setattr(ingest, "_sha256", sha256)
    with duckdb.connect(str(tmp_path / "wh.duckdb")) as con:
        ingest_landing(con, tmp_path / "landing", settle_seconds=0)
    assert buffers == [ingest._HASH_AHEAD_BLOCK_BYTES]
    assert getattr(ingest._READ_BUFFER, "buffer", None) is None  # the loading thread has none
