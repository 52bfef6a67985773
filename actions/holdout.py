"""Holdout groups: a stable share of each workflow's eligible targets gets nothing, so its lift can be measured.

    in_holdout("sla", "gc-000123", share=0.1, seed="actionhouse-holdout-1")   # True for about 10% of ids

The assignment is a pure function of the seed, the workflow and the target's golden id (SHA-256 of
`f"{seed}:{workflow}:{golden_id}"`, its first 8 bytes read as a number in [0, 1) and compared with the share): the
same target is in the same group in every hourly run, every process and every machine, and the groups of two
workflows are independent. The planner records an eligible target's action in the held-out group as `held_out`
(never approved, queued, sent or shown as to-do) instead of proposing it; see docs/actions.md ("Holdouts").
"""

from __future__ import annotations

import hashlib

from actions.catalog import Workflow

# Safety workflows are never held out: a holdout never overrides a suppression or a merge review.
NEVER_HELD_OUT = frozenset({Workflow.SUPPRESSION, Workflow.MERGES})
# Workflows that follow another's group instead of having a share of their own: a sequence's step drafts are held
# out with its enrolment (a sequence is treated whole or not at all).
FOLLOWS = {Workflow.SEQUENCE_DRAFTS: Workflow.SEQUENCES}
# Action types that protect people or data: never held out, whatever workflow proposes them (an unsubscribe, a
# merge review, a reply escalated to a person — say a frustrated no-show or a legal threat).
SAFETY_ACTION_TYPES = frozenset({"crm_unsubscribe", "merge_contacts", "escalate_reply"})
# Workflows whose unit is the account: every action of an at-risk save (the owner's email to a contact, the renewal
# escalation) is held out with its account, so an account is saved whole or not at all.
ACCOUNT_UNIT = frozenset({Workflow.AT_RISK})
MAX_SHARE = 0.5
_SCALE = float(2**64)


def bucket(workflow: str, golden_id: str, seed: str) -> float:
    """The target's stable position in [0, 1) for this workflow and seed."""
    digest = hashlib.sha256(f"{seed}:{workflow}:{golden_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / _SCALE


def in_holdout(workflow: str, golden_id: str, share: float, seed: str) -> bool:
    """Whether the target is in the workflow's holdout group (about `share` of all ids; 0: nobody)."""
    if share <= 0:
        return False
    return bucket(str(workflow), str(golden_id), seed) < share


def holdout_unit(workflow: str, target_id: str, account_id: str | None) -> str:
    """The golden id a workflow's holdout group is drawn on: the golden account for account-level workflows
    (`ACCOUNT_UNIT`), else the target's own golden id."""
    if Workflow(workflow) in ACCOUNT_UNIT and account_id:
        return account_id
    return target_id
