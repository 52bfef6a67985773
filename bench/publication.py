"""Publication benchmark: the console's publication step alone over a warehouse scaled to `--contacts`.

`make bench` stops at 100k contacts on this machine; the publication is the step whose cost depended on the whole
warehouse each hour, so it is measured here at 1M without a 1M refresh. The warehouse a `make bench` run left
(`bench_data/build_100000/warehouse.duckdb`, after its next hour) is scaled in a scratch folder
(`bench_data/publication_<contacts>/`): every table the publication reads is copied, and the contact-keyed ones
(golden records, golden fields, crosswalk, lead scores, score log) are copied with new ids up to `--contacts`
golden contacts, the way `bench/console.py` scales a publication; the score log gets `--runs` scoring runs.
Then:

1. a publication from scratch (`ACTIONHOUSE_CONSOLE_REBUILD_EVERY=1`: what every publication did before the
   publication was updated in place, bar the bounded score history);
2. `--hours` times: an hour's delta in the warehouse (`--changed` of the golden contacts get a changed golden
   record and golden fields, every contact a new scoring run) and the next publication, updated in a copy of
   the previous one.

After each publication the lead page's reads (`console.queries.lead`) are timed for `--lookups` random leads.
Prints one line per publication, `bench-publication kind=scratch|hourly contacts=… seconds=… lead_p95_ms=…
size_mb=… updated=…`.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import time
from pathlib import Path

import duckdb
import numpy as np

from console import queries
from console.publish import publish
from console.reader import PublicationReader
from console.settings import REBUILD_EVERY_ENV

REPO = Path(__file__).resolve().parents[1]
# Inputs copied with new ids: table -> contact column.
SCALED = {
    "marts.dim_contacts": "golden_contact_id",
    "intermediate.int_entities__contact_golden_fields": "golden_contact_id",
    "marts.contact_crosswalk": "golden_contact_id",
    "ml.lead_scores": "contact_id",
}


def say(message: str) -> None:
    print(f"[bench-publication] {message}", file=sys.stderr, flush=True)


def scale_warehouse(base: Path, target: Path, contacts: int, runs: int) -> int:
    """A warehouse with `contacts` golden contacts copied from `base`'s, and `runs` scoring runs in its log."""
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"attach '{base}' as base (read_only)")
        n = con.execute("select count(*) from base.marts.dim_contacts").fetchone()[0]
        copies = math.ceil(contacts / n)
        con.execute(
            f"""create temp table idmap as
            select b.golden_contact_id as src,
                   case when r.i = 0 then b.golden_contact_id else b.golden_contact_id || '-c' || r.i end as dst
            from (select golden_contact_id, row_number() over (order by golden_contact_id) as rn
                  from base.marts.dim_contacts) b, range({copies}) r(i)
            where r.i * {n} + b.rn <= {contacts}"""
        )
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'base' "
            "union all select schema_name, view_name from duckdb_views() where database_name = 'base' "
            "and not internal"
        ).fetchall()
        for schema, name in tables:
            con.execute(f"create schema if not exists {schema}")
            table = f"{schema}.{name}"
            if table == "ml.score_log":
                continue
            column = SCALED.get(table)
            if column is None:
                con.execute(f"create table {table} as select * from base.{table}")
            else:
                con.execute(
                    f"create table {table} as select t.* replace (m.dst as {column}) "
                    f"from base.{table} t join idmap m on m.src = t.{column}"
                )
        # The log: the latest run of every scaled contact, `runs` times an hour apart (the earliest first).
        con.execute(
            f"""create table ml.score_log as
            select s.* replace ('bench-run-' || lpad(h.i::varchar, 4, '0') as run_id,
                                s.scored_at - to_hours({runs} - 1 - h.i) as scored_at)
            from ml.lead_scores s, range({runs}) h(i)"""
        )
        total = con.execute("select count(*) from marts.dim_contacts").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    return total


def next_hour(warehouse: Path, hour: int, changed: float) -> None:
    """An hour's delta: `changed` of the golden contacts get a new golden record and golden fields (their job
    title), every contact a new scoring run."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute(
            f"""create temp table delta as select golden_contact_id from marts.dim_contacts
            where hash(golden_contact_id, {hour}) % 10000 < {int(changed * 10000)}"""
        )
        con.execute(
            f"update marts.dim_contacts set job_title = coalesce(job_title, '') || ' {hour}' "
            "where golden_contact_id in (select golden_contact_id from delta)"
        )
        con.execute(
            f"update intermediate.int_entities__contact_golden_fields set value = coalesce(value, '') || ' {hour}' "
            "where field_name = 'job_title' and golden_contact_id in (select golden_contact_id from delta)"
        )
        con.execute(
            f"""insert into ml.score_log select * replace ('bench-run-h{hour:04d}' as run_id,
                   (select max(scored_at) from ml.score_log) + interval 1 hour as scored_at)
            from ml.lead_scores"""
        )
        con.execute(
            "create or replace table ml.lead_scores as select * from ml.score_log "
            f"where run_id = 'bench-run-h{hour:04d}'"
        )
        con.execute("checkpoint")
    finally:
        con.close()


def lead_lookups(publication: Path, lookups: int, seed: int) -> float:
    """p95 in ms of the lead page's reads for `lookups` random leads."""
    rng = np.random.default_rng(seed)
    reader = PublicationReader(publication)
    try:
        cur = reader.cursor()
        total = cur.execute("select count(*) from scores").fetchone()[0]
        picks = sorted({int(i) for i in rng.integers(0, total, lookups)})
        ids = [
            r[0]
            for r in cur.execute(
                "select contact_id from (select contact_id, row_number() over () - 1 as i from scores) "
                f"where i in ({', '.join(map(str, picks))})"
            ).fetchall()
        ]
        times = []
        for contact_id in ids:
            started = time.perf_counter()
            queries.lead(reader.cursor(), contact_id)
            times.append((time.perf_counter() - started) * 1000)
        return float(np.percentile(times, 95))
    finally:
        reader.close()


def timed_publish(warehouse: Path, target: Path, kind: str, lookups: int, seed: int) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        report = publish(con, target, run_id=f"bench-{kind}")
    finally:
        con.close()
    p95 = lead_lookups(target, lookups, seed)
    updated = ",".join(f"{k}:{v}" for k, v in {**report.updated, **report.rescored}.items()) or "-"
    print(
        f"bench-publication kind={kind} contacts={report.rows.get('contacts', 0)} seconds={report.seconds:.1f} "
        f"lead_p95_ms={p95:.1f} size_mb={target.stat().st_size / 1e6:.0f} "
        f"history_rows={report.rows.get('score_history', 0)} updated={updated}",
        flush=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=30, help="scoring runs in the scaled score log")
    parser.add_argument("--hours", type=int, default=3, help="hourly publications after the one from scratch")
    parser.add_argument("--changed", type=float, default=0.01, help="share of golden contacts changed per hour")
    parser.add_argument("--lookups", type=int, default=200, help="leads whose page reads are timed")
    parser.add_argument("--base", type=Path, default=REPO / "bench_data" / "build_100000" / "warehouse.duckdb")
    args = parser.parse_args(argv)
    if not args.base.exists():
        say(f"no warehouse at {args.base}: run `make bench` first")
        return 2
    work = REPO / "bench_data" / f"publication_{args.contacts}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    warehouse, target = work / "warehouse.duckdb", work / "publication.duckdb"
    started = time.perf_counter()
    total = scale_warehouse(args.base, warehouse, args.contacts, args.runs)
    say(f"warehouse scaled to {total:,} golden contacts, {args.runs} runs, in {time.perf_counter() - started:.1f} s")
    previous = os.environ.get(REBUILD_EVERY_ENV)
    os.environ[REBUILD_EVERY_ENV] = "1"
    try:
        timed_publish(warehouse, target, "scratch", args.lookups, 1)
    finally:
        if previous is None:
            os.environ.pop(REBUILD_EVERY_ENV)
        else:
            os.environ[REBUILD_EVERY_ENV] = previous
    for hour in range(1, args.hours + 1):
        next_hour(warehouse, hour, args.changed)
        timed_publish(warehouse, target, "hourly", args.lookups, 1 + hour)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
