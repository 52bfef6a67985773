"""HubSpot API properties <-> the landing contract's raw columns (the CSV export's labels in snake_case).

One table per object type, used both ways: `actionhouse crm seed` turns export rows into API properties,
and API ingestion turns API records back into raw rows, so both paths fill the same raw tables with the
same values. Enumerations are stored in HubSpot's internal values (`marketingqualifiedlead`) and
exported as labels (`Marketing Qualified Lead`), as HubSpot itself does.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from landing.contract import parse_timestamp, snake_case

# raw column -> HubSpot property (owner and association columns are handled separately below).
CONTACT_COLUMNS = {
    "record_id": "hs_object_id",
    "first_name": "firstname",
    "last_name": "lastname",
    "email": "email",
    "phone_number": "phone",
    "mobile_phone_number": "mobilephone",
    "job_title": "jobtitle",
    "company_name": "company",
    "website_url": "website",
    "street_address": "address",
    "city": "city",
    "state_region": "state",
    "postal_code": "zip",
    "country_region": "country",
    "linkedin_url": "hs_linkedin_url",
    "create_date": "createdate",
    "last_modified_date": "lastmodifieddate",
    "lifecycle_stage": "lifecyclestage",
    "lead_status": "hs_lead_status",
    "original_source": "hs_analytics_source",
    "associated_company_id_primary": "associatedcompanyid",
    "unsubscribed_from_all_email": "hs_email_optout",
    "human_verified_fields": "actionhouse_human_verified_fields",
}
COMPANY_COLUMNS = {
    "record_id": "hs_object_id",
    "company_name": "name",
    "company_domain_name": "domain",
    "website_url": "website",
    "industry": "industry",
    "number_of_employees": "numberofemployees",
    "annual_revenue": "annualrevenue",
    "phone_number": "phone",
    "street_address": "address",
    "city": "city",
    "state_region": "state",
    "postal_code": "zip",
    "country_region": "country",
    "create_date": "createdate",
    "last_modified_date": "hs_lastmodifieddate",
    "lifecycle_stage": "lifecyclestage",
    "type": "type",
    "parent_company_id": "hs_parent_company_id",
    "technologies": "web_technologies",
    # Not a HubSpot default: the custom date property customers' subscription renewals are kept in.
    "renewal_date": "renewal_date",
}
DEAL_STAGES = {
    "appointmentscheduled": "Appointment Scheduled",
    "qualifiedtobuy": "Qualified To Buy",
    "presentationscheduled": "Presentation Scheduled",
    "decisionmakerboughtin": "Decision Maker Bought-In",
    "contractsent": "Contract Sent",
    "closedwon": "Closed Won",
    "closedlost": "Closed Lost",
}
DEAL_COLUMNS = {
    "record_id": "hs_object_id",
    "deal_name": "dealname",
    "deal_stage": "dealstage",
    "pipeline": "pipeline",
    "amount": "amount",
    "close_date": "closedate",
    "create_date": "createdate",
    "last_modified_date": "hs_lastmodifieddate",
    "deal_type": "dealtype",
    **{
        f"date_entered_{snake_case(label)}_sales_pipeline": f"hs_v2_date_entered_{stage}"
        for stage, label in DEAL_STAGES.items()
    },
}
OBJECT_COLUMNS = {"contacts": CONTACT_COLUMNS, "companies": COMPANY_COLUMNS, "deals": DEAL_COLUMNS}
RAW_SOURCES = {"contacts": "hubspot_contacts", "companies": "hubspot_companies", "deals": "hubspot_deals"}
# Engagements read back from the CRM land in the activities table, as the activities export would carry them.
ENGAGEMENT_SOURCES = {"tasks": "hubspot_activities", "notes": "hubspot_activities"}
# Every object type the API ingestion pulls -> the landing source (raw table) its rows go to.
API_RAW_SOURCES = {**RAW_SOURCES, **ENGAGEMENT_SOURCES}
ENGAGEMENT_PROPERTIES = {
    "tasks": ("hs_task_subject", "hs_task_status", "hs_task_type", "hs_timestamp", "actionhouse_id"),
    "notes": ("hs_note_body", "hs_timestamp", "actionhouse_id"),
}
# Contact properties Actionhouse writes (scores, routing); read back into the raw rows' `extra_columns`.
ACTIONHOUSE_CONTACT_PROPERTIES = (
    "actionhouse_fit_score",
    "actionhouse_intent_score",
    "actionhouse_combined_score",
    "actionhouse_tier",
    "actionhouse_reasons",
    "actionhouse_model_version",
    "actionhouse_follow_up_date",
    "actionhouse_routing_queue",
)
OWNER_COLUMNS = {"contacts": "contact_owner", "companies": "company_owner", "deals": "deal_owner"}
ASSOCIATION_COLUMNS = {
    "contacts": {"associated_company_ids": "companies"},
    "deals": {"associated_company_ids": "companies", "associated_contact_ids": "contacts"},
}
TIMESTAMP_PROPERTIES = {
    "createdate",
    "lastmodifieddate",
    "hs_lastmodifieddate",
    "closedate",
    *(f"hs_v2_date_entered_{stage}" for stage in DEAL_STAGES),
}

# HubSpot internal value -> export label, per enumeration property (unknown values pass through).
ENUM_LABELS: dict[str, dict[str, str]] = {
    "lifecyclestage": {
        "subscriber": "Subscriber",
        "lead": "Lead",
        "marketingqualifiedlead": "Marketing Qualified Lead",
        "salesqualifiedlead": "Sales Qualified Lead",
        "opportunity": "Opportunity",
        "customer": "Customer",
        "evangelist": "Evangelist",
        "other": "Other",
    },
    # Labels as the sample world's exports spell them (sentence case).
    "hs_lead_status": {
        "NEW": "New",
        "OPEN": "Open",
        "IN_PROGRESS": "In progress",
        "OPEN_DEAL": "Open deal",
        "UNQUALIFIED": "Unqualified",
        "ATTEMPTED_TO_CONTACT": "Attempted to contact",
        "CONNECTED": "Connected",
        "BAD_TIMING": "Bad timing",
    },
    "hs_analytics_source": {
        "ORGANIC_SEARCH": "Organic Search",
        "PAID_SEARCH": "Paid Search",
        "EMAIL_MARKETING": "Email Marketing",
        "SOCIAL_MEDIA": "Social Media",
        "REFERRALS": "Referrals",
        "OTHER_CAMPAIGNS": "Other Campaigns",
        "DIRECT_TRAFFIC": "Direct Traffic",
        "OFFLINE": "Offline Sources",
        "PAID_SOCIAL": "Paid Social",
    },
    "dealstage": DEAL_STAGES,
    "pipeline": {"default": "Sales Pipeline"},
}
_ENUM_VALUES = {prop: {label.lower(): value for value, label in labels.items()} for prop, labels in ENUM_LABELS.items()}


def properties_to_read(object_type: str) -> list[str]:
    """HubSpot properties the ingestion asks for (mapped columns, the owner id, what Actionhouse writes)."""
    if object_type in ENGAGEMENT_PROPERTIES:
        return sorted({*ENGAGEMENT_PROPERTIES[object_type], "hubspot_owner_id", "hs_lastmodifieddate"})
    extra = ACTIONHOUSE_CONTACT_PROPERTIES if object_type == "contacts" else ()
    return sorted({*OBJECT_COLUMNS[object_type].values(), "hubspot_owner_id", *extra})


def iso_timestamp(value: str | None) -> str | None:
    """An export timestamp (`2026-03-01 09:30`) as HubSpot's ISO form; None if blank, unchanged if unparsable."""
    if value is None or str(value).strip() == "":
        return None
    parsed = parse_timestamp(str(value))
    if parsed is None:
        return str(value)
    parsed = parsed.astimezone(UTC)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"


def raw_row_to_properties(object_type: str, row: Mapping[str, str | None]) -> dict[str, str]:
    """An export row (raw column -> text) as HubSpot API properties (internal enumeration values, ISO times)."""
    properties: dict[str, str] = {}
    for column, prop in OBJECT_COLUMNS[object_type].items():
        value = row.get(column)
        if value is None or str(value).strip() == "":
            continue
        value = str(value)
        if prop in TIMESTAMP_PROPERTIES:
            value = iso_timestamp(value) or value
        elif prop in _ENUM_VALUES:
            value = _ENUM_VALUES[prop].get(value.strip().lower(), value)
        elif prop == "hs_email_optout":
            value = value.strip().lower()
        properties[prop] = value
    return properties


def properties_to_raw_row(
    object_type: str,
    properties: Mapping[str, str | None],
    owner_names: Mapping[str, str],
    associations: Mapping[str, list[str]],
) -> dict[str, str | None]:
    """A HubSpot API record as a raw-table row: export labels, owner names, `;`-joined association ids."""
    row: dict[str, str | None] = {}
    for column, prop in OBJECT_COLUMNS[object_type].items():
        value = properties.get(prop)
        if value is not None and prop in ENUM_LABELS:
            value = ENUM_LABELS[prop].get(value, value)
        row[column] = value
    owner = properties.get("hubspot_owner_id")
    row[OWNER_COLUMNS[object_type]] = owner_names.get(owner, owner) if owner else None
    for column, target in ASSOCIATION_COLUMNS.get(object_type, {}).items():
        ids = associations.get(target) or []
        row[column] = ";".join(ids) if ids else None
    if object_type == "contacts":
        written = {p: properties[p] for p in ACTIONHOUSE_CONTACT_PROPERTIES if properties.get(p) not in (None, "")}
        row["extra_columns"] = json.dumps(written, sort_keys=True) if written else None
    return row


def _iso_time(value: str | None) -> str | None:
    """HubSpot times come as ISO text or epoch milliseconds; the raw tables keep ISO text."""
    if value is None or str(value).strip() == "":
        return None
    value = str(value).strip()
    if value.isdigit():
        moment = datetime.fromtimestamp(int(value) / 1000, UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return value


def engagement_to_raw_row(
    object_type: str,
    properties: Mapping[str, str | None],
    owner_names: Mapping[str, str],
    associations: Mapping[str, list[str]],
) -> dict[str, str | None]:
    """A task or note from the API as a row of the activities table (what the activities export would hold).

    The modification time, the task type and the Actionhouse action id that created it (if any) go to
    `extra_columns`, so lineage from a CRM activity back to its action survives the round trip."""
    owner = properties.get("hubspot_owner_id")
    contacts, companies = associations.get("contacts") or [], associations.get("companies") or []
    if object_type == "tasks":
        subject, status = properties.get("hs_task_subject"), properties.get("hs_task_status")
    else:
        subject, status = " ".join((properties.get("hs_note_body") or "").split())[:250] or None, None
    extra = {
        "hs_lastmodifieddate": properties.get("hs_lastmodifieddate"),
        "hs_task_type": properties.get("hs_task_type"),
        "actionhouse_id": properties.get("actionhouse_id"),
    }
    return {
        "record_id": properties.get("hs_object_id"),
        "activity_type": "TASK" if object_type == "tasks" else "NOTE",
        "activity_date": _iso_time(properties.get("hs_timestamp")),
        "activity_assigned_to": owner_names.get(owner, owner) if owner else None,
        "subject": subject,
        "call_outcome": None,
        "task_status": status,
        "associated_contact_ids": ";".join(contacts) or None,
        "associated_company_ids": ";".join(companies) or None,
        "extra_columns": json.dumps({k: v for k, v in extra.items() if v}, sort_keys=True),
    }
