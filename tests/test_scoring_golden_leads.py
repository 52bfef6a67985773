"""Scoring inputs keyed by golden contact: one lead per person, engagement and outcomes mapped via the crosswalk."""

from datetime import UTC, datetime

import duckdb
import polars as pl
import pytest

from evaluation.scoring import golden_truth_people
from ml.config import load_config
from ml.features import build_features
from ml.warehouse import EVENT_SOURCES_SQL, _events_frame, load_contacts, load_scoring_inputs

T = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.fixture
def con():
    con = duckdb.connect()
    con.execute("create schema staging; create schema marts")
    con.execute(
        """
        create table staging.stg_hubspot__contacts as
            select * from (values (1, 'ana@acme.io'), (2, 'ana.alt@acme.io'), (3, 'bo@beta.io'))
            t(contact_id, email);
        create table staging.stg_hubspot__companies as
            select * from (values (10, ['hubspot']), (11, ['gong', 'hubspot']), (12, null::varchar[]))
            t(company_id, technologies);
        create table staging.stg_email__events as
            select * from (values
                (2, 'ana.alt@acme.io', 'click', timestamptz '2026-02-20 10:00:00+00'),  -- record 2 -> gc-1
                (null, 'bo@beta.io', 'open', timestamptz '2026-02-21 10:00:00+00'),     -- email -> gc-3
                (null, 'nobody@else.io', 'reply', timestamptz '2026-02-22 10:00:00+00') -- unknown: no lead
            ) t(contact_id, email, event_type, occurred_at);
        create table staging.stg_segment__web_events as
            select 'ana.alt@acme.io' as user_email, true as is_pricing_page, null::varchar as event_name,
                   'page' as event_type, timestamptz '2026-02-23 10:00:00+00' as occurred_at;
        create table staging.stg_segment__product_events as
            select 'ana@acme.io' as user_email, timestamptz '2026-02-24 10:00:00+00' as occurred_at;
        create table staging.stg_signals__signals as
            select 'acme.io' as domain, 'hiring' as signal_type, timestamptz '2026-02-10 00:00:00+00' as observed_at,
                   1.0 as magnitude;
        create table staging.stg_hubspot__meetings as
            select 500 as meeting_id, [1, 2]::bigint[] as associated_contact_ids,
                   timestamptz '2026-02-25 10:00:00+00' as created_at;
        create table staging.stg_hubspot__deals as
            select 700 as deal_id, [2]::bigint[] as associated_contact_ids,
                   timestamptz '2026-02-26 10:00:00+00' as created_at,
                   null::timestamptz as closed_won_entered_at, null::timestamptz as closed_lost_entered_at;
        create table marts.dim_contacts as select * from (values
            ('gc-1', 'ana@acme.io', 'VP Sales', 'sales', 'vp', null, 'acme.io', 'ga-10', false),
            ('gc-3', 'bo@beta.io', 'Engineer', 'engineering', 'individual_contributor', 'DE', 'beta.io', 'ga-12',
             false),
            ('gc-4', 'test@example.com', 'CEO', 'executive', 'c_level', 'DE', null, null, true)
        ) t(golden_contact_id, email, job_title, role_category, seniority, country_code, website_domain,
            golden_account_id, is_junk);
        create table marts.contact_crosswalk as
            select * from (values (1, 'gc-1'), (2, 'gc-1'), (3, 'gc-3'), (4, 'gc-4'))
            t(source_record_id, golden_contact_id);
        create table marts.dim_accounts as select * from (values
            ('ga-10', 'US', 'computer software', 250, 'acme.io'),
            ('ga-12', 'DE', 'automotive', 40, 'beta.io')
        ) t(golden_account_id, country_code, industry, number_of_employees, account_domain);
        create table marts.account_crosswalk as
            select * from (values (10, 'ga-10'), (11, 'ga-10'), (12, 'ga-12')) t(source_record_id, golden_account_id);
        """
    )
    return con


def test_one_lead_per_golden_contact_with_golden_and_account_attributes(con):
    contacts = load_scoring_inputs(con).contacts.sort("contact_id")
    assert contacts["contact_id"].to_list() == ["gc-1", "gc-3"]
    ana = contacts.row(0, named=True)
    assert (ana["role_category"], ana["seniority"], ana["industry"], ana["employees"]) == (
        "sales",
        "vp",
        "computer software",
        250,
    )
    assert ana["country_code"] == "US"  # the account's country fills the contact's gap
    assert ana["technologies"] == ["gong", "hubspot"]  # pooled over the account's company records
    assert ana["company_domain"] == "acme.io"


def test_junk_golden_contacts_are_not_scored(con):
    # gc-4 is a test row (is_junk): no lead, so no score and no tier; its events attach to no one.
    con.execute(
        "insert into staging.stg_email__events "
        "values (4, 'test@example.com', 'reply', timestamptz '2026-02-27 10:00:00+00')"
    )
    inputs = load_scoring_inputs(con)
    assert "gc-4" not in inputs.contacts["contact_id"].to_list()
    assert "gc-4" not in inputs.events["contact_id"].to_list()


def test_events_and_outcomes_map_through_the_crosswalk(con):
    inputs = load_scoring_inputs(con)
    per_lead = {k: sorted(v) for k, v in inputs.events.group_by("contact_id").agg(pl.col("kind")).iter_rows()}
    # Record 2's click, its email's pricing visit and the golden email's product event all belong to gc-1.
    assert per_lead == {
        "gc-1": ["email_click", "pricing_visit", "product_event"],
        "gc-3": ["email_open"],
    }
    # A meeting with both of Ana's records is one outcome of one lead; the deal on record 2 is hers too.
    outcomes = inputs.outcomes.sort("occurred_at")
    assert outcomes.select("contact_id", "outcome").rows() == [("gc-1", "meeting"), ("gc-1", "opportunity")]


def test_an_email_of_records_in_two_golden_contacts_goes_to_the_same_one_every_run(con):
    # Records 5 and 6 share an email that is no golden email, in two clusters: the smaller golden id takes its
    # events (before, DuckDB's arg_min picked either at random on ties: 1,441 such emails at 1M).
    con.execute(
        "insert into staging.stg_hubspot__contacts values (5, 'shared@acme.io'), (6, 'shared@acme.io');"
        "insert into marts.contact_crosswalk values (5, 'gc-3'), (6, 'gc-1');"
        "insert into staging.stg_segment__product_events "
        "values ('shared@acme.io', timestamptz '2026-02-24 11:00:00+00')"
    )
    at = int(datetime(2026, 2, 24, 11, tzinfo=UTC).timestamp())
    for _ in range(3):
        events = load_scoring_inputs(con).events
        shared = events.filter(pl.col("occurred_at").dt.epoch("s") == at)
        assert shared["contact_id"].to_list() == ["gc-1"]


def test_a_golden_email_wins_over_a_smaller_golden_id_of_a_member_records_email(con):
    # 'ana@acme.io' is gc-1's golden email; record 7, also with that email, sits in gc-0 (a smaller id): the golden
    # email decides (the smallest golden id only breaks ties within the same rank).
    con.execute(
        "insert into staging.stg_hubspot__contacts values (7, 'ana@acme.io');"
        "insert into marts.contact_crosswalk values (7, 'gc-0');"
    )
    emails = dict(con.sql(EVENT_SOURCES_SQL + " select email, golden_contact_id from contact_emails").fetchall())
    assert emails["ana@acme.io"] == "gc-1"
    assert emails["ana.alt@acme.io"] == "gc-1" and emails["bo@beta.io"] == "gc-3"


# The leads in one query (the product's query before `load_contacts` joined the technologies after sorting): the
# reference `load_contacts` is checked against.
CONTACTS_SQL = """
with account_techs as (
    select x.golden_account_id, list_sort(list_distinct(flatten(list(co.technologies)))) as technologies
    from marts.account_crosswalk x
    inner join staging.stg_hubspot__companies co on co.company_id = x.source_record_id
    where co.technologies is not null
    group by x.golden_account_id
)
select g.golden_contact_id as contact_id, g.email, g.job_title, g.role_category, g.seniority,
       coalesce(g.country_code, a.country_code) as country_code,
       a.industry, a.number_of_employees as employees, t.technologies,
       coalesce(a.account_domain, g.website_domain) as company_domain
from marts.dim_contacts g
left join marts.dim_accounts a on a.golden_account_id = g.golden_account_id
left join account_techs t on t.golden_account_id = g.golden_account_id
where not g.is_junk
"""


@pytest.mark.parametrize("technologies", ["as_fixture", "none"])
def test_contacts_are_the_contacts_query_sorted(con, technologies):
    # `load_contacts` joins the technologies after reading and sorting the leads: the same frame as CONTACTS_SQL's
    # rows sorted by id, with a lead without an account (gc-5), an account without technologies (gc-3's) and no
    # technologies at all.
    con.execute(
        "insert into marts.dim_contacts values "
        "('gc-5', 'cy@gamma.io', 'CTO', 'engineering', 'c_level', 'FR', 'gamma.io', null, false),"
        "('gc-2', 'di@acme.io', null, null, null, null, null, 'ga-10', false)"
    )
    if technologies == "none":
        con.execute("update staging.stg_hubspot__companies set technologies = null")
    expected = pl.from_arrow(con.sql(CONTACTS_SQL).to_arrow_table()).sort("contact_id")
    contacts = load_contacts(con)
    assert contacts.equals(expected) and contacts.schema == expected.schema
    assert contacts["contact_id"].to_list() == ["gc-1", "gc-2", "gc-3", "gc-5"]


def test_golden_contact_truth_person_is_the_majority_of_its_records():
    crosswalk = pl.DataFrame({"record_id": [1, 2, 3, 4], "golden_contact_id": ["gc-1", "gc-1", "gc-1", "gc-4"]})
    truth = pl.DataFrame({"record_id": [1, 2, 3, 4], "person_id": [7, 7, 8, 9]})
    people = golden_truth_people(crosswalk, truth).sort("contact_id")
    assert people.rows() == [("gc-1", 7), ("gc-4", 9)]


# The events mapped to golden ids by text, as scoring read them before they were keyed by lead row: the reference
# the lead-keyed events must equal.
EVENTS_BY_GOLDEN_ID_SQL = EVENT_SOURCES_SQL + """
select coalesce(x.golden_contact_id, ce.golden_contact_id) as contact_id, a.kind, a.occurred_at
from all_events a
left join marts.contact_crosswalk x on x.source_record_id = a.known_contact_id
left join contact_emails ce on x.golden_contact_id is null and ce.email = a.email
where coalesce(x.golden_contact_id, ce.golden_contact_id) is not null
    and coalesce(x.golden_contact_id, ce.golden_contact_id) not in (
        select golden_contact_id from marts.dim_contacts where is_junk
    )
"""


def test_lead_keyed_events_are_the_events_query_and_give_the_same_features(con):
    # A golden contact the crosswalk knows but `dim_contacts` does not (not junk): its event stays in `events`, as in
    # the reference query, and belongs to no lead. `features` groups by lead row, `build_features` on the frames by
    # text id.
    con.execute(
        "insert into marts.contact_crosswalk values (9, 'gc-9');"
        "insert into staging.stg_email__events values (9, null, 'click', timestamptz '2026-02-28 10:00:00+00');"
        # Junk by the record id although the email is a lead's (no fallback), and junk by the email.
        "insert into staging.stg_email__events values (4, 'ana@acme.io', 'open', timestamptz '2026-02-27 10:00:00+00');"
        "insert into staging.stg_segment__product_events "
        "values ('test@example.com', timestamptz '2026-02-27 11:00:00+00');"
        # A record id the crosswalk does not know falls back to the email; a web event of an unknown email maps to no
        # one; a web event of a lead's golden email.
        "insert into staging.stg_email__events "
        "values (99, 'bo@beta.io', 'reply', timestamptz '2026-02-26 09:00:00+00');"
        "insert into staging.stg_segment__web_events values "
        "('nobody@else.io', false, 'Demo Requested', 'track', timestamptz '2026-02-26 08:00:00+00'),"
        "('bo@beta.io', false, 'Demo Requested', 'track', timestamptz '2026-02-26 07:00:00+00')"
    )
    inputs = load_scoring_inputs(con)
    assert inputs.lead_events["lead"].dtype == pl.UInt32
    assert sorted(inputs.events.filter(pl.col("contact_id") == "gc-3")["kind"].to_list()) == [
        "demo_request", "email_open", "email_reply"
    ]
    expected = con.sql(EVENTS_BY_GOLDEN_ID_SQL).pl()
    assert sorted(inputs.events.rows()) == sorted(expected.rows())
    assert inputs.events.schema == expected.schema
    assert "gc-9" in inputs.events["contact_id"].to_list() and "gc-4" not in inputs.events["contact_id"].to_list()
    assert inputs.events.height == 7  # four of the fixture, gc-9's click, gc-3's reply and demo request
    config = load_config()
    for as_of in (inputs.now, T):
        by_text = build_features(inputs.contacts, inputs.events, inputs.signals, as_of, config)
        assert inputs.features(as_of, config).equals(by_text)
    assert inputs.now == datetime(2026, 2, 28, 10, tzinfo=UTC)  # the unmapped lead's event is still the latest


@pytest.mark.parametrize("other_ids", [[None, None, None], [None, "gc-9", None], []])
def test_events_frame_is_the_arrow_tables_frame(other_ids):
    # An all-NULL `other_contact_id` (every golden contact a lead) is made as a null column, not converted row by
    # row: the same frame as `pl.from_arrow` gives, column order, types and values, also with an id or no rows.
    import pyarrow as pa

    n = len(other_ids)
    table = pa.table(
        {
            "lead": pa.array([None if o else i for i, o in enumerate(other_ids)], pa.uint32()),
            "other_contact_id": pa.array(other_ids, pa.string()),
            "kind": pa.array(["web_visit", "email_open", "web_visit"][:n]).dictionary_encode(),
            "occurred_at": pa.array([datetime(2026, 2, 1, tzinfo=UTC)] * n, pa.timestamp("us", "UTC")),
        }
    )
    frame = _events_frame(table)
    assert frame.equals(pl.from_arrow(table))
    assert frame.schema == pl.from_arrow(table).schema
