"""Load landing files into the raw DuckDB tables.

Every file is loaded at most once (keyed by the SHA-256 of its content) and in one transaction together
with its quarantine rows and its ``raw.load_files`` row, so an interrupted run never leaves half a file
behind and simply picks the file up again next time. Rows are parsed in Python (for precise line numbers
and quarantine reasons) and inserted in batches through Arrow.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import duckdb
import pyarrow as pa

from landing.contract import SOURCES, TIMESTAMP_PATTERN, SourceSpec, is_timestamp, is_whole_number
from landing.schema import LOAD_FILES_TABLE, QUARANTINE_TABLE, ensure_raw_schema

__all__ = [
    "FileResult",
    "IngestReport",
    "SourceTotals",
    "ingest_landing",
    "load_file",
    "stage_file",
]

Progress = Callable[[str], None]

_CSV_BATCH_ROWS = 50_000
_JSONL_BATCH_ROWS = 200_000
_QUARANTINE_BATCH_ROWS = 50_000
# A stray quote swallows the rest of the file into one field; cap it so one bad row cannot eat gigabytes.
_CSV_FIELD_LIMIT = 16 * 1024 * 1024
_RAW_TEXT_LIMIT = 64 * 1024
_BATCH_VIEW = "__landing_batch"
_STAGE_TABLE = "__landing_stage"


@dataclass
class FileResult:
    """Outcome of one landing file. Invariant: ``rows_loaded == rows_accepted + rows_quarantined``."""

    source: str
    path: str
    status: str  # "loaded", "skipped" or "rejected"
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

    def summary(self) -> str:
        """Human-readable multi-line summary, one line per source plus the notes."""
        lines = []
        for source, t in sorted(self.totals.items()):
            lines.append(
                f"{source}: {t.files_loaded} loaded, {t.files_skipped} skipped, {t.files_rejected} rejected"
                f" files; {t.rows_accepted:,} rows accepted, {t.rows_quarantined:,} quarantined"
            )
        lines += [r.error for r in self.rejected if r.error]
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
) -> IngestReport:
    """Load every new file of the landing folder (or of the given ``sources``) into the raw tables.

    Files are taken per source in sorted path order; files whose content was loaded (or rejected) before
    are reported as ``skipped``. Bad rows go to ``raw.quarantine_rows``; unreadable files are recorded as
    ``rejected`` and never stop the other files. Always creates the raw tables, even with nothing to load.
    """
    specs = _select_sources(sources)
    ensure_raw_schema(con)
    report = IngestReport()
    root = Path(landing_dir)
    if not root.is_dir():
        report.notes.append(f"landing folder {root} does not exist; nothing loaded")
        return report
    if sources is None:
        known_folders = {spec.folder for spec in SOURCES.values()}
        for child in sorted(root.iterdir()):
            if child.name.startswith("."):
                continue
            if child.is_dir() and child.name not in known_folders:
                report.notes.append(f"{child.name}/: not a known source folder, ignored")
            elif child.is_file():
                report.notes.append(f"{child.name}: file outside any source folder, ignored")
    for spec in specs:
        for path in _discover(root, spec, report.notes):
            result = _ingest_file(con, spec, path, _relative(path, root))
            report.files.append(result)
            if progress is not None:
                progress(_progress_message(result))
    return report


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


def stage_file(
    path: str | os.PathLike[str], landing_dir: str | os.PathLike[str], source_name: str
) -> Path:
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
    saved_as = f" ({r.saved_as})" if r.saved_as else ""
    return f"{r.path}: {r.rows_loaded:,} rows, {r.rows_quarantined:,} quarantined{saved_as}"


def _ingest_file(con: duckdb.DuckDBPyConnection, spec: SourceSpec, path: Path, rel: str) -> FileResult:
    try:
        sha, size = _sha256(path)
    except OSError as e:
        # Not recorded: an unreadable file (permissions, vanished) is usually transient.
        return FileResult(spec.name, rel, "rejected", error=f"{rel}: cannot be read: {e}")
    # fetchall, not fetchone: duckdb 2.0 refuses further work on a connection with an unfinished result.
    prior = con.execute(f"SELECT path FROM {LOAD_FILES_TABLE} WHERE sha256 = ? LIMIT 1", [sha]).fetchall()
    if prior:
        note = None if prior[0][0] == rel else f"same content as {prior[0][0]}"
        return FileResult(spec.name, rel, "skipped", error=note, sha256=sha)

    loaded_at = datetime.now(UTC).replace(tzinfo=None)
    con.execute("BEGIN TRANSACTION")
    try:
        file_id = con.execute(f"SELECT coalesce(max(file_id), 0) + 1 FROM {LOAD_FILES_TABLE}").fetchall()[0][0]
        writer = _Writer(con, spec, rel, file_id, loaded_at)
        status, error, dialect = "loaded", None, _Dialect()
        try:
            if spec.format == "csv":
                dialect = _parse_csv(path, spec, rel, writer)
            else:
                dialect = _parse_jsonl(path, spec, rel, writer)
            writer.flush()
        except Exception as e:  # bad input must never stop the run
            error = str(e)
            if not isinstance(e, FileRejected):  # a bug or an input we did not foresee: still name the file
                error = f"{rel}: cannot be loaded: {type(e).__name__}: {e}"
            status = "rejected"
            con.execute("ROLLBACK")
            con.execute("BEGIN TRANSACTION")
            writer = _Writer(con, spec, rel, file_id, loaded_at)
            _quarantine_whole_file(path, spec, writer, error)
            writer.flush()
        con.execute(
            f"INSERT INTO {LOAD_FILES_TABLE} (file_id, source, path, sha256, size_bytes, status, rows_loaded,"
            " rows_accepted, rows_quarantined, error, loaded_at, delimiter, encoding, line_ending)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [file_id, spec.name, rel, sha, size, status, writer.accepted + writer.quarantined,
             writer.accepted, writer.quarantined, error, loaded_at, dialect.delimiter, dialect.encoding,
             dialect.line_ending],
        )
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(duckdb.Error):
            con.execute("ROLLBACK")
        raise
    return FileResult(
        spec.name, rel, status, rows_loaded=writer.accepted + writer.quarantined,
        rows_accepted=writer.accepted, rows_quarantined=writer.quarantined, error=error, sha256=sha,
        file_id=file_id, saved_as=dialect.unusual(),
    )


# ---------------------------------------------------------------------------------------------------------
# Batched writes
# ---------------------------------------------------------------------------------------------------------


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class _Writer:
    """Buffers accepted and quarantined rows of one file and inserts them through Arrow in batches."""

    def __init__(self, con: duckdb.DuckDBPyConnection, spec: SourceSpec, rel: str, file_id: int,
                 loaded_at: datetime) -> None:
        self.con, self.spec, self.rel, self.file_id, self.loaded_at = con, spec, rel, file_id, loaded_at
        self.accepted = 0
        self.quarantined = 0
        # CSV: raw rows (lists of fields) plus the header position of every known column.
        self.rows: list[list[str]] = []
        self.extras: list[str | None] = []
        self.positions: list[tuple[int, str]] = []
        # JSONL: the raw line text.
        self.payloads: list[str] = []
        self.lines: list[int] = []
        self.q_lines: list[int | None] = []
        self.q_reasons: list[str] = []
        self.q_text: list[str | None] = []

    # -- accepted rows -----------------------------------------------------------------------------------
    def add_csv(self, row: list[str], extra: str | None, line: int) -> None:
        self.rows.append(row)
        self.extras.append(extra)
        self.lines.append(line)
        self.accepted += 1
        if len(self.rows) >= _CSV_BATCH_ROWS:
            self._flush_rows()

    def add_jsonl(self, text: str, line: int) -> None:
        self.payloads.append(text)
        self.lines.append(line)
        if len(self.payloads) >= _JSONL_BATCH_ROWS:
            self._flush_rows()

    def quarantine(self, line: int | None, reason: str, raw_text: str | None) -> None:
        if raw_text is not None and len(raw_text) > _RAW_TEXT_LIMIT:
            raw_text = raw_text[:_RAW_TEXT_LIMIT] + f"... [truncated, {len(raw_text):,} characters]"
        self.q_lines.append(line)
        self.q_reasons.append(reason)
        self.q_text.append(raw_text)
        self.quarantined += 1
        if len(self.q_lines) >= _QUARANTINE_BATCH_ROWS:
            self._flush_quarantine()

    def flush(self) -> None:
        self._flush_rows()
        self._flush_quarantine()

    # -- inserts -----------------------------------------------------------------------------------------
    def _insert(self, table: pa.Table, sql: str) -> None:
        self.con.register(_BATCH_VIEW, table)
        try:
            self.con.execute(sql, [self.loaded_at])
        finally:
            self.con.unregister(_BATCH_VIEW)

    def _flush_rows(self) -> None:
        if self.spec.format == "csv":
            if not self.rows:
                return
            columns = list(zip(*self.rows, strict=True))
            arrays = {
                f"c{i}": pa.array(columns[pos], pa.string()) for i, (pos, _) in enumerate(self.positions)
            }
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
        sql = f"INSERT INTO {self.spec.table} BY NAME SELECT {', '.join(select)} FROM {source}"
        self._insert(pa.table(arrays), sql)

    def _flush_jsonl(self) -> None:
        if not self.payloads:
            return
        spec = self.spec
        n = len(self.payloads)
        batch = pa.table({
            "payload": pa.array(self.payloads, pa.string()),
            "_source_line": pa.array(self.lines, pa.int64()),
        })
        self.payloads, self.lines = [], []
        # One JSON parse per list extraction instead of one per key; s[i] is key i as text.
        paths = [_sql_str("$." + json.dumps(key)) for key in spec.columns]
        json_keys = [k for k in spec.columns if k in spec.json_columns]
        json_paths = [_sql_str("$." + json.dumps(k)) for k in json_keys]
        pos = {key: i + 1 for i, key in enumerate(spec.columns)}
        checks = [f"coalesce(s[{pos[k]}], '') <> ''" for k in spec.required]
        for k in spec.timestamp_columns:
            v = f"s[{pos[k]}]"
            checks.append(
                f"(coalesce({v}, '') = '' OR (regexp_full_match({v}, {_sql_str(TIMESTAMP_PATTERN)})"
                f" AND left({v}, 4) <> '0000' AND TRY_CAST(left({v}, 10) AS DATE) IS NOT NULL))"
            )
        for k, allowed in spec.allowed_values.items():
            values = ", ".join(_sql_str(v) for v in allowed)
            checks.append(f"(coalesce(s[{pos[k]}], '') = '' OR s[{pos[k]}] IN ({values}))")
        ok = " AND ".join(["p IS NOT NULL", *checks])
        j = f", json_extract(p, [{', '.join(json_paths)}]) AS j" if json_paths else ""
        self.con.register(_BATCH_VIEW, batch)
        try:
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE {_STAGE_TABLE} AS "
                f"SELECT *, coalesce({ok}, false) AS ok FROM ("
                f"  SELECT _source_line, payload, p, json_extract_string(p, [{', '.join(paths)}]) AS s{j}"
                f"  FROM (SELECT _source_line, payload, TRY_CAST(payload AS JSON) AS p FROM {_BATCH_VIEW}))"
            )
        finally:
            self.con.unregister(_BATCH_VIEW)
        select = []
        for i, key in enumerate(spec.columns, start=1):
            expr = f"s[{i}]"
            if key in spec.json_columns:
                expr = f"NULLIF(j[{json_keys.index(key) + 1}], 'null'::JSON)"
            select.append(f"{expr} AS {_q(spec.column_name(key))}")
        self.con.execute(
            f"INSERT INTO {spec.table} BY NAME SELECT {', '.join(select)}, p AS payload,"
            f" {_sql_str(self.rel)} AS _source_file, _source_line, ?::TIMESTAMP AS _loaded_at"
            f" FROM {_STAGE_TABLE} WHERE ok",
            [self.loaded_at],
        )
        bad = self.con.execute(
            f"SELECT _source_line, payload FROM {_STAGE_TABLE} WHERE NOT ok ORDER BY _source_line"
        ).fetchall()
        self.con.execute(f"DROP TABLE {_STAGE_TABLE}")
        self.accepted += n - len(bad)
        for line, text in bad:
            self.quarantine(line, _jsonl_problem(spec, text), text)

    def _flush_quarantine(self) -> None:
        if not self.q_lines:
            return
        table = pa.table({
            "line": pa.array(self.q_lines, pa.int64()),
            "reason": pa.array(self.q_reasons, pa.string()),
            "raw_text": pa.array(self.q_text, pa.string()),
        })
        self.q_lines, self.q_reasons, self.q_text = [], [], []
        sql = (
            f"INSERT INTO {QUARANTINE_TABLE} (file_id, source, path, line, reason, raw_text, quarantined_at) "
            f"SELECT {int(self.file_id)}, {_sql_str(self.spec.name)}, {_sql_str(self.rel)}, line, reason, "
            f"raw_text, ?::TIMESTAMP FROM {_BATCH_VIEW}"
        )
        self._insert(table, sql)


# ---------------------------------------------------------------------------------------------------------
# Parsing
# ---------------------------------------------------------------------------------------------------------


class _Lines:
    """Decoded lines of a binary file, tracking line number and byte offset for error messages.

    ``taken`` collects the lines handed out since it was last cleared, which is how a CSV record that
    spans several lines (quoted newlines) gets its exact raw text and starting line. A line that is not
    valid UTF-8 is still handed out (its bad bytes kept as surrogate escapes) and its problem noted in
    ``taken_problem``, so the caller quarantines just that record while the rest of the file loads.
    """

    def __init__(self, f: BinaryIO, rel: str) -> None:
        self.f, self.rel = f, rel
        self.lineno = 0
        self.offset = 0
        self.taken: list[str] = []
        self.taken_problem: str | None = None
        self.has_bom = False
        self.line_ending: str | None = None

    def take_clear(self) -> None:
        """Start collecting the next record's lines."""
        self.taken.clear()
        self.taken_problem = None

    def __iter__(self) -> Iterator[str]:
        for raw in self.f:
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                text = raw.decode("utf-8", errors="surrogateescape")
                if self.taken_problem is None:
                    self.taken_problem = (
                        f"not UTF-8: byte 0x{raw[e.start]:02x} at byte {e.start + 1} of line {self.lineno + 1}"
                        " (this row was saved in another encoding, e.g. Windows-1252; the raw text keeps"
                        " the bytes as \\x escapes)"
                    )
            if self.lineno == 0:
                if text.startswith("\ufeff"):
                    text = text[1:]
                    self.has_bom = True
                self.line_ending = "crlf" if text.endswith("\r\n") else "lf" if text.endswith("\n") else None
            self.lineno += 1
            self.offset += len(raw)
            self.taken.append(text)
            yield text


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
        lines = _Lines(f, rel)
        reader = csv.reader(iter(lines), delimiter=delimiter, strict=True)
        header: list[str] | None = None
        try:
            for row in reader:
                if not _blank(row):
                    header = [_clean_label(label) for label in row]
                    break
        except csv.Error as e:
            raise FileRejected(f"{rel}: the header line cannot be parsed as CSV ({e})") from None
        if header is None:
            raise FileRejected(f"{rel} is empty (no header line)")
        dialect = _Dialect(
            _DELIMITERS[delimiter], "utf-8 with BOM" if lines.has_bom else "utf-8", lines.line_ending
        )

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
        required = [(matched[c], c) for c in spec.required]
        ids = [(matched[c], c) for c in spec.id_columns if c in matched]
        stamps = [(matched[c], c) for c in spec.timestamp_columns if c in matched]
        vocabularies = [(matched[c], c, allowed) for c, allowed in spec.allowed_values.items() if c in matched]
        width = len(header)

        while True:
            lines.take_clear()
            start = lines.lineno + 1
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as e:
                raw = _raw_text(lines.taken)
                if lines.taken_problem:
                    writer.quarantine(start, lines.taken_problem, raw)
                    continue
                if "unexpected end of data" in str(e):
                    reason = "unterminated quoted field at end of file (file truncated?)"
                else:
                    reason = f"malformed CSV row: {e}"
                writer.quarantine(start, reason, raw)
                continue
            if _blank(row):
                continue
            if lines.taken_problem:
                writer.quarantine(start, lines.taken_problem, _raw_text(lines.taken))
                continue
            if len(row) != width:
                writer.quarantine(
                    start, f"row has {len(row)} fields, header has {width}", _raw_text(lines.taken)
                )
                continue
            errors = [f"missing {label}" for i, label in required if not row[i].strip()]
            for i, label in ids:
                value = row[i]
                if value.strip() and not is_whole_number(value):
                    errors.append(f"{label} {value!r} is not a whole number")
            for i, label in stamps:
                value = row[i]
                value = value.strip()
                if value and not is_timestamp(value):
                    errors.append(f"{label} {value!r} is not a date/time")
            for i, label, allowed in vocabularies:
                if row[i] and row[i] not in allowed:
                    errors.append(_not_allowed(label, row[i], allowed))
            if errors:
                writer.quarantine(start, "; ".join(errors), _raw_text(lines.taken))
                continue
            extra = None
            if extra_positions:
                extra = json.dumps(
                    {label: (row[i] if row[i] != "" else None) for i, label in extra_positions},
                    ensure_ascii=False,
                )
            writer.add_csv(row, extra, start)
    return dialect


def _parse_jsonl(path: Path, spec: SourceSpec, rel: str, writer: _Writer) -> _Dialect:
    # Lines are only split and decoded here; validation happens set-wise in DuckDB (see _Writer), which is
    # several times faster than json.loads per line. Only lines DuckDB flags come back to _jsonl_problem.
    with open(path, "rb") as f:
        lines = _Lines(f, rel)
        add = writer.add_jsonl
        for text in lines:
            problem = lines.taken_problem
            lines.take_clear()  # one line per record; keep `taken` from growing
            line = text.strip()
            if problem:
                writer.quarantine(lines.lineno, problem, _raw_text([text.rstrip("\r\n")]))
            elif line:
                add(line, lines.lineno)
    return _Dialect(None, "utf-8 with BOM" if lines.has_bom else "utf-8", lines.line_ending)


def _jsonl_problem(spec: SourceSpec, line: str) -> str:
    """Why a JSON line cannot be accepted (Python's reading of the same rules DuckDB applied)."""
    try:
        obj = json.loads(line)
    except ValueError as e:
        return f"invalid JSON: {e}"
    if type(obj) is not dict:
        return f"line is not a JSON object (found {_json_type(obj)})"
    errors = []
    for key in spec.required:
        value = obj.get(key)
        if value is None or value == "":
            errors.append(f"missing {key}")
    for key in spec.timestamp_columns:
        value = obj.get(key)
        if value is not None and value != "" and not is_timestamp(value):
            errors.append(f"{key} {value!r} is not a date/time")
    for key, allowed in spec.allowed_values.items():
        value = obj.get(key)
        if value is not None and value != "" and str(value) not in allowed:
            errors.append(_not_allowed(key, value, allowed))
    if "\\u" in line and _has_lone_surrogate(obj):
        errors.append("contains an unpaired \\u surrogate escape (not valid Unicode text)")
    return "; ".join(errors) or "invalid JSON (rejected by DuckDB's JSON parser)"


def _not_allowed(label: str, value: object, allowed: tuple[str, ...]) -> str:
    return f"{label} {value!r} is not one of {', '.join(allowed)}"


def _has_lone_surrogate(obj: object) -> bool:
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _json_type(obj: object) -> str:
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
            for lineno, raw in enumerate(f, start=1):
                text = raw.decode("utf-8", errors="backslashreplace")
                if lineno == 1:
                    text = text.removeprefix("\ufeff")
                if not text.strip():
                    continue
                if not header_seen:
                    header_seen = True
                    continue
                writer.quarantine(lineno, reason, text.rstrip("\r\n"))
    except OSError as e:
        writer.quarantine(None, f"{reason}; the file cannot be read: {e}", None)
