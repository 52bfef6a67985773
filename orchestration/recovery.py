"""Crash recovery for runs this machine's `actionhouse` commands start in-process.

A refresh killed with kill -9 (or a machine that lost power) leaves its Dagster run marked as started and keeps
the warehouse pool slots it held, so the next refresh would wait for them forever. Each run is tagged with the
process that runs it; before a new run starts, runs of this host whose process is gone are marked failed and
their slots freed. (Dagster's run monitoring does this for runs a daemon launched; in-process runs have no
daemon watching them, hence this explicit check.)
"""

from __future__ import annotations

import os
import socket

import dagster as dg

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
    return True


def recover_dead_runs(instance: dg.DagsterInstance) -> list[str]:
    """Mark failed the unfinished runs of this host whose process is gone, and free their pool slots.

    Returns the ids of the runs recovered. A run whose process id was reused by another live process is left
    alone (it looks alive); it is then recovered once that process ends."""
    recovered = []
    runs = instance.get_runs(
        filters=dg.RunsFilter(statuses=_UNFINISHED, tags={HOST_TAG: socket.gethostname()})
    )
    for run in runs:
        pid = int(run.tags.get(PID_TAG, "0") or 0)
        if not pid or pid == os.getpid() or _alive(pid):
            continue
        instance.report_run_failed(
            run, "The process running this run ended without finishing (killed or crashed); the next run marked it "
            "failed and freed its warehouse slots."
        )
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        recovered.append(run.run_id)
    return recovered
