"""Contact entity resolution: features, SQL blocking, rapidfuzz pair scoring, Fellegi-Sunter probability.

Callable on any DataFrame with the staging column names (see `CONTACT_COLUMNS`; missing optional columns
are treated as empty). `score_contact_pairs(records)` returns one row per candidate pair with the
comparison level, the weight per field and the match probability; `matching.cluster` turns the pairs into
stable clusters.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb
import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import token_set_ratio
from rapidfuzz.process import cpdist
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from landing.warehouse import limit_memory
from matching.junk import is_junk
from matching.nicknames import NAME_GROUPS
from matching.normalize import (
    ascii_text,
    canonical_email,
    company_name_key,
    employer_domain,
    fold_romanization,
    linkedin_slug,
    name_words,
    per_distinct_value,
    postal_key,
    soundex_key,
    street_key,
    surname_words,
)
from matching.reference import free_mail_domains, role_mailbox_names

CONTACT_COLUMNS = (
    "record_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "mobile_phone",
    "linkedin_url",
    "company_name",
    "job_title",
    "website_domain",
    "street_address",
    "city",
    "postal_code",
    "country_code",
    # Optional: the phone of the contact's company record (its switchboard): a contact listing it gave no
    # number of their own.
    "company_phone",
)

# Comparison levels per field, from strongest agreement to disagreement. Level 0 is always "null" (one
# side missing: no evidence either way, weight 0), so a record without an email degrades gracefully to
# the other fields instead of being penalized.
LEVELS: dict[str, tuple[str, ...]] = {
    # same_local: one mailbox name at two domains (anna.schmidt@oldco.com / anna.schmidt@newco.com: an
    # acquisition or a rebrand moved the person's address). A shared mailbox (role address, office@ held by
    # several people) is "null": it says nothing about a person.
    "email": ("null", "exact", "same_local", "different"),
    "linkedin": ("null", "exact", "different"),
    # initial: "J." against "Jana" (the first letter agrees, one side is only an initial).
    "first_name": ("null", "exact", "nickname", "initial", "jw_0.92", "jw_0.80", "different"),
    # partial: one surname's words are part of the other's (García López ~ García, Schmidt ~ Schmidt-Müller).
    "last_name": ("null", "exact", "partial", "jw_0.92", "jw_0.80", "different"),
    # one_typo: same number of digits, one digit wrong or two adjacent digits swapped (a typed-in number).
    "phone": ("null", "exact", "same_last_7", "one_typo", "different"),
    # Domain, company name, street, city and postal code describe the workplace and are strongly
    # correlated (colleagues share all of them), so they form ONE comparison: counting them as five
    # independent fields would let a shared office outweigh two different names. The address levels are
    # graded so a misspelt street still counts: address_similar = at least two of street, postal code and
    # city agree up to a typo, address_partly = one of them (only when the domains do not conflict).
    # The job title: two colleagues of one name rarely share it, one person's records usually do (exact is
    # weighed by how common the title is, like names).
    "job_title": ("null", "exact", "similar", "different"),
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
    "email": (0.80, 0.02, 0.18),
    "linkedin": (0.99, 0.01),
    "first_name": (0.78, 0.07, 0.02, 0.07, 0.03, 0.03),
    "last_name": (0.85, 0.03, 0.07, 0.03, 0.02),
    # one_typo and the partial address levels split what the former "different" level held.
    "phone": (0.95, 0.03, 0.005, 0.015),
    "job_title": (0.75, 0.1, 0.15),
    # "different": people change employer (a job change, an acquisition) and keep their records.
    "workplace": (0.80, 0.08, 0.05, 0.006, 0.006, 0.058),
}


def _unordered(first: str, second: str) -> pl.Expr:
    return pl.concat_str([pl.min_horizontal(first, second), pl.max_horizontal(first, second)], separator="|")


def _without_domain(key: pl.Expr) -> pl.Expr:
    return pl.when(pl.col("domain").is_null()).then(key)


# Blocking rules: name -> (key expression over the features, largest block kept). A key shared by more
# records than the cap (a role mailbox, a very common name) says too little to compare them all.
BLOCKING_RULES: dict[str, tuple[pl.Expr, int]] = {
    "email": (pl.when(~pl.col("email_shared")).then(pl.col("email_c")), 50),
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
    # Below this a pair is not worth a person's time: 0.9 = a false merge costs nine missed ones (see the
    # dbt var er_false_merge_cost, which ranks the proposals by expected value).
    review_min_probability: float = 0.9
    # Same employer and no personal identifier agreeing: a proposal from this probability on, never a merge.
    uncorroborated_review_min_probability: float = 0.99
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
    # m of a field is counted on pairs an independent identifier ties (`estimate_m_anchored`) when there are
    # at least this many of them; below, it stays EM's.
    min_anchored_pairs: int = 200
    # EM's expected matches above this multiple of the identifier-tied pairs: EM is taken as not identified.
    em_identified_ratio: float = 0.0


# The features read straight from a record, in their column order.
_BASE_FEATURES = (
    "record_id",
    "first_key",
    "first_initial",
    "last_key",
    "last_words",
    "email_c",
    "linkedin_slug",
    "phone_d",
    "mobile_d",
    "domain",
    "company_k",
    "title_k",
    "street_k",
    "city_k",
    "postal_k",
    "country_k",
    "is_junk",
)


def prepare_contact_features(records: pl.DataFrame) -> pl.DataFrame:
    """Staging-shaped contact rows -> one row per record with the normalized matching features.

    Besides the keys, each record carries its junk flag (`matching.junk`: junk records are never paired) and
    whether its email, phone and mobile are *shared*: a role mailbox, or a value several people with different
    first names hold (a switchboard number, an office@ address). Shared values are no evidence about a person:
    they neither block nor count in comparisons.
    """
    features = with_shared_flags(contact_record_features(records)).drop("switchboard_d")
    # Sorted by record id: the u-estimation sample (and so every weight) must not depend on the order in
    # which the warehouse happens to return rows, or reruns on unchanged input could differ.
    return features.sort("record_id")


def contact_record_features(records: pl.DataFrame) -> pl.DataFrame:
    """The features of `prepare_contact_features` that each record's own fields decide (all but the shared
    flags), plus `switchboard_d`: the digits of the record's company phone, which `with_shared_flags` reads."""
    missing = [c for c in CONTACT_COLUMNS if c not in records.columns]
    if "record_id" in missing:
        raise ValueError("contact records need a record_id column")
    frame = records.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in missing).with_columns(
        pl.col(c).cast(pl.String) for c in CONTACT_COLUMNS if c != "record_id"
    )
    nickname_canon = {name: min(formals) for name, formals in NAME_GROUPS.items()}
    email = pl.col("email").str.to_lowercase().str.strip_chars()
    first_words = name_words(pl.col("first_name"))
    last_words = surname_words(pl.col("last_name"))
    # Rules on one column run once per distinct value of it (`per_distinct_value`): names, companies, titles and
    # addresses repeat across contacts, emails and phones do not.
    by_column = {
        "first_name": {
            "first_key": pl.when(first_words.list.len() > 0).then(first_words.list.join("")),
            # A first name written as initials only ("J.", "J. A."): its first letter.
            "first_initial": pl.when(
                (first_words.list.len() > 0) & first_words.list.eval(pl.element().str.len_chars() == 1).list.all()
            ).then(first_words.list.first()),
        },
        "last_name": {"last_key": last_words.list.join(""), "last_words": last_words},
        "company_name": {"company_k": company_name_key(pl.col("company_name"))},
        "job_title": {"title_k": _title_key(pl.col("job_title"))},
        "street_address": {"street_k": street_key(pl.col("street_address"))},
        "city": {"city_k": ascii_text(pl.col("city")).str.to_lowercase().str.strip_chars()},
        "postal_code": {"postal_k": postal_key(pl.col("postal_code"))},
    }
    per_row = frame.select(
        pl.col("record_id").cast(pl.Int64),
        canonical_email(email).alias("email_c"),
        linkedin_slug(pl.col("linkedin_url")).alias("linkedin_slug"),
        _phone_digits(pl.col("phone")).alias("phone_d"),
        _phone_digits(pl.col("mobile_phone")).alias("mobile_d"),
        employer_domain(pl.col("website_domain"), email).alias("domain"),
        pl.col("country_code").alias("country_k"),
    )
    features = pl.concat(
        [
            per_row,
            *(per_distinct_value(frame, column, derived) for column, derived in by_column.items()),
            is_junk(frame.select("first_name", "last_name", "email", "company_name")).to_frame(),
        ],
        how="horizontal",
    ).select(_BASE_FEATURES)
    features = features.with_columns(
        pl.col("email_c").str.extract(r"^([^@]+)@", 1).alias("email_local"),
        pl.col("email_c").str.extract(r"@(.+)$", 1).alias("email_domain"),
        pl.col("first_key").replace(nickname_canon).alias("first_canon"),
        soundex_key(features["first_key"]).alias("first_sx"),
        soundex_key(features["last_key"]).alias("last_sx"),
        pl.col("street_k").str.extract(r"^(\d+)\b", 1).alias("street_no"),
    )
    features = features.with_columns(_name_derived_mailbox(features))
    switchboard = frame.select(_phone_digits(pl.col("company_phone"))).to_series()
    return features.with_columns(switchboard.alias("switchboard_d"))


def with_shared_flags(features: pl.DataFrame) -> pl.DataFrame:
    """`contact_record_features` rows + email_shared, phone_shared, mobile_shared. A flag depends on every
    record holding the same value (`_shared_values`): over a subset of the records it is right for the values
    whose holders are all in the subset."""
    role_mailbox = pl.col("email_local").str.replace(r"[0-9]+$", "").is_in(sorted(role_mailbox_names()))
    switchboard = features["switchboard_d"]
    return features.with_columns(
        (_shared_values(features, "email_c") | role_mailbox.fill_null(False)).alias("email_shared"),
        (_shared_values(features, "phone_d", "mobile_d") | (features["phone_d"] == switchboard).fill_null(False)).alias(
            "phone_shared"
        ),
        (
            _shared_values(features, "mobile_d", "phone_d") | (features["mobile_d"] == switchboard).fill_null(False)
        ).alias("mobile_shared"),
    )


def _title_key(expr: pl.Expr) -> pl.Expr:
    """Job title -> lowercase ASCII words ("Head of Sales (EMEA)" -> "head of sales emea")."""
    words = ascii_text(expr).str.to_lowercase().str.replace_all(r"[^a-z0-9]+", " ").str.strip_chars()
    return pl.when(words.str.len_chars() > 0).then(words)


# Numbers typed to get past a required field: a run of 1234567 or one digit seven times.
_PLACEHOLDER_PHONE = "|".join(["1234567", *(digit * 7 for digit in "0123456789")])


def _phone_digits(expr: pl.Expr) -> pl.Expr:
    """Phone text -> its digits; NULL when too short or a placeholder ("0000000000", "+49 123456789")."""
    digits = expr.str.replace_all(r"[^0-9]", "")
    placeholder = digits.str.contains(_PLACEHOLDER_PHONE)
    return pl.when((digits.str.len_chars() >= 7) & ~placeholder).then(digits)


def _loose(expr: pl.Expr) -> pl.Expr:
    """Loosely: a romanization may also write a long vowel with an h (shohta ~ shota, ohta ~ ota)."""
    return expr.str.replace_all(r"([aeiou])h", "${1}")


def _loose_joined(head: tuple[pl.Expr, pl.Expr], tail: tuple[pl.Expr, pl.Expr]) -> pl.Expr:
    """`_loose` of two texts written together, from each text and its own `_loose` (pairs (text, loose)).

    The rule's matches (a vowel then an h) lie within either text, or span the joint when the head ends with a
    vowel and the tail starts with an h: that h goes too. Nothing else changes at the joint (an h ending the head
    is no vowel, a vowel starting the tail no h). Each name part is loosened once, not once per form it is in."""
    (head_text, head_loose), (tail_text, tail_loose) = head, tail
    joint = head_text.str.contains("[aeiou]$") & tail_text.str.starts_with("h")
    return pl.concat_str([head_loose, pl.when(joint).then(tail_loose.str.slice(1)).otherwise(tail_loose)])


def _name_derived_mailbox(features: pl.DataFrame) -> pl.Series:
    """True where the mailbox's letters are made of the record's own names only (anna.schmidt@, aschmidt@,
    anna@, schmidt.anna@, jwolf@ for Jürgen Wolf-Köhler ...), whatever digits it carries: such a mailbox is the
    names again, not evidence of its own. Both sides are compared `_loose`ly."""
    # The mailbox letters and the name parts are columns first: each is compared with twenty forms, and an
    # expression used twenty times would be evaluated twenty times.
    names = ("first", "last_0", "last_1", "last_2")
    parts = (
        features.lazy()
        .select(
            _loose(fold_romanization(pl.col("email_local").str.replace_all(r"[^a-z]", ""))).alias("letters"),
            pl.col("first_key").alias("first"),
            pl.col("last_key").alias("last_0"),
            pl.col("last_words").list.first().alias("last_1"),
            pl.col("last_words").list.last().alias("last_2"),
        )
        .with_columns(_loose(pl.col(name)).alias(f"{name}_loose") for name in names)
    )

    def whole(name: str) -> tuple[pl.Expr, pl.Expr]:
        return pl.col(name), pl.col(f"{name}_loose")

    def initial(name: str) -> tuple[pl.Expr, pl.Expr]:
        letter = pl.col(name).str.slice(0, 1)
        return letter, letter  # one letter has nothing to loosen

    first, f0 = whole("first"), initial("first")
    forms = []
    for last in ("last_0", "last_1", "last_2"):
        surname, l0 = whole(last), initial(last)
        forms += [
            _loose_joined(first, surname),
            _loose_joined(f0, surname),
            _loose_joined(first, l0),
            _loose_joined(surname, first),
            _loose_joined(surname, f0),
            surname[1],
        ]
    forms += [first[1], _loose_joined(f0, initial("last_0"))]
    matches = pl.any_horizontal([(pl.col("letters") == form).fill_null(False) for form in forms])
    return parts.select(matches.alias("email_name_derived")).collect().to_series()


def first_names_compatible(left: pl.DataFrame, right: pl.DataFrame) -> np.ndarray:
    """Per pair of records (two aligned frames with first_key, first_initial, last_key): could their first
    names belong to one person? Equal up to a nickname, an initial ("J. M." ~ "Jürgen"), a typo (Jaro-Winkler
    >= 0.8), or written in the other's last-name slot (swapped names); a missing name is compatible with
    anything."""
    a, b = left["first_key"].fill_null(""), right["first_key"].fill_null("")
    missing = ((a == "") | (b == "")).to_numpy()
    equal = (a == b).to_numpy()
    nickname = _nickname_pairs(left["first_key"], right["first_key"])
    one_initial = left["first_initial"].is_not_null() | right["first_initial"].is_not_null()
    initial = (one_initial & (a.str.slice(0, 1) == b.str.slice(0, 1))).to_numpy()
    similar = _jaro_winkler(a, b, where=~(missing | equal)) >= 0.8
    swapped = ((a == right["last_key"].fill_null("-")) | (b == left["last_key"].fill_null("-"))).to_numpy()
    return missing | equal | nickname | initial | similar | swapped


def _shared_values(features: pl.DataFrame, column: str, other: str | None = None, max_group: int = 50) -> pl.Series:
    """Per record: is its `column` value shared by several people (also held, in `column` or `other`, by
    someone else)? Two holders are two people when neither their first nor their last names can be one
    person's (a switchboard or an office@ box is held by people with other names). One person's duplicate
    records (a typo, a nickname, a married name, a corrupted first name) do not make a value shared. A value
    held by more than `max_group` records is shared outright."""
    columns = [column] if other is None else [column, other]
    names = ("first_key", "first_initial", "last_key")
    holders = pl.concat([features.select("record_id", pl.col(c).alias("value"), *names) for c in columns])
    holders = holders.drop_nulls("value").unique(["record_id", "value"])
    counts = holders.group_by("value").agg(pl.len().alias("holders"))
    crowded = counts.filter(pl.col("holders") > max_group)["value"]
    groups = holders.join(counts.filter(pl.col("holders").is_between(2, max_group)), on="value")
    pairs = groups.join(groups.drop("holders"), on="value", suffix="_r").filter(
        pl.col("record_id") < pl.col("record_id_r")
    )
    left, right = pairs.select(names), pairs.select([pl.col(f"{c}_r").alias(c) for c in names])
    first_conflict = ~first_names_compatible(left, right)
    last_l, last_r = left["last_key"].fill_null(""), right["last_key"].fill_null("")
    last_settled = ((last_l == "") | (last_r == "") | (last_l == last_r)).to_numpy()
    last_conflict = ~(
        last_settled
        | (_jaro_winkler(last_l, last_r, where=~last_settled) >= 0.8)
        | (last_l == left["first_key"].fill_null("-")).to_numpy()
        | (last_r == right["first_key"].fill_null("-")).to_numpy()
    )
    # Holders are one person when a chain of compatible pairs links them all (riley gloster ~ rily gloster ~
    # gloster mia: a swapped, corrupted duplicate); two or more such groups are different people.
    compatible = ~(first_conflict & last_conflict)
    groups_of = _components(pairs.select("value", "record_id", "record_id_r").filter(pl.Series(compatible)), groups)
    shared = pl.concat([groups_of.filter(pl.col("people") > 1)["value"], crowded]).unique()
    return features[column].is_in(shared.implode()).fill_null(False)


def _components(links: pl.DataFrame, holders: pl.DataFrame) -> pl.DataFrame:
    """Per value, how many groups its holders (value, record_id) form when `links` (value, record_id,
    record_id_r) join two holders of that value (connected components over the holders, one node per
    (value, record_id): groups never span two values)."""
    nodes = holders.select("value", "record_id").with_row_index("node")
    ends = links.join(nodes, on=["value", "record_id"], how="left").join(
        nodes.rename({"record_id": "record_id_r", "node": "node_r"}), on=["value", "record_id_r"], how="left"
    )
    size = nodes.height
    if size == 0:
        return pl.DataFrame(schema={"value": holders.schema["value"], "people": pl.UInt32})
    graph = sparse.coo_matrix(
        (np.ones(ends.height, dtype=np.int8), (ends["node"].to_numpy(), ends["node_r"].to_numpy())), shape=(size, size)
    )
    _, labels = connected_components(graph, directed=False)
    return (
        nodes.select("value")
        .with_columns(pl.Series("root", labels, dtype=pl.Int64))
        .group_by("value")
        .agg(pl.col("root").n_unique().alias("people"))
    )


# The largest block kept per blocking rule.
BLOCK_CAPS: dict[str, int] = {rule: cap for rule, (_, cap) in BLOCKING_RULES.items()} | {"phone": PHONE_BLOCK_CAP}
# A block's label: its rule, this separator, its key (rule names hold no colon).
BLOCK_SEPARATOR = ":"


def blocking_keys(features: pl.DataFrame) -> pl.DataFrame:
    """Per record each blocking key it holds (record_id, rule, key), one row per distinct (record, rule, key).

    Junk records hold none (they are never paired), and shared emails and phones (see
    `prepare_contact_features`) are no key."""
    features = features.filter(~pl.col("is_junk"))
    # One key per record and rule (records are unique in `features`), so only the phone rule, which reads two
    # columns, can repeat a (record, rule, key): it alone is made unique (a unique over every rule's rows cost
    # more than building them).
    keys = [
        features.select(pl.col("record_id"), pl.lit(rule).alias("rule"), expr.alias("key"))
        for rule, (expr, _) in BLOCKING_RULES.items()
    ]
    phones = [
        features.select(
            pl.col("record_id"),
            pl.lit("phone").alias("rule"),
            pl.when(~pl.col(shared)).then(pl.col(phone_col)).alias("key"),
        )
        for phone_col, shared in (("phone_d", "phone_shared"), ("mobile_d", "mobile_shared"))
    ]
    if features["record_id"].n_unique() < features.height:  # a record given twice: every rule may repeat
        return pl.concat([*keys, *phones]).drop_nulls("key").unique(["record_id", "rule", "key"])
    keys.append(pl.concat(phones).drop_nulls("key").unique(["record_id", "rule", "key"], maintain_order=True))
    return pl.concat(keys).drop_nulls("key")


def block_labels(features: pl.DataFrame) -> pl.Series:
    """Per record (in `features` order) the sorted labels (rule:key) of the blocks it is in: `blocking_keys` as
    one list per record, what the incremental pair model stores and looks blocks up by."""
    empty = pl.lit([], dtype=pl.List(pl.String))
    # A record given twice (one list of both rows' keys), or rule names the layout cannot order: sorted as strings.
    if not _LABELS_SORT_BY_RULE or features["record_id"].n_unique() < features.height:
        labels = (
            blocking_keys(features)
            .group_by("record_id")
            .agg(pl.concat_str(["rule", "key"], separator=BLOCK_SEPARATOR).sort().alias("block_keys"))
        )
        joined = features.select("record_id").join(labels, on="record_id", how="left", maintain_order="left")
        return joined["block_keys"].fill_null(empty)
    # Labels sort by rule, then key: a colon sorts before every character of a rule name, so "name:…" comes before
    # "name_domain:…" as "name" before "name_domain". The rules' keys are laid out in rule order (a record's phone
    # keys in key order), and a stable sort by record keeps that order within each record: the sorted lists
    # without sorting (or grouping by) the label strings themselves.
    long = pl.concat(
        [
            keys.select("record_id", pl.concat_str([pl.lit(rule + BLOCK_SEPARATOR), "key"]).alias("block_keys"))
            for _, rule, keys in _keys_by_rule(features)
        ]
    )
    labels = long.sort("record_id", maintain_order=True).group_by("record_id", maintain_order=True).agg("block_keys")
    joined = features.select("record_id").join(labels, on="record_id", how="left", maintain_order="left")
    return joined["block_keys"].fill_null(empty)


def _keys_by_rule(features: pl.DataFrame) -> list[tuple[int, str, pl.DataFrame]]:
    """`blocking_keys` of records given once each, rule by rule in name order: (bit, rule, frame of record_id and
    key), a record's phone keys in key order (the smaller number first; a number held as phone and mobile once)."""
    features = features.filter(~pl.col("is_junk"))
    own = [
        pl.when(~pl.col(shared)).then(pl.col(number))
        for number, shared in (("phone_d", "phone_shared"), ("mobile_d", "mobile_shared"))
    ]
    frames = []
    for bit, rule in enumerate(_RULES_BY_NAME):
        if rule == "phone":
            low = features.select("record_id", pl.min_horizontal(own).alias("key"))
            high = features.select("record_id", pl.when(own[0] != own[1]).then(pl.max_horizontal(own)).alias("key"))
            keys = pl.concat([low, high])
        else:
            keys = features.select("record_id", BLOCKING_RULES[rule][0].alias("key"))
        frames.append((bit, rule, keys.drop_nulls("key")))
    return frames


# Rules in name order: bit i of a pair's rule mask is `_RULES_BY_NAME[i]` (see `candidate_pairs`).
_RULES_BY_NAME = tuple(sorted(BLOCK_CAPS))
# `block_labels` lays the labels out rule by rule instead of sorting them, which gives the sorted order only while
# the separator sorts before every character of every rule name (then "name:…" < "name_domain:…"); a rule named
# otherwise takes the sorting path.
_LABELS_SORT_BY_RULE = all(char > BLOCK_SEPARATOR for rule in BLOCK_CAPS for char in rule)


def candidate_pairs(
    features: pl.DataFrame, touching: pl.Series | None = None, block_sizes: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Blocking: the union of record pairs sharing any strict key (SQL on DuckDB). Columns left_id < right_id,
    rules (the names of the rules whose blocks hold the pair, sorted).

    Junk records are never paired, and shared emails and phones (see `prepare_contact_features`) pair nobody.
    With `touching` (record ids), only pairs with at least one of those records are returned (a delta).
    A block of more records than its rule's cap (`BLOCK_CAPS`) pairs nobody. `block_sizes` (block label, size)
    gives the blocks' sizes over all records when `features` holds only some of them (an incremental run);
    without it the blocks are counted in `features`.

    Each usable block gets an integer id and each rule a bit, so the self-join and the grouping by pair run
    on integers (a join on the rule and key strings and a sorted list of distinct rule names per pair cost a
    third more); a pair's rule mask becomes its list of rule names once per distinct mask.
    """
    rules = pl.DataFrame(
        {
            "rule": list(_RULES_BY_NAME),
            "cap": [BLOCK_CAPS[rule] for rule in _RULES_BY_NAME],
            "bit": list(range(len(_RULES_BY_NAME))),
        },
        schema={"rule": pl.String, "cap": pl.Int64, "bit": pl.Int64},
    )
    if block_sizes is None and features["record_id"].n_unique() == features.height:
        # Each rule's blocks counted and numbered on its own key column (block ids distinct across rules by an
        # offset): half the work of counting and ranking every (rule, key) string pair together.
        per_rule, offset = [], 0
        # A block's number is its group's row after one group-by on the key (no dense rank: that sorted the key
        # strings): only block equality reaches the self-join, whose pairs are grouped and ordered by id.
        for bit, rule, keys in _keys_by_rule(features):
            blocks = keys.group_by("key").agg("record_id", pl.len().alias("size"))
            blocks = blocks.filter(pl.col("size").is_between(2, BLOCK_CAPS[rule]))
            usable = blocks.select(
                "record_id",
                pl.lit(bit, dtype=pl.Int64).alias("bit"),
                (pl.int_range(pl.len(), dtype=pl.Int64) + offset).alias("block"),
            ).explode("record_id")
            per_rule.append(usable)
            offset += blocks.height
        kept = pl.concat(per_rule).to_arrow()  # noqa: F841 (read by the SQL below)
    else:
        keys = blocking_keys(features).join(rules, on="rule")
        if block_sizes is None:
            keys = keys.with_columns(pl.len().over("rule", "key").cast(pl.Int64).alias("size"))
        else:
            sizes = block_sizes.select("block", pl.col("size").cast(pl.Int64)).unique("block")
            keys = keys.with_columns(pl.concat_str(["rule", "key"], separator=BLOCK_SEPARATOR).alias("block")).join(
                sizes, on="block"
            )
        kept = (  # noqa: F841 (read by the SQL below)
            keys.filter(pl.col("size").is_between(2, pl.col("cap")))
            .select("record_id", "bit", pl.struct("rule", "key").rank("dense").alias("block"))
            .to_arrow()
        )
    touched_ids = pl.DataFrame(  # noqa: F841 (read by the SQL below)
        {"record_id": touching if touching is not None else []}, schema={"record_id": pl.Int64}
    ).to_arrow()
    delta_filter = (
        "where a.record_id in (select record_id from touched_ids) or b.record_id in (select record_id from touched_ids)"
        if touching is not None
        else ""
    )
    con = duckdb.connect()
    limit_memory(con)  # the warehouse sessions' limit: beyond it the self-join spills rather than growing
    try:
        pairs = con.sql(
            f"""
            select a.record_id as left_id, b.record_id as right_id, bit_or(1::bigint << a.bit) as mask
            from kept a join kept b on a.block = b.block and a.record_id < b.record_id
            {delta_filter}
            group by all
            order by left_id, right_id
            """
        ).pl()
    finally:
        con.close()
    masks = pairs["mask"].unique().to_list()
    names = pl.DataFrame(
        {"mask": masks, "rules": [[r for bit, r in enumerate(_RULES_BY_NAME) if mask >> bit & 1] for mask in masks]},
        schema={"mask": pl.Int64, "rules": pl.List(pl.String)},
    )
    return pairs.join(names, on="mask", how="left", maintain_order="left").select(
        pl.col("left_id").cast(pl.Int64), pl.col("right_id").cast(pl.Int64), "rules"
    )


def _per_distinct_pair(
    left: pl.Series,
    right: pl.Series,
    scorer: Callable,
    where: np.ndarray | None = None,
    fill: float = 0.0,
    identical: float | None = None,
) -> np.ndarray:
    """`scorer` of each aligned (left, right) pair (nulls as ""), computed once per distinct pair: candidate
    pairs repeat names, titles and cities (150k pairs of 100k contacts hold 10k distinct first-name pairs).

    Distinct pairs are found by a hash of the two strings, sorted in numpy: a polars `unique` and a join back on
    two string columns cost about three times the scoring. Every row is then checked against the pair it was
    mapped to, so a hash collision can never give a pair another pair's score (it falls back to exact grouping).

    With `where` (a boolean mask over the pairs) only those rows are scored and every other row holds `fill`:
    for a caller that reads the score only where, say, both values are present (79% of mobile numbers are
    missing: three of the four phone combinations would be scored for nothing). `identical` is the scorer's
    value for two equal non-empty strings (1.0 for Jaro-Winkler, 0 for an edit distance): such rows (most
    candidate pairs share their city, street or employer) take it without being scored.
    """
    if identical is not None:
        a, b = left.fill_null(""), right.fill_null("")
        same = ((a == b) & (a != "")).to_numpy()
        if same.any():
            scored = ~same if where is None else (where & ~same)
            scores = _per_distinct_pair(left, right, scorer, scored, fill)
            scores[same if where is None else (where & same)] = identical
            return scores
    if where is not None:
        rows = np.flatnonzero(where)
        if rows.size == len(left):
            return _per_distinct_pair(left, right, scorer)
        scores = np.full(len(left), fill, dtype=np.float64)
        if rows.size:
            indices = pl.Series(rows)
            scores[rows] = _per_distinct_pair(left.gather(indices), right.gather(indices), scorer)
        return scores
    a, b = left.fill_null("").cast(pl.String), right.fill_null("").cast(pl.String)
    aligned = pl.DataFrame({"a": a, "b": b})
    first, inverse = _hash_groups(aligned.hash_rows().to_numpy())
    distinct = aligned[first]
    if not aligned.equals(distinct[inverse]):
        distinct = aligned.unique(maintain_order=True)
        inverse = aligned.join(distinct.with_row_index("i"), on=["a", "b"], how="left", maintain_order="left")["i"]
        inverse = inverse.to_numpy()
    scores = np.asarray(cpdist(distinct["a"].to_list(), distinct["b"].to_list(), scorer=scorer, workers=-1))
    return scores[inverse]


def _hash_groups(hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One row index per distinct hash and each row's group (the group numbers in hash order), as `np.unique`'s
    `return_index` / `return_inverse` give them, except that a group's row is any of its rows, not the first:
    that lets the sort be numpy's unstable one (about half the time of the stable sort `return_index` needs,
    ~170 sorts of up to 500k hashes at 1M contacts). Callers only read the row's values, equal in every row of
    a group (checked by `_per_distinct_pair`)."""
    order = np.argsort(hashes)
    ordered = hashes[order]
    starts = np.empty(hashes.size, dtype=bool)
    starts[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=starts[1:])
    inverse = np.empty(hashes.size, dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return order[starts], inverse


def _jaro_winkler(left: pl.Series, right: pl.Series, where: np.ndarray | None = None) -> np.ndarray:
    """Jaro-Winkler similarity per aligned pair (0.0 outside `where`, see `_per_distinct_pair`)."""
    return _per_distinct_pair(left, right, JaroWinkler.normalized_similarity, where, identical=1.0).astype(np.float32)


def _spaceless(left: pl.DataFrame, right: pl.DataFrame, column: str) -> tuple[pl.Series, pl.Series]:
    return tuple(frame[column].str.replace_all(" ", "", literal=True) for frame in (left, right))


# An edit distance no caller reads as close (the rows `_osa_distance` was not asked to score).
_FAR = 1_000_000


def _osa_distance(left: pl.Series, right: pl.Series, where: np.ndarray | None = None) -> np.ndarray:
    """Edit distance counting an adjacent transposition as one edit (a typed-in digit swap); `_FAR` outside
    `where`."""
    return _per_distinct_pair(left, right, OSA.distance, where, fill=_FAR, identical=0)


def _token_set(left: pl.Series, right: pl.Series, where: np.ndarray | None = None) -> np.ndarray:
    """Token-set similarity in [0, 1] per aligned pair (0.0 outside `where`)."""
    return _per_distinct_pair(left, right, token_set_ratio, where, identical=100.0).astype(np.float32) / 100.0


# The feature columns `comparison_levels` reads.
_COMPARED_COLUMNS = (
    "email_c",
    "email_shared",
    "email_local",
    "email_domain",
    "email_name_derived",
    "linkedin_slug",
    "first_key",
    "last_key",
    "first_initial",
    "last_words",
    "phone_d",
    "mobile_d",
    "phone_shared",
    "mobile_shared",
    "title_k",
    "domain",
    "street_k",
    "postal_k",
    "country_k",
    "company_k",
    "city_k",
)


# Pairs compared per slice: each slice joins both records' features onto its pairs (~21 columns a side), so
# memory follows the slice, not the pair count (7M candidate pairs at 1M contacts would hold several GB).
COMPARISON_SLICE_PAIRS = 500_000


def comparison_levels(
    pairs: pl.DataFrame, features: pl.DataFrame, slice_pairs: int = COMPARISON_SLICE_PAIRS, levels_only: bool = False
) -> pl.DataFrame:
    """Per candidate pair, the comparison level of each field (`<field>_level`, index into `LEVELS[field]`), and
    unless `levels_only` what scoring reads besides (the name and title values, corroborated, conflict,
    same_employer, bridges).

    Each pair's levels depend on its two records only, so pairs are compared in slices of `slice_pairs`."""
    # Only the columns compared are joined onto the pairs (each join copies every column it carries).
    # In one chunk: features read from the warehouse come in DuckDB's batches, and every slice's joins onto a
    # frame of many chunks cost about three times as much (1M records in 9 chunks: ~0.35 s -> ~0.11 s a join).
    features = features.select(
        pl.col("record_id"), *(pl.col(c) for c in _COMPARED_COLUMNS if c in features.columns)
    ).rechunk()
    lookup = _position_lookup(features["record_id"])
    if pairs.height <= slice_pairs:
        return _comparison_levels(pairs, features, levels_only, lookup)
    return pl.concat(
        [
            _comparison_levels(pairs.slice(start, slice_pairs), features, levels_only, lookup)
            for start in range(0, pairs.height, slice_pairs)
        ]
    )


# A record id -> row table is built when the ids span at most this many slots per record (CRM ids are nearly
# dense: 1M contacts span ~1M ids, an 8 MB table).
_LOOKUP_SLOTS_PER_RECORD = 4


def _position_lookup(ids: pl.Series) -> tuple[int, np.ndarray] | None:
    """(smallest id, table) with table[id - smallest] the row of each record id and -1 elsewhere, when the ids are
    unique, not null and nearly dense; else None (the features are then joined)."""
    if ids.is_empty() or ids.null_count() or not ids.dtype.is_integer() or ids.n_unique() < ids.len():
        return None
    low, high = int(ids.min()), int(ids.max())
    if high - low >= _LOOKUP_SLOTS_PER_RECORD * ids.len() + 1024:
        return None
    table = np.full(high - low + 1, -1, dtype=np.int64)
    table[ids.to_numpy() - low] = np.arange(ids.len())
    return low, table


def _side(
    pairs: pl.DataFrame, key: str, kept: list[str], features: pl.DataFrame, lookup: tuple[int, np.ndarray] | None
) -> pl.DataFrame:
    """`pairs`' `kept` columns with the features of the record `key` names, as a left join on `record_id` gives
    them. With `lookup` (`_position_lookup` of the features' ids) every record is found in the table and its row
    gathered: a join hashed every record's id again for each slice (~0.12 s more CPU a slice at 1M); a pair
    naming an id the features do not hold is joined."""
    if lookup is not None and pairs[key].null_count() == 0:
        low, table = lookup
        offsets = pairs[key].to_numpy() - low
        if offsets.size == 0 or (offsets.min() >= 0 and offsets.max() < table.size):
            at = table[offsets]
            if (at >= 0).all():
                return pl.concat([pairs.select(kept), features.drop("record_id")[at]], how="horizontal")
    return pairs.select(kept).join(features, left_on=key, right_on="record_id", how="left", maintain_order="left")


def _comparison_levels(
    pairs: pl.DataFrame,
    features: pl.DataFrame,
    levels_only: bool = False,
    lookup: tuple[int, np.ndarray] | None = None,
) -> pl.DataFrame:
    left = _side(pairs, "left_id", ["left_id", "right_id"], features, lookup)
    right = _side(pairs, "right_id", ["right_id"], features, lookup)

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
    # A shared mailbox (role address, or held by people with other first names) is no evidence at all.
    email_l = pl.when(~col(left, "email_shared")).then(col(left, "email_c"))
    email_r = pl.when(~col(right, "email_shared")).then(col(right, "email_c"))
    email_l, email_r = (pl.select(e.alias("e")).to_series() for e in (email_l, email_r))
    email_both = (email_l.is_not_null() & email_r.is_not_null()).to_numpy()
    email_eq = equal(email_l, email_r)
    # One mailbox name at two domains says something only when it is not just the names again (namesakes at
    # two companies with one address convention share anna.schmidt@, or anna.schmidt2@ after a collision).
    same_local = (
        equal(col(left, "email_local"), col(right, "email_local"))
        & (col(left, "email_local").str.len_chars() >= 3).fill_null(False).to_numpy()
        & ~equal(col(left, "email_domain"), col(right, "email_domain"))
        & ~col(left, "email_name_derived").fill_null(True).to_numpy()
        & ~col(right, "email_name_derived").fill_null(True).to_numpy()
    )
    out["email"] = np.select([~email_both, email_eq, same_local], [0, 1, 2], 3)

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
    initial_l, initial_r = col(left, "first_initial"), col(right, "first_initial")
    initial = (initial_l.is_not_null() | initial_r.is_not_null()).to_numpy() & equal(
        first_l.str.slice(0, 1), first_r_used.str.slice(0, 1)
    )
    out["first_name"] = np.select(
        [~first_both, equal(first_l, first_r_used), nick, initial, jw_f >= 0.92, jw_f >= 0.80], [0, 1, 2, 3, 4, 5], 6
    )
    # Surname words in common, one side's all within the other's (a double surname with one part dropped, a
    # married name added with a hyphen); only in the straight order.
    words_l, words_r = col(left, "last_words"), col(right, "last_words")
    common = words_l.list.set_intersection(words_r).list.len()
    partial = (
        (~swapped)
        & ((common == words_l.list.len()) | (common == words_r.list.len())).fill_null(False).to_numpy()
        & (common > 0).fill_null(False).to_numpy()
    )
    out["last_name"] = np.select(
        [~last_both, equal(last_l, last_r_used), partial, jw_l >= 0.92, jw_l >= 0.80], [0, 1, 2, 3, 4], 5
    )
    # Kept for term-frequency adjustment of exact name agreement (and whether it was a swapped one).
    out["_first_value"] = first_l
    out["_last_value"] = last_l
    out["_names_swapped"] = swapped

    # Phone: any of phone/mobile equal; same last 7 digits (a local vs international form staging missed).
    # A shared number (a switchboard several people list, with or without their extension) is left out.
    def own_numbers(frame: pl.DataFrame) -> list[pl.Series]:
        return [
            frame.select(pl.when(~pl.col(f"{kind}_shared")).then(pl.col(f"{kind}_d"))).to_series()
            for kind in ("phone", "mobile")
        ]

    numbers_l, numbers_r = own_numbers(left), own_numbers(right)
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
            # Only numbers of one length can be one typo apart: the others are not scored.
            one_typo |= same_length & (_osa_distance(a, b, where=same_length) <= 1)
    out["phone"] = np.select([~(any_l & any_r), exact, last7, one_typo], [0, 1, 2, 3], 4)

    title_both = both("title_k")
    title_sim = _token_set(col(left, "title_k"), col(right, "title_k"), where=title_both)
    out["job_title"] = np.select(
        [~title_both, equal(col(left, "title_k"), col(right, "title_k")), title_sim >= 0.8], [0, 1, 2], 3
    )
    out["_title_value"] = col(left, "title_k")

    # Workplace: one comparison over domain, company name and address (see LEVELS).
    domain_both = both("domain")
    domain_eq = equal(col(left, "domain"), col(right, "domain"))
    street_eq = equal(col(left, "street_k"), col(right, "street_k"))
    postal_eq = equal(col(left, "postal_k"), col(right, "postal_k")) & equal(
        col(left, "country_k"), col(right, "country_k")
    )
    company_both = both("company_k")
    # Read only where both have a company name and the domains are not equal (same_employer below: an equal
    # domain decides first), and for the workplace level only where a domain is missing (an equal one decides
    # first, two different ones are a conflict): random pairs (the u-sample) nearly all have two domains.
    compared = company_both & (~domain_both if levels_only else ~domain_eq)
    company_sim = _token_set(col(left, "company_k"), col(right, "company_k"), where=compared)
    no_domain_conflict = ~(domain_both & ~domain_eq)
    # Address parts agreeing up to a typo or a lost space ("57 bedford s treet" ~ "57 bedford street",
    # "park holme" ~ "parkholme").
    street_both, city_both = both("street_k"), both("city_k")
    street_close = street_both & (_jaro_winkler(*_spaceless(left, right, "street_k"), where=street_both) >= 0.9)
    city_close = city_both & (_jaro_winkler(*_spaceless(left, right, "city_k"), where=city_both) >= 0.9)
    address_parts = street_close.astype(np.int8) + postal_eq.astype(np.int8) + city_close.astype(np.int8)
    any_workplace = domain_both | company_both | street_both | both("postal_k") | city_both
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
    if levels_only:
        return pl.concat([pairs.select("left_id", "right_id"), levels], how="horizontal")
    # Personal identifiers: do any agree (corroboration), do any contradict (conflict)? Two mailboxes at one
    # domain contradict unless both are made of the person's own names (anna.schmidt@ ~ aschmidt@); mailboxes
    # at two domains do not (people have several addresses), nor does a missing value.
    # jsmith@ and jsmith2@ are a mail admin's collision numbering: two people. anna.schmidt@ and aschmidt@
    # (or a.schmidt.85@) are both the names: aliases of one person can look like that.
    letters_l, letters_r = (frame["email_local"].str.replace_all(r"[^a-z]", "") for frame in (left, right))
    numbered_apart = equal(letters_l, letters_r) & ~equal(col(left, "email_local"), col(right, "email_local"))
    alias = (col(left, "email_name_derived") & col(right, "email_name_derived")).fill_null(False).to_numpy()
    work_domain = (
        equal(col(left, "email_domain"), col(right, "email_domain"))
        & ~col(left, "email_domain").is_in(sorted(free_mail_domains())).fill_null(False).to_numpy()
    )
    email_conflict = (out["email"] == 3) & work_domain & (~alias | numbered_apart)
    corroborated = np.isin(out["email"], (1, 2)) | np.isin(out["phone"], (1, 2)) | (out["linkedin"] == 1)
    # What may tie one person's records across two employers (a job change keeps LinkedIn and mobile; an
    # acquisition keeps a distinctive mailbox name).
    bridges = (out["linkedin"] == 1) | (out["phone"] == 1) | (out["email"] == 2)
    conflict = (out["linkedin"] == 2) | email_conflict | (out["phone"] == 4)
    same_employer = domain_eq | (company_both & (company_sim >= 0.9))
    return pl.concat(
        [
            pairs.select("left_id", "right_id"),
            levels,
            pl.DataFrame(
                {
                    "_first_value": out["_first_value"],
                    "_last_value": out["_last_value"],
                    "_names_swapped": out["_names_swapped"],
                    "_title_value": out["_title_value"],
                    "corroborated": corroborated,
                    "conflict": conflict,
                    "same_employer": same_employer,
                    "bridges": bridges,
                },
                schema={
                    "_first_value": pl.String,
                    "_last_value": pl.String,
                    "_names_swapped": pl.Boolean,
                    "_title_value": pl.String,
                    "corroborated": pl.Boolean,
                    "conflict": pl.Boolean,
                    "same_employer": pl.Boolean,
                    "bridges": pl.Boolean,
                },
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
    levels = comparison_levels(sample, features, levels_only=True)
    u: dict[str, np.ndarray] = {}
    for name, names in LEVELS.items():
        counts = np.bincount(levels[f"{name}_level"].to_numpy(), minlength=len(names))[1:].astype(float)
        u[name] = (counts + 0.5) / (counts.sum() + 0.5 * len(counts))

    # Shared values (role mailboxes, switchboards) are compared as missing, so they are left out here too.
    def own(column: str, shared: str | None) -> pl.Series:
        return features[column] if shared is None else features.filter(~pl.col(shared))[column]

    u["email"] = _with_exact_u(u["email"], _collision_probability(own("email_c", "email_shared")))
    u["linkedin"] = _with_exact_u(u["linkedin"], _collision_probability(own("linkedin_slug", None)))
    phone_values = pl.concat([own("phone_d", "phone_shared"), own("mobile_d", "mobile_shared")])
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
    # Pairs with the same level in every field have the same weight: it is computed once per combination of
    # levels (a few thousand, against millions of pairs at 1M records) by the same operations on the same
    # values, so to the same bits, and spread back to the pairs for the sums.
    code = np.zeros(levels.height, dtype=np.int64)
    for name in names:
        code = code * len(LEVELS[name]) + lv[name]
    # The combinations in code order and each pair's among them, as `np.unique(return_inverse=True)` gives them,
    # by marking the codes present (at most the product of the level counts, ~70k) instead of sorting every pair.
    present = np.zeros(int(np.prod([len(v) for v in LEVELS.values()])), dtype=bool)
    present[code] = True
    combinations = np.flatnonzero(present)
    inverse = (np.cumsum(present) - 1)[code]
    # Each combination's levels, decoded from its code (the last field is the lowest digit).
    combination_lv = {}
    rest = combinations
    for name in reversed(names):
        rest, combination_lv[name] = np.divmod(rest, len(LEVELS[name]))
    m = {name: m_init[name].copy() for name in names}
    share = 0.5
    # bincount reads intp: each field's int8 levels are cast into one buffer reused every time (a new array per
    # cast, 7 fields x 25 iterations of ~7M pairs at 1M contacts, cost as much as the counting itself).
    intp_levels = np.empty(levels.height, dtype=np.intp)
    for _ in range(iterations):
        log_ratio = np.zeros(combinations.size)
        for name in names:
            # The log of each level's ratio, looked up per combination (the same values as the log taken per pair).
            ratio = np.concatenate([[1.0], m[name] / u[name]])
            log_ratio += np.log(ratio)[combination_lv[name]]
        odds = share / (1 - share) * np.exp(np.clip(log_ratio, -700, 700))
        weight = (odds / (1 + odds))[inverse]
        share = float(np.clip(weight.mean(), 1e-6, 1 - 1e-6))
        for name in names:
            np.copyto(intp_levels, lv[name])
            counts = np.bincount(intp_levels, weights=weight, minlength=len(LEVELS[name]))[1:]
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


# The columns whose values' frequencies weigh an exact agreement (`_bayes_weights`).
TERM_COLUMNS = ("first_key", "last_key", "title_k")


def term_counts(features: pl.DataFrame) -> dict[str, dict[str, int]]:
    """Per `TERM_COLUMNS` column, how many records hold each (non-null) value."""
    counts = {}
    for column in TERM_COLUMNS:
        frame = features[column].drop_nulls().value_counts()
        counts[column] = dict(zip(frame[column].to_list(), frame["count"].to_list(), strict=True))
    return counts


def _name_share(values: pl.Series, counts: dict[str, int], records: int) -> np.ndarray:
    """Share of each value among the non-null names `counts` counts (1/n of the `records` for a name not there)."""
    total = max(1, sum(counts.values()))
    shares = {value: count / total for value, count in counts.items()}
    n = max(2, records)
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

    `sources` says where each estimate came from, so a figure the data could not identify is never passed
    off as learned: per field `m.<field>` is `anchored` (counted on pairs an independent identifier ties),
    `em` (expectation-maximisation on the candidate pairs) or `prior` (`DEFAULT_M`, too little data), and
    `duplicate_rate` is `estimated` or `prior` (the estimate ran into a bound: the configured expected rate is
    used instead). A full run estimates them; an incremental run scores its delta with the full run's
    parameters (see `score_pairs`), so a delta pair's probability means what every other pair's does.
    """

    u: dict[str, tuple[float, ...]]
    m: dict[str, tuple[float, ...]]
    duplicate_rate: float
    sources: dict[str, str] = field(default_factory=dict)
    # Share of same-employer pairs with the same full name that are proven two people (an identifier
    # contradicts, none agrees): how often colleagues share a name in this export (see `namesake_rate`).
    namesake_rate: float = 0.0
    # How many records there were and how many held each name and title (`term_counts`): what exact name
    # agreements and the prior are weighed against when pairs are scored with these parameters (None: the
    # records being scored). Stored with the parameters, so an hour's records do not re-weigh earlier pairs.
    record_count: int | None = None
    term_counts: dict[str, dict[str, int]] | None = None

    def __post_init__(self) -> None:
        # 12 significant digits: the estimates are sums taken in no fixed order, and their last digits would
        # otherwise differ between two builds of the same records (an hourly build and one from scratch).
        rounded = {
            "u": {name: tuple(_rounded(p) for p in levels) for name, levels in self.u.items()},
            "m": {name: tuple(_rounded(p) for p in levels) for name, levels in self.m.items()},
            "duplicate_rate": _rounded(self.duplicate_rate),
            "namesake_rate": _rounded(self.namesake_rate),
        }
        for name, value in rounded.items():
            object.__setattr__(self, name, value)  # frozen: set once, here

    def prior(self, records: int) -> float:
        """Prior probability that two random records of `records` are the same person."""
        return min(0.5, self.duplicate_rate * 2.0 / max(1, records - 1))

    @property
    def unidentified(self) -> list[str]:
        """Parameters the data could not identify (they hold a documented prior: `DEFAULT_M`, the expected
        duplicate rate, a namesake rate of 0)."""
        return sorted(name for name, source in self.sources.items() if source == "prior")

    def to_json(self) -> str:
        """The parameters as a JSON document (stored by the warehouse between runs)."""
        return json.dumps(
            {
                "u": self.u,
                "m": self.m,
                "duplicate_rate": self.duplicate_rate,
                "sources": self.sources,
                "namesake_rate": self.namesake_rate,
                "record_count": self.record_count,
                "term_counts": self.term_counts,
            },
            sort_keys=True,
        )

    @classmethod
    def fits(cls, text: str) -> bool:
        """Whether parameters saved with `to_json` fit today's fields and levels (else they must be re-estimated)."""
        try:
            cls.from_json(text)
        except (ValueError, KeyError, TypeError):
            return False
        return True

    @classmethod
    def from_json(cls, text: str) -> MatchParameters:
        """Parameters saved with `to_json`; a field or level the saved set lacks is an error, not a guess."""
        data = json.loads(text)
        for kind in ("u", "m"):
            for name, levels in LEVELS.items():
                if len(data[kind].get(name, ())) != len(levels) - 1:
                    raise ValueError(f"saved match parameters do not fit field {name!r}: re-estimate them")
        if data.get("term_counts") is None or data.get("record_count") is None:
            raise ValueError("saved match parameters lack the name frequencies they weigh names by: re-estimate them")
        return cls(
            u={k: tuple(v) for k, v in data["u"].items()},
            m={k: tuple(v) for k, v in data["m"].items()},
            duplicate_rate=float(data["duplicate_rate"]),
            sources=dict(data.get("sources", {})),
            namesake_rate=float(data.get("namesake_rate", 0.0)),
            record_count=int(data["record_count"]),
            term_counts={column: dict(values) for column, values in data["term_counts"].items()},
        )


def _bayes_weights(
    levels: pl.DataFrame,
    counts: dict[str, dict[str, int]],
    records: int,
    u: dict,
    m: dict,
    with_columns: bool = True,
) -> tuple[np.ndarray, dict[str, pl.Series]]:
    """Per pair the summed log2 Bayes factors of all fields, and the level label and weight columns per field
    (none without `with_columns`: a caller that needs only the sum).

    `counts` (`term_counts`) and `records` are the records' name frequencies and number: what the exact name and
    title agreements are weighed against."""
    n = max(2, records)
    total = np.zeros(levels.height)
    columns: dict[str, pl.Series] = {}
    for name, names in LEVELS.items():
        lv = levels[f"{name}_level"].to_numpy()
        m_field = np.asarray(m[name], dtype=float)
        weights = np.concatenate([[0.0], np.log2(m_field / np.asarray(u[name], dtype=float))])
        w = weights[lv]
        # Term-frequency adjustment: agreeing on a rare name is stronger evidence than on "Smith". The name's
        # share is taken in whichever column makes it commoner: "smith" is rare as a first name but not as a
        # name, and two records that both hold a swapped "Smith Archie" agree on a common name, not a rare one.
        if name in ("first_name", "last_name"):
            values = levels["_first_value" if name == "first_name" else "_last_value"]
            value_u = np.maximum(
                _name_share(values, counts["first_key"], records), _name_share(values, counts["last_key"], records)
            )
            w = np.where(lv == 1, np.log2(m_field[0] / np.maximum(value_u, 1.0 / n)), w)
        if name == "job_title":
            value_u = _name_share(levels["_title_value"], counts["title_k"], records)
            w = np.where(lv == 1, np.log2(m_field[0] / np.maximum(value_u, 1.0 / n)), w)
        total += w
        if with_columns:
            labels = pl.Series(names, dtype=pl.String)
            columns[f"{name}_level"] = labels.gather(pl.Series(lv, dtype=pl.UInt32))
            columns[f"{name}_weight"] = pl.Series(np.round(w, 3))
    return total, columns


# Identifiers whose exact agreement ties two records to one person: pairs tied by one of them show how the
# other fields of one person's records compare (see `estimate_m_anchored`).
ANCHOR_LEVELS = {"email": 1, "linkedin": 1, "phone": 1}


def estimate_m_anchored(
    levels: pl.DataFrame, m_init: dict[str, np.ndarray], min_pairs: int, prior_weight: float = 20.0, floor: float = 1e-4
) -> tuple[dict[str, np.ndarray], dict[str, int]]:
    """m-probabilities counted on anchored pairs: for each field, the candidate pairs that agree exactly on an
    identifier *other* than that field (a non-shared email, phone or LinkedIn profile), which are one person's
    records nearly always. Each field's levels are counted where both sides have a value, smoothed towards
    the prior with `prior_weight` pseudo-pairs and floored. A field with fewer than `min_pairs` anchored pairs
    keeps `m_init`. Returns the estimates and the anchored pair count per field.

    Unlike EM this cannot mistake a crowd of namesakes (same first and last name, nothing else in common) for
    the matches: names never anchor.
    """
    m = {name: np.asarray(m_init[name], dtype=float).copy() for name in LEVELS}
    anchors = {name: levels[f"{name}_level"].to_numpy() == level for name, level in ANCHOR_LEVELS.items()}
    counted: dict[str, int] = {}
    for name in LEVELS:
        tied = np.zeros(levels.height, dtype=bool)
        for anchor, mask in anchors.items():
            if anchor != name:
                tied |= mask
        lv = levels[f"{name}_level"].to_numpy()[tied]
        lv = lv[lv > 0]
        counted[name] = int(lv.size)
        if lv.size < min_pairs:
            continue
        counts = np.bincount(lv, minlength=len(LEVELS[name]))[1:].astype(float)
        estimate = np.maximum((counts + prior_weight * m[name]) / (counts.sum() + prior_weight), floor)
        m[name] = estimate / estimate.sum()
    return m, counted


def namesake_rate(levels: pl.DataFrame, min_pairs: int = 50) -> float | None:
    """Among candidate pairs at one employer with the same first and last name, the share proven to be two people
    (a personal identifier contradicts and none agrees) out of those proven either way. High in an export whose
    companies hold many people of few names (a Chinese company, a big German one); near 0 where a same-named
    colleague is rare. None with fewer than `min_pairs` proven pairs."""
    same_name = levels.filter(
        pl.col("same_employer") & (pl.col("first_name_level") == 1) & (pl.col("last_name_level") == 1)
    )
    two_people = int((same_name["conflict"] & ~same_name["corroborated"]).sum())
    one_person = int((same_name["corroborated"] & ~same_name["conflict"]).sum())
    if two_people + one_person < min_pairs:
        return None
    return two_people / (two_people + one_person)


def estimate_parameters(
    pairs: pl.DataFrame, features: pl.DataFrame, config: MatchConfig, levels: pl.DataFrame | None = None
) -> MatchParameters:
    """u from random record pairs; m counted on anchored pairs where an independent identifier ties them
    (`estimate_m_anchored`), else by EM on the candidate `pairs`, else the configured priors; the prior odds of
    a match from the data (see `MatchConfig`), falling back to `expected_duplicate_rate` when the estimate
    runs into a bound. `MatchParameters.sources` records which of these each parameter is."""
    n = max(2, features.height)
    counts = term_counts(features)
    levels = comparison_levels(pairs, features) if levels is None else levels
    # No candidate pair (fewer than two records, or nothing shares a key): nothing to estimate.
    u = estimate_u(features, config) if pairs.height else {name: np.ones(len(v) - 1) for name, v in LEVELS.items()}
    m = {name: np.asarray(config.m_probabilities[name], dtype=float) for name in LEVELS}
    sources = {f"m.{name}": "prior" for name in LEVELS}
    # Prior odds that a random pair is the same person, from the expected share of duplicate records.
    floor = config.expected_duplicate_rate * 2.0 / max(1, n - 1)
    prior, sources["duplicate_rate"] = floor, "prior"
    enough = pairs.height >= config.min_pairs_for_em
    if config.estimate_m and enough:
        m, em_matches = estimate_m(levels, u, m)
        sources.update({f"m.{name}": "em" for name in LEVELS})
        # EM is identified when its "match" class is about as large as what identifiers tie. Far larger, it
        # has absorbed a crowd of look-alikes (namesakes at other companies, colleagues): the m are then
        # counted on the anchored pairs instead (biased towards cleaner duplicates, but not by look-alikes).
        tied = sum(int((levels[f"{name}_level"] == level).sum()) for name, level in ANCHOR_LEVELS.items())
        if tied and em_matches > config.em_identified_ratio * tied:
            m, anchored = estimate_m_anchored(levels, m, config.min_anchored_pairs)
            sources.update(
                {f"m.{name}": "anchored" for name, count in anchored.items() if count >= config.min_anchored_pairs}
            )
    if config.prior_from_data and enough:
        total, _ = _bayes_weights(levels, counts, features.height, u, m, with_columns=False)
        cap = config.max_duplicate_rate * 2.0 / max(1, n - 1)
        estimated = estimate_prior(total, n, floor, cap)
        # Pinned at the cap: the data cannot tell how many duplicates there are (a crowd of look-alike pairs
        # feeds the estimate); the documented prior is used and the metrics say so.
        if estimated < cap * 0.999:
            prior, sources["duplicate_rate"] = estimated, "estimated"
    rate = namesake_rate(levels) if pairs.height else None
    sources["namesake_rate"] = "prior" if rate is None else "estimated"
    return MatchParameters(
        u={name: tuple(float(x) for x in u[name]) for name in LEVELS},
        m={name: tuple(float(x) for x in m[name]) for name in LEVELS},
        duplicate_rate=prior * (n - 1) / 2.0,
        sources=sources,
        namesake_rate=0.0 if rate is None else rate,
        record_count=features.height,
        term_counts=counts,
    )


# A pair's decision by its code in `score_pairs`.
_DECISIONS = ("no_match", "review", "auto_merge")


def score_pairs(
    pairs: pl.DataFrame,
    features: pl.DataFrame,
    config: MatchConfig,
    parameters: MatchParameters | None = None,
    levels: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Fellegi-Sunter scoring of given candidate pairs (see `score_contact_pairs`).

    Without `parameters` they are estimated on these pairs and this data (a full run); pass a full run's
    parameters to score a delta the same way (`config` then only supplies the decision thresholds).
    `levels` are these pairs' `comparison_levels` when the caller already has them.
    """
    levels = comparison_levels(pairs, features) if levels is None else levels
    parameters = parameters or estimate_parameters(pairs, features, config, levels)
    # The name frequencies and record count the parameters were estimated with: a pair's score depends on its
    # two records and the parameters alone, so an hour that keeps the parameters scores only the pairs it touches
    # and ends where scoring every pair would (an hour's new records do not move the other pairs' weights).
    counts = term_counts(features) if parameters.term_counts is None else parameters.term_counts
    records = features.height if parameters.record_count is None else parameters.record_count
    total, columns = _bayes_weights(levels, counts, records, parameters.u, parameters.m)
    prior = parameters.prior(max(2, records))
    match_weight = total + np.log2(prior / (1 - prior))
    probability = 1.0 / (1.0 + np.power(2.0, -match_weight))
    # Colleagues look alike (same employer, office, often a common name): there the names and the workplace
    # alone never merge. Without a personal identifier that agrees (email, phone, LinkedIn) such a pair is a
    # proposal only when the rest would have merged it, and nothing when an identifier contradicts (two
    # mailboxes, two direct lines, two LinkedIn profiles: two people).
    # How likely such a pair is one person also depends on how often colleagues share a name in this export
    # (`MatchParameters.namesake_rate`): where most same-named colleagues are proven two people, a lone
    # name-and-employer agreement is not worth a person's time.
    flags = levels.select("corroborated", "conflict", "same_employer", "bridges")
    uncorroborated = (flags["same_employer"] & ~flags["corroborated"]).to_numpy()
    confident = probability >= config.automerge_min_probability
    uncorroborated_probability = np.minimum(probability, 1.0 - parameters.namesake_rate)
    decision = np.select(
        [
            uncorroborated
            & (
                flags["conflict"].to_numpy()
                | (uncorroborated_probability < config.uncorroborated_review_min_probability)
            ),
            uncorroborated,
            confident,
            probability >= config.review_min_probability,
        ],
        [0, 1, 2, 1],
        0,
    )
    # Each decision's text taken from its code: a Python string per pair (7M at 1M contacts) cost more than the rest.
    decision = pl.Series(_DECISIONS, dtype=pl.String).gather(pl.Series(decision, dtype=pl.UInt32))
    rules = pairs["rules"].list.join(",") if "rules" in pairs.columns else pl.Series([None] * pairs.height)
    return pl.DataFrame(
        {
            "left_id": pairs["left_id"].cast(pl.Int64),
            "right_id": pairs["right_id"].cast(pl.Int64),
            "blocking_rules": rules.cast(pl.String),
            **columns,
            "match_weight": pl.Series(np.round(match_weight, 3), dtype=pl.Float64),
            "match_probability": pl.Series(probability, dtype=pl.Float64),
            "corroborated": flags["corroborated"],
            "conflict": flags["conflict"],
            "bridges": flags["bridges"],
            "decision": decision,
        }
    )


def _rounded(value: float, digits: int = 12) -> float:
    """`value` rounded to `digits` significant digits."""
    return float(f"{value:.{digits}g}")
