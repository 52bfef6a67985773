"""Account entity resolution: company records -> accounts by registrable domain, never across domains.

Rules, in order:
1. Records with a domain cluster by their registrable domain (public-suffix aware: `eu.acme.co.uk` and
   `acme.co.uk` are one account; `acme.de` and `acme.com` are not).
2. The subsidiary map (seed `er_subsidiary_map`) may declare two domains `same_entity`; only then do two
   domains share an account. `subsidiary` rows only link a child account to its parent.
3. A record without any domain joins the one domain cluster with the same legal-suffix-stripped name and
   HQ country, when exactly one exists; otherwise it stays its own account (never guessed across domains).
Golden ids are `ga-` + the smallest company record id of the cluster (stable across runs).
"""

from __future__ import annotations

import polars as pl

from matching.normalize import company_name_key, registrable_domain

GOLDEN_ACCOUNT_PREFIX = "ga-"


def prepare_company_features(companies: pl.DataFrame) -> pl.DataFrame:
    """Staging company rows (record_id, company_name, domain, website_domain, country_code, city) -> match keys."""
    frame = companies.with_columns(
        pl.lit(None, dtype=pl.String).alias(c)
        for c in ("company_name", "domain", "website_domain", "country_code", "city")
        if c not in companies.columns
    )
    return frame.select(
        pl.col("record_id").cast(pl.Int64),
        registrable_domain(pl.coalesce("domain", "website_domain")).alias("registrable_domain"),
        company_name_key(pl.col("company_name")).alias("name_key"),
        pl.col("country_code"),
        pl.col("city").str.to_lowercase().alias("city_key"),
    )


def resolve_accounts(companies: pl.DataFrame, subsidiary_map: pl.DataFrame | None = None) -> pl.DataFrame:
    """Company records -> record_id, registrable_domain, account_domain, golden_account_id, match_rule.

    `subsidiary_map` has child_domain, parent_domain, relation (`same_entity` merges the two domains).
    """
    features = prepare_company_features(companies)
    same_entity: dict[str, str] = {}
    if subsidiary_map is not None and subsidiary_map.height:
        merges = subsidiary_map.filter(pl.col("relation") == "same_entity")
        for child, parent in merges.select("child_domain", "parent_domain").iter_rows():
            same_entity[child.strip().lower()] = parent.strip().lower()
    features = features.with_columns(
        pl.col("registrable_domain").replace(same_entity).alias("account_domain"),
        pl.when(pl.col("registrable_domain").is_in(list(same_entity)))
        .then(pl.lit("subsidiary_map_same_entity"))
        .when(pl.col("registrable_domain").is_not_null())
        .then(pl.lit("domain"))
        .otherwise(None)
        .alias("match_rule"),
    )
    # Domain-less records: adopt the domain of the single domain cluster with the same name and country.
    named = (
        features.filter(pl.col("account_domain").is_not_null() & pl.col("name_key").is_not_null())
        .group_by("name_key", "country_code")
        .agg(pl.col("account_domain").unique().alias("domains"))
        .filter(pl.col("domains").list.len() == 1)
        .select("name_key", "country_code", pl.col("domains").list.first().alias("named_domain"))
    )
    features = features.join(
        named, on=["name_key", "country_code"], how="left", maintain_order="left", nulls_equal=False
    )
    features = features.with_columns(
        pl.when(pl.col("account_domain").is_null() & pl.col("named_domain").is_not_null())
        .then(pl.lit("name_and_country"))
        .otherwise(pl.col("match_rule"))
        .fill_null("singleton")
        .alias("match_rule"),
        pl.coalesce("account_domain", "named_domain").alias("account_domain"),
    )
    cluster_key = pl.coalesce(pl.col("account_domain"), pl.lit("record:") + pl.col("record_id").cast(pl.String))
    features = features.with_columns(
        (pl.lit(GOLDEN_ACCOUNT_PREFIX) + pl.col("record_id").min().over(cluster_key).cast(pl.String)).alias(
            "golden_account_id"
        )
    )
    return features.select(
        "record_id",
        "registrable_domain",
        "account_domain",
        "golden_account_id",
        "match_rule",
        "name_key",
        "country_code",
    ).sort("record_id")
