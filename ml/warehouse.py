"""Read the scoring inputs from the warehouse into the plain frames `ml.features` expects.

One lead per real golden contact (`marts.dim_contacts`, entity resolution; junk and test records, `is_junk`, are
neither scored nor tiered, and their engagement counts for no one): the frames' key column `contact_id`
carries the `golden_contact_id` (`gc-<smallest HubSpot Record ID of the cluster>`). Fit attributes are the golden
(survivorship) values and the golden account's firmographics (`marts.dim_accounts`; technologies pooled over the
account's company records). Engagement and outcomes are mapped to the golden id through `marts.contact_crosswalk`:
by the HubSpot record id the sender knew, else by the normalized email of any member record; account signals by
the account domain. `ml/` itself only ever sees `contact_id` (any id type).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import polars as pl

from .features import EVENT_KINDS, FIT_FEATURES, build_features, intent_features

if TYPE_CHECKING:
    import pyarrow as pa

# A lead's account domain, and the leads (golden contacts) beside their accounts: shared by the leads' query and
# LEAD_ACCOUNTS_SQL, so the drift check's account clusters are the scoring inputs' own.
_COMPANY_DOMAIN = "coalesce(a.account_domain, g.website_domain) as company_domain"
_LEADS_WITH_ACCOUNTS = """from marts.dim_contacts g
left join marts.dim_accounts a on a.golden_account_id = g.golden_account_id"""

# Each golden account's technologies, pooled over its company records.
_ACCOUNT_TECHS_SQL = """
select x.golden_account_id, list_sort(list_distinct(flatten(list(co.technologies)))) as technologies
from marts.account_crosswalk x
inner join staging.stg_hubspot__companies co on co.company_id = x.source_record_id
where co.technologies is not null
group by x.golden_account_id
"""
_CONTACT_COLUMNS = f"""g.golden_contact_id as contact_id, g.email, g.job_title, g.role_category, g.seniority,
       coalesce(g.country_code, a.country_code) as country_code,
       a.industry, a.number_of_employees as employees, {{technologies}},
       {_COMPANY_DOMAIN}"""

# One row per lead (in no particular order: `load_contacts` sorts the frame by `contact_id`, cheaper in polars than
# DuckDB's sort of these wide rows), with its golden account id where its technologies go (`load_contacts` joins them).
_CONTACTS_WITH_ACCOUNT_SQL = f"""
select {_CONTACT_COLUMNS.format(technologies="g.golden_account_id as _account")}
{_LEADS_WITH_ACCOUNTS}
where not g.is_junk
"""

# Every engagement kind of ml.features.EVENT_KINDS from the staging models (`all_events`: the record id the sender
# knew, the email, the kind, the time), and the email -> golden contact map (`contact_emails`) LEAD_EVENTS_SQL
# falls back to.
EVENT_SOURCES_SQL = """
with contact_emails as (
    -- Normalized email -> one golden contact: the golden email first, else any member record's email; an email of
    -- records in several golden contacts goes to the smallest golden id (the same one every run).
    -- (The smallest golden id among the golden emails if any, else among all: `arg_min(golden_contact_id,
    -- (priority, golden_contact_id))` without comparing structs, ~0.3 s less at 1M; no golden id here is NULL.)
    select email, coalesce(min(golden_contact_id) filter (where priority = 0), min(golden_contact_id))
           as golden_contact_id
    from (
        select email, golden_contact_id, 0 as priority from marts.dim_contacts where email is not null
        union all
        select s.email, x.golden_contact_id, 1
        from staging.stg_hubspot__contacts s
        inner join marts.contact_crosswalk x on x.source_record_id = s.contact_id
        where s.email is not null and x.golden_contact_id is not null
    )
    group by email
),
email_events as (
    select e.contact_id as known_contact_id, e.email,
           case e.event_type when 'click' then 'email_click' when 'reply' then 'email_reply'
                             when 'open' then 'email_open' end as kind,
           e.occurred_at
    from staging.stg_email__events e
    where e.event_type in ('click', 'reply', 'open')
),
web_events as (
    select null::bigint as known_contact_id, w.user_email as email,
           case when w.is_pricing_page or w.event_name = 'Pricing Calculator Used' then 'pricing_visit'
                when w.event_name = 'Demo Requested' then 'demo_request'
                else 'web_visit' end as kind,
           w.occurred_at
    from staging.stg_segment__web_events w
    where w.event_type in ('page', 'track') and w.user_email is not null
),
product_events as (
    select null::bigint, p.user_email, 'product_event', p.occurred_at
    from staging.stg_segment__product_events p
    where p.user_email is not null
),
all_events as (
    select * from email_events union all select * from web_events union all select * from product_events
)
"""
# The registered relation LEAD_EVENTS_SQL reads the leads' positions from: `contact_id`, `lead` (row number).
LEADS_RELATION = "_scoring_leads"
_KIND_ENUM = "enum(" + ", ".join(f"'{k}'" for k in EVENT_KINDS) + ")"

# Each engagement event's golden contact: by the HubSpot record id the sender knew (`contact_crosswalk`), else -- a
# record id the crosswalk does not know (deleted in the CRM) included, like an unknown sender -- by the email
# (`contact_emails`); events of no golden contact, or of a junk one (`dim_contacts.is_junk`), are left out. The
# golden contact is given as its lead's position among the leads (LEADS_RELATION, the contacts frame's rows)
# instead of the id's text: `lead`, the golden id in `other_contact_id` only for a golden contact that is not a
# lead (none, while every golden id in the crosswalk is in `dim_contacts`), the kind as an enum. The positions and
# junk flags are looked up in the crosswalk and the email map (about a million rows each), not per event.
LEAD_EVENTS_SQL = EVENT_SOURCES_SQL + f""",
junk as (select distinct golden_contact_id from marts.dim_contacts where is_junk),
crosswalk_leads as (
    select x.source_record_id, x.golden_contact_id, l.lead, j.golden_contact_id is not null as is_junk
    from marts.contact_crosswalk x
    left join {LEADS_RELATION} l on l.contact_id = x.golden_contact_id
    left join junk j on j.golden_contact_id = x.golden_contact_id
),
email_leads as (
    select ce.email, ce.golden_contact_id, l.lead, j.golden_contact_id is not null as is_junk
    from contact_emails ce
    left join {LEADS_RELATION} l on l.contact_id = ce.golden_contact_id
    left join junk j on j.golden_contact_id = ce.golden_contact_id
),
mapped as (
    select coalesce(x.golden_contact_id, ce.golden_contact_id) as contact_id,
           case when x.golden_contact_id is not null then x.lead else ce.lead end as lead,
           case when x.golden_contact_id is not null then x.is_junk else ce.is_junk end as is_junk,
           a.kind, a.occurred_at
    from all_events a
    left join crosswalk_leads x on x.source_record_id = a.known_contact_id
    left join email_leads ce on x.golden_contact_id is null and ce.email = a.email
)
select lead, case when lead is null then contact_id end as other_contact_id, kind::{_KIND_ENUM} as kind, occurred_at
from mapped
where contact_id is not null and not is_junk
"""

SIGNALS_SQL = """
select domain, signal_type || '_signal' as kind, observed_at as occurred_at, magnitude
from staging.stg_signals__signals
where signal_type in ('hiring', 'funding', 'tool_install') and domain is not null and observed_at is not null
"""

# Outcomes for the intent label: a meeting booked or an opportunity (deal) created for the contact, mapped from the
# associated HubSpot record ids to golden contacts (two records of one person count once per outcome).
OUTCOMES_SQL = """
with record_outcomes as (
    select unnest(associated_contact_ids) as record_id, created_at as occurred_at, 'meeting' as outcome,
           meeting_id as outcome_id
    from staging.stg_hubspot__meetings where created_at is not null
    union all
    select unnest(associated_contact_ids), created_at, 'opportunity', deal_id
    from staging.stg_hubspot__deals where created_at is not null
)
select distinct x.golden_contact_id as contact_id, o.occurred_at, o.outcome, o.outcome_id
from record_outcomes o
inner join marts.contact_crosswalk x on x.source_record_id = o.record_id
where x.golden_contact_id is not null
"""


# Closed deals for the fit label (won vs lost), per golden contact of the deal's associated records, with the
# moment the deal closed (the later of the two close stages decides a reopened deal's outcome).
CLOSED_DEALS_SQL = """
with record_deals as (
    select unnest(associated_contact_ids) as record_id, deal_id,
           case when closed_lost_entered_at is null
                  or closed_won_entered_at > closed_lost_entered_at then true else false end as won,
           greatest(closed_won_entered_at, closed_lost_entered_at) as closed_at
    from staging.stg_hubspot__deals
    where closed_won_entered_at is not null or closed_lost_entered_at is not null
)
select distinct x.golden_contact_id as contact_id, d.deal_id, d.won, d.closed_at
from record_deals d
inner join marts.contact_crosswalk x on x.source_record_id = d.record_id
where x.golden_contact_id is not null
"""


@dataclass
class ScoringInputs:
    """The plain frames features are built from, plus the data's clock (`now`: the latest event time).

    The engagement events are kept by lead position (`lead_events`: LEAD_EVENTS_SQL's `lead` = row of `contacts`);
    `events` is the same rows keyed by `contact_id`, the frame `ml.features.build_features` documents."""

    contacts: pl.DataFrame
    # lead (UInt32 row of `contacts`, null for a golden contact that is not a lead), other_contact_id (that golden
    # id), kind, occurred_at: one row per engagement event of a golden contact, in the same order as `events`.
    lead_events: pl.DataFrame
    signals: pl.DataFrame
    outcomes: pl.DataFrame
    now: datetime
    # contact_id, deal_id, won, closed_at: the fit model's won/lost history (see ml.features.fit_labels).
    closed_deals: pl.DataFrame = field(default_factory=pl.DataFrame)

    @property
    def events(self) -> pl.DataFrame:
        """The engagement events keyed by golden id, the frame `build_features` reads: `contact_id`, `kind` (text),
        `occurred_at`."""
        lead_ids = self.contacts["contact_id"].gather(self.lead_events["lead"])
        return self.lead_events.select(
            lead_ids.to_frame()
            .select(pl.coalesce(pl.col("contact_id"), self.lead_events["other_contact_id"]).alias("contact_id"))
            .to_series(),
            pl.col("kind").cast(pl.String),
            "occurred_at",
        )

    def features(self, as_of: datetime | float, config: dict) -> pl.DataFrame:
        """`build_features(contacts, events, signals, as_of, config)` of these inputs, with the leads keyed by their
        row for the aggregation (an integer key groups ~11M events far cheaper than their text ids) and their
        `contact_id` put back: the same rows, columns and values. Events of golden contacts that are not leads
        have no lead row; `build_features` leaves every event without a lead out (a left join of the leads)."""
        by_row = self.contacts.with_columns(pl.int_range(self.contacts.height, dtype=pl.UInt32).alias("contact_id"))
        events = self.lead_events
        if events["lead"].null_count():
            events = events.filter(pl.col("lead").is_not_null())
        events = events.select(pl.col("lead").alias("contact_id"), "kind", "occurred_at")
        features = build_features(by_row, events, self.signals, as_of, config)
        return features.with_columns(self.contacts["contact_id"].gather(features["contact_id"]))


# `contact_id` and `company_domain` of every lead, as `load_contacts` gives them, without aggregating every company's
# technology list.
LEAD_ACCOUNTS_SQL = f"""
select g.golden_contact_id as contact_id, {_COMPANY_DOMAIN}
{_LEADS_WITH_ACCOUNTS}
where not g.is_junk
"""


def load_lead_accounts(con) -> pl.DataFrame:
    """`contact_id` (golden) -> `company_domain` of every lead, in no particular order: the account clusters drift
    is judged with (joined by `contact_id`)."""
    return pl.from_arrow(con.sql(LEAD_ACCOUNTS_SQL).to_arrow_table())


def _sorted_by_contact(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows in `contact_id` order, as DuckDB's `order by contact_id` gives them (a unique key; text compared
    byte by byte, nulls last); a frame already in that order is returned as it is."""
    if frame["contact_id"].is_sorted(nulls_last=True):
        return frame
    return frame.sort("contact_id", nulls_last=True)


def load_contacts(con) -> pl.DataFrame:
    """Every lead (golden contact not junk) with its fields, its account's, and the technologies pooled over its
    account's company records, sorted by `contact_id` (`_sorted_by_contact`). The leads are read and sorted without
    their technology lists, which are joined after from one row per account (~100k at 1M, not a list per lead
    through DuckDB's join, its Arrow transfer and the sort: ~0.2 s less at 1M; `tests/test_scoring_golden_leads.py`
    holds the one-query version as its reference)."""
    leads = _sorted_by_contact(pl.from_arrow(con.sql(_CONTACTS_WITH_ACCOUNT_SQL).to_arrow_table()))
    techs = pl.from_arrow(con.sql(_ACCOUNT_TECHS_SQL).to_arrow_table()).rename({"golden_account_id": "_account"})
    if techs.is_empty() or leads.schema["_account"] == pl.Null:
        # No technologies to join: the column a left join would give, all NULL.
        joined = leads.with_columns(pl.lit(None, dtype=techs.schema["technologies"]).alias("technologies"))
    else:
        techs = techs.with_columns(pl.col("_account").cast(leads.schema["_account"]))
        joined = leads.join(techs, on="_account", how="left", maintain_order="left")
    return joined.select(pl.col("technologies") if c == "_account" else c for c in leads.columns)


def _events_frame(events: pa.Table) -> pl.DataFrame:
    """LEAD_EVENTS_SQL's rows as a polars frame. `other_contact_id` is NULL on every row while every golden
    contact is a lead (all of them at 1M): such a column is made as polars' null text column instead of converted
    row by row (a text view per row: ~170 MB and ~0.2 s CPU for 11M events). The same frame either way."""
    other = events.column("other_contact_id")
    if other.null_count < events.num_rows:
        return pl.from_arrow(events)
    frame = pl.from_arrow(events.drop_columns(["other_contact_id"]))
    return frame.insert_column(
        events.column_names.index("other_contact_id"),
        pl.repeat(None, events.num_rows, dtype=pl.String, eager=True).alias("other_contact_id"),
    )


def load_scoring_inputs(con) -> ScoringInputs:
    """Query the warehouse (entity marts + staging) through an open DuckDB connection (read-only is enough)."""
    contacts = load_contacts(con)
    leads = contacts.select("contact_id", pl.int_range(pl.len(), dtype=pl.UInt32).alias("lead"))
    con.register(LEADS_RELATION, leads.to_arrow())
    try:
        lead_events = _events_frame(con.sql(LEAD_EVENTS_SQL).to_arrow_table())
    finally:
        con.unregister(LEADS_RELATION)
    signals = pl.from_arrow(con.sql(SIGNALS_SQL).to_arrow_table())
    outcomes = pl.from_arrow(con.sql(OUTCOMES_SQL).to_arrow_table())
    latest = [
        lead_events["occurred_at"].max() if lead_events.height else None,
        outcomes["occurred_at"].max() if outcomes.height else None,
    ]
    latest = [t for t in latest if t is not None]
    now = max(latest) if latest else datetime.now(UTC)
    closed_deals = pl.from_arrow(con.sql(CLOSED_DEALS_SQL).to_arrow_table())
    return ScoringInputs(contacts, lead_events, signals, outcomes, now, closed_deals=closed_deals)


LEAD_FEATURES_TABLE = "marts.fct_lead_features"


def lead_features_mart(inputs: ScoringInputs, config: dict) -> pl.DataFrame:
    """The rows of the lead features mart (`fct_lead_features`): `build_features` as of the data's clock, plus
    each lead's account domain and the cutoff as a timestamp (`features_as_of`)."""
    features = inputs.features(inputs.now, config)
    domains = inputs.contacts.select("contact_id", "company_domain")
    if features["contact_id"].equals(domains["contact_id"]):
        # One feature row per lead in the leads' order (a unique key): the domains line up without a join.
        features = features.with_columns(domains["company_domain"])
    else:
        features = features.join(domains, on="contact_id", how="left")
    return features.with_columns(
        pl.from_epoch(pl.col("feature_cutoff").cast(pl.Int64), time_unit="s").alias("features_as_of")
    )


def load_lead_features(con, config: dict, table: str = LEAD_FEATURES_TABLE) -> pl.DataFrame:
    """The features `build_features` gave for `load_scoring_inputs` of this warehouse, as the lead features mart
    (dbt's `fct_lead_features`, computed by that very code) keeps them: same columns, values, types and row order.

    Reading them back costs a second at a million leads; computing them again costs the whole event history's
    read and aggregation. Only valid while the mart is as new as its inputs: the caller decides that."""
    columns = ["contact_id", "feature_cutoff", *FIT_FEATURES, *intent_features(config)]
    selected = ", ".join(f'"{c}"' for c in columns)
    # The mart is written in `contact_id` order (`load_scoring_inputs`): sorted again only if it was not kept so.
    return _sorted_by_contact(pl.from_arrow(con.sql(f"select {selected} from {table}").to_arrow_table()))
