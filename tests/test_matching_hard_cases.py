"""The constructs real CRM exports hold (issue 16), each on a small hand-made fixture: what must merge, what must
not, junk rows and the real records that only look like junk, and accounts as a hierarchy."""

from __future__ import annotations

import polars as pl
import pytest
from matching_fixtures import background, person, records_frame

from matching import resolve_contacts
from matching.accounts import resolve_accounts
from matching.junk import flag_junk


def _population() -> list[dict]:
    """The background population, most of it with LinkedIn profiles and job titles (as in a CRM export)."""
    titles = ["CFO", "Engineer", "Sales Director", "Buyer", "Analyst", "Office Manager", "CTO"]
    return [
        {**row, "linkedin_url": f"linkedin.com/in/member-{i}" if i % 3 else None, "job_title": titles[i % len(titles)]}
        for i, row in enumerate(background())
    ]


def _clusters(rows: list[dict]) -> dict[int, str]:
    result = resolve_contacts(records_frame(_population() + rows))
    return dict(result.clusters.select("record_id", "golden_contact_id").iter_rows())


def _same(rows: list[dict], a: int = 1, b: int = 2) -> bool:
    clusters = _clusters(rows)
    return clusters[a] == clusters[b]


MUST_MERGE = {
    "diacritics dropped": [
        person(1, "Jürgen", "Müller", "acme.de", "+4967295243"),
        person(2, "Jurgen", "Muller", "acme.de", "+4967295243", email="jurgen.muller@acme.de"),
    ],
    "transliteration": [
        person(1, "Jürgen", "Müller", "acme.de", "+4986484349", email="jm@acme.de"),
        person(2, "Juergen", "Mueller", "acme.de", None, email="jm@acme.de"),
    ],
    "japanese long vowel": [
        person(1, "Shōta", "Satō", "sakura.co.jp", "+81442255446", email="s.sato@sakura.co.jp"),
        person(2, "Shota", "Satoh", "sakura.co.jp", "+81442255446", email=None),
    ],
    "initials": [
        person(1, "Jana", "Schmidt", "acme.de", "+4984463762"),
        person(2, "J.", "Schmidt", "acme.de", None, email="jana.schmidt@acme.de"),
    ],
    "nickname": [
        person(1, "José", "Fernández", "verodata.es", "+34736769749"),
        person(2, "Pepe", "Fernández", "verodata.es", "+34736769749", email=None),
    ],
    "swapped first and last (CJK)": [
        person(1, "Wei", "Zhang", "huayu.cn", "+867829245359", email="wei.zhang@huayu.cn"),
        person(2, "ZHANG", "Wei", "huayu.cn", None, email="wei.zhang@huayu.cn"),
    ],
    "double surname partly dropped": [
        person(1, "María", "García López", "sol.es", "+34776937628", email="maria.garcia@sol.es"),
        person(2, "Maria", "García", "sol.es", "+34776937628", email=None),
    ],
    "particle": [
        person(1, "Pieter", "van der Berg", "nord.nl", "+31764346942", email="p.vdberg@nord.nl"),
        person(2, "Pieter", "Berg", "nord.nl", None, email="p.vdberg@nord.nl"),
    ],
    "married name, same email": [
        person(1, "Anna", "Schmidt", "acme.de", None, email="anna.schmidt@acme.de"),
        person(2, "Anna", "Schmidt-Wagner", "acme.de", "+4938257698", email="anna.schmidt@acme.de"),
    ],
    "acquisition keeps the mailbox name and mobile": [
        person(1, "Henrike", "Becker", "oldco.com", None, mobile_phone="+4942297544834", job_title="Head of Buying"),
        person(2, "Henrike", "Becker", "newco.com", None, mobile_phone="+4942297544834", job_title="Head of Buying",
               company_name="Newco AG", street_address="1 Other Road"),
    ],
    "job change keeps LinkedIn and mobile": [
        person(1, "Lars", "Nyström", "alpha.se", "+46796698438", mobile_phone="+46497439673",
               linkedin_url="https://www.linkedin.com/in/lars-nystrom-1a2b3c"),
        person(2, "Lars", "Nystrom", "beta.se", "+46726769667", mobile_phone="+46497439673",
               linkedin_url="https://se.linkedin.com/in/lars-nystrom-1a2b3c/details/experience/?trk=x",
               company_name="Beta AB", street_address="9 Storgatan"),
    ],
    "missing email, phone formats": [
        person(1, "Greta", "Horvath", "acme.at", "+43 7678 7497"),
        person(2, "Greta", "Horvath", "acme.at", "+43 (0)7678 7497", email=None),
    ],
    "LinkedIn percent-encoded and locale subdomain": [
        person(1, "Jürgen", "Köhler", "acme.de", None, email=None,
               linkedin_url="https://www.linkedin.com/in/jürgen-köhler-9f8e7d"),
        person(2, "Jurgen", "Kohler", "acme.de", None, email=None,
               linkedin_url="de.linkedin.com/in/j%C3%BCrgen-k%C3%B6hler-9f8e7d?originalSubdomain=de"),
    ],
    "legal-suffix variants and no-break spaces": [
        person(1, "Anna\u00a0Maria", "Weber", "kraft.de", "+4984866254", company_name="Kraft GmbH",
               email="anna.weber@kraft.de"),
        person(2, "Anna Maria", "Weber\u00a0", "kraft.de", "+4984866254", email=None,
               company_name="KRAFT G.m.b.H.", website_domain=None),
    ],
}


@pytest.mark.parametrize("rows", MUST_MERGE.values(), ids=MUST_MERGE.keys())
def test_must_merge(rows):
    assert _same(rows)


MUST_NOT_MERGE = {
    "same common name, same company, other office, phone and mailbox": [
        person(1, "Wei", "Zhang", "huayu.cn", "+862437495289", email="wei.zhang@huayu.cn", job_title="CFO"),
        person(2, "Wei", "Zhang", "huayu.cn", "+867835572786", email="wei.zhang2@huayu.cn", job_title="Engineer",
               street_address="88 Nanjing Road", city="Shanghai", postal_code="200001"),
    ],
    "initial matched to a colleague with the same surname": [
        person(1, "Jana", "Schmidt", "acme.de", "+4983726367"),
        person(2, "J.", "Schmidt", "acme.de", "+4967488794", email="jens.schmidt@acme.de"),
    ],
    "role mailbox shared by several people": [
        person(1, "Anna", "Weber", "kraft.de", None, email="vertrieb@kraft.de"),
        person(2, "Peter", "Braun", "kraft.de", None, email="vertrieb@kraft.de"),
    ],
    "switchboard listed by many people": [
        person(1, "Anna", "Weber", "kraft.de", "+4948954372", email=None),
        person(2, "Peter", "Braun", "kraft.de", "+4983747888", email=None),
        person(3, "Eva", "Lang", "kraft.de", "+4959698846", email=None),
    ],
    "namesakes at two companies with one mailbox convention": [
        person(1, "Daan", "Mulder", "alpha.nl", None),
        person(2, "Daan", "Mulder", "beta.nl", None, street_address="5 Coolsingel", city="Rotterdam"),
    ],
    "two LinkedIn profiles": [
        person(1, "Maria", "Ostrowski", "acme.com", None, email=None, linkedin_url="linkedin.com/in/maria-o-1"),
        person(2, "Maria", "Ostrowski", "acme.com", None, email=None, linkedin_url="linkedin.com/in/maria-o-2"),
    ],
    "junk rows alike each other": [
        person(1, "Test", "Test", "acme.de", None, email="test@example.com"),
        person(2, "Test", "Test", "acme.de", None, email="test@example.com"),
    ],
}


@pytest.mark.parametrize("rows", MUST_NOT_MERGE.values(), ids=MUST_NOT_MERGE.keys())
def test_must_not_merge(rows):
    clusters = _clusters(rows)
    assert len({clusters[row["record_id"]] for row in rows}) == len(rows)


def test_shared_values_are_no_evidence_and_not_proposed():
    rows = MUST_NOT_MERGE["role mailbox shared by several people"]
    pairs = resolve_contacts(records_frame(_population() + rows)).pairs
    assert pairs.filter((pl.col("left_id") == 1) & (pl.col("right_id") == 2)).is_empty()  # never even paired


def test_same_name_and_company_without_identifier_is_a_proposal_not_a_merge():
    rows = [
        person(1, "Quentin", "Ravel", "acme.fr", None, email=None, job_title="CFO"),
        person(2, "Quentin", "Ravel", "acme.fr", None, email=None, job_title="CFO"),
    ]
    result = resolve_contacts(records_frame(_population() + rows))
    pair = result.pairs.filter((pl.col("left_id") == 1) & (pl.col("right_id") == 2)).row(0, named=True)
    assert not pair["corroborated"] and pair["decision"] == "review"
    clusters = dict(result.clusters.select("record_id", "golden_contact_id").iter_rows())
    assert clusters[1] != clusters[2]


JUNK = [
    ("Test", "Kontakt", "test123@example.com", "Acme GmbH", {"test_name", "test_email", "placeholder_email_domain"}),
    ("Max", "Mustermann", "max@kraft.de", None, {"test_name"}),
    ("Anna", "Weber", "noreply@kraft.de", "Kraft GmbH", {"no_reply_address"}),
    ("Foo", "Bar", "foo@bar.com", None, {"test_email", "placeholder_email_domain"}),
    ("Asdasd", "Sdfgh", "sdfg@xcvb.com", None, {"keyboard_mash"}),
    ("Qwrtz", "Ztrwq", "q@mailinator.com", None, {"keyboard_mash", "disposable_email"}),
    ("Lena", "Graf", "lena@graf.io", "Test GmbH", {"test_company"}),
]
REAL_LOOKALIKES = [
    ("Anna", "Tester", "a.tester@testo.de", "Testo SE & Co. KGaA"),  # a real company containing "Test"
    ("Kim", "Ng", "kim.ng@testrail.com", "TestRail Inc."),  # a surname without a vowel
    ("Carl", "Hirschsprung", "carl@contest.de", "Contest Media GmbH"),  # long consonant cluster
    ("Liam", "Laverty", "liam.laverty@hertz.ie", "Hertz Ltd"),  # "erty", "ertz" are not keyboard mash
    ("Jane", "Doe-Smith", "jane@doesmith.co.uk", "N/A"),  # only "John/Jane Doe" is a placeholder name
]


@pytest.mark.parametrize(("first", "last", "email", "company", "reasons"), JUNK)
def test_junk_rows_are_flagged_with_their_reasons(first, last, email, company, reasons):
    row = pl.DataFrame([{"first_name": first, "last_name": last, "email": email, "company_name": company}])
    flagged = flag_junk(row).row(0, named=True)
    assert flagged["is_junk"] and set(flagged["junk_reasons"]) == reasons


@pytest.mark.parametrize(("first", "last", "email", "company"), REAL_LOOKALIKES)
def test_real_records_that_look_like_junk_stay_real(first, last, email, company):
    row = pl.DataFrame([{"first_name": first, "last_name": last, "email": email, "company_name": company}])
    assert flag_junk(row).row(0, named=True)["junk_reasons"] == []


def test_student_success_manager_is_not_junk():
    row = person(1, "Ola", "Berg", "acme.no", None, job_title="Student Success Manager")
    assert not flag_junk(pl.DataFrame([row])).row(0, named=True)["is_junk"]


def test_accounts_are_a_hierarchy_not_a_merge():
    companies = pl.DataFrame(
        {
            "record_id": [1, 2, 3, 4, 5, 6, 7, 8],
            "company_name": [
                "Nordwerk GmbH",
                "NORDWERK G.m.b.H.",
                "Nordwerk America Inc.",
                "Nordwerk do Brasil Ltda.",
                "Nordwerk do Brasil Ltda",
                "Nordwerk Health GmbH",
                "Nordwerk Ltd",
                "Nordwerk America Inc",
            ],
            "domain": ["nordwerk.de", "nordwerk.de", "nordwerk.de", "nordwerk.de", None, "nordwerk.de",
                       "nordwerk.co.uk", "nordwerk.de"],
            "country_code": ["DE", "DE", "US", "BR", "BR", "DE", "GB", "US"],
            "parent_company_id": [None, None, None, 1, None, 1, None, None],
        }
    )
    accounts = resolve_accounts(companies)
    ids = dict(accounts.select("record_id", "golden_account_id").iter_rows())
    parents = dict(accounts.select("record_id", "parent_golden_account_id").iter_rows())
    assert ids[1] == ids[2] == "ga-1"  # legal-suffix variants of one company
    assert ids[3] == ids[8] != ids[1]  # the US subsidiary on the parent's domain is its own account
    assert ids[4] == ids[5] not in (ids[1], ids[3])  # so is the Brazilian one, with its domain-less record
    assert ids[6] not in (ids[1], ids[3], ids[4])  # a division named by Parent Company ID
    assert ids[7] not in (ids[1], ids[3], ids[4], ids[6])  # the same trading name in another country: unrelated
    assert parents[3] == parents[4] == parents[6] == "ga-1"
    assert parents[1] is None and parents[7] is None


def test_a_duplicate_rate_pinned_at_its_bound_falls_back_to_the_documented_prior():
    from matching import MatchConfig
    from matching.contacts import candidate_pairs, estimate_parameters, prepare_contact_features

    # Every record has a duplicate: the data's rate (about 0.5 pairs per record) is above the cap given here.
    rows = _population()
    rows += [{**row, "record_id": row["record_id"] + 10_000} for row in rows]
    features = prepare_contact_features(records_frame(rows))
    pairs = candidate_pairs(features)
    free = estimate_parameters(pairs, features, MatchConfig(min_pairs_for_em=10))
    assert free.sources["duplicate_rate"] == "estimated" and free.duplicate_rate > 0.3
    capped = estimate_parameters(pairs, features, MatchConfig(min_pairs_for_em=10, max_duplicate_rate=0.2))
    assert capped.sources["duplicate_rate"] == "prior" and "duplicate_rate" in capped.unidentified
    assert capped.duplicate_rate == pytest.approx(MatchConfig().expected_duplicate_rate)
