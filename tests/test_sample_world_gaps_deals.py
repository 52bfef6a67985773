"""Sample world realism: CRM gaps that enrichment fills, and closed won/lost deals driven by hidden fit."""

from __future__ import annotations

import csv
from pathlib import Path

import polars as pl
import pytest

from sample_world import generate_world, load_truth

STAGE_COLUMNS = [
    f'Date entered "{s} (Sales Pipeline)"'
    for s in (
        "Appointment Scheduled",
        "Qualified To Buy",
        "Presentation Scheduled",
        "Decision Maker Bought-In",
        "Contract Sent",
        "Closed Won",
        "Closed Lost",
    )
]


def _read(path: Path) -> pl.DataFrame:
    # Header names via the csv module: polars keeps the doubled quotes of 'Date entered "..."' labels.
    header = next(csv.reader(path.open(encoding="utf-8")))
    frame = pl.read_csv(path, infer_schema=False).with_columns(pl.all().fill_null(""))
    return frame.rename(dict(zip(frame.columns, header, strict=True)))


def _csvs(out: Path, source: str) -> pl.DataFrame:
    return pl.concat([_read(f) for f in sorted((out / "landing" / source).glob("*.csv"))])


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gaps_world")
    generate_world(out, contacts=8000, seed=21)
    return out


def test_contact_and_company_exports_have_realistic_gaps(world):
    contacts = _csvs(world, "hubspot_contacts").filter(pl.col("Record ID").str.contains(r"^\d+$"))
    no_phone = (pl.col("Phone Number") == "") & (pl.col("Mobile Phone Number") == "")
    shares = contacts.select(no_phone.mean().alias("phone"), (pl.col("Job Title") == "").mean().alias("title"))
    assert 0.27 <= shares["phone"][0] <= 0.40 and 0.14 <= shares["title"][0] <= 0.25, shares
    # A human-verified field is never blank; a phone_variant duplicate keeps the phone its kind is about.
    assert contacts.filter(pl.col("Human Verified Fields").str.contains("phone") & no_phone).height == 0
    assert (
        contacts.filter(pl.col("Human Verified Fields").str.contains("jobtitle") & (pl.col("Job Title") == "")).height
        == 0
    )
    truth = load_truth(world, "contacts")
    variant = truth.filter(pl.col("duplicate_kind") == "phone_variant").select(
        pl.col("record_id").cast(pl.String).alias("Record ID")
    )
    assert variant.height > 0 and contacts.join(variant, on="Record ID").filter(no_phone).height == 0
    companies = _csvs(world, "hubspot_companies").filter(pl.col("Record ID").str.contains(r"^\d+$"))
    assert 0.18 <= (companies["Number of Employees"] == "").mean() <= 0.35


def test_enrichment_fills_many_but_not_all_gaps(world):
    contacts = _csvs(world, "hubspot_contacts").filter(pl.col("Record ID").str.contains(r"^\d+$"))
    payload_fields = pl.concat(
        [
            pl.read_ndjson(f, infer_schema_length=None).select(
                "object_type", "match_key", pl.col("fields").struct.unnest()
            )
            for f in sorted((world / "landing" / "enrichment").glob("*.jsonl"))
        ],
        how="diagonal_relaxed",
    )

    def covered(obj: str, field: str) -> pl.DataFrame:
        return (
            payload_fields.filter((pl.col("object_type") == obj) & pl.col(field).is_not_null())
            .select(pl.col("match_key").alias("key"))
            .unique()
        )

    gaps = contacts.filter(
        (pl.col("Email") != "") & (pl.col("Phone Number") == "") & (pl.col("Mobile Phone Number") == "")
    ).select(pl.col("Email").alias("key"))
    filled = gaps.join(covered("contact", "phone"), on="key", how="semi").height / gaps.height
    assert 0.55 <= filled <= 0.9, filled
    no_title = contacts.filter((pl.col("Email") != "") & (pl.col("Job Title") == "")).select(
        pl.col("Email").alias("key")
    )
    assert 0.55 <= no_title.join(covered("contact", "job_title"), on="key", how="semi").height / no_title.height <= 0.9
    companies = _csvs(world, "hubspot_companies")
    no_size = (
        companies.filter(pl.col("Number of Employees") == "")
        .select(pl.col("Company Domain Name").alias("key"))
        .unique()
    )
    with_size = (
        companies.filter(pl.col("Number of Employees") != "")
        .select(pl.col("Company Domain Name").alias("key"))
        .unique()
        .join(no_size, on="key", how="anti")
    )
    size_cov = covered("company", "employee_count")
    gap_rate = no_size.join(size_cov, on="key", how="semi").height / no_size.height
    other_rate = with_size.join(size_cov, on="key", how="semi").height / with_size.height
    assert gap_rate > other_rate + 0.15 and gap_rate < 0.95, (gap_rate, other_rate)
    # Some vendor values stay wrong, as before.
    assert 0.05 <= load_truth(world, "enrichment")["is_wrong"].mean() <= 0.2


def test_closed_deals_follow_hidden_fit(world):
    deals_file = sorted((world / "landing" / "hubspot_deals").glob("*.csv"))[0]
    header = next(csv.reader(deals_file.open(encoding="utf-8")))
    assert [c for c in header if c.startswith("Date entered")] == STAGE_COLUMNS
    deals = _csvs(world, "hubspot_deals")
    truth = load_truth(world, "deals")
    assert set(deals["Deal Stage"]) <= {c.split('"')[1].removesuffix(" (Sales Pipeline)") for c in STAGE_COLUMNS}
    # Fresh deals of converted people close lost too (at a stage they reached, before now), not only won.
    fresh = truth.filter(pl.col("new"))
    assert fresh.filter(pl.col("stage") == "Closed Lost").height > 0.05 * fresh.height
    lost = deals.filter(pl.col("Deal Stage") == "Closed Lost")
    assert (lost[STAGE_COLUMNS[-1]] != "").all() and (lost[STAGE_COLUMNS[-1]] < "2026-11-01 00:00").all()
    # Historical deals: the won share rises with account fit; each is tied to 1-2 contacts of its account.
    accounts = pl.read_parquet(world / "truth" / "accounts.parquet").select("account_id", "acc_fit")
    fit = pl.col("acc_fit")
    hist = (
        truth.filter(~pl.col("new"))
        .join(accounts, on="account_id")
        .with_columns(
            won=pl.col("stage") == "Closed Won",
            fit_third=pl.when(fit < fit.quantile(1 / 3))
            .then(pl.lit("lo"))
            .when(fit >= fit.quantile(2 / 3))
            .then(pl.lit("hi"))
            .otherwise(pl.lit("mid")),
        )
    )
    by_fit = dict(hist.group_by("fit_third").agg(pl.col("won").mean()).iter_rows())
    assert by_fit["hi"] > by_fit["lo"] + 0.3, by_fit
    assert hist["contact_record_id"].null_count() < 0.05 * hist.height
    people = load_truth(world, "people").select(pl.col("record_id").alias("contact_record_id"), "fit")
    fit_by_outcome = dict(
        hist.join(people, on="contact_record_id").group_by("won").agg(pl.col("fit").mean()).iter_rows()
    )
    assert fit_by_outcome[True] > fit_by_outcome[False] + 0.1, fit_by_outcome
