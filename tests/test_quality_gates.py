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
