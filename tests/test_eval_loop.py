"""The closed-loop evaluation's parts (evaluation/loop.py): the operational clock a simulation runs on, the scripted
approver, the evaluation's policy and the true lift it checks the measured one against. The whole loop is
`make eval-loop` (tens of minutes), not a unit test."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from actions.policy import DEFAULT_POLICY_PATH, load_policy
from actions.queue import DecisionQueue
from crm_sandbox.store import now_ms
from evaluation import loop
from evaluation.sync_world import mixed_proposals
from ops_store import open_store
from ops_store.clock import CLOCK_OFFSET_ENV, epoch_now
from ops_store.schema import utc_now


def test_the_operational_clock_follows_the_offset_everywhere(monkeypatch):
    monkeypatch.delenv(CLOCK_OFFSET_ENV, raising=False)
    assert abs((utc_now() - datetime.now(UTC)).total_seconds()) < 1
    month = 30 * 86_400
    monkeypatch.setenv(CLOCK_OFFSET_ENV, str(-month))
    wall = time.time()
    assert abs(utc_now().timestamp() - (wall - month)) < 1
    assert abs(epoch_now() - (wall - month)) < 1
    assert abs(now_ms() / 1000 - (wall - month)) < 1  # the sandbox CRM stamps its records on the same clock
    queue = DecisionQueue(open_store("sqlite://"), load_policy())
    # Compared with the wall clock read beside it: opening the store can take over a second on a busy machine.
    assert abs(queue.clock().timestamp() - (time.time() - month)) < 1
    monkeypatch.setenv(CLOCK_OFFSET_ENV, "last tuesday")
    with pytest.raises(ValueError, match=CLOCK_OFFSET_ENV):
        utc_now()


def test_set_clock_puts_now_at_the_worlds_clock(tmp_path, monkeypatch):
    # set (not deleted): monkeypatch then restores the variable after `set_clock` wrote it, so no later test runs
    # on the world's clock
    monkeypatch.setenv(CLOCK_OFFSET_ENV, "0")
    (tmp_path / "truth").mkdir()
    world_now = datetime(2026, 11, 3, 12, tzinfo=UTC)
    (tmp_path / "truth" / "world_state.json").write_text(f'{{"clock_epoch": {int(world_now.timestamp())}}}')
    assert loop.set_clock(tmp_path) == world_now
    assert abs((utc_now() - world_now).total_seconds()) < 1
    monkeypatch.undo()
    assert abs((utc_now() - datetime.now(UTC)).total_seconds()) < 1


def test_the_evaluation_policy_holds_out_every_measured_workflow(tmp_path):
    policy = load_policy(loop.eval_policy(tmp_path / "p.yml", 0.3))
    assert policy.holdouts is not None
    assert {w: policy.holdouts.shares.get(w) for w in loop.MEASURED} == dict.fromkeys(loop.MEASURED, 0.3)
    with pytest.raises(Exception, match="0.5"):
        loop.eval_policy(tmp_path / "too_much.yml", 0.9)


def test_the_scripted_approver_approves_every_waiting_action(tmp_path):
    from actions.guardrails import GuardrailContext, classify
    from actions.suppression import SuppressionSnapshot

    engine = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    # Tasks and follow-up dates wait for a person here (the default policy runs them without review).
    text = Path(DEFAULT_POLICY_PATH).read_text(encoding="utf-8")
    text = text.replace("  create_task: auto", "  create_task: approve").replace(
        "  set_follow_up_date: auto", "  set_follow_up_date: approve"
    )
    (tmp_path / "policy.yml").write_text(text, encoding="utf-8")
    policy = load_policy(tmp_path / "policy.yml")
    now = utc_now()
    actions, _ = classify(
        mixed_proposals([str(100 + i) for i in range(10)]),
        policy,
        GuardrailContext(SuppressionSnapshot({}, {}, {}, {})),
        now - timedelta(hours=1),
        now,
    )
    queue = DecisionQueue(engine, policy)
    queue.add(actions, run_id="test")
    waiting = [a for a in actions if queue.get(a.action_id).state.value == "proposed"]
    assert len(waiting) == 4
    assert loop.approve_waiting(engine, policy) == len(waiting)
    assert {queue.get(a.action_id).state.value for a in waiting} == {"approved"}
    assert loop.approve_waiting(engine, policy) == 0


def _units(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema=[
            "action_id",
            "workflow",
            "lift_group",
            "lift_unit",
            "outcome",
            "proposed_at",
            "window_days",
            "person_id",
            "account_id",
        ],
        orient="row",
    )


def test_true_lift_is_the_difference_of_the_worlds_probabilities_between_the_groups():
    day = 86_400
    units = _units(
        [
            # treated: person 1 has two situations in the window (1 - 0.5 * 0.8 = 0.6), one after it (not counted)
            ("t1", "reply_routing", "treated", None, "meeting_booked", 0, 14, 1, None),
            # treated: person 2 reached through two CRM records (the same situation counts once)
            ("t2", "reply_routing", "treated", None, "meeting_booked", 0, 14, 2, None),
            ("t2", "reply_routing", "treated", None, "meeting_booked", 0, 14, 2, None),
            # held out: person 3, p 0.1; person 4, nothing resolved in the window (0)
            ("h1", "reply_routing", "held_out", None, "meeting_booked", 0, 14, 3, None),
            ("h2", "reply_routing", "held_out", None, "meeting_booked", 0, 14, 4, None),
            # an account: its renewal in the window (p 0.8 treated, 0.55 held out); a situation before the action
            ("a1", "at_risk", "treated", None, "renewed", 10 * day, 90, None, 7),
            ("a2", "at_risk", "held_out", None, "renewed", 10 * day, 90, None, 8),
            # a workflow with no held-out group has no lift
            ("x1", "hygiene", "treated", None, "meeting_booked", 0, 14, 1, None),
        ]
    )
    resolved = pl.DataFrame(
        [
            ("trigger:a", "follow_up_trigger", 1, None, 2 * day, 0.5),
            ("no_show:b", "no_show", 1, None, 3 * day, 0.2),
            ("trigger:late", "follow_up_trigger", 1, None, 20 * day, 0.9),
            ("trigger:c", "follow_up_trigger", 2, None, 5 * day, 0.3),
            ("sequence:d", "sequence", 2, None, 5 * day, 0.9),  # replies are not meetings
            ("trigger:e", "follow_up_trigger", 3, None, 1 * day, 0.1),
            ("renewal:1", "renewal", None, 7, 40 * day, 0.8),
            ("renewal:0", "renewal", None, 7, 5 * day, 0.9),
            ("renewal:2", "renewal", None, 8, 30 * day, 0.55),
        ],
        schema=["situation_id", "situation_kind", "person_id", "account_id", "resolves_at", "p"],
        orient="row",
    )
    lifts = loop.true_lifts(units, resolved)
    assert set(lifts) == {"reply_routing", "at_risk"}
    assert lifts["reply_routing"] == pytest.approx((0.6 + 0.3) / 2 - (0.1 + 0.0) / 2)
    assert lifts["at_risk"] == pytest.approx(0.8 - 0.55)


def test_true_lift_counts_units_as_the_lift_mart_does():
    """Actions of one lift unit are one unit: their windows together (a target proposed again later sees the
    situations of both windows once), and two actions of one account count once."""
    day = 86_400
    units = _units(
        [
            ("t1", "reply_routing", "treated", "gc-1", "meeting_booked", 0, 14, 1, None),
            ("t3", "reply_routing", "treated", "gc-1", "meeting_booked", 10 * day, 14, 1, None),
            ("h1", "reply_routing", "held_out", "gc-3", "meeting_booked", 0, 14, 3, None),
            ("a1", "at_risk", "treated", "ga-7", "renewed", 10 * day, 90, None, 7),
            ("a3", "at_risk", "treated", "ga-7", "renewed", 11 * day, 90, None, 7),
            ("a4", "at_risk", "treated", "ga-9", "renewed", 10 * day, 90, None, 9),
            ("a2", "at_risk", "held_out", "ga-8", "renewed", 10 * day, 90, None, 8),
        ]
    )
    resolved = pl.DataFrame(
        [
            ("trigger:a", "follow_up_trigger", 1, None, 2 * day, 0.5),
            ("no_show:b", "no_show", 1, None, 3 * day, 0.2),
            ("trigger:late", "follow_up_trigger", 1, None, 20 * day, 0.9),  # in the second window only
            ("trigger:e", "follow_up_trigger", 3, None, 1 * day, 0.1),
            ("renewal:1", "renewal", None, 7, 40 * day, 0.8),
            ("renewal:2", "renewal", None, 8, 30 * day, 0.55),
            ("renewal:3", "renewal", None, 9, 30 * day, 0.6),
        ],
        schema=["situation_id", "situation_kind", "person_id", "account_id", "resolves_at", "p"],
        orient="row",
    )
    lifts = loop.true_lifts(units, resolved)
    assert lifts["reply_routing"] == pytest.approx((1 - 0.5 * 0.8 * 0.1) - 0.1)
    assert lifts["at_risk"] == pytest.approx((0.8 + 0.6) / 2 - 0.55)  # ga-7 once, not twice


def test_the_interval_is_newcombes_as_the_lift_mart_computes_it():
    # Newcombe (1998), table II, examples (a) and (e), also the lift mart's unit test.
    assert loop.newcombe_interval(56, 70, 48, 80, 0.95) == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert loop.newcombe_interval(5, 56, 0, 29, 0.95) == pytest.approx((-0.0381, 0.1926), abs=5e-5)
    # A higher confidence widens it on both sides.
    low, high = loop.newcombe_interval(56, 70, 48, 80, 0.99)
    assert low < 0.0524 and high > 0.3339


def _lift_rows(counts: dict[str, tuple[int, int, int, int]]) -> pl.DataFrame:
    """fct_workflow_lift rows from (treated outcomes, treated n, held-out outcomes, held-out n), its 95% interval."""
    rows = []
    for workflow, (x1, n1, x2, n2) in counts.items():
        low, high = loop.newcombe_interval(x1, n1, x2, n2, 0.95)
        rows.append({
            "workflow": workflow, "treated_n": n1, "treated_outcomes": x1, "treated_rate": x1 / n1,
            "held_out_n": n2, "held_out_outcomes": x2, "held_out_rate": x2 / n2, "lift": x1 / n1 - x2 / n2,
            "lift_ci_low": low, "lift_ci_high": high, "is_significant": low > 0 or high < 0,
            "sample_size_note": None,
        })
    return pl.DataFrame(rows)


def _result(lift: pl.DataFrame, truth: dict[str, float]) -> dict:
    from types import SimpleNamespace

    return {
        "lift": lift,
        "truth": truth,
        "safety": {"unsubscribe_compliance": 1.0, "spam_complaint_rate": 0.001},
        "sent": 900,
        "held_out": 450,
        "eligible": 900,
        "backtest": SimpleNamespace(seconds=12.0, runs=[1, 2], reproduced=True),
        "loop_seconds": 100.0,
    }


def test_the_line_reports_whether_the_intervals_hold_the_true_lifts_together():
    lift = _lift_rows({
        "reply_routing": (120, 400, 80, 400),  # 95% [0.040, 0.159]
        "at_risk": (24, 30, 18, 30),  # 95% [-0.032, 0.406]; at 1 - 0.05/4 [-0.093, 0.453]
        "sla": (30, 300, 45, 300),  # 95% [-0.103, 0.003]; at 1 - 0.05/4 [-0.118, 0.018]
        "meetings": (15, 50, 3, 50),  # 95% [0.091, 0.383]: significant
    })
    truth = {"reply_routing": 0.11, "at_risk": 0.5, "sla": 0.01, "meetings": 0.0}
    line, checks = loop.summary_line(14, 20_000, 0.5, _result(lift, truth))
    assert line.startswith("eval-loop days=14 ")
    for part in (
        "lift_meetings=0.1000",
        "lift_meetings_ci_low=0.0400",
        "true_lift_meetings=0.1100",
        "holdout_share=0.5000",
        "zero_effect_significant=yes",
        "cis95_contain_true=1/4",
        "ci_each_confidence=0.9875",
        "cis_contain_true_lifts=no",
        "unsubscribe_compliance=1.0000",
        "backtest_seconds=12.0",
    ):
        assert part in line.split(), part
    # SLA's 95% interval misses its true lift, its simultaneous one holds it; at-risk misses even that.
    assert checks["ci_contains_true_reply_routing"] and checks["ci_contains_true_sla"]
    assert not checks["ci_contains_true_at_risk"] and not checks["ci_contains_true_meetings"]
    assert not checks["zero_effect_not_significant"]

    truth = {"reply_routing": 0.11, "at_risk": 0.3, "sla": 0.01, "meetings": 0.1}
    lift = lift.filter(pl.col("workflow") != "meetings")  # no zero-effect workflow measured: nothing significant
    line, checks = loop.summary_line(14, 20_000, 0.5, _result(lift, truth))
    assert "cis_contain_true_lifts=yes" in line.split() and "ci_each_confidence=0.9833" in line.split()
    assert "cis95_contain_true=2/3" in line.split() and all(checks.values())
