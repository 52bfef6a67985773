"""Entity-resolution library (`matching`): scoring rules, clustering guards, stability, survivorship, accounts."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest
from matching_fixtures import FIRSTS, background, pair_of, person, records_frame

from matching import MatchConfig, cluster_pairs, resolve_contacts, resolve_contacts_incremental, score_contact_pairs
from matching.accounts import resolve_accounts
from matching.contacts import (
    LEVELS,
    MatchParameters,
    candidate_pairs,
    comparison_levels,
    estimate_prior,
    prepare_contact_features,
    score_pairs,
)
from matching.nicknames import are_nickname_equivalent, canonical_first_name
from matching.normalize import canonical_email, company_name_key, per_distinct_value, registrable_domain, soundex
from matching.resolve import clusters_to_redraw, recluster_contacts
from matching.survivorship import select_survivors


def test_normalization_helpers():
    frame = pl.DataFrame(
        {
            "email": ["J.Smith+crm@googlemail.com", "a.b+x@acme.co.uk"],
            "host": ["mail.eu.acme.co.uk", "www.acme.io"],
            "company": ["ACME, Inc.", "Foo Bar Pty Ltd"],
        }
    )
    out = frame.select(
        canonical_email(pl.col("email").str.to_lowercase()).alias("email"),
        registrable_domain(pl.col("host")).alias("domain"),
        company_name_key(pl.col("company")).alias("company"),
    )
    assert out["email"].to_list() == ["jsmith@gmail.com", "a.b@acme.co.uk"]
    assert out["domain"].to_list() == ["acme.co.uk", "acme.io"]
    assert out["company"].to_list() == ["acme", "foo bar"]


def test_rules_per_distinct_value_keep_row_order_and_nulls():
    frame = pl.DataFrame({"company": ["ACME, Inc.", None, "Foo Bar Pty Ltd", "ACME, Inc.", None]})
    out = per_distinct_value(frame, "company", {"key": company_name_key(pl.col("company"))})
    assert out["key"].to_list() == ["acme", None, "foo bar", "acme", None]
    assert out.columns == ["key"]


def test_nickname_table():
    assert are_nickname_equivalent("bob", "robert")
    assert are_nickname_equivalent("kate", "kathy")  # both stand for Katherine
    assert not are_nickname_equivalent("bob", "william")
    assert canonical_first_name("bobby") == canonical_first_name("robert")


def test_nickname_duplicate_is_auto_merged():
    rows = background() + [
        person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
        person(2, "Bob", "Hollander", "acme.com", "+15551230001", email=None),
    ]
    pairs = score_contact_pairs(records_frame(rows))
    pair = pair_of(pairs, 1, 2)
    assert pair["first_name_level"] == "nickname"
    assert pair["email_level"] == "null"  # missing email degrades to the other fields
    assert pair["decision"] == "auto_merge"


def test_same_name_at_another_company_is_not_a_match():
    rows = background() + [
        person(1, "Maria", "Ostrowski", "acme.com", "+15551230001"),
        person(2, "Maria", "Ostrowski", "globex.io", "+15559870002"),
    ]
    pairs = score_contact_pairs(records_frame(rows))
    pair = pair_of(pairs, 1, 2)
    assert pair["first_name_level"] == "exact" and pair["last_name_level"] == "exact"
    assert pair["decision"] == "no_match"
    assert pair["match_probability"] < 0.01


def test_colleagues_with_numbered_mailboxes_are_not_merged():
    rows = background() + [
        person(1, "Bram", "Jansen", "acme.com", "+15551230001", email="bram.jansen@acme.com"),
        person(2, "Bram", "Jansen", "acme.com", "+15559870002", email="bram.jansen2@acme.com"),
    ]
    pair = pair_of(score_contact_pairs(records_frame(rows)), 1, 2)
    assert pair["email_level"] == "different"
    assert pair["decision"] != "auto_merge"


def test_swapped_names_and_email_alias_still_match():
    rows = background() + [
        person(1, "Chen", "Wei", "acme.com", "+15551230001", email="chen.wei@acme.com"),
        person(2, "Wei", "Chen", "acme.com", "+15551230001", email="chen.wei+crm@acme.com"),
    ]
    pair = pair_of(score_contact_pairs(records_frame(rows)), 1, 2)
    assert pair["email_level"] == "exact"
    assert pair["first_name_level"] == "exact" and pair["last_name_level"] == "exact"
    assert pair["decision"] == "auto_merge"


def test_thresholds_come_from_config():
    rows = background() + [
        person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
        person(2, "Bob", "Hollander", "acme.com", "+15551230001", email=None),
    ]
    strict = MatchConfig(automerge_min_probability=1.01, review_min_probability=0.5)
    assert pair_of(score_contact_pairs(records_frame(rows), strict), 1, 2)["decision"] == "review"


def test_cluster_guard_stops_transitive_drift_across_domains():
    pairs = pl.DataFrame({"left_id": [1, 2], "right_id": [2, 3], "match_probability": [0.9999, 0.9995]})
    cannot_link = pl.DataFrame({"record_id": [1, 2, 3], "domain": ["acme.com", None, "globex.io"]})
    clusters = cluster_pairs(pl.Series([1, 2, 3]), pairs, cannot_link, min_probability=0.999, id_prefix="gc-")
    by_record = dict(clusters.select("record_id", "cluster_id").iter_rows())
    assert by_record[1] == by_record[2] == "gc-1"  # the stronger link wins
    assert by_record[3] == "gc-3"  # never joined with a record of another domain
    unguarded = cluster_pairs(pl.Series([1, 2, 3]), pairs, None, min_probability=0.999)
    assert unguarded["cluster_id"].n_unique() == 1  # without the guard the chain would pull 3 in


def test_cluster_ids_are_stable_across_runs_and_input_order():
    rows = background() + [
        person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
        person(5, "Bob", "Hollander", "acme.com", "+15551230001", email=None),
        person(9, "Rob", "Hollander", "acme.com", "+15551230001"),
    ]
    first = resolve_contacts(records_frame(rows)).clusters.sort("record_id")
    second = resolve_contacts(records_frame(rows).sample(fraction=1.0, shuffle=True, seed=3)).clusters.sort("record_id")
    assert first.equals(second)
    assert set(first.filter(pl.col("record_id").is_in([1, 5, 9]))["golden_contact_id"]) == {"gc-1"}
    # A newer record (higher id) joining the cluster does not rename it.
    grown = resolve_contacts(records_frame(rows + [person(4000, "Robert", "Hollander", "acme.com", "+15551230001")]))
    assert set(grown.clusters.filter(pl.col("record_id").is_in([1, 5, 9, 4000]))["golden_contact_id"]) == {"gc-1"}


def _candidate(field: str, value: str, source_class: str, days_ago: int, confidence=None, record="r1") -> dict:
    return {
        "entity_id": "gc-1",
        "field_name": field,
        "value": value,
        "source_class": source_class,
        "source_name": "hubspot" if source_class != "enrichment" else "vendor",
        "source_record_id": record,
        "observed_at": datetime(2026, 1, 1) - timedelta(days=days_ago),
        "confidence": confidence,
    }


def test_survivorship_precedence_and_provenance():
    candidates = pl.DataFrame(
        [
            _candidate("job_title", "VP Sales", "crm_user_entered", 30, record="r1"),
            _candidate("job_title", "CRO", "enrichment", 1, 0.99, record="p1:job_title"),
            _candidate("job_title", "Head of Sales", "human_verified", 400, record="r2"),
            _candidate("phone", "+15550001", "crm_user_entered", 30, record="r1"),
            _candidate("phone", "+15550002", "crm_user_entered", 5, record="r2"),  # more recent wins the tie
            _candidate("seniority", "vp", "inferred", 1),
            _candidate("seniority", "director", "enrichment", 100, 0.8, record="p1:seniority"),
            _candidate("seniority", "c_level", "enrichment", 100, 0.9, record="p2:seniority"),  # higher confidence
            _candidate("city", None, "human_verified", 1),  # a null never wins
            _candidate("city", "Berlin", "crm_user_entered", 50),
        ]
    )
    golden = {row["field_name"]: row for row in select_survivors(candidates).iter_rows(named=True)}
    assert golden["job_title"]["value"] == "Head of Sales"  # human-verified beats newer CRM and enrichment
    assert golden["job_title"]["source_class"] == "human_verified"
    assert golden["job_title"]["source_record_id"] == "r2"
    assert golden["job_title"]["candidate_count"] == 3
    assert golden["phone"]["value"] == "+15550002"
    assert golden["seniority"]["value"] == "c_level"
    assert golden["seniority"]["confidence"] == pytest.approx(0.9)
    assert golden["city"]["value"] == "Berlin"


def test_survivorship_majority_of_records_beats_recency_within_a_rank():
    candidates = pl.DataFrame(
        [
            # Two older CRM records agree; a newer duplicate has a typo: the agreed value wins, from the
            # most recent of the agreeing records.
            _candidate("last_name", "Hollander", "crm_user_entered", 300, record="r1"),
            _candidate("last_name", "Hollander", "crm_user_entered", 200, record="r2"),
            _candidate("last_name", "Holander", "crm_user_entered", 1, record="r3"),
            # One record repeating a value is one vote: a tie, so recency decides.
            _candidate("city", "Bern", "crm_user_entered", 300, record="r1"),
            _candidate("city", "Bern", "crm_user_entered", 250, record="r1"),
            _candidate("city", "Berlin", "crm_user_entered", 2, record="r2"),
            # The rank still decides first: one human-verified value beats two agreeing CRM records, and
            # agreement of lower-ranked sources does not count for a higher-ranked value.
            _candidate("phone", "+15550009", "human_verified", 900, record="r3"),
            _candidate("phone", "+15550001", "crm_user_entered", 30, record="r1"),
            _candidate("phone", "+15550001", "crm_user_entered", 20, record="r2"),
            # Equal agreement and time: the smallest source record id.
            _candidate("company", "Acme", "crm_user_entered", 10, record="r2"),
            _candidate("company", "ACME Corp", "crm_user_entered", 10, record="r1"),
        ]
    )
    golden = {row["field_name"]: row for row in select_survivors(candidates).iter_rows(named=True)}
    assert golden["last_name"]["value"] == "Hollander"
    assert golden["last_name"]["source_record_id"] == "r2"
    assert golden["last_name"]["distinct_value_count"] == 2
    assert golden["city"]["value"] == "Berlin"
    assert golden["phone"]["value"] == "+15550009"
    assert golden["phone"]["source_class"] == "human_verified"
    assert golden["company"]["value"] == "ACME Corp"
    assert select_survivors(candidates).equals(select_survivors(candidates.reverse()))


def test_survivorship_rows_are_sorted_by_contact_and_field_and_name_both():
    rows = [
        {**_candidate(field, value, "crm_user_entered", days, record=record), "entity_id": entity}
        for entity, field, value, days, record in [
            ("gc-10", "phone", "+15550010", 3, "r10"),
            ("gc-2", "city", "Bern", 1, "r2"),
            ("gc-10", "city", "Basel", 2, "r11"),
            (None, "city", "Nowhere", 1, "r0"),  # no contact: nothing survives for it
            ("gc-2", None, "orphan", 1, "r2"),  # no field: nothing survives for it
            ("gc-2", "phone", "+15550002", 1, "r2"),
        ]
    ]
    golden = select_survivors(pl.DataFrame(rows))
    assert golden.select("entity_id", "field_name").rows() == [
        ("gc-10", "city"),
        ("gc-10", "phone"),
        ("gc-2", "city"),
        ("gc-2", "phone"),
    ]


def test_survivorship_rejects_unknown_source_classes():
    with pytest.raises(ValueError, match="unknown survivorship source classes"):
        select_survivors(pl.DataFrame([_candidate("phone", "+1", "rumour", 1)]))


def test_accounts_never_merge_across_domains_unless_mapped():
    companies = pl.DataFrame(
        {
            "record_id": [10, 11, 12, 13, 14, 15],
            "company_name": ["Acme Inc.", "ACME Incorporated", "Acme GmbH", "Acme", "Acme EMEA Ltd", "Acme Inc"],
            "domain": ["acme.com", "www.acme.com", "acme.de", None, "acme-emea.com", "eu.acme.co.uk"],
            "website_domain": [None, None, None, None, None, None],
            "country_code": ["US", "US", "DE", "US", "GB", "GB"],
            "city": ["Austin"] * 6,
        }
    )
    accounts = resolve_accounts(companies).select("record_id", "golden_account_id", "match_rule")
    ids = dict(accounts.select("record_id", "golden_account_id").iter_rows())
    assert ids[10] == ids[11] == "ga-10"  # same registrable domain
    assert ids[12] != ids[10]  # acme.de is another domain: never merged on the name alone
    assert ids[13] == ids[10]  # no domain: same stripped name + HQ country as one domain cluster
    assert ids[14] != ids[10]
    assert ids[15] == "ga-15"
    mapped = resolve_accounts(
        companies,
        pl.DataFrame({"child_domain": ["acme-emea.com"], "parent_domain": ["acme.com"], "relation": ["same_entity"]}),
    )
    mapped_ids = dict(mapped.select("record_id", "golden_account_id").iter_rows())
    assert mapped_ids[14] == mapped_ids[10]
    assert mapped_ids[12] != mapped_ids[10]


def test_empty_and_single_record_inputs():
    empty = pl.DataFrame({"record_id": []}, schema={"record_id": pl.Int64})
    result = resolve_contacts(empty)
    assert result.pairs.height == 0 and result.clusters.height == 0
    single = resolve_contacts(pl.DataFrame({"record_id": [7], "first_name": ["Ada"]}))
    assert single.clusters["golden_contact_id"].to_list() == ["gc-7"]
    with pytest.raises(ValueError, match="record_id"):
        resolve_contacts(pl.DataFrame({"first_name": ["Ada"]}))


def test_incremental_delta_matches_full_resolution_and_keeps_ids():
    base = background() + [
        person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
        person(5, "Bob", "Hollander", "acme.com", "+15551230001", email=None),
    ]
    earlier = resolve_contacts(records_frame(base))
    previous = earlier.clusters
    delta = [
        person(5000, "Rob", "Hollander", "acme.com", "+15551230001"),  # joins gc-1
        person(5001, "Maria", "Ostrowski", "globex.io", "+15559870002"),  # new person
    ]
    changed = pl.Series([5000, 5001])
    incremental = resolve_contacts_incremental(records_frame(base + delta), previous, changed, earlier.parameters)
    full = resolve_contacts(records_frame(base + delta))
    assert incremental.clusters.sort("record_id").equals(full.clusters.sort("record_id"))
    # Only pairs touching the delta were scored.
    assert incremental.pairs.filter(
        ~pl.col("left_id").is_in(changed.implode()) & ~pl.col("right_id").is_in(changed.implode())
    ).is_empty()
    ids = dict(incremental.clusters.select("record_id", "golden_contact_id").iter_rows())
    assert ids[1] == ids[5] == ids[5000] == "gc-1"
    assert ids[5001] == "gc-5001"


def test_scores_do_not_depend_on_row_order():
    rows = background() + [
        person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
        person(2, "Bob", "Hollander", "acme.com", "+15551230001", email=None),
    ]
    config = MatchConfig(u_sample_pairs=500)  # a small sample makes any order dependence visible
    first = score_contact_pairs(records_frame(rows), config)
    shuffled = score_contact_pairs(records_frame(rows).sample(fraction=1.0, shuffle=True, seed=11), config)
    assert first.equals(shuffled)


# --- typo-heavy records (FEBRL-like: no email, no employer, typos in every field) -------------------------


def _household(record_id: int, first: str, last: str, street: str, city: str, postal: str, phone: str) -> dict:
    return {
        "record_id": record_id,
        "first_name": first,
        "last_name": last,
        "phone": phone,
        "street_address": street,
        "city": city,
        "postal_code": postal,
        "country_code": "AU",
    }


def test_soundex_codes():
    assert soundex("robert") == soundex("rupert") == "r163"
    assert soundex("ashcraft") == "a261"  # h does not separate equal codes
    assert soundex("tymczak") == "t522"
    assert soundex("pfister") == "p236"  # a first letter's code is not repeated
    assert soundex("maddison") == soundex("madison")


def test_typos_in_both_names_and_the_address_still_match():
    rows = background() + [
        _household(1, "Maddison", "Quilliam", "57 Bedford Street", "Surrey Hills", "6525", "6408579"),
        _household(2, "Madison", "Quiliam", "57 bedford s treet", "Surey Hills", "6525", "6408479"),
    ]
    pair = pair_of(score_contact_pairs(records_frame(rows)), 1, 2)  # no name key is shared: Soundex/address blocks
    assert pair["first_name_level"] == "jw_0.92" and pair["last_name_level"] == "jw_0.92"
    assert pair["phone_level"] == "one_typo"  # one digit wrong
    assert pair["workplace_level"] == "address_similar"
    assert pair["decision"] == "auto_merge"


def test_name_order_is_chosen_on_similar_names_only():
    features = prepare_contact_features(
        records_frame(
            [
                _household(1, "Christian", "Ferris", "3 Coombe St", "Plumpton", "5008", "1670806"),
                _household(2, "Christian", "Walch", "3 Coombe St", "Plumpton", "5008", "1670806"),
                _household(3, "Quilliam", "Ashleigh", "57 Bedford St", "Surrey Hills", "6525", "6408579"),
                _household(4, "Maddison", "Quilliam", "57 Bedford St", "Surrey Hills", "6525", "6408579"),
            ]
        )
    )
    levels = comparison_levels(pl.DataFrame({"left_id": [1, 3], "right_id": [2, 4]}), features)
    first = [LEVELS["first_name"][i] for i in levels["first_name_level"]]
    # Two poor swapped similarities do not beat one exact straight agreement ...
    assert first[0] == "exact" and not levels["_names_swapped"][0]
    # ... but a name that moved to the other field is found.
    assert first[1] == "exact" and levels["_names_swapped"][1]


def test_swapped_name_agreement_is_weighed_by_the_common_share():
    # "Smith" is common as a last name; as a first name it appears only in the swapped record. Its swapped
    # agreement must weigh like a common name, not like a unique one.
    smiths = [person(2000 + i, FIRSTS[i % len(FIRSTS)], "Smith", f"smith{i}.com", None) for i in range(40)]
    rows = (
        background()
        + smiths
        + [
            person(1, "Smith", "Archie", "acme.com", "+15551230001", email="archie.smith@acme.com"),
            person(2, "Archie", "Smith", "globex.io", "+15559870002"),
        ]
    )
    pair = pair_of(score_contact_pairs(records_frame(rows)), 1, 2)
    assert pair["first_name_level"] == "exact" and pair["last_name_level"] == "exact"
    straight = pair_of(score_contact_pairs(records_frame(rows)), 2000, 2012)  # Anna Smith ~ Anna Smith, straight
    assert pair["first_name_weight"] <= straight["last_name_weight"] + 1e-9
    assert pair["decision"] == "no_match"


def test_prior_follows_the_data_between_floor_and_cap():
    records = 1000
    floor, cap = 0.1 * 2 / (records - 1), 2.0 * 2 / (records - 1)
    weak = np.full(2000, -30.0)
    few = np.concatenate([weak, np.full(50, 40.0)])
    many = np.concatenate([weak, np.full(600, 40.0)])
    too_many = np.concatenate([weak, np.full(5000, 40.0)])
    assert estimate_prior(few, records, floor, cap) == pytest.approx(floor)  # never below the configured rate
    assert estimate_prior(many, records, floor, cap) == pytest.approx(600 / (records * (records - 1) / 2), rel=1e-3)
    assert estimate_prior(too_many, records, floor, cap) == pytest.approx(cap)
    # A long tail of unlikely pairs (colleagues: p ~ 0.1-0.4 each) is not counted as matches.
    tail = np.concatenate([many, np.full(20_000, 9.0)])
    assert estimate_prior(tail, records, floor, cap) == pytest.approx(600 / (records * (records - 1) / 2), rel=1e-3)


def test_saved_parameters_score_a_delta_like_the_full_run():
    records = records_frame(
        background()
        + [
            person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
            person(5000, "Rob", "Hollander", "acme.com", "+15551230001"),
        ]
    )
    full = resolve_contacts(records)
    saved = MatchParameters.from_json(full.parameters.to_json())
    assert saved == full.parameters
    features = prepare_contact_features(records)
    delta = score_pairs(candidate_pairs(features, touching=pl.Series([5000])), features, MatchConfig(), saved)
    assert delta.height and delta.height < full.pairs.height
    same = delta.join(full.pairs, on=["left_id", "right_id"], suffix="_full")
    assert same.height == delta.height
    assert (same["match_probability"] - same["match_probability_full"]).abs().max() < 1e-12
    assert same["decision"].to_list() == same["decision_full"].to_list()
    broken = json.loads(full.parameters.to_json())
    del broken["m"]["phone"]
    with pytest.raises(ValueError, match="phone"):
        MatchParameters.from_json(json.dumps(broken))


def test_reclustering_keeps_untouched_clusters_and_drops_removed_records():
    people = background() + [
        person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
        person(5, "Bob", "Hollander", "acme.com", "+15551230001", email=None),
        person(5000, "Rob", "Hollander", "acme.com", "+15551230001"),
    ]
    before = resolve_contacts(records_frame(people))
    ids = dict(before.clusters.select("record_id", "golden_contact_id").iter_rows())
    assert ids[1] == ids[5] == ids[5000] == "gc-1"
    # Record 1 leaves the CRM (merged away): its cluster is drawn again from the remaining pairs.
    remaining = records_frame([p for p in people if p["record_id"] != 1])
    features = prepare_contact_features(remaining)
    after = recluster_contacts(features, before.pairs, before.clusters, pl.Series([], dtype=pl.Int64))
    after_ids = dict(after.select("record_id", "golden_contact_id").iter_rows())
    assert 1 not in after_ids
    assert after_ids[5] == after_ids[5000] == "gc-5"
    untouched = {r: g for r, g in ids.items() if g != "gc-1"}
    assert all(after_ids[r] == g for r, g in untouched.items())


def test_redrawing_only_the_touched_clusters_gives_the_rows_of_reclustering_everything():
    """The hourly clusters model draws only `clusters_to_redraw` (touched clusters plus carried-over clusters an
    auto-merge pair reaches) and leaves every other row in place: that must equal reclustering every record."""
    hollander = [
        person(1, "Robert", "Hollander", "acme.com", "+15551230001"),
        person(5, "Bob", "Hollander", "acme.com", "+15551230001", email=None),
    ]
    ostrowski = [
        person(7, "Maria", "Ostrowski", "globex.io", "+15559870002"),
        person(9, "Maria", "Ostrowski", "globex.io", "+15559870002", email=None),
    ]
    people = background() + hollander + ostrowski
    before = resolve_contacts(records_frame(people))
    ids = dict(before.clusters.select("record_id", "golden_contact_id").iter_rows())
    assert ids[1] == ids[5] == "gc-1" and ids[7] == ids[9] == "gc-7"
    removed = people[0]["record_id"]
    # Record 5 becomes someone else (splits gc-1), a new record joins gc-7 (untouched until a pair reaches it),
    # and a background record leaves the CRM.
    after_people = [p for p in people[1:] if p["record_id"] != 5] + [
        person(5, "Helga", "Brandstetter", "initech.de", "+4930123456"),
        person(5001, "Maria", "Ostrowski", "globex.io", "+15559870002"),
    ]
    features = prepare_contact_features(records_frame(after_people))
    pairs = score_pairs(candidate_pairs(features), features, MatchConfig(), before.parameters)
    changes = pl.DataFrame({"record_id": [5, 5001, removed], "is_removed": [False, False, True]})
    everything = recluster_contacts(features, pairs, before.clusters, changes["record_id"])

    def touching(wanted: pl.Series) -> pl.DataFrame:
        return pairs.filter(pl.col("left_id").is_in(wanted.implode()) | pl.col("right_id").is_in(wanted.implode()))

    redraw = clusters_to_redraw(before.clusters.select("record_id", "golden_contact_id"), changes, touching)
    drawn = recluster_contacts(
        features.filter(pl.col("record_id").is_in(redraw.record_ids.implode())),
        redraw.pairs,
        redraw.previous_clusters,
        changes["record_id"],
    )
    assert {1, 5, 7, 9, 5001} <= set(redraw.record_ids) and removed not in set(redraw.record_ids)
    assert redraw.record_ids.len() < features.height // 10  # only the touched and reached clusters
    in_redraw = pl.col("record_id").is_in(redraw.record_ids.implode())
    assert drawn.sort("record_id").equals(everything.filter(in_redraw).sort("record_id"))
    # Every other row is the previous run's, left in place.
    kept = before.clusters.filter(~in_redraw & (pl.col("record_id") != removed)).sort("record_id")
    assert everything.filter(~in_redraw).sort("record_id").equals(kept.select(everything.columns))
    after = dict(drawn.select("record_id", "golden_contact_id").iter_rows())
    assert after[1] == "gc-1" and after[5] == "gc-5"  # the split
    assert after[7] == after[9] == after[5001] == "gc-7"  # the merge into a carried-over cluster


def test_pair_scores_are_computed_once_per_distinct_pair_and_never_borrowed_on_a_hash_collision(monkeypatch):
    from rapidfuzz.distance import JaroWinkler
    from rapidfuzz.process import cpdist

    from matching import contacts

    left = pl.Series(["anna", "anna", None, "bob", "anna", "carl"])
    right = pl.Series(["anne", "anne", "x", "rob", None, "karl"])
    expected = cpdist(
        [v or "" for v in left.to_list()], [v or "" for v in right.to_list()], scorer=JaroWinkler.normalized_similarity
    )
    scored = []

    def counting(a, b, **kwargs):
        scored.append(len(a))
        return cpdist(a, b, **kwargs)

    monkeypatch.setattr(contacts, "cpdist", counting)
    assert np.allclose(contacts._jaro_winkler(left, right), expected)
    assert scored == [5]  # ("anna", "anne") twice: scored once
    # Every pair hashing alike (a collision): each pair still gets its own score.
    monkeypatch.setattr(pl.DataFrame, "hash_rows", lambda self, *a, **k: pl.Series([0] * self.height, dtype=pl.UInt64))
    assert np.allclose(contacts._jaro_winkler(left, right), expected)
    assert scored[-1] == 5


def test_comparisons_in_slices_equal_comparisons_in_one_pass():
    # Memory follows the slice; the levels must not depend on how the pairs are sliced.
    from matching.contacts import candidate_pairs

    records = records_frame(
        [
            person(3000 + i, FIRSTS[i % len(FIRSTS)], "Lee", f"lee{i % 7}.com", f"+1 555 010 {i % 9:04d}")
            for i in range(60)
        ]
    )
    features = prepare_contact_features(records)
    pairs = candidate_pairs(features)
    assert pairs.height > 20
    whole = comparison_levels(pairs, features)
    assert comparison_levels(pairs, features, slice_pairs=7).equals(whole)
