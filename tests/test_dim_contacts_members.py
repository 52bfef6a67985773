"""`dim_contacts` gathers its junk reasons from the non-empty lists alone (most records' lists are empty): the same
`junk_reasons` as flattening every record's list, `[]` (never NULL) for a contact with none, on the hard cases
(empty and NULL lists, a record with no junk row, a NULL reason in a list, a reason repeated across records)."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import jinja2

MODEL = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "marts" / "entities" / "dim_contacts.sql"

# Before the filter: every record's list flattened.
REFERENCE = """
select c.golden_contact_id, coalesce(bool_or(j.is_junk), false) as is_junk,
       list_sort(list_distinct(flatten(list(j.junk_reasons)))) as junk_reasons
from int_entities__contact_clusters as c
left join int_entities__contact_junk as j using (record_id)
group by c.golden_contact_id
"""


def _members_sql() -> str:
    """The model's `members` CTE, its refs rendered as bare table names."""
    body = re.search(r"with members as \((.*?)\n\),\n", MODEL.read_text(), re.S)
    assert body, "the members CTE of dim_contacts"
    return jinja2.Template(body.group(1)).render(ref=lambda name: name)


def test_junk_reasons_from_non_empty_lists_equal_every_list_flattened():
    con = duckdb.connect()
    con.execute(
        "create table int_entities__contact_clusters as select * from (values"
        " (1, 10, 1, 0), (2, 10, 1, 0), (3, 10, 1, 0),"  # a junk record beside an empty list and a NULL list
        " (4, 20, 1, 0), (5, 20, 2, 1),"  # two empty lists: []
        " (6, 30, 1, 0),"  # no junk row at all: []
        " (7, 40, 1, 0), (8, 40, 1, 0),"  # the same reason twice, a NULL reason inside a list
        " (9, 50, 1, 0)"  # a NULL list flagged junk
        ") as t(record_id, golden_contact_id, employer_domain_count, unbridged_domain_count)"
    )
    con.execute(
        "create table int_entities__contact_junk as select * from (values"
        " (1, true, ['keyboard_mash', 'test_domain']), (2, false, []), (3, false, null),"
        " (4, false, []), (5, false, []),"
        " (7, true, ['keyboard_mash']), (8, true, ['test_domain', null, 'keyboard_mash']),"
        " (9, true, null)"
        ") as t(record_id, is_junk, junk_reasons)"
    )
    members = con.execute(
        f"select golden_contact_id, is_junk, junk_reasons from ({_members_sql()}) order by golden_contact_id"
    ).fetchall()
    reference = con.execute(f"select * from ({REFERENCE}) order by golden_contact_id").fetchall()
    assert members == reference
    assert [row[2] for row in members] == [
        ["keyboard_mash", "test_domain"],
        [],
        [],
        ["keyboard_mash", "test_domain"],
        [],
    ]
