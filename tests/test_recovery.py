"""Crash recovery: a run whose process died is marked failed and its warehouse slots freed by the next run."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import dagster as dg
import pytest
from dagster._core.storage.dagster_run import DagsterRun

from orchestration.recovery import HOST_TAG, PID_TAG, RUN_ID_ENV, recover_dead_runs, run_tags
from orchestration.settings import WAREHOUSE_POOL


def _run(instance, run_id: str, pid: int, host: str | None = None) -> DagsterRun:
    run = DagsterRun(
        job_name="refresh_warehouse",
        run_id=run_id,
        status=dg.DagsterRunStatus.STARTED,
        tags={PID_TAG: str(pid), HOST_TAG: host or socket.gethostname()},
    )
    instance.add_run(run)
    instance.event_log_storage.claim_concurrency_slot(WAREHOUSE_POOL, run_id, "load_landing_files")
    return run


def test_a_run_whose_process_died_is_failed_and_frees_its_slot(tmp_path):
    dead = subprocess.Popen(["true"])
    dead.wait()
    with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
        instance.event_log_storage.set_concurrency_slots(WAREHOUSE_POOL, 3)
        killed = _run(instance, "a" * 32, dead.pid)
        alive = _run(instance, "b" * 32, os.getppid())  # a live process
        elsewhere = _run(instance, "c" * 32, dead.pid, host="another-host")  # not ours to judge
        assert [r.run_id for r in recover_dead_runs(instance)] == [killed.run_id]
        statuses = {r: instance.get_run_by_id(r).status for r in (killed.run_id, alive.run_id, elsewhere.run_id)}
        assert statuses == {
            killed.run_id: dg.DagsterRunStatus.FAILURE,
            alive.run_id: dg.DagsterRunStatus.STARTED,
            elsewhere.run_id: dg.DagsterRunStatus.STARTED,
        }
        claimed = {s.run_id for s in instance.event_log_storage.get_concurrency_info(WAREHOUSE_POOL).claimed_slots}
        assert claimed == {alive.run_id, elsewhere.run_id}
        assert recover_dead_runs(instance) == []  # once


def test_what_a_dead_run_left_running_is_stopped(tmp_path):
    """A killed refresh's dbt keeps the warehouse locked: the next run stops it (it carries the run's id)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    run_id = "d" * 32
    leftover = subprocess.Popen(["sleep", "60"], env={**os.environ, RUN_ID_ENV: run_id})
    unrelated = subprocess.Popen(["sleep", "60"], env={**os.environ, RUN_ID_ENV: "e" * 32})
    try:
        with dg.DagsterInstance.local_temp(str(tmp_path)) as instance:
            _run(instance, run_id, dead.pid)
            (recovered,) = recover_dead_runs(instance)
        assert recovered.stopped == (leftover.pid,)
        # SIGTERM, or SIGKILL after the grace period for a process that ignores SIGTERM (as it may inherit).
        assert leftover.wait(timeout=15) in (-signal.SIGTERM, -signal.SIGKILL)
        assert unrelated.poll() is None
    finally:
        for process in (leftover, unrelated):
            process.kill()
            process.wait()


def test_runs_carry_the_process_that_runs_them():
    assert run_tags() == {PID_TAG: str(os.getpid()), HOST_TAG: socket.gethostname()}


def test_sigterm_stops_a_run_the_way_ctrl_c_does():
    """A scheduler's SIGTERM becomes the interrupt Dagster handles (it tells dbt to stop), not a hard exit."""
    from orchestration.cli import _sigterm_as_interrupt

    before = signal.getsignal(signal.SIGTERM)
    # During a run Dagster's own SIGINT handler raises the interrupt; the default one stands in for it here
    # (a process started in the background may have inherited SIGINT as ignored).
    sigint = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt), _sigterm_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # interrupted long before
    finally:
        signal.signal(signal.SIGINT, sigint)
    assert signal.getsignal(signal.SIGTERM) is before
