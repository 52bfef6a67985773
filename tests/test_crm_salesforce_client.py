"""Salesforce client against the local Salesforce test server: collections upsert, SOQL reads, request limits."""

from __future__ import annotations

import pytest

from crm_sandbox.salesforce_app import SalesforceTestConfig, create_salesforce_app
from crm_sandbox.server import BackgroundServer
from reverse_etl.crm.base import CrmAuthenticationError, CrmConnector, OutcomeStatus
from reverse_etl.crm.salesforce import SalesforceClient

TOKEN = "sf-token"


@pytest.fixture
def salesforce():
    config = SalesforceTestConfig(token=TOKEN)
    app = create_salesforce_app(config)
    with BackgroundServer(app) as server:
        server.app_state = app.state
        yield server


def client_for(server, **options) -> SalesforceClient:
    return SalesforceClient(server.url, TOKEN, backoff_base_s=0.01, backoff_cap_s=0.02, seed=1, **options)


def people(n: int, start: int = 0) -> list[dict]:
    return [{"Email": f"p{i}@example.com", "LastName": f"L{i}"} for i in range(start, start + n)]


def test_upsert_by_external_id_in_collections_of_200(salesforce):
    with client_for(salesforce) as client:
        assert isinstance(client, CrmConnector)
        rows = people(450) + [{"Email": "broken", "LastName": "X"}, {"LastName": "no key"}]
        outcomes = client.upsert("contacts", rows, "Email")
        assert client.stats["requests"] == 3  # 451 keyed rows -> 200 + 200 + 51
        assert [o.status for o in outcomes[:450]] == [OutcomeStatus.OK] * 450
        assert all(o.created for o in outcomes[:450]) and outcomes[0].record_id.startswith("003")
        assert outcomes[450].status is OutcomeStatus.REJECTED and "INVALID_EMAIL_ADDRESS" in outcomes[450].message
        assert outcomes[451].status is OutcomeStatus.REJECTED and "missing" in outcomes[451].message
        again = client.upsert("Contact", [{"Email": "P3@example.com", "LastName": "Changed"}], "Email")
    assert again[0].ok and again[0].created is False and again[0].record_id == outcomes[3].record_id
    assert len(salesforce.app_state.records["Contact"]) == 450


def test_incremental_soql_reads_only_changed_records(salesforce):
    with client_for(salesforce) as client:
        client.upsert("contacts", people(2500), "Email")  # more than one 2,000-record query batch
        first = client.read_changed("contacts", None, ["Email", "LastName"])
        assert len(first.records) == 2500 and len({r.id for r in first.records}) == 2500
        assert client.read_changed("contacts", first.cursor).records == []
        client.upsert("contacts", [{"Email": "p10@example.com", "LastName": "Ten"}], "Email")
        second = client.read_changed("contacts", first.cursor, ["LastName"])
    assert [r.properties["LastName"] for r in second.records] == ["Ten"]


def test_total_request_limit_stops_and_reports_rows_retryable(salesforce):
    salesforce.app_state.config.total_request_limit = 2
    with client_for(salesforce) as client:
        outcomes = client.upsert("contacts", people(800), "Email")
    statuses = [o.status for o in outcomes]
    assert statuses[:400] == [OutcomeStatus.OK] * 400
    assert statuses[400:] == [OutcomeStatus.RETRYABLE] * 400
    assert "TotalRequests Limit exceeded" in outcomes[400].message
    # Once the allowance is gone the client stops asking: one refused request, not one per chunk.
    assert salesforce.app_state.stats["limit_exceeded"] == 1


def test_concurrent_request_limit_is_retried(salesforce):
    salesforce.app_state.config.concurrent_limit_every = 2
    with client_for(salesforce) as client:
        outcomes = client.upsert("contacts", people(600), "Email")
    assert all(o.ok for o in outcomes)
    assert salesforce.app_state.stats["limit_exceeded"] >= 1


def test_invalid_session_raises(salesforce):
    with SalesforceClient(salesforce.url, "bad") as client, pytest.raises(CrmAuthenticationError):
        client.read_changed("contacts", None)
