"""`fct_account_features` (a dbt Python model) rolls up the lead features mart per company domain: it reads only the
leads with a domain and the columns it rolls up, and gives the rows of a roll-up of the whole mart.

The model runs here as dbt-duckdb runs it: `model(dbt, session)` from the model file, with `dbt.ref` a relation."""

from __future__ import annotations

import importlib.util
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from ml.features import ALL_KINDS, EVENT_KINDS

MODELS = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts" / "features"
MODEL = MODELS / "fct_account_features.py"


class _FakeDbt:
    def __init__(self, session: duckdb.DuckDBPyConnection):
        self.session = session

    def config(self, **kwargs) -> None:
        return None

    def ref(self, name: str) -> duckdb.DuckDBPyRelation:
        return self.session.table(name)


def _model():
    spec = importlib.util.spec_from_file_location("fct_account_features", MODEL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.model


def _whole_mart_rollup(leads: pl.DataFrame) -> pl.DataFrame:
    """The roll-up as it was computed from every column of every lead: the reference."""
    decayed = [c for c in leads.columns if c.startswith("decayed_") and not c.endswith("_signal")]
    signals = [c for c in leads.columns if c.startswith("decayed_") and c.endswith("_signal")]
    return (
        leads.filter(pl.col("company_domain").is_not_null())
        .group_by("company_domain")
        .agg(
            pl.len().alias("leads"),
            (pl.col("days_since_last_touch") < 30).sum().alias("leads_engaged_30d"),
            pl.col("icp_match").max().alias("best_icp_match"),
            pl.col("days_since_last_touch").min().alias("days_since_last_touch"),
            *[pl.col(c).sum().alias(f"account_{c}") for c in decayed],
            *[pl.col(c).max().alias(c) for c in signals],
            pl.col("features_as_of").max().alias("features_as_of"),
        )
        .sort("company_domain")
    )


def test_account_rollup_reads_the_leads_with_a_domain_and_equals_the_whole_mart_rollup():
    domains = ["a.com", None, "b.com", "a.com", None, "c.com", "a.com", "b.com"]
    n = len(domains)
    leads = pl.DataFrame(
        {
            "contact_id": [f"gc-{i}" for i in range(n)],
            "feature_cutoff": [1.7e9] * n,
            "industry": ["software"] * n,
            "icp_match": [0.1 * i for i in range(n)],
            **{f"decayed_{k}": [0.5 * i + j for i in range(n)] for j, k in enumerate(ALL_KINDS)},
            **{f"count_{k}_7d": [float(i % 2) for i in range(n)] for k in EVENT_KINDS},
            "days_since_last_touch": [3.0, 400.0, 29.9, 30.0, 1.0, 365.0, 12.5, 31.0],
            "company_domain": domains,
            "features_as_of": [datetime(2026, 1, 1 + i) for i in range(n)],
        }
    )
    con = duckdb.connect()
    con.register("lead_rows", leads.to_arrow())
    con.execute("create table fct_lead_features as select * from lead_rows")

    rollup = pl.from_arrow(_model()(_FakeDbt(con), con))

    assert rollup.equals(_whole_mart_rollup(leads))
    assert rollup.schema == _whole_mart_rollup(leads).schema
    assert rollup["company_domain"].to_list() == ["a.com", "b.com", "c.com"]
    assert rollup["leads"].to_list() == [3, 2, 1]
    assert rollup["leads_engaged_30d"].to_list() == [2, 1, 0]


def test_account_rollup_of_a_mart_without_domains_is_empty_with_its_columns():
    leads = pl.DataFrame(
        {
            "contact_id": ["gc-1"],
            "icp_match": [0.5],
            **{f"decayed_{k}": [1.0] for k in ALL_KINDS},
            "days_since_last_touch": [2.0],
            "company_domain": pl.Series([None], dtype=pl.String),
            "features_as_of": [datetime(2026, 1, 1)],
        }
    )
    con = duckdb.connect()
    con.register("lead_rows", leads.to_arrow())
    con.execute("create table fct_lead_features as select * from lead_rows")

    rollup = pl.from_arrow(_model()(_FakeDbt(con), con))

    assert rollup.is_empty()
    assert rollup.schema == _whole_mart_rollup(leads).schema
