"""Survivorship per golden contact and field (rules in `matching.survivorship`), with provenance.

Incremental: each golden contact's candidates are summarized by an order-independent hash
(`candidates_hash`); a run draws survivors again only for the contacts whose hash changed or that are new, and
keeps every other contact's rows as they are (an hour changes a few contacts; survivorship over every contact cost
minutes at a million). Rows are replaced per contact (`delete+insert` on golden_contact_id); the post-hooks in the
YAML delete the placeholder row (NULL field_name) written for a changed contact left with no value at all, so it
cannot keep its old rows, and for a contact that no longer exists. A full refresh draws everything.

Every row a run writes carries `_written_at`, one instant of that run (bookkeeping, not published): the key test
(`unique_combination` given `written_at`) checks only the latest run's keys against the whole table on an hour,
and the console's publication hashes only the contacts whose stamps changed since it last published
(`console.publish.STAMPED`): rows are never changed but by a run that stamps them.
"""

from datetime import UTC, datetime
from itertools import chain

import polars as pl
import pyarrow as pa

from landing.chunks import ROWS_PER_CHUNK, chunk_bounds, stream_frames
from landing.warehouse import column_names
from matching.survivorship import CANDIDATE_COLUMNS, select_survivors

HASHED = ", ".join(CANDIDATE_COLUMNS[1:])
READ = ", ".join(f"c.{column}" for column in CANDIDATE_COLUMNS)


def _previous_hashes(dbt, session) -> str | None:
    """SQL of (golden_contact_id, candidates_hash) as the last run left them, or None when starting over. A table
    written before the hash was kept gives every contact a NULL hash: every contact is drawn again, and the gone
    ones are still found."""
    if not dbt.is_incremental:
        return None
    if "candidates_hash" not in column_names(session, dbt.this.schema, dbt.this.identifier):
        return f"select distinct golden_contact_id, cast(null as ubigint) as candidates_hash from {dbt.this}"
    return f"select distinct golden_contact_id, candidates_hash from {dbt.this}"


def _candidate_chunks(session, candidates: str, changed: pl.DataFrame, bounds: list[tuple[int, int]]):
    """Each chunk's candidate rows with their contact's `candidates_hash`, chunk after chunk, read in ONE pass.

    `changed` (entity_id, candidates_hash, candidate_rows) is sorted by entity_id and `bounds` cut it into chunks
    of whole contacts. The candidates table is not stored in contact order, so a query per chunk scanned the whole
    table each time (71 scans of 17.7M rows at a million contacts); one join sorted by contact is read instead, a
    batch at a time, and each chunk takes exactly its contacts' row counts from it."""
    view = "golden_fields__changed"
    cursor = session.cursor()  # a reader of its own: the session may be busy writing what this yields
    cursor.register(view, changed.select("entity_id", "candidates_hash").to_arrow())
    # Only the columns survivorship reads: the sort carries every column it is given, and the candidates' own
    # bookkeeping (`inputs_hash`, `_written_at`) was ~20% of its CPU at a million contacts, to be dropped after.
    reader = cursor.sql(
        f"select {READ}, h.candidates_hash from {candidates} as c inner join {view} as h using (entity_id) "
        "order by entity_id"
    ).to_arrow_reader(ROWS_PER_CHUNK)
    counts = changed["candidate_rows"].to_numpy()
    pending: list = []
    buffered = 0
    try:
        for start, end in bounds:
            need = int(counts[start:end].sum())
            while buffered < need:
                try:
                    batch = reader.read_next_batch()
                except StopIteration:
                    raise RuntimeError("golden fields: fewer candidates read back than counted") from None
                pending.append(batch)
                buffered += batch.num_rows
            table = pa.Table.from_batches(pending, schema=reader.schema)
            rows = pl.from_arrow(table.slice(0, need))
            rest = table.slice(need)
            pending, buffered = rest.to_batches(), rest.num_rows
            del table, rest
            if need and (rows["entity_id"][0], rows["entity_id"][-1]) != (
                changed["entity_id"][start],
                changed["entity_id"][end - 1],
            ):
                raise RuntimeError("golden fields: the candidates read back do not line up with their contacts")
            yield rows
    finally:
        cursor.close()


def _rows(changed: pl.DataFrame, written_at: datetime) -> pl.DataFrame:
    """The rows of a chunk of golden contacts (their candidates with the contact's `candidates_hash`), sorted:
    survivors, and a placeholder row for a changed contact with no value at all (deleted by the post-hook); each
    stamped `written_at`."""
    hashes_of_changed = changed.select("entity_id", "candidates_hash").unique()
    survivors = select_survivors(changed.select(CANDIDATE_COLUMNS)).join(hashes_of_changed, on="entity_id", how="left")
    emptied = hashes_of_changed.join(survivors.select("entity_id"), on="entity_id", how="anti")
    # Survivors come sorted by contact and field (never a NULL one: select_survivors drops those), and an emptied
    # contact has no survivor: merging the two by contact gives the order of sorting them together without sorting
    # the strings again.
    placeholders = pl.concat([survivors.clear(), emptied.sort("entity_id")], how="diagonal_relaxed")
    rows = survivors.merge_sorted(placeholders.select(survivors.columns), key="entity_id")
    return rows.rename({"entity_id": "golden_contact_id"}).with_columns(
        pl.lit(written_at, dtype=pl.Datetime("us")).alias("_written_at")
    )


def model(dbt, session):
    dbt.config(
        materialized="incremental",
        unique_key="golden_contact_id",
        incremental_strategy="delete+insert",
        on_schema_change="sync_all_columns",
    )
    candidates = f'({dbt.ref("int_entities__contact_field_candidates").sql_query()})'
    # The run's stamp (UTC, naive, as the candidates' `_written_at`): every row this run writes holds it, and a
    # later run's is larger, so the rows holding the table's largest stamp are the latest run's. The clock read
    # once when the model starts (a Python model has no `run_started_at`); a rebuild stamps every row alike.
    written_at = datetime.now(UTC).replace(tzinfo=None)
    hashes = (
        f"select entity_id, bit_xor(hash({HASHED})) as candidates_hash, count(*) as candidate_rows "
        f"from {candidates} group by entity_id"
    )
    previous = _previous_hashes(dbt, session)
    if previous is not None:
        # A full join: a previous contact without candidates now (merged into another) comes out of it too, with
        # no rows counted, and is written as a placeholder row alone (deleted by the post-hook with the others).
        # This replaces a second pass after the run, every stored row's id looked up among the ids of every
        # candidate row (17.7M at a million contacts).
        hashes = (
            "select coalesce(h.entity_id, p.golden_contact_id) as entity_id, h.candidates_hash, h.candidate_rows "
            f"from ({hashes}) as h full join ({previous}) as p on p.golden_contact_id = h.entity_id "
            "where h.entity_id is null or p.candidates_hash is distinct from h.candidates_hash"
        )
    # Golden contacts are independent: survivors are drawn for a chunk of contacts (in id order, whole contacts,
    # `landing.chunks.ROWS_PER_CHUNK` candidates at most) at a time and streamed to the table, so memory follows
    # the chunk, not the number of contacts. The rows and their order are those of one pass over every contact.
    changed = session.sql(hashes).pl().sort("entity_id")
    gone = changed.filter(pl.col("candidate_rows").is_null())
    changed = changed.filter(pl.col("candidate_rows").is_not_null())
    bounds = chunk_bounds(changed["candidate_rows"], int(dbt.config.get("rows_per_chunk") or ROWS_PER_CHUNK))
    frames = (_rows(chunk, written_at) for chunk in _candidate_chunks(session, candidates, changed, bounds))
    if gone.height:
        # Every other column NULL (`stream_frames` fills the columns a later frame lacks): field_name among them.
        frames = chain(frames, [gone.select(pl.col("entity_id").alias("golden_contact_id"))])
    # The next chunk's read and survivorship run while DuckDB writes the last (one core was idle meanwhile).
    return stream_frames(frames, compute_ahead=True)
