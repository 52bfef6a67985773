"""Pure helpers of the dedupe benchmark (`bench/dedupe.py`): EM session fallback and clustering F1.

No Splink model is trained here (the bench itself runs Splink on the big data); only its exception type is used.
"""

from __future__ import annotations

import importlib

import polars as pl
import pytest

pytest.importorskip("splink")
from splink.internals.exceptions import EMTrainingException  # noqa: E402


@pytest.fixture(scope="module")
def bench():
    return importlib.import_module("bench.dedupe")


COMPARISONS = {
    "first_name": frozenset({"first_name"}),
    "last_name": frozenset({"last_name"}),
    "phone": frozenset({"phone"}),
    "address": frozenset({"street_address", "postal_code", "city"}),
}
PRESENT = {"first_name", "last_name", "phone", "street_address", "postal_code", "city"}


def test_em_sessions_stop_once_every_comparison_is_trained(bench):
    ran = []
    sessions = [("last_name", "city"), ("first_name", "last_name"), ("postal_code",), ("first_name",)]
    succeeded, untrained = bench.train_m_by_em(sessions, COMPARISONS, PRESENT, ran.append)
    # last_name + city trains first_name and phone (address reads city); both names train address;
    # the postcode trains last_name; nothing is left for the fourth.
    assert ran == sessions[:3]
    assert succeeded == ran and untrained == set()


def test_failed_em_session_is_replaced_by_a_later_one_and_warned(bench, capsys):
    def run(columns):
        if columns == ("last_name", "city"):
            raise EMTrainingException("lambda went to 1")
        if columns == ("first_name", "city"):
            raise ValueError("m_probability value 0.0 is below the minimum allowed value")

    succeeded, untrained = bench.train_m_by_em(
        [("last_name", "city"), ("first_name", "last_name"), ("first_name", "city"), ("postal_code",)],
        COMPARISONS,
        PRESENT,
        run,
    )
    assert succeeded == [("first_name", "last_name"), ("postal_code",)]
    assert untrained == set()
    err = capsys.readouterr().err
    assert "session blocked on last_name+city failed (lambda went to 1)" in err
    assert "first_name+city failed" in err


def test_sessions_on_absent_columns_are_skipped_and_untrained_comparisons_named(bench, capsys):
    ran = []
    succeeded, untrained = bench.train_m_by_em(
        [("website_domain",), ("first_name", "last_name")], COMPARISONS, PRESENT, ran.append
    )
    assert ran == [("first_name", "last_name")]
    assert untrained == {"first_name", "last_name"}
    assert "no Splink EM session trained m for ['first_name', 'last_name']" in capsys.readouterr().err


def test_unexpected_errors_are_not_swallowed(bench):
    def run(columns):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        bench.train_m_by_em([("first_name", "last_name")], COMPARISONS, PRESENT, run)


def test_clustering_f1_counts_pairs_within_clusters(bench):
    truth = pl.DataFrame({"record_id": [1, 2, 3, 4], "person_id": ["a", "a", "b", "b"]})
    perfect = pl.DataFrame({"record_id": [1, 2, 3, 4], "cluster_id": [1, 1, 3, 3]})
    merged = pl.DataFrame({"record_id": [1, 2, 3, 4], "cluster_id": [1, 1, 1, 1]})
    assert bench.clustering_f1(perfect, truth) == pytest.approx(1.0)
    # 6 predicted pairs, 2 true, 2 correct: precision 1/3, recall 1.
    assert bench.clustering_f1(merged, truth) == pytest.approx(0.5)
