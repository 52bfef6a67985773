"""Point-in-time planner inputs, kept per planning run so a policy backtest can replay the past.

    write_snapshot(root, run_id, inputs, now)        # after load_inputs, before planning
    kept = keep_meanwhile(root, run_id, inputs, now)  # the Dagster asset: write + prune while it plans
    inputs, meta = read_snapshot(root, run_id)       # the backtest
    prune(root, keep_days=8)                         # bounded: older runs are deleted

One folder per run under `<data dir>/planner_snapshots/` with one Parquet file (zstd) per input frame of
`PlanningInputs` and `meta.json` (run id, data as-of, the planner's clock, missing inputs). A folder is written
under a temporary name and renamed, so a reader never sees half a snapshot. Size and retention: docs/outcomes.md
("Policy backtest").
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import fields
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from actions.inputs import PlanningInputs
from ops_store.schema import utc_now

SNAPSHOT_FOLDER = "planner_snapshots"
KEEP_DAYS_ENV = "ACTIONHOUSE_PLANNER_SNAPSHOT_DAYS"
DEFAULT_KEEP_DAYS = 8
FORMAT_VERSION = 1
FRAMES = [f.name for f in fields(PlanningInputs) if f.name not in ("as_of", "missing")]
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def snapshot_root(data_dir: Path) -> Path:
    """Where the snapshots of a data folder live."""
    return Path(data_dir) / SNAPSHOT_FOLDER


def keep_days() -> float:
    """Days of snapshots kept (`ACTIONHOUSE_PLANNER_SNAPSHOT_DAYS`, default 8: a 7-day backtest and a margin; 0 keeps
    none, an unreadable value the default)."""
    raw = os.environ.get(KEEP_DAYS_ENV, "").strip()
    try:
        return max(0.0, float(raw)) if raw else float(DEFAULT_KEEP_DAYS)
    except ValueError:
        return float(DEFAULT_KEEP_DAYS)


def _folder(root: Path, run_id: str) -> Path:
    return Path(root) / _SAFE.sub("_", run_id)


def write_snapshot(root: Path, run_id: str, inputs: PlanningInputs, now: datetime) -> Path:
    """Keep the inputs one planning run read (atomically: a temporary folder renamed into place)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    target = _folder(root, run_id)
    tmp = root / f".{target.name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir()
    try:
        for name in FRAMES:
            getattr(inputs, name).write_parquet(tmp / f"{name}.parquet", compression="zstd")
        meta = {
            "format": FORMAT_VERSION,
            "run_id": run_id,
            "as_of": inputs.as_of.isoformat(),
            "now": now.isoformat(),
            "missing": sorted(inputs.missing),
            "written_at": utc_now().isoformat(),
        }
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        if target.exists():
            shutil.rmtree(target)
        os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_snapshot(root: Path, run_id: str) -> tuple[PlanningInputs, dict[str, Any]]:
    """The inputs a planning run read, and its meta (`FileNotFoundError` when none was kept)."""
    folder = _folder(root, run_id)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    frames = {name: pl.read_parquet(folder / f"{name}.parquet") for name in FRAMES}
    inputs = PlanningInputs(as_of=datetime.fromisoformat(meta["as_of"]), missing=set(meta["missing"]), **frames)
    return inputs, meta


def has_snapshot(root: Path, run_id: str) -> bool:
    return (_folder(root, run_id) / "meta.json").exists()


def prune(root: Path, keep: float | None = None, now: datetime | None = None) -> int:
    """Delete snapshots written more than `keep` days ago (default `keep_days()`), and leftovers of interrupted
    writes older than an hour; returns how many folders went."""
    root = Path(root)
    if not root.exists():
        return 0
    now = now or utc_now()
    cutoff = now - timedelta(days=keep_days() if keep is None else keep)
    removed = 0
    for folder in root.iterdir():
        if not folder.is_dir():
            continue
        if folder.name.startswith("."):
            old = folder.stat().st_mtime < (now - timedelta(hours=1)).timestamp()
        else:
            try:
                old = datetime.fromisoformat(json.loads((folder / "meta.json").read_text())["written_at"]) < cutoff
            except (OSError, ValueError, KeyError):
                continue  # not a snapshot of ours: leave it
        if old:
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    return removed


def keep_meanwhile(root: Path, run_id: str, inputs: PlanningInputs, now: datetime) -> Future[None]:
    """`write_snapshot` (unless `keep_days()` is 0) then `prune`, on a thread of its own; the future's `result()`
    waits for both and raises what they raised.

    Polars compresses and writes the Parquet files without holding the GIL, so the planner plans on the other core
    meanwhile (the write took ~3 s of the 1M-contact planning step). The frames are not changed by planning."""

    def keep() -> None:
        if keep_days() > 0:
            write_snapshot(root, run_id, inputs, now)
        prune(root)

    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="planner-snapshot")
    try:
        return pool.submit(keep)
    finally:
        pool.shutdown(wait=False)  # the thread ends when `keep` does


def total_bytes(root: Path) -> int:
    """Bytes the snapshots take on disk."""
    root = Path(root)
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) if root.exists() else 0
