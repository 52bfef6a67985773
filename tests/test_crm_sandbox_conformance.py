"""The sandbox CRM against the official `hubspot-api-client`: create, batch upsert, search, associations."""

from __future__ import annotations

import httpx
import pytest

hubspot = pytest.importorskip("hubspot")

from hubspot.crm.associations.v4 import ApiException as AssociationsApiException  # noqa: E402
from hubspot.crm.contacts import (  # noqa: E402
    ApiException,
    BatchInputSimplePublicObjectBatchInputUpsert,
    PublicObjectSearchRequest,
    SimplePublicObjectBatchInputUpsert,
    SimplePublicObjectInputForCreate,
)

from crm_sandbox.config import SandboxConfig  # noqa: E402
from crm_sandbox.server import start_sandbox  # noqa: E402

TOKEN = "conformance-token"


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    config = SandboxConfig(db_path=tmp_path_factory.mktemp("crm") / "crm.sqlite", tokens=(TOKEN,), rate_limit=1000)
    server, app = start_sandbox(config)
    app.state.store.add_owners([{"email": "owner@example.com", "firstName": "Olive", "lastName": "Owner"}])
    yield server
    server.stop()


@pytest.fixture
def client(sandbox):
    return hubspot.HubSpot(access_token=TOKEN, host=sandbox.url)


def test_create_then_read_with_official_client(client):
    created = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "ada@example.com", "firstname": "Ada"})
    )
    assert created.id.isdigit()
    assert created.properties["email"] == "ada@example.com"
    read = client.crm.contacts.basic_api.get_by_id(created.id, properties=["firstname", "email"])
    assert read.properties["firstname"] == "Ada"
    by_email = client.crm.contacts.basic_api.get_by_id("ADA@example.com", id_property="email")
    assert by_email.id == created.id


def test_batch_upsert_creates_then_updates(client):
    def upsert(name):
        batch = BatchInputSimplePublicObjectBatchInputUpsert(
            inputs=[
                SimplePublicObjectBatchInputUpsert(
                    id_property="email", id=f"u{i}@example.com", properties={"firstname": name}
                )
                for i in range(3)
            ]
        )
        return client.crm.contacts.batch_api.upsert(batch)

    first = upsert("One")
    assert [r.new for r in first.results] == [True, True, True]
    second = upsert("Two")
    assert [r.new for r in second.results] == [False, False, False]
    assert {r.id for r in first.results} == {r.id for r in second.results}
    assert all(r.properties["firstname"] == "Two" for r in second.results)


def test_search_filters_on_last_modified_and_pages(client):
    stamp = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "marker@example.com"})
    ).updated_at
    for i in range(5):
        client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": f"s{i}@ex.com"}))
    request = PublicObjectSearchRequest(
        filter_groups=[
            {
                "filters": [
                    {
                        "propertyName": "hs_lastmodifieddate",
                        "operator": "GT",
                        "value": str(int(stamp.timestamp() * 1000)),
                    }
                ]
            }
        ],
        sorts=[{"propertyName": "hs_lastmodifieddate", "direction": "ASCENDING"}],
        properties=["email"],
        limit=2,
    )
    page = client.crm.contacts.search_api.do_search(public_object_search_request=request)
    assert page.total == 5
    emails = [r.properties["email"] for r in page.results]
    while page.paging is not None:
        request.after = page.paging.next.after
        page = client.crm.contacts.search_api.do_search(public_object_search_request=request)
        emails += [r.properties["email"] for r in page.results]
    assert emails == [f"s{i}@ex.com" for i in range(5)]


def test_associations_default_and_listing(client):
    contact = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "a@co.com"}))
    company = client.crm.companies.basic_api.create(
        hubspot.crm.companies.SimplePublicObjectInputForCreate(properties={"name": "Co", "domain": "co.com"})
    )
    note = client.crm.objects.notes.basic_api.create(
        hubspot.crm.objects.notes.SimplePublicObjectInputForCreate(
            properties={"hs_note_body": "hello", "hs_timestamp": "2026-01-01T00:00:00Z"},
            associations=[
                {
                    "to": {"id": contact.id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 202}],
                }
            ],
        )
    )
    answer = client.crm.associations.v4.basic_api.create_default("contacts", contact.id, "companies", company.id)
    assert answer.results[0].association_spec.association_type_id == 279
    listed = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "companies")
    assert [r.to_object_id for r in listed.results] == [company.id]
    notes = client.crm.associations.v4.basic_api.get_page("contacts", contact.id, "notes")
    assert [r.to_object_id for r in notes.results] == [note.id]
    assert notes.results[0].association_types[0].type_id == 201  # the inverse of note->contact 202
    with pytest.raises(AssociationsApiException) as missing:
        client.crm.associations.v4.basic_api.create_default("contacts", "999999999", "companies", company.id)
    assert missing.value.status == 404


def test_owners_listed(client):
    owners = client.crm.owners.owners_api.get_page(email="owner@example.com")
    assert [o.first_name for o in owners.results] == ["Olive"]


def test_missing_token_is_401_with_hubspot_error_body(client, sandbox):
    answer = httpx.get(f"{sandbox.url}/crm/v3/objects/contacts")
    assert answer.status_code == 401
    assert answer.json()["category"] == "INVALID_AUTHENTICATION"
    bad = hubspot.HubSpot(access_token="wrong", host=sandbox.url)
    with pytest.raises(ApiException) as failure:
        bad.crm.contacts.basic_api.get_page()
    assert failure.value.status == 401


def test_rate_limit_answers_429_with_policy_and_headers(tmp_path):
    config = SandboxConfig(db_path=tmp_path / "crm.sqlite", tokens=(TOKEN,), rate_limit=3)
    server, _ = start_sandbox(config)
    try:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        answers = [httpx.get(f"{server.url}/crm/v3/objects/contacts", headers=headers) for _ in range(4)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429]
        assert answers[0].headers["X-HubSpot-RateLimit-Max"] == "3"
        assert answers[2].headers["X-HubSpot-RateLimit-Remaining"] == "0"
        assert answers[3].json()["policyName"] == "TEN_SECONDLY_ROLLING"
        assert answers[3].headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        too_many = httpx.post(
            f"{server.url}/crm/v3/objects/contacts/batch/upsert", headers=headers, json={"inputs": [{"id": "x"}] * 101}
        )
        assert too_many.status_code == 429  # the window is still full; the 101-input check is tested below
    finally:
        server.stop()


def test_batch_limit_and_partial_validation_errors(sandbox):
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = f"{sandbox.url}/crm/v3/objects/contacts/batch/upsert"
    too_many = httpx.post(
        url,
        headers=headers,
        json={"inputs": [{"id": f"{i}@x.com", "idProperty": "email", "properties": {}} for i in range(101)]},
    )
    assert too_many.status_code == 400 and too_many.json()["category"] == "VALIDATION_ERROR"
    mixed = httpx.post(
        url,
        headers=headers,
        json={
            "inputs": [
                {"id": "good@x.com", "idProperty": "email", "properties": {"firstname": "G"}},
                {
                    "id": "bad@x.com",
                    "idProperty": "email",
                    "properties": {"hubspot_owner_id": "1"},
                    "objectWriteTraceId": "row-2",
                },
            ]
        },
    )
    assert mixed.status_code == 207
    body = mixed.json()
    assert body["numErrors"] == 1 and len(body["results"]) == 1
    assert body["errors"][0]["context"]["objectWriteTraceId"] == ["row-2"]
    assert "INVALID_OWNER_ID" in body["errors"][0]["message"]


def test_batch_read_merge_and_archive_with_official_client(client):
    from hubspot.crm.contacts import BatchReadInputSimplePublicObjectId, PublicMergeInput, SimplePublicObjectId

    first = client.crm.contacts.basic_api.create(SimplePublicObjectInputForCreate(properties={"email": "m1@x.com"}))
    second = client.crm.contacts.basic_api.create(
        SimplePublicObjectInputForCreate(properties={"email": "m2@x.com", "jobtitle": "CTO"})
    )
    read = client.crm.contacts.batch_api.read(
        BatchReadInputSimplePublicObjectId(
            id_property="email",
            properties=["email"],
            inputs=[SimplePublicObjectId(id="m1@x.com"), SimplePublicObjectId(id="m2@x.com")],
        )
    )
    assert sorted(r.id for r in read.results) == sorted([first.id, second.id])
    merged = client.crm.contacts.basic_api.merge(
        PublicMergeInput(primary_object_id=first.id, object_id_to_merge=second.id)
    )
    assert merged.id == first.id
    survivor = client.crm.contacts.basic_api.get_by_id(second.id, properties=["jobtitle"])
    assert survivor.id == first.id and survivor.properties["jobtitle"] == "CTO"
    client.crm.contacts.basic_api.archive(first.id)
    with pytest.raises(ApiException) as gone:
        client.crm.contacts.basic_api.get_by_id(first.id)
    assert gone.value.status == 404
