"""A failing blocking gate stops everything downstream; a passing one lets it run."""

from __future__ import annotations

import dagster as dg
import duckdb

from landing.schema import ensure_raw_schema
from orchestration.defs.ingest.assets import load_landing_files
from orchestration.defs.quality.checks import raw_quality_gates

CONTACTS_EXPORT = "Record ID,First Name,Last Name,Email\n101,Ana,Lopez,ana@acme.io\n102,Bo,Chen,bo@acme.io\n"


@dg.asset(deps=[dg.AssetKey(["raw", "hubspot_contacts"])])
def downstream_of_contacts() -> int:
    """Stands in for the staging model that reads the raw contacts."""
    return 1


def _run(warehouse):
    return dg.materialize(
        [load_landing_files, raw_quality_gates, downstream_of_contacts],
        resources={"warehouse": warehouse},
        selection=[dg.AssetKey(["raw", "hubspot_contacts"]), downstream_of_contacts.key],
        raise_on_error=False,
    )


def _drop_export(warehouse):
    folder = f"{warehouse.landing_dir}/hubspot_contacts"
    import os

    os.makedirs(folder, exist_ok=True)
    with open(f"{folder}/export.csv", "w") as handle:
        handle.write(CONTACTS_EXPORT)


def test_passing_gate_lets_downstream_run(warehouse):
    _drop_export(warehouse)
    result = _run(warehouse)
    assert result.success
    evaluations = result.get_asset_check_evaluations()
    assert evaluations and all(e.passed for e in evaluations)
    assert result.is_node_success("downstream_of_contacts")


def test_failing_gate_stops_downstream(warehouse):
    _drop_export(warehouse)
    # A row that did not come through the loader (no record id) sits in the raw table.
    con = duckdb.connect(warehouse.database_path)
    ensure_raw_schema(con)
    con.execute("insert into raw.hubspot_contacts (first_name, _source_file, _source_line) values ('X', 'manual', 1)")
    con.close()

    result = _run(warehouse)
    evaluations = result.get_asset_check_evaluations()
    assert any(not e.passed and e.check_name == "gate_raw_hubspot_contacts" for e in evaluations)
    assert not result.is_node_success("downstream_of_contacts")
    materialized = {e.asset_key for e in result.get_asset_materialization_events() if e.asset_key}
    assert downstream_of_contacts.key not in materialized

    con = duckdb.connect(warehouse.database_path, read_only=True)
    stored = con.execute(
        "select count(*) from quality.expectation_results where suite = 'raw_hubspot_contacts' and not success"
    ).fetchone()[0]
    con.close()
    assert stored == 1


def _contacts_gate_evaluation(result):
    return next(e for e in result.get_asset_check_evaluations() if e.check_name == "gate_raw_hubspot_contacts")


def test_raw_gate_checks_only_new_rows_and_keeps_failing_until_fixed(warehouse):
    _drop_export(warehouse)
    first = _contacts_gate_evaluation(_run(warehouse))
    assert first.passed and first.metadata["rows_checked"].value == 2

    # Nothing new: the rows that passed are not validated again.
    second = _contacts_gate_evaluation(_run(warehouse))
    assert second.passed and second.metadata["rows_checked"].value == 0

    # A bad row arrives later: the gate fails, and fails again next run until the row is dealt with.
    con = duckdb.connect(warehouse.database_path)
    con.execute(
        "insert into raw.hubspot_contacts (record_id, _source_file, _source_line, _loaded_at) "
        "values ('not-a-number', 'manual', 1, now()::timestamp + interval 1 minute)"
    )
    con.close()
    assert not _contacts_gate_evaluation(_run(warehouse)).passed
    assert not _contacts_gate_evaluation(_run(warehouse)).passed


def test_dagster_run_storage_keeps_no_contact_values(warehouse, tmp_path):
    """Issue 18 row 10: raw-table metadata and failing-gate examples reach Dagster's run storage only as counts,
    schemas and masked values. Here a row written by another tool carries a contact's email in the record id
    column (the gate's failing example) and a phone; every file of the Dagster home is searched for them."""
    from evaluation.fault_scenarios_pipeline import contact_values_found

    _drop_export(warehouse)
    con = duckdb.connect(warehouse.database_path)
    ensure_raw_schema(con)
    con.execute(
        "insert into raw.hubspot_contacts (record_id, email, phone_number, _source_file, _source_line) "
        "values ('carla.diaz@example.org', 'carla.diaz@example.org', '+44 20 7946 0958', 'another-tool', 1)"
    )
    con.close()
    home = tmp_path / "dagster_home"
    home.mkdir()
    with dg.DagsterInstance.local_temp(str(home)) as instance:
        result = dg.materialize(
            [load_landing_files, raw_quality_gates, downstream_of_contacts],
            resources={"warehouse": warehouse},
            selection=[dg.AssetKey(["raw", "hubspot_contacts"]), downstream_of_contacts.key],
            raise_on_error=False,
            instance=instance,
        )
    gate = _contacts_gate_evaluation(result)
    assert not gate.passed
    # The engineer still sees which expectation failed, on which column, how often, and masked examples.
    shown = gate.metadata["results"].value
    assert "record_id" in shown and "FAIL" in shown and "c***@e***.org" in shown
    load = next(e for e in result.get_asset_materialization_events() if e.asset_key == gate.asset_key)
    materialized = load.materialization.metadata
    assert materialized["dagster/row_count"].value == 3
    assert "email" in {c.name for c in materialized["dagster/column_schema"].value.columns}
    values = {"ana@acme.io", "bo@acme.io", "carla.diaz@example.org", "+44 20 7946 0958", "Lopez"}
    found, files = contact_values_found(home, values)
    assert files > 1 and found == set()


def test_one_masking_helper_keeps_the_shape_not_the_value():
    from orchestration.metadata import mask_text, mask_value

    assert mask_value("Ana.Lopez@Example.io") == "A***@E***.io"
    assert mask_value("bo@example.co.uk") == "b***@e***.uk"
    assert mask_value("+1 (415) 555-0100") == "+***00"
    assert mask_value("Lopez") == "L***" and mask_value("Al") == "***" and mask_value(None) is None
    # A rejected file's reason quotes its header; without a header that is a row of contact data.
    reason = "c.csv: missing required column 'Record ID' (header has: Ana, ana@acme.io, +14155550100, Email)"
    assert mask_text(reason) == (
        "c.csv: missing required column 'Record ID' (header has: A***, a***@a***.io, +***00, Email)"
    )
    progress = "hubspot_contacts/export-2026-11-22.csv: 2 rows"
    assert mask_text(progress) == progress
