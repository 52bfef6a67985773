"""The CRM unsubscribe proposal does not depend on the order its signals arrive in: a contact that asked to stop
twice at the same instant (a spam report and an unsubscribe click) gets the same reason, channel and evidence order
whichever row comes first (the planner's join hands rows on in no fixed order)."""

from __future__ import annotations

from planning_fixtures import contact, inputs, signal

from actions.policy import load_policy
from actions.workflows.suppression import unsubscribe_proposals

POLICY = load_policy()


def _proposal(signals):
    stubs = unsubscribe_proposals(inputs([contact("gc-1", "Alice Carter", "US")], signals=signals), POLICY)
    assert len(stubs) == 1
    return stubs[0].build()


def test_simultaneous_signals_give_one_proposal_whatever_their_order():
    spam = signal("p1@acme1.com", "spam_report") | {"source_key": "e-b"}
    click = signal("p1@acme1.com", "unsubscribe") | {"source_key": "e-a"}
    first, second = _proposal([spam, click]), _proposal([click, spam])
    assert [e.key for e in first.evidence] == [e.key for e in second.evidence]
    assert first.evidence[0].key == "e-a"  # the tie broken by the source key, not by arrival
    assert first.reasons == second.reasons
    assert first.payload == second.payload
