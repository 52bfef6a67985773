"""The dbt step's table metadata for many tables at once is what it was table by table."""

from __future__ import annotations

import duckdb

from orchestration.metadata import table_metadata, tables_metadata


def test_tables_metadata_equals_table_metadata_of_each_table():
    con = duckdb.connect()
    con.execute("create schema staging; create schema marts")
    con.execute("create table staging.contacts (id integer, email varchar, seen_at timestamp)")
    con.execute("insert into staging.contacts select i, 'x' || i, now() from range(5) t(i)")
    con.execute("create table marts.contacts (id bigint, score double, tags varchar[])")  # same name, other schema
    con.execute("insert into marts.contacts values (1, 0.5, ['a'])")
    con.execute("create table marts.empty (z decimal(10, 2), a varchar)")  # columns not in name order
    con.execute("create view marts.contact_ids as select id from staging.contacts")
    relations = [
        "memory.staging.contacts",
        '"memory"."marts"."contacts"',
        "marts.empty",
        "memory.marts.contact_ids",
        "memory.staging.contacts",  # twice, as a model and its test's output can name one table
    ]
    batched = tables_metadata(con, relations)
    assert set(batched) == set(relations)
    for relation in relations:
        assert batched[relation] == table_metadata(con, relation)
    assert batched["memory.staging.contacts"]["dagster/row_count"] == 5
    assert [c.name for c in batched["marts.empty"]["dagster/column_schema"].columns] == ["z", "a"]
    assert tables_metadata(con, []) == {}
