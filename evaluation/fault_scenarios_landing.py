"""Landing-side fault scenarios of `make eval-faults` (issue 18, rows 2 and 6 of its table).

Each scenario is a plain function taking an empty working folder and returning a dict of figures for the
`eval-faults …` line; each is also a test (tests/test_fault_scenarios_landing.py). They run the real loader
(`landing.ingest_landing`) on a contacts export from the sample world, with no monkeypatching:

- `stray_quote_scenario`: a 3,000-row contacts export whose row 10 opens a quote it never closes.
  `stray_quote_rows_lost` counts rows of the file neither accepted nor quarantined (at their own line) with their
  full raw text (goal 0).
- `internal_error_scenario`: a file whose first load fails for a reason that is not its content — the raw table
  refuses the insert (a NOT NULL constraint the loader does not expect, standing in for a bug), and, for a second
  file, the warehouse runs out of memory (DuckDB's `memory_limit`) — next to a file with bad input. After the
  fault is gone the next run loads both (`internal_error_retried=1`); the bad file stays rejected.
- `truncated_copy_scenario`: a contacts export copied into the landing folder in pieces while refreshes run.
  `truncated_copy_loaded` counts loads of the file before it was complete (goal 0).

Run alone: `python -m evaluation.fault_scenarios_landing` prints the figures of all three on one line.
"""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import duckdb

from landing import ingest_landing
from landing.schema import ensure_raw_schema

STRAY_QUOTE_ROWS = 3000
STRAY_QUOTE_ROW = 10  # the data row (1-based, after the header) whose quote is never closed
CONTACTS_FOLDER = "hubspot_contacts"


def contacts_export(work_dir: Path, rows: int = STRAY_QUOTE_ROWS, seed: int = 7) -> bytes:
    """The header and the first ``rows`` records of a sample world's contacts export (as the CRM saves it)."""
    from sample_world import generate_world

    world = work_dir / "world"
    generate_world(world, contacts=rows + rows // 10, seed=seed)
    (export,) = sorted((world / "landing" / CONTACTS_FOLDER).glob("*.csv"))
    records = _records(export.read_bytes())
    if len(records) <= rows:
        raise ValueError(f"the sample world's contacts export has {len(records) - 1} rows, fewer than {rows}")
    return b"".join(text for text, _ in records[: rows + 1])


def _records(data: bytes, delimiter: str = ",") -> list[tuple[bytes, int]]:
    """Each CSV record of ``data`` (the header first) as its raw bytes and the line it starts on."""
    physical = data.splitlines(keepends=True)
    taken: list[int] = []

    def feed():
        for i, line in enumerate(physical):
            taken.append(i)
            yield line.decode("utf-8")

    out = []
    reader = csv.reader(feed(), delimiter=delimiter)
    for _ in reader:
        first, last = taken[0], taken[-1]
        out.append((b"".join(physical[first : last + 1]), first + 1))
        taken.clear()
    return out


def _warehouse(work_dir: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(work_dir / "warehouse.duckdb"))
    ensure_raw_schema(con)
    return con


def stray_quote_scenario(work_dir: Path) -> dict[str, int]:
    """Row 2 of issue 18: a 3,000-row contacts export whose row 10 opens a quote it never closes.

    Two files: the export as the sample CRM writes it (empty values quoted, so a later quoted value stops the
    runaway quote after some rows) and the same rows re-saved by a spreadsheet as tab-delimited text (no value needs
    quotes, so the runaway quote would reach the end of the file — the case of the issue). Figures, summed over both:
    ``stray_quote_rows_lost`` (rows neither accepted at their line nor quarantined at their line with their whole
    raw text — a row that only shows up inside another row's quarantined text is hidden, so lost),
    ``stray_quote_rows_loaded`` and ``stray_quote_file_rows`` (the loader's row count and the files' records,
    equal when nothing is hidden), ``stray_quote_rows_accepted``, ``stray_quote_rows_quarantined``.
    """
    work_dir = Path(work_dir)
    export = contacts_export(work_dir)
    # Excel saves "Unicode text" tab-delimited: no value holds a tab, so no value needs quotes.
    resaved = io.StringIO()
    writer = csv.writer(resaved, delimiter="\t", lineterminator="\n")
    for text, _ in _records(export):
        writer.writerows(csv.reader(io.StringIO(text.decode("utf-8"))))
    landing = work_dir / "landing"
    (landing / CONTACTS_FOLDER).mkdir(parents=True)
    files = {
        "contacts_as_exported.csv": _with_stray_quote(export),
        "contacts_resaved.csv": _with_stray_quote(resaved.getvalue().encode("utf-8"), "\t"),
    }
    delimiters = {"contacts_as_exported.csv": ",", "contacts_resaved.csv": "\t"}
    for name, data in files.items():
        (landing / CONTACTS_FOLDER / name).write_bytes(b"".join(text for text, _ in data))

    figures = dict.fromkeys(("rows_lost", "file_rows", "rows_loaded", "rows_accepted", "rows_quarantined"), 0)
    with _warehouse(work_dir) as con:
        for result in ingest_landing(con, landing, sources=[CONTACTS_FOLDER], settle_seconds=0).files:
            name = Path(result.path).name
            rows = files[name][1:]
            accepted = set(
                con.execute(
                    "select record_id, _source_line from raw.hubspot_contacts where _source_file = ?", [result.path]
                ).fetchall()
            )
            quarantined_at = dict(
                con.execute(
                    "select line, raw_text from raw.quarantine_rows where path = ? and file_id = ?",
                    [result.path, result.file_id],
                ).fetchall()
            )
            for text, line in rows:
                row_id = next(csv.reader(io.StringIO(text.decode("utf-8")), delimiter=delimiters[name]))[0]
                kept = (row_id, line) in accepted or text.decode("utf-8") in (quarantined_at.get(line) or "")
                figures["rows_lost"] += not kept
            figures["file_rows"] += len(rows)
            figures["rows_loaded"] += result.rows_loaded
            figures["rows_accepted"] += result.rows_accepted
            figures["rows_quarantined"] += result.rows_quarantined
    return {f"stray_quote_{key}": value for key, value in figures.items()}


def _with_stray_quote(data: bytes, delimiter: str = ",") -> list[tuple[bytes, int]]:
    """The records of ``data`` (header first, each with the line it starts on), row 10 with a quote opened at the
    start of its second field (the first name) and never closed."""
    records = _records(data, delimiter)
    text, line = records[STRAY_QUOTE_ROW]
    if text.count(b"\n") != 1:
        raise ValueError(f"row {STRAY_QUOTE_ROW} of the export spans several lines")
    record_id, rest = text.split(delimiter.encode(), 1)
    records[STRAY_QUOTE_ROW] = (record_id + delimiter.encode() + b'"' + rest, line)
    return records


def internal_error_scenario(work_dir: Path) -> dict[str, int]:
    """Row 6 of issue 18, first half: only a rejection for bad input is final.

    Run 1 meets a fault that is not the file's: the warehouse's raw table refuses the insert (a NOT NULL
    constraint on a column the export leaves empty, standing in for a bug or a broken warehouse — deterministic,
    unlike an out-of-memory error). The fault is then removed and run 2 must load the file whole. A file with bad
    input (no `Record ID` column) sits next to it and must stay rejected.

    Figures: ``internal_error_retried`` (1 when the file failed in run 1 and loaded whole in run 2),
    ``internal_error_failed_recorded`` (failed attempts recorded in `raw.load_files`), ``bad_input_retried``
    (loads of the bad file after its rejection; goal 0).
    """
    work_dir = Path(work_dir)
    export = contacts_export(work_dir, rows=250)
    landing = work_dir / "landing"
    folder = landing / CONTACTS_FOLDER
    folder.mkdir(parents=True)
    lines = _records(export)[1:]
    (folder / "a_contacts.csv").write_bytes(export)
    (folder / "b_no_record_id.csv").write_bytes(b"First Name,Email\nAna,ana@example.com\n")
    statuses: dict[str, list[str]] = {}

    def run(con: duckdb.DuckDBPyConnection) -> None:
        try:
            report = ingest_landing(con, landing, sources=[CONTACTS_FOLDER], settle_seconds=0)
        except duckdb.Error:  # a loader that lets the fault escape: nothing recorded this run
            return
        for r in report.files:
            statuses.setdefault(Path(r.path).name, []).append(r.status)

    with _warehouse(work_dir) as con:
        empty_column = "extra_columns"  # the export has no columns beyond the contract's
        con.execute(f"alter table raw.hubspot_contacts alter column {empty_column} set not null")
        run(con)
        con.execute(f"alter table raw.hubspot_contacts alter column {empty_column} drop not null")
        run(con)
        loaded = dict(
            con.execute(
                "select path, sum(rows_loaded) from raw.load_files where status = 'loaded' group by path"
            ).fetchall()
        )
        failed_recorded = con.execute("select count(*) from raw.load_files where status = 'failed'").fetchall()[0][0]
    loaded = {Path(p).name: int(n) for p, n in loaded.items()}
    runs = statuses.get("a_contacts.csv", [])
    retried = runs[:1] != ["loaded"] and runs[1:2] == ["loaded"] and loaded.get("a_contacts.csv") == len(lines)
    bad_file_runs = statuses.get("b_no_record_id.csv", [])
    return {
        "internal_error_retried": int(retried),
        "internal_error_failed_recorded": int(failed_recorded),
        "bad_input_retried": sum(status != "skipped" for status in bad_file_runs[1:])
        + ("b_no_record_id.csv" in loaded),
    }


def truncated_copy_scenario(work_dir: Path, settle_seconds: float = 1.0, pieces: int = 12) -> dict[str, int]:
    """Row 6 of issue 18, second half: a file still being copied must not be loaded truncated.

    A contacts export is written into the landing folder in ``pieces`` appends 50 ms apart (a copy in
    progress) while ingest runs one after another; once the copy is done, one more run. Figures:
    ``truncated_copy_loaded`` (loads of the file before it was complete; goal 0), ``complete_copy_loaded``
    (1 when the complete file loaded exactly once with all its rows).
    """
    work_dir = Path(work_dir)
    export = contacts_export(work_dir, rows=1000)
    full_rows = len(_records(export)) - 1
    landing = work_dir / "landing"
    (landing / CONTACTS_FOLDER).mkdir(parents=True)
    target = landing / CONTACTS_FOLDER / "contacts_copy.csv"
    size = -(-len(export) // pieces)
    chunks = [export[i : i + size] for i in range(0, len(export), size)]

    def copy_in_pieces() -> None:
        with open(target, "wb") as f:
            for chunk in chunks:
                f.write(chunk)
                f.flush()
                time.sleep(0.05)

    with _warehouse(work_dir) as con:
        (landing / CONTACTS_FOLDER / "contacts_copy.csv").touch()
        writer = threading.Thread(target=copy_in_pieces)
        writer.start()
        while writer.is_alive():
            ingest_landing(con, landing, sources=[CONTACTS_FOLDER], settle_seconds=settle_seconds)
        writer.join()
        ingest_landing(con, landing, sources=[CONTACTS_FOLDER], settle_seconds=settle_seconds)
        loads = con.execute(
            "select rows_loaded, size_bytes from raw.load_files where path like '%contacts_copy.csv'"
        ).fetchall()
    truncated = sum(1 for _, size_bytes in loads if size_bytes != len(export))
    complete = sum(1 for rows, size_bytes in loads if size_bytes == len(export) and rows == full_rows)
    return {"truncated_copy_loaded": truncated, "complete_copy_loaded": int(complete == 1 and len(loads) == 1)}


SCENARIOS = (stray_quote_scenario, internal_error_scenario, truncated_copy_scenario)
"""The landing scenarios, in the order `make eval-faults` runs them."""


def main() -> None:
    """Run the landing scenarios, each in its own temporary folder; print their figures on one line."""
    import tempfile

    figures: dict[str, int] = {}
    for scenario in SCENARIOS:
        with tempfile.TemporaryDirectory(prefix=f"actionhouse-{scenario.__name__}-") as work_dir:
            figures.update(scenario(Path(work_dir)))
    print("eval-faults-landing " + " ".join(f"{key}={value}" for key, value in figures.items()))


if __name__ == "__main__":
    main()
