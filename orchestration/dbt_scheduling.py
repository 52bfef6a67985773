"""The order in which dbt starts its nodes: the longest remaining path first.

dbt (`dbt.task.runnable.GraphRunnableTask.run_queue`) takes every node off its priority queue as soon as the node's
parents are done and hands it to its thread pool, whose own queue is first in, first out. With 4 threads on 2
cores the pool's queue is seldom empty, so a node waits behind every node that became ready before it, whatever
the priority: in a 1M hour the head of the longest chain (contacts staged -> resolution -> golden records ->
`dim_contacts` -> lead and account features) waited ~1.3 s behind other staging models' tests for a thread, and
`fct_lead_features` ~0.5 s behind three marts off the chain. dbt's priority itself (the node's depth from the
roots, then its name) puts the seeds, which the contacts' staging needs, after every staging model.

Here a node is taken off the priority queue only when a thread is free for it, and the priority is the length of
the longest path from the node to the end of the graph, each node counted at its time in the previous invocation's
`run_results.json` (the same target folder: the last refresh's build), so that the chain that ends the build
runs first whenever a thread frees. A node without a previous time counts at the median of the known times (every
node equal when there is none: the longest path in nodes). What runs is unchanged: every node, each after its
parents and their tests; only the order among nodes that are ready at the same time differs.
"""

from __future__ import annotations

import json
import statistics
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import networkx as nx


def previous_node_seconds(run_results_path: str | Path) -> dict[str, float]:
    """Each node's execution time in the run results at `run_results_path` ({} when there is no readable file)."""
    try:
        results = json.loads(Path(run_results_path).read_text())["results"]
    except (OSError, ValueError, KeyError, TypeError):
        return {}
    return {
        result["unique_id"]: float(result["execution_time"])
        for result in results
        if isinstance(result, dict) and isinstance(result.get("execution_time"), int | float)
    }


def longest_path_scores(graph: nx.DiGraph, seconds: Mapping[str, float]) -> dict[str, float]:
    """Each node's priority for dbt's queue (lower runs first): minus the longest sum of node times along a path
    from the node to a node with no children, the node's own time included. `seconds` holds the known times;
    other nodes count at their median (1.0 when none is known)."""
    known = [seconds[node] for node in graph.nodes if node in seconds]
    default = statistics.median(known) if known else 1.0
    remaining: dict[str, float] = {}
    for node in reversed(list(nx.topological_sort(graph))):
        below = max((remaining[child] for child in graph.successors(node)), default=0.0)
        remaining[node] = seconds.get(node, default) + below
    return {node: -length for node, length in remaining.items()}


def _requeue(queue: Any, nodes: Iterable[tuple[Any, str]]) -> None:
    """Put `nodes` ((old score, id) pairs taken off dbt's queue) back at their new scores."""
    for _, node in nodes:
        queue.inner.put((queue._scores[node], node))


def run_longest_paths_first() -> None:
    """Make dbt start the ready node with the longest remaining path whenever a thread is free (module docstring).
    Idempotent; applies to every dbt command run in this process."""
    from dbt.exceptions import DbtInternalError
    from dbt.flags import get_flags
    from dbt.task.runnable import GraphRunnableTask

    if getattr(GraphRunnableTask.run_queue, "_actionhouse", False):
        return

    def run_queue(self: Any, pool: Any) -> None:
        queue = self.job_queue
        if queue is None:
            raise DbtInternalError("Got to run_queue with no job queue set")
        # Nothing has run yet: the queue's graph is whole and its inner queue holds the nodes without parents.
        queue._scores = longest_path_scores(queue.graph, previous_node_seconds(self.result_path()))
        with queue.lock:
            initial = []
            while not queue.inner.empty():
                initial.append(queue.inner.get_nowait())
                queue.inner.task_done()
            _requeue(queue, initial)
        free_threads = threading.Semaphore(self.config.threads)

        def callback(result: Any) -> None:
            # As dbt's own callback: mark_done must happen here or dbt deadlocks on an ephemeral model's error.
            try:
                self._handle_result(result)
                queue.mark_done(result.node.unique_id)
            finally:
                free_threads.release()

        while not queue.empty():
            free_threads.acquire()
            self.handle_job_queue(pool, callback)

        # What dbt's run_queue does after submitting the last node.
        if get_flags().FAIL_FAST:
            while queue.wait_until_something_was_done():
                self._raise_set_error()
        else:
            queue.join()
        self._raise_set_error()

    run_queue._actionhouse = True  # type: ignore[attr-defined]
    GraphRunnableTask.run_queue = run_queue  # type: ignore[method-assign]
