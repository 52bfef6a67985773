"""Contact entity resolution: features, SQL blocking, rapidfuzz pair scoring, Fellegi-Sunter probability.

Callable on any DataFrame with the staging column names (see `CONTACT_COLUMNS`; missing optional columns
are treated as empty). `score_contact_pairs(records)` returns one row per candidate pair with the
comparison level, the weight per field and the match probability; `matching.cluster` turns the pairs into
stable clusters.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import token_set_ratio
from rapidfuzz.process import cpdist

from matching.nicknames import NAME_GROUPS
from matching.normalize import (
    canonical_email,
    company_name_key,
    employer_domain,
    linkedin_slug,
    name_key,
    postal_key,
    soundex_key,
    street_key,
)

CONTACT_COLUMNS = (
    "record_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile_phone",
    "linkedin_url",
    "company_name",
    "website_domain",
    "street_address",
    "city",
    "postal_code",
    "country_code",
)

# Comparison levels per field, from strongest agreement to disagreement. Level 0 is always "null" (one
# side missing: no evidence either way, weight 0), so a record without an email degrades gracefully to
# the other fields instead of being penalized.
LEVELS: dict[str, tuple[str, ...]] = {
    "email": ("null", "exact", "different"),
    "linkedin": ("null", "exact", "different"),
    "first_name": ("null", "exact", "nickname", "jw_0.92", "jw_0.80", "different"),
    "last_name": ("null", "exact", "jw_0.92", "jw_0.80", "different"),
    # one_typo: same number of digits, one digit wrong or two adjacent digits swapped (a typed-in number).
    "phone": ("null", "exact", "same_last_7", "one_typo", "different"),
    # Domain, company name, street, city and postal code describe the workplace and are strongly
    # correlated (colleagues share all of them), so they form ONE comparison: counting them as five
    # independent fields would let a shared office outweigh two different names. The address levels are
    # graded so a misspelt street still counts: address_similar = at least two of street, postal code and
    # city agree up to a typo, address_partly = one of them (only when the domains do not conflict).
    "workplace": (
        "null",
        "domain_and_address",
        "domain",
        "company_name_or_address",
        "address_similar",
        "address_partly",
        "different",
    ),
}

# m-probabilities: P(level | same person), per field, for levels 1.. (null excluded). Priors from how CRM
# duplicates arise (re-imports, forms, aliases), documented in docs/entity-resolution.md; EM re-estimates
# them on the candidate pairs (`estimate_m`). u-probabilities are estimated from the data (`estimate_u`).
DEFAULT_M: dict[str, tuple[float, ...]] = {
    "email": (0.82, 0.18),
    "linkedin": (0.99, 0.01),
    "first_name": (0.80, 0.07, 0.07, 0.03, 0.03),
    "last_name": (0.88, 0.07, 0.03, 0.02),
    # one_typo and the partial address levels split what the former "different" level held.
    "phone": (0.95, 0.03, 0.005, 0.015),
    "workplace": (0.85, 0.08, 0.05, 0.006, 0.006, 0.008),
}


def _unordered(first: str, second: str) -> pl.Expr:
    return pl.concat_str([pl.min_horizontal(first, second), pl.max_horizontal(first, second)], separator="|")


def _without_domain(key: pl.Expr) -> pl.Expr:
    return pl.when(pl.col("domain").is_null()).then(key)


# Blocking rules: name -> (key expression over the features, largest block kept). A key shared by more
# records than the cap (a role mailbox, a very common name) says too little to compare them all.
BLOCKING_RULES: dict[str, tuple[pl.Expr, int]] = {
    "email": (pl.col("email_c"), 50),
    "linkedin": (pl.col("linkedin_slug"), 20),
    "name_domain": (pl.concat_str(["first_canon", "last_key", "domain"], separator="|"), 50),
    "swapped_name_domain": (
        pl.concat_str(
            [pl.min_horizontal("first_key", "last_key"), pl.max_horizontal("first_key", "last_key"), "domain"],
            separator="|",
        ),
        50,
    ),
    "name_postal": (pl.concat_str(["first_canon", "last_key", "postal_k"], separator="|"), 50),
    "last_name_domain_initial": (
        pl.concat_str(["last_key", pl.col("first_key").str.slice(0, 1), "domain"], separator="|"),
        50,
    ),
    "name": (pl.concat_str(["first_canon", "last_key"], separator="|"), 30),
    # A typo in one name still leaves the other name + postal code.
    "first_name_postal": (pl.concat_str(["first_key", "postal_k"], separator="|"), 30),
    "last_name_postal": (pl.concat_str(["last_key", "postal_k"], separator="|"), 30),
    # Names in either order (first and last swapped, with no domain to pair them).
    "sorted_names": (_unordered("first_key", "last_key"), 30),
    # Typos in the names: Soundex codes survive most single-letter errors ("malezka" ~ "maleszka").
    "soundex_names_city": (pl.concat_str([_unordered("first_sx", "last_sx"), "city_k"], separator="|"), 30),
    # Typos in a name and in both names: keys on the postal address, for records without an employer
    # domain only. With a domain the address is an office shared by colleagues (pairs that say nothing and,
    # worse, teach EM that colleagues look like duplicates), and the domain rules above already pair it.
    "soundex_last_postal": (_without_domain(pl.concat_str(["last_sx", "postal_k"], separator="|")), 30),
    "soundex_first_postal": (_without_domain(pl.concat_str(["first_sx", "postal_k"], separator="|")), 30),
    # Small groups only: a home holds a few people.
    "street_postal": (_without_domain(pl.concat_str(["street_k", "postal_k"], separator="|")), 4),
    "street_number_postal": (_without_domain(pl.concat_str(["street_no", "postal_k"], separator="|")), 4),
    "street_number_city": (_without_domain(pl.concat_str(["street_no", "city_k"], separator="|")), 4),
}
# Phones block on every number a record carries (phone and mobile), so they are added separately.
PHONE_BLOCK_CAP = 20


@dataclass(frozen=True)
class MatchConfig:
    """Thresholds and priors of the contact matcher (dbt vars `er_*` feed these in the warehouse)."""

    automerge_min_probability: float = 0.999
    review_min_probability: float = 0.5
    expected_duplicate_rate: float = 0.1
    m_probabilities: dict[str, tuple[float, ...]] = field(default_factory=lambda: dict(DEFAULT_M))
    u_sample_pairs: int = 200_000
    seed: int = 7
    # Re-estimate m (and the prior) by EM on the candidate pairs instead of using the priors (see
    # `estimate_m`); below min_pairs_for_em candidate pairs there is too little data and the priors are kept.
    estimate_m: bool = True
    min_pairs_for_em: int = 1000
    # Raise the prior odds of a match when the data holds more duplicates than `expected_duplicate_rate`
    # (see `estimate_prior`): the expected number of matching pairs among the candidates (m and u fixed)
    # is fed back as the prior until it settles, never below the configured rate and never above
    # `max_duplicate_rate` matching pairs per record. Needs min_pairs_for_em candidate pairs, like EM.
    # Unlike EM's own prior (tried: it counted colleagues as partial matches and blew up the review band)
    # only likely matches are counted; on the 100k sample world it lands at 0.105 (truth 0.105), on
    # FEBRL3 at 1.27 (truth 1.31).
    prior_from_data: bool = True
    max_duplicate_rate: float = 2.0


def prepare_contact_features(records: pl.DataFrame) -> pl.DataFrame:
    """Staging-shaped contact rows -> one row per record with the normalized matching features."""
    missing = [c for c in CONTACT_COLUMNS if c not in records.columns]
    if "record_id" in missing:
        raise ValueError("contact records need a record_id column")
    frame = records.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing).with_columns(
        pl.col(c).cast(pl.String) for c in CONTACT_COLUMNS if c != "record_id"
    )
    nickname_canon = {name: min(formals) for name, formals in NAME_GROUPS.items()}
    features = frame.select(
        pl.col("record_id").cast(pl.Int64),
        name_key(pl.col("first_name")).alias("first_key"),
        name_key(pl.col("last_name")).alias("last_key"),
        canonical_email(pl.col("email").str.to_lowercase().str.strip_chars()).alias("email_c"),
        linkedin_slug(pl.col("linkedin_url")).alias("linkedin_slug"),
        _phone_digits(pl.col("phone")).alias("phone_d"),
        _phone_digits(pl.col("mobile_phone")).alias("mobile_d"),
        employer_domain(pl.col("website_domain"), pl.col("email").str.to_lowercase()).alias("domain"),
        company_name_key(pl.col("company_name")).alias("company_k"),
        street_key(pl.col("street_address")).alias("street_k"),
        pl.col("city").str.to_lowercase().str.strip_chars().alias("city_k"),
        postal_key(pl.col("postal_code")).alias("postal_k"),
        pl.col("country_code").alias("country_k"),
    )
    # Sorted by record id: the u-estimation sample (and so every weight) must not depend on the order in
    # which the warehouse happens to return rows, or reruns on unchanged input could differ.
    return features.with_columns(
        pl.col("first_key").replace(nickname_canon).alias("first_canon"),
        soundex_key(features["first_key"]).alias("first_sx"),
        soundex_key(features["last_key"]).alias("last_sx"),
        pl.col("street_k").str.extract(r"^(\d+)\b", 1).alias("street_no"),
    ).sort("record_id")


def _phone_digits(expr: pl.Expr) -> pl.Expr:
    digits = expr.str.replace_all(r"[^0-9]", "")
    return pl.when(digits.str.len_chars() >= 7).then(digits)


def candidate_pairs(features: pl.DataFrame, touching: pl.Series | None = None) -> pl.DataFrame:
    """Blocking: the union of record pairs sharing any strict key (SQL on DuckDB). Columns left_id < right_id.

    With `touching` (record ids), only pairs with at least one of those records are returned (a delta).
    """
    keys = [
        features.select(pl.col("record_id"), pl.lit(rule).alias("rule"), expr.alias("key"), pl.lit(cap).alias("cap"))
        for rule, (expr, cap) in BLOCKING_RULES.items()
    ]
    for phone_col in ("phone_d", "mobile_d"):
        keys.append(
            features.select(
                pl.col("record_id"),
                pl.lit("phone").alias("rule"),
                pl.col(phone_col).alias("key"),
                pl.lit(PHONE_BLOCK_CAP).alias("cap"),
            )
        )
    blocking_keys = pl.concat(keys).drop_nulls("key").unique(["record_id", "rule", "key"]).to_arrow()  # noqa: F841
    touched_ids = pl.DataFrame(  # noqa: F841 (read by the SQL below)
        {"record_id": touching if touching is not None else []}, schema={"record_id": pl.Int64}
    ).to_arrow()
    delta_filter = (
        "where a.record_id in (select record_id from touched_ids) or b.record_id in (select record_id from touched_ids)"
        if touching is not None
        else ""
    )
    con = duckdb.connect()
    try:
        pairs = con.sql(
            f"""
            with usable_blocks as (
                select rule, key from blocking_keys
                group by rule, key having count(*) between 2 and any_value(cap)
            ),
            kept as (select k.record_id, k.rule, k.key from blocking_keys k semi join usable_blocks using (rule, key))
            select a.record_id as left_id, b.record_id as right_id, list(distinct a.rule order by a.rule) as rules
            from kept a join kept b on a.rule = b.rule and a.key = b.key and a.record_id < b.record_id
            {delta_filter}
            group by all
            order by left_id, right_id
            """
        ).pl()
    finally:
        con.close()
    return pairs


def _jaro_winkler(left: pl.Series, right: pl.Series) -> np.ndarray:
    return cpdist(
        left.fill_null("").to_list(),
        right.fill_null("").to_list(),
        scorer=JaroWinkler.normalized_similarity,
        workers=-1,
    ).astype(np.float32)


def _spaceless(left: pl.DataFrame, right: pl.DataFrame, column: str) -> tuple[pl.Series, pl.Series]:
    return tuple(frame[column].str.replace_all(" ", "", literal=True) for frame in (left, right))


def _osa_distance(left: pl.Series, right: pl.Series) -> np.ndarray:
    """Edit distance counting an adjacent transposition as one edit (a typed-in digit swap)."""
    return cpdist(left.fill_null("").to_list(), right.fill_null("").to_list(), scorer=OSA.distance, workers=-1)


def _token_set(left: pl.Series, right: pl.Series) -> np.ndarray:
    return (
        cpdist(left.fill_null("").to_list(), right.fill_null("").to_list(), scorer=token_set_ratio, workers=-1).astype(
            np.float32
        )
        / 100.0
    )


def comparison_levels(pairs: pl.DataFrame, features: pl.DataFrame) -> pl.DataFrame:
    """Per candidate pair, the comparison level of each field (`<field>_level`, index into `LEVELS[field]`)."""
    left = pairs.select("left_id", "right_id").join(
        features, left_on="left_id", right_on="record_id", how="left", maintain_order="left"
    )
    right = pairs.select("right_id").join(
        features, left_on="right_id", right_on="record_id", how="left", maintain_order="left"
    )

    def col(frame: pl.DataFrame, name: str) -> pl.Series:
        return frame[name]

    def both(name: str) -> np.ndarray:
        return (col(left, name).is_not_null() & col(right, name).is_not_null()).to_numpy()

    def equal(a: pl.Series, b: pl.Series) -> np.ndarray:
        return (a == b).fill_null(False).to_numpy()

    n = pairs.height
    out: dict[str, np.ndarray] = {}

    # Email: same mailbox (after alias canonicalization) or not. A "similar local part" level was tried and
    # dropped: mary.jones@ vs mark.jones@ look alike only because the names do, which the name comparisons
    # already count, so it double-counted and merged colleagues.
    out["email"] = np.select([~both("email_c"), equal(col(left, "email_c"), col(right, "email_c"))], [0, 1], 2)

    li_both = both("linkedin_slug")
    out["linkedin"] = np.select([~li_both, equal(col(left, "linkedin_slug"), col(right, "linkedin_slug"))], [0, 1], 2)

    # Names, also compared swapped (first <-> last); the better assignment is used for both.
    first_l, last_l, first_r, last_r = (
        col(left, "first_key"),
        col(left, "last_key"),
        col(right, "first_key"),
        col(right, "last_key"),
    )
    jw_first, jw_last = _jaro_winkler(first_l, first_r), _jaro_winkler(last_l, last_r)
    jw_first_sw, jw_last_sw = _jaro_winkler(first_l, last_r), _jaro_winkler(last_l, first_r)

    # Only similarities of at least 0.8 (the weakest "similar" level) count towards choosing the order: two
    # poor swapped similarities ("alec mason" vs "timothy masdn") must not outweigh one good straight one.
    def similar(jw: np.ndarray) -> np.ndarray:
        return np.where(jw >= 0.8, jw, 0.0)

    swapped = (similar(jw_first_sw) + similar(jw_last_sw)) > (similar(jw_first) + similar(jw_last)) + 0.1
    chosen = pl.DataFrame(
        {"swapped": swapped, "first_r": first_r, "last_r": last_r},
        schema={"swapped": pl.Boolean, "first_r": pl.String, "last_r": pl.String},
    ).select(
        pl.when("swapped").then("last_r").otherwise("first_r").alias("first"),
        pl.when("swapped").then("first_r").otherwise("last_r").alias("last"),
    )
    first_r_used, last_r_used = chosen["first"], chosen["last"]
    jw_f = np.where(swapped, jw_first_sw, jw_first)
    jw_l = np.where(swapped, jw_last_sw, jw_last)
    first_both = (first_l.is_not_null() & first_r_used.is_not_null()).to_numpy()
    last_both = (last_l.is_not_null() & last_r_used.is_not_null()).to_numpy()
    nick = _nickname_pairs(first_l, first_r_used)
    out["first_name"] = np.select(
        [~first_both, equal(first_l, first_r_used), nick, jw_f >= 0.92, jw_f >= 0.80], [0, 1, 2, 3, 4], 5
    )
    out["last_name"] = np.select([~last_both, equal(last_l, last_r_used), jw_l >= 0.92, jw_l >= 0.80], [0, 1, 2, 3], 4)
    # Kept for term-frequency adjustment of exact name agreement (and whether it was a swapped one).
    out["_first_value"] = first_l.to_numpy()
    out["_last_value"] = last_l.to_numpy()
    out["_names_swapped"] = swapped

    # Phone: any of phone/mobile equal; same last 7 digits (a local vs international form staging missed).
    numbers_l = [col(left, "phone_d"), col(left, "mobile_d")]
    numbers_r = [col(right, "phone_d"), col(right, "mobile_d")]
    any_l = (numbers_l[0].is_not_null() | numbers_l[1].is_not_null()).to_numpy()
    any_r = (numbers_r[0].is_not_null() | numbers_r[1].is_not_null()).to_numpy()
    exact = np.zeros(n, dtype=bool)
    last7 = np.zeros(n, dtype=bool)
    one_typo = np.zeros(n, dtype=bool)
    for a in numbers_l:
        for b in numbers_r:
            exact |= equal(a, b)
            last7 |= equal(a.str.slice(-7), b.str.slice(-7))
            same_length = equal(a.str.len_chars(), b.str.len_chars())
            one_typo |= same_length & (_osa_distance(a, b) <= 1)
    out["phone"] = np.select([~(any_l & any_r), exact, last7, one_typo], [0, 1, 2, 3], 4)

    # Workplace: one comparison over domain, company name and address (see LEVELS).
    domain_both = both("domain")
    domain_eq = equal(col(left, "domain"), col(right, "domain"))
    street_eq = equal(col(left, "street_k"), col(right, "street_k"))
    postal_eq = equal(col(left, "postal_k"), col(right, "postal_k")) & equal(
        col(left, "country_k"), col(right, "country_k")
    )
    company_sim = _token_set(col(left, "company_k"), col(right, "company_k"))
    company_both = both("company_k")
    no_domain_conflict = ~(domain_both & ~domain_eq)
    # Address parts agreeing up to a typo or a lost space ("57 bedford s treet" ~ "57 bedford street",
    # "park holme" ~ "parkholme").
    street_close = both("street_k") & (_jaro_winkler(*_spaceless(left, right, "street_k")) >= 0.9)
    city_close = both("city_k") & (_jaro_winkler(*_spaceless(left, right, "city_k")) >= 0.9)
    address_parts = street_close.astype(np.int8) + postal_eq.astype(np.int8) + city_close.astype(np.int8)
    any_workplace = domain_both | company_both | both("street_k") | both("postal_k") | both("city_k")
    out["workplace"] = np.select(
        [
            ~any_workplace,
            domain_eq & (street_eq | postal_eq),
            domain_eq,
            no_domain_conflict & ((company_both & (company_sim >= 0.9)) | (street_eq & postal_eq)),
            no_domain_conflict & (address_parts >= 2),
            no_domain_conflict & (address_parts == 1),
        ],
        [0, 1, 2, 3, 4, 5],
        6,
    )
    levels = pl.DataFrame({f"{name}_level": out[name].astype(np.int8) for name in LEVELS})
    return pl.concat(
        [
            pairs.select("left_id", "right_id"),
            levels,
            pl.DataFrame(
                {
                    "_first_value": out["_first_value"],
                    "_last_value": out["_last_value"],
                    "_names_swapped": out["_names_swapped"],
                },
                schema={"_first_value": pl.String, "_last_value": pl.String, "_names_swapped": pl.Boolean},
            ),
        ],
        how="horizontal",
    )


def _nickname_pairs(first_a: pl.Series, first_b: pl.Series) -> np.ndarray:
    """True where the two first names share a formal name in the nickname table (Bob ~ Robert)."""
    frame = pl.DataFrame({"a": first_a, "b": first_b}).with_row_index("i")
    groups = pl.DataFrame({"name": list(NAME_GROUPS), "formal": [sorted(v) for v in NAME_GROUPS.values()]}).explode(
        "formal"
    )
    ga = frame.join(groups, left_on="a", right_on="name").select("i", "formal")
    gb = frame.join(groups, left_on="b", right_on="name").select("i", "formal")
    hits = ga.join(gb, on=["i", "formal"]).get_column("i").unique()
    mask = np.zeros(frame.height, dtype=bool)
    mask[hits.to_numpy()] = True
    return mask & (first_a != first_b).fill_null(False).to_numpy()


def estimate_u(features: pl.DataFrame, config: MatchConfig) -> dict[str, np.ndarray]:
    """u-probabilities P(level | different people) per field, from random record pairs of this data.

    Random pairs are almost all non-matches, so their level frequencies estimate u (add-half smoothed).
    Exact-agreement levels of email, LinkedIn and phone are rare among random pairs; their u comes from
    the value frequencies instead (sum of squared shares), which is exact and needs no sampling luck.
    """
    n = features.height
    rng = np.random.default_rng(config.seed)
    k = min(config.u_sample_pairs, max(1, n * (n - 1) // 2))
    a = rng.integers(0, n, k)
    b = rng.integers(0, n, k)
    keep = a != b
    ids = features["record_id"].to_numpy()
    sample = pl.DataFrame({"left_id": ids[a[keep]], "right_id": ids[b[keep]]})
    levels = comparison_levels(sample, features)
    u: dict[str, np.ndarray] = {}
    for name, names in LEVELS.items():
        counts = np.bincount(levels[f"{name}_level"].to_numpy(), minlength=len(names))[1:].astype(float)
        u[name] = (counts + 0.5) / (counts.sum() + 0.5 * len(counts))
    for name, column in (("email", "email_c"), ("linkedin", "linkedin_slug")):
        u[name] = _with_exact_u(u[name], _collision_probability(features[column]))
    phone_values = pl.concat([features["phone_d"], features["mobile_d"]])
    u["phone"] = _with_exact_u(u["phone"], _collision_probability(phone_values))
    return u


def estimate_m(
    levels: pl.DataFrame,
    u: dict[str, np.ndarray],
    m_init: dict[str, np.ndarray],
    iterations: int = 25,
    floor: float = 1e-4,
) -> tuple[dict[str, np.ndarray], float]:
    """m-probabilities re-estimated by expectation-maximisation on the candidate pairs (u held fixed), and
    the expected number of matching pairs among them.

    Starts from the configured priors, so the matched class stays "same person"; each field's m is
    floored so no level becomes impossible. Used when `MatchConfig.estimate_m` is on (data whose duplicate
    patterns differ from a CRM's, e.g. FEBRL's heavy typos).
    """
    names = list(LEVELS)
    lv = {name: levels[f"{name}_level"].to_numpy() for name in names}
    m = {name: m_init[name].copy() for name in names}
    share = 0.5
    for _ in range(iterations):
        log_ratio = np.zeros(levels.height)
        for name in names:
            ratio = np.concatenate([[1.0], m[name] / u[name]])
            log_ratio += np.log(ratio[lv[name]])
        odds = share / (1 - share) * np.exp(np.clip(log_ratio, -700, 700))
        weight = odds / (1 + odds)
        share = float(np.clip(weight.mean(), 1e-6, 1 - 1e-6))
        for name in names:
            counts = np.bincount(lv[name], weights=weight, minlength=len(LEVELS[name]))[1:]
            if counts.sum() > 0:
                estimate = np.maximum(counts / counts.sum(), floor)
                m[name] = estimate / estimate.sum()
    return m, share * levels.height


def estimate_prior(bayes_weights: np.ndarray, records: int, floor: float, cap: float, iterations: int = 20) -> float:
    """Prior probability that two random records match, from the candidate pairs' Bayes factors (log2).

    Fixed point of prior = expected matching pairs / all record pairs, kept within [floor, cap]. Only the
    likely matches (probability >= 0.5 under the current prior) are summed: the long tail of colleague
    pairs, each a small probability, would otherwise add up to thousands of "matches" on CRM data and
    feed on itself. Pairs outside the candidates count as non-matches.
    """
    all_pairs = records * (records - 1) / 2
    prior = floor
    for _ in range(iterations):
        log_odds = np.clip(bayes_weights + np.log2(prior / (1 - prior)), -1000, 1000)
        probability = 1.0 / (1.0 + np.power(2.0, -log_odds))
        expected = float(probability[probability >= 0.5].sum())
        updated = float(np.clip(expected / all_pairs, floor, min(cap, 0.5)))
        if abs(updated - prior) <= 1e-3 * prior:
            return updated
        prior = updated
    return prior


def _collision_probability(values: pl.Series) -> float:
    """P(two random non-null values are equal) = sum of squared value shares."""
    counts = values.drop_nulls().value_counts()["count"].to_numpy().astype(float)
    if counts.sum() < 2:
        return 1e-6
    shares = counts / counts.sum()
    return max(float((shares**2).sum()), 1.0 / counts.sum() ** 2)


def _with_exact_u(u_levels: np.ndarray, exact_u: float) -> np.ndarray:
    u_levels = u_levels.copy()
    u_levels[0] = exact_u
    u_levels[-1] = max(1e-9, 1.0 - u_levels[:-1].sum())
    return u_levels


def _name_share(values: pl.Series, features: pl.DataFrame, column: str) -> np.ndarray:
    """Share of each value among the non-null names of `column` (1/n for a name not seen there)."""
    counts = features[column].drop_nulls().value_counts()
    total = max(1, int(counts["count"].sum()))
    shares = dict(zip(counts[column].to_list(), (counts["count"] / total).to_list(), strict=True))
    n = max(2, features.height)
    return values.replace_strict(shares, default=None, return_dtype=pl.Float64).fill_null(1.0 / n).to_numpy()


def score_contact_pairs(records: pl.DataFrame, config: MatchConfig | None = None) -> pl.DataFrame:
    """Resolve-ready scored pairs for contact records (staging column names; see `CONTACT_COLUMNS`).

    Columns: left_id, right_id, blocking_rules, `<field>_level` (label), `<field>_weight` (log2 Bayes factor),
    match_weight, match_probability, decision (auto_merge / review / no_match).
    """
    config = config or MatchConfig()
    features = prepare_contact_features(records)
    pairs = candidate_pairs(features)
    return score_pairs(pairs, features, config)


@dataclass(frozen=True)
class MatchParameters:
    """What the matcher learned from the data: per field the u and m probability of each comparison level
    (level "null" excluded), and how many matching pairs a record has on average (the prior).

    A full run estimates them; an incremental run scores its delta with the full run's parameters (see
    `score_pairs`), so a delta pair's probability means what every other pair's does.
    """

    u: dict[str, tuple[float, ...]]
    m: dict[str, tuple[float, ...]]
    duplicate_rate: float

    def prior(self, records: int) -> float:
        """Prior probability that two random records of `records` are the same person."""
        return min(0.5, self.duplicate_rate * 2.0 / max(1, records - 1))

    def to_json(self) -> str:
        """The parameters as a JSON document (stored by the warehouse between runs)."""
        return json.dumps({"u": self.u, "m": self.m, "duplicate_rate": self.duplicate_rate}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MatchParameters:
        """Parameters saved with `to_json`; a field or level the saved set lacks is an error, not a guess."""
        data = json.loads(text)
        for kind in ("u", "m"):
            for name, levels in LEVELS.items():
                if len(data[kind].get(name, ())) != len(levels) - 1:
                    raise ValueError(f"saved match parameters do not fit field {name!r}: re-estimate them")
        return cls(
            u={k: tuple(v) for k, v in data["u"].items()},
            m={k: tuple(v) for k, v in data["m"].items()},
            duplicate_rate=float(data["duplicate_rate"]),
        )


def _bayes_weights(
    levels: pl.DataFrame, features: pl.DataFrame, u: dict, m: dict
) -> tuple[np.ndarray, dict[str, pl.Series]]:
    """Per pair the summed log2 Bayes factors of all fields, and the level label and weight columns per field."""
    n = max(2, features.height)
    total = np.zeros(levels.height)
    columns: dict[str, pl.Series] = {}
    for name, names in LEVELS.items():
        lv = levels[f"{name}_level"].to_numpy()
        m_field = np.asarray(m[name], dtype=float)
        weights = np.concatenate([[0.0], np.log2(m_field / np.asarray(u[name], dtype=float))])
        w = weights[lv]
        # Term-frequency adjustment: agreeing on a rare name is stronger evidence than on "Smith".
        # A swapped agreement ("Smith Archie" ~ "Archie Smith") uses the name's share in whichever column
        # makes it commoner: "smith" is rare as a first name, but not as a name.
        if name in ("first_name", "last_name"):
            values = levels["_first_value" if name == "first_name" else "_last_value"]
            own, other = ("first_key", "last_key") if name == "first_name" else ("last_key", "first_key")
            value_u = _name_share(values, features, own)
            value_u = np.where(
                levels["_names_swapped"].to_numpy(), np.maximum(value_u, _name_share(values, features, other)), value_u
            )
            w = np.where(lv == 1, np.log2(m_field[0] / np.maximum(value_u, 1.0 / n)), w)
        total += w
        columns[f"{name}_level"] = pl.Series(np.asarray(names, dtype=object)[lv].tolist(), dtype=pl.String)
        columns[f"{name}_weight"] = pl.Series(np.round(w, 3))
    return total, columns


def estimate_parameters(
    pairs: pl.DataFrame, features: pl.DataFrame, config: MatchConfig, levels: pl.DataFrame | None = None
) -> MatchParameters:
    """u from random record pairs, m by EM on the candidate `pairs`, and the prior from the data (see
    `MatchConfig`); with fewer than `min_pairs_for_em` candidate pairs the configured priors are kept."""
    n = max(2, features.height)
    levels = comparison_levels(pairs, features) if levels is None else levels
    # No candidate pair (fewer than two records, or nothing shares a key): nothing to estimate.
    u = estimate_u(features, config) if pairs.height else {name: np.ones(len(v) - 1) for name, v in LEVELS.items()}
    m = {name: np.asarray(config.m_probabilities[name], dtype=float) for name in LEVELS}
    # Prior odds that a random pair is the same person, from the expected share of duplicate records.
    prior = config.expected_duplicate_rate * 2.0 / max(1, n - 1)
    if config.estimate_m and pairs.height >= config.min_pairs_for_em:
        m, _ = estimate_m(levels, u, m)
    if config.prior_from_data and pairs.height >= config.min_pairs_for_em:
        total, _ = _bayes_weights(levels, features, u, m)
        prior = estimate_prior(total, n, prior, config.max_duplicate_rate * 2.0 / max(1, n - 1))
    return MatchParameters(
        u={name: tuple(float(x) for x in u[name]) for name in LEVELS},
        m={name: tuple(float(x) for x in m[name]) for name in LEVELS},
        duplicate_rate=prior * (n - 1) / 2.0,
    )


def score_pairs(
    pairs: pl.DataFrame, features: pl.DataFrame, config: MatchConfig, parameters: MatchParameters | None = None
) -> pl.DataFrame:
    """Fellegi-Sunter scoring of given candidate pairs (see `score_contact_pairs`).

    Without `parameters` they are estimated on these pairs and this data (a full run); pass a full run's
    parameters to score a delta the same way (`config` then only supplies the decision thresholds).
    """
    levels = comparison_levels(pairs, features)
    parameters = parameters or estimate_parameters(pairs, features, config, levels)
    total, columns = _bayes_weights(levels, features, parameters.u, parameters.m)
    prior = parameters.prior(max(2, features.height))
    match_weight = total + np.log2(prior / (1 - prior))
    probability = 1.0 / (1.0 + np.power(2.0, -match_weight))
    decision = np.select(
        [probability >= config.automerge_min_probability, probability >= config.review_min_probability],
        ["auto_merge", "review"],
        "no_match",
    )
    rules = pairs["rules"].list.join(",") if "rules" in pairs.columns else pl.Series([None] * pairs.height)
    return pl.DataFrame(
        {
            "left_id": pairs["left_id"].cast(pl.Int64),
            "right_id": pairs["right_id"].cast(pl.Int64),
            "blocking_rules": rules.cast(pl.String),
            **columns,
            "match_weight": pl.Series(np.round(match_weight, 3), dtype=pl.Float64),
            "match_probability": pl.Series(probability, dtype=pl.Float64),
            "decision": pl.Series(decision.tolist(), dtype=pl.String),
        }
    )
