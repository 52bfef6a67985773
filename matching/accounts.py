"""Account entity resolution: company records -> accounts by registrable domain, as a hierarchy, never across
domains.

Rules, in order:
1. Records with a domain cluster by their registrable domain (public-suffix aware: `eu.acme.co.uk` and
   `acme.co.uk` are one account; `acme.de` and `acme.com` are not), whatever the spelling of the name
   ("Acme GmbH" / "ACME G.m.b.H." / "Acme").
2. The subsidiary map (seed `er_subsidiary_map`) may declare two domains `same_entity`; only then do two
   domains share an account. `subsidiary` rows only link a child account to its parent.
3. A domain is often shared by a group: a foreign subsidiary named after its region ("X America Inc.",
   "X do Brasil Ltda.": a region word of seed `er_region_words`) in another country than the rest of the
   domain's records is its own account, child of the domain's main account; so is a record whose Parent
   Company ID names a record of the same domain (a division, "X Health"). Parent and child are a
   relationship (`parent_golden_account_id`), never a merge.
4. A record without any domain joins the one account with the same legal-suffix-stripped name and HQ
   country, when exactly one exists; otherwise it stays its own account (never guessed across domains).
Golden ids are `ga-` + the smallest company record id of the account (stable across runs).
"""

from __future__ import annotations

import polars as pl

from matching.normalize import company_name_key, registrable_domain
from matching.reference import seed_column

GOLDEN_ACCOUNT_PREFIX = "ga-"


def prepare_company_features(companies: pl.DataFrame) -> pl.DataFrame:
    """Staging company rows (record_id, company_name, domain, website_domain, country_code, city,
    parent_company_id) -> match keys, with the region words a name carries (`region`, sorted, "" when none)."""
    frame = companies.with_columns(
        pl.lit(None, dtype=pl.String).alias(c)
        for c in ("company_name", "domain", "website_domain", "country_code", "city")
        if c not in companies.columns
    )
    if "parent_company_id" not in frame.columns:
        frame = frame.with_columns(pl.lit(None, dtype=pl.Int64).alias("parent_company_id"))
    regions = sorted(seed_column("er_region_words", "word"), key=len, reverse=True)
    region_pattern = r"\b(" + "|".join(regions) + r")\b"
    name_key = company_name_key(pl.col("company_name"))
    return frame.select(
        pl.col("record_id").cast(pl.Int64),
        registrable_domain(pl.coalesce("domain", "website_domain")).alias("registrable_domain"),
        name_key.alias("name_key"),
        name_key.str.extract_all(region_pattern).list.unique().list.sort().list.join(" ").fill_null("").alias("region"),
        pl.col("country_code"),
        pl.col("city").str.to_lowercase().alias("city_key"),
        pl.col("parent_company_id").cast(pl.Int64),
    )


def resolve_accounts(companies: pl.DataFrame, subsidiary_map: pl.DataFrame | None = None) -> pl.DataFrame:
    """Company records -> record_id, registrable_domain, account_domain, golden_account_id, match_rule,
    name_key, country_code, parent_golden_account_id (the account it belongs under, or NULL).

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
    features = _split_groups(features)
    # Domain-less records: adopt the account of the single domain account with the same name and country.
    named = (
        features.filter(pl.col("account_domain").is_not_null() & pl.col("name_key").is_not_null())
        .group_by("name_key", "country_code")
        .agg(pl.col("entity").unique().alias("entities"))
        .filter(pl.col("entities").list.len() == 1)
        .select("name_key", "country_code", pl.col("entities").list.first().alias("named_entity"))
    )
    features = features.join(
        named, on=["name_key", "country_code"], how="left", maintain_order="left", nulls_equal=False
    )
    named_domain = pl.col("named_entity").str.split("|").list.first()
    features = features.with_columns(
        pl.when(pl.col("account_domain").is_null() & pl.col("named_entity").is_not_null())
        .then(pl.lit("name_and_country"))
        .otherwise(pl.col("match_rule"))
        .fill_null("singleton")
        .alias("match_rule"),
        pl.coalesce("entity", "named_entity", pl.lit("record:") + pl.col("record_id").cast(pl.String)).alias(
            "entity"
        ),
        pl.coalesce("account_domain", named_domain).alias("account_domain"),
    )
    features = features.with_columns(
        (pl.lit(GOLDEN_ACCOUNT_PREFIX) + pl.col("record_id").min().over("entity").cast(pl.String)).alias(
            "golden_account_id"
        )
    )
    # The account a split-off one belongs under: the declared parent's, else the domain's main account.
    account_of = features.select(pl.col("record_id").alias("parent_company_id"), pl.col("golden_account_id").alias("p"))
    main_of = (
        features.filter(pl.col("match_rule").is_in(["domain", "subsidiary_map_same_entity"]))
        .group_by("account_domain")
        .agg(pl.col("golden_account_id").min().alias("main_account"))
    )
    features = (
        features.join(account_of, on="parent_company_id", how="left", maintain_order="left")
        .join(main_of, on="account_domain", how="left", maintain_order="left")
        .with_columns(
            pl.when(pl.col("match_rule").is_in(["regional_subsidiary", "declared_child"]))
            .then(pl.coalesce("p", "main_account"))
            .alias("parent_golden_account_id")
        )
        .with_columns(
            pl.when(pl.col("parent_golden_account_id") != pl.col("golden_account_id")).then(
                pl.col("parent_golden_account_id")
            )
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
        "parent_golden_account_id",
    ).sort("record_id")


def _split_groups(features: pl.DataFrame) -> pl.DataFrame:
    """Within each account domain, the entity of every record (`entity`, NULL without a domain): the domain's
    main account, a regional subsidiary (a region word in the name and another country than the main
    records'), or a declared child (Parent Company ID names a record of the same domain; its name variants
    join it)."""
    with_domain = pl.col("account_domain").is_not_null()
    # The main country of a domain: the most common country among its records without a region word.
    main_country = (
        features.filter(with_domain & (pl.col("region") == "") & pl.col("country_code").is_not_null())
        .group_by("account_domain", "country_code")
        .agg(pl.len().alias("n"), pl.col("record_id").min().alias("first"))
        .sort(["account_domain", "n", "first"], descending=[False, True, False])
        .group_by("account_domain", maintain_order=True)
        .first()
        .select("account_domain", pl.col("country_code").alias("main_country"))
    )
    domain_of = features.select(pl.col("record_id").alias("parent_company_id"), pl.col("account_domain").alias("pd"))
    features = features.join(main_country, on="account_domain", how="left", maintain_order="left").join(
        domain_of, on="parent_company_id", how="left", maintain_order="left"
    )
    # The subsidiary map's same_entity declaration wins over the name: a mapped domain is never split.
    regional = (
        with_domain
        & (pl.col("match_rule") == "domain")
        & (pl.col("region") != "")
        & pl.col("country_code").is_not_null()
        & pl.col("main_country").is_not_null()
        & (pl.col("country_code") != pl.col("main_country"))
    )
    declared_child = with_domain & (pl.col("pd") == pl.col("account_domain")) & pl.col("name_key").is_not_null()
    child_names = features.filter(declared_child).select("account_domain", "name_key").unique()
    features = features.join(
        child_names.with_columns(pl.lit(True).alias("child_name")),
        on=["account_domain", "name_key"],
        how="left",
        maintain_order="left",
    )
    is_child = declared_child | (with_domain & pl.col("child_name").fill_null(False))
    entity = (
        pl.when(~with_domain)
        .then(None)
        .when(is_child)
        .then(pl.concat_str([pl.col("account_domain"), pl.lit("child"), pl.col("name_key")], separator="|"))
        .when(regional)
        .then(pl.concat_str([pl.col("account_domain"), pl.col("region"), pl.col("country_code")], separator="|"))
        .otherwise(pl.col("account_domain"))
    )
    return features.with_columns(
        entity.alias("entity"),
        pl.when(is_child)
        .then(pl.lit("declared_child"))
        .when(regional)
        .then(pl.lit("regional_subsidiary"))
        .otherwise(pl.col("match_rule"))
        .alias("match_rule"),
    ).drop("main_country", "pd", "child_name")
