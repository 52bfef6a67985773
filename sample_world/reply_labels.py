"""Replies SDRs already triaged by hand: the landing source `email_reply_labels` (JSON lines).

About `LABELLED_SHARE` of the email replies carry a label an SDR set in the sending tool's inbox, some hours
after the reply arrived; a label set after the world's clock is not exported yet. Labels are the true reply
classes (SDR triage is taken as correct). The selection and timing come from a hash of (seed, event id), not
from the world's random streams, so adding this source leaves every other landing file byte-identical.
"""

from __future__ import annotations

import hashlib

import numpy as np
import polars as pl

from . import vocab as V
from .util import HOUR, ts_iso

LABELLED_SHARE = 0.4
MEDIAN_TRIAGE_HOURS = 6.0


def _uniforms(seed: int, event_ids: list[str]) -> np.ndarray:
    """Three deterministic uniforms in [0, 1) per event id (selection, delay, SDR)."""
    out = np.empty((len(event_ids), 3))
    for i, event_id in enumerate(event_ids):
        digest = hashlib.blake2b(f"{seed}:{event_id}".encode(), digest_size=24).digest()
        for j in range(3):
            out[i, j] = int.from_bytes(digest[8 * j : 8 * j + 8], "big") / 2**64
    return out


def reply_labels(events: pl.DataFrame, replies: pl.DataFrame, now: int, seed: int) -> pl.DataFrame:
    """Hand labels for a share of `replies` (truth: `event_id`, `true_class`), as landing rows.

    `events`: the landing email events (`event_id`, `message_id`, `timestamp` ISO); `now`: epoch seconds of the
    export. Returns `event_id`, `message_id`, `label`, `labelled_by`, `labelled_at` (ISO 8601 UTC).
    """
    schema = {"event_id": pl.String, "message_id": pl.String, "label": pl.String, "labelled_by": pl.String,
              "labelled_at": pl.String}
    if replies.is_empty():
        return pl.DataFrame(schema=schema)
    ids = replies["event_id"].to_list()
    u = _uniforms(seed, ids)
    # Log-normal triage delay around the median, at least 5 minutes.
    delay = np.maximum(300, MEDIAN_TRIAGE_HOURS * HOUR * np.exp(1.0 * _normal_from_uniform(u[:, 1]))).astype(np.int64)
    sdrs = [name for name, _ in V.OWNERS]
    sdr = (u[:, 2] * len(sdrs)).astype(np.int64)
    picked = replies.select("event_id", "true_class").with_columns(
        _pick=pl.Series(u[:, 0] < LABELLED_SHARE), _delay=pl.Series(delay),
        labelled_by=pl.Series([sdrs[i] for i in sdr], dtype=pl.String),
    ).filter("_pick")
    sent = events.select(
        "event_id", "message_id",
        pl.col("timestamp").str.to_datetime("%Y-%m-%dT%H:%M:%SZ", time_unit="ms").dt.epoch("s").alias("_t"),
    )
    return (
        picked.join(sent, on="event_id", how="inner")
        .with_columns((pl.col("_t") + pl.col("_delay")).alias("_labelled"))
        .filter(pl.col("_labelled") < now)
        .sort("_labelled", "event_id")
        .select("event_id", "message_id", pl.col("true_class").alias("label"), "labelled_by",
                ts_iso("_labelled").alias("labelled_at"))
        .cast(schema)
    )


def _normal_from_uniform(u: np.ndarray) -> np.ndarray:
    """Approximate standard normal quantiles of uniforms (the logistic approximation is plenty for delays)."""
    u = np.clip(u, 1e-9, 1 - 1e-9)
    return np.log(u / (1 - u)) / 1.702
