"""The matcher's shortcuts give what the plain computation gives: scorers skipping rows nobody reads or whose
score is known, EM weighing each combination of levels once, the pair self-join on integer block ids, and the
shared-value groups as connected components."""

from __future__ import annotations

import numpy as np
import polars as pl
from rapidfuzz.distance import OSA, JaroWinkler
from rapidfuzz.fuzz import token_set_ratio
from rapidfuzz.process import cpdist

from matching import contacts
from tests.matching_fixtures import background, person, records_frame

WORDS = ["anna", "ana", "ben", "benn", "head of sales", "sales head", "12345678", "12345687", "", None]


def _random_strings(rng: np.random.Generator, n: int) -> pl.Series:
    return pl.Series([WORDS[i] for i in rng.integers(0, len(WORDS), n)], dtype=pl.String)


def test_scorers_skip_rows_without_changing_the_rows_read():
    rng = np.random.default_rng(5)
    left, right = _random_strings(rng, 400), _random_strings(rng, 400)
    where = rng.random(400) < 0.6
    for scorer, identical, fill in (
        (JaroWinkler.normalized_similarity, 1.0, 0.0),
        (token_set_ratio, 100.0, 0.0),
        (OSA.distance, 0, 1e6),
    ):
        plain = np.asarray(cpdist(left.fill_null("").to_list(), right.fill_null("").to_list(), scorer=scorer))
        full = contacts._per_distinct_pair(left, right, scorer, identical=identical)
        assert np.array_equal(full, plain)
        masked = contacts._per_distinct_pair(left, right, scorer, where=where, fill=fill, identical=identical)
        assert np.array_equal(masked[where], plain[where])
        assert np.all(masked[~where] == fill)


def _estimate_m_per_pair(levels: pl.DataFrame, u: dict, m_init: dict, iterations: int = 25, floor: float = 1e-4):
    """EM as written before the per-combination shortcut: every pair's weight computed on its own."""
    names = list(contacts.LEVELS)
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
            counts = np.bincount(lv[name], weights=weight, minlength=len(contacts.LEVELS[name]))[1:]
            if counts.sum() > 0:
                estimate = np.maximum(counts / counts.sum(), floor)
                m[name] = estimate / estimate.sum()
    return m, share * levels.height


def test_em_per_combination_of_levels_is_bit_identical_to_per_pair():
    rng = np.random.default_rng(11)
    levels = pl.DataFrame(
        {f"{name}_level": rng.integers(0, len(names), 5000).astype(np.int8) for name, names in contacts.LEVELS.items()}
    )
    u = {name: np.full(len(names) - 1, 1.0 / (len(names) - 1)) for name, names in contacts.LEVELS.items()}
    m_init = {name: np.asarray(values, dtype=float) for name, values in contacts.DEFAULT_M.items()}
    m, matches = contacts.estimate_m(levels, u, m_init)
    m_ref, matches_ref = _estimate_m_per_pair(levels, u, m_init)
    assert matches == matches_ref
    assert all(np.array_equal(m[name], m_ref[name]) for name in contacts.LEVELS)


def _features() -> pl.DataFrame:
    rows = background(120) + [
        person(1, "Anna", "Schmidt", "acme.com", "+15550001111"),
        person(2, "Anna", "Schmidt", "acme.com", "+15550001111", email="a.schmidt@acme.com"),
        person(3, "Schmidt", "Anna", "acme.com", None),
        person(4, "Anna", "Schmitt", "other.org", "+15550001111", mobile_phone="+15550001111"),
    ]
    return contacts.prepare_contact_features(records_frame(rows))


def test_candidate_pairs_list_every_rule_sharing_a_usable_block_sorted():
    features = _features()
    keys = contacts.blocking_keys(features)
    caps = pl.DataFrame({"rule": list(contacts.BLOCK_CAPS), "cap": list(contacts.BLOCK_CAPS.values())})
    usable = (
        keys.group_by("rule", "key")
        .agg(pl.len().alias("n"))
        .join(caps, on="rule")
        .filter(pl.col("n").is_between(2, pl.col("cap")))
    )
    kept = keys.join(usable.select("rule", "key"), on=["rule", "key"])
    expected = (
        kept.join(kept.select("rule", "key", pl.col("record_id").alias("right_id")), on=["rule", "key"])
        .filter(pl.col("record_id") < pl.col("right_id"))
        .group_by(pl.col("record_id").alias("left_id"), "right_id")
        .agg(pl.col("rule").unique().sort().alias("rules"))
        .sort("left_id", "right_id")
    )
    pairs = contacts.candidate_pairs(features)
    assert pairs.equals(expected)
    assert pairs.filter((pl.col("left_id") == 1) & (pl.col("right_id") == 2))["rules"].to_list()[0] == sorted(
        ["name", "name_domain", "name_postal", "last_name_domain_initial", "phone", "first_name_postal",
         "last_name_postal", "sorted_names", "soundex_names_city", "swapped_name_domain"]
    )  # fmt: skip
    # The phone rule reads phone and mobile: one key per (record, rule, key) even where both hold one number.
    assert keys.filter(pl.col("record_id") == 4, pl.col("rule") == "phone").height == 1


def test_shared_value_groups_are_connected_components_per_value():
    holders = pl.DataFrame({"value": ["a", "a", "a", "a", "b", "b", "c"], "record_id": [1, 2, 3, 4, 1, 5, 6]})
    links = pl.DataFrame({"value": ["a", "a", "b"], "record_id": [1, 3, 1], "record_id_r": [2, 4, 5]})
    people = dict(contacts._components(links, holders).sort("value").iter_rows())
    assert people == {"a": 2, "b": 1, "c": 1}


def test_hash_groups_number_rows_as_numpy_unique_does():
    """`_hash_groups` gives `np.unique`'s groups (in hash order) and, per group, a row holding its hash."""
    rng = np.random.default_rng(7)
    for size, distinct in ((0, 1), (1, 1), (5_000, 40), (5_000, 4_000)):
        hashes = rng.integers(0, distinct, size).astype(np.uint64) * np.uint64(2**40 + 7)
        _, first, inverse = np.unique(hashes, return_index=True, return_inverse=True)
        rows, groups = contacts._hash_groups(hashes)
        assert np.array_equal(groups, inverse)
        assert np.array_equal(hashes[rows], hashes[first])


def _features_with_phone_cases() -> pl.DataFrame:
    """Background plus records whose blocks test the label order: phone and mobile in either order, equal, one of
    them shared, a junk record, rules whose names are prefixes of others (name, name_domain, name_postal)."""
    rows = background(60) + [
        person(1, "Anna", "Schmidt", "acme.com", "+15550009999", mobile_phone="+15550001111"),
        person(2, "Anna", "Schmidt", "acme.com", "+15550001111", mobile_phone="+15550009999"),
        person(3, "Anna", "Schmidt", "acme.com", "+15550001111", mobile_phone="+15550001111"),
        person(4, "Test", "Person", "example.com", "+15550002222", email="test@example.com"),
        person(5, "Ben", "Kern", "kern.de", "+4930123456", mobile_phone="+4915187654329", company_phone="+4930123456"),
        person(6, "Ben", "Kern", "kern.de", "+4930123456", company_phone="+4930123456"),
    ]
    return contacts.prepare_contact_features(records_frame(rows))


def _block_labels_by_sorting(features: pl.DataFrame) -> pl.Series:
    """`block_labels` as written before its shortcut: every record's labels grouped and sorted as strings."""
    labels = (
        contacts.blocking_keys(features)
        .group_by("record_id")
        .agg(pl.concat_str(["rule", "key"], separator=contacts.BLOCK_SEPARATOR).sort().alias("block_keys"))
    )
    joined = features.select("record_id").join(labels, on="record_id", how="left", maintain_order="left")
    return joined["block_keys"].fill_null(pl.lit([], dtype=pl.List(pl.String)))


def test_block_labels_laid_out_by_rule_equal_the_sorted_labels():
    features = _features_with_phone_cases()
    labels = contacts.block_labels(features)
    assert labels.equals(_block_labels_by_sorting(features), check_names=True)
    by_id = dict(zip(features["record_id"].to_list(), labels.to_list(), strict=True))
    assert [k for k in by_id[1] if k.startswith("phone:")] == ["phone:15550001111", "phone:15550009999"]
    assert [k for k in by_id[3] if k.startswith("phone:")] == ["phone:15550001111"]
    assert by_id[4] == []  # junk: no blocks
    assert [k for k in by_id[5] if k.startswith("phone:")] == ["phone:4915187654329"]  # the switchboard is shared
    # Shuffled rows (labels follow the rows given) and a record given twice (the general path) agree too.
    shuffled = features.sample(fraction=1.0, shuffle=True, seed=3)
    assert contacts.block_labels(shuffled).equals(_block_labels_by_sorting(shuffled))
    doubled = pl.concat([features, features.head(5)])
    assert contacts.block_labels(doubled).equals(_block_labels_by_sorting(doubled))


def test_candidate_pairs_counted_per_rule_equal_pairs_from_given_block_sizes():
    """The per-rule numbering of blocks (records given once, blocks counted here) and the general path (blocks'
    sizes given, as an hourly run passes them) propose the same pairs with the same rules."""
    features = _features_with_phone_cases()
    sizes = (
        contacts.block_labels(features).explode().drop_nulls().value_counts(name="size").rename({"block_keys": "block"})
    )
    fast = contacts.candidate_pairs(features)
    assert fast.height > 0
    assert fast.equals(contacts.candidate_pairs(features, block_sizes=sizes))
    assert contacts.candidate_pairs(features, touching=pl.Series([1, 5])).equals(
        fast.filter(pl.col("left_id").is_in([1, 5]) | pl.col("right_id").is_in([1, 5]))
    )


def test_junk_reasons_from_bits_keep_rule_order_and_rows():
    """Reasons come as the rules' bits, turned into lists once per distinct set: every row keeps its own reasons,
    in `JUNK_REASONS` order, and `is_junk` says whether there are any."""
    from matching.junk import JUNK_REASONS, flag_junk, is_junk

    rows = [
        ("Test", "Kontakt", "test123@example.com", "Test GmbH"),
        ("Anna", "Weber", "anna@kraft.de", "Kraft GmbH"),
        ("Foo", "Bar", "foo@bar.com", None),
        ("Qwrtz", "Ztrwq", "q@mailinator.com", None),
        (None, None, None, None),
        ("Anna", "Weber", "noreply@kraft.de", "Kraft GmbH"),
    ]
    frame = pl.DataFrame(rows, schema=["first_name", "last_name", "email", "company_name"], orient="row")
    flagged = flag_junk(frame)
    for i in range(frame.height):
        alone = flag_junk(frame.slice(i, 1))["junk_reasons"].to_list()[0]
        assert flagged["junk_reasons"].to_list()[i] == alone
        assert alone == [reason for reason in JUNK_REASONS if reason in alone]
    first_reasons = ["test_name", "test_email", "placeholder_email_domain", "test_company"]
    assert flagged["junk_reasons"].to_list()[0] == first_reasons
    assert flagged["junk_reasons"].to_list()[1] == []
    assert is_junk(frame).to_list() == flagged["is_junk"].to_list() == [True, False, True, True, False, True]
    assert flag_junk(frame.clear())["junk_reasons"].dtype == pl.List(pl.String)


def test_comparison_levels_look_up_features_by_position_as_the_join_does(monkeypatch):
    """Features with unique, nearly dense record ids are found by a position table (`_position_lookup`) and
    gathered; the join gives the same columns, also for a pair naming a record the features do not hold."""
    features = _features_with_phone_cases().sample(fraction=1.0, shuffle=True, seed=3)
    pairs = contacts.candidate_pairs(features)
    assert pairs.height > 0
    assert contacts._position_lookup(features["record_id"]) is not None
    by_position = contacts.comparison_levels(pairs, features, slice_pairs=7)
    u_levels = contacts.comparison_levels(pairs, features, levels_only=True)
    monkeypatch.setattr(contacts, "_position_lookup", lambda ids: None)
    assert by_position.equals(contacts.comparison_levels(pairs, features))
    assert u_levels.equals(contacts.comparison_levels(pairs, features, levels_only=True))
    monkeypatch.undo()
    compared = features.select("record_id", "first_key", "last_words")
    lookup = contacts._position_lookup(compared["record_id"])
    missing = pairs.with_columns(pl.col("right_id").shift(1, fill_value=10**9))  # one id no record holds
    for frame in (pairs, missing, pairs.head(0)):
        for key, kept in (("left_id", ["left_id", "right_id"]), ("right_id", ["right_id"])):
            joined = frame.select(kept).join(
                compared, left_on=key, right_on="record_id", how="left", maintain_order="left"
            )
            assert contacts._side(frame, key, kept, compared, lookup).equals(joined)
    assert contacts._side(missing, "right_id", ["right_id"], compared, lookup)["first_key"][0] is None
    # Ids given twice or spread far apart: no table (joined).
    assert contacts._position_lookup(pl.Series([5, 7, 5])) is None
    assert contacts._position_lookup(pl.Series([1, 10**9])) is None


def test_live_features_query_reads_the_stored_features_less_their_bookkeeping(tmp_path):
    import duckdb

    from matching.resolve import FEATURE_BOOKKEEPING, live_features_query, match_features
    from tests.matching_fixtures import background, records_frame

    stored = match_features(records_frame(background(40))).with_columns(
        (pl.col("record_id") % 7 == 0).alias("is_removed"),
        pl.col("block_keys").alias("previous_block_keys"),
    )
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.register("frame", stored.sample(fraction=1.0, shuffle=True, seed=1).to_arrow())
    con.execute("create table features as select * from frame")
    relation = "(select * from features)"
    expected = con.sql(f"select * from {relation} where not is_removed order by record_id").pl()
    expected = expected.drop([c for c in FEATURE_BOOKKEEPING if c in expected.columns])
    columns = con.sql(f"select * from {relation} limit 0").columns
    assert con.sql(live_features_query(relation, columns)).pl().equals(expected)
    assert "block_keys" not in con.sql(live_features_query(relation, columns)).columns


def test_employer_domain_looks_each_host_up_once_as_the_when_then_did(monkeypatch):
    """The email's registrable domain, free mail left out, is one lookup per distinct host (memoized across the
    website and email columns), and gives what the two-expression form gave."""
    from matching import normalize
    from matching.reference import free_mail_domains

    looked_up: list[str] = []
    suffix_list = normalize._public_suffix_list()

    def counting(host: str):
        looked_up.append(host)
        return suffix_list(host)

    getattr(normalize._registrable, "cache_clear", lambda: None)()  # memoized lookups start empty
    monkeypatch.setattr(normalize, "_public_suffix_list", lambda: counting)
    frame = pl.DataFrame(
        {
            "website": ["www.acme.co.uk", None, "globex.io", None, None, "localhost", None],
            "email": ["a@mail.acme.co.uk", "b@gmail.com", "c@globex.io", "d@GLOBEX.io", None, "e@initech.com", "f@x"],
        }
    )
    got = frame.select(normalize.employer_domain(pl.col("website"), pl.col("email").str.to_lowercase()))
    getattr(normalize._registrable, "cache_clear", lambda: None)()  # memoized lookups start empty
    hosts = ["acme.co.uk", "mail.acme.co.uk", "gmail.com", "globex.io", "localhost", "initech.com", "x"]
    assert sorted(looked_up) == sorted(hosts)

    email_domain = normalize.registrable_domain(pl.col("email").str.to_lowercase().str.extract(r"@(.+)$", 1))
    from_email = pl.when(~email_domain.is_in(sorted(free_mail_domains()))).then(email_domain)
    expected = frame.select(pl.coalesce(normalize.registrable_domain(pl.col("website")), from_email))
    assert got.to_series().to_list() == expected.to_series().to_list()
    assert got.to_series().to_list() == ["acme.co.uk", None, "globex.io", "globex.io", None, "initech.com", None]


def test_map_distinct_calls_the_function_once_per_distinct_value_and_keeps_nulls():
    from matching.normalize import map_distinct

    calls: list[str] = []

    def shout(text: str) -> str | None:
        calls.append(text)
        return None if text == "none" else text.upper()

    values = pl.Series("v", ["a", None, "b", "a", "none", None, "b"])
    empty = pl.Series("v", [None, None], dtype=pl.String)
    got = pl.select(map_distinct(pl.lit(values), shout)).to_series()
    assert got.to_list() == ["A", None, "B", "A", None, None, "B"]
    assert sorted(calls) == ["a", "b", "none"]
    assert pl.select(map_distinct(pl.lit(empty), shout)).to_series().to_list() == [None, None]


def _name_derived_mailbox_loosening_each_form(features: pl.DataFrame) -> pl.Series:
    """The plain computation: every form of the names written out, then loosened."""
    from matching.normalize import fold_romanization

    parts = features.select(
        contacts._loose(fold_romanization(pl.col("email_local").str.replace_all(r"[^a-z]", ""))).alias("letters"),
        pl.col("first_key").alias("first"),
        pl.col("last_key").alias("last_0"),
        pl.col("last_words").list.first().alias("last_1"),
        pl.col("last_words").list.last().alias("last_2"),
    )
    first = pl.col("first")
    f0 = first.str.slice(0, 1)
    forms = []
    for last in (pl.col("last_0"), pl.col("last_1"), pl.col("last_2")):
        l0 = last.str.slice(0, 1)
        forms += [
            pl.concat_str([first, last]),
            pl.concat_str([f0, last]),
            pl.concat_str([first, l0]),
            pl.concat_str([last, first]),
            pl.concat_str([last, f0]),
            last,
        ]
    forms += [first, pl.concat_str([f0, pl.col("last_0").str.slice(0, 1)])]
    matches = pl.any_horizontal([(pl.col("letters") == contacts._loose(form)).fill_null(False) for form in forms])
    return parts.select(matches.alias("email_name_derived")).to_series()


def test_name_derived_mailbox_loosens_the_name_parts_as_the_written_forms():
    """Names made of vowels and h's (every joint a vowel-h rule can span) and the mailboxes their forms give."""
    rng = np.random.default_rng(11)
    letters = list("aehohu") + ["x", "hh", "ah"]

    def word() -> str:
        return "".join(letters[i] for i in rng.integers(0, len(letters), rng.integers(1, 4)))

    rows = []
    for _ in range(3000):
        first = None if rng.random() < 0.05 else word()
        words = [] if rng.random() < 0.05 else [word() for _ in range(rng.integers(1, 3))]
        last = "".join(words)
        candidates = [
            (first or "") + last,
            (first or "x")[:1] + last,
            last + (first or ""),
            (first or "") + last[:1],
            word(),
            (first or "") + ".h" + last,
        ]
        local = None if rng.random() < 0.05 else candidates[rng.integers(0, len(candidates))] + str(rng.integers(0, 3))
        rows.append({"email_local": local, "first_key": first, "last_key": last, "last_words": words})
    features = pl.DataFrame(
        rows,
        schema={
            "email_local": pl.String,
            "first_key": pl.String,
            "last_key": pl.String,
            "last_words": pl.List(pl.String),
        },
    )
    expected = _name_derived_mailbox_loosening_each_form(features)
    got = contacts._name_derived_mailbox(features)
    assert got.equals(expected)
    assert 0 < expected.sum() < len(expected)
