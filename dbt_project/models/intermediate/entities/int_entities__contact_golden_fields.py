"""Survivorship per golden contact and field (rules in `matching.survivorship`), with provenance."""

from matching.survivorship import select_survivors


def model(dbt, session):
    dbt.config(materialized="table")
    candidates = dbt.ref("int_entities__contact_field_candidates").pl()
    return select_survivors(candidates).rename({"entity_id": "golden_contact_id"}).to_arrow()
