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
    assert abs(queue.clock().timestamp() - (wall - month)) < 1
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


def test_the_line_reports_whether_the_intervals_hold_the_true_lifts():
    lift = pl.DataFrame(
        [
            ("reply_routing", 400, 0.30, 400, 0.20, 0.10, 0.04, 0.16, True, None),
            ("at_risk", 30, 0.8, 30, 0.6, 0.2, -0.02, 0.4, False, "too few outcomes"),
            ("meetings", 50, 0.2, 50, 0.1, 0.1, 0.02, 0.2, True, None),
        ],
        schema=[
            "workflow",
            "treated_n",
            "treated_rate",
            "held_out_n",
            "held_out_rate",
            "lift",
            "lift_ci_low",
            "lift_ci_high",
            "is_significant",
            "sample_size_note",
        ],
        orient="row",
    )
    from types import SimpleNamespace

    result = {
        "lift": lift,
        "truth": {"reply_routing": 0.11, "at_risk": 0.5, "meetings": 0.0},
        "safety": {"unsubscribe_compliance": 1.0, "spam_complaint_rate": 0.001},
        "sent": 900,
        "held_out": 450,
        "eligible": 900,
        "backtest": SimpleNamespace(seconds=12.0, runs=[1, 2], reproduced=True),
        "loop_seconds": 100.0,
    }
    line, checks = loop.summary_line(14, 20_000, 0.5, result)
    assert line.startswith("eval-loop days=14 ")
    for part in (
        "lift_meetings=0.1000",
        "lift_meetings_ci_low=0.0400",
        "true_lift_meetings=0.1100",
        "holdout_share=0.5000",
        "zero_effect_significant=yes",
        "cis_contain_true_lifts=no",
        "unsubscribe_compliance=1.0000",
        "backtest_seconds=12.0",
    ):
        assert part in line.split(), part
    assert checks["ci_contains_true_reply_routing"] and not checks["ci_contains_true_at_risk"]
    assert not checks["zero_effect_not_significant"]
