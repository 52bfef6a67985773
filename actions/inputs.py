"""What the planner reads: the candidate marts (`marts/actions/` in dbt), scores, reply classes and reviews.

`load_inputs(con)` reads them from a DuckDB connection (the warehouse, or a published copy of it) into polars
frames; tests and the benchmark build `PlanningInputs` directly. A table that does not exist yet (e.g. no scores
because a gate stopped scoring) gives an empty frame, and the workflows that need it are skipped this run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import duckdb
import polars as pl

from ops_store.schema import utc_now

CONTACT_SCHEMA = {
    "golden_contact_id": pl.String,
    "contact_name": pl.String,
    "first_name": pl.String,
    "email": pl.String,
    "emails": pl.List(pl.String),
    "crm_record_ids": pl.List(pl.Int64),
    "contact_owner": pl.String,
    "country_code": pl.String,
    "lifecycle_stage": pl.String,
    "company_name": pl.String,
    "golden_account_id": pl.String,
    "account_domain": pl.String,
    "industry": pl.String,
    "is_crm_unsubscribed": pl.Boolean,
    "is_customer_account": pl.Boolean,
    "open_deal_count": pl.Int64,
    "tier": pl.Int64,
    "combined_score": pl.Float64,
    "score_model_version": pl.String,
    "is_junk": pl.Boolean,
}
SIGNAL_SCHEMA = {
    "kind": pl.String,
    "value": pl.String,
    "reason": pl.String,
    "scope": pl.String,
    "source_table": pl.String,
    "source_key": pl.String,
    "source_field": pl.String,
    "source_value": pl.String,
    "observed_at": pl.Datetime("us", "UTC"),
}
TRIGGER_SCHEMA = {
    "trigger_kind": pl.String,
    "trigger_id": pl.String,
    "golden_contact_id": pl.String,
    "contact_record_id": pl.Int64,
    "contact_owner": pl.String,
    "triggered_at": pl.Datetime("us", "UTC"),
    "reply_text": pl.String,
    "first_touch_at": pl.Datetime("us", "UTC"),
    "first_touch_id": pl.Int64,
    "first_touch_kind": pl.String,
    "first_touch_by": pl.String,
}
REPLY_SCHEMA = {
    "event_id": pl.String,
    "golden_contact_id": pl.String,
    "replied_at": pl.Datetime("us", "UTC"),
    "predicted_class": pl.String,
    "confidence": pl.Float64,
    "needs_human": pl.Boolean,
    "rule_hit": pl.Boolean,
    "model_version": pl.String,
}
LEAD_SCHEMA = {
    "submission_id": pl.String,
    "submitted_at": pl.Datetime("us", "UTC"),
    "lead_source": pl.String,
    "lead_name": pl.String,
    "email": pl.String,
    "company_name": pl.String,
    "company_domain": pl.String,
    "country_code": pl.String,
    "industry": pl.String,
}
LOAD_SCHEMA = {"owner": pl.String, "open_deals": pl.Int64, "owned_contacts": pl.Int64}
MERGE_SCHEMA = {
    "proposal_id": pl.String,
    "left_record_id": pl.Int64,
    "right_record_id": pl.Int64,
    "left_golden_contact_id": pl.String,
    "right_golden_contact_id": pl.String,
    "reason": pl.String,
    "match_probability": pl.Float64,
    "evidence": pl.String,
    "rank_value": pl.Float64,
}
ENRICHMENT_SCHEMA = {
    "enrichment_field_id": pl.String,
    "golden_contact_id": pl.String,
    "field_name": pl.String,
    "proposed_value": pl.String,
    "vendor": pl.String,
    "confidence": pl.Float64,
    "observed_at": pl.Datetime("us", "UTC"),
    "reason": pl.String,
}

ACCOUNT_RISK_SCHEMA = {
    "golden_account_id": pl.String,
    "company_name": pl.String,
    "account_domain": pl.String,
    "account_owner": pl.String,
    "company_record_ids": pl.List(pl.Int64),
    "as_of": pl.Datetime("us", "UTC"),
    "verdict": pl.String,
    "risk_tier": pl.Int64,
    "triggering_signals": pl.List(pl.String),
    "has_escalations": pl.Boolean,
    "has_usage_drop": pl.Boolean,
    "has_an_escalation": pl.Boolean,
    "has_usage_dip": pl.Boolean,
    "has_renewal_soon": pl.Boolean,
    "has_no_contact": pl.Boolean,
    "escalated_cases": pl.Int64,
    "escalated_case_ids": pl.List(pl.Int64),
    "recent_active_user_days": pl.Int64,
    "prior_active_user_days": pl.Int64,
    "usage_change_pct": pl.Float64,
    "usage_change_z": pl.Float64,
    "usage_window_start": pl.Date,
    "usage_window_end": pl.Date,
    "renewal_date": pl.Date,
    "renewal_date_source": pl.String,
    "days_to_renewal": pl.Int64,
    "renewal_deal_id": pl.Int64,
    "renewal_deal_stage": pl.String,
    "last_contact_at": pl.Datetime("us", "UTC"),
    "last_contact_id": pl.Int64,
    "last_contact_kind": pl.String,
    "days_since_contact": pl.Int64,
}

FOLLOW_UP_SCHEMA = {
    "meeting_id": pl.Int64,
    "meeting_name": pl.String,
    "meeting_start_at": pl.Datetime("us", "UTC"),
    "meeting_end_at": pl.Datetime("us", "UTC"),
    "owner": pl.String,
    "contact_record_id": pl.Int64,
    "golden_contact_id": pl.String,
    "deal_id": pl.Int64,
    "first_touch_at": pl.Datetime("us", "UTC"),
    "first_touch_id": pl.Int64,
    "first_touch_kind": pl.String,
}
OPEN_DEAL_SCHEMA = {
    "deal_id": pl.Int64,
    "deal_name": pl.String,
    "owner": pl.String,
    "stage": pl.String,
    "amount": pl.Float64,
    "close_date": pl.Datetime("us", "UTC"),
    "created_at": pl.Datetime("us", "UTC"),
    "golden_account_id": pl.String,
    "primary_contact_record_id": pl.Int64,
    "has_next_step": pl.Boolean,
    "next_meeting_at": pl.Datetime("us", "UTC"),
    "open_tasks": pl.Int64,
    "missing_close_date": pl.Boolean,
    "missing_amount": pl.Boolean,
    "missing_primary_contact": pl.Boolean,
}
STAGE_EVIDENCE_SCHEMA = {
    "deal_id": pl.Int64,
    "deal_name": pl.String,
    "owner": pl.String,
    "stage": pl.String,
    "golden_account_id": pl.String,
    "meeting_id": pl.Int64,
    "meeting_name": pl.String,
    "meeting_end_at": pl.Datetime("us", "UTC"),
    "buyer_record_id": pl.Int64,
    "buyer_golden_contact_id": pl.String,
    "buyer_seniority": pl.String,
    "buyer_job_title": pl.String,
}

NO_SHOW_SCHEMA = {
    "meeting_id": pl.Int64,
    "meeting_name": pl.String,
    "meeting_start_at": pl.Datetime("us", "UTC"),
    "owner": pl.String,
    "contact_record_id": pl.Int64,
    "golden_contact_id": pl.String,
    "deal_id": pl.Int64,
    "earlier_no_shows": pl.Int64,
    "rebooked": pl.Boolean,
    "latest_reply_event_id": pl.String,
    "latest_reply_at": pl.Datetime("us", "UTC"),
    "latest_reply_text": pl.String,
}

MEETING_REQUEST_SCHEMA = {
    "event_id": pl.String,
    "replied_at": pl.Datetime("us", "UTC"),
    "reply_text": pl.String,
    "contact_record_id": pl.Int64,
    "golden_contact_id": pl.String,
    "meeting_booked": pl.Boolean,
}
OWNER_CALENDAR_SCHEMA = {
    "owner": pl.String,
    "meeting_id": pl.Int64,
    "meeting_start_at": pl.Datetime("us", "UTC"),
    "meeting_end_at": pl.Datetime("us", "UTC"),
}

SEQUENCE_CANDIDATE_SCHEMA = {
    "golden_contact_id": pl.String,
    "account_domain": pl.String,
    "tool_installs_30d": pl.Int64,
    "tool_install_signal_id": pl.String,
    "tool_install_detail": pl.String,
    "hiring_signals_30d": pl.Int64,
    "demo_requests_30d": pl.Int64,
    "pricing_visits_30d": pl.Int64,
    "product_events_30d": pl.Int64,
}

MULTITHREAD_SCHEMA = {
    "deal_id": pl.Int64,
    "deal_name": pl.String,
    "owner": pl.String,
    "stage": pl.String,
    "golden_account_id": pl.String,
    "engaged_stakeholders": pl.Int64,
    "functions_covered": pl.List(pl.String),
    "candidate_golden_contact_id": pl.String,
    "candidate_function": pl.String,
    "candidate_seniority": pl.String,
    "candidate_job_title": pl.String,
}


def empty(schema: dict) -> pl.DataFrame:
    """An empty frame with the given schema."""
    return pl.DataFrame(schema=schema)


@dataclass
class PlanningInputs:
    """Everything one planning run reads, as of one moment of the data (`as_of`)."""

    as_of: datetime
    contacts: pl.DataFrame = field(default_factory=lambda: empty(CONTACT_SCHEMA))
    suppression_signals: pl.DataFrame = field(default_factory=lambda: empty(SIGNAL_SCHEMA))
    triggers: pl.DataFrame = field(default_factory=lambda: empty(TRIGGER_SCHEMA))
    replies: pl.DataFrame = field(default_factory=lambda: empty(REPLY_SCHEMA))
    inbound_leads: pl.DataFrame = field(default_factory=lambda: empty(LEAD_SCHEMA))
    owner_load: pl.DataFrame = field(default_factory=lambda: empty(LOAD_SCHEMA))
    merge_proposals: pl.DataFrame = field(default_factory=lambda: empty(MERGE_SCHEMA))
    enrichment_reviews: pl.DataFrame = field(default_factory=lambda: empty(ENRICHMENT_SCHEMA))
    account_risk: pl.DataFrame = field(default_factory=lambda: empty(ACCOUNT_RISK_SCHEMA))
    meeting_follow_ups: pl.DataFrame = field(default_factory=lambda: empty(FOLLOW_UP_SCHEMA))
    open_deals: pl.DataFrame = field(default_factory=lambda: empty(OPEN_DEAL_SCHEMA))
    stage_evidence: pl.DataFrame = field(default_factory=lambda: empty(STAGE_EVIDENCE_SCHEMA))
    no_shows: pl.DataFrame = field(default_factory=lambda: empty(NO_SHOW_SCHEMA))
    meeting_requests: pl.DataFrame = field(default_factory=lambda: empty(MEETING_REQUEST_SCHEMA))
    owner_calendar: pl.DataFrame = field(default_factory=lambda: empty(OWNER_CALENDAR_SCHEMA))
    sequence_candidates: pl.DataFrame = field(default_factory=lambda: empty(SEQUENCE_CANDIDATE_SCHEMA))
    multithread_candidates: pl.DataFrame = field(default_factory=lambda: empty(MULTITHREAD_SCHEMA))
    # Inputs that were missing (table not built yet): the workflows needing them do not run this time.
    missing: set[str] = field(default_factory=set)


def _frame(con: duckdb.DuckDBPyConnection, sql: str, schema: dict, name: str, missing: set[str]) -> pl.DataFrame:
    try:
        table = con.sql(sql).to_arrow_table()
    except duckdb.CatalogException:
        missing.add(name)
        return empty(schema)
    frame = pl.from_arrow(table)
    return frame.select(
        [pl.col(c).cast(t) if c in frame.columns else pl.lit(None, t).alias(c) for c, t in schema.items()]
    )


def _has_column(con: duckdb.DuckDBPyConnection, table: str, column: str) -> bool:
    schema, name = table.split(".")
    return bool(
        con.execute(
            "select count(*) from information_schema.columns where table_schema = ? and table_name = ? "
            "and column_name = ?",
            [schema, name, column],
        ).fetchall()[0][0]
    )


def data_as_of(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> datetime:
    """The moment the warehouse's data reaches: its latest email event, activity or lead (never in the future).

    SLA timers and look-back windows count from here, so a warehouse built from an export a week old is
    judged as of that week, not as of today.
    """
    now = now or utc_now()
    latest = None
    for sql in (
        "select max(occurred_at) from staging.stg_email__events",
        "select max(activity_at) from staging.stg_hubspot__activities",
        "select max(submitted_at) from staging.stg_forms__leads",
    ):
        try:
            value = con.execute(sql).fetchall()[0][0]
        except duckdb.CatalogException:
            continue
        if value is not None:
            value = value if value.tzinfo else value.replace(tzinfo=UTC)
            latest = value if latest is None else max(latest, value)
    if latest is None or latest > now:
        return now
    return latest


def load_inputs(con: duckdb.DuckDBPyConnection, now: datetime | None = None) -> PlanningInputs:
    """Read the planner's inputs from the warehouse (read-only queries)."""
    con.execute("set TimeZone = 'UTC'").fetchall()
    missing: set[str] = set()
    junk = "c.is_junk" if _has_column(con, "marts.dim_contacts", "is_junk") else "false"
    contacts = _frame(
        con,
        f"""
        select a.*, s.tier, s.combined_score, s.model_version as score_model_version, {junk} as is_junk
        from marts.fct_action_contacts as a
        left join ml.lead_scores as s on s.contact_id = a.golden_contact_id
        left join marts.dim_contacts as c on c.golden_contact_id = a.golden_contact_id
        """,
        CONTACT_SCHEMA,
        "contacts",
        missing,
    )
    if "contacts" in missing:
        # Scores not published yet: contacts without tiers (routing and SLA wait for scores).
        missing.discard("contacts")
        contacts = _frame(con, "select * from marts.fct_action_contacts", CONTACT_SCHEMA, "contacts", missing)
        missing.add("lead_scores")
    rank = "expected_value" if _has_column(con, "marts.merge_proposals", "expected_value") else "match_probability"
    return PlanningInputs(
        as_of=data_as_of(con, now),
        contacts=contacts,
        suppression_signals=_frame(
            con, "select * from marts.fct_suppression_signals", SIGNAL_SCHEMA, "suppression_signals", missing
        ),
        triggers=_frame(con, "select * from marts.fct_follow_up_triggers", TRIGGER_SCHEMA, "triggers", missing),
        replies=_frame(
            con,
            "select event_id, golden_contact_id, replied_at, predicted_class, confidence, needs_human, rule_hit, "
            "model_version from ml.reply_classifications",
            REPLY_SCHEMA,
            "replies",
            missing,
        ),
        inbound_leads=_frame(con, "select * from marts.fct_inbound_leads", LEAD_SCHEMA, "inbound_leads", missing),
        owner_load=_frame(con, "select * from marts.fct_owner_load", LOAD_SCHEMA, "owner_load", missing),
        merge_proposals=_frame(
            con,
            f"select * replace (cast(evidence as varchar) as evidence), {rank} as rank_value "
            "from marts.merge_proposals",
            MERGE_SCHEMA,
            "merge_proposals",
            missing,
        ),
        enrichment_reviews=_frame(
            con, "select * from marts.enrichment_review", ENRICHMENT_SCHEMA, "enrichment_reviews", missing
        ),
        account_risk=_frame(con, "select * from marts.fct_account_risk", ACCOUNT_RISK_SCHEMA, "account_risk", missing),
        meeting_follow_ups=_frame(
            con, "select * from marts.fct_meeting_follow_ups", FOLLOW_UP_SCHEMA, "meeting_follow_ups", missing
        ),
        open_deals=_frame(
            con, "select * from marts.fct_pipeline_deals where is_open", OPEN_DEAL_SCHEMA, "open_deals", missing
        ),
        stage_evidence=_frame(
            con, "select * from marts.fct_stage_evidence", STAGE_EVIDENCE_SCHEMA, "stage_evidence", missing
        ),
        no_shows=_frame(con, "select * from marts.fct_no_shows", NO_SHOW_SCHEMA, "no_shows", missing),
        meeting_requests=_frame(
            con, "select * from marts.fct_meeting_requests", MEETING_REQUEST_SCHEMA, "meeting_requests", missing
        ),
        owner_calendar=_frame(
            con, "select * from marts.fct_owner_calendar", OWNER_CALENDAR_SCHEMA, "owner_calendar", missing
        ),
        sequence_candidates=_frame(
            con,
            "select * from marts.fct_sequence_candidates",
            SEQUENCE_CANDIDATE_SCHEMA,
            "sequence_candidates",
            missing,
        ),
        multithread_candidates=_frame(
            con,
            "select * from marts.fct_multithread_candidates",
            MULTITHREAD_SCHEMA,
            "multithread_candidates",
            missing,
        ),
        missing=missing,
    )
