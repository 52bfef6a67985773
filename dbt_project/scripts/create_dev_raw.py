"""Build a small DuckDB file with the `raw` tables described in docs/landing-contract.md.

Used for dbt development (`python dbt_project/scripts/create_dev_raw.py [path] [--empty]`) and by
tests/test_dbt_project.py (`create_dev_raw(path)`). The tables are created by the loader's own schema
code (`landing.schema.ensure_raw_schema`), so they always have the shape ingestion writes; this script only
adds hand-made rows that exercise each normalization.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path

import duckdb

from landing.contract import SOURCES
from landing.schema import ensure_raw_schema

_LOADED_1 = datetime(2026, 3, 1, 10, 0, 0)
_LOADED_2 = datetime(2026, 3, 1, 11, 0, 0)


def _contacts():
    h = SOURCES["hubspot_contacts"].columns
    rows = [
        # first version of 1001 (older last modified) - must be dropped by dedupe
        {
            "Record ID": "1001",
            "First Name": "Ana",
            "Last Name": "Old",
            "Email": "ana@acme.io",
            "Last Modified Date": "2026-02-01 09:00",
            "Create Date": "2026-01-01",
        },
        {
            "Record ID": "1001",
            "First Name": "  Ana  ",
            "Last Name": "Souza   Lima",
            "Email": "  Ana@ACME.io ",
            "Phone Number": "(415) 555-0123 x12",
            "Mobile Phone Number": "+1 415-555-0199",
            "Job Title": "VP of Sales",
            "Company Name": "Acme",
            "Website URL": "https://www.Acme.io/about",
            "City": "San Francisco",
            "State/Region": "CA",
            "Country/Region": "USA",
            "LinkedIn URL": "https://www.linkedin.com/in/Ana-Souza/?utm=x",
            "Create Date": "2026-01-01",
            "Last Modified Date": "2026-03-01T09:30:00Z",
            "Lifecycle Stage": "lead",
            "Lead Status": "NEW",
            "Contact owner": "Sam Seller",
            "Original Source": "ORGANIC_SEARCH",
            "Associated Company IDs": "2001;2002",
            "Associated Company ID (Primary)": "2001",
            "Unsubscribed from all email": "false",
            "Human Verified Fields": "email;phone",
        },
        {
            "Record ID": "1002",
            "First Name": "Bernd",
            "Last Name": "Müller",
            "Email": "bernd.mueller@beta.de",
            "Phone Number": "030 1234567",
            "Job Title": "Head of Growth Marketing",
            "Company Name": "Beta GmbH",
            "Website URL": "beta.de",
            "Country/Region": "Deutschland",
            "Create Date": "2026-01-05 08:00:00",
            "Last Modified Date": "2026-02-10 12:00",
            "Associated Company IDs": "2003",
            "Associated Company ID (Primary)": "2003",
            "Unsubscribed from all email": "Yes",
        },
        {
            "Record ID": "1003",
            "First Name": "Chloe",
            "Last Name": "Smith",
            "Email": "chloe@@gamma",
            "Phone Number": "0044 20 7946 0958",
            "Job Title": "Sr. Software Engineer",
            "Country/Region": "UK",
            "Create Date": "2026-01-07",
            "Last Modified Date": "2026-01-07T10:00:00+01:00",
        },
        {
            "Record ID": "1004",
            "First Name": "Dan",
            "Last Name": "",
            "Email": "",
            "Phone Number": "12",
            "Job Title": "Student",
            "Country/Region": "Atlantis",
            "Create Date": "2026-01-08",
            "Last Modified Date": "2026-01-08",
        },
    ]
    return h, rows


def _companies():
    h = SOURCES["hubspot_companies"].columns
    rows = [
        {
            "Record ID": "2001",
            "Company name": "Acme",
            "Company Domain Name": "acme.io",
            "Website URL": "http://www.acme.io",
            "Industry": "COMPUTER_SOFTWARE",
            "Number of Employees": "250",
            "Annual Revenue": "12,500,000.50",
            "Phone Number": "+1 (415) 555 0100",
            "Country/Region": "United States",
            "Create Date": "2025-12-01",
            "Last Modified Date": "2026-02-01 10:00",
            "Lifecycle Stage": "customer",
            "Type": "CUSTOMER",
            "Technologies": "salesforce;slack",
        },
        {
            "Record ID": "2003",
            "Company name": "Beta GmbH",
            "Company Domain Name": "www.beta.de",
            "Website URL": "https://beta.de/",
            "Number of Employees": "40",
            "Annual Revenue": "",
            "Phone Number": "+49 (0)30 1234567",
            "Country/Region": "DE",
            "Create Date": "2025-12-02",
            "Last Modified Date": "2026-02-02",
            "Parent Company ID": "2001",
        },
    ]
    return h, rows


def _deals():
    h = SOURCES["hubspot_deals"].columns
    rows = [
        {
            "Record ID": "3001",
            "Deal Name": "Acme - New",
            "Deal Stage": "closedwon",
            "Pipeline": "default",
            "Amount": "$12,000.00",
            "Close Date": "2026-02-28",
            "Create Date": "2026-01-10",
            "Last Modified Date": "2026-02-28 16:00",
            "Deal owner": "Sam Seller",
            "Deal Type": "newbusiness",
            "Associated Company IDs": "2001",
            "Associated Contact IDs": "1001; 1002",
            'Date entered "Appointment Scheduled (Sales Pipeline)"': "2026-01-10 09:00",
            'Date entered "Closed Won (Sales Pipeline)"': "2026-02-28 16:00",
        },
        {
            "Record ID": "3002",
            "Deal Name": "Beta - Pilot",
            "Deal Stage": "appointmentscheduled",
            "Amount": "",
            "Create Date": "2026-02-01",
            "Last Modified Date": "2026-02-01",
            "Associated Company IDs": "2003",
            "Associated Contact IDs": "",
        },
    ]
    return h, rows


def _meetings():
    h = SOURCES["hubspot_meetings"].columns
    rows = [
        {
            "Record ID": "4001",
            "Meeting name": "Discovery",
            "Meeting start time": "2026-02-03 15:00",
            "Meeting end time": "2026-02-03 15:30",
            "Meeting outcome": "COMPLETED",
            "Activity assigned to": "Sam",
            "Create Date": "2026-02-01",
            "Associated Contact IDs": "1001",
            "Associated Company IDs": "2001",
            "Associated Deal IDs": "3001",
        },
        {
            "Record ID": "4002",
            "Meeting name": "Demo",
            "Meeting start time": "2026-03-05T10:00:00-05:00",
            "Meeting outcome": "scheduled",
            "Create Date": "2026-02-20",
            "Associated Contact IDs": "1002",
        },
    ]
    return h, rows


def _activities():
    h = SOURCES["hubspot_activities"].columns
    rows = [
        {
            "Record ID": "6001",
            "Activity type": "CALL",
            "Activity date": "2026-02-02 09:15",
            "Activity assigned to": "Sam",
            "Subject": "Call",
            "Call outcome": "Connected",
            "Associated Contact IDs": "1001",
            "Associated Company IDs": "2001",
        },
        {
            "Record ID": "6002",
            "Activity type": "task",
            "Activity date": "2026-02-03 10:00",
            "Activity assigned to": "Sam",
            "Subject": "Follow up",
            "Task status": "not_started",
            "Associated Contact IDs": "1002",
        },
    ]
    return h, rows


def _tickets():
    h = SOURCES["hubspot_tickets"].columns
    rows = [
        {
            "Ticket ID": "5001",
            "Ticket name": "Login issue",
            "Pipeline": "support",
            "Ticket status": "open",
            "Priority": "HIGH",
            "Category": "PRODUCT_ISSUE",
            "Create date": "2026-02-10 08:00",
            "Last Modified Date": "2026-02-11",
            "Associated Company IDs": "2001",
            "Associated Contact IDs": "1001",
        },
    ]
    return h, rows


def _leads():
    h = SOURCES["leads"].columns
    rows = [
        {
            "Submission ID": "9001",
            "Submitted At": "2026-03-01 08:15",
            "Lead Source": "demo_request",
            "Campaign": "spring",
            "First Name": "Eve",
            "Last Name": "Ng",
            "Email": "EVE@Delta.co",
            "Phone Number": "+33 6 12 34 56 78",
            "Job Title": "Chief Revenue Officer",
            "Company Name": "Delta",
            "Website URL": "delta.co/fr",
            "Country/Region": "France",
            "Number of Employees": "1,200",
            "Message": "Pricing please",
        },
        {
            "Submission ID": "9002",
            "Submitted At": "2026-03-01T09:00:00+02:00",
            "Lead Source": "webinar",
            "First Name": "Frank",
            "Email": "frank@gmail.com",
            "Job Title": "Marketing Manager",
            "Country/Region": "Holland",
            "Phone Number": "06 12345678",
        },
    ]
    return h, rows


def _usage():
    h = SOURCES["product_usage"].columns
    rows = [
        {
            "Account Domain": "acme.io",
            "Usage Date": "2026-02-27",
            "Active Users": "12",
            "Sessions": "40",
            "Key Events": "7",
            "Seats Purchased": "20",
        },
        {
            "Account Domain": "WWW.Acme.io",
            "Usage Date": "2026-02-28",
            "Active Users": "15",
            "Sessions": "51",
            "Key Events": "9",
            "Seats Purchased": "20",
        },
    ]
    return h, rows


def _email_events():
    return [
        {
            "event_id": "e-000001",
            "type": "click",
            "email": "Ana@acme.io",
            "contact_record_id": "1001",
            "campaign_id": "c-12",
            "sequence_id": "s-3",
            "message_id": "m-55",
            "timestamp": "2026-03-01T09:30:00Z",
            "url": "https://acme.io/pricing",
            "reply_text": None,
            "bounce_type": None,
        },
        {
            "event_id": "e-000002",
            "type": "reply",
            "email": "ana@acme.io",
            "contact_record_id": "1001",
            "message_id": "m-55",
            "timestamp": "2026-03-01 10:00",
            "reply_text": "Interested, let's talk",
        },
        {
            "event_id": "e-000003",
            "type": "bounce",
            "email": "chloe@gamma.com",
            "timestamp": "2026-03-01",
            "bounce_type": "hard",
        },
    ]


def _web_events():
    return [
        {
            "type": "page",
            "messageId": "w-1",
            "anonymousId": "anon-1",
            "userId": "ana@acme.io",
            "name": "Pricing",
            "properties": {"path": "/pricing/enterprise", "url": "https://actionhouse.io/pricing/enterprise"},
            "context": {"ip": "1.2.3.4"},
            "timestamp": "2026-03-01T09:31:00Z",
        },
        {
            "type": "track",
            "messageId": "w-2",
            "anonymousId": "anon-1",
            "event": "Signed Up",
            "properties": {"plan": "trial"},
            "timestamp": "2026-03-01T09:40:00+01:00",
        },
        {
            "type": "identify",
            "messageId": "w-3",
            "anonymousId": "anon-2",
            "userId": "bob@beta.de",
            "traits": {"email": "Bob@Beta.de", "company_domain": "beta.de"},
            "timestamp": "2026-03-01 11:00:00",
        },
    ]


def _product_events():
    return [
        {
            "type": "track",
            "messageId": "p-1",
            "userId": "ana@acme.io",
            "event": "Report Created",
            "properties": {"account_domain": "acme.io"},
            "timestamp": "2026-03-01T12:00:00Z",
        },
    ]


def _enrichment():
    return [
        {
            "payload_id": "p-1",
            "vendor": "clearbit",
            "object_type": "contact",
            "match_key": "Ana@acme.io",
            "received_at": "2026-03-01T09:30:00Z",
            "fields": {
                "job_title": {"value": "VP Sales", "confidence": 0.92, "as_of": "2026-02-20"},
                "phone": {"value": "+1 415 555 0123", "confidence": 0.7, "as_of": "2026-02-20"},
            },
        },
        {
            "payload_id": "p-2",
            "vendor": "zoominfo",
            "object_type": "company",
            "match_key": "www.acme.io",
            "received_at": "2026-03-01 10:00",
            "fields": {
                "employee_count": {"value": 260, "confidence": 0.8, "as_of": "2026-01-31"},
                "technologies": {"value": ["salesforce", "hubspot"], "confidence": 0.6},
            },
        },
    ]


def _signals():
    return [
        {
            "signal_id": "s-1",
            "type": "hiring",
            "domain": "acme.io",
            "observed_at": "2026-03-01T00:00:00Z",
            "detail": "Hiring 4 SDRs",
            "magnitude": 4,
            "source": "jobs-feed",
        },
        {
            "signal_id": "s-2",
            "type": "funding",
            "domain": "https://www.beta.de",
            "observed_at": "2026-02-15",
            "detail": "Series A",
            "magnitude": 12000000.5,
            "source": "news",
        },
    ]


def _create_tables(con: duckdb.DuckDBPyConnection) -> None:
    # The loader's own schema code, so these tables always have the shape ingestion writes.
    con.execute("drop schema if exists raw cascade")
    ensure_raw_schema(con)


def _insert_csv(con, table, labels, rows):
    spec = SOURCES[table]
    cols = [spec.column_name(lbl) for lbl in labels]
    for i, row in enumerate(rows):
        loaded = _LOADED_1 if i == 0 else _LOADED_2
        extra = {k: v for k, v in row.items() if k not in labels}
        values = [row.get(lbl) for lbl in labels]
        values += [json.dumps(extra) if extra else None, f"{table}/export_{i}.csv", i + 2, loaded]
        placeholders = ", ".join(["?"] * len(values))
        collist = ", ".join(f'"{c}"' for c in cols + ["extra_columns", "_source_file", "_source_line", "_loaded_at"])
        con.execute(f"insert into {spec.table} ({collist}) values ({placeholders})", values)


def _insert_json(con, table, rows):
    spec = SOURCES[table]
    for i, row in enumerate(rows):
        values = []
        for key in spec.columns:
            v = row.get(key)
            if v is None:
                values.append(None)
            elif key in spec.json_columns:
                values.append(json.dumps(v))
            else:
                values.append(v if isinstance(v, str) else json.dumps(v))
        values += [json.dumps(row), f"{table}/events.jsonl", i + 1, _LOADED_1]
        collist = ", ".join(f'"{spec.column_name(k)}"' for k in spec.columns)
        collist += ", payload, _source_file, _source_line, _loaded_at"
        placeholders = ", ".join(["?"] * len(values))
        con.execute(f"insert into {spec.table} ({collist}) values ({placeholders})", values)


def create_dev_raw(path: str | Path, empty: bool = False) -> Path:
    """Create (or replace) the raw tables in the DuckDB file at `path`; fill them unless `empty`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect(str(path))
    try:
        _create_tables(con)
        if not empty:
            for table, fn in [
                ("hubspot_contacts", _contacts),
                ("hubspot_companies", _companies),
                ("hubspot_deals", _deals),
                ("hubspot_meetings", _meetings),
                ("hubspot_activities", _activities),
                ("hubspot_tickets", _tickets),
                ("leads", _leads),
                ("product_usage", _usage),
            ]:
                labels, rows = fn()
                _insert_csv(con, table, labels, rows)
            for table, fn in [
                ("email_events", _email_events),
                ("web_events", _web_events),
                ("product_events", _product_events),
                ("enrichment", _enrichment),
                ("signals", _signals),
            ]:
                _insert_json(con, table, fn())
    finally:
        con.close()
    return path


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    target = args[0] if args else str(Path(__file__).resolve().parents[2] / "data" / "warehouse.duckdb")
    print(create_dev_raw(target, empty="--empty" in sys.argv))
