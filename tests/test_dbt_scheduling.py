"""`orchestration.dbt_scheduling`: dbt starts the ready node with the longest remaining path when a thread frees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from orchestration.dbt_scheduling import longest_path_scores, previous_node_seconds

REPO = Path(__file__).resolve().parents[1]


def test_longest_path_scores_weigh_each_node_by_its_previous_time():
    graph = nx.DiGraph([("seed", "head"), ("head", "middle"), ("middle", "tail"), ("heavy_root", "leaf")])
    graph.add_node("lone")
    seconds = {"seed": 0.1, "head": 1.0, "middle": 2.0, "tail": 0.5, "heavy_root": 3.0, "leaf": 0.2}
    scores = longest_path_scores(graph, seconds)
    assert scores["tail"] == pytest.approx(-0.5)
    assert scores["seed"] == pytest.approx(-3.6)
    assert scores["heavy_root"] == pytest.approx(-3.2)
    # A node without a previous time counts at the median of the known ones (0.75).
    assert scores["lone"] == pytest.approx(-0.75)
    # Of the nodes without parents, the chain's seed is taken first although its own time is the smallest.
    roots = [node for node in graph.nodes if not graph.in_degree(node)]
    assert sorted(roots, key=lambda node: (scores[node], node)) == ["seed", "heavy_root", "lone"]


def test_longest_path_scores_without_times_count_nodes():
    graph = nx.DiGraph([("a", "b"), ("b", "c"), ("x", "c"), ("y", "z")])
    assert longest_path_scores(graph, {}) == {"a": -3, "b": -2, "c": -1, "x": -2, "y": -2, "z": -1}


def test_previous_node_seconds_read_the_run_results(tmp_path):
    path = tmp_path / "run_results.json"
    assert previous_node_seconds(path) == {}
    path.write_text("{not json")
    assert previous_node_seconds(path) == {}
    path.write_text(json.dumps({"results": [{"unique_id": "model.p.a", "execution_time": 1.5}, {"unique_id": "x"}]}))
    assert previous_node_seconds(path) == {"model.p.a": 1.5}


_PROFILE = """\
scheduling:
  target: dev
  outputs:
    dev:
      type: duckdb
      path: "{warehouse}"
      threads: {threads}
"""


def _project(tmp_path: Path, threads: int) -> Path:
    """A project where a chain (`chain_1` -> `chain_2` -> `chain_3`) starts from a seed, beside two models
    without parents or children whose names come first: dbt's own order runs those two before the seed."""
    project = tmp_path / "project"
    (project / "models").mkdir(parents=True)
    (project / "seeds").mkdir()
    (project / "dbt_project.yml").write_text(
        "name: scheduling\nversion: '1.0'\nprofile: scheduling\nmodel-paths: [models]\nseed-paths: [seeds]\n"
    )
    (project / "profiles.yml").write_text(_PROFILE.format(warehouse=tmp_path / "warehouse.duckdb", threads=threads))
    (project / "seeds" / "start.csv").write_text("n\n1\n2\n")
    (project / "models" / "aa_alone.sql").write_text("select 1 as n")
    (project / "models" / "ab_alone.sql").write_text("select 2 as n")
    (project / "models" / "chain_1.sql").write_text("select n from {{ ref('start') }}")
    (project / "models" / "chain_2.sql").write_text("select n from {{ ref('chain_1') }}")
    (project / "models" / "chain_3.sql").write_text("select n from {{ ref('chain_2') }}")
    (project / "models" / "schema.yml").write_text(
        "version: 2\nmodels:\n  - name: chain_1\n    columns:\n      - name: n\n        data_tests: [not_null]\n"
    )
    return project


def _build_order(project: Path, module: list[str]) -> tuple[list[str], dict]:
    """`dbt build` of `project` through `python <module...>`: the nodes in the order they ran, and the results."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYTHONPATH": str(REPO)}
    target = project / "target"
    completed = subprocess.run(
        [sys.executable, *module, "build", "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(target), "--log-path", str(project / "logs")],
        env=env, cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    results = json.loads((target / "run_results.json").read_text())
    assert completed.returncode == 0, completed.stdout[-3000:]
    starts = {result["unique_id"]: result["timing"][0]["started_at"] for result in results["results"]}
    return [node.split(".")[2] for node in sorted(starts, key=starts.get)], results


@pytest.mark.parametrize("runner", ["dbt_process", "dbt"])
def test_one_thread_runs_the_longest_chain_first(tmp_path, runner):
    project = _project(tmp_path, threads=1)
    module = ["-m", "orchestration.dbt_process"] if runner == "dbt_process" else ["-c", _STOCK_DBT]
    order, _ = _build_order(project, module)
    order = [node for node in order if not node.startswith("not_null")]
    if runner == "dbt_process":
        # The chain's tail ties with the lone models (one node left each): dbt's name order decides.
        assert order == ["start", "chain_1", "chain_2", "aa_alone", "ab_alone", "chain_3"]
    else:
        # dbt's own order (depth, then name, first in first out): what the refresh's dbt no longer does.
        assert order == ["aa_alone", "ab_alone", "start", "chain_1", "chain_2", "chain_3"]


# dbt's command line as installed, without this project's changes.
_STOCK_DBT = "import sys; from dbt.cli.main import cli; sys.argv[0] = 'dbt'; sys.exit(cli())"


def test_several_threads_run_every_node_after_its_parents_and_skip_a_failed_node_s_children(tmp_path):
    project = _project(tmp_path, threads=3)
    module = ["-m", "orchestration.dbt_process"]
    order, results = _build_order(project, module)
    assert sorted(order) == sorted(
        ["start", "aa_alone", "ab_alone", "chain_1", "chain_2", "chain_3", "not_null_chain_1_n"]
    )
    assert order.index("chain_1") < order.index("not_null_chain_1_n") < order.index("chain_2")
    # The same runs twice (the second weighs nodes by the first's times), and a failure skips what depends on it.
    (project / "models" / "chain_2.sql").write_text("select n from {{ ref('chain_1') }} where missing_column")
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "PYTHONPATH": str(REPO)}
    completed = subprocess.run(
        [sys.executable, *module, "build", "--project-dir", str(project), "--profiles-dir", str(project),
         "--target-path", str(project / "target"), "--log-path", str(project / "logs")],
        env=env, cwd=project, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 1
    statuses = {
        result["unique_id"].split(".")[2]: result["status"]
        for result in json.loads((project / "target" / "run_results.json").read_text())["results"]
    }
    assert statuses["chain_2"] == "error"
    assert statuses["chain_3"] == "skipped"
    assert statuses["aa_alone"] == statuses["ab_alone"] == statuses["chain_1"] == "success"
