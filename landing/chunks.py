"""Python dbt models in bounded chunks: memory follows the chunk, not the table.

A dbt Python model that reads a whole table into polars, computes on it and returns the result holds the input,
its intermediate frames and the output at once: at a million contacts that was most of the dbt process's ~11 GB
(DuckDB itself is capped by `landing.warehouse.limit_memory`). A model whose rows split into independent groups
(a golden contact's field candidates, a candidate pair) instead computes one chunk of groups at a time and returns
`stream_frames(...)`: a pyarrow RecordBatchReader that dbt-duckdb's `create table ... as select * from <reader>`
drains, the chunks computed as it reads. dbt-duckdb reads a returned arrow object on a cursor of its own, so the
model may query its session while the reader is drained; only one chunk's frames (two when computed ahead) and
DuckDB's buffers are alive at any time.

`chunk_bounds` cuts an ordered sequence of groups (with a row count each) into contiguous slices of about
`ROWS_PER_CHUNK` rows, never splitting a group, so a model that sorts its groups and keeps each chunk sorted writes
exactly the rows, in the order, of one pass over everything.

A model may have the next chunk computed on a thread of its own while DuckDB writes the last one
(`stream_frames(..., compute_ahead=True)`): the chunks' polars and pyarrow work and DuckDB's insert mostly run
outside the GIL, so on two cores the two overlap instead of taking turns. The frames, their order and what is
written are the same; one more chunk is held meanwhile.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import polars as pl
import pyarrow as pa

# Rows a chunk holds at most (input rows of the groups it computes): ~250k field candidates or candidate pairs are
# a few hundred MB of polars frames with their intermediates, whatever the size of the table.
ROWS_PER_CHUNK = 250_000


def chunk_bounds(rows: Sequence[int] | pl.Series, rows_per_chunk: int = ROWS_PER_CHUNK) -> list[tuple[int, int]]:
    """Contiguous [start, end) slices of groups, in order, never splitting a group: chunk k holds the groups whose
    first row falls in rows [k * rows_per_chunk, (k + 1) * rows_per_chunk) of the whole (`rows`: one row count per
    group), so a chunk holds at most `rows_per_chunk` rows plus its last group's. Always at least one slice ((0, 0)
    for no groups): a model streaming its chunks always yields a frame, which gives the table its columns."""
    if rows_per_chunk < 1:
        raise ValueError(f"rows_per_chunk must be at least 1, got {rows_per_chunk}")
    counts = np.asarray(rows.to_numpy() if isinstance(rows, pl.Series) else rows, dtype=np.int64)
    if counts.size == 0:
        return [(0, 0)]
    chunk = (np.cumsum(counts) - counts) // rows_per_chunk
    starts = np.flatnonzero(np.diff(chunk, prepend=chunk[0] - 1))
    ends = np.append(starts[1:], counts.size)
    return [(int(start), int(end)) for start, end in zip(starts, ends, strict=True)]


def _conformed(frame: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    """`frame` with exactly `schema`'s columns and types (a column it lacks is all null, as a diagonal concat
    of the chunks would leave it)."""
    extra = set(frame.columns) - set(schema)
    untyped = [n for n, t in schema.items() if t == pl.Null and n in frame.columns and frame.schema[n] != pl.Null]
    if extra or untyped:
        raise ValueError(f"a chunk's columns differ from the first chunk's: {sorted(extra) or untyped}")
    return frame.select(
        pl.col(name).cast(dtype) if name in frame.columns else pl.lit(None, dtype=dtype).alias(name)
        for name, dtype in schema.items()
    )


def _computed_ahead(items: Iterator[pa.Table]) -> tuple[Iterator[pa.Table], Callable[[], None]]:
    """The items of `items` in order, each computed on a thread of its own, started now, while the caller uses the
    last one (at most one finished item waits); and the function that stops that thread (call it once done, also
    when stopping early: the thread stops after the item it is computing, and closes `items`). An error raised
    computing an item is raised to the caller in its place."""
    finished = object()
    ready: queue.Queue = queue.Queue(maxsize=1)
    stopped = threading.Event()

    def hand_over(entry: tuple) -> bool:
        while not stopped.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def compute() -> None:
        try:
            for item in items:
                if not hand_over((item, None)):
                    return
                del item  # not held here once handed over
            hand_over((finished, None))
        except BaseException as error:  # raised in the caller's thread
            hand_over((finished, error))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    def results() -> Iterator[pa.Table]:
        while True:
            item, error = ready.get()
            if item is finished:
                if error is not None:
                    raise error
                return
            yield item
            del item

    def stop() -> None:
        stopped.set()
        thread.join()

    thread = threading.Thread(target=compute, name="stream_frames-ahead", daemon=True)
    thread.start()
    return results(), stop


def stream_frames(frames: Iterable[pl.DataFrame], compute_ahead: bool = False) -> pa.RecordBatchReader:
    """The frames, computed one at a time as they are read, as one arrow stream: what a chunked dbt Python model
    returns. The first frame fixes the columns and types (give an empty first frame its types); every later frame
    is cast to them (columns it lacks are null). `frames` must yield at least one frame (`chunk_bounds` always
    gives a chunk). Each frame is dropped once its batches are read.

    With `compute_ahead`, once the stream is first read the next frame is computed (and converted to arrow) on a
    thread while the reader writes the last one (`_computed_ahead`; `frames` is then advanced by that thread only):
    for a model whose chunks leave a core idle while DuckDB writes (golden fields at 1M: ~2 s less wall). Not the
    pairs: their scoring already keeps both cores busy, and computing ahead cost ~0.5 s more CPU at 1M for no
    wall measured (docs/scaling.md)."""
    iterator = iter(frames)
    try:
        first = next(iterator)
    except StopIteration:
        raise ValueError("stream_frames needs at least one frame (an empty one gives the columns)") from None
    schema = first.schema
    pending = [first.to_arrow()]
    del first
    arrow_schema = pending[0].schema

    def tables() -> Iterator[pa.Table]:
        for frame in iterator:
            table = _conformed(frame, schema).to_arrow().cast(arrow_schema)
            del frame  # not held while the next chunk is computed
            yield table
            del table

    def batches() -> Iterator[pa.RecordBatch]:
        if not compute_ahead:
            yield from pending.pop().to_batches()
            for table in tables():
                yield from table.to_batches()
                del table
            return
        later, stop = _computed_ahead(tables())  # started here: the next frame computes while the first is written
        try:
            yield from pending.pop().to_batches()
            for table in later:
                yield from table.to_batches()
                del table
        finally:
            stop()

    return pa.RecordBatchReader.from_batches(arrow_schema, batches())
