"""`orchestration.dbt_process`: dbt's command line without building the log lines that no logger writes."""

from __future__ import annotations

import io
import json
import re
import sys
from pathlib import Path
from types import SimpleNamespace

from dbt.adapters.events.types import ConnectionUsed, SQLQuery, SQLQueryStatus
from dbt.events.logging import setup_event_logger
from dbt.events.types import MainReportVersion
from dbt_common.events import logger as dbt_logger
from dbt_common.events.base_types import EventLevel
from dbt_common.events.event_manager import EventManager
from dbt_common.events.event_manager_client import cleanup_event_logger, get_event_manager
from dbt_common.events.functions import fire_event
from dbt_common.events.types import Note, PrintEvent

from orchestration.dbt import DBT_PROCESS_ARGS, dbt_cli_resource
from orchestration.dbt_process import skip_unlogged_events


def _build_flags(log_path: Path) -> SimpleNamespace:
    """The logging flags of the refresh's `dbt build`: JSON lines at info on stdout (dagster-dbt reads them), the
    file log at warn as text (`orchestration.dbt.DBT_FILE_LOG`)."""
    return SimpleNamespace(
        LOG_PATH=str(log_path),
        LOG_LEVEL="info",
        LOG_FORMAT="json",
        QUIET=False,
        DEBUG=False,
        USE_COLORS=False,
        LOG_CACHE_EVENTS=False,
        LOG_LEVEL_FILE="warn",
        LOG_FORMAT_FILE="text",
        USE_COLORS_FILE=False,
        LOG_FILE_MAX_BYTES=10 * 2**20,
    )


def _fire_a_build_s_events(log_path: Path, monkeypatch) -> tuple[list[dict], list[str], int]:
    """Fire debug, info, warning, error and print events as a build does; the stdout lines (without their
    times), the log file's lines (without their times) and how many lines the loggers built."""
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "stdout", stdout)
    built = []
    for cls in (dbt_logger._JsonLogger, dbt_logger._TextLogger):
        create_line = cls.create_line

        def counting(self, msg, create_line=create_line):
            built.append(msg.info.name)
            return create_line(self, msg)

        monkeypatch.setattr(cls, "create_line", counting)
    setup_event_logger(_build_flags(log_path))
    node = {"unique_id": "model.actionhouse.dim_contacts", "node_name": "dim_contacts"}
    fire_event(MainReportVersion(version="1.11", log_version=3))
    for _ in range(3):
        fire_event(ConnectionUsed(conn_type="duckdb", conn_name="model.actionhouse.dim_contacts", node_info=node))
        fire_event(SQLQuery(conn_name="model.actionhouse.dim_contacts", sql="select 1", node_info=node))
        fire_event(SQLQueryStatus(status="OK", elapsed=0.01, node_info=node))
        fire_event(Note(msg="a debug note"), level=EventLevel.DEBUG)
    fire_event(Note(msg="an info note"), level=EventLevel.INFO)
    fire_event(Note(msg="a warning"), level=EventLevel.WARN)
    fire_event(Note(msg="an error"), level=EventLevel.ERROR)
    fire_event(PrintEvent(msg="printed by a macro"))
    get_event_manager().flush()
    cleanup_event_logger()
    lines = []
    for line in stdout.getvalue().splitlines():
        event = json.loads(line)
        event["info"].pop("ts")
        lines.append(event)
    file_text = (log_path / "dbt.log").read_text()
    file_lines = [re.sub(r"^\d\d:\d\d:\d\d  ", "", line) for line in file_text.splitlines() if line]
    return lines, file_lines, len(built)


def test_events_no_logger_writes_are_dropped_and_the_written_lines_are_the_same(tmp_path, monkeypatch):
    stdout, file_log, built = _fire_a_build_s_events(tmp_path / "dbt", monkeypatch)
    # Restored after the test (the patch changes dbt's classes in this process).
    monkeypatch.setattr(EventManager, "fire_event", EventManager.fire_event)
    monkeypatch.setattr(dbt_logger._Logger, "write_line", dbt_logger._Logger.write_line)
    skip_unlogged_events()
    skip_unlogged_events()  # idempotent
    quiet_stdout, quiet_file_log, quiet_built = _fire_a_build_s_events(tmp_path / "dbt_process", monkeypatch)

    assert quiet_stdout == stdout
    assert quiet_file_log == file_log
    assert [event["info"]["name"] for event in stdout] == ["MainReportVersion", "Note", "Note", "Note", "PrintEvent"]
    assert file_log == ["a warning", "an error", "printed by a macro"]
    # dbt builds a line per logger for each of the 17 events; here only the lines written (5 + 3).
    assert built == 2 * 17
    assert quiet_built == 8


def test_the_refresh_runs_dbt_through_dbt_process():
    resource = dbt_cli_resource()
    assert resource.dbt_executable == sys.executable
    assert resource.global_config_flags == DBT_PROCESS_ARGS


def test_dbt_process_main_returns_dbt_s_exit_status(monkeypatch):
    """`main` returns the status dbt's command line ends with (click ends it with `SystemExit`), for
    `exit_without_teardown` to end the process with."""
    import dbt.cli.main

    from orchestration import dbt_process

    for raised, status in ((0, 0), (None, 0), (1, 1), (2, 2), ("an error message", 1)):

        def cli(raised=raised):
            raise SystemExit(raised)

        monkeypatch.setattr(dbt.cli.main, "cli", cli)
        assert dbt_process.main() == status
    monkeypatch.setattr(dbt.cli.main, "cli", lambda: None)
    assert dbt_process.main() == 0


def test_the_objects_dbt_loaded_are_frozen_while_its_nodes_run(monkeypatch):
    import gc

    from dbt.task.runnable import GraphRunnableTask

    from orchestration.dbt_process import freeze_loaded_objects_before_nodes

    seen = []

    def execute_nodes(self):
        seen.append(gc.get_freeze_count())
        return "results"

    monkeypatch.setattr(GraphRunnableTask, "execute_nodes", execute_nodes)
    freeze_loaded_objects_before_nodes()
    freeze_loaded_objects_before_nodes()  # idempotent: one wrapper
    assert GraphRunnableTask.execute_nodes(None) == "results"
    assert len(seen) == 1 and seen[0] > 0
    assert gc.get_freeze_count() == 0
