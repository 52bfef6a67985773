"""CRM writers: CRM-neutral requests -> one CRM's API calls, with one outcome per request.

`HubSpotWriter` wraps `reverse_etl.crm.hubspot.HubSpotClient` (batching at 100, the client-side throttle,
Retry-After and HubSpot's rate-limit policies, 207 split per row, 5xx/423/timeouts retried idempotently,
validation 400s isolated to their row). Idempotency per kind: tasks and created contacts are upserts keyed by
`actionhouse_id` (or email); updates and owner changes rewrite the same values; an enrollment, unsubscribe or
merge that already happened counts as done.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from landing.contract import epoch_ms
from reverse_etl.crm.base import OutcomeStatus, RowOutcome
from reverse_etl.crm.hubspot import ENGAGEMENT_KEY, Engagement, HubSpotClient
from reverse_etl.sync.requests import CrmRequest

# Neutral contact fields -> HubSpot contact properties.
HUBSPOT_CONTACT_PROPERTIES = {
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "company": "company",
    "job_title": "jobtitle",
    "phone": "phone",
    "mobile_phone": "mobilephone",
    "linkedin_url": "hs_linkedin_url",
    "city": "city",
    "country": "country",
    "seniority": "actionhouse_seniority",
    # HubSpot's `country` is free text ("Germany"); the vendor's ISO code goes to a property of its own.
    "country_code": "actionhouse_country_code",
    "follow_up_date": "actionhouse_follow_up_date",
    "routing_queue": "actionhouse_routing_queue",
    "referred_by": "actionhouse_referred_by",
}
# Custom properties Actionhouse writes; created in the CRM when missing.
_CUSTOM = (
    ("actionhouse_follow_up_date", "Actionhouse follow-up date", "date", "date"),
    ("actionhouse_routing_queue", "Actionhouse routing queue", "string", "text"),
    ("actionhouse_seniority", "Actionhouse seniority", "string", "text"),
    ("actionhouse_country_code", "Actionhouse country code (ISO)", "string", "text"),
    ("actionhouse_referred_by", "Actionhouse referred by", "string", "text"),
    ("actionhouse_fit_score", "Actionhouse fit score", "number", "number"),
    ("actionhouse_intent_score", "Actionhouse intent score", "number", "number"),
    ("actionhouse_combined_score", "Actionhouse score", "number", "number"),
    ("actionhouse_tier", "Actionhouse tier", "number", "number"),
    ("actionhouse_reasons", "Actionhouse reasons", "string", "textarea"),
    ("actionhouse_model_version", "Actionhouse model", "string", "text"),
)
# Custom properties Actionhouse writes; created in the CRM when missing.
_CUSTOM_DEAL = (
    ("actionhouse_hygiene_flags", "Actionhouse hygiene flags", "string", "text"),
    ("actionhouse_risk_tier", "Actionhouse risk tier", "number", "number"),
    ("actionhouse_risk_signals", "Actionhouse risk signals", "string", "textarea"),
)
_CUSTOM_COMPANY = (
    ("actionhouse_risk_verdict", "Actionhouse risk verdict", "string", "text"),
    ("actionhouse_risk_tier", "Actionhouse risk tier", "number", "number"),
    ("actionhouse_risk_signals", "Actionhouse risk signals", "string", "textarea"),
    ("actionhouse_risk_as_of", "Actionhouse risk verdict as of", "date", "date"),
)
CUSTOM_PROPERTIES: dict[str, list[dict[str, str]]] = {
    object_type: [
        {"name": name, "label": label, "type": kind, "fieldType": field_type, "groupName": group}
        for name, label, kind, field_type in definitions
    ]
    for object_type, definitions, group in (
        ("contacts", _CUSTOM, "contactinformation"),
        ("deals", _CUSTOM_DEAL, "dealinformation"),
        ("companies", _CUSTOM_COMPANY, "companyinformation"),
    )
}
BATCH_LIMITS = {
    "contact_create": 100,
    "contact_update": 100,
    "deal_update": 100,
    "task": 100,
    "note": 100,
    "sequence": 25,
    "unsubscribe": 25,
    "merge": 25,
}


class CrmWriter(Protocol):
    """What the sync engine needs from a CRM."""

    connection: str

    def prepare(self) -> None:
        """Once per run: look up owners, create missing custom properties."""
        ...

    def batch_limit(self, kind: str) -> int:
        """How many requests of a kind go in one batch."""
        ...

    def send(self, kind: str, requests: Sequence[CrmRequest]) -> list[RowOutcome]:
        """Carry out requests of one kind; one outcome per request, in order."""
        ...

    def write_fields(self, object_type: str, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[RowOutcome]:
        """Set synced properties on records by id; one outcome per row."""
        ...

    def read_fields(self, object_type: str, record_ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict]:
        """The CRM's current values of `fields` for records by id."""
        ...

    def describe(self, request: CrmRequest) -> dict[str, Any]:
        """What would be sent for a request, in the CRM's own terms (for dry runs)."""
        ...


class HubSpotWriter:
    """Requests -> HubSpot (or the sandbox CRM, which speaks the same API)."""

    def __init__(self, client: HubSpotClient, connection: str) -> None:
        self.client = client
        self.connection = connection
        self.owner_ids: dict[str, str] = {}
        self.owner_emails: dict[str, str] = {}
        self.subscription_ids: list[str] = []

    def prepare(self) -> None:
        """Owners by name, email subscription types, and the custom properties Actionhouse writes."""
        for record in self.client.read_changed("owners", None).records:
            name = " ".join(p for p in (record.properties.get("firstName"), record.properties.get("lastName")) if p)
            self.owner_ids[name] = record.id
            if record.properties.get("email"):
                self.owner_emails[name] = record.properties["email"]
        self.subscription_ids = self.client.subscription_ids()
        for object_type, definitions in CUSTOM_PROPERTIES.items():
            self.client.ensure_properties(object_type, definitions)

    def batch_limit(self, kind: str) -> int:
        return BATCH_LIMITS[kind]

    # ---- translation ----------------------------------------------------------------------------
    def _properties(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "owner":
                out["hubspot_owner_id"] = self.owner_ids.get(value) if value else None
                if value and out["hubspot_owner_id"] is None:
                    raise KeyError(value)
            elif value is not None or name in HUBSPOT_CONTACT_PROPERTIES:
                out[HUBSPOT_CONTACT_PROPERTIES.get(name, name)] = value
        return out

    def describe(self, request: CrmRequest) -> dict[str, Any]:
        payload = request.payload
        if request.kind in ("contact_update", "deal_update"):
            props = payload["properties"] if request.kind == "deal_update" else self._safe(payload["properties"])
            return {
                "call": f"PATCH /crm/v3/objects/{request.object_type} (batch update)",
                "id": request.record_id,
                "properties": props,
            }
        if request.kind == "contact_create":
            fields = {k: v for k, v in payload.items() if k != "key"}
            return {
                "call": "POST /crm/v3/objects/contacts/batch/upsert",
                "idProperty": self._key(request),
                "properties": self._safe(fields),
            }
        if request.kind == "task":
            return {"call": "POST /crm/v3/objects/tasks/batch/upsert + associations", "properties": self._task(request)}
        if request.kind == "note":
            return {"call": "POST /crm/v3/objects/notes/batch/upsert + associations", "properties": self._note(request)}
        if request.kind == "sequence":
            return {
                "call": "POST /automation/v4/sequences/enrollments",
                "contactId": request.record_id,
                "sequenceId": payload["sequence_id"],
            }
        if request.kind == "unsubscribe":
            return {"call": "POST /communication-preferences/v3/unsubscribe", "emails": payload["emails"]}
        return {"call": "POST /crm/v3/objects/contacts/merge", **payload}

    def _safe(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return self._properties(fields)
        except KeyError as missing:
            return {"problem": f"owner {missing} is not a user of this CRM"}

    def _key(self, request: CrmRequest) -> str:
        return "email" if request.payload.get("key") == "email" else ENGAGEMENT_KEY

    def _task(self, request: CrmRequest) -> dict[str, Any]:
        payload = request.payload
        owner_id = self.owner_ids.get(payload.get("owner") or "")
        subject = payload["subject"]
        if payload.get("owner") and owner_id is None:
            subject = f"[{payload['owner']}] {subject}"  # a group (e.g. revops) rather than one user
        return {
            "hs_task_subject": subject[:250],
            "hs_task_body": payload.get("body"),
            "hs_timestamp": epoch_ms(payload["due_at"]),
            "hs_task_status": "NOT_STARTED",
            "hs_task_type": payload.get("task_type", "TODO"),
            "hubspot_owner_id": owner_id,
        }

    def _note(self, request: CrmRequest) -> dict[str, Any]:
        payload = request.payload
        return {
            "hs_note_body": payload["body"],
            "hs_timestamp": epoch_ms(payload["at"]),
            "hubspot_owner_id": self.owner_ids.get(payload.get("owner") or ""),
        }

    # ---- sending ------------------------------------------------------------------------------------
    def send(self, kind: str, requests: Sequence[CrmRequest]) -> list[RowOutcome]:
        if kind in ("contact_update", "deal_update"):
            return self._updates(kind, requests)
        if kind == "contact_create":
            return self._creates(requests)
        if kind == "task":
            engagements = [
                Engagement(r.action_id, self._task(r), [("contacts", c) for c in r.payload["contact_ids"]])
                for r in requests
            ]
            return self.client.write_engagements("tasks", engagements)
        if kind == "note":
            engagements = [
                Engagement(r.action_id, self._note(r), [("contacts", c) for c in r.payload["contact_ids"]])
                for r in requests
            ]
            return self.client.write_engagements("notes", engagements)
        if kind == "sequence":
            outcomes: list[RowOutcome] = []
            for r in requests:
                sender = self.owner_emails.get(r.payload.get("owner") or "")
                if sender is None:
                    problem = f"owner {r.payload.get('owner')} has no sender email in the CRM"
                    outcomes.append(RowOutcome(r.action_id, OutcomeStatus.REJECTED, message=problem))
                    continue
                outcomes += self.client.enroll_in_sequence(
                    [(r.payload["sequence_id"], r.record_id, sender)], user_id=self.owner_ids.get(r.payload["owner"])
                )
            return outcomes
        if kind == "unsubscribe":
            return [self._unsubscribe(r) for r in requests]
        if kind == "merge":
            return self.client.merge(
                "contacts", [(r.payload["primary_record_id"], r.payload["merged_record_id"]) for r in requests]
            )
        raise ValueError(f"unknown request kind {kind}")

    def _updates(self, kind: str, requests: Sequence[CrmRequest]) -> list[RowOutcome]:
        outcomes: list[RowOutcome | None] = [None] * len(requests)
        rows, positions = [], []
        for i, r in enumerate(requests):
            try:
                props = r.payload["properties"] if kind == "deal_update" else self._properties(r.payload["properties"])
            except KeyError as missing:
                outcomes[i] = RowOutcome(
                    r.action_id, OutcomeStatus.REJECTED, message=f"owner {missing} is not a user of this CRM"
                )
                continue
            rows.append({"id": r.record_id, **props})
            positions.append(i)
        if rows:
            for i, outcome in zip(positions, self.client.update(r.object_type, rows), strict=True):
                outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def _creates(self, requests: Sequence[CrmRequest]) -> list[RowOutcome]:
        outcomes: list[RowOutcome | None] = [None] * len(requests)
        by_key: dict[str, list[tuple[int, dict]]] = {}
        for i, r in enumerate(requests):
            fields = {k: v for k, v in r.payload.items() if k != "key"}
            try:
                props = self._properties(fields)
            except KeyError as missing:
                outcomes[i] = RowOutcome(
                    r.action_id, OutcomeStatus.REJECTED, message=f"owner {missing} is not a user of this CRM"
                )
                continue
            props[ENGAGEMENT_KEY] = r.action_id
            by_key.setdefault(self._key(r), []).append((i, props))
        for key, items in by_key.items():
            results = self.client.upsert("contacts", [props for _, props in items], key)
            for (i, _), outcome in zip(items, results, strict=True):
                outcomes[i] = outcome
        return [o for o in outcomes if o is not None]

    def _unsubscribe(self, request: CrmRequest) -> RowOutcome:
        problems = []
        status = OutcomeStatus.OK
        for subscription in self.subscription_ids:
            for outcome in self.client.unsubscribe(request.payload["emails"], subscription):
                if not outcome.ok:
                    problems.append(outcome.message or "")
                    if status is OutcomeStatus.OK or outcome.status is OutcomeStatus.RETRYABLE:
                        status = outcome.status
        return RowOutcome(request.action_id, status, request.record_id, "; ".join(problems) or None)

    # ---- field syncs -------------------------------------------------------------------------------
    def write_fields(self, object_type: str, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[RowOutcome]:
        return self.client.update(object_type, [{"id": record_id, **values} for record_id, values in rows])

    def read_fields(self, object_type: str, record_ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict]:
        return self.client.read_records(object_type, list(record_ids), list(fields))


# ---- Salesforce -----------------------------------------------------------------------------------------------------
# Neutral contact fields -> Contact fields (custom ones, `__c`, are created once when Actionhouse is installed).
SALESFORCE_CONTACT_FIELDS = {
    "first_name": "FirstName",
    "last_name": "LastName",
    "email": "Email",
    "job_title": "Title",
    "phone": "Phone",
    "mobile_phone": "MobilePhone",
    "city": "MailingCity",
    "country": "MailingCountry",
    "company": "Actionhouse_Company__c",
    "linkedin_url": "Actionhouse_LinkedIn_URL__c",
    "seniority": "Actionhouse_Seniority__c",
    "country_code": "Actionhouse_Country_Code__c",
    "follow_up_date": "Actionhouse_Follow_Up_Date__c",
    "routing_queue": "Actionhouse_Routing_Queue__c",
    "referred_by": "Actionhouse_Referred_By__c",
    "actionhouse_fit_score": "Actionhouse_Fit_Score__c",
    "actionhouse_intent_score": "Actionhouse_Intent_Score__c",
    "actionhouse_combined_score": "Actionhouse_Combined_Score__c",
    "actionhouse_tier": "Actionhouse_Tier__c",
    "actionhouse_reasons": "Actionhouse_Reasons__c",
    "actionhouse_model_version": "Actionhouse_Model_Version__c",
}
# HubSpot deal properties (what `update_deal` payloads name) -> Opportunity fields.
SALESFORCE_DEAL_FIELDS = {
    "dealstage": "StageName",
    "amount": "Amount",
    "closedate": "CloseDate",
    "dealname": "Name",
    "hs_priority": "Actionhouse_Priority__c",
    "actionhouse_hygiene_flags": "Actionhouse_Hygiene_Flags__c",
    "actionhouse_risk_tier": "Actionhouse_Risk_Tier__c",
    "actionhouse_risk_signals": "Actionhouse_Risk_Signals__c",
}
# Company properties of the account field sync -> Account fields.
SALESFORCE_ACCOUNT_FIELDS = {
    "actionhouse_risk_verdict": "Actionhouse_Risk_Verdict__c",
    "actionhouse_risk_tier": "Actionhouse_Risk_Tier__c",
    "actionhouse_risk_signals": "Actionhouse_Risk_Signals__c",
    "actionhouse_risk_as_of": "Actionhouse_Risk_As_Of__c",
}
SALESFORCE_MERGE_REFUSAL = (
    "Actionhouse does not merge Salesforce records: Salesforce merges only through its SOAP API or the Merge "
    "Contacts screen, which keep its own field-by-field choices; merge these two contacts in Salesforce"
)


class SalesforceWriter:
    """Requests -> Salesforce (REST, sObject Collections of 200). Tasks, notes (completed tasks) and created
    contacts are upserts on `Actionhouse_Id__c` (or Email); owner, field, opt-out and deal changes are updates by
    id (rewriting the same values is harmless); sequence enrollments are CampaignMember inserts, where Salesforce's
    DUPLICATE_VALUE means the contact is already a member (done). Merges are refused with the reason."""

    def __init__(self, client, connection: str) -> None:
        self.client = client
        self.connection = connection
        self.user_ids: dict[str, str] = {}

    def prepare(self) -> None:
        """The org's active users by name (record owners and task assignees)."""
        for user in self.client.query("SELECT Id, Name, Email FROM User"):
            self.user_ids[user["Name"]] = user["Id"]

    def batch_limit(self, kind: str) -> int:
        return 1 if kind == "merge" else 200

    def _fields(self, neutral: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in neutral.items():
            if name == "owner":
                owner = self.user_ids.get(value) if value else None
                if value and owner is None:
                    raise KeyError(value)
                out["OwnerId"] = owner
            elif name in SALESFORCE_CONTACT_FIELDS:
                out[SALESFORCE_CONTACT_FIELDS[name]] = value
            else:
                raise KeyError(f"field {name}")
        return out

    def _task(self, request: CrmRequest, note: bool = False) -> dict[str, Any]:
        payload = request.payload
        owner = self.user_ids.get(payload.get("owner") or "")
        return {
            "type": "Task",
            "Actionhouse_Id__c": request.action_id,
            "Subject": "Note" if note else payload["subject"][:255],
            "Description": payload["body"],
            "ActivityDate": str(payload["at" if note else "due_at"])[:10],
            "Status": "Completed" if note else "Not Started",
            "Priority": "Normal",
            "TaskSubtype": "Email" if payload.get("task_type") == "EMAIL" else "Task",
            "WhoId": payload["contact_ids"][0],
            **({"OwnerId": owner} if owner else {}),
        }

    def describe(self, request: CrmRequest) -> dict[str, Any]:
        if request.kind in ("task", "note"):
            return {
                "call": "PATCH composite/sobjects/Task/Actionhouse_Id__c",
                **self._task(request, request.kind == "note"),
            }
        if request.kind == "merge":
            return {"call": "none", "problem": SALESFORCE_MERGE_REFUSAL}
        return {"call": f"composite/sobjects ({request.kind})", "id": request.record_id, "payload": request.payload}

    def send(self, kind: str, requests: Sequence[CrmRequest]) -> list[RowOutcome]:
        if kind in ("task", "note"):
            rows = [self._task(r, kind == "note") for r in requests]
            outcomes = self.client.upsert(
                "Task", [{k: v for k, v in r.items() if k != "type"} for r in rows], "Actionhouse_Id__c"
            )
            return [
                RowOutcome(r.action_id, o.status, o.record_id, o.message)
                for r, o in zip(requests, outcomes, strict=True)
            ]
        if kind == "merge":
            return [RowOutcome(r.action_id, OutcomeStatus.REJECTED, message=SALESFORCE_MERGE_REFUSAL) for r in requests]
        if kind == "sequence":
            rows = [
                {
                    "type": "CampaignMember",
                    "CampaignId": r.payload["sequence_id"],
                    "ContactId": r.record_id,
                    "Status": "Sent",
                }
                for r in requests
            ]
            outcomes = self.client.create(rows, [r.action_id for r in requests])
            return [
                RowOutcome(o.key, OutcomeStatus.OK, o.record_id) if o.message and "DUPLICATE_VALUE" in o.message else o
                for o in outcomes
            ]
        if kind == "contact_create":
            return self._creates(requests)
        updates, positions, outcomes = [], [], [None] * len(requests)
        for i, r in enumerate(requests):
            try:
                updates.append(self._update_row(kind, r))
                positions.append(i)
            except KeyError as missing:
                outcomes[i] = RowOutcome(
                    r.action_id, OutcomeStatus.REJECTED, message=f"{missing.args[0]} has no Salesforce field (or user)"
                )
        for i, outcome in zip(positions, self.client.update(updates), strict=True):
            outcomes[i] = RowOutcome(requests[i].action_id, outcome.status, outcome.record_id, outcome.message)
        return outcomes

    def _update_row(self, kind: str, request: CrmRequest) -> dict[str, Any]:
        if request.record_id is None:
            raise KeyError("a record without a Salesforce id")
        if kind == "unsubscribe":
            return {"type": "Contact", "Id": request.record_id, "HasOptedOutOfEmail": True}
        if kind == "deal_update":
            fields = {}
            for name, value in request.payload["properties"].items():
                if name not in SALESFORCE_DEAL_FIELDS:
                    raise KeyError(f"deal property {name}")
                fields[SALESFORCE_DEAL_FIELDS[name]] = value
            return {"type": "Opportunity", "Id": request.record_id, **fields}
        return {"type": "Contact", "Id": request.record_id, **self._fields(request.payload["properties"])}

    def _creates(self, requests: Sequence[CrmRequest]) -> list[RowOutcome]:
        outcomes: list[RowOutcome] = []
        for r in requests:
            neutral = {k: v for k, v in r.payload.items() if k != "key" and v is not None}
            neutral.setdefault("last_name", "[not provided]")  # Salesforce requires a last name
            try:
                fields = self._fields(neutral)
            except KeyError as missing:
                outcomes.append(
                    RowOutcome(
                        r.action_id,
                        OutcomeStatus.REJECTED,
                        message=f"{missing.args[0]} has no Salesforce field (or user)",
                    )
                )
                continue
            key = "Email" if r.payload.get("key") == "email" else "Actionhouse_Id__c"
            fields["Actionhouse_Id__c"] = r.action_id
            (outcome,) = self.client.upsert("Contact", [fields], key)
            outcomes.append(RowOutcome(r.action_id, outcome.status, outcome.record_id, outcome.message))
        return outcomes

    def write_fields(self, object_type: str, rows: Sequence[tuple[str, Mapping[str, Any]]]) -> list[RowOutcome]:
        if object_type == "companies":
            updates = [
                {"type": "Account", "Id": record_id, **{SALESFORCE_ACCOUNT_FIELDS[k]: v for k, v in values.items()}}
                for record_id, values in rows
            ]
        else:
            updates = [{"type": "Contact", "Id": record_id, **self._fields(values)} for record_id, values in rows]
        return self.client.update(updates)

    def read_fields(self, object_type: str, record_ids: Sequence[str], fields: Sequence[str]) -> dict[str, dict]:
        companies = object_type == "companies"
        mapping = SALESFORCE_ACCOUNT_FIELDS if companies else SALESFORCE_CONTACT_FIELDS
        sobject = "Account" if companies else "Contact"
        names = {mapping[f]: f for f in fields}
        out: dict[str, dict] = {}
        for start in range(0, len(record_ids), 200):
            ids = ", ".join(f"'{i}'" for i in record_ids[start : start + 200] if str(i).isalnum())
            soql = f"SELECT Id, {', '.join(names)} FROM {sobject} WHERE Id IN ({ids})"
            for record in self.client.query(soql):
                out[record["Id"]] = {names[k]: v for k, v in record.items() if k in names}
        return out
