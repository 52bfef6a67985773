"""The whole code location loads, and its graph has the layers, gates and automation it promises."""

from __future__ import annotations

import dagster as dg
import pytest

from landing.contract import SOURCES


def test_definitions_load_with_expected_groups(actionhouse_defs):
    specs = list(actionhouse_defs.resolve_all_asset_specs())
    groups = {spec.group_name for spec in specs}
    assert {"raw", "staging"} <= groups
    keys = {spec.key for spec in specs}
    for source in SOURCES:
        assert dg.AssetKey(["raw", source]) in keys
    assert dg.AssetKey(["staging", "stg_hubspot__contacts"]) in keys


def test_staging_models_depend_on_raw_tables(actionhouse_defs):
    specs = {spec.key: spec for spec in actionhouse_defs.resolve_all_asset_specs()}
    contacts = specs[dg.AssetKey(["staging", "stg_hubspot__contacts"])]
    assert dg.AssetKey(["raw", "hubspot_contacts"]) in {dep.asset_key for dep in contacts.deps}


def test_every_raw_and_staging_table_has_a_blocking_gate(actionhouse_defs):
    graph = actionhouse_defs.resolve_asset_graph()
    check_specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    gated = {spec.asset_key for spec in check_specs if spec.blocking and spec.name.startswith("gate_")}
    for source in SOURCES:
        assert dg.AssetKey(["raw", source]) in gated
    staging_models = {key for key in graph.get_all_asset_keys() if key.path[0] == "staging"}
    assert len(staging_models) >= 14 and staging_models <= gated, sorted(
        k.to_user_string() for k in staging_models - gated
    )
    # dbt tests are surfaced as asset checks as well.
    assert any(not spec.name.startswith("gate_") for spec in check_specs)


def test_hourly_schedule_and_landing_sensor(actionhouse_defs):
    schedule = actionhouse_defs.resolve_schedule_def("hourly_refresh")
    assert schedule.cron_schedule == "0 * * * *"
    assert schedule.job_name == "refresh_warehouse"
    sensor = actionhouse_defs.resolve_sensor_def("new_landing_files")
    assert sensor.job_name == "refresh_warehouse"
    job = actionhouse_defs.resolve_job_def("refresh_warehouse")
    assert job.tags.get("actionhouse/warehouse") == "write"


def test_full_refresh_can_be_launched_from_dagster_and_the_cli(actionhouse_defs):
    """A full refresh (every incremental and stateful dbt model from scratch) is a job of its own, a run config
    flag of the dbt assets (Launchpad) and `actionhouse refresh --full-refresh`; the hourly job stays incremental."""
    from orchestration.cli import build_parser
    from orchestration.defs.schedules.refresh import FULL_REFRESH_RUN_CONFIG

    full = actionhouse_defs.resolve_job_def("full_refresh_warehouse")
    assert (
        full.run_config
        == FULL_REFRESH_RUN_CONFIG
        == {"ops": {"actionhouse_dbt_models": {"config": {"full_refresh": True}}}}
    )
    assert full.tags.get("actionhouse/warehouse") == "write"
    hourly = actionhouse_defs.resolve_job_def("refresh_warehouse")
    assert hourly.run_config is None
    dbt_step = hourly.graph.node_named("actionhouse_dbt_models").definition
    assert dbt_step.config_schema.config_type.fields["full_refresh"].default_value is False
    assert build_parser().parse_args(["refresh", "--full-refresh"]).full_refresh is True
    assert build_parser().parse_args(["refresh"]).full_refresh is False


def test_landing_sensor_requests_a_run_only_for_new_files(tmp_path, monkeypatch, actionhouse_defs):
    landing = tmp_path / "landing"
    (landing / "hubspot_contacts").mkdir(parents=True)
    monkeypatch.setenv("ACTIONHOUSE_LANDING_DIR", str(landing))
    sensor = actionhouse_defs.resolve_sensor_def("new_landing_files")

    first = sensor.evaluate_tick(dg.build_sensor_context())
    assert not first.run_requests

    (landing / "hubspot_contacts" / "export.csv").write_text("Record ID\n1\n")
    second = sensor.evaluate_tick(dg.build_sensor_context(cursor=first.cursor))
    assert len(second.run_requests) == 1

    third = sensor.evaluate_tick(dg.build_sensor_context(cursor=second.cursor))
    assert not third.run_requests


def test_planner_reads_the_candidates_and_its_promises_block(actionhouse_defs):
    specs = {spec.key: spec for spec in actionhouse_defs.resolve_all_asset_specs()}
    planner = specs[dg.AssetKey(["actions", "proposals"])]
    deps = {dep.asset_key for dep in planner.deps}
    assert dg.AssetKey(["marts", "fct_follow_up_triggers"]) in deps
    assert dg.AssetKey(["ml", "reply_classifications"]) in deps and dg.AssetKey(["ml", "lead_scores"]) in deps
    candidates = specs[dg.AssetKey(["marts", "fct_follow_up_triggers"])]
    assert dg.AssetKey(["staging", "stg_hubspot__activities"]) in {dep.asset_key for dep in candidates.deps}
    graph = actionhouse_defs.resolve_asset_graph()
    checks = {graph.get_check_spec(key).name: graph.get_check_spec(key) for key in graph.asset_check_keys}
    for name in ("no_suppressed_targets", "caps_respected", "actions_explained", "customer_facing_approved"):
        assert checks[name].blocking and checks[name].asset_key == planner.key


def test_decision_log_is_upstream_of_the_outcome_marts(actionhouse_defs):
    """The queue's copy (raw/decision_log, no upstream: no cycle through the planner) feeds the decisions staging
    model, and through it the outcome and lift marts, in the same refresh."""
    graph = actionhouse_defs.resolve_asset_graph()
    decision_log = dg.AssetKey(["raw", "decision_log"])
    assert not graph.get(decision_log).parent_keys
    downstream, frontier = set(), [decision_log]
    while frontier:
        for child in graph.get(frontier.pop()).child_keys:
            if child not in downstream:
                downstream.add(child)
                frontier.append(child)
    assert dg.AssetKey(["staging", "stg_actionhouse__decisions"]) in downstream
    for mart in ("fct_outcome_events", "fct_workflow_outcomes", "fct_lift_decisions", "fct_workflow_lift"):
        assert dg.AssetKey(["marts", mart]) in downstream, mart
    assert dg.AssetKey(["console", "publication"]) in downstream  # the console's workflows page shows the lift
    job = actionhouse_defs.resolve_job_def("refresh_warehouse")
    assert decision_log in job.asset_layer.executable_asset_keys


@pytest.mark.parametrize(
    ("copy", "computed_after_dbt"),
    [("lead_tiers", ["ml", "lead_scores"]), ("reply_classes", ["ml", "reply_classifications"])],
)
def test_ml_copies_are_upstream_of_the_outcome_marts_not_downstream_of_the_ml_assets(
    actionhouse_defs, copy, computed_after_dbt
):
    """The copies of what the ml assets computed (raw/lead_tiers: first tiers; raw/reply_classes: reply classes)
    have no upstream, so the outcome marts read the previous refreshes' results in the same refresh without a cycle
    through the ml assets (which run after dbt)."""
    graph = actionhouse_defs.resolve_asset_graph()
    key = dg.AssetKey(["raw", copy])
    assert not graph.get(key).parent_keys
    assert dg.AssetKey(["staging", f"stg_actionhouse__{copy}"]) in graph.get(key).child_keys
    upstream, frontier = set(), [dg.AssetKey(["marts", "fct_outcome_events"])]
    while frontier:
        for parent in graph.get(frontier.pop()).parent_keys:
            if parent not in upstream:
                upstream.add(parent)
                frontier.append(parent)
    assert key in upstream and dg.AssetKey(computed_after_dbt) not in upstream
    assert dg.AssetKey(["staging", "stg_email__reply_labels"]) in upstream  # hand labels win over reply classes
    assert key in actionhouse_defs.resolve_job_def("refresh_warehouse").asset_layer.executable_asset_keys


def test_with_a_crm_the_syncs_sit_downstream_of_scores_and_queue(dbt_manifest, monkeypatch):
    """Reverse ETL exists only with a CRM; field sync after the scores, action sync after the queue's checks, the
    sync log after both; the approvals sensor runs the action sync alone, outside the warehouse's one-writer lane."""
    from orchestration.definitions import defs

    monkeypatch.setenv("ACTIONHOUSE_CRM_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ACTIONHOUSE_CRM_TOKEN", "unused")
    loaded = defs()
    specs = {spec.key: spec for spec in loaded.resolve_all_asset_specs()}

    def deps(*path: str) -> set:
        return {dep.asset_key for dep in specs[dg.AssetKey(list(path))].deps}

    assert dg.AssetKey(["ml", "lead_scores"]) in deps("reverse_etl", "hubspot_field_sync")
    assert dg.AssetKey(["actions", "proposals"]) in deps("reverse_etl", "hubspot_action_sync")
    assert {
        dg.AssetKey(["reverse_etl", "hubspot_field_sync"]),
        dg.AssetKey(["reverse_etl", "hubspot_action_sync"]),
    } <= deps("reverse_etl", "sync_log")
    assert dg.AssetKey(["crm_api", "hubspot_tasks"]) in specs  # tasks and notes come back through the API
    sensor = loaded.resolve_sensor_def("approved_actions")
    job = loaded.resolve_job_def(sensor.job_name)
    assert job.asset_layer.executable_asset_keys == {dg.AssetKey(["reverse_etl", "hubspot_action_sync"])}
    assert "actionhouse/warehouse" not in job.tags
    graph = loaded.resolve_asset_graph()
    checks = [graph.get_check_spec(k) for k in graph.asset_check_keys]
    assert any(c.name == "sent_only_approved" and c.blocking for c in checks)


def test_the_operational_store_url_is_read_at_run_time_never_kept_in_config(monkeypatch):
    # The URL can hold a database password: the resources keep the variable's name, resolved at run time.
    from orchestration.defs.crm.resources import CrmResource
    from orchestration.resources import OpsStoreResource

    monkeypatch.setenv("ACTIONHOUSE_OPS_DB", "postgresql+psycopg://actionhouse:s3cret@127.0.0.1:5432/ops")
    monkeypatch.setenv("ACTIONHOUSE_CRM_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ACTIONHOUSE_CRM_TOKEN", "t")
    for value in (CrmResource.from_environment().ops_db_url, OpsStoreResource.from_environment().url):
        assert isinstance(value, dg.EnvVar) and value.env_var_name == "ACTIONHOUSE_OPS_DB"
