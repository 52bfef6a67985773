"""How the dedupe benchmark times our matcher: the first run, then warm runs summarised by their median."""

from __future__ import annotations

import polars as pl

from bench import dedupe


def test_median_is_of_the_warm_runs_and_the_first_run_is_kept():
    ours = dedupe.OursRun(f1=0.9, found=9, seconds=(5.0, 4.0, 3.0, 3.5))
    assert ours.first_seconds == 5.0
    assert ours.median_seconds == 3.5
    assert dedupe.OursRun(f1=0.9, found=9, seconds=(5.0,)).median_seconds == 5.0


def test_printed_fields_keep_the_old_keys_and_add_the_runs():
    line = dedupe.ours_fields(dedupe.OursRun(f1=0.96854, found=5, seconds=(4.68, 4.35, 4.11, 4.0)), true_pairs=10)
    fields = dict(item.split("=") for item in line.split())
    assert fields == {
        "ours_f1": "0.9685",
        "ours_seconds": "4.7",
        "ours_recall_at_precision_1": "0.5000",
        "ours_runs": "4",
        "ours_seconds_median": "4.11",
        "ours_seconds_runs": "4.68,4.35,4.11,4.00",
    }


def test_default_runs_follow_the_size():
    assert dedupe.default_runs(100_000) == dedupe.SMALL_DATASET_RUNS
    assert dedupe.default_runs(1_000_000) == dedupe.LARGE_DATASET_RUNS


def test_run_ours_resolves_several_times_with_one_result():
    records = pl.DataFrame(
        {
            "record_id": [1, 2, 3],
            "first_name": ["Anna", "Anna", "Bob"],
            "last_name": ["Schmidt", "Schmidt", "Jones"],
            "email": ["anna.schmidt@acme.com", "anna.schmidt@acme.com", "bob@other.org"],
        }
    )
    truth = pl.DataFrame({"record_id": [1, 2, 3], "person_id": ["p1", "p1", "p2"]})
    ours = dedupe.run_ours(records, truth, runs=3)
    assert len(ours.seconds) == 3 and all(s > 0 for s in ours.seconds)
    assert ours.found == 1  # the one candidate pair is the true one
