"""Entity-resolution and lead-capture quality against the sample world's truth (`make eval-dedupe`).

Pairwise metrics: a "pair" is two source records put in the same entity. Precision = correct predicted
pairs / predicted pairs; recall = correct predicted pairs / true pairs.
- contacts_*: golden clusters if every pending merge proposal (review band) were approved, i.e. what the
  matcher proposes in total;
- automerge_precision: the golden clusters as built (auto-merges only, no human in the loop);
- same_name_false_merges: auto-merged record pairs of different people with the same first + last name;
- accounts_f1: company records -> golden accounts.

Then the same on the hard-case export (`sample_world.generate_hard_world`, its measuring seed: never tune on
it), plus: merge proposals per contact record and the share of them that are true matches, and junk flags
(`marts.dim_contacts.is_junk`, per contact record) against the truth. A detail line gives, per construct,
the recall of the must-merge kinds and the false pairs of the must-not-merge kinds.

Usage: python -m evaluation.dedupe --contacts 100000 [--data-dir DIR] [--seed 42] [--skip-build]
       [--hard-contacts N] [--hard-seed S] [--no-hard]
The world is generated in DIR unless it exists already; the warehouse is built afresh (`actionhouse demo`),
so the figures are the current code's, never a warehouse left by an earlier version.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from sample_world import generate_hard_world, load_truth
from sample_world.hard_cases import MEASURING_SEED

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class PairwiseScore:
    """Pairwise precision/recall/F1 and the pair counts behind them."""

    precision: float
    recall: float
    f1: float
    predicted_pairs: int
    true_pairs: int
    correct_pairs: int


def _pairs_in_groups(sizes: pl.Series) -> int:
    return int((sizes * (sizes - 1) // 2).sum())


def pairwise_scores(assignments: pl.DataFrame, predicted: str = "predicted", truth: str = "truth") -> PairwiseScore:
    """Pairwise scores of a clustering (`predicted` column) against true entities (`truth` column), per record."""
    predicted_pairs = _pairs_in_groups(assignments.group_by(predicted).len()["len"].cast(pl.Int64))
    true_pairs = _pairs_in_groups(assignments.group_by(truth).len()["len"].cast(pl.Int64))
    correct = _pairs_in_groups(assignments.group_by(predicted, truth).len()["len"].cast(pl.Int64))
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return PairwiseScore(precision, recall, f1, predicted_pairs, true_pairs, correct)


def merge_with_edges(clusters: pl.DataFrame, edges: pl.DataFrame) -> pl.DataFrame:
    """Clusters (record_id, cluster_id) joined further along extra record edges (left_id, right_id)."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.get(x, x) != x:
            parent[x] = parent.get(parent[x], parent[x])
            x = parent[x]
        return x

    cluster_of = dict(clusters.select("record_id", "cluster_id").iter_rows())
    for left, right in edges.select("left_id", "right_id").iter_rows():
        a, b = find(cluster_of[left]), find(cluster_of[right])
        if a != b:
            parent[max(a, b)] = min(a, b)
    return clusters.with_columns(pl.col("cluster_id").map_elements(find, return_dtype=pl.String))


def golden_clusters_and_proposals(con: duckdb.DuckDBPyConnection) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The golden contact of every record (record_id, cluster_id) and the pending proposals a person would
    approve to merge (left_id, right_id: every reason but the cluster guard's refusals)."""
    crosswalk = con.sql(
        "select source_record_id as record_id, golden_contact_id as cluster_id from marts.contact_crosswalk"
    ).pl()
    proposals = con.sql(
        "select left_record_id as left_id, right_record_id as right_id from marts.merge_proposals "
        "where reason <> 'blocked_by_cluster_guard'"
    ).pl()
    return crosswalk, proposals


def evaluate_contacts(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> dict[str, float]:
    """Contact figures from the warehouse marts against truth (record_id -> person_id)."""
    crosswalk, proposals = golden_clusters_and_proposals(con)
    names = con.sql(
        "select contact_id as record_id, lower(first_name) || ' ' || lower(last_name) as full_name "
        "from staging.stg_hubspot__contacts"
    ).pl()
    truth = truth.select("record_id", pl.col("person_id").alias("truth"))
    auto = crosswalk.join(truth, on="record_id").rename({"cluster_id": "predicted"})
    overall = merge_with_edges(crosswalk, proposals).join(truth, on="record_id").rename({"cluster_id": "predicted"})
    auto_score = pairwise_scores(auto)
    overall_score = pairwise_scores(overall)
    # Same-name false merges: auto-merged pairs of different people sharing first + last name.
    members = auto.join(names, on="record_id")
    pairs = members.join(members, on="predicted", suffix="_r").filter(
        (pl.col("record_id") < pl.col("record_id_r"))
        & (pl.col("truth") != pl.col("truth_r"))
        & (pl.col("full_name") == pl.col("full_name_r"))
    )
    return {
        "contacts_precision": overall_score.precision,
        "contacts_recall": overall_score.recall,
        "contacts_f1": overall_score.f1,
        "automerge_precision": auto_score.precision,
        "automerge_recall": auto_score.recall,
        "same_name_false_merges": pairs.height,
        "contact_records": auto.height,
        "true_pairs": overall_score.true_pairs,
    }


def evaluate_accounts(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> PairwiseScore:
    """Company records -> golden accounts against truth (record_id -> account_id)."""
    crosswalk = con.sql(
        "select source_record_id as record_id, golden_account_id as predicted from marts.account_crosswalk"
    ).pl()
    return pairwise_scores(
        crosswalk.join(truth.select("record_id", pl.col("account_id").alias("truth")), on="record_id")
    )


def evaluate_leads(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> dict[str, float]:
    """Lead classification (accepted / rejected / quarantined) against the expected status per submission."""
    leads = con.sql("select submission_id, lead_status from intermediate.int_leads__classified").pl()
    joined = leads.join(truth.select("submission_id", "expected_status", "reason"), on="submission_id")
    correct = joined.filter(pl.col("lead_status") == pl.col("expected_status"))
    result = {"lead_accuracy": correct.height / joined.height if joined.height else 1.0, "leads": joined.height}
    for status in ("accepted", "rejected", "quarantined"):
        predicted = joined.filter(pl.col("lead_status") == status)
        result[f"{status}_precision"] = (
            predicted.filter(pl.col("expected_status") == status).height / predicted.height if predicted.height else 1.0
        )
    return result


# Warehouse state a build leaves in a data folder; removed first so every evaluation builds from scratch.
BUILD_STATE = ("warehouse.duckdb", "warehouse.duckdb.wal", "operations.sqlite", "crm_sandbox.sqlite", "dagster_home")


def _fresh_warehouse(data_dir: Path) -> None:
    for name in BUILD_STATE:
        path = data_dir / name
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def build_world(data_dir: Path, contacts: int, seed: int, extra: tuple[str, ...] = ()) -> float:
    """Generate the world (if needed) and build a fresh warehouse with `actionhouse demo`; returns the seconds."""
    env = {
        **os.environ,
        "ACTIONHOUSE_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    _fresh_warehouse(data_dir)
    started = time.perf_counter()
    result = subprocess.run(
        [str(REPO / ".venv" / "bin" / "actionhouse"), "demo", "--contacts", str(contacts), "--seed", str(seed), *extra],
        env=env,
        cwd=REPO,
        stdout=sys.stderr,
    )
    if result.returncode != 0:
        # An unrelated failing asset (e.g. a CRM sync) must not hide the figures; missing marts fail below.
        print(
            f"[eval-dedupe] warning: `actionhouse demo` exited with {result.returncode}; evaluating the "
            "entity-resolution marts it built",
            file=sys.stderr,
        )
    return time.perf_counter() - started


def _same_person_share(pairs: pl.DataFrame, truth: pl.DataFrame) -> float:
    """Share of record pairs (left_id, right_id) whose two records are one person in the truth."""
    if pairs.is_empty():
        return float("nan")
    person = truth.select("record_id", "person_id")
    joined = pairs.join(person.rename({"record_id": "left_id", "person_id": "left_person"}), on="left_id").join(
        person.rename({"record_id": "right_id", "person_id": "right_person"}), on="right_id"
    )
    return float((joined["left_person"] == joined["right_person"]).mean())


def evaluate_junk(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> tuple[float, float]:
    """Precision and recall of the golden records' junk flag, per contact record (nan when there is no flag)."""
    columns = {name for (name,) in con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' "
        "and table_name = 'dim_contacts'"
    ).fetchall()}
    if "is_junk" not in columns:
        return float("nan"), float("nan")
    flags = con.sql(
        "select x.source_record_id as record_id, coalesce(d.is_junk, false) as flagged from marts.contact_crosswalk x "
        "left join marts.dim_contacts d using (golden_contact_id)"
    ).pl()
    joined = flags.join(truth.select("record_id", "is_junk"), on="record_id")
    flagged = joined.filter("flagged")
    precision = float(flagged["is_junk"].mean()) if flagged.height else float("nan")
    recall = float(joined.filter("is_junk")["flagged"].mean()) if joined["is_junk"].any() else float("nan")
    return precision, recall


def construct_detail(con: duckdb.DuckDBPyConnection, truth: pl.DataFrame) -> dict[str, float]:
    """Per must-merge kind the share of duplicate records placed with their person (auto-merge or proposal);
    per must-not-merge kind the number of false record pairs it takes part in."""
    crosswalk, proposals = golden_clusters_and_proposals(con)
    predicted = merge_with_edges(crosswalk, proposals).join(truth, on="record_id")
    originals = predicted.filter("is_original").select("person_id", pl.col("cluster_id").alias("original_cluster"))
    dups = predicted.filter(pl.col("duplicate_kind").is_not_null()).join(originals, on="person_id")
    detail = {
        f"recall_{kind}": share
        for kind, share in dups.group_by("duplicate_kind")
        .agg((pl.col("cluster_id") == pl.col("original_cluster")).mean().alias("share"))
        .sort("duplicate_kind")
        .iter_rows()
    }
    members = predicted.select(
        "record_id", "cluster_id", "person_id", pl.coalesce(
            pl.when("is_junk").then(pl.lit("junk")), "negative_kind", pl.lit("other")).alias("kind")
    )
    wrong = members.join(members, on="cluster_id", suffix="_r").filter(
        (pl.col("record_id") < pl.col("record_id_r")) & (pl.col("person_id") != pl.col("person_id_r"))
    )
    for kind in sorted(set(members["kind"].to_list())):
        detail[f"false_pairs_{kind}"] = wrong.filter((pl.col("kind") == kind) | (pl.col("kind_r") == kind)).height
    return detail


def evaluate_hard(data_dir: Path, contacts: int, seed: int, skip_build: bool) -> tuple[dict, dict]:
    """Build the hard-case export afresh and score it (see the module docstring)."""
    if not skip_build:
        generate_hard_world(data_dir, contacts=contacts, seed=seed)
        build_world(data_dir, contacts, seed, extra=("--no-crm",))
    truth_contacts = load_truth(data_dir, "contacts")
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        contacts_score = evaluate_contacts(con, truth_contacts)
        accounts = evaluate_accounts(con, load_truth(data_dir, "companies"))
        proposals = con.sql(
            "select left_record_id as left_id, right_record_id as right_id from marts.merge_proposals"
        ).pl()
        junk_precision, junk_recall = evaluate_junk(con, truth_contacts)
        detail = construct_detail(con, truth_contacts)
    finally:
        con.close()
    figures = {
        **contacts_score,
        "accounts_precision": accounts.precision,
        "accounts_recall": accounts.recall,
        "accounts_f1": accounts.f1,
        "merge_proposals_per_contact": proposals.height / max(1, contacts_score["contact_records"]),
        "review_true_share": _same_person_share(proposals, truth_contacts),
        "junk_precision": junk_precision,
        "junk_recall": junk_recall,
    }
    return figures, detail


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", type=Path, default=None, help="default: bench_data/dedupe_<contacts>")
    parser.add_argument("--skip-build", action="store_true", help="evaluate the warehouse already in --data-dir")
    parser.add_argument("--hard-contacts", type=int, default=None, help="hard-case export size (default: --contacts)")
    parser.add_argument("--hard-seed", type=int, default=MEASURING_SEED, help="hard-case seed (the measuring one)")
    parser.add_argument("--no-hard", action="store_true", help="skip the hard-case export")
    parser.add_argument("--no-default", action="store_true", help="evaluate only the hard-case export")
    args = parser.parse_args(argv)
    hard_contacts = args.hard_contacts or args.contacts
    if not args.no_default:
        evaluate_default_world(args)
    if not args.no_hard:
        hard_dir = REPO / "bench_data" / f"dedupe_hard_{hard_contacts}_seed{args.hard_seed}"
        figures, detail = evaluate_hard(hard_dir.resolve(), hard_contacts, args.hard_seed, args.skip_build)
        print("eval-dedupe-hard-detail " + " ".join(
            f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in detail.items()))
        print(
            f"eval-dedupe-hard contacts_precision={figures['contacts_precision']:.4f} "
            f"contacts_recall={figures['contacts_recall']:.4f} contacts_f1={figures['contacts_f1']:.4f} "
            f"automerge_precision={figures['automerge_precision']:.4f} "
            f"accounts_precision={figures['accounts_precision']:.4f} accounts_f1={figures['accounts_f1']:.4f} "
            f"merge_proposals_per_contact={figures['merge_proposals_per_contact']:.4f} "
            f"review_true_share={figures['review_true_share']:.4f} junk_precision={figures['junk_precision']:.4f} "
            f"junk_recall={figures['junk_recall']:.4f}",
            flush=True,
        )
    return 0


def evaluate_default_world(args: argparse.Namespace) -> None:
    """The default sample world: lead capture, contacts and accounts (three lines)."""
    data_dir = (args.data_dir or REPO / "bench_data" / f"dedupe_{args.contacts}").resolve()
    if not args.skip_build:
        build_world(data_dir, args.contacts, args.seed)
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True)
    try:
        contacts = evaluate_contacts(con, load_truth(data_dir, "contacts"))
        accounts = evaluate_accounts(con, load_truth(data_dir, "companies"))
        leads = evaluate_leads(con, load_truth(data_dir, "leads"))
    finally:
        con.close()
    print(
        f"eval-leads leads={leads['leads']} accuracy={leads['lead_accuracy']:.4f} "
        f"accepted_precision={leads['accepted_precision']:.4f} rejected_precision={leads['rejected_precision']:.4f} "
        f"quarantined_precision={leads['quarantined_precision']:.4f}"
    )
    print(
        f"eval-dedupe-detail contact_records={contacts['contact_records']} true_pairs={contacts['true_pairs']} "
        f"automerge_recall={contacts['automerge_recall']:.4f} accounts_precision={accounts.precision:.4f} "
        f"accounts_recall={accounts.recall:.4f}"
    )
    print(
        f"eval-dedupe contacts_precision={contacts['contacts_precision']:.4f} "
        f"contacts_recall={contacts['contacts_recall']:.4f} contacts_f1={contacts['contacts_f1']:.4f} "
        f"automerge_precision={contacts['automerge_precision']:.4f} "
        f"same_name_false_merges={contacts['same_name_false_merges']} accounts_f1={accounts.f1:.4f}",
        flush=True,
    )


if __name__ == "__main__":
    raise SystemExit(main())
