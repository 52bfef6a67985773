"""`orchestration.dbt_preload`: the refresh's dbt command run by a dbt process preloaded at the refresh's start.

A small dbt project of its own (a table, an incremental model, a Python model, a passing and a failing test, a model
that fails, a slow one) runs through dagster-dbt's resource as the refresh runs it, with and without the preloaded
process: the same stdout lines, log file, artifacts and exit status; the fallbacks; the signals; the process's end.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from orchestration.dbt import DBT_FILE_LOG, DBT_PROCESS_ARGS, ActionhouseDbtCliResource
from orchestration.dbt_preload import PRELOADED_DBT_ENV, preloaded_dbt_process
from orchestration.recovery import RUN_ID_ENV, processes_of_run, stop_processes_of_run

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the preloaded process is Linux only")

PROJECT_FILES = {
    "dbt_project.yml": """
        name: tiny
        version: "1.0"
        profile: tiny
        models:
          tiny:
            +materialized: table
    """,
    "profiles.yml": """
        tiny:
          target: dev
          outputs:
            dev:
              type: duckdb
              path: "{{ env_var('ACTIONHOUSE_WAREHOUSE') }}"
              threads: 1
    """,
    "models/ok.sql": "select range as id, range % 3 as kind from range(10)",
    "models/increments.sql": """
        {{ config(materialized='incremental', unique_key='id') }}
        select id, kind from {{ ref('ok') }}
        {% if is_incremental() %} where id > (select max(id) - 3 from {{ this }}) {% endif %}
    """,
    "models/pythonic.py": """
        import polars as pl


        def model(dbt, session):
            return dbt.ref("ok").pl().with_columns(double=pl.col("id") * 2)
    """,
    "models/broken.sql": "select * from a_table_that_does_not_exist",
    "models/slow.sql": "select sum(hash(range)) as total from range(20000000000)",
    "models/schema.yml": """
        version: 2
        models:
          - name: ok
            columns:
              - name: id
                data_tests: [unique, not_null]
              - name: kind
                data_tests:
                  - accepted_values:
                      arguments: {values: [0, 1]}
    """,
}


def _project(root: Path) -> Path:
    project = root / "project"
    for name, text in PROJECT_FILES.items():
        path = project / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    return project


def _resource(project: Path) -> ActionhouseDbtCliResource:
    return ActionhouseDbtCliResource(
        project_dir=str(project), dbt_executable=sys.executable, global_config_flags=DBT_PROCESS_ARGS
    )


def _start(project: Path, args: list[str]) -> subprocess.Popen:
    """`dbt <args>` as the refresh's dbt step starts it (dagster-dbt's resource: stdout and stderr on one pipe)."""
    invocation = _resource(project).cli(
        [*args, *DBT_FILE_LOG], target_path=project / "target" / "build", raise_on_error=False
    )
    return invocation.process


_VOLATILE = {"ts", "pid", "invocation_id", "node_started_at", "node_finished_at", "execution_time", "elapsed"}
_VOLATILE = _VOLATILE | {"timing", "generated_at", "invocation_started_at", "started_at", "completed_at"}


def _normalized(value, root: Path):
    if isinstance(value, dict):
        return {k: _normalized(v, root) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_normalized(v, root) for v in value]
    if isinstance(value, str):
        value = value.replace(str(root), "<root>")
        return re.sub(r"\d+\.\d+", "<n>", re.sub(r"\d\d:\d\d:\d\d(\.\d+)?", "<time>", value))
    return value


def _outcome(root: Path, process: subprocess.Popen) -> dict:
    """What a dbt command left: its stdout lines, exit status, log file and run results, without times and ids."""
    output = process.stdout.read().decode()
    status = process.wait()
    lines = [json.loads(line) if line.startswith("{") else line for line in output.splitlines()]
    target = root / "project" / "target" / "build"
    log = target / "dbt.log"
    run_results = (
        json.loads((target / "run_results.json").read_text()) if (target / "run_results.json").exists() else {}
    )
    return _normalized(
        {
            "status": status,
            "lines": lines,
            "log": log.read_text().splitlines() if log.exists() else None,
            "results": run_results.get("results"),
            "args": run_results.get("args"),
            "artifacts": sorted(path.name for path in target.iterdir()),
        },
        root,
    )


def _run(root: Path, commands: list[list[str]], preloaded: bool) -> tuple[list[dict], list[str]]:
    """Each command in turn on the project under `root`, each with a process preloaded for it or none; what
    each left, and what the preloading reported."""
    reports: list[str] = []
    outcomes = []
    project = root / "project"
    for args in commands:
        if preloaded:
            with preloaded_dbt_process(reports.append, project) as process, process.offered():
                outcomes.append(_outcome(root, _start(project, args)))
        else:
            outcomes.append(_outcome(root, _start(project, args)))
    return outcomes, reports


@pytest.fixture
def warehouse_env(tmp_path, monkeypatch):
    """Each run's own project and warehouse: `ACTIONHOUSE_WAREHOUSE` is set per run (dagster-dbt passes it on)."""
    monkeypatch.delenv(PRELOADED_DBT_ENV, raising=False)
    return tmp_path


def _with_warehouse(root: Path, monkeypatch) -> Path:
    _project(root)
    monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE", str(root / "warehouse.duckdb"))
    return root


def test_a_build_in_the_preloaded_process_prints_writes_and_ends_as_dbt_does_itself(warehouse_env, monkeypatch):
    # One value per selection flag, as dagster-dbt passes them on (dbt reads a space as a union).
    commands = [
        ["build", "--exclude", "broken slow"],  # the table, incremental and Python models; a test fails
        ["build", "--select", "ok increments pythonic", "--exclude", "test_type:data"],  # all green
        ["build", "--full-refresh", "--select", "increments"],
        ["build", "--select", "broken"],  # a model error
        ["run", "--select", "pythonic increments"],  # incremental again
    ]
    outcomes = {}
    for preloaded in (False, True):
        root = _with_warehouse(warehouse_env / ("preloaded" if preloaded else "itself"), monkeypatch)
        outcomes[preloaded], reports = _run(root, commands, preloaded)
        if preloaded:
            assert len(reports) == len(commands)
            assert all(report.startswith("dbt started in the dbt process preloaded") for report in reports), reports
    assert [outcome["status"] for outcome in outcomes[False]] == [1, 0, 0, 1, 0]
    for itself, preloaded in zip(outcomes[False], outcomes[True], strict=True):
        assert preloaded == itself
    failing = outcomes[False][0]
    assert any("accepted_values_ok_kind" in str(line) for line in failing["log"])  # the failed test, logged
    assert {result["status"] for result in failing["results"]} == {"success", "pass", "fail", "skipped"}
    assert any(line["info"]["name"] == "LogModelResult" for line in failing["lines"] if isinstance(line, dict))


def test_without_a_preloaded_process_the_command_runs_dbt_itself(warehouse_env, monkeypatch):
    """Each command on a project and warehouse of its own (a second build in one folder parses partially and adds
    to the log file): the same outcome as dbt run by the command itself."""
    for number in range(6):
        _project(warehouse_env / str(number))
    roots = iter(warehouse_env / str(number) for number in range(6))

    def build() -> dict:
        root = next(roots)
        monkeypatch.setenv("ACTIONHOUSE_WAREHOUSE", str(root / "warehouse.duckdb"))
        return _outcome(root, _start(root / "project", ["build", "--select", "ok"]))

    itself = build()
    reports: list[str] = []
    # Nobody listening at the address.
    monkeypatch.setenv(PRELOADED_DBT_ENV, "@actionhouse-dbt-nobody-here")
    assert build() == itself
    monkeypatch.delenv(PRELOADED_DBT_ENV)
    # Used already: the second command runs dbt itself.
    with preloaded_dbt_process(reports.append, warehouse_env / "2" / "project") as preloaded, preloaded.offered():
        assert build() == itself
        assert build() == itself
    assert len(reports) == 1 and reports[0].startswith("dbt started in the dbt process preloaded"), reports
    # Gone before the command came (killed).
    reports.clear()
    with preloaded_dbt_process(reports.append, warehouse_env / "4" / "project") as preloaded, preloaded.offered():
        preloaded.process.kill()
        preloaded.process.wait()
        assert build() == itself
    assert reports and reports[0].startswith("the preloaded dbt process ended unused"), reports
    # Turned off.
    reports.clear()
    monkeypatch.setenv("ACTIONHOUSE_PRELOAD_DBT", "0")
    with preloaded_dbt_process(reports.append, warehouse_env / "5" / "project") as preloaded:
        assert preloaded is None
    assert reports == []


def test_a_command_whose_environment_differs_is_refused_and_runs_dbt_itself(warehouse_env, monkeypatch):
    itself_root = _with_warehouse(warehouse_env / "itself", monkeypatch)
    itself = _outcome(itself_root, _start(itself_root / "project", ["build", "--select", "ok"]))
    root = _with_warehouse(warehouse_env / "refused", monkeypatch)
    reports: list[str] = []
    with preloaded_dbt_process(reports.append, root / "project") as preloaded, preloaded.offered():
        monkeypatch.setenv("SOME_SECRET_SETTING", "hunter2")  # what an import could have read
        assert _outcome(root, _start(root / "project", ["build", "--select", "ok"])) == itself
        preloaded.process.wait(timeout=10)  # single use: it ends after refusing
    assert len(reports) == 1 and "SOME_SECRET_SETTING" in reports[0] and "hunter2" not in reports[0], reports
    assert reports[0].startswith("dbt started on its own")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _gone_within(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return not _alive(pid)


_HOLDER = """
import os, sys, time
from orchestration.dbt_preload import preloaded_dbt_process
with preloaded_dbt_process(lambda line: None, sys.argv[1]) as preloaded:
    print(preloaded.process.pid, flush=True)
    time.sleep(float(sys.argv[2]))
    if sys.argv[3] == "exit":
        os._exit(0)  # as `orchestration.process.exit_without_teardown`: no cleanup of the block
"""


@pytest.mark.parametrize("end", ["sigkill", "exit", "block"])
def test_an_unused_preloaded_process_ends_with_the_refresh(warehouse_env, monkeypatch, end):
    root = _with_warehouse(warehouse_env, monkeypatch)
    # The refresh: killed while the process still imports ("sigkill"), ended without cleanup once it waits
    # ("exit"), or the block ended ("block").
    pause = {"sigkill": "0.3", "exit": "5", "block": "5"}[end]
    holder = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(root / "project"), pause, end], stdout=subprocess.PIPE, text=True
    )
    pid = int(holder.stdout.readline())
    if end == "sigkill":
        holder.kill()
    assert holder.wait(timeout=30) in (0, -signal.SIGKILL)
    assert _gone_within(pid, 2)


def _wait_for_node(process: subprocess.Popen, model: str) -> list[str]:
    """The command's stdout lines up to the one saying `model` started, once its query runs (dbt-duckdb's cancel
    interrupts a running query only: one cancelled before it starts runs to its end)."""
    lines = []
    for line in process.stdout:
        lines.append(line.decode())
        if '"LogStartLine"' in lines[-1] and f"model.tiny.{model}" in lines[-1]:
            time.sleep(1.5)
            return lines
    raise AssertionError(f"{model} never started: {lines[-5:]}")


def _child_processes(pid: int) -> list[int]:
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            children.append(int(stat.parent.name))
    return children


def test_signals_reach_dbt_in_the_preloaded_process_and_it_ends_as_dbt_ends(warehouse_env, monkeypatch):
    """dagster-dbt's SIGINT (a cancelled run): dbt cancels its query and ends with the same status as when the
    command runs it itself; recovery's SIGTERM ends both processes, the command as if killed by it."""
    root = _with_warehouse(warehouse_env, monkeypatch)
    project = root / "project"
    itself = _start(project, ["run", "--select", "slow"])
    _wait_for_node(itself, "slow")
    itself.send_signal(signal.SIGINT)
    itself.communicate(timeout=30)  # read on: a full pipe would hold dbt up
    status_itself = itself.returncode
    for signum, status in ((signal.SIGINT, status_itself), (signal.SIGTERM, -signal.SIGTERM)):
        with preloaded_dbt_process(lambda line: None, project) as preloaded, preloaded.offered():
            command = _start(project, ["run", "--select", "slow"])
            _wait_for_node(command, "slow")
            started = time.monotonic()
            command.send_signal(signum)
            command.communicate(timeout=30)
            assert command.returncode == status
            assert _gone_within(preloaded.process.pid, 5)
            assert time.monotonic() - started < 10
    assert status_itself != 0


def test_a_killed_command_stops_its_dbt_in_the_preloaded_process(warehouse_env, monkeypatch):
    root = _with_warehouse(warehouse_env, monkeypatch)
    project = root / "project"
    with preloaded_dbt_process(lambda line: None, project) as preloaded, preloaded.offered():
        command = _start(project, ["run", "--select", "slow"])
        _wait_for_node(command, "slow")
        children = _child_processes(preloaded.process.pid)  # dbt's own (multiprocessing's resource tracker)
        command.kill()
        command.wait()
        assert _gone_within(preloaded.process.pid, 2)
        assert all(_gone_within(child, 2) for child in children)
        command.stdout.close()


def test_recovery_stops_what_a_dead_run_left_running_in_the_preloaded_process(warehouse_env, monkeypatch):
    """Recovery finds the command by the run id in its environment (the preloaded process's `/proc` environment is
    the one it started with) and stops it: its dbt in the preloaded process stops too."""
    root = _with_warehouse(warehouse_env, monkeypatch)
    project = root / "project"
    run_id = "f" * 32
    with preloaded_dbt_process(lambda line: None, project) as preloaded, preloaded.offered():
        monkeypatch.setenv(RUN_ID_ENV, run_id)
        command = _start(project, ["run", "--select", "slow"])
        _wait_for_node(command, "slow")
        # The command, and what dbt started with the command's environment (multiprocessing's resource tracker), as
        # when the command runs dbt itself; not the preloaded process.
        found = processes_of_run(run_id)
        assert command.pid in found and preloaded.process.pid not in found
        assert stop_processes_of_run(run_id, grace_seconds=10) == found
        assert command.wait(timeout=5) in (-signal.SIGTERM, -signal.SIGKILL)
        assert _gone_within(preloaded.process.pid, 2)
        command.stdout.close()


_STREAMS = """
import json, os, sys
from orchestration.dbt_preload import _standard_stream

def described(stream):
    return [stream.encoding, stream.errors, stream.line_buffering, stream.write_through, stream.mode, stream.name,
            stream.newlines, type(stream.buffer).__name__, getattr(stream.buffer, "raw", stream.buffer).name]

buffered = not sys.stdout.write_through
made = {name: described(_standard_stream(fd, name, getattr(sys, name).encoding, getattr(sys, name).errors, buffered))
        for name, fd in (("stdin", 0), ("stdout", 1), ("stderr", 2))}
theirs = {name: described(getattr(sys, name)) for name in made}
os.write(int(sys.argv[1]), json.dumps([made, theirs]).encode())
"""


@pytest.mark.parametrize("unbuffered", [False, True])
def test_the_standard_streams_are_made_as_the_interpreter_makes_them(unbuffered):
    read, write = os.pipe()
    env = (
        {**os.environ, "PYTHONUNBUFFERED": "1"}
        if unbuffered
        else {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    )
    subprocess.run(
        [sys.executable, "-c", _STREAMS, str(write)],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        pass_fds=(write,),
        env=env,
        check=True,
    )
    os.close(write)
    with os.fdopen(read) as pipe:
        made, theirs = json.load(pipe)
    assert made == theirs
    assert theirs["stdout"][3] is unbuffered


def test_a_preloaded_process_that_cannot_start_leaves_dbt_to_start_on_its_own(tmp_path):
    reports: list[str] = []
    with preloaded_dbt_process(reports.append, tmp_path / "no such folder") as preloaded:
        assert preloaded is None
    assert len(reports) == 1 and reports[0].startswith("dbt not preloaded (FileNotFoundError")
