"""Pure parts of the pipeline benchmark (`bench/pipeline.py`, `bench/world_cache.py`): how a refresh's time is
split into stages, and the generated-world cache (its key, reuse, placement). Nothing is timed here."""

from __future__ import annotations

import os
from datetime import UTC, datetime

import pytest

from bench.pipeline import (
    STAGES,
    Phase,
    dbt_node_intervals,
    dbt_node_stages,
    memory_by_stage,
    memory_line,
    model_stage,
    run_results_within,
    share_overlapping,
    stage_seconds,
    step_stage,
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

    world, record = cached_world(
        200, 7, lambda folder: _generate(folder, 200, 7), worlds_dir=tmp_path, generator="ccc"
    )
    assert record["generated_now"] and record["rows"]["hubspot_contacts"] > 0
    assert any((world / "landing" / "hubspot_contacts").iterdir())
