"""The score log's run lookups (`latest_publishable_run_id`, `prune_score_log`) give what grouping every row by run
gives, while grouping only the oldest runs' rows of a log that holds many (a week of hourly runs)."""

import json
from datetime import datetime, timedelta

import duckdb
import numpy as np

from ml.pipeline import RUN_VERDICTS_TABLE, latest_publishable_run_id
from ml.score_log import prune_score_log

LOG = "ml.score_log"
T0 = datetime(2026, 6, 1, 12)


def _publishable_by_grouping(con) -> str | None:
    """The lookup as it was: every run's latest time from all of its rows, joined with its latest verdict."""
    rows = con.execute(
        f"""
        with judged as (select run_id, arg_max(verdict, judged_at) as verdict from {RUN_VERDICTS_TABLE} group by run_id)
        select l.run_id from (select run_id, max(scored_at) as scored_at from {LOG} group by run_id) l
        join judged j using (run_id) where j.verdict in ('ok', 'warn') order by l.scored_at desc limit 1
        """
    ).fetchall()
    return rows[0][0] if rows else None


def _old_runs_by_grouping(con, days: float) -> list[tuple]:
    """The runs the pruning used to find: every run grouped, its latest time before the cut-off."""
    return con.execute(
        f"""
        select run_id, count(*) from {LOG} group by run_id
        having max(scored_at) < (select max(scored_at) from {LOG}) - to_microseconds(cast(? as bigint))
        order by run_id
        """,
        [round(days * 86_400 * 1_000_000)],
    ).fetchall()


def _log(con) -> None:
    con.execute("create schema if not exists ml")
    con.execute(f"create table {LOG} (run_id varchar, contact_id varchar, scored_at timestamp)")
    con.execute(f"create table {RUN_VERDICTS_TABLE} (run_id varchar, verdict varchar, judged_at timestamptz)")


def _add_run(con, run_id, hours: float, leads: int = 3, null_times: int = 0) -> None:
    times = [T0 + timedelta(hours=hours, seconds=-i) for i in range(leads)] + [None] * null_times
    con.executemany(f"insert into {LOG} values (?, ?, ?)", [(run_id, f"c{i}", t) for i, t in enumerate(times)])


def _judge(con, run_id, verdict: str, at: float) -> None:
    con.execute(f"insert into {RUN_VERDICTS_TABLE} values (?, ?, ?)", [run_id, verdict, T0 + timedelta(hours=at)])


def test_latest_publishable_run_is_the_one_grouping_every_run_finds():
    con = duckdb.connect()
    assert latest_publishable_run_id(con) is None  # no log, no verdicts
    _log(con)
    assert latest_publishable_run_id(con) is None
    for hour in range(12):
        _add_run(con, f"r{hour:02d}", hour, null_times=hour % 3 == 0)
    _add_run(con, None, 20)  # rows without a run id: never judged, never published
    _add_run(con, "timeless", 0, leads=0, null_times=2)  # a run without any time: last in the order
    steps = [
        ("r00", "ok"),
        ("r03", "warn"),
        ("r11", "block"),  # the newest run blocked: the next one down
        ("r10", "ok"),
        ("r10", "block"),  # judged again: its latest verdict counts
        ("r09", "ok"),
        ("r09", "block"),
        ("r08", "block"),
        ("r07", "block"),
        ("r06", "block"),  # five blocked in a row: past the runs tried one by one
        ("r11", "ok"),
        ("r11", "block"),
        ("timeless", "ok"),
        ("r03", "block"),
        ("r00", "block"),  # only the run without a time is left publishable
        ("timeless", "block"),
        ("gone", "ok"),  # judged but not (or no longer) in the log
    ]
    for at, (run_id, verdict) in enumerate(steps):
        _judge(con, run_id, verdict, 100 + at)
        assert latest_publishable_run_id(con) == _publishable_by_grouping(con), (run_id, verdict)
    assert latest_publishable_run_id(con) is None


def test_pruning_drops_the_runs_grouping_every_run_finds():
    rng = np.random.default_rng(5)
    for trial in range(12):
        con = duckdb.connect()
        _log(con)
        for run in range(int(rng.integers(1, 15))):
            # Runs whose rows straddle the cut-off, rows without a time, rows without a run id.
            run_id = None if rng.random() < 0.1 else f"r{run}"
            con.executemany(
                f"insert into {LOG} values (?, ?, ?)",
                [
                    (run_id, f"c{i}", None if rng.random() < 0.1 else T0 + timedelta(hours=float(h)))
                    for i, h in enumerate(rng.uniform(run * 5, run * 5 + 12, int(rng.integers(1, 6))))
                ],
            )
        days = float(rng.choice([0.1, 0.5, 1.0, 2.0, 30.0]))
        expected = _old_runs_by_grouping(con, days)
        kept = {r for r, _ in expected[:1] if r is not None}
        left = con.execute(
            f"select run_id, count(*) from {LOG} where run_id is null or run_id not in "
            f"(select * from unnest(?::varchar[])) group by 1 order by 1",
            [[r for r, _ in expected if r is not None and r not in kept]],
        ).fetchall()
        report = prune_score_log(con, days, keep_run_ids=kept)
        dropped = [(r, n) for r, n in expected if r not in kept]
        assert (report.runs, report.rows) == (len(dropped), sum(n for _, n in dropped)), trial
        assert con.execute(f"select run_id, count(*) from {LOG} group by 1 order by 1").fetchall() == left, trial


class _GroupedRows:
    """A connection that adds up, query by query, the rows DuckDB's grouping operators took in (its profiler):
    what grouping a whole log by run costs, and what these lookups avoid."""

    def __init__(self, con):
        self.con, self.rows = con, 0
        con.execute("pragma enable_profiling = 'no_output'")

    def execute(self, sql, params=None):
        rows = self.con.execute(sql, params or []).fetchall()
        self.rows += sum(map(_grouped, json.loads(self.con.get_profiling_information(format="json"))["operator"]))
        return _Rows(rows)


def _grouped(op: dict) -> int:
    took = sum(c.get("intermediate_rows", 0) for c in op.get("children", [])) if "GROUP_BY" in op.get("type", "") else 0
    return took + sum(map(_grouped, op.get("children", [])))


class _Rows:
    def __init__(self, rows):
        self.rows = rows

    def fetchall(self):
        return self.rows

    def fetchone(self):
        return self.rows[0] if self.rows else None


def test_a_long_log_is_not_read_whole_for_the_newest_or_oldest_runs():
    """Twelve hourly runs of 130,000 rows (a row group and more each): the latest publishable run and the run the
    window drops are found without grouping the 1.56M rows by run."""
    con = duckdb.connect()
    _log(con)
    runs, leads = 12, 130_000
    con.execute(
        f"insert into {LOG} select 'r' || lpad((i // {leads})::varchar, 2, '0'), 'c' || (i % {leads}), "
        f"timestamp '2026-06-01 12:00:00' + to_microseconds((i // {leads}) * 3600000000 + i % {leads}) "
        f"from range({runs * leads}) t(i)"
    )
    for run in range(runs - 1):  # the newest run is not judged yet
        _judge(con, f"r{run:02d}", "ok", run + 0.1)
    counter = _GroupedRows(con)
    assert latest_publishable_run_id(counter) == "r10" == _publishable_by_grouping(con)
    assert counter.rows < runs * leads / 4, counter.rows
    counter.rows = 0
    assert prune_score_log(counter, 10.5 / 24) == (1, leads)  # the oldest run, more than 10.5 hours older
    assert counter.rows < runs * leads / 4, counter.rows
    assert con.execute(f"select min(run_id), count(*) from {LOG}").fetchone() == ("r01", (runs - 1) * leads)
