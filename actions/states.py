"""States of an action in the decision queue and the transitions between them, in one place.

    proposed --> approved | edited | rejected | expired | withdrawn
    edited   --> approved | edited | rejected | expired | withdrawn     (an edit waits for an approval)
    approved --> queued | edited | rejected | expired | withdrawn       (editing after approval needs a new one)
    queued   --> sent | failed | dead_lettered | withdrawn             (the sync engine; withdrawn: stopped at send
                                                                         time by a last-mile check)
    failed   --> queued | dead_lettered
    dead_lettered --> queued                                           (a person retries it)
    held_out                                                           (final: set by the planner at proposal time)

`auto` actions enter as `approved` (by the policy); `never` actions stay `proposed` until a person dismisses
them (`rejected`), they expire or are withdrawn: they can never be approved. `held_out` actions are what the
planner would have proposed for a target in the workflow's holdout group (`actions.holdout`): recorded for the
measurement of the workflow's lift, final from the start — never approved, queued, sent or shown as to-do.
"""

from __future__ import annotations

from enum import StrEnum


class State(StrEnum):
    """Where an action is in its life."""

    PROPOSED = "proposed"
    EDITED = "edited"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    DEAD_LETTERED = "dead_lettered"
    HELD_OUT = "held_out"


TRANSITIONS: dict[State, frozenset[State]] = {
    State.PROPOSED: frozenset({State.APPROVED, State.EDITED, State.REJECTED, State.EXPIRED, State.WITHDRAWN}),
    State.EDITED: frozenset({State.APPROVED, State.EDITED, State.REJECTED, State.EXPIRED, State.WITHDRAWN}),
    State.APPROVED: frozenset({State.QUEUED, State.EDITED, State.REJECTED, State.EXPIRED, State.WITHDRAWN}),
    State.QUEUED: frozenset({State.SENT, State.FAILED, State.DEAD_LETTERED, State.WITHDRAWN}),
    State.FAILED: frozenset({State.QUEUED, State.DEAD_LETTERED}),
    State.REJECTED: frozenset(),
    State.EXPIRED: frozenset(),
    State.WITHDRAWN: frozenset(),
    State.SENT: frozenset(),
    # A person may send a dead letter again once its cause is fixed (`actionhouse sync retry --dead-lettered`).
    State.DEAD_LETTERED: frozenset({State.QUEUED}),
    # The target is in the workflow's holdout group: recorded, never executed (the comparison for the lift).
    State.HELD_OUT: frozenset(),
}

# Waiting for a person.
AWAITING_DECISION = frozenset({State.PROPOSED, State.EDITED})
# Not yet handed to the sync engine: the planner may still withdraw them, and they expire.
NOT_YET_QUEUED = frozenset({State.PROPOSED, State.EDITED, State.APPROVED})
# Ended: nothing more happens to them.
FINAL = frozenset(s for s, nexts in TRANSITIONS.items() if not nexts)


def can_move(current: State, to: State) -> bool:
    """Whether `current -> to` is a legal transition."""
    return to in TRANSITIONS[current]
