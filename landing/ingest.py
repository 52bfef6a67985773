"""Load landing files into the raw DuckDB tables.

Every file is loaded at most once (keyed by the SHA-256 of its content) and all or nothing: its rows, its quarantine
rows and its ``raw.load_files`` row commit together, so an interrupted run never leaves part of a file behind and
simply picks the file up again next time. Consecutive files of one source share a transaction ("group commit",
``_Group``) until they hold a few of DuckDB's row groups of raw rows: their accepted rows gather as Arrow, in file
and line order, and go into the raw table in one statement, which writes whole row groups that later checkpoints
have no need to rewrite (a transaction per file left a partial row group per file, and the checkpoints merging them
were most of the commits' time, a large part of the load's at 1M contacts). A source whose new files hold under
32 MB (too few rows to fill a row group) loads a transaction per file, as before. A JSON lines source's groups are
read ahead (``_Pipeline``): the next group's files are read and checked while a second thread writes and commits the
last group, with the same ids, rows and records in the same order. A file that is rejected, fails or
changes while loading leaves its group and is loaded on its own, so it is recorded exactly as with a transaction per
file; a crash leaves none of the open group's files loaded, and the next run loads them. A file seen before at the
same path with the same size and modification time is skipped without being read (a changed file always gets a new
modification time), so a run reads only new and changed files however many the landing folder holds. A CSV file that
DuckDB's reader can be shown to read exactly as Python's ``csv`` does (one record per line, no loose quotes, valid
UTF-8, ...) is read and checked by DuckDB, set-wise (``_load_csv_in_engine``); any other CSV file is parsed in
Python, row by row, for precise line numbers and quarantine reasons. JSON lines are split a block at a time (a
block whose every line is a plain ``{...}`` straight into Arrow strings, others line by line in Python) and checked
and inserted by DuckDB in batches through Arrow. Either way a row gets the same line number, columns and quarantine
reason.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import math
import os
import shutil
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from itertools import accumulate
from pathlib import Path
from typing import BinaryIO

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from landing.contract import SOURCES, TIMESTAMP_PATTERN, SourceSpec, is_timestamp, not_allowed_reason
from landing.schema import LOAD_FILES_TABLE, QUARANTINE_TABLE, ensure_raw_schema

__all__ = [
    "FileResult",
    "SourceGuess",
    "guess_source",
    "ignored_files",
    "IngestReport",
    "SourceTotals",
    "files_to_retry",
    "ingest_landing",
    "landing_settle_seconds",
    "load_file",
    "stage_file",
]

Progress = Callable[[str], None]

# A file is loaded once it has not changed (size and modification time) for this long; see landing_settle_seconds.
SETTLE_SECONDS_ENV = "ACTIONHOUSE_LANDING_SETTLE_SECONDS"
DEFAULT_SETTLE_SECONDS = 5.0

_CSV_BATCH_ROWS = 50_000
_JSONL_BATCH_ROWS = 200_000
_QUARANTINE_BATCH_ROWS = 50_000
# A quoted field may span line breaks (an address, a note), but not without bound: a quoted field that runs on
# over more than MAX_QUOTED_LINES physical lines or MAX_QUOTED_BYTES bytes is read as a stray quote, and the
# lines after the one where it opened are read as rows of their own (docs/landing-contract.md).
MAX_QUOTED_LINES = 200
MAX_QUOTED_BYTES = 1024 * 1024
# One field on one physical line can still be long; past this the CSV reader quarantines the row.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
# Quarantined raw text is kept whole up to this size; a longer row keeps its start, and its byte range (always
# recorded) points at the whole row in the landing file.
_RAW_TEXT_LIMIT = _CSV_FIELD_LIMIT
_BATCH_VIEW = "__landing_batch"


@dataclass
class FileResult:
    """Outcome of one landing file. Invariant: ``rows_loaded == rows_accepted + rows_quarantined``."""

    source: str
    path: str
    # "loaded"; "skipped" (content loaded before); "rejected" (bad input: final, never retried); "failed" (not
    # the file's fault — a bug, out of memory, the warehouse unavailable: nothing kept, tried again next run);
    # "waiting" (still being written: loaded on a later run once it stops changing).
    status: str
    rows_loaded: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    error: str | None = None
    sha256: str | None = None
    file_id: int | None = None
    saved_as: str | None = None  # how the file was saved, when not plain comma-delimited UTF-8


@dataclass
class SourceTotals:
    """Per-source sums over the files of one ingest run."""

    files_loaded: int = 0
    files_skipped: int = 0
    files_rejected: int = 0
    files_failed: int = 0
    files_waiting: int = 0
    rows_loaded: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0


@dataclass
class IngestReport:
    """Everything one ``ingest_landing`` run did: per-file results and notes on ignored files."""

    files: list[FileResult] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def totals(self) -> dict[str, SourceTotals]:
        """Totals per source (only sources that had at least one file)."""
        out: dict[str, SourceTotals] = {}
        for r in self.files:
            t = out.setdefault(r.source, SourceTotals())
            if r.status == "loaded":
                t.files_loaded += 1
            elif r.status == "skipped":
                t.files_skipped += 1
            elif r.status == "failed":
                t.files_failed += 1
            elif r.status == "waiting":
                t.files_waiting += 1
            else:
                t.files_rejected += 1
            t.rows_loaded += r.rows_loaded
            t.rows_accepted += r.rows_accepted
            t.rows_quarantined += r.rows_quarantined
        return out

    @property
    def rejected(self) -> list[FileResult]:
        """Files that could not be read at all."""
        return [r for r in self.files if r.status == "rejected"]

    @property
    def failed(self) -> list[FileResult]:
        """Files whose load failed for a reason other than their content; tried again on the next run."""
        return [r for r in self.files if r.status == "failed"]

    @property
    def waiting(self) -> list[FileResult]:
        """Files still being written; loaded on a later run once they stop changing."""
        return [r for r in self.files if r.status == "waiting"]

    def summary(self) -> str:
        """Human-readable multi-line summary, one line per source plus the notes."""
        lines = []
        for source, t in sorted(self.totals.items()):
            unfinished = "".join(
                f", {n} {label}"
                for n, label in ((t.files_failed, "failed"), (t.files_waiting, "still being written"))
                if n
            )
            lines.append(
                f"{source}: {t.files_loaded} loaded, {t.files_skipped} skipped, {t.files_rejected} rejected"
                f"{unfinished} files; {t.rows_accepted:,} rows accepted, {t.rows_quarantined:,} quarantined"
            )
        lines += [r.error for r in self.rejected + self.failed + self.waiting if r.error]
        lines += self.notes
        return "\n".join(lines) if lines else "nothing to load"


class FileRejected(Exception):
    """The file as a whole cannot be read; the message names the file and says why."""


# ---------------------------------------------------------------------------------------------------------
# Public entry points
# ---------------------------------------------------------------------------------------------------------


def ingest_landing(
    con: duckdb.DuckDBPyConnection,
    landing_dir: str | os.PathLike[str],
    sources: Iterable[str] | None = None,
    progress: Progress | None = None,
    settle_seconds: float | None = None,
) -> IngestReport:
    """Load every new file of the landing folder (or of the given ``sources``) into the raw tables.

    Files are taken per source in sorted path order; files whose content was loaded (or rejected) before
    are reported as ``skipped``. Bad rows go to ``raw.quarantine_rows``; unreadable files are recorded as
    ``rejected`` and never stop the other files; a load that fails for another reason is recorded as ``failed``
    and tried again next time. A file is only loaded once it has not changed for ``settle_seconds`` (default:
    :func:`landing_settle_seconds`); one still changing is reported as ``waiting``. Always creates the raw
    tables, even with nothing to load.
    """
    specs = _select_sources(sources)
    ensure_raw_schema(con)
    report = IngestReport()
    root = Path(landing_dir)
    if not root.is_dir():
        report.notes.append(f"landing folder {root} does not exist; nothing loaded")
        return report
    if sources is None:
        report.notes += _outside_source_folders(root)
    found = [(spec, path) for spec in specs for path in _discover(root, spec, report.notes)]
    settle = landing_settle_seconds() if settle_seconds is None else settle_seconds
    settled = _settled([path for _, path in found], settle, progress)
    loaded_before = _loaded_stamps(con)
    # Results in the order the files were found; a file's result is final (and said) once its group has committed.
    results: list[FileResult | None] = []
    said = 0
    unchanged = 0

    def done(index: int, result: FileResult | None) -> None:
        nonlocal said, unchanged
        results[index] = result if result is not None else _VANISHED
        while said < len(results) and results[said] is not None:
            r = results[said]
            said += 1
            if r is _VANISHED:
                continue
            report.files.append(r)
            if r.status == "skipped" and not r.error:
                unchanged += 1  # content loaded before under this very name: said once below, not per file
            elif progress is not None:
                progress(_progress_message(r))

    new_bytes: dict[str, int] = {}
    largest: dict[str, int] = {}
    for spec, path in found:
        stamp = settled.get(path)
        if stamp is not None and (_relative(path, root), *stamp) not in loaded_before:
            new_bytes[spec.name] = new_bytes.get(spec.name, 0) + stamp[0]
            largest[spec.name] = max(largest.get(spec.name, 0), stamp[0])
    group = _Group(con, done)
    pipelined = [
        (spec, path, _relative(path, root), stamp)
        for spec, path in found
        if (stamp := settled.get(path)) is not None
        and (_relative(path, root), *stamp) not in loaded_before
        and _pipelined(spec, new_bytes, largest)
    ]
    pipeline = _Pipeline(con, done, _ReadAhead(con, pipelined) if pipelined else None)
    try:
        _ingest_found(
            con, root, found, settled, loaded_before, new_bytes, largest, settle, group, pipeline, results, done
        )
    except BaseException:
        pipeline.close(hand_out=False)
        raise
    pipeline.close()
    if unchanged and progress is not None:
        progress(f"{unchanged:,} file(s) loaded before and unchanged: skipped")
    return report


def _ingest_found(
    con: duckdb.DuckDBPyConnection,
    root: Path,
    found: list[tuple[SourceSpec, Path]],
    settled: dict[Path, tuple[int, int]],
    loaded_before: dict[tuple[str, int, int], str],
    new_bytes: dict[str, int],
    largest: dict[str, int],
    settle: float,
    group: _Group,
    pipeline: _Pipeline,
    results: list[FileResult | None],
    done: Callable[[int, FileResult | None], None],
) -> None:
    """``ingest_landing``'s loop over the files found: each file skipped, loaded alone, in a group or in the
    pipeline (a JSON lines source with enough new bytes), its result handed to ``done`` (in order, by index)."""
    for spec, path in found:
        index = len(results)
        results.append(None)
        if pipeline.spec is not None and pipeline.spec is not spec:
            pipeline.commit()
        if group.spec is not None and group.spec is not spec:
            pipeline.wait()
            group.commit()
        rel = _relative(path, root)
        stamp = settled.get(path)
        if stamp is None and not path.exists():
            done(index, None)  # moved away or deleted since it was listed: nothing to load
            continue
        if stamp is not None and (rel, *stamp) in loaded_before:
            # Loaded (or rejected) before at this path with this size and modification time: not read again, so
            # an hourly run costs what the hour brought, not what the landing folder has gathered.
            done(index, FileResult(spec.name, rel, "skipped", sha256=loaded_before[(rel, *stamp)]))
            continue
        if stamp is None:
            result = FileResult(
                spec.name,
                rel,
                "waiting",
                error=f"{rel}: still being written (it changed within the last {settle:g} s); it loads on a later "
                "run once it stops changing",
            )
            done(index, result)
            continue
        if new_bytes.get(spec.name, 0) < _GROUP_MIN_BYTES:
            pipeline.wait()
            done(index, _ingest_file(con, spec, path, rel, stamp))
        elif _pipelined(spec, new_bytes, largest):
            pipeline.add(index, spec, path, rel, stamp)
        else:
            pipeline.wait()
            group.add(index, spec, path, rel, stamp)
    pipeline.commit()
    pipeline.wait()
    group.commit()


def _pipelined(spec: SourceSpec, new_bytes: dict[str, int], largest: dict[str, int]) -> bool:
    """Whether the source's new files load through the pipeline (:class:`_Pipeline`): a JSON lines source with at
    least ``_GROUP_MIN_BYTES`` of new files, none of them over ``_PIPELINE_MAX_FILE_BYTES``."""
    return (
        spec.format == "jsonl"
        and new_bytes.get(spec.name, 0) >= _GROUP_MIN_BYTES
        and largest[spec.name] <= _PIPELINE_MAX_FILE_BYTES
    )


def _loaded_stamps(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, int, int], str]:
    """(path, size, modification time in ns) -> SHA-256 of every file loaded or rejected before (final outcomes
    only: a failed load is tried again)."""
    rows = con.execute(
        f"SELECT path, size_bytes, modified_ns, any_value(sha256) FROM {LOAD_FILES_TABLE}"
        " WHERE status IN ('loaded', 'rejected') AND modified_ns IS NOT NULL GROUP BY ALL"
    ).fetchall()
    return {(path, size, modified): sha for path, size, modified, sha in rows}


def landing_settle_seconds() -> float:
    """How long a landing file must go unchanged before it is loaded: ``ACTIONHOUSE_LANDING_SETTLE_SECONDS``
    (default 5). A file copied into the landing folder in place is only complete once it stops growing."""
    text = os.environ.get(SETTLE_SECONDS_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_SETTLE_SECONDS
    except ValueError:
        raise ValueError(f"{SETTLE_SECONDS_ENV} must be a number of seconds, not {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{SETTLE_SECONDS_ENV} must be a number of seconds of 0 or more, not {text!r}")
    return value


def _stamp(path: Path) -> tuple[int, int] | None:
    """Size and modification time (ns) of a file, or None if it cannot be read."""
    try:
        st = path.stat()
    except OSError:
        return None
    return st.st_size, st.st_mtime_ns


def _settled(paths: list[Path], settle_seconds: float, progress: Progress | None = None) -> dict[Path, tuple[int, int]]:
    """The files that have stopped changing, each with its size and mtime (compared again after the load).

    A file last modified at least ``settle_seconds`` ago has settled. For younger ones this waits (once, for
    all of them) until each would be that old and looks again: a file whose size or mtime moved meanwhile is
    still being written and left out. A file that vanished is left out too.
    """
    stamps = {path: _stamp(path) for path in paths}
    now_ns = time.time_ns()
    settle_ns = int(settle_seconds * 1e9)
    young = {path: stamp for path, stamp in stamps.items() if stamp and now_ns - stamp[1] < settle_ns}
    if young:
        # A modification time in the future (a skewed clock) waits the whole window.
        wait = min(settle_ns, max(settle_ns - (now_ns - stamp[1]) for stamp in young.values())) / 1e9
        if progress is not None:
            progress(
                f"{len(young)} file(s) changed within the last {settle_seconds:g} s: waiting {wait:.1f} s to see"
                " that they stopped changing"
            )
        time.sleep(wait)
        for path, stamp in young.items():
            if _stamp(path) != stamp:
                stamps[path] = None
    return {path: stamp for path, stamp in stamps.items() if stamp is not None}


def ignored_files(landing_dir: str | os.PathLike[str]) -> list[str]:
    """What in the landing folder no refresh will load, each with why: unknown folders, files outside any
    source folder, files of the wrong type in a source folder (what `ingest_landing` reports as notes)."""
    root = Path(landing_dir)
    if not root.is_dir():
        return []
    notes = _outside_source_folders(root)
    for spec in SOURCES.values():
        _discover(root, spec, notes)
    return notes


def _outside_source_folders(root: Path) -> list[str]:
    known_folders = {spec.folder for spec in SOURCES.values()}
    notes = []
    for child in sorted(root.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir() and child.name not in known_folders:
            notes.append(f"{child.name}/: not a known source folder, ignored")
        elif child.is_file():
            notes.append(f"{child.name}: file outside any source folder, ignored")
    return notes


def load_file(
    con: duckdb.DuckDBPyConnection,
    source_name: str,
    path: str | os.PathLike[str],
    landing_dir: str | os.PathLike[str],
) -> FileResult:
    """Load one file as ``source_name`` (skipped if its content was loaded before).

    The recorded path is relative to ``landing_dir`` when the file is inside it (see :func:`stage_file`).
    """
    spec = _select_sources([source_name])[0]
    ensure_raw_schema(con)
    path = Path(path)
    return _ingest_file(con, spec, path, _relative(path, Path(landing_dir)))


def stage_file(path: str | os.PathLike[str], landing_dir: str | os.PathLike[str], source_name: str) -> Path:
    """Copy ``path`` into the source's landing folder under a name no other file uses, and return it.

    If a file with identical content already sits there under the same name, that file is returned
    instead of making a second copy. The copy is written under a hidden temporary name and renamed, so a
    concurrent ingest never sees a half-written file.
    """
    spec = _select_sources([source_name])[0]
    src = Path(path)
    if not src.is_file():
        raise FileNotFoundError(f"{src} does not exist or is not a file")
    folder = Path(landing_dir) / spec.folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / src.name
    if target.exists() and _sha256(target)[0] == _sha256(src)[0]:
        return target
    stem, suffix = _split_name(src.name)
    n = 1
    while target.exists():
        target = folder / f"{stem}_{n}{suffix}"
        n += 1
    tmp = folder / f".{target.name}.{uuid.uuid4().hex}.partial"
    shutil.copyfile(src, tmp)
    os.replace(tmp, target)
    return target


@dataclass
class SourceGuess:
    """Which landing source a file's header says it is: ``source`` when one fits clearly, else None with why.

    ``evidence`` lists the header labels (or JSON keys) only that source knows among the candidates."""

    source: str | None
    evidence: list[str] = field(default_factory=list)
    candidates: list[str] = field(default_factory=list)
    problem: str | None = None
    evidence_by_source: dict[str, list[str]] = field(default_factory=dict)

    def contradicts(self, source: str) -> bool:
        """Whether the header clearly belongs to another source than ``source``: another source has labels of
        its own here and ``source`` has none (or the header lacks what ``source`` requires)."""
        if self.source is None or self.source == source:
            return False
        return not self.evidence_by_source.get(source)


def _header_labels(path: Path, spec: SourceSpec) -> set[str]:
    """Lower-cased header labels of a CSV (read with the delimiter that suits ``spec``), or the keys of a JSON
    lines file's first object."""
    if spec.format == "csv":
        delimiter = _detect_delimiter(path, spec)
        with open(path, "rb") as f:
            head = f.read(_SNIFF_BYTES).decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
        lines = [line for line in head.splitlines() if line.strip()]
        if not lines:
            return set()
        with contextlib.suppress(csv.Error, StopIteration):
            return {label.strip().lower() for label in next(csv.reader([lines[0]], delimiter=delimiter))}
        return set()
    with open(path, "rb") as f:
        first = f.readline().decode("utf-8", errors="replace").strip()
    with contextlib.suppress(ValueError):
        obj = json.loads(first)
        if isinstance(obj, dict):
            return {str(key).lower() for key in obj}
    return set()


def guess_source(path: str | os.PathLike[str]) -> SourceGuess:
    """The landing source a file belongs to, read from its header (CSV) or first line (JSON lines).

    Candidates are the sources of the file's format whose required columns the header holds; among them the one
    with the most labels no other candidate knows wins (HubSpot's contacts, companies, deals and tickets exports
    all require only `Record ID`, so the distinctive labels decide). A tie, or no distinctive label, is ambiguous.
    """
    path = Path(path)
    fmt = "jsonl" if path.name.lower().endswith((".jsonl", ".ndjson")) else "csv"
    specs = [spec for spec in SOURCES.values() if spec.format == fmt]
    labels_by_source = {spec.name: _header_labels(path, spec) for spec in specs}
    candidates = [spec for spec in specs if {r.lower() for r in spec.required} <= labels_by_source[spec.name]]
    if not candidates:
        return SourceGuess(None, problem="its header has the required columns of no source")
    known = {spec.name: {c.lower() for c in spec.columns} for spec in candidates}
    distinctive: dict[str, list[str]] = {}
    for spec in candidates:
        others = set().union(*(known[o.name] for o in candidates if o is not spec))
        matched = labels_by_source[spec.name] & (known[spec.name] - others)
        distinctive[spec.name] = [c for c in spec.columns if c.lower() in matched]
    ranked = sorted(candidates, key=lambda spec: len(distinctive[spec.name]), reverse=True)
    names = [spec.name for spec in ranked]
    best = ranked[0].name
    if not distinctive[best]:
        return SourceGuess(
            None, candidates=names, problem="its header fits several sources equally", evidence_by_source=distinctive
        )
    if len(ranked) > 1 and len(distinctive[ranked[1].name]) == len(distinctive[best]):
        tied = [n for n in names if len(distinctive[n]) == len(distinctive[best])]
        return SourceGuess(
            None, candidates=tied, problem="its header fits several sources equally", evidence_by_source=distinctive
        )
    return SourceGuess(best, distinctive[best], names, evidence_by_source=distinctive)


# ---------------------------------------------------------------------------------------------------------
# Discovery and bookkeeping
# ---------------------------------------------------------------------------------------------------------


def _select_sources(sources: Iterable[str] | None) -> list[SourceSpec]:
    if sources is None:
        return list(SOURCES.values())
    names = [sources] if isinstance(sources, str) else list(sources)
    unknown = [n for n in names if n not in SOURCES]
    if unknown:
        raise ValueError(f"unknown source(s) {unknown}; known: {', '.join(SOURCES)}")
    return [SOURCES[n] for n in names]


def _split_name(name: str) -> tuple[str, str]:
    # Keep compound suffixes like ".csv.gz" together so the copy keeps a loadable extension.
    dot = name.find(".", 1)
    return (name, "") if dot == -1 else (name[:dot], name[dot:])


def _relative(path: Path, root: Path) -> str:
    try:
        return path.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path.resolve().as_posix()


def _discover(root: Path, spec: SourceSpec, notes: list[str]) -> list[Path]:
    folder = root / spec.folder
    if not folder.is_dir():
        return []
    found = []
    for path in sorted(folder.rglob("*"), key=lambda p: p.relative_to(folder).as_posix()):
        if not path.is_file():
            continue
        rel = _relative(path, root)
        if path.name.endswith(".partial") and path.name.startswith("."):
            continue  # stage_file's copy in flight
        if path.name.startswith("."):
            # A copy written under a hidden name and renamed when complete is never loaded half-written.
            notes.append(f"{rel}: ignored (hidden file; a file copied in under a hidden name loads once renamed)")
            continue
        if not path.name.lower().endswith(spec.extensions):
            notes.append(f"{rel}: ignored (not a {'/'.join(spec.extensions)} file)")
            continue
        found.append(path)
    return found


def _sha256(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _progress_message(r: FileResult) -> str:
    if r.status == "skipped":
        return f"{r.path}: skipped ({r.error})" if r.error else f"{r.path}: skipped"
    if r.status == "rejected":
        return f"{r.path}: REJECTED, {r.rows_quarantined:,} rows quarantined: {r.error}"
    if r.status in ("failed", "waiting"):
        return f"{r.path}: {'FAILED' if r.status == 'failed' else 'not loaded yet'}: {r.error}"
    saved_as = f" ({r.saved_as})" if r.saved_as else ""
    return f"{r.path}: {r.rows_loaded:,} rows, {r.rows_quarantined:,} quarantined{saved_as}"


def _ingest_file(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path, rel: str, stamp: tuple[int, int] | None = None
) -> FileResult:
    """Load one file in one transaction. ``stamp`` (size, mtime) is what the file looked like when it was judged
    settled: a file that changes while it loads is rolled back and left for a later run."""
    hashed = _hash_unless_loaded(con, spec, path, rel, stamp)
    if isinstance(hashed, FileResult):
        return hashed
    sha, size = hashed
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        result = _write_file(con, spec, path, rel, stamp, sha, size, loaded_at, alone=True)
        if result.status == "waiting":
            con.execute("ROLLBACK")
            return result
        con.execute("COMMIT")
    except Exception as e:  # not the file's fault: a bug, out of memory, the warehouse unavailable
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        error = (
            f"{rel}: loading failed ({type(e).__name__}: {e}); nothing of it was kept and the next run tries it again"
            " (only a file rejected for its content is not retried)"
        )
        return FileResult(
            spec.name,
            rel,
            "failed",
            error=error,
            sha256=sha,
            file_id=_record_failure(con, spec, rel, sha, size, loaded_at, error),
        )
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return result


def _hash_unless_loaded(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path, rel: str, stamp: tuple[int, int] | None
) -> FileResult | tuple[str, int]:
    """The file's SHA-256 and size, or its result when it is not to be loaded: ``skipped`` (its content was loaded
    or rejected before) or ``failed`` (it cannot be read)."""
    hashed = _hash(spec, path, rel)
    if isinstance(hashed, FileResult):
        return hashed
    sha, size = hashed
    return _prior_result(con, spec, rel, stamp, sha, size) or hashed


def _hash(spec: SourceSpec, path: Path, rel: str) -> FileResult | tuple[str, int]:
    """The file's SHA-256 and size, or its ``failed`` result when it cannot be read."""
    try:
        return _sha256(path)
    except OSError as e:
        # Not recorded: an unreadable file (permissions, vanished) is usually transient.
        return FileResult(spec.name, rel, "failed", error=f"{rel}: cannot be read: {e}; tried again on the next run")


def _path_loaded_before(con: duckdb.DuckDBPyConnection, sha: str) -> str | None:
    """The path of a file of this content loaded or rejected before, else None."""
    # Only a load or a rejection for bad input is final; a failed attempt is tried again.
    # fetchall, not fetchone: duckdb 2.0 refuses further work on a connection with an unfinished result.
    rows = con.execute(
        f"SELECT path FROM {LOAD_FILES_TABLE} WHERE sha256 = ? AND status IN ('loaded', 'rejected') LIMIT 1", [sha]
    ).fetchall()
    return rows[0][0] if rows else None


def _prior_result(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, rel: str, stamp: tuple[int, int] | None, sha: str, size: int
) -> FileResult | None:
    """The ``skipped`` result of a file whose content was loaded or rejected before, else None."""
    prior = _path_loaded_before(con, sha)
    if prior is not None:
        if prior == rel and stamp is not None and size == stamp[0]:
            # Touched but unchanged (or loaded before modification times were kept): remember how it looks now,
            # so the next run skips it without reading it again.
            con.execute(
                f"UPDATE {LOAD_FILES_TABLE} SET modified_ns = ? WHERE path = ? AND sha256 = ?"
                " AND status IN ('loaded', 'rejected')",
                [stamp[1], rel, sha],
            )
        note = None if prior == rel else f"same content as {prior}"
        return FileResult(spec.name, rel, "skipped", error=note, sha256=sha)
    return None


class _NotForGroup(Exception):
    """A file of a group was rejected, failed or changed while loading: it is loaded again on its own."""


def _write_file(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    path: Path,
    rel: str,
    stamp: tuple[int, int] | None,
    sha: str,
    size: int,
    loaded_at: datetime,
    alone: bool,
    gather: _Gathered | None = None,
) -> FileResult:
    """Write one file's rows, quarantine rows and ``raw.load_files`` row in the open transaction; the caller
    commits. A file that changed while it loaded is returned as ``waiting`` (the caller rolls back). With
    ``alone``, a rejected file is recorded (its rows rolled back, every data line quarantined); without (the file
    shares its transaction with others), a rejected or changed file raises :class:`_NotForGroup` instead. With
    ``gather``, the accepted rows are held there instead of inserted (the group inserts them on commit)."""
    file_id = _next_file_id(con)
    writer = _Writer(con, spec, rel, file_id, loaded_at, gather)
    status, error, dialect = "loaded", None, _Dialect()
    try:
        parse = _parse_csv if spec.format == "csv" else _parse_jsonl
        dialect = parse(path, spec, rel, writer)
        writer.flush()
    except FileRejected as e:  # bad input: recorded, with every row quarantined, and final
        if not alone:
            raise _NotForGroup from e
        error = str(e)
        status = "rejected"
        con.execute("ROLLBACK")
        con.execute("BEGIN TRANSACTION")
        writer = _Writer(con, spec, rel, file_id, loaded_at)
        _quarantine_whole_file(path, spec, writer, error)
        writer.flush()
    if stamp is not None and _stamp(path) != stamp:
        if not alone:
            raise _NotForGroup
        return FileResult(
            spec.name,
            rel,
            "waiting",
            sha256=sha,
            error=f"{rel}: changed while it was loading (still being written?); it loads on a later run",
        )
    return _record_load(
        con,
        spec,
        rel,
        stamp,
        sha,
        size,
        loaded_at,
        file_id,
        status,
        error,
        dialect,
        writer.accepted,
        writer.quarantined,
    )


def _record_load(
    con: duckdb.DuckDBPyConnection,
    spec: SourceSpec,
    rel: str,
    stamp: tuple[int, int] | None,
    sha: str,
    size: int,
    loaded_at: datetime,
    file_id: int,
    status: str,
    error: str | None,
    dialect: _Dialect,
    accepted: int,
    quarantined: int,
) -> FileResult:
    """Write a loaded (or rejected) file's ``raw.load_files`` row in the open transaction; its result."""
    con.execute(
        f"INSERT INTO {LOAD_FILES_TABLE} (file_id, source, path, sha256, size_bytes, status, rows_loaded,"
        " rows_accepted, rows_quarantined, error, loaded_at, delimiter, encoding, line_ending, modified_ns)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            file_id,
            spec.name,
            rel,
            sha,
            size,
            status,
            accepted + quarantined,
            accepted,
            quarantined,
            error,
            loaded_at,
            dialect.delimiter,
            dialect.encoding,
            dialect.line_ending,
            stamp[1] if stamp is not None and size == stamp[0] else None,
        ],
    )
    return FileResult(
        spec.name,
        rel,
        status,
        rows_loaded=accepted + quarantined,
        rows_accepted=accepted,
        rows_quarantined=quarantined,
        error=error,
        sha256=sha,
        file_id=file_id,
        saved_as=dialect.unusual(),
    )


# DuckDB writes a transaction's appended rows straight into the warehouse file in whole row groups of this many rows
# when it appends at least that many to a table, but each INSERT statement leaves a partial row group at its end, and
# checkpoints later rewrite runs of partial row groups to merge them ("vacuum"), the more the larger the warehouse. A
# group of files is appended by one statement and commits once it holds this many raw rows (a few row groups), or
# when its source has no more files.
_ROW_GROUP_ROWS = 122_880
_GROUP_ROWS = 4 * _ROW_GROUP_ROWS
# A source whose new files hold fewer bytes than this cannot fill a row group (~34 MB of product events at ~280
# bytes a row): its files load one transaction each, without a group's gathering, which costs more there than the
# checkpoints it saves (10k contacts: ~0.5 s a refresh).
_GROUP_MIN_BYTES = 32 * 1024 * 1024
# A group's gathered rows are inserted early (in its transaction, in order) once their Arrow buffers hold this
# much: a file far larger than a group's row count is not held in memory whole (it fills row groups of its own).
_GATHER_MAX_BYTES = 1024 * 1024 * 1024
# The view a group's gathered rows are inserted from.
_GATHERED_VIEW = "__landing_group_rows"
# What ``ingest_landing`` records for a file that vanished between listing and loading: no result.
_VANISHED = FileResult("", "", "vanished")


class _Gathered:
    """The accepted rows of a group's files, held as Arrow tables in file and line order until the group inserts
    them into ``table`` with one statement.

    Each batch is the result of the query that would have inserted it, in the table's columns and types (what an
    ``INSERT ... BY NAME`` would have written). Its JSON columns are marked as JSON for Arrow (``arrow.json``), so
    the insert takes DuckDB's JSON values as they are instead of parsing them again. Holding the rows as Arrow
    replaces a temporary table and an ``INSERT ... ORDER BY`` from it: no sort and no second copy, and the one
    insert of batches already in order writes the same whole row groups.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, table: str, hold: bool = False) -> None:
        self.con, self.table = con, table
        # With ``hold`` (a file read ahead of its transaction, see _Pipeline) rows are never inserted from here.
        self.hold = hold
        self.columns = [(name, typ) for name, typ, *_ in con.execute(f"DESCRIBE {table}").fetchall()]
        self.batches: list[pa.Table] = []
        self.nbytes = 0
        self.inserted = 0

    def add(self, select: str, params: list[object], json_text: tuple[str, ...] = ()) -> int:
        """Run ``select`` (the rows one file's batch would insert) and hold its rows; how many there were.

        ``json_text`` names JSON columns the select gives as text already known to be valid JSON (a JSON lines
        file's line, checked by the select's own parse): they are held as that text, not cast to JSON, since a cast
        would parse every value again only to return it unchanged."""
        columns = ", ".join(
            _q(name) if name in json_text else f"CAST({_q(name)} AS {typ}) AS {_q(name)}" for name, typ in self.columns
        )
        empty = ", ".join(
            f"CAST({_q(name)} AS VARCHAR) AS {_q(name)}" if name in json_text else _q(name) for name, _ in self.columns
        )
        # UNION ALL BY NAME with the table's empty scan fills the columns the select lacks with NULL, as
        # INSERT ... BY NAME does.
        batch = self.con.sql(
            f"SELECT {columns} FROM ((SELECT {empty} FROM {self.table} LIMIT 0) UNION ALL BY NAME ({select}))",
            params=params,
        ).to_arrow_table()
        if batch.num_rows == 0:
            return 0
        # A batch is one file's, in line order as the raw table keeps it. DuckDB keeps the order of the rows it
        # scans as long as every step of the query does (a join, for one, does not): checked, and sorted if not.
        lines = batch.column("_source_line")
        if batch.num_rows > 1 and not pc.all(pc.less(lines[:-1], lines[1:])).as_py():
            batch = batch.sort_by("_source_line")
        for i, (name, typ) in enumerate(self.columns):
            if typ == "JSON":
                column = batch.column(i)
                json_type = pa.json_(column.type)
                chunks = [pa.ExtensionArray.from_storage(json_type, chunk) for chunk in column.chunks]
                batch = batch.set_column(i, name, pa.chunked_array(chunks, json_type))
        self.extend([batch])
        return batch.num_rows

    def extend(self, batches: list[pa.Table]) -> None:
        """Hold ``batches`` (in order) behind the rows held so far; insert early past ``_GATHER_MAX_BYTES``."""
        for batch in batches:
            self.batches.append(batch)
            self.nbytes += batch.nbytes
            if self.nbytes >= _GATHER_MAX_BYTES and not self.hold:
                self.insert()

    def insert(self) -> None:
        """Insert the rows held so far into the table, in the order they came, with one statement."""
        if not self.batches:
            return
        rows = pa.concat_tables(self.batches)
        self.batches, self.nbytes = [], 0
        # One Arrow chunk: DuckDB writes whole row groups from it, where chunks of a file's batch each (not a row
        # group's multiple) leave partial row groups and, rewritten at the next checkpoint, free blocks in the file.
        with contextlib.suppress(pa.ArrowException):  # a column past Arrow's 2 GB a chunk: kept as it is
            rows = rows.combine_chunks()
        self.con.register(_GATHERED_VIEW, rows)
        try:
            self.inserted += self.con.execute(
                f"INSERT INTO {self.table} BY NAME SELECT * FROM {_GATHERED_VIEW}"
            ).fetchall()[0][0]
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it; keep the first error
                self.con.unregister(_GATHERED_VIEW)


class _Group:
    """Consecutive files of one source loaded in one transaction and committed together ("group commit").

    Each file is read and checked as on its own, but its accepted rows gather as Arrow (:class:`_Gathered`); at
    commit one statement appends the group's rows to the raw table, in file order. Each file stays all-or-nothing: its
    rows, quarantine rows and ``raw.load_files`` row commit with the group, or not at all (a crash, or a failed
    commit, leaves none of the group's files loaded: the next run loads them again). A file that is rejected,
    fails or changes while loading rolls the group back: the files before it load again as a group, and it is
    then loaded on its own, exactly as :func:`_ingest_file` loads a file, so its outcome and records are what
    one transaction per file gives. A commit that fails is followed by each of the group's files on its own.
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, done: Callable[[int, FileResult | None], None]) -> None:
        self.con, self.done = con, done
        self.spec: SourceSpec | None = None
        self.members: list[tuple[int, SourceSpec, Path, str, tuple[int, int]]] = []
        self.results: list[FileResult] = []
        self.rows = 0
        self.gathered: _Gathered | None = None

    def add(self, index: int, spec: SourceSpec, path: Path, rel: str, stamp: tuple[int, int]) -> None:
        """Load a file into the group's transaction (opened on its first file); commit once the group is full."""
        if not self.members:
            self.con.execute("BEGIN TRANSACTION")
            self.spec = spec
            self.gathered = _Gathered(self.con, spec.table)
        try:
            hashed = _hash_unless_loaded(self.con, spec, path, rel, stamp)
            if isinstance(hashed, FileResult):  # skipped or unreadable: nothing written but a skipped file's stamp
                result = hashed
            else:
                sha, size = hashed
                loaded_at = datetime.now(UTC).replace(tzinfo=None)
                result = _write_file(self.con, spec, path, rel, stamp, sha, size, loaded_at, False, self.gathered)
        except Exception:  # rejected, changed or failed: the group's other files load without it
            self._rollback()
            before = self.members
            self.members, self.results, self.rows, self.spec = [], [], 0, None
            for earlier in before:
                self.add(*earlier)
            self.commit()
            self.done(index, _ingest_file(self.con, spec, path, rel, stamp))
            return
        except BaseException:
            self._rollback()
            raise
        self.members.append((index, spec, path, rel, stamp))
        self.results.append(result)
        self.rows += result.rows_accepted
        if self.rows >= _GROUP_ROWS:
            self.commit()

    def commit(self) -> None:
        """Commit the group's files and hand out their results. A commit that fails rolls the whole group back,
        and each of its files is then loaded on its own (and recorded as failed if it fails again)."""
        members, results, gathered = self.members, self.results, self.gathered
        self.members, self.results, self.rows, self.spec, self.gathered = [], [], 0, None, None
        if not members or gathered is None:
            return
        try:
            table = members[0][1].table
            # One statement appends the whole group, in file order (files are taken in path order; a line is one
            # row), as one stream: whole row groups and one partial one at the end. A statement per file leaves a
            # partial row group per file, which later checkpoints rewrite to merge them.
            gathered.insert()
            accepted = sum(result.rows_accepted for result in results)
            if gathered.inserted != accepted:  # never lose a row silently
                raise RuntimeError(f"{table}: {gathered.inserted} rows inserted of the group's {accepted} accepted")
            self.con.execute("COMMIT")
        except Exception:
            self._rollback()
            for index, spec, path, rel, stamp in members:
                self.done(index, _ingest_file(self.con, spec, path, rel, stamp))
            return
        except BaseException:
            self._rollback()
            raise
        for (index, *_), result in zip(members, results, strict=True):
            self.done(index, result)

    def _rollback(self) -> None:
        self.gathered = None
        with contextlib.suppress(duckdb.Error):
            self.con.execute("ROLLBACK")


# A JSON lines source is read ahead of its commits (_Pipeline) only when none of its new files is larger than this:
# a file is held whole as Arrow before its transaction (a larger one loads through _Group, which inserts early).
_PIPELINE_MAX_FILE_BYTES = 256 * 1024 * 1024


@dataclass
class _Prepared:
    """A JSON lines file read and checked ahead of its transaction: what ``_write_file`` would write for it."""

    sha: str
    size: int
    loaded_at: datetime
    dialect: _Dialect | None  # None: its content was loaded before, so it was hashed and not read
    batches: list[pa.Table]  # the accepted rows, as _Gathered holds them
    quarantine: list[pa.Table]  # the quarantine rows, in the batches _Writer inserts them
    accepted: int
    quarantined: int


def _prepare_file(
    cur: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path, rel: str, stamp: tuple[int, int]
) -> _Prepared | FileResult:
    """Read and check a JSON lines file as ``_write_file`` does in a group, writing nothing: the checks run on
    ``cur`` (a cursor of the warehouse), the rows and quarantine rows are held. An unreadable file gives its
    ``failed`` result; a rejected or changed file (or any error) raises, as in a group."""
    hashed = _hash(spec, path, rel)
    if isinstance(hashed, FileResult):
        return hashed
    sha, size = hashed
    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    # Content loaded before (a copy under another name): not read, as serially; skipped in the write.
    if _path_loaded_before(cur, sha) is not None:
        return _Prepared(sha, size, loaded_at, None, [], [], 0, 0)
    gathered = _Gathered(cur, spec.table, hold=True)
    writer = _Writer(cur, spec, rel, 0, loaded_at, gathered)
    writer.held = []
    dialect = _parse_jsonl(path, spec, rel, writer)
    writer.flush()
    if _stamp(path) != stamp:
        raise _NotForGroup
    return _Prepared(sha, size, loaded_at, dialect, gathered.batches, writer.held, writer.accepted, writer.quarantined)


_Member = tuple[int, SourceSpec, Path, str, tuple[int, int], "_Prepared | FileResult"]


def _write_prepared(con: duckdb.DuckDBPyConnection, members: list[_Member]) -> list[FileResult] | None:
    """Write a group of prepared files in one transaction on ``con``, in order, as ``_Group`` writes its files: each
    file's skip check, id, quarantine rows and ``raw.load_files`` row, then the group's rows in one statement. Their
    results; None when anything failed (all rolled back: each file is then loaded on its own)."""
    con.execute("BEGIN TRANSACTION")
    try:
        gathered = _Gathered(con, members[0][1].table)
        results = []
        for _, spec, _, rel, stamp, prepared in members:
            if isinstance(prepared, FileResult):  # unreadable: nothing written
                results.append(prepared)
                continue
            p = prepared
            skipped = _prior_result(con, spec, rel, stamp, p.sha, p.size)
            if skipped is not None:
                results.append(skipped)
                continue
            if p.dialect is None:  # its earlier load is gone (cannot be): each file of the group on its own
                raise RuntimeError(f"{rel}: the earlier load of its content is no longer recorded")
            file_id = _next_file_id(con)
            for table in p.quarantine:
                con.register(_BATCH_VIEW, table)
                try:
                    con.execute(_quarantine_sql(file_id, spec, rel), [p.loaded_at])
                finally:
                    with contextlib.suppress(duckdb.Error):
                        con.unregister(_BATCH_VIEW)
            results.append(
                _record_load(
                    con,
                    spec,
                    rel,
                    stamp,
                    p.sha,
                    p.size,
                    p.loaded_at,
                    file_id,
                    "loaded",
                    None,
                    p.dialect,
                    p.accepted,
                    p.quarantined,
                )
            )
            gathered.extend(p.batches)
            p.batches = []  # held by the gathering (and let go by its insert) only
        gathered.insert()
        accepted = sum(result.rows_accepted for result in results)
        if gathered.inserted != accepted:  # never lose a row silently
            raise RuntimeError(
                f"{gathered.table}: {gathered.inserted} rows inserted of the group's {accepted} accepted"
            )
        con.execute("COMMIT")
    except Exception:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        return None
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return results


class _Pipeline:
    """A group commit (see :class:`_Group`) for JSON lines sources, with each group's writing overlapped with the
    reading of the next: both cores busy where one group at a time left one mostly idle.

    The main thread reads and checks each file on a cursor of its own (:func:`_prepare_file`: hashing, splitting,
    DuckDB's check and projection query; nothing written); a full group is then written and committed on the
    warehouse connection by one background thread (:func:`_write_prepared`), in file order, while the main thread
    reads the next group's files. Only one group is written at a time, and every file id, skip check and record is
    made in that transaction in file order, so the tables, ids and results are those of ``_Group``: a file that
    fails to read, is rejected or changes is loaded on its own after the files before it commit; a group whose
    write fails is rolled back and each of its files loaded on its own. Results are handed to ``done`` on the main
    thread (in :meth:`wait`), so messages keep their order. The warehouse connection is used only by the writing
    thread while one runs: :meth:`wait` before using it.
    """

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        done: Callable[[int, FileResult | None], None],
        read_ahead: _ReadAhead | None = None,
    ) -> None:
        self.con, self.done = con, done
        # Reads and checks the pipeline's files (all of them, in order) on a thread of its own; without it (no
        # file for the pipeline) nothing is read ahead.
        self.read_ahead = read_ahead
        self.spec: SourceSpec | None = None
        self.members: list[_Member] = []
        self.rows = self.nbytes = 0
        self.thread: threading.Thread | None = None
        self.writing: list[_Member] = []
        self.outcome: list[FileResult] | BaseException | None = None

    def add(self, index: int, spec: SourceSpec, path: Path, rel: str, stamp: tuple[int, int]) -> None:
        """Take a file read and checked ahead of its group's transaction; start writing the group once it is full."""
        if self.read_ahead is None:
            raise RuntimeError(f"{rel}: not among the files listed for the pipeline")
        if self.spec is not None and self.spec is not spec:
            self.commit()
        self.spec = spec
        try:
            prepared = self.read_ahead.take(path)
        except Exception:  # rejected, changed or failed: the files before it commit, it loads on its own
            self.commit()
            self.wait()
            self.done(index, _ingest_file(self.con, spec, path, rel, stamp))
            return
        self.members.append((index, spec, path, rel, stamp, prepared))
        if isinstance(prepared, _Prepared):
            self.rows += prepared.accepted
            self.nbytes += sum(batch.nbytes for batch in prepared.batches)
        # Past _GATHER_MAX_BYTES a _Group inserts early; here the group is written instead, bounding what is held.
        if self.rows >= _GROUP_ROWS or self.nbytes >= _GATHER_MAX_BYTES:
            self.commit()

    def commit(self) -> None:
        """Start writing the files read so far as one group (after the group being written, if any)."""
        members = self.members
        self.members, self.rows, self.nbytes, self.spec = [], 0, 0, None
        if not members:
            return
        self.wait()
        self.writing, self.outcome = members, None

        def write() -> None:
            try:
                self.outcome = _write_prepared(self.con, members)
            except BaseException as e:  # handed to the main thread by wait()
                self.outcome = e

        self.thread = threading.Thread(target=write, name="landing-group-write")
        self.thread.start()

    def wait(self) -> None:
        """Wait for the group being written, if any, and hand out its files' results."""
        if self.thread is None:
            return
        self.thread.join()
        members, outcome = self.writing, self.outcome
        self.thread, self.writing, self.outcome = None, [], None
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome is None:  # the group's write failed and was rolled back: each file on its own
            for index, spec, path, rel, stamp, _ in members:
                self.done(index, _ingest_file(self.con, spec, path, rel, stamp))
            return
        for (index, *_), result in zip(members, outcome, strict=True):
            self.done(index, result)

    def close(self, hand_out: bool = True) -> None:
        """Wait for any write (its results handed out unless ``hand_out`` is false: the run failed) and stop the
        reading ahead."""
        try:
            if hand_out:
                self.wait()
            elif self.thread is not None:
                self.thread.join()
                self.thread = None
        finally:
            if self.read_ahead is not None:
                self.read_ahead.close()


# How much of the pipeline's files (their rows and quarantine rows as Arrow) the reading thread holds ahead of the
# file being taken: enough to keep it busy while the main thread loads other sources (the CSV sources before the
# JSON lines ones), bounded so that the rows held while a group is written grow by at most this much.
_READ_AHEAD_BYTES = _GATHER_MAX_BYTES


class _ReadAhead:
    """The pipeline's files read and checked (:func:`_prepare_file`) in load order on a thread of their own, while
    the main thread loads the sources before them, and the pipeline writes the groups before them.

    The files are those ``ingest_landing`` will hand to the pipeline, known once the landing folder is listed (see
    :func:`_pipelined`); the main thread takes them in that order (:meth:`take`). The thread writes nothing (its
    cursor only reads), so which file gets which id, and every record, are made by the writing side in load order
    as before; a file whose content commits meanwhile under another name is found by the skip check in its group's
    transaction. Up to ``_READ_AHEAD_BYTES`` of read files wait to be taken; past that the thread waits.
    """

    def __init__(
        self, con: duckdb.DuckDBPyConnection, files: list[tuple[SourceSpec, Path, str, tuple[int, int]]]
    ) -> None:
        self.files = deque(files)
        self.cursor = con.cursor()
        self.cursor.execute("SET TimeZone = 'UTC'")
        self.changed = threading.Condition()
        # Read files not taken yet, in order: (path, what _prepare_file gave or raised, bytes held).
        self.ready: deque[tuple[Path, _Prepared | FileResult | BaseException, int]] = deque()
        self.held = 0
        self.stopped = False
        self.thread = threading.Thread(target=self._read, name="landing-read-ahead", daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            while self.files:
                with self.changed:
                    while self.held >= _READ_AHEAD_BYTES and not self.stopped:
                        self.changed.wait()
                    if self.stopped:
                        return
                spec, path, rel, stamp = self.files.popleft()
                outcome: _Prepared | FileResult | BaseException
                try:
                    outcome = _prepare_file(self.cursor, spec, path, rel, stamp)
                except BaseException as e:  # raised by take(), where the main thread would have raised it
                    outcome = e
                held = outcome.batches + outcome.quarantine if isinstance(outcome, _Prepared) else []
                size = sum(table.nbytes for table in held)
                with self.changed:
                    self.ready.append((path, outcome, size))
                    self.held += size
                    self.changed.notify_all()
                if isinstance(outcome, BaseException) and not isinstance(outcome, Exception):
                    return
        finally:
            self.cursor.close()
            with self.changed:
                self.stopped = True
                self.changed.notify_all()

    def take(self, path: Path) -> _Prepared | FileResult:
        """The next file's preparation (waiting for it), which must be ``path``'s; raises what preparing it raised."""
        with self.changed:
            while not self.ready and not self.stopped:
                self.changed.wait()
            if not self.ready:
                raise RuntimeError(f"{path}: not read ahead (the reading thread stopped)")
            ready, outcome, size = self.ready.popleft()
            self.held -= size
            self.changed.notify_all()
        if ready != path:
            raise RuntimeError(f"{path}: taken out of order (the next file read ahead is {ready})")
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def close(self) -> None:
        """Stop reading (the file being read is finished first) and let go of the files not taken."""
        with self.changed:
            self.stopped = True
            self.ready.clear()
            self.held = 0
            self.changed.notify_all()
        self.thread.join()


def _next_file_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute(f"SELECT coalesce(max(file_id), 0) + 1 FROM {LOAD_FILES_TABLE}").fetchall()[0][0]


def _record_failure(
    con: duckdb.DuckDBPyConnection, spec: SourceSpec, rel: str, sha: str, size: int, at: datetime, error: str
) -> int | None:
    """Record a failed attempt in ``raw.load_files`` (status ``failed``, no rows), if the warehouse still takes
    writes; its file id. The next run does not count it as loaded, so it tries the file again."""
    try:
        file_id = _next_file_id(con)
        con.execute(
            f"INSERT INTO {LOAD_FILES_TABLE} (file_id, source, path, sha256, size_bytes, status, rows_loaded,"
            " rows_accepted, rows_quarantined, error, loaded_at) VALUES (?, ?, ?, ?, ?, 'failed', 0, 0, 0, ?, ?)",
            [file_id, spec.name, rel, sha, size, error, at],
        )
    except duckdb.Error:
        return None
    return file_id


def files_to_retry(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    """``(path, error)`` of every file whose last load attempt failed for a reason other than its content and
    that has not loaded since (the next run tries each again)."""
    return con.execute(f"""
        SELECT path, arg_max(error, file_id) FROM {LOAD_FILES_TABLE} f
        WHERE status = 'failed' AND NOT EXISTS (
            SELECT 1 FROM {LOAD_FILES_TABLE} d WHERE d.sha256 = f.sha256 AND d.status IN ('loaded', 'rejected'))
        GROUP BY path ORDER BY path""").fetchall()


# ---------------------------------------------------------------------------------------------------------
# Batched writes
# ---------------------------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _one_of(expr: str, values: Iterable[str]) -> str:
    """SQL for ``expr IN (values)`` (true, false, or NULL for a NULL ``expr``) written as comparisons joined by OR:
    DuckDB plans an IN list of six or more values as a join, which hands its rows on out of the order they came in
    (and the rows of a file must keep their line order)."""
    return "(" + " OR ".join(f"{expr} = {_sql_str(value)}" for value in values) + ")"


class _Writer:
    """Buffers accepted and quarantined rows of one file and inserts them through Arrow in batches."""

    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        spec: SourceSpec,
        rel: str,
        file_id: int,
        loaded_at: datetime,
        gather: _Gathered | None = None,
    ) -> None:
        self.con, self.spec, self.rel, self.file_id, self.loaded_at = con, spec, rel, file_id, loaded_at
        # Where accepted rows go: straight into the source's raw table, or held by a group (see _Group).
        self.gather = gather
        self.accepted = 0
        self.quarantined = 0
        # CSV: raw rows (lists of fields) plus the header position of every known column.
        self.rows: list[list[str]] = []
        self.extras: list[str | None] = []
        self.positions: list[tuple[int, str]] = []
        # JSONL: the lines to check, as Arrow chunks with their line numbers, byte offsets and byte lengths, after
        # them the lines added one at a time (text, line number and byte range), not made into a chunk yet.
        self.chunks: list[tuple[pa.StringArray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.chunked_rows = 0
        self.payloads: list[str] = []
        self.spans: list[tuple[int, int]] = []
        self.lines: list[int] = []
        self.q_lines: list[int | None] = []
        self.q_reasons: list[str] = []
        self.q_text: list[str | None] = []
        self.q_spans: list[tuple[int | None, int | None]] = []
        # With ``held`` (a file read ahead of its transaction, see _Pipeline), quarantine batches are kept here,
        # to be inserted once the file has its id.
        self.held: list[pa.Table] | None = None

    # -- accepted rows -----------------------------------------------------------------------------------
    def add_csv(self, row: list[str], extra: str | None, line: int) -> None:
        self.rows.append(row)
        self.extras.append(extra)
        self.lines.append(line)
        self.accepted += 1
        if len(self.rows) >= _CSV_BATCH_ROWS:
            self._flush_rows()

    def add_jsonl(self, text: str, line: int, span: tuple[int, int]) -> None:
        self.payloads.append(text)
        self.lines.append(line)
        self.spans.append(span)
        if self.chunked_rows + len(self.payloads) >= _JSONL_BATCH_ROWS:
            self._flush_rows()

    def add_jsonl_many(self, texts: list[str], lines: Iterable[int], spans: Iterable[tuple[int, int]]) -> None:
        """``add_jsonl`` for many lines at once."""
        self.payloads += texts
        self.lines += lines
        self.spans += spans
        if self.chunked_rows + len(self.payloads) >= _JSONL_BATCH_ROWS:
            self._flush_rows()

    def add_jsonl_block(self, texts: pa.StringArray, lines: np.ndarray, starts: np.ndarray, sizes: np.ndarray) -> None:
        """``add_jsonl`` for a block of lines already in Arrow (the block reader's fast path), with their line
        numbers, byte offsets and byte lengths. The batch is flushed where ``add_jsonl_many`` would flush it."""
        self._chunk_pending()
        self.chunks.append((texts, lines, starts, sizes))
        self.chunked_rows += len(texts)
        if self.chunked_rows >= _JSONL_BATCH_ROWS:
            self._flush_rows()

    def _chunk_pending(self) -> None:
        """Make the lines added one at a time into a chunk, behind the chunks before them."""
        if not self.payloads:
            return
        starts, sizes = zip(*self.spans, strict=True)
        self.chunks.append(
            (
                pa.array(self.payloads, pa.string()),
                np.array(self.lines, np.int64),
                np.array(starts, np.int64),
                np.array(sizes, np.int64),
            )
        )
        self.chunked_rows += len(self.payloads)
        self.payloads, self.lines, self.spans = [], [], []

    def quarantine(
        self, line: int | None, reason: str, raw_text: str | None, span: tuple[int, int] | None = None
    ) -> None:
        """Quarantine one record: its first line, why, its raw text and its byte range (offset, length) in the
        file, from which the exact bytes can always be read back."""
        if raw_text is not None and len(raw_text) > _RAW_TEXT_LIMIT:
            where = f"; the whole row is bytes {span[0]:,} to {span[0] + span[1]:,} of the file" if span else ""
            raw_text = raw_text[:_RAW_TEXT_LIMIT] + f"... [truncated at {len(raw_text):,} characters{where}]"
        self.q_lines.append(line)
        self.q_reasons.append(reason)
        self.q_text.append(raw_text)
        self.q_spans.append(span or (None, None))
        self.quarantined += 1
        if len(self.q_lines) >= _QUARANTINE_BATCH_ROWS:
            self._flush_quarantine()

    def flush(self) -> None:
        self._flush_rows()
        self._flush_quarantine()

    # -- inserts -----------------------------------------------------------------------------------------
    def append(self, select: str, json_text: tuple[str, ...] = ()) -> int:
        """Insert the accepted rows ``select`` gives (its one parameter is the load time) into the raw table, or
        hand them to the group gathering them; how many rows. ``json_text``: the select's text columns known to
        hold valid JSON for the table's JSON columns of those names (see :meth:`_Gathered.add`)."""
        if self.gather is not None:
            return self.gather.add(select, [self.loaded_at], json_text)
        return self.con.execute(f"INSERT INTO {self.spec.table} BY NAME {select}", [self.loaded_at]).fetchall()[0][0]

    def _insert(self, table: pa.Table, sql: str) -> None:
        self.con.register(_BATCH_VIEW, table)
        try:
            self.con.execute(sql, [self.loaded_at])
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it; keep the first error
                self.con.unregister(_BATCH_VIEW)

    def _flush_rows(self) -> None:
        if self.spec.format == "csv":
            if not self.rows:
                return
            columns = list(zip(*self.rows, strict=True))
            arrays = {f"c{i}": pa.array(columns[pos], pa.string()) for i, (pos, _) in enumerate(self.positions)}
            select = [f"NULLIF(c{i}, '') AS {_q(name)}" for i, (_, name) in enumerate(self.positions)]
            arrays["extra_columns"] = pa.array(self.extras, pa.string())
            select.append("TRY_CAST(extra_columns AS JSON) AS extra_columns")
            n = len(self.rows)
            self.rows, self.extras = [], []
            source = _BATCH_VIEW
        else:
            self._flush_jsonl()
            return
        arrays["_source_file"] = pa.array([self.rel] * n, pa.string())
        arrays["_source_line"] = pa.array(self.lines, pa.int64())
        self.lines = []
        select += ["_source_file", "_source_line", "?::TIMESTAMP AS _loaded_at"]
        self.con.register(_BATCH_VIEW, pa.table(arrays))
        try:
            self.append(f"SELECT {', '.join(select)} FROM {source}")
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it; keep the first error
                self.con.unregister(_BATCH_VIEW)

    def _flush_jsonl(self) -> None:
        self._chunk_pending()
        if not self.chunks:
            return
        spec = self.spec
        chunks, self.chunks, self.chunked_rows = self.chunks, [], 0
        payloads = pa.chunked_array([texts for texts, *_ in chunks], pa.string())
        lines, starts, sizes = (np.concatenate([chunk[i] for chunk in chunks]) for i in (1, 2, 3))
        n = len(lines)
        batch = pa.table({"payload": payloads, "_source_line": pa.array(lines, pa.int64())})

        # One JSON parse per list extraction instead of one per key. s[pos[k]] is key k as text, extracted only for
        # the keys something reads as text (a key kept as JSON is read as text only by a check).
        def path(key: str) -> str:
            return _sql_str("$." + json.dumps(key))

        json_keys = [k for k in spec.columns if k in spec.json_columns]
        checked_keys = {*spec.required, *spec.timestamp_columns, *spec.allowed_values}
        text_keys = [k for k in spec.columns if k not in spec.json_columns]
        s_keys = [k for k in spec.columns if k not in spec.json_columns or k in checked_keys]
        paths = [path(k) for k in s_keys]
        json_paths = [path(k) for k in json_keys]
        pos = {key: i + 1 for i, key in enumerate(s_keys)}
        checks = [f"coalesce(s[{pos[k]}], '') <> ''" for k in spec.required]
        latest_day = _latest_event_day(self.loaded_at)
        for k in spec.timestamp_columns:
            v = f"s[{pos[k]}]"
            checks.append(
                f"(coalesce({v}, '') = '' OR (regexp_full_match({v}, {_sql_str(TIMESTAMP_PATTERN)})"
                f" AND left({v}, 4) <> '0000' AND TRY_CAST(left({v}, 10) AS DATE) IS NOT NULL"
                f" AND TRY_CAST(left({v}, 10) AS DATE) <= DATE '{latest_day.isoformat()}'))"
            )
        for k, allowed in spec.allowed_values.items():
            checks.append(f"(coalesce(s[{pos[k]}], '') = '' OR {_one_of(f's[{pos[k]}]', allowed)})")
        # A key stored as text must hold one value (not an object or array), and no number JSON forbids
        # (DuckDB, like Python, reads NaN and Infinity). Its JSON type is looked up (parsing the line once more)
        # only where its text could be one of those: an object or array reads as text starting with { or [.
        for k in text_keys:
            i = pos[k]
            checks.append(
                f"CASE WHEN s[{i}] IS NULL OR NOT (left(s[{i}], 1) IN ('{{', '[')"
                f" OR s[{i}] IN ('NaN', 'Infinity', '-Infinity')) THEN true"
                f" ELSE (coalesce(json_type(p, {path(k)}), 'NULL') NOT IN ('OBJECT', 'ARRAY')"
                f" AND NOT coalesce(json_type(p, {path(k)}) = 'DOUBLE'"
                f" AND s[{i}] IN ('NaN', 'Infinity', '-Infinity'), false)) END"
            )
        ok = " AND ".join(["s IS NOT NULL", *checks])
        # Only where the line is JSON (s is not NULL): json_extract would raise on a line that is not.
        j = f", CASE WHEN s IS NOT NULL THEN json_extract(p, [{', '.join(json_paths)}]) END AS j" if json_paths else ""
        select = []
        for key in spec.columns:
            if key in spec.json_columns:
                expr = f"NULLIF(j[{json_keys.index(key) + 1}], 'null'::JSON)"
            else:
                expr = f"s[{pos[key]}]"
            select.append(f"{expr} AS {_q(spec.column_name(key))}")
        # The batch's rows with their projections and verdict, computed as one query over the batch. It is not
        # materialized: the insert keeps the accepted rows directly, and only a batch the insert did not take
        # whole (rare: a bad line) is checked again for which lines failed. Staging every batch in a temp table
        # first copied every payload twice.
        # The line is parsed once for its text values: TRY(json_extract_string) is NULL exactly where the line is
        # not JSON (the same reader and flags as a cast to JSON), so no cast parses every line once more first. p
        # stays the line's text (a cast to JSON returns its input unchanged); the insert takes it as JSON.
        checked = (
            f"SELECT *, coalesce({ok}, false) AS ok FROM ("
            f"  SELECT _source_line, p, s{j} FROM ("
            f"  SELECT _source_line, payload AS p, TRY(json_extract_string(payload, [{', '.join(paths)}])) AS s"
            f"  FROM {_BATCH_VIEW}))"
        )
        # Record batches of 16k rows let DuckDB scan (and parse) the batch on every thread.
        self.con.register(_BATCH_VIEW, pa.Table.from_batches(batch.to_batches(max_chunksize=16_384)))
        try:
            inserted = self.append(
                f"SELECT {', '.join(select)}, p AS payload, {_sql_str(self.rel)} AS _source_file, _source_line,"
                f" ?::TIMESTAMP AS _loaded_at FROM ({checked}) WHERE ok",
                json_text=("payload",),
            )
            bad = []
            if inserted != n:
                # The raw text and byte range of a rejected line are read back from the Python lists (by line).
                bad = self.con.execute(f"SELECT _source_line FROM ({checked}) WHERE NOT ok ORDER BY 1").fetchall()
        finally:
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it; keep the first error
                self.con.unregister(_BATCH_VIEW)
        if inserted + len(bad) != n:  # the same query twice must agree; never lose a row silently
            raise RuntimeError(f"{self.rel}: {inserted} + {len(bad)} JSON lines checked, batch has {n}")
        self.accepted += inserted
        for (line,) in bad:
            i = int(np.searchsorted(lines, line))  # line numbers ascend within a batch
            text = payloads[i].as_py()
            self.quarantine(line, _jsonl_problem(spec, text, latest_day), text, (int(starts[i]), int(sizes[i])))

    def _flush_quarantine(self) -> None:
        if not self.q_lines:
            return
        offsets, lengths = zip(*self.q_spans, strict=True)
        table = pa.table(
            {
                "line": pa.array(self.q_lines, pa.int64()),
                "reason": pa.array(self.q_reasons, pa.string()),
                "raw_text": pa.array(self.q_text, pa.string()),
                "byte_offset": pa.array(offsets, pa.int64()),
                "byte_length": pa.array(lengths, pa.int64()),
            }
        )
        self.q_lines, self.q_reasons, self.q_text, self.q_spans = [], [], [], []
        if self.held is not None:
            self.held.append(table)
            return
        self._insert(table, _quarantine_sql(self.file_id, self.spec, self.rel))


def _quarantine_sql(file_id: int, spec: SourceSpec, rel: str) -> str:
    """The insert of a batch of quarantine rows (registered as ``_BATCH_VIEW``; its one parameter the load time)."""
    return (
        f"INSERT INTO {QUARANTINE_TABLE} (file_id, source, path, line, reason, raw_text, byte_offset,"
        f" byte_length, quarantined_at) SELECT {int(file_id)}, {_sql_str(spec.name)},"
        f" {_sql_str(rel)}, line, reason, raw_text, byte_offset, byte_length, ?::TIMESTAMP"
        f" FROM {_BATCH_VIEW}"
    )


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------


class _QuoteRunsOn(Exception):
    """A quoted field went on past MAX_QUOTED_LINES lines or MAX_QUOTED_BYTES bytes: read as a stray quote."""


class _Lines:
    """Decoded lines of a binary file, tracking line number and byte offset for error messages.

    ``taken`` collects the lines handed out since :meth:`take_clear`, which is how a CSV record that spans
    several lines (quoted newlines) gets its exact raw text, starting line and byte range. A line that is not
    valid UTF-8 is still handed out (its bad bytes kept as surrogate escapes) and its problem noted in
    ``taken_problem``, so the caller quarantines just that record while the rest of the file loads.

    With ``record_limits`` (CSV), a record that asks for more than ``MAX_QUOTED_LINES`` lines or
    ``MAX_QUOTED_BYTES`` bytes raises :class:`_QuoteRunsOn` (only a quoted field makes a record ask for another
    line). After a broken record, :meth:`replay` hands its later lines out again, each read afresh.
    """

    def __init__(self, f: BinaryIO, rel: str, record_limits: bool = False) -> None:
        self.f, self.rel, self.record_limits = f, rel, record_limits
        self.lineno = 0
        self.offset = 0
        self.record_offset = 0
        self.taken: list[str] = []
        self.taken_sizes: list[int] = []
        self.taken_problems: list[str | None] = []
        self.taken_problem: str | None = None  # the first of taken_problems, kept at hand: read once per record
        self._file_lines = iter(f)
        self.has_bom = False
        self.line_ending: str | None = None
        self._replay: deque[tuple[str, int, str | None]] = deque()

    def take_clear(self) -> None:
        """Start collecting the next record's lines."""
        self.taken.clear()
        self.taken_sizes.clear()
        self.taken_problems.clear()
        self.taken_problem = None
        self.record_offset = self.offset

    def span(self, count: int | None = None) -> tuple[int, int]:
        """Byte offset and length in the file of the first ``count`` taken lines (all by default)."""
        sizes = self.taken_sizes if count is None else self.taken_sizes[:count]
        return self.record_offset, sum(sizes)

    def replay(self, first: int) -> None:
        """Hand the taken lines from index ``first`` on out again, as if not read yet."""
        later = list(zip(self.taken[first:], self.taken_sizes[first:], self.taken_problems[first:], strict=True))
        self._replay.extendleft(reversed(later))
        self.lineno -= len(later)
        self.offset -= sum(size for _, size, _ in later)
        del self.taken[first:], self.taken_sizes[first:], self.taken_problems[first:]
        self.taken_problem = next((p for p in self.taken_problems if p), None)

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._replay:
            text, size, problem = self._replay.popleft()
        else:
            raw = next(self._file_lines)  # StopIteration at the end of the file
            size = len(raw)
            text, problem = _decode_line(raw, self.lineno + 1)
            if self.lineno == 0:
                if text.startswith("\ufeff"):
                    text = text[1:]
                    self.has_bom = True
                self.line_ending = "crlf" if text.endswith("\r\n") else "lf" if text.endswith("\n") else None
        self.lineno += 1
        self.offset += size
        self.taken.append(text)
        self.taken_sizes.append(size)
        self.taken_problems.append(problem)
        if problem and self.taken_problem is None:
            self.taken_problem = problem
        if (
            self.record_limits
            and len(self.taken) > 1
            and (len(self.taken) > MAX_QUOTED_LINES or self.offset - self.record_offset > MAX_QUOTED_BYTES)
        ):
            raise _QuoteRunsOn
        return text


def _decode_line(raw: bytes, lineno: int) -> tuple[str, str | None]:
    """One physical line as text, and why it is not UTF-8 (None when it is); bad bytes kept as surrogate escapes."""
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as e:
        return raw.decode("utf-8", errors="surrogateescape"), (
            f"not UTF-8: byte 0x{raw[e.start]:02x} at byte {e.start + 1} of line {lineno}"
            " (this row was saved in another encoding, e.g. Windows-1252; the raw text keeps"
            " the bytes as \\x escapes)"
        )


def _raw_text(taken: list[str]) -> str:
    """The exact text of a record's lines; bytes that are not UTF-8 appear as ``\\xNN`` escapes."""
    text = "".join(taken)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", errors="surrogateescape").decode("utf-8", errors="backslashreplace")
    return text


def _blank(row: list[str]) -> bool:
    return not row or (len(row) == 1 and not row[0].strip())


# Delimiters people's spreadsheets save with: a comma, or a semicolon where the comma is the decimal mark
# (Excel in much of Europe), tab-separated text, and pipes.
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_SNIFF_BYTES = 64 * 1024


@dataclass
class _Dialect:
    """How a file was saved, recorded per file in ``raw.load_files``."""

    delimiter: str | None = None  # name from _DELIMITERS; None for JSON lines
    encoding: str = "utf-8"  # "utf-8" or "utf-8 with BOM"
    line_ending: str | None = None  # "crlf" or "lf"

    def unusual(self) -> str | None:
        """The ways this file differs from comma-delimited UTF-8 with LF line endings, in words."""
        parts = [f"{self.delimiter}-delimited"] if self.delimiter not in (None, "comma") else []
        parts += ["UTF-8 with BOM"] if self.encoding == "utf-8 with BOM" else []
        parts += ["CRLF line endings"] if self.line_ending == "crlf" else []
        return ", ".join(parts) or None


def _detect_delimiter(path: Path, spec: SourceSpec) -> str:
    """The delimiter that reads the header best: all required columns, then most known columns.

    Candidates are tried in the order ``csv.Sniffer`` suggests for the first lines (then the usual ones),
    so a header of unknown labels still gets the delimiter its data lines agree on.
    """
    with open(path, "rb") as f:
        sample = f.read(_SNIFF_BYTES).decode("utf-8", errors="surrogateescape").removeprefix("\ufeff")
    lines = [line for line in sample.splitlines() if line.strip()]
    if not lines:
        return ","
    candidates = list(_DELIMITERS)
    with contextlib.suppress(csv.Error):
        sniffed = csv.Sniffer().sniff("\n".join(lines[:20]), delimiters="".join(_DELIMITERS)).delimiter
        candidates.remove(sniffed)
        candidates.insert(0, sniffed)
    known = {label.strip().lower() for label in spec.columns}
    required = {label.strip().lower() for label in spec.required}

    def fit(delimiter: str) -> tuple[bool, int]:
        try:
            header = next(csv.reader([lines[0]], delimiter=delimiter))
        except (csv.Error, StopIteration):
            return (False, 0)
        labels = {h.strip().lower() for h in header}
        return (required <= labels, len(labels & known))

    best = max(candidates, key=lambda d: fit(d))  # max keeps the first of equals: the sniffer's choice
    return best if fit(best) > (False, 0) else candidates[0]


def _clean_label(label: str) -> str:
    return _raw_text([label]).strip()


def _parse_csv(path: Path, spec: SourceSpec, rel: str, writer: _Writer) -> _Dialect:
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    delimiter = _detect_delimiter(path, spec)
    with open(path, "rb") as f:
        lines = _Lines(f, rel, record_limits=True)
        reader = csv.reader(lines, delimiter=delimiter, strict=True)
        header: list[str] | None = None
        try:
            while header is None:
                lines.take_clear()  # each blank line before the header is a record of its own
                row = next(reader, None)
                if row is None:
                    break
                if not _blank(row):
                    header = [_clean_label(label) for label in row]
        except csv.Error as e:
            raise FileRejected(f"{rel}: the header line cannot be parsed as CSV ({e})") from None
        except _QuoteRunsOn:
            raise FileRejected(
                f"{rel}: the header line cannot be parsed as CSV (a quote in it is not closed within"
                f" {MAX_QUOTED_LINES} lines)"
            ) from None
        if header is None:
            raise FileRejected(f"{rel} is empty (no header line)")
        dialect = _Dialect(_DELIMITERS[delimiter], "utf-8 with BOM" if lines.has_bom else "utf-8", lines.line_ending)

        by_label = {label.strip().lower(): label for label in spec.columns}
        positions: list[tuple[int, str]] = []
        extra_positions: list[tuple[int, str]] = []
        matched: dict[str, int] = {}
        for i, label in enumerate(header):
            known = by_label.get(label.strip().lower())
            if known is not None and known not in matched:
                matched[known] = i
                positions.append((i, spec.column_name(known)))
            else:
                extra_positions.append((i, label.strip()))
        missing = [label for label in spec.required if label not in matched]
        if missing:
            names = ", ".join(f"'{m}'" for m in missing)
            raise FileRejected(
                f"{rel}: missing required column{'s' if len(missing) > 1 else ''} {names}"
                f" (header has: {', '.join(h.strip() for h in header)[:500]})"
            )
        writer.positions = positions
        width = len(header)
        # The engine reads the whole file when it can prove it reads it as the loop below would (a header on line
        # 1 without a BOM is the first condition); otherwise, or when it finds anything unusual, this loop does.
        if lines.lineno == 1 and not lines.has_bom:
            labels = [label for _, label in extra_positions]
            if _load_csv_in_engine(path, spec, rel, writer, delimiter, width, matched, labels):
                return dialect

        while True:
            lines.take_clear()
            start = lines.lineno + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except (csv.Error, _QuoteRunsOn) as e:
                _quarantine_broken_record(lines, start, delimiter, e, writer)
                continue
            if _blank(row):
                continue
            if lines.taken_problem:
                writer.quarantine(start, lines.taken_problem, _raw_text(lines.taken), lines.span())
                continue
            if len(row) != width:
                writer.quarantine(
                    start, f"row has {len(row)} fields, header has {width}", _raw_text(lines.taken), lines.span()
                )
                continue
            errors = spec.row_problems(lambda label, row=row: row[matched[label]] if label in matched else None)
            if errors:
                writer.quarantine(start, "; ".join(errors), _raw_text(lines.taken), lines.span())
                continue
            extra = None
            if extra_positions:
                extra = json.dumps(
                    {label: (row[i] if row[i] != "" else None) for i, label in extra_positions},
                    ensure_ascii=False,
                )
            writer.add_csv(row, extra, start)
    return dialect


# The engine path holds a file's text, its lines and DuckDB's rows in memory at once (a few times its size); a larger
# file is read by the Python reader, which streams it.
_ENGINE_MAX_BYTES = 256 * 1024 * 1024
_ENGINE_LINES = "__landing_csv_lines"
_ENGINE_ROWS = "__landing_csv_rows"


def _simple_line_pattern(delimiter: str) -> str:
    """RE2 pattern of a CSV line whose fields are each either unquoted without any quote, or quoted whole (from
    the field's first character to its last, quotes inside doubled). On such lines every RFC 4180 reader splits
    alike; they are the lines on which DuckDB's reader and Python's ``csv`` provably agree (DuckDB is more lenient
    elsewhere: it drops the space in ``, "Ann"`` and accepts ``"Ann" ,``, where Python keeps or refuses them)."""
    field = f'"(?:[^"]|"")*"|[^"{delimiter}]*'
    return f"(?:{field})(?:[{delimiter}](?:{field}))*"


def _load_csv_in_engine(
    path: Path,
    spec: SourceSpec,
    rel: str,
    writer: _Writer,
    delimiter: str,
    width: int,
    matched: dict[str, int],
    extra_labels: list[str],
) -> bool:
    """Load a CSV file's data rows with DuckDB's CSV reader when it reads them exactly as ``_parse_csv`` would.

    Returns False, having written nothing, when it cannot vouch for that; the caller then reads the file in Python.
    It vouches only for a file that is valid UTF-8 without NUL bytes, with one kind of line ending (LF or CRLF, no
    lone CR), no blank lines, every line a simple line (see ``_simple_line_pattern``: no quoted line breaks, no
    loose quotes), every row as wide as the header, no two unknown columns of one label, and no line over the CSV
    field limit; and it checks that DuckDB's rows are the file's lines, one each, in order (each row's fields,
    quotes aside, joined by the delimiter are its line, quotes aside). The checks of ``SourceSpec.row_problems``
    run set-wise in SQL as a filter that flags at least every row they could refuse (and rows whose unknown columns
    hold characters JSON escapes); flagged rows are decided and written by the same Python code as in
    ``_parse_csv``, so their quarantine reasons, raw text and byte spans are the same. The rest is inserted by one
    statement, and the Python loop's per-row work (split, check, build Arrow columns) is left to the engine.
    """
    if width < 2 or len(set(extra_labels)) != len(extra_labels) or path.stat().st_size > _ENGINE_MAX_BYTES:
        return False  # a one-column file may hold whitespace-only rows Python skips; a dict keeps one of two labels
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    del data
    crlf = text.count("\r\n")
    if "\x00" in text or text.count("\r") != crlf or (crlf and crlf != text.count("\n")):
        return False
    lines = text.split("\r\n" if crlf else "\n")
    del text
    final_newline = lines[-1] == ""
    if final_newline:
        lines.pop()
    if len(lines) < 2:
        return False
    con = writer.con
    d = delimiter
    cols = [f"c{i}" for i in range(width)]
    con.register(
        _ENGINE_LINES,
        pa.table({"line": pa.array(range(1, len(lines) + 1), pa.int64()), "text": pa.array(lines, pa.string())}),
    )
    try:
        odd = con.execute(
            f"SELECT count(*) FILTER (WHERE NOT regexp_full_match(text, ?)"
            # (A blank line would be skipped by both readers but moves the line numbers; with at least two
            # columns the row count check below catches it too.)
            r" OR regexp_full_match(text, '\s*') OR length(text) >= ?)"
            f" FROM {_ENGINE_LINES}",
            [_simple_line_pattern(d), _CSV_FIELD_LIMIT],
        ).fetchall()[0][0]
        if odd:
            return False
        columns = "{" + ", ".join(f"'{c}': 'VARCHAR'" for c in cols) + "}"
        # Read on a cursor of its own: an error there (a row the reader refuses, its width say) must not abort the
        # file's transaction, since the Python reader then reads the file and says exactly what is wrong.
        reader = con.cursor()
        try:
            rows = reader.sql(
                f"SELECT row_number() OVER () + 1 AS _line, * FROM read_csv(?, delim = ?, quote = '\"',"
                f" escape = '\"', header = false, skip = 1, auto_detect = false, columns = {columns},"
                " strict_mode = true, null_padding = false)",
                params=[str(path), d],
            ).to_arrow_table()
        except duckdb.Error:
            return False
        finally:
            reader.close()
        con.register(_ENGINE_ROWS, rows)
        quote_free = f" || {_sql_str(d)} || ".join(f"replace(coalesce({c}, ''), '\"', '')" for c in cols)
        n_rows, n_same = con.execute(
            f"SELECT count(*), count(l.line) FROM {_ENGINE_ROWS} r LEFT JOIN {_ENGINE_LINES} l"
            f" ON l.line = r._line AND replace(l.text, '\"', '') = {quote_free}"
        ).fetchall()[0]
        if n_rows != len(lines) - 1 or n_same != n_rows:
            return False

        def value(label: str) -> str:
            return f"coalesce(c{matched[label]}, '')"

        flags = [f"NOT regexp_matches({value(label)}, '[!-~]')" for label in spec.required if label in matched]
        flags += [
            f"NOT ({value(label)} = '' OR regexp_full_match({value(label)}, '[0-9]+'))"
            for label in spec.id_columns
            if label in matched
        ]
        for label in spec.timestamp_columns:
            if label in matched:
                v = value(label)
                flags.append(
                    f"NOT ({v} = '' OR (regexp_full_match({v}, {_sql_str(TIMESTAMP_PATTERN)})"
                    f" AND left({v}, 4) <> '0000' AND TRY_CAST(left({v}, 10) AS DATE) IS NOT NULL))"
                )
        for label, allowed in spec.allowed_values.items():
            if label in matched:
                flags.append(f"NOT ({value(label)} = '' OR {_one_of(value(label), allowed)})")
        extra_cols = [i for i in range(width) if i not in matched.values()]
        # json.dumps (ensure_ascii=False) escapes only these; a value holding none is written as it stands.
        flags += [rf"regexp_matches(coalesce(c{i}, ''), '[\x00-\x1f\"\\]')" for i in extra_cols]
        flag = " OR ".join(f"coalesce({f}, true)" for f in flags) or "false"
        select = [f"NULLIF({c}, '') AS {_q(name)}" for c, name in ((f"c{i}", name) for i, name in writer.positions)]
        if extra_cols:
            parts = [
                f"{_sql_str(json.dumps(label, ensure_ascii=False) + ': ')} || CASE WHEN coalesce(c{i}, '') = ''"
                f" THEN 'null' ELSE '\"' || c{i} || '\"' END"
                for i, label in zip(extra_cols, extra_labels, strict=True)
            ]
            joined = " || ', ' || ".join(parts)
            select.append(f"TRY_CAST('{{' || {joined} || '}}' AS JSON) AS extra_columns")
        inserted = writer.append(
            f"SELECT {', '.join(select)}, {_sql_str(rel)} AS _source_file, _line AS _source_line,"
            f" ?::TIMESTAMP AS _loaded_at FROM {_ENGINE_ROWS} WHERE NOT ({flag})"
        )
        # Every row is flagged or not (the flag is never NULL), so a file whose rows all went in has none flagged:
        # the flag's checks (regular expressions over every row) are not run over the file a second time for none.
        flagged = []
        if inserted != len(lines) - 1:
            flagged = con.execute(
                f"SELECT _line, {', '.join(cols)} FROM {_ENGINE_ROWS} WHERE {flag} ORDER BY _line"
            ).fetchall()
    finally:
        for view in (_ENGINE_LINES, _ENGINE_ROWS):
            with contextlib.suppress(duckdb.Error):  # an aborted transaction refuses it; keep the first error
                con.unregister(view)
    if inserted + len(flagged) != len(lines) - 1:  # never lose a row silently
        raise RuntimeError(f"{rel}: {inserted} + {len(flagged)} rows written, the file has {len(lines) - 1}")
    writer.accepted += inserted
    if flagged:
        ending = "\r\n" if crlf else "\n"
        offsets = list(accumulate((len(line.encode("utf-8")) + len(ending) for line in lines), initial=0))
        for number, *values in flagged:
            row = [v or "" for v in values]  # DuckDB reads an empty field as NULL; Python's reader as ""
            # The checks and writes of _parse_csv's loop, on the same values.
            errors = spec.row_problems(lambda label, row=row: row[matched[label]] if label in matched else None)
            if errors:
                last = number == len(lines) and not final_newline
                raw = lines[number - 1] + ("" if last else ending)
                span = (offsets[number - 1], len(raw.encode("utf-8")))
                writer.quarantine(number, "; ".join(errors), raw, span)
                continue
            extra = None
            if extra_cols:
                pairs = zip(extra_cols, extra_labels, strict=True)
                extra = json.dumps(
                    {label: (row[i] if row[i] != "" else None) for i, label in pairs}, ensure_ascii=False
                )
            writer.add_csv(row, extra, number)
    return True


def _quote_opening_line(lines: list[str], delimiter: str) -> int:
    """Index of the line on which the record's last quoted field opened (the quote a broken record ran on from).

    Follows the CSV rules the reader applies: a quote opens a field only at the field's start; inside it, a
    doubled quote is a literal quote, and a quote followed by a delimiter or line break closes it. A quote followed
    by anything else is where the (strict) reader gave up, so the scan stops there.
    """
    ends = (delimiter, "\n", "\r")
    state, opened = "start", 0
    for i, line in enumerate(lines):
        for ch in line:
            if state == "quoted":
                if ch == '"':
                    state = "after_quote"
            elif state == "after_quote":
                if ch != '"' and ch not in ends:
                    return opened  # where the strict reader stops: a closing quote followed by more text
                state = "quoted" if ch == '"' else "start"
            elif ch == '"' and state == "start":
                state, opened = "quoted", i
            else:
                state = "start" if ch in ends else "field"
    return opened


def _quarantine_broken_record(lines: _Lines, start: int, delimiter: str, error: Exception, writer: _Writer) -> None:
    """Quarantine a record the CSV reader could not finish, without letting a stray quote hide later rows.

    A record that spans several lines is cut after the line where its offending quoted field opened: the
    lines up to there are quarantined as one row (a real multi-line field before the stray quote stays
    whole) and the lines after it are read again as rows of their own.
    """
    taken = lines.taken
    head = len(taken)
    if len(taken) > 1:
        # Past the limit, the last line was taken but never handed to the reader: it plays no part.
        seen = taken[:-1] if isinstance(error, _QuoteRunsOn) else taken
        head = _quote_opening_line(seen, delimiter) + 1
    opened_on = start + head - 1
    split = head < len(taken)
    problem = next((p for p in lines.taken_problems[:head] if p), None)
    at_end = "unexpected end of data" in str(error)
    if problem:
        reason = problem
    elif not split:
        reason = (
            "unterminated quoted field at end of file (file truncated?)" if at_end else f"malformed CSV row: {error}"
        )
    elif isinstance(error, _QuoteRunsOn):
        reason = (
            f"stray quote: the quoted field opened on line {opened_on} is not closed within {MAX_QUOTED_LINES}"
            f" lines or {MAX_QUOTED_BYTES // 1024:,} KB"
        )
    elif at_end:
        reason = f"stray quote: the quoted field opened on line {opened_on} is never closed (the file ends inside it)"
    else:
        reason = (
            f"stray quote: the quoted field opened on line {opened_on} runs on to line {start + len(taken) - 1}"
            f" and breaks there ({error})"
        )
    if split:
        reason += f"; the {len(taken) - head:,} line(s) after line {opened_on} were read as rows of their own"
    writer.quarantine(start, reason, _raw_text(taken[:head]), lines.span(head))
    if split:
        lines.replay(head)


# The JSON lines reader decodes and splits this many bytes at a time (extended to the next line break).
_JSONL_BLOCK_BYTES = 8 * 1024 * 1024


def _parse_jsonl(path: Path, spec: SourceSpec, rel: str, writer: _Writer) -> _Dialect:
    """Split a JSON lines file into lines, a block of lines at a time; validation happens set-wise in DuckDB.

    Gives exactly what reading line by line gives (line numbers, byte spans, BOM, line ending, one quarantine row
    per line that is not UTF-8; tests/test_landing_jsonl_blocks.py compares the two), faster: a block of simple
    lines (see _simple_jsonl_block: the usual case) is cut into Arrow strings without a Python string per line,
    another block of valid UTF-8 is decoded and split in one call each, and only a block holding bytes that are
    not UTF-8 is decoded line by line. Validation, as before, happens set-wise in DuckDB (see _Writer), not by
    json.loads per line.
    """
    bom, line_ending = False, None
    lineno = offset = 0
    with open(path, "rb") as f:
        first = f.readline()
        if first:
            text, problem = _decode_line(first, 1)
            if text.startswith("\ufeff"):
                text, bom = text[1:], True
            line_ending = "crlf" if text.endswith("\r\n") else "lf" if text.endswith("\n") else None
            lineno, offset = 1, len(first)
            line = text.strip()
            if problem:
                writer.quarantine(1, problem, _raw_text([text.rstrip("\r\n")]), (0, len(first)))
            elif line:
                writer.add_jsonl(line, 1, (0, len(first)))
        rest = b""
        while True:
            block = f.read(_JSONL_BLOCK_BYTES)
            at_end = not block
            block = rest + block
            if not block:
                break
            cut = len(block) if at_end else block.rfind(b"\n") + 1
            if cut == 0:  # one line longer than a block: read on
                rest = block
                continue
            block, rest = block[:cut], block[cut:]
            simple = _simple_jsonl_block(block, offset)
            if simple is not None:
                texts, starts, sizes = simple
                writer.add_jsonl_block(texts, np.arange(lineno + 1, lineno + 1 + len(texts)), starts, sizes)
                lineno += len(texts)
                offset += len(block)
                if at_end:
                    break
                continue
            raws = block.split(b"\n")
            if raws[-1] == b"":
                raws.pop()
            sizes = [len(raw) + 1 for raw in raws]
            if not block.endswith(b"\n"):
                sizes[-1] -= 1  # the file's last line has no line break
            starts = list(accumulate(sizes, initial=offset))
            try:
                texts = block.decode("utf-8").split("\n")
            except UnicodeDecodeError:
                texts = None
            if texts is not None:
                if len(texts) > len(raws):
                    texts.pop()
                payloads = [t.strip() for t in texts]
                if all(payloads):
                    writer.add_jsonl_many(
                        payloads, range(lineno + 1, lineno + 1 + len(raws)), zip(starts, sizes, strict=False)
                    )
                else:
                    for i, line in enumerate(payloads):
                        if line:
                            writer.add_jsonl(line, lineno + 1 + i, (starts[i], sizes[i]))
            else:
                for i, raw in enumerate(raws):
                    text, problem = _decode_line(raw, lineno + 1 + i)
                    line, span = text.strip(), (starts[i], sizes[i])
                    if problem:
                        writer.quarantine(lineno + 1 + i, problem, _raw_text([text.rstrip("\r\n")]), span)
                    elif line:
                        writer.add_jsonl(line, lineno + 1 + i, span)
            lineno += len(raws)
            offset = starts[-1]
            if at_end:
                break
    return _Dialect(None, "utf-8 with BOM" if bom else "utf-8", line_ending)


def _simple_jsonl_block(block: bytes, offset: int) -> tuple[pa.StringArray, np.ndarray, np.ndarray] | None:
    """A block's lines as Arrow strings, their byte offsets (from ``offset``) and byte lengths (line break included),
    without a Python string per line; None unless every line is *simple*, which the caller then splits in Python.

    A block is simple when it is valid UTF-8 and each of its lines, less its line break and one CR before it,
    starts with ``{`` and ends with ``}``: then ``str.strip`` takes from such a line exactly that CR (it stops at
    the braces), so the texts are what splitting, decoding and stripping each line gives, and no line is blank.
    ``block`` holds whole lines (it ends with a line break, or with the file).
    """
    if len(block) >= 2**31:  # past Arrow's 32-bit string offsets (a line of gigabytes): split in Python
        return None
    try:
        block.decode("utf-8")  # only to check it: the texts are cut from the bytes
    except UnicodeDecodeError:
        return None
    data = np.frombuffer(block, np.uint8)
    breaks = np.flatnonzero(data == 10)
    # A line runs from its start to its line break (``ends``; the block's end for a last line without one); the
    # next line starts after the break (``nexts``).
    ends = breaks if block.endswith(b"\n") else np.append(breaks, len(block))
    nexts = ends + 1 if block.endswith(b"\n") else np.append(breaks + 1, len(block))
    starts = np.concatenate(([0], nexts[:-1]))
    if np.any(ends - starts < 2):
        return None
    cr = data[ends - 1] == 13
    ends = ends - cr
    if np.any(ends - starts < 2) or np.any(data[starts] != 123) or np.any(data[ends - 1] != 125):
        return None
    # The lines' texts, back to back: the block less its line breaks and the CR before each (a simple line holds no
    # line break, and a CR before one is where the line's text ends); a last line without a line break may still
    # end with a CR.
    joined = block.replace(b"\r\n", b"") if cr.any() else block
    joined = joined.replace(b"\n", b"")
    if cr[-1] and not block.endswith(b"\n"):
        joined = joined[:-1]
    lengths = ends - starts
    if len(joined) != int(lengths.sum()):  # cannot be; never hand on a shifted text
        return None
    text_offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int32)
    texts = pa.StringArray.from_buffers(len(starts), pa.py_buffer(text_offsets), pa.py_buffer(joined))
    return texts, starts + offset, nexts - starts


# An event is an observation: one dated after the day it arrives (give or take time zones) is a broken clock or
# a test row, and would move every feature's cutoff with it. Quarantined, with the reason.
FUTURE_TOLERANCE_DAYS = 2


def _latest_event_day(loaded_at: datetime) -> date:
    """The last calendar day an event timestamp may carry when loaded at ``loaded_at`` (UTC)."""
    return loaded_at.date() + timedelta(days=FUTURE_TOLERANCE_DAYS)


def _jsonl_problem(spec: SourceSpec, line: str, latest_day: date | None = None) -> str:
    """Why a JSON line cannot be accepted (Python's reading of the same rules DuckDB applied)."""
    try:
        obj = json.loads(line)
    except ValueError as e:
        return f"invalid JSON: {e}"
    except RecursionError:  # the input's fault, not the loader's: arrays or objects nested thousands deep
        return "invalid JSON: nested too deeply"
    if type(obj) is not dict:
        return f"line is not a JSON object (found {_json_type(obj)})"
    errors = []
    for key in spec.columns:
        value = obj.get(key)
        if key not in spec.json_columns and isinstance(value, dict | list):
            errors.append(f"{key} is {_json_type(value)}, expected a single value")
        elif isinstance(value, float) and not math.isfinite(value):
            errors.append(f"{key} is {value!r}, which is not a JSON number")
    for key in spec.required:
        value = obj.get(key)
        if value is None or value == "":
            errors.append(f"missing {key}")
    for key in spec.timestamp_columns:
        value = obj.get(key)
        if value is not None and value != "" and not is_timestamp(value):
            errors.append(f"{key} {value!r} is not a date/time")
        elif latest_day is not None and is_timestamp(value) and date.fromisoformat(value[:10]) > latest_day:
            errors.append(
                f"{key} {value!r} is in the future (more than {FUTURE_TOLERANCE_DAYS} days after the day it was loaded)"
            )
    for key, allowed in spec.allowed_values.items():
        value = obj.get(key)
        if value is not None and value != "" and str(value) not in allowed:
            errors.append(not_allowed_reason(key, value, allowed))
    if "\\u" in line and _has_lone_surrogate(obj):
        errors.append("contains an unpaired \\u surrogate escape (not valid Unicode text)")
    return "; ".join(errors) or "invalid JSON (rejected by DuckDB's JSON parser)"


def _has_lone_surrogate(obj: object) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_type(obj: object) -> str:
    if isinstance(obj, dict):
        return "an object"
    if isinstance(obj, list):
        return "an array"
    if isinstance(obj, str):
        return "a string"
    if obj is None:
        return "null"
    if isinstance(obj, bool):
        return "a boolean"
    return "a number"


def _quarantine_whole_file(path: Path, spec: SourceSpec, writer: _Writer, reason: str) -> None:
    """Quarantine every data line of a rejected file (header excluded), or one row if it cannot be split."""
    try:
        with open(path, "rb") as f:
            header_seen = spec.format != "csv"
            offset = 0
            for lineno, raw in enumerate(f, start=1):
                span = (offset, len(raw))
                offset += len(raw)
                text = raw.decode("utf-8", errors="backslashreplace")
                if lineno == 1:
                    text = text.removeprefix("\ufeff")
                if not text.strip():
                    continue
                if not header_seen:
                    header_seen = True
                    continue
                writer.quarantine(lineno, reason, text.rstrip("\r\n"), span)
    except OSError as e:
        writer.quarantine(None, f"{reason}; the file cannot be read: {e}", None)
