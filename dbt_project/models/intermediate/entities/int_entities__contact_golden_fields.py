"""Survivorship per golden contact and field (rules in `matching.survivorship`), with provenance.

Incremental: each golden contact's candidates are summarized by an order-independent hash
(`candidates_hash`); a run draws survivors again only for the contacts whose hash changed or that are new, and
keeps every other contact's rows as they are (an hour changes a few contacts; survivorship over every contact cost
minutes at a million). Rows are replaced per contact (`delete+insert` on golden_contact_id); the post-hooks in the
YAML delete contacts that no longer exist and the placeholder row (NULL field_name) written for a changed contact
left with no value at all, so it cannot keep its old rows. A full refresh draws everything.
"""

import polars as pl

from landing.chunks import ROWS_PER_CHUNK, chunk_bounds, stream_frames
from landing.warehouse import column_names
from matching.survivorship import CANDIDATE_COLUMNS, select_survivors

HASHED = ", ".join(CANDIDATE_COLUMNS[1:])


def _previous_hashes(dbt, session) -> str | None:
    """SQL of (golden_contact_id, candidates_hash) as the last run left them, or None when starting over."""
    if not dbt.is_incremental:
        return None
    if "candidates_hash" not in column_names(session, dbt.this.schema, dbt.this.identifier):
        return None
    return f"select distinct golden_contact_id, candidates_hash from {dbt.this}"


def _rows(session, candidates: str, hashes: pl.DataFrame) -> pl.DataFrame:
    """The rows of the golden contacts in `hashes` (entity_id, candidates_hash), sorted: survivors, and a
    placeholder row for a changed contact with no value left at all (deleted by the post-hook)."""
    chunk = "golden_fields__chunk"
    session.register(chunk, hashes.to_arrow())
    try:
        changed = session.sql(
            f"select c.*, h.candidates_hash from {candidates} as c inner join {chunk} as h using (entity_id) "
            "where c.entity_id between ? and ?",
            params=[hashes["entity_id"].min(), hashes["entity_id"].max()],
        ).pl()
    finally:
        session.unregister(chunk)
    hashes_of_changed = changed.select("entity_id", "candidates_hash").unique()
    survivors = select_survivors(changed.select(CANDIDATE_COLUMNS)).join(hashes_of_changed, on="entity_id", how="left")
    emptied = hashes_of_changed.join(survivors.select("entity_id"), on="entity_id", how="anti")
    rows = pl.concat([survivors, emptied], how="diagonal_relaxed").sort("entity_id", "field_name", nulls_last=True)
    return rows.rename({"entity_id": "golden_contact_id"})


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        unique_key="golden_contact_id",
        incremental_strategy="delete+insert",
        on_schema_change="sync_all_columns",
    )
    candidates = f'({dbt.ref("int_entities__contact_field_candidates").sql_query()})'
    hashes = (
        f"select entity_id, bit_xor(hash({HASHED})) as candidates_hash, count(*) as candidate_rows "
        f"from {candidates} group by entity_id"
    )
    previous = _previous_hashes(dbt, session)
    if previous is not None:
        hashes = (
            f"select h.* from ({hashes}) as h left join ({previous}) as p on p.golden_contact_id = h.entity_id "
            "where p.candidates_hash is distinct from h.candidates_hash"
        )
    # Golden contacts are independent: survivors are drawn for a chunk of contacts (in id order, whole contacts,
    # `landing.chunks.ROWS_PER_CHUNK` candidates at most) at a time and streamed to the table, so memory follows
    # the chunk, not the number of contacts. The rows and their order are those of one pass over every contact.
    changed = session.sql(hashes).pl().sort("entity_id")
    bounds = chunk_bounds(changed["candidate_rows"], int(dbt.config.get("rows_per_chunk") or ROWS_PER_CHUNK))
    changed = changed.drop("candidate_rows")
    return stream_frames(_rows(session, candidates, changed.slice(start, end - start)) for start, end in bounds)
