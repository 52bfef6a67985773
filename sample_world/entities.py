"""Accounts, company records, people and contact records (with duplicates and hard negatives)."""

from __future__ import annotations

import numpy as np
import polars as pl

from . import vocab as V
from .util import (
    BASE_NOW,
    DAY,
    ascii_slug,
    fill_patterns,
    masked,
    nsn_digits,
    phone_expr,
    pick,
    sigmoid,
    take,
    ts_date,
    ts_hub,
    zipf_weights,
)

COUNTRY_CODES = list(V.COUNTRIES)
_SECOND_WORDS = ["Harbor", "Ridge", "River", "Street", "Point", "Labs", "Bay", "Peak", "Crest", "Oak",
                 "Stone", "Field", "Brook", "Hill", "Lake", "Valley", "Park", "Rock", "Wood", "Star"]
_DOMAIN_VARIANTS = ["{s}", "{s}hq", "get{s}", "{s}app", "try{s}", "use{s}", "{s}group", "{s}global"]

# Company-record name variants, e.g. "Acme Inc." -> "ACME Incorporated" / "Acme" / "acme inc".
# Realistic CRM gaps (shares of records): the enrichment coverage metric measures how many vendors fill.
CRM_EMPLOYEES_MISSING_SHARE = 0.25   # company records without "Number of Employees"
CRM_PHONE_MISSING_SHARE = 0.35       # contact records without phone and mobile
CRM_TITLE_MISSING_SHARE = 0.20       # contact records without job title

_LEGAL_LONG = {"Inc.": "Incorporated", "Ltd": "Limited", "Corp.": "Corporation", "LLC": "L.L.C.",
               "GmbH": "G.m.b.H.", "Pty Ltd": "Pty Limited", "B.V.": "BV", "Pvt Ltd": "Private Limited"}


def make_accounts(rng: np.random.Generator, n: int, first_id: int) -> pl.DataFrame:
    """All accounts (the hidden truth of "which organisation is this") with firmographics."""
    cc_w = np.array([V.COUNTRIES[c]["weight"] for c in COUNTRY_CODES], dtype=float)
    cc = np.array(COUNTRY_CODES)[pick(rng, COUNTRY_CODES, n, cc_w)]
    # Company base names: compounds ("Cloudforge"), two words ("Blue Harbor") or surnames ("Fischer & Klein").
    kind = rng.choice(3, size=n, p=[0.6, 0.28, 0.12])
    pre = take(V.NAME_PREFIXES, pick(rng, V.NAME_PREFIXES, n, zipf_weights(len(V.NAME_PREFIXES), 0.4)))
    suf = take(V.NAME_SUFFIXES, pick(rng, V.NAME_SUFFIXES, n))
    w2 = take(_SECOND_WORDS, pick(rng, _SECOND_WORDS, n))
    ln1 = take(V.LAST_NAMES, pick(rng, V.LAST_NAMES, n))
    ln2 = take(V.LAST_NAMES, pick(rng, V.LAST_NAMES, n))
    desc = take(V.DESCRIPTORS, pick(rng, V.DESCRIPTORS, n))
    ind_idx = pick(rng, V.INDUSTRIES, n, V.INDUSTRY_WEIGHTS)
    emp = np.clip(np.round(np.exp(rng.normal(4.6, 1.6, n))), 2, 250_000).astype(np.int64)
    legal_idx = rng.integers(0, 100, n)
    df = pl.DataFrame({
        "account_id": np.arange(first_id, first_id + n, dtype=np.int64),
        "country": cc, "kind": kind, "pre": pre, "suf": suf, "w2": w2, "ln1": ln1, "ln2": ln2,
        "descriptor": desc,
        "industry": take([i[0] for i in V.INDUSTRIES], ind_idx),
        "ind_fit": np.array([i[1] for i in V.INDUSTRIES])[ind_idx],
        "rev_per_emp": np.array([i[2] for i in V.INDUSTRIES])[ind_idx],
        "employees": emp, "legal_idx": legal_idx,
    })
    legal_map = {c: V.COUNTRIES[c]["legal"] for c in COUNTRY_CODES}
    df = df.with_columns(
        base=pl.when(pl.col("kind") == 0).then(pl.concat_str([pl.col("pre"), pl.col("suf")]))
        .when(pl.col("kind") == 1).then(pl.concat_str([pl.col("pre"), pl.col("w2")], separator=" "))
        .otherwise(pl.concat_str([pl.col("ln1"), pl.col("ln2")], separator=" & ")),
    )
    # Legal suffix per country without a Python loop over rows: join a small lookup table.
    lk = pl.DataFrame([
        {"country": c, "legal_idx_mod": i, "legal_n": len(v), "legal": s}
        for c, v in legal_map.items() for i, s in enumerate(v)
    ])
    df = df.join(lk.select("country", "legal_n").unique(), on="country", how="left")
    df = df.with_columns(legal_idx_mod=pl.col("legal_idx") % pl.col("legal_n"))
    df = df.join(lk.drop("legal_n"), on=["country", "legal_idx_mod"], how="left", maintain_order="left")
    df = df.with_columns(
        display=pl.when(pl.col("descriptor") == "").then(pl.col("base"))
        .otherwise(pl.concat_str([pl.col("base"), pl.col("descriptor")], separator=" ")),
    ).with_columns(name=pl.concat_str([pl.col("display"), pl.col("legal")], separator=" "))
    # Domains: local companies often use the country TLD, others a generic one.
    tld_local = pl.Series([V.COUNTRIES[c]["tld"] for c in cc])
    tld_gen = take(V.GENERIC_TLDS, pick(rng, V.GENERIC_TLDS, n))
    use_local = rng.random(n) < 0.45
    df = df.with_columns(
        slug=ascii_slug(pl.when(rng.random(n) < 0.3).then(pl.col("display")).otherwise(pl.col("base"))),
        tld=pl.Series(np.where(use_local, tld_local.to_numpy(), tld_gen.to_numpy())),
    )
    # Make domains unique the way real companies do it (acmehq.com, getacme.com ...).
    df = df.with_columns(k=pl.int_range(pl.len()).over(["slug", "tld"]))
    variants = pl.lit(None, dtype=pl.String)
    for i, v in reversed(list(enumerate(_DOMAIN_VARIANTS))):
        pre_s, _, post_s = v.partition("{s}")
        variants = pl.when(pl.col("k") == i).then(
            pl.concat_str([pl.lit(pre_s), pl.col("slug"), pl.lit(post_s)])).otherwise(variants)
    variants = pl.when(pl.col("k") >= len(_DOMAIN_VARIANTS)).then(
        pl.concat_str([pl.col("slug"), pl.col("k").cast(pl.String)])).otherwise(variants)
    df = df.with_columns(domain=pl.concat_str([variants, pl.col("tld")]))
    df = df.with_columns(k2=pl.int_range(pl.len()).over("domain"))
    df = df.with_columns(domain=pl.when(pl.col("k2") == 0).then(pl.col("domain")).otherwise(
        pl.concat_str([pl.col("domain").str.split(".").list.first(), pl.col("k2").cast(pl.String), pl.lit("."),
                       pl.col("domain").str.split_exact(".", 1).struct.field("field_1")])))

    # Place: city/state/postal/street and main phone.
    city_rows = [(c, city, st, pat) for c in COUNTRY_CODES for (city, st, pat) in V.COUNTRIES[c]["cities"]]
    city_df = pl.DataFrame(city_rows, schema=["country", "city", "state", "postal_pattern"], orient="row")
    city_df = city_df.with_columns(city_k=pl.int_range(pl.len()).over("country"),
                                   city_n=pl.len().over("country"))
    df = df.with_columns(city_u=pl.Series(rng.random(n)))
    df = df.join(city_df.select("country", "city_n").unique(), on="country", how="left")
    # Earlier cities are bigger hubs: square the uniform to skew toward them.
    df = df.with_columns(city_k=(pl.col("city_u") ** 2 * pl.col("city_n")).cast(pl.Int64))
    df = df.join(city_df.drop("city_n"), on=["country", "city_k"], how="left", maintain_order="left")
    df = df.with_columns(postal=fill_patterns(rng, df["postal_pattern"]))
    lang = df["country"].replace_strict({"DE": "de", "FR": "fr", "NL": "nl"}, default="en")
    street_en = take(V.STREETS["en"], pick(rng, V.STREETS["en"], n))
    street_de = take(V.STREETS["de"], pick(rng, V.STREETS["de"], n))
    street_fr = take(V.STREETS["fr"], pick(rng, V.STREETS["fr"], n))
    street_nl = take(V.STREETS["nl"], pick(rng, V.STREETS["nl"], n))
    num = pl.Series(rng.integers(1, 400, n)).cast(pl.String)
    df = df.with_columns(
        street=pl.when(lang == "de").then(pl.concat_str([street_de, num], separator=" "))
        .when(lang == "nl").then(pl.concat_str([street_nl, num], separator=" "))
        .when(lang == "fr").then(pl.concat_str([num, street_fr], separator=" "))
        .otherwise(pl.concat_str([num, street_en], separator=" ")),
        dial=df["country"].replace_strict({c: V.COUNTRIES[c]["dial"] for c in COUNTRY_CODES}),
        nanp=df["country"].is_in(["US", "CA"]),
        nsn=nsn_digits(rng, np.array([V.COUNTRIES[c]["nsn"] for c in cc])),
        phone_fmt=pl.Series(rng.integers(0, 5, n)),
        geo=df["country"].replace_strict({c: V.COUNTRIES[c]["geo"] for c in COUNTRY_CODES}),
    ).with_columns(phone=phone_expr("dial", "nsn", "nanp", "phone_fmt"))

    # Revenue, tech stack.
    rev = df["employees"].to_numpy() * df["rev_per_emp"].to_numpy() * np.exp(rng.normal(0, 0.5, n))
    tech_n = np.clip(rng.poisson(2 + np.log10(emp) * 1.5), 1, 12)
    tw = zipf_weights(len(V.TECHNOLOGIES), 0.6, 3)
    techs = []
    tech_draw = rng.random((n, len(V.TECHNOLOGIES)))  # Gumbel-top-k style weighted sampling w/o replacement
    keys = np.log(tech_draw) / tw
    order = np.argsort(-keys, axis=1)
    tech_arr = np.array(V.TECHNOLOGIES)
    for i in range(n):
        techs.append(";".join(tech_arr[order[i, : tech_n[i]]]))
    # Latent account state: ICP fit part, buying intent, customer status, churn risk.
    size_score = np.exp(-(((np.log10(emp) - 2.6) / 0.75) ** 2))
    ind_fit = df["ind_fit"].to_numpy()
    geo = df["geo"].to_numpy()
    acc_fit = sigmoid(2.2 * ind_fit + 1.6 * size_score + 1.0 * geo + 1.3 * ind_fit * size_score - 3.0)
    in_market = rng.random(n) < 0.04 + 0.12 * acc_fit
    acc_intent = np.where(in_market, 0.5 + 0.5 * rng.random(n), rng.beta(0.6, 4.0, n))
    is_customer = rng.random(n) < 0.04 + 0.35 * acc_fit ** 2
    at_risk = is_customer & (rng.random(n) < 0.15)
    renewal = BASE_NOW + (rng.integers(5, 365, n) * DAY)
    renewal = np.where(at_risk, BASE_NOW + rng.integers(10, 75, n) * DAY, renewal)
    created = BASE_NOW - rng.integers(200, 2200, n) * DAY - rng.integers(0, DAY, n)
    terr = [V.TERRITORY_OF_COUNTRY[c] for c in cc]
    owners_by_terr: dict[str, list[str]] = {}
    for name, t in V.OWNERS:
        owners_by_terr.setdefault(t, []).append(name)
    ou = rng.random(n)
    owner = []
    for i in range(n):
        t = terr[i][int(ou[i] * 7919) % len(terr[i])]
        opts = owners_by_terr[t]
        owner.append(opts[int(ou[i] * len(opts))])
    df = df.with_columns(
        annual_revenue=pl.Series(np.round(rev, -3).astype(np.int64)),
        technologies=pl.Series(techs, dtype=pl.String),
        acc_fit=pl.Series(acc_fit), in_market=pl.Series(in_market), acc_intent=pl.Series(acc_intent),
        is_customer=pl.Series(is_customer), at_risk=pl.Series(at_risk),
        renewal_at=pl.Series(renewal), created_at=pl.Series(created),
        owner=pl.Series(owner, dtype=pl.String),
        email_pattern=pl.Series(rng.choice(5, n, p=[0.45, 0.2, 0.15, 0.1, 0.1])),
        website=pl.concat_str([pl.lit("https://www."), pl.col("domain")]),
    )
    df = _add_subsidiaries(rng, df)
    # A quarter of the CRM company records were created without a headcount (vendor enrichment fills many).
    df = df.with_columns(crm_employees_missing=pl.Series(rng.random(n) < CRM_EMPLOYEES_MISSING_SHARE))
    return df.select(
        "account_id", "name", "base", "display", "legal", "domain", "website", "industry", "ind_fit",
        "employees", "annual_revenue", "country", "city", "state", "postal", "street", "phone", "dial",
        "nanp", "geo", "technologies", "acc_fit", "in_market", "acc_intent", "is_customer", "at_risk",
        "renewal_at", "created_at", "owner", "email_pattern", "parent_account_id", "crm_employees_missing",
    )


def _add_subsidiaries(rng: np.random.Generator, df: pl.DataFrame) -> pl.DataFrame:
    """~5% of accounts become subsidiaries of a larger account: "<Parent base> <Country>" on a local domain.

    Parents sit in the same block of ~2,000 accounts so a chunked generator keeps families together.
    """
    n = df.height
    parent = np.full(n, -1, dtype=np.int64)
    emp = df["employees"].to_numpy()
    ids = df["account_id"].to_numpy()
    block = 2000
    for b0 in range(0, n, block):
        b1 = min(n, b0 + block)
        big = np.flatnonzero(emp[b0:b1] >= 1000) + b0
        if len(big) == 0:
            continue
        cand = np.arange(b0, b1)
        cand = cand[~np.isin(cand, big)]
        k = int(round(0.05 * (b1 - b0)))
        if k == 0 or len(cand) == 0:
            continue
        subs = rng.choice(cand, size=min(k, len(cand)), replace=False)
        parent[subs] = ids[rng.choice(big, size=len(subs))]
    df = df.with_columns(parent_account_id=masked(parent, parent >= 0))
    par = df.select(pl.col("account_id").alias("parent_account_id"), pl.col("base").alias("p_base"),
                    pl.col("domain").alias("p_domain"), pl.col("industry").alias("p_industry"))
    df = df.join(par, on="parent_account_id", how="left", maintain_order="left")
    cname = df["country"].replace_strict({c: V.COUNTRIES[c]["name"] for c in COUNTRY_CODES})
    ctld = df["country"].replace_strict({c: V.COUNTRIES[c]["tld"] for c in COUNTRY_CODES})
    is_sub = pl.col("parent_account_id").is_not_null()
    p_slug = pl.col("p_domain").str.split(".").list.first()
    # Subsidiary domain: parent slug on the local TLD (acme.de), or parent slug + "-" + country when the
    # parent already uses that TLD.
    sub_domain = pl.when(pl.concat_str([p_slug, ctld]) == pl.col("p_domain")).then(
        pl.concat_str([p_slug, pl.lit("-"), pl.col("country").str.to_lowercase(), ctld])
    ).otherwise(pl.concat_str([p_slug, ctld]))
    df = df.with_columns(
        base=pl.when(is_sub).then(pl.col("p_base")).otherwise(pl.col("base")),
        display=pl.when(is_sub).then(pl.concat_str([pl.col("p_base"), cname], separator=" "))
        .otherwise(pl.col("display")),
        domain=pl.when(is_sub).then(sub_domain).otherwise(pl.col("domain")),
        industry=pl.when(is_sub).then(pl.col("p_industry")).otherwise(pl.col("industry")),
    )
    # A subsidiary domain could collide with an existing one; keep domains unique.
    df = df.with_columns(k2=pl.int_range(pl.len()).over("domain"))
    df = df.with_columns(domain=pl.when(pl.col("k2") == 0).then(pl.col("domain")).otherwise(
        pl.concat_str([pl.lit("corp"), pl.col("k2").cast(pl.String), pl.lit("-"), pl.col("domain")])))
    return df.with_columns(
        name=pl.concat_str([pl.col("display"), pl.col("legal")], separator=" "),
        website=pl.concat_str([pl.lit("https://www."), pl.col("domain")]),
    ).drop("p_base", "p_domain", "p_industry", "k2")


def company_records(rng: np.random.Generator, acc: pl.DataFrame, first_record_id: int) -> tuple[
        pl.DataFrame, pl.DataFrame]:
    """HubSpot company rows: one per account plus name/website variants for ~8% of accounts.

    Returns (landing rows, truth rows). The primary record id per account is `first_record_id + i`.
    """
    n = acc.height
    prim = acc.with_columns(record_id=pl.int_range(first_record_id, first_record_id + n, dtype=pl.Int64),
                            variant=pl.lit(0, dtype=pl.Int64),
                            employees=pl.when(pl.col("crm_employees_missing")).then(None)
                            .otherwise(pl.col("employees")))
    has_var = rng.random(n) < 0.08
    nv = np.where(has_var, 1 + (rng.random(n) < 0.3), 0)
    var_idx = np.repeat(np.arange(n), nv)
    var = acc[var_idx].with_columns(variant=pl.Series(rng.integers(1, 7, len(var_idx))))
    var = var.with_columns(record_id=pl.int_range(first_record_id + n, first_record_id + n + var.height,
                                                  dtype=pl.Int64))
    legal_long = pl.col("legal").replace(_LEGAL_LONG)
    v = pl.col("variant")
    var = var.with_columns(
        name=pl.when(v == 1).then(pl.concat_str([pl.col("display").str.to_uppercase(), legal_long], separator=" "))
        .when(v == 2).then(pl.col("display"))
        .when(v == 3).then(pl.concat_str([pl.col("display"), pl.col("legal")], separator=" ").str.to_lowercase())
        .when(v == 4).then(pl.concat_str([pl.col("display"), pl.lit(", "), pl.col("legal")]))
        .when(v == 5).then(pl.concat_str([pl.lit(" "), pl.col("name"), pl.lit("  ")]))
        .otherwise(pl.col("base")),
        website=pl.when(v.is_in([1, 4])).then(pl.concat_str([pl.lit("www."), pl.col("domain"), pl.lit("/")]))
        .when(v == 2).then(pl.concat_str([pl.lit("http://"), pl.col("domain")]))
        .when(v == 3).then(pl.concat_str([pl.col("domain").str.to_uppercase()]))
        .otherwise(pl.concat_str([pl.lit("https://"), pl.col("domain"), pl.lit("/about")])),
        domain=pl.when(v == 2).then(pl.concat_str([pl.lit("www."), pl.col("domain")]))
        .when(v == 6).then(pl.lit(""))
        .otherwise(pl.col("domain")),
        # Variants were typically created later by a rep or an import.
        created_at=pl.col("created_at") + pl.Series(rng.integers(10, 600, var.height) * DAY),
        employees=pl.when(pl.Series(rng.random(var.height) < 0.5)).then(pl.col("employees"))
        .otherwise(None),
    )
    allr = pl.concat([prim, var.select(prim.columns)], how="vertical")
    parent_rec = prim.select(pl.col("account_id").alias("parent_account_id"),
                             pl.col("record_id").alias("parent_record_id"))
    allr = allr.join(parent_rec, on="parent_account_id", how="left", maintain_order="left")
    mod = np.minimum(allr["created_at"].to_numpy() + rng.integers(0, 400, allr.height) * DAY, BASE_NOW - 3600)
    ctype = pl.when(pl.col("is_customer")).then(pl.lit("Customer")).otherwise(
        pl.Series(np.array(["Prospect", "Prospect", "Partner", "Other", ""])[rng.integers(0, 5, allr.height)]))
    land = allr.with_columns(mod=pl.Series(mod)).select(
        pl.col("record_id").cast(pl.String).alias("Record ID"),
        pl.col("name").alias("Company name"),
        pl.col("domain").alias("Company Domain Name"),
        pl.col("website").alias("Website URL"),
        pl.col("industry").alias("Industry"),
        pl.col("employees").cast(pl.String).alias("Number of Employees"),
        pl.col("annual_revenue").cast(pl.String).alias("Annual Revenue"),
        pl.col("phone").alias("Phone Number"),
        pl.col("street").alias("Street Address"),
        pl.col("city").alias("City"), pl.col("state").alias("State/Region"),
        pl.col("postal").alias("Postal Code"),
        pl.col("country").replace_strict({c: V.COUNTRIES[c]["name"] for c in COUNTRY_CODES}).alias("Country/Region"),
        ts_hub("created_at").alias("Create Date"), ts_hub("mod").alias("Last Modified Date"),
        pl.col("owner").alias("Company owner"),
        pl.when(pl.col("is_customer")).then(pl.lit("Customer")).otherwise(pl.lit("Lead")).alias("Lifecycle Stage"),
        ctype.alias("Type"),
        pl.col("parent_record_id").cast(pl.String).alias("Parent Company ID"),
        pl.col("technologies").alias("Technologies"),
        # Customers' subscription renewal (what the at-risk save workflow counts down to).
        pl.when(pl.col("is_customer") & (pl.col("variant") == 0)).then(ts_date("renewal_at")).otherwise(None)
        .alias("Renewal Date"),
    )
    truth = allr.select(
        "record_id", "account_id", "parent_account_id", (pl.col("variant") > 0).alias("is_variant"),
    )
    return land, truth


# --------------------------------------------------------------------------------------------------- people
_ROLE_FIT = {"sales": 1.0, "marketing": 0.8, "operations": 0.9, "executive": 0.7, "customer_success": 0.4,
             "product": 0.3, "it": 0.3, "engineering": 0.15, "finance": 0.2, "hr": 0.05, "other": 0.05}
_SEN_FIT = {"c_level": 0.8, "vp": 1.0, "director": 0.95, "manager": 0.7, "individual_contributor": 0.35,
            "intern": 0.0}
_TITLE_LUT: list[tuple[str, str, str]] = [
    (r, s, t) for r, d in V.TITLES.items() for s, ts in d.items() for t in ts
]


def make_people(rng: np.random.Generator, acc: pl.DataFrame, counts: np.ndarray, first_person_id: int,
                now: int = BASE_NOW) -> pl.DataFrame:
    """People (true identities) for the given accounts, `counts[i]` people in account row i.

    Fit, intent and conversion are hidden latent variables that later drive all engagement.
    """
    idx = np.repeat(np.arange(acc.height), counts)
    n = len(idx)
    a = acc[idx]
    fw = zipf_weights(len(V.FIRST_NAMES), 0.7, 10)
    lw = zipf_weights(len(V.LAST_NAMES), 0.6, 10)
    first = take(V.FIRST_NAMES, pick(rng, V.FIRST_NAMES, n, fw))
    last = take(V.LAST_NAMES, pick(rng, V.LAST_NAMES, n, lw))
    role_i = pick(rng, V.ROLES, n, V.ROLE_WEIGHTS)
    emp = a["employees"].to_numpy()
    # Small companies have relatively more executives; big ones more individual contributors.
    sen_p = np.array(V.SENIORITY_WEIGHTS)
    sen_u = rng.random(n)
    small = emp < 50
    sen_cdf_small = np.cumsum([0.25, 0.1, 0.15, 0.2, 0.27, 0.03])
    sen_cdf = np.cumsum(sen_p / sen_p.sum())
    sen_i = np.where(small, np.searchsorted(sen_cdf_small, sen_u * sen_cdf_small[-1]),
                     np.searchsorted(sen_cdf, sen_u))
    sen_i = np.minimum(sen_i, len(V.SENIORITIES) - 1)
    roles = np.array(V.ROLES)[role_i]
    sens = np.array(V.SENIORITIES)[sen_i]
    # Job title: pick among the titles of (role, seniority).
    title_u = rng.random(n)
    titles = np.empty(n, dtype=object)
    for r in V.ROLES:
        for s in V.SENIORITIES:
            m = (roles == r) & (sens == s)
            if m.any():
                opts = np.array(V.TITLES[r][s], dtype=object)
                titles[m] = opts[(title_u[m] * len(opts)).astype(int)]
    role_fit = np.array([_ROLE_FIT[r] for r in V.ROLES])[role_i]
    sen_fit = np.array([_SEN_FIT[s] for s in V.SENIORITIES])[sen_i]
    # Executives matter at small companies; at large ones the buyer is a functional leader.
    role_fit = np.where((roles == "executive") & (emp > 300), 0.25, role_fit)
    sen_fit = np.where((sens == "c_level") & (emp > 3000), 0.45, sen_fit)
    ind_fit = a["ind_fit"].to_numpy()
    size_score = np.exp(-(((np.log10(emp) - 2.6) / 0.75) ** 2))
    geo = a["geo"].to_numpy()
    z = (2.2 * ind_fit + 1.6 * size_score + 1.0 * geo + 2.4 * role_fit * sen_fit
         + 1.2 * ind_fit * size_score - 4.3 + rng.normal(0, 0.35, n))
    fit = np.clip(sigmoid(1.5 * z), 0, 1)
    acc_intent = a["acc_intent"].to_numpy()
    buyer_role = np.isin(roles, ["sales", "marketing", "operations", "executive"])
    intent = np.clip(0.6 * acc_intent * (0.5 + 0.5 * buyer_role) + 0.45 * rng.beta(0.7, 4.0, n)
                     + 0.08 * fit, 0, 1)
    # Conversion (meeting or opportunity in the last 30 days): saturating in intent, interacting with fit;
    # high intent from a poor-fit person (students, researchers) rarely converts.
    eng = 1 - np.exp(-3.5 * intent)
    senior_buyer = np.isin(sens, ["vp", "director", "c_level"]) & buyer_role
    zc = (-5.6 + 6.0 * fit * eng + 1.6 * eng + 1.0 * fit + 0.9 * senior_buyer * (intent > 0.35)
          - 2.0 * (fit < 0.2) * eng + 0.8 * a["is_customer"].to_numpy() * intent)
    p_conv = sigmoid(zc)
    converted = rng.random(n) < p_conv
    conv_at = now - rng.integers(3600, 30 * DAY, n)
    has_opp = converted & (rng.random(n) < 0.35 + 0.4 * fit)
    won = has_opp & (rng.random(n) < sigmoid(-3.2 + 3.5 * fit + 1.0 * acc_intent))
    pid = np.arange(first_person_id, first_person_id + n, dtype=np.int64)
    # Some people work remotely in another city of the same country.
    created = np.minimum(a["created_at"].to_numpy() + rng.integers(0, 1500, n) * DAY + rng.integers(0, DAY, n),
                         now - rng.integers(1, 90, n) * DAY)
    people = pl.DataFrame({
        "person_id": pid, "account_id": a["account_id"], "first_name": first, "last_name": last,
        "role": roles, "seniority": sens, "job_title": pl.Series(titles.tolist(), dtype=pl.String),
        "fit": fit, "intent": intent, "p_convert": p_conv, "converted": converted,
        "converted_at": masked(conv_at, converted), "has_opportunity": has_opp, "won": won,
        "created_at": created, "domain": a["domain"], "company_name": a["name"],
        "website": a["website"], "country": a["country"], "city": a["city"], "state": a["state"],
        "postal": a["postal"], "street": a["street"], "dial": a["dial"], "nanp": a["nanp"],
        "email_pattern": a["email_pattern"], "owner": a["owner"], "is_customer": a["is_customer"],
        "employees": a["employees"], "industry": a["industry"],
    })
    people = people.with_columns(
        nsn=nsn_digits(rng, np.array([V.COUNTRIES[c]["nsn"] for c in people["country"].to_list()])),
        mobile_nsn=nsn_digits(rng, np.array([V.COUNTRIES[c]["nsn"] for c in people["country"].to_list()])),
        has_mobile=pl.Series(rng.random(n) < 0.35),
        phone_fmt=pl.Series(rng.integers(0, 5, n)),
        li_tag=pl.Series(np.char.mod("%06x", rng.integers(0, 16 ** 6, n)), dtype=pl.String),
        has_li=pl.Series(rng.random(n) < 0.7),
        personal=pl.Series(rng.random(n) < 0.04),
        pnum=pl.Series(rng.integers(1, 99, n)).cast(pl.String),
        free_dom=take(V.FREE_MAIL[:4], pick(rng, V.FREE_MAIL[:4], n)),
    )
    people = _hard_negative_names(rng, people)
    people = _emails(people)
    people = _shared_mailboxes(rng, people)
    return people.with_columns(
        phone=phone_expr("dial", "nsn", "nanp", "phone_fmt"),
        mobile=pl.when(pl.col("has_mobile")).then(
            phone_expr("dial", "mobile_nsn", "nanp", "phone_fmt")).otherwise(pl.lit("")),
        linkedin_url=pl.when(pl.col("has_li")).then(pl.concat_str([
            pl.lit("https://www.linkedin.com/in/"), ascii_slug(pl.col("first_name")), pl.lit("-"),
            ascii_slug(pl.col("last_name")), pl.lit("-"), pl.col("li_tag")])).otherwise(pl.lit("")),
    )


def _hard_negative_names(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    """~2% of people get exactly the name of someone at a *different* account (must not be merged)."""
    n = people.height
    k = int(round(0.02 * n))
    neg = np.full(n, None, dtype=object)
    look = np.full(n, -1, dtype=np.int64)
    if k and n > 10:
        tgt = rng.choice(n, size=k, replace=False)
        src = rng.integers(0, n, k)
        acc = people["account_id"].to_numpy()
        ok = acc[tgt] != acc[src]
        tgt, src = tgt[ok], src[ok]
        first = people["first_name"].to_numpy().copy()
        last = people["last_name"].to_numpy().copy()
        first[tgt], last[tgt] = first[src], last[src]
        neg[tgt] = "same_name_other_company"
        look[tgt] = people["person_id"].to_numpy()[src]
        people = people.with_columns(first_name=pl.Series(first.tolist(), dtype=pl.String),
                                     last_name=pl.Series(last.tolist(), dtype=pl.String))
    return people.with_columns(negative_kind=pl.Series(neg.tolist(), dtype=pl.String),
                               lookalike_person_id=masked(look, look >= 0))


def _emails(people: pl.DataFrame) -> pl.DataFrame:
    f = ascii_slug(pl.col("first_name"))
    l_ = ascii_slug(pl.col("last_name"))
    p = pl.col("email_pattern")
    local = (pl.when(p == 0).then(pl.concat_str([f, pl.lit("."), l_]))
             .when(p == 1).then(pl.concat_str([f.str.slice(0, 1), l_]))
             .when(p == 2).then(f)
             .when(p == 3).then(pl.concat_str([f, l_.str.slice(0, 1)]))
             .otherwise(pl.concat_str([f, pl.lit("_"), l_])))
    people = people.with_columns(local=local)
    # Two people with the same local part at one company: the later one gets a digit (jsmith2@).
    people = people.with_columns(k=pl.int_range(pl.len()).over(["local", "domain"]))
    people = people.with_columns(local=pl.when(pl.col("k") == 0).then(pl.col("local"))
                                 .otherwise(pl.concat_str([pl.col("local"), (pl.col("k") + 1).cast(pl.String)])))
    return people.with_columns(
        email=pl.when(pl.col("personal")).then(pl.concat_str([
            f, pl.lit("."), l_, pl.col("pnum"), pl.lit("@"), pl.col("free_dom")]))
        .otherwise(pl.concat_str([pl.col("local"), pl.lit("@"), pl.col("domain")])),
    ).drop("k")


def _shared_mailboxes(rng: np.random.Generator, people: pl.DataFrame) -> pl.DataFrame:
    """In ~1.5% of accounts with 2+ people, two different people are recorded with one role mailbox."""
    accs = people.group_by("account_id", maintain_order=True).agg(pl.col("person_id").head(2), pl.len())
    accs = accs.filter(pl.col("len") >= 2)
    if accs.height == 0:
        return people
    sel = accs.filter(pl.Series(rng.random(accs.height) < 0.015))
    if sel.height == 0:
        return people
    box = np.array(["sales", "info", "team", "marketing", "hello", "revops"])[rng.integers(0, 6, sel.height)]
    m = sel.with_columns(box=pl.Series(box)).explode("person_id").select("person_id", "box")
    people = people.join(m, on="person_id", how="left", maintain_order="left")
    is_box = pl.col("box").is_not_null()
    return people.with_columns(
        email=pl.when(is_box).then(pl.concat_str([pl.col("box"), pl.lit("@"), pl.col("domain")]))
        .otherwise(pl.col("email")),
        negative_kind=pl.when(is_box).then(pl.lit("shared_mailbox")).otherwise(pl.col("negative_kind")),
    ).drop("box")


# ------------------------------------------------------------------------------------------- contact rows
DUP_KINDS = ["typo", "nickname", "case_whitespace", "swapped_name", "email_alias", "missing_email",
             "linkedin_variant", "phone_variant", "title_change", "company_variant"]
DUP_WEIGHTS = [0.14, 0.12, 0.10, 0.05, 0.14, 0.10, 0.08, 0.10, 0.10, 0.07]
_NICK_KEYS = set(V.NICKNAMES)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def _typo(s: str, u1: float, u2: float, u3: float) -> str:
    if len(s) < 3:
        return s + _LETTERS[int(u3 * 26)]
    i = 1 + int(u1 * (len(s) - 2))
    op = int(u2 * 4)
    c = _LETTERS[int(u3 * 26)]
    if op == 0:
        return s[:i] + c + s[i + 1:]
    if op == 1:
        return s[:i] + s[i + 1:]
    if op == 2:
        return s[:i] + c + s[i:]
    if i + 1 >= len(s):
        return s[:i] + c + s[i:]
    return s[:i] + s[i + 1] + s[i] + s[i + 2:]


def _alias(email: str, first: str, last: str, u1: float, u2: float) -> str:
    local, _, dom = email.partition("@")
    if dom in ("gmail.com", "googlemail.com"):
        if u1 < 0.5 and "." in local:
            return local.replace(".", "") + "@" + dom
        return f"{local}+{['news', 'crm', 'work', 'events'][int(u2 * 4)]}@{dom}"
    if u1 < 0.4:
        return f"{local}+{['crm', 'sales', 'hs'][int(u2 * 3)]}@{dom}"
    fa = first.lower().replace(" ", "")
    la = last.lower().replace(" ", "").replace("'", "")
    alts = [f"{fa[:1]}{la}", f"{fa}.{la}", f"{fa}", f"{fa}{la[:1]}"]
    alt = alts[int(u2 * 4)]
    if alt == local:
        alt = f"{fa}.{la}.{int(u1 * 90) + 10}"
    return f"{alt}@{dom}"


def _li_variant(url: str, u: float) -> str:
    if not url:
        return url
    k = int(u * 5)
    if k == 0:
        return url.replace("https://www.", "http://")
    if k == 1:
        return url + "/"
    if k == 2:
        return url.replace("https://www.", "https://") + "/?trk=public_profile"
    if k == 3:
        return url.replace("https://www.", "www.")
    return url + "?originalSubdomain=uk"


def contact_records(rng: np.random.Generator, people: pl.DataFrame, first_record_id: int,
                    company_rec: pl.DataFrame, dup_ratio: float = 0.11, now: int = BASE_NOW,
                    ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Contact rows (originals + known duplicates), shuffled and numbered. Returns (rows, truth)."""
    n = people.height
    base = people.with_columns(duplicate_kind=pl.lit(None, dtype=pl.String),
                               duplicate_of_person=pl.lit(None, dtype=pl.Int64))
    n_dup = int(round(n * dup_ratio))
    src = rng.choice(n, size=n_dup, replace=True) if n_dup else np.array([], dtype=np.int64)
    kinds = np.array(DUP_KINDS)[rng.choice(len(DUP_KINDS), size=n_dup, p=DUP_WEIGHTS)] if n_dup else []
    d = people[src]
    u = rng.random((n_dup, 6))
    first = d["first_name"].to_list()
    last = d["last_name"].to_list()
    email = d["email"].to_list()
    li = d["linkedin_url"].to_list()
    title = d["job_title"].to_list()
    comp = d["company_name"].to_list()
    fmt = d["phone_fmt"].to_numpy().copy()
    kinds = list(kinds)
    for i in range(n_dup):
        k = kinds[i]
        if k == "nickname" and first[i] not in _NICK_KEYS:
            k = kinds[i] = "typo"
        if k == "typo":
            if u[i, 0] < 0.5:
                first[i] = _typo(first[i], u[i, 1], u[i, 2], u[i, 3])
            else:
                last[i] = _typo(last[i], u[i, 1], u[i, 2], u[i, 3])
        elif k == "nickname":
            opts = V.NICKNAMES[first[i]]
            first[i] = opts[int(u[i, 1] * len(opts))]
        elif k == "case_whitespace":
            mode = int(u[i, 1] * 4)
            if mode == 0:
                first[i], last[i] = first[i].upper(), last[i].upper()
            elif mode == 1:
                first[i], last[i] = first[i].lower() + " ", " " + last[i].lower()
            elif mode == 2:
                first[i] = "  " + first[i]
                email[i] = email[i].upper()
            else:
                last[i] = last[i] + "  "
                comp[i] = comp[i].upper()
        elif k == "swapped_name":
            first[i], last[i] = last[i], first[i]
        elif k == "email_alias":
            email[i] = _alias(email[i], first[i], last[i], u[i, 1], u[i, 2])
        elif k == "missing_email":
            email[i] = ""
        elif k == "linkedin_variant":
            if not li[i]:
                kinds[i] = "missing_email"
                email[i] = ""
            else:
                li[i] = _li_variant(li[i], u[i, 1])
        elif k == "phone_variant":
            fmt[i] = (fmt[i] + 1 + int(u[i, 1] * 4)) % 5
        elif k == "title_change":
            r = u[i, 1]
            title[i] = ("Senior " + title[i]) if r < 0.3 else (
                title[i].replace("VP", "Vice President") if "VP" in title[i] else
                title[i] + (" (EMEA)" if r < 0.6 else ", Americas"))
        elif k == "company_variant":
            c = comp[i]
            comp[i] = c.rsplit(" ", 1)[0] if (" " in c and u[i, 1] < 0.6) else c.lower()
        # Secondary noise on other duplicates: reformatted phone half of the time.
        if k not in ("phone_variant",) and u[i, 4] < 0.5:
            fmt[i] = (fmt[i] + 1) % 5
        if k != "linkedin_variant" and u[i, 5] < 0.25:
            li[i] = ""
    created_dup = np.minimum(d["created_at"].to_numpy() + rng.integers(1, 500, n_dup) * DAY,
                             now - rng.integers(1, 30 * 24, n_dup) * 3600)
    dups = d.with_columns(
        first_name=pl.Series(first, dtype=pl.String), last_name=pl.Series(last, dtype=pl.String),
        email=pl.Series(email, dtype=pl.String), linkedin_url=pl.Series(li, dtype=pl.String),
        job_title=pl.Series(title, dtype=pl.String), company_name=pl.Series(comp, dtype=pl.String),
        phone_fmt=pl.Series(fmt), created_at=pl.Series(created_dup),
        duplicate_kind=pl.Series(kinds, dtype=pl.String), duplicate_of_person=d["person_id"],
        negative_kind=pl.lit(None, dtype=pl.String),
    ).with_columns(phone=phone_expr("dial", "nsn", "nanp", "phone_fmt"),
                   has_mobile=pl.lit(False), mobile=pl.lit(""))
    recs = pl.concat([base, dups.select(base.columns)], how="vertical")
    m = recs.height
    perm = rng.permutation(m)
    recs = recs[perm].with_columns(record_id=pl.int_range(first_record_id, first_record_id + m, dtype=pl.Int64),
                                   is_original=pl.col("duplicate_kind").is_null())
    # Per-record CRM fields.
    u = rng.random((m, 6))
    is_cust = recs["is_customer"].to_numpy()
    conv = recs["converted"].to_numpy()
    opp = recs["has_opportunity"].to_numpy()
    intent = recs["intent"].to_numpy()
    orig = recs["is_original"].to_numpy()
    life = np.where(is_cust & (u[:, 0] < 0.8), "Customer",
                    np.where(opp & orig, "Opportunity",
                             np.where(conv & orig, "Sales Qualified Lead",
                                      np.where(intent + 0.3 * u[:, 1] > 0.6, "Marketing Qualified Lead",
                                               np.where(u[:, 2] < 0.6, "Lead",
                                                        np.where(u[:, 2] < 0.9, "Subscriber", "Other"))))))
    lstat = np.array(V.LEAD_STATUS)[(u[:, 3] * len(V.LEAD_STATUS)).astype(int)]
    lstat = np.where(conv & orig, "Connected", lstat)
    fit = recs["fit"].to_numpy()
    unsub = u[:, 4] < (0.015 + 0.05 * (1 - fit) * (u[:, 5] < 0.6))
    hv_opts = np.array(["jobtitle", "phone", "jobtitle;phone", "email", "jobtitle;phone;city", "phone;mobilephone"])
    hv = np.where(orig & (u[:, 5] < 0.09), hv_opts[(u[:, 2] * len(hv_opts)).astype(int) % len(hv_opts)], "")
    src_ = np.array(V.ORIGINAL_SOURCES)[(u[:, 1] * len(V.ORIGINAL_SOURCES)).astype(int)]
    mod = np.minimum(recs["created_at"].to_numpy() + (u[:, 3] * 200 * DAY).astype(np.int64), now - 60)
    recs = recs.with_columns(lifecycle=pl.Series(life), lead_status=pl.Series(lstat),
                             unsubscribed=pl.Series(unsub), human_verified=pl.Series(hv),
                             original_source=pl.Series(src_), modified_at=pl.Series(mod))
    recs = recs.with_columns(**_crm_gaps(rng, recs))
    recs = recs.join(company_rec, on="account_id", how="left", maintain_order="left")
    truth = recs.select(
        "record_id", "person_id", "account_id", "duplicate_kind",
        pl.col("negative_kind"), "lookalike_person_id", "is_original",
        pl.col("email").alias("email"), "human_verified", "unsubscribed", "phone_missing", "title_missing",
    )
    return recs, truth


def _crm_gaps(rng: np.random.Generator, recs: pl.DataFrame) -> dict[str, pl.Series]:
    """Which contact records were exported without phone + mobile, and which without a job title.

    The true values stay in `recs` (vendor enrichment reports them); only the export leaves them blank. A field
    a human verified is never blank, and neither side of a `phone_variant` / `title_change` duplicate loses the
    field its duplicate kind is about (the truth of those kinds stays meaningful).
    """
    m = recs.height
    u = rng.random((m, 2))
    kind = recs["duplicate_kind"].fill_null("").to_numpy()
    person = recs["person_id"].to_numpy()
    hv = recs["human_verified"].to_numpy().astype(str)
    keep_phone = np.isin(person, person[kind == "phone_variant"]) | (np.char.find(hv, "phone") >= 0)
    keep_title = np.isin(person, person[kind == "title_change"]) | (np.char.find(hv, "jobtitle") >= 0)
    return {"phone_missing": pl.Series(~keep_phone & (u[:, 0] < CRM_PHONE_MISSING_SHARE)),
            "title_missing": pl.Series(~keep_title & (u[:, 1] < CRM_TITLE_MISSING_SHARE))}


def contacts_landing(recs: pl.DataFrame) -> pl.DataFrame:
    """Contact records -> HubSpot contacts export columns (all text); CRM gaps (`phone_missing`,
    `title_missing`, when present) are exported blank."""
    cname = {c: V.COUNTRIES[c]["name"] for c in COUNTRY_CODES}

    def blank_if(flag: str, col: str) -> pl.Expr:
        if flag not in recs.columns:
            return pl.col(col)
        return pl.when(pl.col(flag).fill_null(False)).then(pl.lit("")).otherwise(pl.col(col))

    return recs.select(
        pl.col("record_id").cast(pl.String).alias("Record ID"),
        pl.col("first_name").alias("First Name"), pl.col("last_name").alias("Last Name"),
        pl.col("email").alias("Email"), blank_if("phone_missing", "phone").alias("Phone Number"),
        blank_if("phone_missing", "mobile").alias("Mobile Phone Number"),
        blank_if("title_missing", "job_title").alias("Job Title"),
        pl.col("company_name").alias("Company Name"), pl.col("website").alias("Website URL"),
        pl.col("street").alias("Street Address"), pl.col("city").alias("City"),
        pl.col("state").alias("State/Region"), pl.col("postal").alias("Postal Code"),
        pl.col("country").replace_strict(cname, default=None).alias("Country/Region"),
        pl.col("linkedin_url").alias("LinkedIn URL"),
        ts_hub("created_at").alias("Create Date"), ts_hub("modified_at").alias("Last Modified Date"),
        pl.col("lifecycle").alias("Lifecycle Stage"), pl.col("lead_status").alias("Lead Status"),
        pl.col("owner").alias("Contact owner"), pl.col("original_source").alias("Original Source"),
        pl.col("company_record_id").cast(pl.String).alias("Associated Company IDs"),
        pl.col("company_record_id").cast(pl.String).alias("Associated Company ID (Primary)"),
        pl.when(pl.col("unsubscribed")).then(pl.lit("true")).otherwise(pl.lit("false"))
        .alias("Unsubscribed from all email"),
        pl.col("human_verified").alias("Human Verified Fields"),
    )
