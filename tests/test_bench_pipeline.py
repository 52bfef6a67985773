"""Pure parts of the pipeline benchmark (`bench/pipeline.py`, `bench/world_cache.py`): how a refresh's time is
split into stages, and the generated-world cache (its key, reuse, placement). Nothing is timed here."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import pytest

from bench.pipeline import (
    STAGES,
    Phase,
    _process_tree_usage,
    cpu_by_group,
    cpu_line,
    dbt_node_intervals,
    dbt_node_stages,
    memory_by_stage,
    memory_line,
    model_stage,
    run_results_within,
    share_overlapping,
    stage_seconds,
    step_stage,
    wait_for_landing_to_settle,
)
from bench.world_cache import cached_world, place_world, tree_fingerprint, world_cache_key


def test_steps_map_to_stages():
    assert step_stage("load_landing_files") == "ingest"
    assert step_stage("raw_quality_gates") == "raw_gates"
    assert step_stage("golden_quality_gates") == "model_gates"
    assert step_stage("ml__score_log_score_drift") == "scoring"
    assert step_stage("queue_promises") == "proposals"
    assert step_stage("console__publication") == "publication"
    assert step_stage("crm__contacts") == "other"


def test_models_map_to_stages_by_folder():
    assert model_stage("models/staging/segment/stg_segment__web_events.sql") == "staging"
    assert model_stage("models/intermediate/entities/int_entities__contact_pairs.py") == "resolution"
    assert model_stage("models/intermediate/leads/int_leads__classified.sql") == "lead_capture"
    assert model_stage("models/marts/entities/dim_contacts.sql") == "golden"
    assert model_stage("models/marts/features/fct_lead_features.py") == "features"
    assert model_stage("models/marts/pipeline/fct_pipeline_deals.sql") == "action_marts"
    assert model_stage("models/marts/outcomes/fct_workflow_outcomes.sql") == "outcomes"
    assert model_stage("seeds/country_codes.csv") == "dbt_other"


def test_tests_take_the_stage_of_the_model_they_test():
    manifest = {
        "nodes": {
            "model.a.stg_x": {"resource_type": "model", "original_file_path": "models/staging/x/stg_x.sql"},
            "model.a.int_entities__y": {
                "resource_type": "model",
                "original_file_path": "models/intermediate/entities/int_entities__y.py",
            },
            "test.a.unique_stg_x_id": {"resource_type": "test", "attached_node": "model.a.stg_x"},
            "test.a.rel": {"resource_type": "test", "depends_on": {"nodes": ["model.a.int_entities__y"]}},
            "seed.a.codes": {"resource_type": "seed", "original_file_path": "seeds/codes.csv"},
        },
        "unit_tests": {
            "unit_test.a.int_entities__y.t": {
                "resource_type": "unit_test",
                "depends_on": {"nodes": ["model.a.int_entities__y"]},
            },
        },
    }
    assert dbt_node_stages(manifest) == {
        "model.a.stg_x": "staging",
        "model.a.int_entities__y": "resolution",
        "test.a.unique_stg_x_id": "staging",
        "test.a.rel": "resolution",
        "seed.a.codes": "dbt_other",
        "unit_test.a.int_entities__y.t": "resolution",
    }


def test_dbt_node_intervals_span_compile_start_to_execute_end():
    run_results = {
        "results": [
            {
                "unique_id": "model.a.stg_x",
                "timing": [
                    {"name": "compile", "started_at": "2026-12-04T10:00:00Z", "completed_at": "2026-12-04T10:00:01Z"},
                    {"name": "execute", "started_at": "2026-12-04T10:00:01Z", "completed_at": "2026-12-04T10:00:05Z"},
                ],
            },
            {"unique_id": "model.a.skipped", "timing": []},
        ]
    }
    [(stage, start, end)] = dbt_node_intervals(run_results, {"model.a.stg_x": "staging"})
    assert stage == "staging"
    assert end - start == pytest.approx(5.0)


def test_overlapping_nodes_share_each_instant():
    # Two threads: staging alone 0-4, staging and resolution together 4-8, resolution alone 8-10.
    shares = share_overlapping([("staging", 0, 8), ("resolution", 4, 10)])
    assert shares == {"staging": pytest.approx(6.0), "resolution": pytest.approx(4.0)}
    assert sum(shares.values()) == pytest.approx(10.0)  # the union of the intervals


def test_stages_add_up_to_the_process_wall_time():
    steps = [
        ("load_landing_files", 105.0, 120.0),
        ("raw_quality_gates", 120.5, 125.0),
        ("actionhouse_dbt_models", 125.0, 165.0),
        ("ml__lead_scores", 165.0, 170.0),
        ("console__publication", 170.0, 172.0),
    ]
    dbt = [
        ("staging", 126.0, 140.0),
        ("staging", 127.0, 135.0),
        ("resolution", 140.0, 155.0),
        ("features", 155.0, 160.0),
        ("features", 150.0, 170.0),  # clipped to the step's end (165)
    ]
    seconds = stage_seconds(100.0, 175.0, steps, dbt)
    assert list(seconds) == list(STAGES)
    assert seconds["startup"] == pytest.approx(5.0)
    assert seconds["finish"] == pytest.approx(3.0)
    assert seconds["ingest"] == pytest.approx(15.0)
    assert seconds["other"] == pytest.approx(0.5)  # between ingest and the raw gates
    assert seconds["staging"] == pytest.approx(14.0)
    assert seconds["resolution"] == pytest.approx(10.0 + 2.5)  # alone 140-150, shared with features 150-155
    assert seconds["features"] == pytest.approx(2.5 + 10.0)  # shared 150-155, 155-165 (two feature nodes)
    assert seconds["dbt_other"] == pytest.approx(1.0)  # 125-126: dbt start, no node running
    assert seconds["scoring"] == pytest.approx(5.0)
    assert sum(seconds.values()) == pytest.approx(75.0)


def test_sampled_memory_peaks_are_attributed_to_the_stages_and_dbt_nodes_running_then():
    steps = [
        ("load_landing_files", 105.0, 120.0),
        ("actionhouse_dbt_models", 125.0, 165.0),
        ("ml__lead_scores", 165.0, 170.0),
    ]
    nodes = [
        ("model.p.stg_contacts", "staging", 126.0, 140.0),
        ("model.p.int_entities__clusters", "resolution", 140.0, 155.0),
        ("model.p.fct_lead_features", "features", 150.0, 170.0),  # past the step's end: clipped
    ]
    samples = [
        (101.0, 300.0),  # startup
        (110.0, 900.0),  # ingest
        (122.0, 950.0),  # between steps
        (125.5, 1000.0),  # dbt step, no node yet
        (130.0, 2000.0),  # staging
        (145.0, 8000.0),  # resolution alone
        (152.0, 6000.0),  # resolution and features both running
        (160.0, 3000.0),  # features
        (167.0, 4000.0),  # scoring (not the features node, clipped at 165)
        (171.0, 500.0),  # finish
    ]
    by_stage, by_node = memory_by_stage(samples, steps, nodes)
    assert by_stage == {
        "startup": 300.0,
        "ingest": 900.0,
        "other": 950.0,
        "dbt_other": 1000.0,
        "staging": 2000.0,
        "resolution": 8000.0,
        "features": 6000.0,
        "scoring": 4000.0,
        "finish": 500.0,
    }
    assert by_node == {
        "model.p.stg_contacts": 2000.0,
        "model.p.int_entities__clusters": 8000.0,
        "model.p.fct_lead_features": 6000.0,
    }
    phase = Phase(1.0, 0.0, 1.0, 8000.0, 8000.0, stage_peak_mb=by_stage, node_peak_mb=by_node)
    line = memory_line("full_build", phase, top=2)
    assert line.startswith("bench-memory phase=full_build startup=300 ingest=900 raw_gates=0 staging=2000 ")
    assert " resolution=8000 " in line and " publication=0 " in line
    assert line.endswith(" top_nodes=int_entities__clusters:8000,fct_lead_features:6000")
    tested = Phase(1.0, 0.0, 1.0, 1.0, 1.0, node_peak_mb={"test.p.not_null_dim_contacts_id.827bd7db81": 2143.0})
    assert memory_line("next_hour", tested).endswith(" top_nodes=not_null_dim_contacts_id:2143")


def test_sampled_cpu_is_counted_for_the_step_running_between_two_samples():
    steps = [
        ("load_landing_files", 105.0, 120.0),
        ("actionhouse_dbt_models", 125.0, 165.0),
        ("actions__proposals", 165.0, 170.0),
    ]
    cpu_samples = [
        (100.0, 0.0),
        (104.0, 4.0),  # startup: 4 s of CPU in 4 s
        (110.0, 10.0),  # middle 107: ingest, 6 s in 6 s
        (120.0, 28.0),  # middle 115: ingest, 18 s in 10 s
        (124.0, 29.0),  # middle 122: between steps
        (164.0, 99.0),  # middle 144: the dbt step whole, 70 s in 40 s
        (167.0, 98.0),  # middle 165.5: proposals; a process ended unreaped: a drop counts as nothing
        (170.0, 102.0),  # middle 168.5: proposals
        (172.0, 103.0),  # finish
    ]
    groups = cpu_by_group(cpu_samples, steps)
    assert groups == {
        "startup": (4.0, 4.0),
        "ingest": (24.0, 16.0),
        "other": (1.0, 4.0),
        "dbt": (70.0, 40.0),
        "proposals": (4.0, 6.0),
        "finish": (1.0, 2.0),
    }
    phase = Phase(72.0, 100.0, 172.0, 1.0, 1.0, cpu_seconds=108.0, stage_cpu=groups)
    line = cpu_line("full_build", phase)
    assert line.startswith("bench-cpu phase=full_build cpu_seconds=108.0 cores=1.50 startup_cpu=4.0 startup_cores=1.00")
    assert " ingest_cpu=24.0 ingest_cores=1.50 " in line and " dbt_cpu=70.0 dbt_cores=1.75 " in line
    assert " scoring_cpu=0.0 scoring_cores=0.00 " in line  # no sample: nothing, not a division by zero
    assert cpu_by_group([(1.0, 5.0)], steps) == {}  # one sample: no interval


def test_the_process_tree_cpu_counts_a_running_child_and_a_reaped_one():
    import subprocess
    import sys

    spin = "import time\nend = time.process_time() + 0.6\nwhile time.process_time() < end: pass\n"
    # The parent runs one child to its end (reaped: its CPU moves into the parent's cutime), then a second child
    # that spins and then waits to be read.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import subprocess, sys\n"
            f"subprocess.run([sys.executable, '-c', {spin!r}])\n"
            f"child = subprocess.Popen([sys.executable, '-c', {spin!r} + 'import sys; sys.stdin.read()'],"
            " stdin=subprocess.PIPE)\n"
            "print('ready', flush=True)\nsys.stdin.read()\nchild.stdin.close()\nchild.wait()\n",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert parent.stdout.readline() == "ready\n"
        deadline = time.monotonic() + 20
        while (cpu := _process_tree_usage(parent.pid)[1]) < 1.2 and time.monotonic() < deadline:
            time.sleep(0.05)
        resident, cpu = _process_tree_usage(parent.pid)
        assert 1.2 <= cpu < 10  # both children's 0.6 s spins (and the interpreters' starts), once each
        assert resident > 10 * 2**20  # two live interpreters at least
    finally:
        parent.stdin.close()
        parent.wait(timeout=20)


def test_a_process_without_steps_is_all_other():
    seconds = stage_seconds(0.0, 12.0, [])
    assert seconds["other"] == 12.0
    assert sum(seconds.values()) == 12.0


def test_world_key_follows_size_seed_and_generator_source(tmp_path):
    source = tmp_path / "sample_world"
    source.mkdir()
    (source / "world.py").write_text("X = 1\n")
    before = tree_fingerprint(source)
    assert tree_fingerprint(source) == before
    os.utime(source / "world.py", (0, 0))  # times are not part of it
    assert tree_fingerprint(source) == before
    (source / "world.py").write_text("X = 2\n")
    after = tree_fingerprint(source)
    assert after != before
    assert world_cache_key(1000, 42, before) != world_cache_key(1000, 42, after)
    assert world_cache_key(1000, 42, before) != world_cache_key(1000, 7, before)
    assert world_cache_key(1000, 42, before) != world_cache_key(10000, 42, before)


def _fake_generate(calls):
    def generate(folder):
        calls.append(folder)
        (folder / "landing" / "hubspot_contacts").mkdir(parents=True)
        (folder / "landing" / "hubspot_contacts" / "contacts_0000.csv").write_text("Record ID\n1\n")
        (folder / "truth").mkdir()
        (folder / "truth" / "world_state.json").write_text("{}\n")

    return generate


def test_a_world_is_generated_once_per_key_and_older_generators_are_dropped(tmp_path):
    calls = []
    world, record = cached_world(1000, 42, _fake_generate(calls), worlds_dir=tmp_path, generator="aaa")
    assert record["generated_now"] and len(calls) == 1
    again, record = cached_world(1000, 42, _fake_generate(calls), worlds_dir=tmp_path, generator="aaa")
    assert again == world and not record["generated_now"] and len(calls) == 1
    assert record["generate_seconds"] >= 0
    newer, record = cached_world(1000, 42, _fake_generate(calls), worlds_dir=tmp_path, generator="bbb")
    assert record["generated_now"] and len(calls) == 2
    assert not world.exists() and newer.exists()


def test_a_placed_world_links_landing_files_and_copies_the_truth(tmp_path):
    world, _ = cached_world(1000, 42, _fake_generate([]), worlds_dir=tmp_path / "worlds", generator="aaa")
    data_dir = tmp_path / "build"
    place_world(world, data_dir)
    landing = data_dir / "landing" / "hubspot_contacts" / "contacts_0000.csv"
    assert landing.read_text() == "Record ID\n1\n"
    assert landing.stat().st_ino == (world / "landing" / "hubspot_contacts" / "contacts_0000.csv").stat().st_ino
    # The next hour's generation rewrites truth files in place: the pristine copy must not change with them.
    (data_dir / "truth" / "world_state.json").write_text('{"hour": 1}\n')
    assert (world / "truth" / "world_state.json").read_text() == "{}\n"


def test_run_results_of_another_dbt_build_are_not_used():
    results = {"metadata": {"invocation_started_at": "2026-12-04T10:00:10Z", "generated_at": "2026-12-04T10:01:00Z"}}
    step_start = datetime(2026, 12, 4, 10, 0, 0, tzinfo=UTC).timestamp()
    assert run_results_within(results, step_start, step_start + 70)
    assert not run_results_within(results, step_start + 20, step_start + 70)  # began before this step
    assert not run_results_within(results, step_start, step_start + 50)  # written after it
    assert not run_results_within({}, step_start, step_start + 70)


def test_the_dedupe_bench_caches_a_world_it_generates(tmp_path):
    # `make bench-dedupe` on a machine without a cached world: its generation goes through the cache (it once
    # handed the cache the generator's summary object where a mapping was expected, and failed).
    from bench.dedupe import _generate

    world, record = cached_world(200, 7, lambda folder: _generate(folder, 200, 7), worlds_dir=tmp_path, generator="ccc")
    assert record["generated_now"] and record["rows"]["hubspot_contacts"] > 0
    assert any((world / "landing" / "hubspot_contacts").iterdir())


# --- `--next-hour-only` (`make bench-next-hour`): one more hour on a copy of a built data folder ----------------


def _built_folder(folder, last_status="SUCCESS", contacts=1000):
    """A data folder shaped like the one a full `make bench` leaves (files tiny; runs.db with Dagster's columns)."""
    import json
    import sqlite3

    (folder / "landing" / "hubspot_contacts").mkdir(parents=True)
    (folder / "landing" / "hubspot_contacts" / "contacts_0000.csv").write_text("Record ID\n1\n")
    (folder / "truth").mkdir()
    (folder / "truth" / "world_state.json").write_text(json.dumps({"contacts": contacts, "seed": 42, "hour": 1}))
    (folder / "warehouse.duckdb").write_bytes(b"warehouse")
    (folder / "console").mkdir()
    (folder / "console" / "publication.duckdb").write_bytes(b"publication")
    (folder / "dagster_home" / "history").mkdir(parents=True)
    with sqlite3.connect(folder / "dagster_home" / "history" / "runs.db") as con:
        con.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, run_id TEXT, status TEXT, create_timestamp TEXT)")
        con.execute(
            "INSERT INTO runs (run_id, status, create_timestamp) VALUES ('aaaa1111', 'SUCCESS', '2026-12-05 10')"
        )
        if last_status:
            con.execute(
                "INSERT INTO runs (run_id, status, create_timestamp) VALUES ('bbbb2222', ?, '2026-12-05 11')",
                (last_status,),
            )
    con.close()
    return folder


def test_a_base_that_was_not_fully_built_is_refused_with_the_reason(tmp_path):
    from bench.pipeline import base_problem

    assert "no data folder" in base_problem(tmp_path / "build_1000")
    assert base_problem(_built_folder(tmp_path / "built")) is None
    placed_only = tmp_path / "placed"  # the world placed, the full build never ran
    (placed_only / "landing").mkdir(parents=True)
    (placed_only / "truth").mkdir()
    assert "missing truth/world_state.json, warehouse.duckdb, dagster_home/history/runs.db" in base_problem(placed_only)
    interrupted = _built_folder(tmp_path / "interrupted", last_status="STARTED")  # killed during the next hour
    assert "did not succeed: STARTED" in base_problem(interrupted)


def test_the_missing_base_error_tells_to_run_make_bench_first(tmp_path, capsys):
    from bench.pipeline import main

    code = main(["--next-hour-only", "--contacts", "1000", "--data-dir", str(tmp_path / "build_1000")])
    assert code == 2
    assert "make bench CONTACTS=1000" in capsys.readouterr().err
    wrong_size = _built_folder(tmp_path / "built", contacts=1000)
    assert main(["--next-hour-only", "--contacts", "5000", "--data-dir", str(wrong_size)]) == 2
    assert "holds 1000 contacts, not 5000" in capsys.readouterr().err


def test_the_scratch_copy_links_landing_files_and_copies_the_rest(tmp_path):
    from bench.pipeline import SCRATCH_MARKER, delete_scratch, prepare_scratch, tree_stamp

    base = _built_folder(tmp_path / "build")
    before = tree_stamp(base)
    scratch = tmp_path / "next_hour"
    prepare_scratch(base, scratch)
    landing = "landing/hubspot_contacts/contacts_0000.csv"
    assert (scratch / landing).stat().st_ino == (base / landing).stat().st_ino
    for copied in ("warehouse.duckdb", "console/publication.duckdb", "truth/world_state.json"):
        assert (scratch / copied).read_bytes() == (base / copied).read_bytes()
        assert (scratch / copied).stat().st_ino != (base / copied).stat().st_ino
    (scratch / "warehouse.duckdb").write_bytes(b"refreshed")
    (scratch / "truth" / "world_state.json").write_text("{}")
    (scratch / "landing" / "hubspot_contacts" / "contacts_h0002.csv").write_text("Record ID\n2\n")
    assert tree_stamp(base) == before  # what the scratch run writes never reaches the base
    # Replaced on the next run: a fresh copy, nothing of the previous hour left.
    prepare_scratch(base, scratch)
    assert not (scratch / "landing" / "hubspot_contacts" / "contacts_h0002.csv").exists()
    assert (scratch / "warehouse.duckdb").read_bytes() == b"warehouse"
    delete_scratch(scratch)
    assert not scratch.exists() and tree_stamp(base) == before
    # Never deletes what it did not make, nor copies into (or over) the base.
    foreign = tmp_path / "someone_elses"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep")
    with pytest.raises(ValueError, match=SCRATCH_MARKER):
        prepare_scratch(base, foreign)
    assert (foreign / "notes.txt").read_text() == "keep"
    with pytest.raises(ValueError, match="outside the data folder"):
        prepare_scratch(base, base / "next_hour")


def _hour_phase(started=1000.0):
    phase = Phase(60.0, started, started + 60.0, 1500.0, 2000.0)
    phase.stages = {**dict.fromkeys(STAGES, 0.0), "startup": 7.0, "resolution": 30.0, "finish": 2.0, "other": 21.0}
    phase.stage_peak_mb = {"resolution": 2000.0}
    phase.node_peak_mb = {"model.p.int_entities__contact_pairs": 2000.0}
    phase.steps = [
        ("load_landing_files", started + 7, started + 10),
        ("actionhouse_dbt_models", started + 10, started + 55),
    ]
    phase.dbt_nodes = [
        ("model.p.stg_x", "staging", started + 11, started + 13),
        ("model.p.int_entities__contact_pairs", "resolution", started + 13, started + 43),
    ]
    return phase


def test_a_next_hour_only_record_is_not_taken_for_a_full_run(tmp_path):
    import json

    from bench.pipeline import is_full_run, next_hour_line, next_hour_record

    record = next_hour_record(1000, 42, tmp_path / "build_1000", _hour_phase(), copy_seconds=2.0)
    assert record["kind"] == "next_hour_only" and not is_full_run(record)
    assert record["next_hour_seconds"] == 60.0 and record["fixed_cost_seconds"] == 9.0
    assert set(record["stages"]) == {"next_hour"} and "full_build_seconds" not in record
    assert is_full_run({"contacts": 1000, "stages": {}})  # records from before `kind` existed
    assert is_full_run({"kind": "full"})
    line = next_hour_line(record)
    assert line.startswith(
        "bench-next-hour contacts=1000 next_hour_seconds=60.0 fixed_cost_seconds=9.0 peak_rss_mb=1500"
    )
    assert line.endswith(f" base={tmp_path / 'build_1000'}")
    json.dumps(record)  # a line of the results file


def test_the_plot_draws_the_latest_full_run_per_size_not_a_later_next_hour_only(tmp_path, monkeypatch):
    import json
    import sys
    import types

    from bench import pipeline
    from bench.pipeline import next_hour_record

    full = {"kind": "full", "contacts": 1000, "stages": {"full_build": {"ingest": 5.0}, "next_hour": {"ingest": 1.0}}}
    older = {"contacts": 2000, "stages": {"full_build": {"ingest": 9.0}, "next_hour": {"ingest": 2.0}}}
    hour_only = next_hour_record(1000, 42, tmp_path, _hour_phase(), copy_seconds=1.0)
    results = tmp_path / "pipeline_results.jsonl"
    results.write_text("".join(json.dumps(r) + "\n" for r in (older, full, hour_only)))
    drawn = {}

    class Chart:  # records the rows handed to Altair instead of drawing them
        def __init__(self, frame, title):
            drawn["rows"] = frame

        def __getattr__(self, name):
            return lambda *args, **kwargs: self

    altair = types.SimpleNamespace(
        Chart=Chart, **{n: lambda *a, **k: None for n in ("Y", "X", "Color", "Order", "Tooltip", "Scale", "Step")}
    )
    monkeypatch.setitem(sys.modules, "altair", altair)
    monkeypatch.setitem(sys.modules, "pandas", types.SimpleNamespace(DataFrame=lambda rows: rows))
    pipeline.plot(results, tmp_path / "plot.png")
    runs = {(row["run"], row["stage"], row["seconds"]) for row in drawn["rows"]}
    assert runs == {
        ("1,000 contacts · full build", "ingest", 5.0),
        ("1,000 contacts · next hour", "ingest", 1.0),
        ("2,000 contacts · full build", "ingest", 9.0),
        ("2,000 contacts · next hour", "ingest", 2.0),
    }
    results.write_text(json.dumps(hour_only) + "\n")  # next hours only: nothing to draw, said plainly
    with pytest.raises(ValueError, match="no full `make bench` run"):
        pipeline.plot(results, tmp_path / "plot.png")


def test_the_slowest_steps_and_dbt_nodes_are_listed_slowest_first():
    from bench.pipeline import slowest_lines

    lines = slowest_lines(_hour_phase(), top=1)
    assert lines[0].startswith("bench: slowest Dagster steps")
    assert lines[1].split() == ["45.0", "+10.0", "dbt", "actionhouse_dbt_models"]
    assert lines[2].startswith("bench: slowest dbt nodes")
    assert lines[3].split() == ["30.0", "+13.0", "resolution", "int_entities__contact_pairs"]
    assert len(lines) == 4


def test_the_fixed_cost_is_startup_plus_finish():
    from bench.pipeline import fixed_cost_seconds

    phase = Phase(50.0, 0.0, 50.0, 1.0, 1.0)
    phase.stages = {"startup": 7.1, "ingest": 30.0, "finish": 2.0}
    assert fixed_cost_seconds(phase) == pytest.approx(9.1)
    assert fixed_cost_seconds(Phase(1.0, 0.0, 1.0, 1.0, 1.0)) == 0.0  # a refresh whose stages are unknown


def test_next_hour_only_times_each_hour_on_a_fresh_copy_and_leaves_the_base_as_it_was(tmp_path, monkeypatch, capsys):
    # The whole `--next-hour-only` flow with the `actionhouse` processes faked (a real one needs a full build first).
    import json

    from bench import pipeline
    from bench.pipeline import tree_stamp

    base = _built_folder(tmp_path / "build_1000")
    before = tree_stamp(base)
    calls = []

    def fake_phase(args, env):
        data_dir = pipeline.Path(env["ACTIONHOUSE_DATA_DIR"])
        calls.append((args[0], data_dir))
        if args[0] == "generate":  # the next hour: new landing files, the truth rewritten in place
            assert not (data_dir / "landing" / "hubspot_contacts" / "contacts_h0002.csv").exists()  # a fresh copy
            (data_dir / "landing" / "hubspot_contacts" / "contacts_h0002.csv").write_text("Record ID\n2\n")
            (data_dir / "truth" / "world_state.json").write_text('{"hour": 2}')
        if args[0] == "refresh":
            (data_dir / "warehouse.duckdb").write_bytes(b"refreshed")
        return _hour_phase()

    def fake_parse_for_builds(env):
        # The build folder's parse for the copy's warehouse, before the hour's refresh.
        assert env["ACTIONHOUSE_WAREHOUSE"] == str(pipeline.Path(env["ACTIONHOUSE_DATA_DIR"]) / "warehouse.duckdb")
        calls.append(("parse_for_builds", pipeline.Path(env["ACTIONHOUSE_DATA_DIR"])))
        return 0.0

    monkeypatch.setattr(pipeline, "_run_phase", fake_phase)
    monkeypatch.setattr(pipeline, "parse_for_builds", fake_parse_for_builds)
    monkeypatch.setattr(pipeline, "refresh_stages", lambda phase, home: phase.stages)
    monkeypatch.setenv("ACTIONHOUSE_LANDING_SETTLE_SECONDS", "0")
    results = tmp_path / "results.jsonl"
    scratch = tmp_path / "next_hour_1000"
    argv = ["--next-hour-only", "--data-dir", str(base), "--scratch-dir", str(scratch), "--results", str(results)]
    assert pipeline.main([*argv, "--repeat", "2"]) == 0
    assert [name for name, _ in calls] == ["prepare", "parse_for_builds", "generate", "refresh"] * 2
    assert {folder for _, folder in calls} == {scratch.resolve()}
    assert tree_stamp(base) == before and not scratch.exists()
    out = capsys.readouterr().out
    assert (
        "bench-next-hour contacts=1000 next_hour_seconds=60.0 fixed_cost_seconds=9.0 peak_rss_mb=1500 "
        f"run=1/2 base={base}\n" in out
    )
    assert "bench-next-hour-runs contacts=1000 runs=2 next_hour_seconds=60.0,60.0 median=60.0" in out
    assert "bench-stages phase=next_hour seconds=60.0 startup=7.0 " in out
    records = [json.loads(line) for line in results.read_text().splitlines()]
    assert [(r["kind"], r["run"], r["runs"]) for r in records] == [("next_hour_only", 1, 2), ("next_hour_only", 2, 2)]
    assert pipeline.main([*argv, "--keep"]) == 0
    assert (scratch / "warehouse.duckdb").read_bytes() == b"refreshed"  # kept for a look


def test_a_full_run_times_the_build_then_two_hours_one_after_another(tmp_path, monkeypatch, capsys):
    # `make bench`'s flow with the `actionhouse` processes faked: the second hour is timed and recorded beside the
    # first (the first after a full build carries that build's one-off work).
    import json

    from bench import pipeline

    calls = []
    seconds = iter([500.0, 60.0, 45.0])

    def fake_phase(args, env):
        calls.append(args[0])
        phase = _hour_phase()
        if args[0] == "refresh":
            phase.seconds = next(seconds)
        return phase

    monkeypatch.setattr(
        pipeline,
        "cached_world",
        lambda contacts, seed, generate: (
            tmp_path / "world",
            {"generate_seconds": 2.0, "generated_now": False, "generated_at": "then", "peak_rss_mb": 100},
        ),
    )
    monkeypatch.setattr(pipeline, "place_world", lambda world, data_dir: data_dir.mkdir(parents=True))
    monkeypatch.setattr(pipeline, "_run_phase", fake_phase)
    monkeypatch.setattr(pipeline, "refresh_stages", lambda phase, home: phase.stages)
    results = tmp_path / "results.jsonl"
    argv = ["--contacts", "1000", "--data-dir", str(tmp_path / "build"), "--results", str(results)]
    assert pipeline.main(argv) == 0
    assert calls == ["refresh", "generate", "refresh", "generate", "refresh"]
    out = capsys.readouterr().out
    assert "bench-stages phase=second_hour seconds=45.0 " in out
    assert (
        "bench contacts=1000 generate_seconds=2.0 full_build_seconds=500.0 next_hour_seconds=60.0 "
        "second_hour_seconds=45.0 fixed_cost_seconds=9.0 peak_rss_mb=1500\n" in out
    )
    (record,) = [json.loads(line) for line in results.read_text().splitlines()]
    assert (record["next_hour_seconds"], record["second_hour_seconds"]) == (60.0, 45.0)
    assert set(record["stages"]) == set(record["cpu_seconds"]) == {"full_build", "next_hour", "second_hour"}
    header = pipeline.markdown_table(results).splitlines()[0]
    assert header == "| stage | 1k full build | 1k next hour | 1k second hour |"


def test_the_table_has_a_column_per_size_and_phase_of_the_latest_full_runs(tmp_path):
    import json

    from bench.pipeline import main, markdown_table, next_hour_record

    def run(contacts, ingest, commit):
        return {
            "kind": "full",
            "contacts": contacts,
            "commit": commit,
            "measured_at": "2026-12-06T10:00:00Z",
            "full_build_seconds": 10 * ingest,
            "next_hour_seconds": ingest,
            "peak_rss_mb": 900,
            "peak_rss_mb_by_phase": {"full_build": 900, "next_hour": 600},
            "tree_rss_mb": {"full_build": 1000, "next_hour": 700},
            "stages": {"full_build": {"ingest": 5.0 * ingest}, "next_hour": {"ingest": ingest, "startup": 2.5}},
        }

    results = tmp_path / "pipeline_results.jsonl"
    records = (run(1_000_000, 3.0, "old"), run(10_000, 1.0, "a"), run(1_000_000, 4.0, "b"))
    hour_only = next_hour_record(10_000, 42, tmp_path, _hour_phase(), copy_seconds=1.0)
    results.write_text("".join(json.dumps(r) + "\n" for r in (*records, hour_only)))
    lines = markdown_table(results).splitlines()
    assert lines[0] == "| stage | 10k full build | 10k next hour | 1M full build | 1M next hour |"
    assert lines[1] == "|---|---:|---:|---:|---:|"
    assert "| `ingest` | 5.0 | 1.0 | 20.0 | 4.0 |" in lines  # the later 1M run, not the next-hour-only record
    assert "| `startup` | 0.0 | 2.5 | 0.0 | 2.5 |" in lines
    assert "| **process wall time** | **10.0** | **1.0** | **40.0** | **4.0** |" in lines
    assert "| peak RSS of one process (MB) | 900 | 600 | 900 | 600 |" in lines
    assert "| peak RSS of the process tree (MB) | 1000 | 700 | 1000 | 700 |" in lines
    assert lines[-1] == "(runs: 10k a 2026-12-06T10:00:00Z, 1M b 2026-12-06T10:00:00Z)"
    results.write_text(json.dumps(hour_only) + "\n")
    assert main(["--table", "--results", str(results)]) == 2  # nothing to tabulate, said plainly


def test_a_timed_hour_starts_once_its_landing_files_have_settled(tmp_path, monkeypatch):
    """The ingest waits for files changed within the settle time; the bench waits for them untimed instead."""
    monkeypatch.setenv("ACTIONHOUSE_LANDING_SETTLE_SECONDS", "0.6")
    old = tmp_path / "landing" / "leads" / "leads_h0001.csv"
    old.parent.mkdir(parents=True)
    old.write_text("email\n")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))
    assert wait_for_landing_to_settle(tmp_path / "landing") == 0.0

    (old.parent / "leads_h0002.csv").write_text("email\n")
    started = time.monotonic()
    waited = wait_for_landing_to_settle(tmp_path / "landing")
    assert 0.4 < waited <= 0.7
    assert time.monotonic() - started >= waited - 0.05
    from landing.ingest import _settled

    # What the ingest would find now: nothing young, so nothing to wait for.
    assert wait_for_landing_to_settle(tmp_path / "landing") == 0.0
    said: list[str] = []
    assert len(_settled(sorted((tmp_path / "landing").rglob("*.csv")), 0.6, said.append)) == 2
    assert said == []

    # A modification time in the future (a skewed clock) waits the settle time once, as the ingest does.
    future = time.time() + 3600
    os.utime(old, (future, future))
    assert 0.6 <= wait_for_landing_to_settle(tmp_path / "landing") <= 0.7
