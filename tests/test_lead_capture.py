"""Lead capture (accept / reject / quarantine with reasons) and the enrichment guards, run by dbt on hand-made
upstream tables: only the seeds and the models under test are built, so this takes seconds."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from dbt_runner import run_dbt

LEAD_COLUMNS = (
    "submission_id",
    "lead_source",
    "first_name",
    "last_name",
    "email",
    "email_domain",
    "job_title",
    "role_category",
    "seniority",
    "company_name",
    "website_domain",
    "country_code",
)
# submission_id -> (lead fields..., expected status, expected reason)
LEADS = [
    (
        "ok",
        "form",
        "Dana",
        "Reyes",
        "dana.reyes@acme.com",
        "acme.com",
        "VP Sales",
        "sales",
        "vp",
        "Acme Inc.",
        "acme.com",
        "US",
        "accepted",
        "ok",
    ),
    (
        "personal_with_site",
        "chat",
        "Ola",
        "Berg",
        "ola.berg7@gmail.com",
        "gmail.com",
        "CTO",
        "engineering",
        "c_level",
        "Acme Inc.",
        "acme.com",
        "SE",
        "accepted",
        "ok",
    ),
    (
        "free",
        "webinar",
        "Tom",
        "Lee",
        "tom.lee@gmail.com",
        "gmail.com",
        "Analyst",
        "operations",
        "individual_contributor",
        None,
        None,
        "US",
        "rejected",
        "free_email",
    ),
    (
        "disposable",
        "form",
        "Xu",
        "Li",
        "abcdefg@mailinator.com",
        "mailinator.com",
        "Manager",
        "operations",
        "manager",
        "Foo",
        None,
        "US",
        "rejected",
        "disposable_domain",
    ),
    (
        "student",
        "list_upload",
        "Ann",
        "Kim",
        "ann.kim@stanford.edu",
        "stanford.edu",
        "Student",
        "other",
        "intern",
        "STANFORD",
        None,
        "US",
        "rejected",
        "student",
    ),
    (
        "stealth",
        "demo_request",
        "Max",
        "Roe",
        "max.roe@gmail.com",
        "gmail.com",
        "Founder",
        "executive",
        "c_level",
        "Stealth",
        None,
        "US",
        "rejected",
        "stealth",
    ),
    (
        "gibberish",
        "form",
        "Qwrtz",
        "Ztrwq",
        "kdjfhgs@kdjfhgs.com",
        "kdjfhgs.com",
        "Manager",
        "sales",
        "manager",
        "Qwrtz",
        None,
        "US",
        "rejected",
        "gibberish",
    ),
    (
        "no_company",
        "form",
        "Eve",
        "Park",
        "eve.park@globex.io",
        "globex.io",
        "Director of IT",
        "it",
        "director",
        None,
        None,
        "US",
        "quarantined",
        "missing_company",
    ),
    (
        "no_country",
        "chat",
        "Raj",
        "Iyer",
        "raj.iyer@globex.io",
        "globex.io",
        "Director of IT",
        "it",
        "director",
        "Globex",
        "globex.io",
        None,
        "quarantined",
        "missing_country",
    ),
    (
        "no_role",
        "form",
        "Kai",
        "Sato",
        "kai.sato@globex.io",
        "globex.io",
        None,
        None,
        None,
        "Globex",
        "globex.io",
        "JP",
        "quarantined",
        "missing_role_category",
    ),
    (
        "test_entry",
        "form",
        "Test",
        "Kontakt",
        "test123@example.com",
        "example.com",
        "Manager",
        "sales",
        "manager",
        "Test GmbH",
        None,
        "DE",
        "rejected",
        "test_entry",
    ),
    (
        "real_lookalike",
        "form",
        "Carl",
        "Hirschsprung",
        "carl.hirschsprung@testo.de",
        "testo.de",
        "Student Success Manager",
        "customer_success",
        "manager",
        "Testo SE & Co. KGaA",
        "testo.de",
        "DE",
        "accepted",
        "ok",
    ),
    (
        "excepted",
        "form",
        "Sam",
        "Hill",
        "founder@stealth-example.com",
        "stealth-example.com",
        "Founder",
        "executive",
        "c_level",
        "Stealth",
        None,
        "US",
        "accepted",
        "ok",
    ),
]


def _create_upstream(path: Path) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema staging; create schema intermediate")
        cols = ", ".join(f"{c} varchar" for c in LEAD_COLUMNS)
        con.execute(f"""create table staging.stg_forms__leads ({cols}, submitted_at timestamptz, campaign varchar,
                        phone varchar, industry varchar, number_of_employees bigint, state_region varchar,
                        city varchar, message varchar)""")
        for lead in LEADS:
            con.execute(
                f"insert into staging.stg_forms__leads ({', '.join(LEAD_COLUMNS)}, submitted_at, "
                f"number_of_employees) values ({', '.join('?' * len(LEAD_COLUMNS))}, now(), 120)",
                list(lead[: len(LEAD_COLUMNS)]),
            )
        con.execute("""create table staging.stg_hubspot__companies as
                       select 50000001::bigint as company_id, ['salesforce', 'hubspot'] as technologies""")
        con.execute("""create table intermediate.int_entities__company_records as
                       select 50000001::bigint as record_id, 'acme.com' as account_domain,
                              'ga-50000001' as golden_account_id""")
        # Enrichment: contact 1 (golden gc-1) has job title human-verified; contact 2 not.
        con.execute("""create table staging.stg_hubspot__contacts as
                       select * from (values (1::bigint, ['jobtitle']), (2::bigint, []::varchar[]))
                       as t(contact_id, human_verified_fields)""")
        con.execute("""create table intermediate.int_entities__contact_records as
                       select * from (values (1::bigint, 'ana@acme.com'), (2::bigint, 'bo@acme.com'))
                       as t(record_id, email)""")
        con.execute("""create table intermediate.int_entities__contact_clusters as
                       select * from (values (1::bigint, 'gc-1'), (2::bigint, 'gc-2'))
                       as t(record_id, golden_contact_id)""")
        con.execute("""create table staging.stg_vendors__enrichment as
                       select * from (values
                         ('p1:job_title', 'p1', 'vendor', 'contact', 'ana@acme.com', 'job_title', 'CRO', 0.99),
                         ('p2:job_title', 'p2', 'vendor', 'contact', 'bo@acme.com', 'job_title', 'CMO', 0.95),
                         ('p2:phone', 'p2', 'vendor', 'contact', 'bo@acme.com', 'phone', '+15551234567', 0.40),
                         ('p2:seniority', 'p2', 'vendor', 'contact', 'bo@acme.com', 'seniority', 'executive', 0.9),
                         ('p2:country', 'p2', 'vendor', 'contact', 'bo@acme.com', 'country', 'Germany', 0.9)
                       ) as t(enrichment_field_id, payload_id, vendor, object_type, match_key, field_name, value,
                              confidence)""")
        con.execute("""alter table staging.stg_vendors__enrichment add column as_of timestamptz;
                       alter table staging.stg_vendors__enrichment add column received_at timestamptz""")
    finally:
        con.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    tmp_path = tmp_path_factory.mktemp("lead_capture")
    warehouse = tmp_path / "warehouse.duckdb"
    _create_upstream(warehouse)
    result = run_dbt(
        warehouse,
        tmp_path,
        "build",
        "--select",
        "resource_type:seed",
        "int_leads__normalized",
        "int_leads__junk",
        "int_leads__classified",
        "int_enrichment__contact_candidates",
        "--indirect-selection",
        "cautious",
    )
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return warehouse


def _rows(warehouse: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_lead_gets_the_expected_status_and_reason(built):
    got = {
        sid: (status, reason)
        for sid, status, reason in _rows(
            built, "select submission_id, lead_status, reason from intermediate.int_leads__classified"
        )
    }
    expected = {lead[0]: (lead[-2], lead[-1]) for lead in LEADS}
    assert got == expected


def test_normalized_schema_maps_company_and_committee(built):
    row = _rows(
        built,
        """select employee_range, geo_region, buying_committee_tag, mapped_account_id, tech_stack
                          from intermediate.int_leads__normalized where submission_id = 'ok'""",
    )[0]
    assert row == ("51-200", "north_america", "decision_maker", "ga-50000001", ["hubspot", "salesforce"])


def test_enrichment_guards(built):
    got = {
        fid: (golden, field, value, disposition)
        for fid, golden, field, value, disposition in _rows(
            built,
            """select enrichment_field_id, golden_contact_id, field_name, value, disposition
                  from intermediate.int_enrichment__contact_candidates""",
        )
    }
    assert got["p1:job_title"][3] == "blocked_human_verified"  # never overwrites a human-verified field
    assert got["p2:job_title"][3] == "candidate"
    assert got["p2:phone"][3] == "review_low_confidence"  # 0.40 < er_enrichment_min_confidence
    assert got["p2:seniority"][2:] == ("c_level", "candidate")  # vendor vocabulary mapped to ours
    assert got["p2:country"][2:] == ("DE", "candidate")
