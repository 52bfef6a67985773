"""The console's queue over HTTP: edits kept beside the original, bulk approval only where the policy allows it,
stale decisions answered with the conflict, never recorded."""

from __future__ import annotations

import re

import pytest
from console_world import PASSWORD, build_world, settings_for
from fastapi.testclient import TestClient

from actions.policy import load_policy
from actions.queue import DecisionQueue
from actions.states import State
from console.app import create_app
from ops_store import open_store

BASE = "https://127.0.0.1"
ORIGIN = {"Origin": BASE}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("console_queue"))


@pytest.fixture(scope="module")
def client(world):
    app = create_app(settings_for(world))
    client = TestClient(app, base_url=BASE)
    token = _token(client, "/login")
    signed_in = client.post(
        "/login",
        data={"csrf_token": token, "username": "Demo Approver", "password": PASSWORD},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    return client


def _token(client: TestClient, path: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def _queue(world) -> DecisionQueue:
    return DecisionQueue(open_store(world.ops_url), load_policy())


def _waiting(world, action_type: str, states=("proposed",)):
    return sorted(
        (a for a in _queue(world).list(states=list(states), limit=None) if a.action_type == action_type),
        key=lambda a: a.action_id,
    )


def test_an_edit_is_kept_beside_the_original_and_waits_for_approval(client, world):
    item = _waiting(world, "apply_enrichment")[0]
    original = dict(item.payload)
    response = client.post(
        f"/queue/{item.action_id}/decide",
        data={
            "decision": "edit",
            "seen_version": str(item.row_version),
            "field:value": "Chief Revenue Officer",
            "note": "title from LinkedIn",
            "csrf_token": _token(client, "/queue"),
        },
        headers={**ORIGIN, "HX-Request": "true"},
    )
    assert response.status_code == 200 and "Edit saved beside the original" in response.text
    assert response.text.lstrip().startswith('<div id="rail"'), "an htmx request gets the rail alone"
    edited = _queue(world).get(item.action_id)
    assert edited.state == "edited" and edited.decided_by == "Demo Approver"
    assert edited.payload == original and edited.edited_payload["value"] == "Chief Revenue Officer"
    event = _queue(world).events(item.action_id)[-1]
    assert event["payload_before"] == original and event["payload_after"]["value"] == "Chief Revenue Officer"
    # A field the action type does not let people edit is refused.
    refused = client.post(
        f"/queue/{item.action_id}/decide",
        data={
            "decision": "edit",
            "seen_version": str(edited.row_version),
            "field:value": "Chief Revenue Officer",
            "csrf_token": _token(client, "/queue"),
        },
        headers=ORIGIN,
    )
    assert refused.status_code == 403 and "Nothing was changed" in refused.text


def test_a_stale_decision_gets_the_conflict_and_is_not_recorded(client, world):
    item = _waiting(world, "apply_enrichment")[0]
    _queue(world).approve(item.action_id, "Dana Steward", note="first")
    response = client.post(
        f"/queue/{item.action_id}/decide",
        data={"decision": "reject", "seen_version": str(item.row_version), "csrf_token": _token(client, "/queue")},
        headers=ORIGIN,
    )
    assert response.status_code == 409
    assert "changed since you read it" in response.text and "Dana Steward" in response.text
    assert _queue(world).get(item.action_id).decided_by == "Dana Steward"


def test_bulk_approval_only_where_the_policy_allows_it(client, world):
    page = client.get("/queue?type=merge_contacts")
    assert 'id="bulk-approve"' not in page.text and "refuses bulk approval of merge_contacts" in page.text
    forbidden = client.post(
        "/queue/bulk-approve",
        data={"type": "merge_contacts", "csrf_token": _token(client, "/queue")},
        headers=ORIGIN,
    )
    assert forbidden.status_code == 403
    assert len(_waiting(world, "merge_contacts")) == 1
    waiting = _waiting(world, "apply_enrichment", states=("proposed", "edited"))  # an edit waits for approval too
    assert waiting and 'id="bulk-approve"' in client.get("/queue?type=apply_enrichment").text
    done = client.post(
        "/queue/bulk-approve",
        data={"type": "apply_enrichment", "note": "batch", "csrf_token": _token(client, "/queue")},
        headers=ORIGIN,
    )
    assert done.status_code == 200
    assert f"Approved {len(waiting)}; skipped 0" in re.search(r'id="queue-message">([^<]*)', done.text).group(1)
    for item in waiting:
        decided = _queue(world).get(item.action_id)
        assert (decided.state, decided.decided_by, decided.decision_note) == ("approved", "Demo Approver", "batch")


def test_a_sent_merge_can_be_recorded_as_split_once(client, world):
    queue = _queue(world)
    merge = _waiting(world, "merge_contacts")[0]
    assert 'id="split-form"' not in client.get(f"/queue/{merge.action_id}").text  # not sent: nothing to split
    queue.approve(merge.action_id, "Dana Steward")
    for to in (State.QUEUED, State.SENT):
        queue.transition(merge.action_id, to, actor="sync")
    page = client.get(f"/queue/{merge.action_id}")
    assert 'id="split-form"' in page.text and 'value="split"' in page.text
    data = {"decision": "split", "seen_version": "0", "csrf_token": _token(client, "/queue")}
    refused = client.post(f"/queue/{merge.action_id}/decide", data=data, headers=ORIGIN)
    assert refused.status_code == 403 and "Say why the merge was wrong" in refused.text
    done = client.post(
        f"/queue/{merge.action_id}/decide",
        data={**data, "note": "two people at one company", "csrf_token": _token(client, "/queue")},
        headers={**ORIGIN, "HX-Request": "true"},
    )
    assert done.status_code == 200 and "Recorded as split" in done.text and 'id="split-form"' not in done.text
    event = queue.events(merge.action_id)[-1]
    assert (event["event"], event["actor"], event["note"]) == ("split", "Demo Approver", "two people at one company")
    assert queue.get(merge.action_id).state == "sent"
    # The workflows page counts it: one merge sent, one split.
    safety = client.get("/safety").text
    assert "merges later split by a person" in safety and "1 of 1 merges sent were recorded as split" in safety
