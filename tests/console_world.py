"""A small world for the console tests: a hand-made warehouse with the tables the publication reads (the same
names and columns a refresh builds; `test_end_to_end` checks the console on a real refresh), a planned decision
queue in the operational store, and local accounts.

    world = build_world(tmp_path)   # warehouse, publication, ops store URL, accounts
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

from console.auth import UserStore
from console.publish import publish
from ops_store import open_store

CONTACTS = 60
PASSWORD = "correct horse battery"
# Dana Steward and Demo Approver are both data stewards in the default policy (they decide merges and
# enrichment); Vic Viewer only reads; Ada Admin is the policy's admin.
ACCOUNTS = {"Demo Approver": "approver", "Dana Steward": "approver", "Vic Viewer": "viewer", "Ada Admin": "admin"}

WAREHOUSE_SQL = f"""
create schema ml; create schema marts; create schema staging; create schema intermediate; create schema raw;
create schema quality;
create table staging.stg_hubspot__contacts as
select i as contact_id, 'First' || i as first_name, 'Last' || i as last_name,
       'p' || i || '@acme' || i || '.com' as email,
       'Title ' || i as job_title, 'Acme ' || i as company_name,
       case i % 3 when 0 then 'Alice Carter' when 1 then 'Erin Walsh' else 'Derek Mills' end as contact_owner,
       case i % 2 when 0 then 'organic search' else 'paid social' end as original_source,
       timestamptz '2026-01-01 00:00:00+00' + to_days(i) as created_at,
       timestamptz '2026-10-01 00:00:00+00' + to_days(i) as last_modified_at
from range(1, {CONTACTS} + 1) t(i);
create table marts.contact_crosswalk as
select 'hubspot' as source_system, contact_id as source_record_id, 'gc-' || contact_id as golden_contact_id,
       1 as cluster_size, 1 as employer_domain_count, true as is_anchor_record
from staging.stg_hubspot__contacts;
create table marts.dim_contacts as
select 'gc-' || contact_id as golden_contact_id, first_name, last_name, email, job_title, company_name,
       'US' as country_code, contact_owner,
       json_object('email', json_object('source', 'hubspot', 'source_record_id', contact_id::varchar,
                   'source_class', 'crm_user_entered', 'observed_at', '2026-10-01', 'candidates', 1)) as provenance,
       contact_id as anchor_record_id, 1 as source_record_count
from staging.stg_hubspot__contacts;
create table intermediate.int_entities__contact_golden_fields as
select 'gc-' || contact_id as golden_contact_id, f.field_name,
       case f.field_name when 'email' then email else job_title end as value,
       'crm_user_entered' as source_class, 'hubspot' as source_name, contact_id::varchar as source_record_id,
       last_modified_at as observed_at, null::double as confidence, 1 as candidate_count, 1 as distinct_value_count
from staging.stg_hubspot__contacts, (values ('email'), ('job_title')) f(field_name);
create table ml.score_log as
select r.run_id, r.scored_at, 'gc-' || i as contact_id, 'v0001-learned' as model_version, 'learned' as model_kind,
       (i * 37 % 100)::double as fit_score, (i * 53 % 100)::double as intent_score,
       ((i * 37 % 100) * 0.5 + (i * 53 % 100) * 0.5 + r.shift)::double as combined_score,
       case when (i * 37 % 100) * 0.5 + (i * 53 % 100) * 0.5 + r.shift >= 70 then 1
            when (i * 37 % 100) * 0.5 + (i * 53 % 100) * 0.5 + r.shift >= 45 then 2 else 3 end::tinyint as tier,
       '+1.5 fit: ' || (100 + i * 10) || ' employees; +0.8 intent: pricing page visited ' || (i % 4) || 'x in 7 days'
         as reasons,
       (100 + i * 10)::double as f_employees, 'software' as f_industry, (i % 4)::double as f_count_pricing_visit_7d
from range(1, {CONTACTS} + 1) t(i),
     (values ('run-1', timestamp '2026-12-01 10:00:00', -6), ('run-2', timestamp '2026-12-02 10:00:00', 0))
       r(run_id, scored_at, shift);
create table ml.lead_scores as select * from ml.score_log where run_id = 'run-2';
create table staging.stg_hubspot__meetings as
select 900 + i as meeting_id, [i]::bigint[] as associated_contact_ids,
       timestamptz '2026-11-01 00:00:00+00' as created_at
from range(1, {CONTACTS} + 1) t(i) where i % 4 = 0;
create table staging.stg_hubspot__deals as
select 7000 + i as deal_id, 'Deal ' || i as deal_name,
       case i % 4 when 0 then 'qualified to buy' when 1 then 'contract sent' when 2 then 'closed won'
            else 'appointment scheduled' end as deal_stage,
       (1000 * i)::decimal(18, 2) as amount, timestamptz '2027-01-15 00:00:00+00' as close_date,
       timestamptz '2026-09-01 00:00:00+00' + to_days(i) as created_at,
       timestamptz '2026-10-01 00:00:00+00' + to_days(i % 20) as last_modified_at,
       case i % 2 when 0 then 'Alice Carter' else 'Erin Walsh' end as deal_owner,
       [i]::bigint[] as associated_contact_ids,
       timestamptz '2026-09-05 00:00:00+00' + to_days(i) as qualified_to_buy_entered_at,
       'x.csv' as _source_file, i as _source_line
from range(1, 21) t(i);
create table raw.load_files as
select * from (values
  (1, 'hubspot_contacts', 'hubspot_contacts/contacts_0000.csv', 'loaded', {CONTACTS} + 2, {CONTACTS}, 2,
   timestamp '2026-12-02 09:00:00'),
  (2, 'leads', 'leads/leads_0000.csv', 'loaded', 10, 9, 1, timestamp '2026-12-02 09:00:00'))
  v(file_id, source, path, status, rows_loaded, rows_accepted, rows_quarantined, loaded_at);
create table raw.quarantine_rows as
select * from (values
  (1, 'hubspot_contacts', 'hubspot_contacts/contacts_0000.csv', 7, 'Email ''not-an-email'' is not an address',
   'x,y,not-an-email', timestamp '2026-12-02 09:00:00'),
  (2, 'leads', 'leads/leads_0000.csv', 5, 'Submitted At ''yesterday'' is not a date/time', 'a,yesterday',
   timestamp '2026-12-02 09:00:00'))
  v(file_id, source, path, line, reason, raw_text, quarantined_at);
create table quality.expectation_results as
select * from (values
  ('run-2', timestamp '2026-12-02 09:01:00', 'raw', 'raw_hubspot_contacts', 'raw.hubspot_contacts', {CONTACTS},
   'ExpectColumnValuesToNotBeNull', 'email', '{{}}'::json, true, 0, 0.0, '[]'::json),
  ('run-2', timestamp '2026-12-02 09:01:00', 'raw', 'raw_hubspot_contacts', 'raw.hubspot_contacts', {CONTACTS},
   'ExpectColumnValuesToBeUnique', 'contact_id', '{{}}'::json, false, 1, 1.6, '[17]'::json))
  v(run_id, checked_at, stage, suite, table_name, row_count, expectation, column_name, arguments, success,
    unexpected_count, unexpected_percent, failing_examples);
create table marts.merge_proposals as
select 'p-67' as proposal_id, 'contact' as entity_type, 6 as left_record_id, 7 as right_record_id,
       'gc-6' as left_golden_contact_id, 'gc-7' as right_golden_contact_id, 'review_band' as reason,
       0.9 as match_probability, 5.0 as match_weight, 'name' as blocking_rules, '{{}}'::json as evidence,
       'proposed' as status;
create table marts.enrichment_review as
select 'f-' || i as enrichment_field_id, 'gc-' || i as golden_contact_id, 'job_title' as field_name,
       'VP Sales' as proposed_value, 'vendor_a' as vendor, 0.5 as confidence,
       timestamptz '2026-10-31 00:00:00+00' as observed_at, 'review_low_confidence' as reason
from range(1, 4) t(i);
create table ml.reply_classifications as
select 'e-1' as event_id, 'gc-1' as golden_contact_id, 'positive' as reply_class, 0.95 as confidence,
       false as needs_human;
"""

# The outcome marts (issue 15): a workflow whose lift is significant, one with none, one not measured yet; done
# metrics for two weeks (and a day row, which the console does not publish). Figures by Newcombe's method 10.
OUTCOME_MARTS_SQL = """
create table marts.fct_workflow_lift as
select * replace (treated_rate::double as treated_rate, held_out_rate::double as held_out_rate, lift::double as lift,
                  lift_ci_low::double as lift_ci_low, lift_ci_high::double as lift_ci_high)
from (values
  ('lead_routing', 'meeting_booked', 14, 4000::bigint, 400::bigint, 0.1, 450::bigint, 44::bigint, 0.097778,
   0.002222, -0.029979, 0.028225, false, 12::bigint, null),
  ('sla', 'meeting_booked', 14, 4000::bigint, 600::bigint, 0.15, 450::bigint, 45::bigint, 0.1,
   0.05, 0.017013, 0.076952, true, 30::bigint, null),
  ('at_risk', 'renewed', 90, 56::bigint, 5::bigint, 0.089286, 29::bigint, 0::bigint, 0.0,
   0.089286, -0.038137, 0.19256, false, 1::bigint,
   'too few outcomes: 0 in the smaller group (fewer than 10)'))
  v(workflow, outcome, window_days, treated_n, treated_outcomes, treated_rate, held_out_n, held_out_outcomes,
    held_out_rate, lift, lift_ci_low, lift_ci_high, is_significant, windows_open, sample_size_note);
create table marts.fct_workflow_outcomes as
select * replace (rate::double as rate, median_hours::double as median_hours) from (values
  ('first_touch_within_sla', 'sla', 'all', 'week', date '2026-11-23', 18::bigint, 24::bigint, 0.75, 3.5),
  ('first_touch_within_sla', 'sla', 'all', 'week', date '2026-11-30', 9::bigint, 10::bigint, 0.9, 2.0),
  ('first_touch_within_sla', 'sla', 'all', 'day', date '2026-11-30', 1::bigint, 2::bigint, 0.5, 2.0),
  ('meetings_per_1000_leads', 'lead_routing', 'all', 'week', date '2026-11-30', 1::bigint, 24::bigint,
   0.041667, null),
  ('sequence_reply_rate', 'sequences', 'seq-a', 'week', date '2026-11-30', 2::bigint, 10::bigint, 0.2, null),
  ('sequence_reply_rate', 'sequences', 'seq-b', 'week', date '2026-11-30', 1::bigint, 10::bigint, 0.1, null))
  v(metric, workflow, segment, grain, period_start, numerator, denominator, rate, median_hours);
"""


@dataclass
class ConsoleWorld:
    """Where the fixture world lives."""

    warehouse: Path
    publication: Path
    ops_url: str
    data_dir: Path


def build_warehouse(path: Path) -> Path:
    """The hand-made warehouse (60 scored contacts over two scoring runs, deals, quality results, outcome marts) at
    `path`."""
    con = duckdb.connect(str(path))
    try:
        con.execute(WAREHOUSE_SQL)
        con.execute(OUTCOME_MARTS_SQL)
    finally:
        con.close()
    return path


def publish_warehouse(warehouse: Path, target: Path, run_id: str):
    """Publish `warehouse` (opened read-only, then closed) to `target`; returns the publication report."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return publish(con, target, run_id=run_id)
    finally:
        con.close()


def plan_queue(engine) -> None:
    """Plan a world with one contact per workflow, three enrichment reviews and a merge into the queue."""
    from planning_fixtures import busy_world
    from polars import DataFrame, concat

    from actions.planner import StoreView, apply_plan, plan
    from actions.policy import load_policy
    from ops_store.schema import utc_now

    world = busy_world()
    extra = DataFrame(
        [
            {
                **world.enrichment_reviews.row(0, named=True),
                "enrichment_field_id": f"f-{i}",
                "golden_contact_id": f"gc-{i}",
                "proposed_value": f"Head of Ops {i}",
            }
            for i in (1, 2, 3)
        ],
        schema=world.enrichment_reviews.schema,
    )
    world.enrichment_reviews = concat([world.enrichment_reviews, extra])
    policy = load_policy()
    now = utc_now()
    result = plan(world, policy, StoreView.read(engine, policy, now), now=now, run_id="console-test")
    apply_plan(result, engine, policy)


def build_world(root: Path) -> ConsoleWorld:
    """Warehouse, its publication, a planned queue and the accounts (password `PASSWORD` for each)."""
    root.mkdir(parents=True, exist_ok=True)
    warehouse = root / "warehouse.duckdb"
    build_warehouse(warehouse)
    publication = root / "console" / "publication.duckdb"
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        publish(con, publication, run_id="run-2")
    finally:
        con.close()
    ops_url = f"sqlite:///{root / 'operations.sqlite'}"
    engine = open_store(ops_url)
    try:
        plan_queue(engine)
        users = UserStore(engine)
        for name, role in ACCOUNTS.items():
            users.add(name, role, PASSWORD)
    finally:
        engine.dispose()
    return ConsoleWorld(warehouse=warehouse, publication=publication, ops_url=ops_url, data_dir=root)


def settings_for(world: ConsoleWorld, **overrides):
    """Console settings on the fixture world."""
    from console.settings import ConsoleSettings

    values = {
        "data_dir": world.data_dir,
        "ops_db_url": world.ops_url,
        "publication": world.publication,
        "secret_key": "test-secret-key-not-for-production",
    }
    values.update(overrides)
    return ConsoleSettings(**values)
