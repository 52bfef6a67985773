"""dbt's command line as the refresh runs it: `python -m orchestration.dbt_process <dbt arguments>`.

The same `dbt` (`dbt.cli.main.cli`), with one thing left out: building log lines that no logger writes. dbt turns
every event it fires (about 6,800 in a 10k hour's `dbt build`: a connection used, the SQL text and its status per
query, node compiling/executing, ...) into a protobuf message, then into a JSON line for the console logger and a
text line for the file logger, scrubbing each line of secrets by scanning the whole environment, and only then
hands the lines to Python's logging, which drops them: the console logs at info and the file at warn
(`orchestration.dbt.DBT_FILE_LOG`), and ~6,100 of these events are debug. That is ~2.3 s of CPU a
10k hour, a tenth of the dbt process's. Here an event is dropped before any of that when no logger would write
it and no callback but dbt's behaviour-change tracker (which reads one warning event only) listens; a line a
logger writes is built as before. What dbt prints, logs and writes is the same (a test compares the console
lines and the log file of a run with and without).

Two more things for the process's Python garbage collector (`orchestration.process`): what dbt loaded before its
nodes run (modules, manifest, graph) is left out of the collections while they run, and the process ends without
the interpreter's teardown of those objects (~1 s the refresh's dbt step waits for)."""

from __future__ import annotations

import logging
import sys
from typing import Any

from orchestration.process import exit_without_teardown, long_lived_objects_frozen

# The Python logging level each dbt event level is sent at (`dbt_common.events.logger.send_to_logger`).
_PYTHON_LEVEL = {
    "debug": logging.DEBUG,
    "test": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "error": logging.ERROR,
}


def skip_unlogged_events() -> None:
    """Make dbt's event manager drop events that no logger writes and no callback needs, before their lines
    (or, for events below every logger's level, their messages) are built. Idempotent."""
    from dbt_common.events import logger as dbt_logger
    from dbt_common.events.event_manager import EventManager

    if getattr(EventManager.fire_event, "_actionhouse", False):
        return
    from dbt.tracking import track_behavior_change_warn

    fire_event = EventManager.fire_event
    write_line = dbt_logger._Logger.write_line

    def writes(logger: Any, level: str) -> bool:
        python_logger = logger._python_logger
        return python_logger is not None and python_logger.isEnabledFor(_PYTHON_LEVEL.get(level, logging.ERROR))

    def quiet_write_line(self: Any, msg: Any) -> None:
        # A print event is sent at error level (`_Logger.write_line`); every other at its own.
        level = "error" if dbt_logger._is_print_event(msg) else msg.info.level
        if writes(self, level):
            write_line(self, msg)

    def quiet_fire_event(self: Any, e: Any, level: Any = None, node: Any = None, force_warn_or_error_handling=False):
        event_level = (level or e.level_tag()).value
        # Only debug-level events are dropped here: warnings and errors go on to dbt's --warn-error handling, and
        # print events (info) are written at error level even under --quiet.
        if (
            event_level in ("debug", "test")
            and not force_warn_or_error_handling
            and not any(writes(logger, event_level) for logger in self.loggers)
            # dbt's own callback on every command reads `BehaviorChangeEvent` (a warning) only.
            and all(callback is track_behavior_change_warn for callback in self.callbacks)
        ):
            return
        fire_event(self, e, level=level, node=node, force_warn_or_error_handling=force_warn_or_error_handling)

    quiet_fire_event._actionhouse = True  # type: ignore[attr-defined]
    EventManager.fire_event = quiet_fire_event  # type: ignore[method-assign]
    dbt_logger._Logger.write_line = quiet_write_line  # type: ignore[method-assign]


def freeze_loaded_objects_before_nodes() -> None:
    """Leave what dbt loaded before running the nodes (its modules, the manifest, the graph: ~260,000 objects that
    live until it exits) out of the garbage collector's passes while the nodes run
    (`orchestration.process.long_lived_objects_frozen`). Idempotent."""
    from dbt.task.runnable import GraphRunnableTask

    if getattr(GraphRunnableTask.execute_nodes, "_actionhouse", False):
        return
    execute_nodes = GraphRunnableTask.execute_nodes

    def frozen_execute_nodes(self: Any) -> Any:
        with long_lived_objects_frozen():
            return execute_nodes(self)

    frozen_execute_nodes._actionhouse = True  # type: ignore[attr-defined]
    GraphRunnableTask.execute_nodes = frozen_execute_nodes  # type: ignore[method-assign]


def main() -> int:
    """Run dbt's command line on `sys.argv[1:]`, as the `dbt` executable does; its exit status."""
    skip_unlogged_events()
    freeze_loaded_objects_before_nodes()
    from dbt.cli.main import cli

    sys.argv[0] = "dbt"
    try:
        cli()
    except SystemExit as done:  # click ends dbt's command this way
        if done.code is None or isinstance(done.code, int):
            return done.code or 0
        print(done.code, file=sys.stderr)  # what `sys.exit(message)` prints
        return 1
    return 0


if __name__ == "__main__":
    from orchestration.dbt_preload import run_in_preloaded_process

    # In a refresh, the dbt process it preloaded runs the command (`orchestration.dbt_preload`); else dbt runs here.
    status = run_in_preloaded_process(sys.argv)
    # dbt's process ends as soon as its command has: without the interpreter's teardown of the objects it loaded
    # (~1 s of every build, which the refresh's dbt step waits for).
    exit_without_teardown(main() if status is None else status)
