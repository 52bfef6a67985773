"""HubSpot client against the sandbox CRM: incremental reads, 429 storms, injected faults, per-row outcomes."""

from __future__ import annotations

import httpx
import pytest

from crm_sandbox.config import SandboxConfig
from crm_sandbox.server import start_sandbox
from reverse_etl.crm.base import CrmAuthenticationError, CrmConnector, OutcomeStatus
from reverse_etl.crm.hubspot import Engagement, HubSpotClient

TOKEN = "client-test-token"
ADMIN = {"Authorization": f"Bearer {TOKEN}"}  # the sandbox administration needs a token too


@pytest.fixture
def sandbox(tmp_path):
    """A fresh sandbox with a generous limit; faults are switched on per test through `faults(...)`."""
    config = SandboxConfig(
        db_path=tmp_path / "crm.sqlite", tokens=(TOKEN,), rate_limit=1000, search_rate_limit=100, fault_seed=11
    )
    server, app = start_sandbox(config)
    server.app_state = app.state
    yield server
    server.stop()


def client_for(server, **options) -> HubSpotClient:
    options.setdefault("rate_limit", 1000)
    options.setdefault("search_rate_limit", 100)
    options.setdefault("backoff_base_s", 0.01)
    options.setdefault("backoff_cap_s", 0.05)
    return HubSpotClient(server.url, TOKEN, seed=3, **options)


def faults(server, **rates) -> None:
    httpx.patch(f"{server.url}/_sandbox/faults", json=rates, headers=ADMIN).raise_for_status()


def contacts(n: int, start: int = 0, **extra) -> list[dict]:
    return [{"email": f"person{i}@example.com", "firstname": f"P{i}", **extra} for i in range(start, start + n)]


def test_client_implements_the_connector_interface(sandbox):
    with client_for(sandbox) as client:
        assert isinstance(client, CrmConnector)


def test_incremental_read_returns_only_changed_records(sandbox):
    with client_for(sandbox) as client:
        assert all(o.ok for o in client.upsert("contacts", contacts(450), "email"))
        first = client.read_changed("contacts", None, ["email", "firstname"])
        assert len(first.records) == 450 and len({r.id for r in first.records}) == 450
        assert client.read_changed("contacts", first.cursor).records == []
        changed = client.upsert(
            "contacts",
            [
                {"email": "person7@example.com", "firstname": "Seven"},
                {"email": "PERSON300@example.com", "firstname": "Three hundred"},
            ],
            "email",
        )
        assert [o.created for o in changed] == [False, False]
        second = client.read_changed("contacts", first.cursor, ["firstname"])
        assert sorted(r.properties["firstname"] for r in second.records) == ["Seven", "Three hundred"]
        assert client.read_changed("contacts", second.cursor).records == []


def test_429_storm_completes_without_exceeding_the_limit(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "crm.sqlite", tokens=(TOKEN,), rate_limit=5, rate_window_s=10)
    server, app = start_sandbox(config)
    try:
        # Another integration on the same token has just used the whole window: the client's first
        # parallel batches meet 429s, it learns 5/10 s from the X-HubSpot-RateLimit-* headers, backs off
        # with jitter and then paces itself.
        for _ in range(5):
            httpx.get(f"{server.url}/crm/v3/objects/contacts", headers={"Authorization": f"Bearer {TOKEN}"})
        with HubSpotClient(server.url, TOKEN, rate_limit=100, max_workers=4, seed=1) as client:
            outcomes = client.upsert("contacts", contacts(400), "email")
            storm_429s = app.state.stats["rate_limited"]
            later = client.upsert("contacts", contacts(100, start=400), "email")
        assert all(o.ok for o in outcomes + later)
        assert app.state.store.counts()["contacts"] == 500
        assert storm_429s >= 4  # there was a storm ...
        assert app.state.stats["rate_limited"] == storm_429s  # ... and once paced, no further 429
        stats = httpx.get(f"{server.url}/_sandbox/stats", headers=ADMIN).json()
        assert stats["max_in_window"] <= 5  # no request was ever admitted over the limit
        assert client.throttle.limit == 5 and client.throttle.window_s == 10
    finally:
        server.stop()


def test_injected_5xx_423_and_207_give_correct_outcomes_and_no_duplicates(sandbox):
    faults(sandbox, fault_5xx_rate=0.3, fault_partial_rate=0.2, fault_locked_rate=0.2)
    rows = contacts(598) + [
        {"email": "not-an-email", "firstname": "Bad"},
        {"email": "owned@example.com", "hubspot_owner_id": "12345"},
    ]
    # One worker keeps the order of requests, and so the seeded fault dice, the same on every run.
    with client_for(sandbox, max_attempts=10, max_workers=1) as client:
        outcomes = client.upsert("contacts", rows, "email")
    assert len(outcomes) == 600
    assert [o.key for o in outcomes] == [r["email"] for r in rows]
    assert all(o.status is OutcomeStatus.OK for o in outcomes[:598])
    assert [o.status for o in outcomes[598:]] == [OutcomeStatus.REJECTED, OutcomeStatus.REJECTED]
    assert "INVALID_EMAIL" in outcomes[598].message and "INVALID_OWNER_ID" in outcomes[599].message
    stats = sandbox.app_state.stats
    assert stats["faults_5xx"] > 0 and stats["faults_partial_rows"] > 0 and stats["faults_423"] > 0
    # Writes applied before a 500 were retried: upsert by email keeps that idempotent.
    assert sandbox.app_state.store.counts()["contacts"] == 598


def test_timeouts_are_retried_idempotently(sandbox):
    faults(sandbox, fault_slow_rate=0.5, slow_seconds=0.6)
    with client_for(sandbox, timeout_s=0.3, max_attempts=10, max_workers=1) as client:
        outcomes = client.upsert("contacts", contacts(400), "email")
    assert all(o.ok for o in outcomes)
    assert sandbox.app_state.stats["faults_slow"] > 0
    assert sandbox.app_state.store.counts()["contacts"] == 400


def test_exhausted_retries_and_unretried_207_are_reported_retryable(sandbox):
    faults(sandbox, fault_partial_rate=0.5)
    with client_for(sandbox, max_attempts=1) as client:
        outcomes = client.upsert("contacts", contacts(200), "email")
        written = {o.key for o in outcomes if o.ok}
        pending = [o for o in outcomes if o.status is OutcomeStatus.RETRYABLE]
        assert len(written) + len(pending) == 200 and 40 < len(pending) < 160
        assert all("Injected partial failure" in o.message for o in pending)
        assert sandbox.app_state.store.counts()["contacts"] == len(written)
        faults(sandbox, fault_partial_rate=0.0, fault_5xx_rate=1.0)
        down = client.upsert("contacts", contacts(5, start=900), "email")
    assert [o.status for o in down] == [OutcomeStatus.RETRYABLE] * 5
    assert all("Service unavailable" in o.message or "internal error" in o.message for o in down)


def test_engagements_owners_merge_and_unsubscribe(sandbox):
    owner_id = str(sandbox.app_state.store.add_owners([{"email": "rep@example.com", "firstName": "Rep"}])[0])
    with client_for(sandbox) as client:
        people = client.upsert("contacts", contacts(3), "email")
        ids = [o.record_id for o in people]
        company = client.upsert("companies", [{"actionhouse_id": "co-1", "name": "Co"}], "actionhouse_id")[0]
        tasks = [
            Engagement(
                "task-1",
                {"hs_task_subject": "Call", "hs_timestamp": "2026-01-01T00:00:00Z"},
                [("contacts", ids[0]), ("companies", company.record_id)],
            ),
            Engagement("task-2", {"hs_task_subject": "Email"}, [("contacts", "999999")]),
        ]
        first = client.write_engagements("tasks", tasks)
        again = client.write_engagements("tasks", tasks[:1])
        assert first[0].ok and again[0].ok and again[0].record_id == first[0].record_id
        assert first[1].status is OutcomeStatus.REJECTED and "999999" in first[1].message
        assert sandbox.app_state.store.counts()["tasks"] == 2  # re-running did not duplicate
        linked = client.request("GET", f"/crm/v4/objects/contacts/{ids[0]}/associations/tasks").json()
        assert [r["toObjectId"] for r in linked["results"]] == [int(first[0].record_id)]

        owners = client.assign_owner("contacts", [(ids[0], owner_id), (ids[1], "424242")])
        assert owners[0].ok and owners[1].status is OutcomeStatus.REJECTED
        assert "INVALID_OWNER_ID" in owners[1].message
        assert [r.id for r in client.read_changed("owners", None).records] == [owner_id]

        merged = client.merge("contacts", [(ids[0], ids[2]), (ids[0], ids[2])])
        assert [o.status for o in merged] == [OutcomeStatus.OK, OutcomeStatus.OK]
        assert sandbox.app_state.store.counts()["contacts"] == 2

        cursor = client.read_changed("contacts", None).cursor
        unsubscribed = client.unsubscribe(["person1@example.com", "person1@example.com", "bad"], "1")
        assert [o.status for o in unsubscribed] == [OutcomeStatus.OK, OutcomeStatus.OK, OutcomeStatus.REJECTED]
        changed = client.read_changed("contacts", cursor, ["hs_email_optout", "email"]).records
        assert [(r.id, r.properties["hs_email_optout"]) for r in changed] == [(ids[1], "true")]


def test_rows_without_an_id_are_rejected_not_dropped(sandbox):
    with client_for(sandbox) as client:
        outcomes = client.upsert("contacts", [{"email": ""}, {"firstname": "x"}, {"email": "ok@example.com"}], "email")
    assert [o.status for o in outcomes] == [OutcomeStatus.REJECTED, OutcomeStatus.REJECTED, OutcomeStatus.OK]


def test_bad_token_raises_authentication_error(sandbox):
    with HubSpotClient(sandbox.url, "wrong-token") as client, pytest.raises(CrmAuthenticationError):
        client.upsert("contacts", contacts(1), "email")


def test_incremental_read_pages_past_the_search_result_cap(tmp_path):
    # HubSpot stops a search query at 10,000 results; keyset paging re-anchors each page, so a cap of
    # 400 here still lets one read return all 1,000 records.
    config = SandboxConfig(
        db_path=tmp_path / "crm.sqlite", tokens=(TOKEN,), rate_limit=1000, search_rate_limit=100, search_max_results=400
    )
    server, _ = start_sandbox(config)
    try:
        with client_for(server) as client:
            assert all(o.ok for o in client.upsert("contacts", contacts(1000), "email"))
            everything = client.read_changed("contacts", None, ["email"])
        assert sorted(r.properties["email"] for r in everything.records) == sorted(c["email"] for c in contacts(1000))
    finally:
        server.stop()


def test_incremental_read_walks_more_records_at_one_time_than_the_search_cap(tmp_path):
    # A bulk import stamps thousands of records with one modification time; past the search cap the
    # client walks that time by record id, and a later read from its cursor finds nothing new.
    from crm_sandbox.store import SandboxStore, StoredObject

    config = SandboxConfig(
        db_path=tmp_path / "crm.sqlite", tokens=(TOKEN,), rate_limit=1000, search_rate_limit=100, search_max_results=400
    )
    store = SandboxStore(config.db_path, config.unique_properties)
    stamp = 1_790_000_000_000
    for i in range(1, 1001):
        store.put(StoredObject("contacts", i, {"email": f"bulk{i}@example.com"}, stamp, stamp))
    store.close()
    server, _ = start_sandbox(config)
    try:
        with client_for(server) as client:
            everything = client.read_changed("contacts", None, ["email"])
            again = client.read_changed("contacts", everything.cursor, ["email"])
        assert len(everything.records) == 1000
        assert len({r.id for r in everything.records}) == 1000
        assert again.records == []
    finally:
        server.stop()


def _whole_batch_400_transport(calls: list):
    """A HubSpot that refuses a whole batch for one invalid email (as some batch endpoints do)."""
    import json as json_module

    def handle(request: httpx.Request) -> httpx.Response:
        inputs = json_module.loads(request.content)["inputs"]
        calls.append(len(inputs))
        if inputs[0]["idProperty"] != "email":
            return httpx.Response(
                400,
                json={
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": f"{inputs[0]['idProperty']} is not a unique property",
                },
            )
        if any("@" not in i["id"] for i in inputs):
            return httpx.Response(
                400,
                json={
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": 'Property values were not valid: [{"error":"INVALID_EMAIL"}]',
                },
            )
        results = [{"id": str(n), "properties": {"email": i["id"]}, "new": True} for n, i in enumerate(inputs)]
        return httpx.Response(200, json={"status": "COMPLETE", "results": results})

    return httpx.MockTransport(handle)


def test_whole_batch_400_is_bisected_to_the_bad_rows():
    calls: list[int] = []
    rows = contacts(100)
    rows[37]["email"] = "broken"
    with HubSpotClient("http://hubspot.test", TOKEN, transport=_whole_batch_400_transport(calls)) as client:
        outcomes = client.upsert("contacts", rows, "email")
        assert [o.key for o in outcomes if not o.ok] == ["broken"]
        assert "INVALID_EMAIL" in outcomes[37].message and outcomes[37].status is OutcomeStatus.REJECTED
        assert len(calls) <= 2 * 7 + 1  # one path down a binary tree of 100 inputs
        calls.clear()
        refused = client.upsert("contacts", [{"nickname": f"n{i}"} for i in range(50)], "nickname")
    assert calls == [50]  # a 400 about the request itself is not bisected
    assert all(o.status is OutcomeStatus.REJECTED and "not a unique property" in o.message for o in refused)


def test_the_sandbox_administration_needs_a_token(sandbox):
    for call in (
        lambda h: httpx.get(f"{sandbox.url}/_sandbox/stats", headers=h),
        lambda h: httpx.patch(f"{sandbox.url}/_sandbox/faults", json={"fault_5xx_rate": 1.0}, headers=h),
    ):
        assert call({}).status_code == 401
        assert call({"Authorization": "Bearer not-a-sandbox-token"}).status_code == 401
    assert sandbox.app_state.config.fault_5xx_rate == 0  # the refused PATCH changed nothing
    assert httpx.get(f"{sandbox.url}/_sandbox/stats", headers=ADMIN).status_code == 200
    assert httpx.get(f"{sandbox.url}/_sandbox/health").status_code == 200  # liveness stays open


def test_serving_the_sandbox_beyond_loopback_warns(monkeypatch, capsys, tmp_path):
    import crm_sandbox.server
    from orchestration.cli import main

    monkeypatch.setattr(crm_sandbox.server, "serve", lambda config, host, port: None)
    monkeypatch.setenv("ACTIONHOUSE_DATA_DIR", str(tmp_path))
    assert main(["crm", "serve", "--host", "0.0.0.0"]) == 0
    assert "Warning: binding 0.0.0.0" in capsys.readouterr().out
    assert main(["crm", "serve"]) == 0
    assert "Warning" not in capsys.readouterr().out
