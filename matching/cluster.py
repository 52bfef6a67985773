"""Clustering of scored pairs into entities, guarded against transitive drift, with stable ids.

Edges are applied strongest first (ties broken by record ids, so the order is fixed); two clusters are
joined only when the join keeps every "cannot-link" attribute single-valued (a cluster never holds two
different LinkedIn profiles, nor two employer domains unless a personal identifier bridges them: a job
change, an acquisition) and the cluster stays small. A chain A~B~C where A and C conflict therefore stops
at the weaker link instead of pulling C in.
The golden id is derived from the smallest source record id of the cluster: the same input always
gives the same id, and adding newer records (higher ids) never renames an existing cluster.
"""

from __future__ import annotations

import numpy as np
import polars as pl

DEFAULT_MAX_CLUSTER_SIZE = 25


def cluster_pairs(
    record_ids: pl.Series,
    pairs: pl.DataFrame,
    cannot_link: pl.DataFrame | None = None,
    min_probability: float = 0.999,
    max_cluster_size: int = DEFAULT_MAX_CLUSTER_SIZE,
    id_prefix: str = "",
    bridgeable: tuple[str, ...] = (),
) -> pl.DataFrame:
    """Records + scored pairs -> one row per record: record_id, cluster_id, cluster_size, cluster_bridges.

    `pairs` needs left_id, right_id, match_probability; only pairs at or above `min_probability` link.
    `cannot_link` (optional) has record_id plus attribute columns; two clusters with different non-null
    values of any attribute are never joined, except for the `bridgeable` attributes over a pair whose
    `bridges` column is true (a personal identifier ties the two records: a person who changed employer
    keeps their LinkedIn profile and mobile). `cluster_bridges` counts such joins in the record's cluster.
    `cluster_id` is `id_prefix` + the smallest record id.
    """
    ids = record_ids.cast(pl.Int64).unique().sort().to_numpy()
    position = dict(zip(ids.tolist(), range(len(ids)), strict=True))
    # Python lists, not arrays: the loop below reads and writes single elements (numpy scalars cost more).
    parent = list(range(len(ids)))
    size = [1] * len(ids)
    bridges = [0] * len(ids)
    attributes: list[str] = [c for c in (cannot_link.columns if cannot_link is not None else []) if c != "record_id"]
    # Per cluster root: the set of non-null values of each cannot-link attribute (one value unless bridged).

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    edges = pairs.filter(pl.col("match_probability") >= min_probability).sort(
        ["match_probability", "left_id", "right_id"], descending=[True, False, False]
    )
    strong = edges["bridges"] if "bridges" in edges.columns else pl.Series([False] * edges.height)
    values: list[dict[str, frozenset]] = [{} for _ in ids]
    if cannot_link is not None and attributes:
        # Only records on a linking pair can ever be compared: their values are all that is read.
        linked = pl.concat([edges["left_id"], edges["right_id"]]).cast(pl.Int64).unique()
        rows = cannot_link.filter(pl.col("record_id").is_in(linked.implode()) & pl.col("record_id").is_in(ids.tolist()))
        for record_id, *row in rows.select("record_id", *attributes).iter_rows():
            values[position[int(record_id)]] = {
                a: frozenset([value]) for a, value in zip(attributes, row, strict=True) if value is not None
            }
    for left, right, bridge in zip(edges["left_id"], edges["right_id"], strong.fill_null(False), strict=True):
        if left not in position or right not in position:
            continue
        a, b = find(position[left]), find(position[right])
        if a == b or size[a] + size[b] > max_cluster_size:
            continue
        va, vb = values[a], values[b]
        conflicts = {k for k in va.keys() & vb.keys() if not va[k] & vb[k]}
        if conflicts and not (bridge and conflicts <= set(bridgeable)):
            continue
        # The smaller index (= smaller record id) stays the root, so the id never depends on edge order.
        root, child = (a, b) if a < b else (b, a)
        parent[child] = root
        size[root] += size[child]
        bridges[root] += bridges[child] + len(conflicts)
        values[root] = {k: va.get(k, frozenset()) | vb.get(k, frozenset()) for k in va.keys() | vb.keys()}
    # Every record's root, by pointer jumping over the whole forest at once (what `find` gives each record).
    roots = np.asarray(parent, dtype=np.int64)
    while True:
        jumped = roots[roots]
        if np.array_equal(jumped, roots):
            break
        roots = jumped
    cluster_min = ids[roots]
    frame = pl.DataFrame(
        {"record_id": ids, "cluster_root": cluster_min, "cluster_bridges": np.asarray(bridges, dtype=np.int64)[roots]}
    )
    frame = frame.with_columns(pl.len().over("cluster_root").alias("cluster_size"))
    return frame.select(
        "record_id",
        (pl.lit(id_prefix) + pl.col("cluster_root").cast(pl.String)).alias("cluster_id"),
        pl.col("cluster_size").cast(pl.Int64),
        pl.col("cluster_bridges").cast(pl.Int64),
    )
