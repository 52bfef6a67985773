"""Crash recovery for runs this machine's `actionhouse` commands start in-process.

A refresh killed with kill -9 (or a machine that lost power) leaves its Dagster run marked as started and keeps
the warehouse pool slots it held, so the next refresh would wait for them forever. Each run is tagged with the
process that runs it; before a new run starts, runs of this host whose process is gone are marked failed and
their slots freed. (Dagster's run monitoring does this for runs a daemon launched; in-process runs have no
daemon watching them, hence this explicit check.)

A killed refresh can also leave its dbt process running, holding the warehouse's lock. Child processes of a
run carry the run's id in their environment (`RUN_ID_ENV`); recovering a dead run stops the ones still alive
(SIGTERM, then SIGKILL after a grace period). Finding them reads `/proc` (Linux); elsewhere they are left to
finish on their own.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

RUN_ID_ENV = "ACTIONHOUSE_RUN_ID"
PID_TAG = "actionhouse/pid"
HOST_TAG = "actionhouse/host"
_UNFINISHED = [dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING, dg.DagsterRunStatus.CANCELING]


def run_tags() -> dict[str, str]:
    """Tags naming the process that runs a job, for `recover_dead_runs` to check later."""
    return {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return not _zombie(pid)


def _zombie(pid: int) -> bool:
    """True for a process that has ended but whose parent has not collected it yet (Linux `/proc`)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[:1] == ["Z"]


@dataclass(frozen=True)
class RecoveredRun:
    """A run whose process had died: marked failed; `stopped` are the processes it left running (e.g. dbt)."""

    run_id: str
    stopped: tuple[int, ...] = ()


def recover_dead_runs(instance: dg.DagsterInstance) -> list[RecoveredRun]:
    """Mark failed the unfinished runs of this host whose process is gone, and free their pool slots.

    Also stops processes such a run left running (`stop_processes_of_run`). Returns the runs recovered. A run
    whose process id was reused by another live process is left alone (it looks alive); it is then recovered
    once that process ends."""
    recovered = []
    runs = instance.get_runs(filters=dg.RunsFilter(statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()}))
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if not pid or pid == os.getpid() or _alive(pid):
            continue
        instance.report_run_failed(
            run,
            "The process running this run ended without finishing (killed or crashed); the next run marked it "
            "failed and freed its warehouse slots.",
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(RecoveredRun(run.run_id, tuple(stop_processes_of_run(run.run_id))))
    return recovered


def processes_of_run(run_id: str, proc: Path = Path("/proc")) -> list[int]:
    """Process ids whose environment names `run_id` in `RUN_ID_ENV` (children a run started, such as dbt)."""
    marker = f"{RUN_ID_ENV}={run_id}".encode()
    found = []
    for entry in proc.glob("[0-9]*"):
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except (OSError, ValueError):  # gone meanwhile, or another user's
            continue
    return [pid for pid in found if pid != os.getpid()]


def stop_processes_of_run(run_id: str, grace_seconds: float = 10.0) -> list[int]:
    """Stop what a dead run left running (SIGTERM, then SIGKILL after `grace_seconds`); returns their ids."""
    pids = processes_of_run(run_id)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_seconds
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            _signal(pid, signal.SIGKILL)
    return pids


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signum)
