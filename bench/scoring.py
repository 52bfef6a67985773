"""Scoring benchmark: features -> scores -> reasons -> score log for 1M synthetic leads (`make bench-scoring`).

Generating the synthetic leads and training the scorer (on 50k leads) are not timed; the timed part is what an
hourly scoring run does: point-in-time features from raw events, fit/intent/combined scores, tiers, reason
codes in words, and appending the log rows (with the exact feature values) to a DuckDB table.
The last line is machine-readable: `bench-scoring leads=... seconds=... peak_rss_mb=...`.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import duckdb

from ml.config import load_config
from ml.features import build_features, conversion_labels
from ml.score_log import append_score_log
from ml.scoring import train_scorer
from ml.synthetic import synthetic_leads


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print timings per stage and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leads", type=int, default=1_000_000)
    parser.add_argument("--events-per-lead", type=float, default=8.0)
    args = parser.parse_args(argv)
    config = load_config()

    train = synthetic_leads(50_000, seed=1)
    train_features = build_features(train.contacts, train.events, train.signals, train.as_of, config)
    scorer = train_scorer(train_features, conversion_labels(train.contacts, train.outcomes, train.as_of, 30), config)
    data = synthetic_leads(args.leads, seed=2, events_per_lead=args.events_per_lead)
    print(
        f"input: {data.contacts.height:,} leads, {data.events.height:,} events, {data.signals.height:,} signals;"
        f" scorer {scorer.kind}; peak RSS before the timed part "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB"
    )

    with tempfile.TemporaryDirectory() as tmp:
        con = duckdb.connect(str(Path(tmp) / "bench.duckdb"))
        stages = {}
        t0 = time.perf_counter()
        features = build_features(data.contacts, data.events, data.signals, data.as_of, config)
        stages["features"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        log = scorer.score_log(features, run_id="bench")
        stages["scores+tiers+reasons"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        append_score_log(con, log, "ml.score_log")
        stages["append_log"] = time.perf_counter() - t2
        total = time.perf_counter() - t0
        rows = con.execute("select count(*) from ml.score_log").fetchone()[0]
        con.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for name, secs in stages.items():
        print(f"  {name:<36} {secs:6.1f}s")
    print(f"logged rows: {rows:,}; example reasons: {log['reasons'][0]}")
    print(f"bench-scoring leads={args.leads} seconds={total:.1f} peak_rss_mb={peak_mb:.0f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
