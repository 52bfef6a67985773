"""A small Salesforce REST test server: sObject Collections upsert, SOQL queries with paging, request limits.

It returns Salesforce's documented shapes (JSON arrays of `{message, errorCode}` for request errors,
per-record `{id, success, errors, created}` results, `{totalSize, done, nextRecordsUrl, records}` for
queries) for the subset the Salesforce client uses. State is in memory: it exists for tests.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from crm_sandbox.store import now_ms
from landing.contract import epoch_ms

API_VERSION = "v60.0"
COLLECTION_LIMIT = 200
QUERY_BATCH = 2000
_ID_PREFIX = {
    "Contact": "003",
    "Account": "001",
    "Opportunity": "006",
    "Task": "00T",
    "Lead": "00Q",
    "User": "005",
    "Campaign": "701",
    "CampaignMember": "00v",
}
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>.+?)\s+FROM\s+(?P<object>\w+)"
    r"(?:\s+WHERE\s+(?:SystemModstamp\s*(?P<op>>=|>)\s*(?P<since>\S+)|Id\s+IN\s*\((?P<ids>[^)]*)\)))?"
    r"(?:\s+ORDER\s+BY\s+SystemModstamp(?:\s+ASC)?(?:\s*,\s*Id(?:\s+ASC)?)?)?"
    r"(?:\s+LIMIT\s+(?P<limit>\d+))?\s*$",
    re.IGNORECASE,
)


def sf_timestamp(ms: int) -> str:
    """Salesforce's datetime format: `2026-03-01T09:30:00.123+0000`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}+0000"


def parse_sf_timestamp(text: str) -> int:
    """Epoch ms of a SOQL/REST datetime (`...Z`, `...+0000` or `...+00:00`)."""
    return epoch_ms(text)


@dataclass
class SalesforceTestConfig:
    """Token, the org's total API request allowance (403 REQUEST_LIMIT_EXCEEDED past it), and external ids."""

    token: str = "salesforce-test-token"
    total_request_limit: int = 1_000_000
    concurrent_limit_every: int = 0  # every Nth request answers the transient ConcurrentPerOrgLongTxn 403
    external_id_fields: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {
            "Contact": ("Email", "Actionhouse_Id__c"),
            "Account": ("Actionhouse_Id__c",),
            "Opportunity": ("Actionhouse_Id__c",),
            "Task": ("Actionhouse_Id__c",),
        }
    )
    # Users of the org (`Name`, `Email`): record owners and task assignees.
    users: tuple[tuple[str, str], ...] = ()
    # Records that exist before any request: {sObject: [fields, ...]} (ids are assigned).
    seed: dict[str, list[dict]] = field(default_factory=dict)


def create_salesforce_app(config: SalesforceTestConfig | None = None) -> FastAPI:
    """Build the test server."""
    config = config or SalesforceTestConfig()
    app = FastAPI(title="Salesforce REST test server", docs_url=None, redoc_url=None)
    records: dict[str, dict[str, dict]] = {}
    counter = itertools.count(1)
    cursors: dict[str, list[dict]] = {}
    stats = {"requests": 0, "limit_exceeded": 0}
    app.state.records, app.state.stats, app.state.config = records, stats, config
    last_ms = [0]

    def tick() -> int:
        last_ms[0] = max(now_ms(), last_ms[0] + 1)
        return last_ms[0]

    def insert(object_name: str, fields: dict) -> dict:
        ms = tick()
        record = {"Id": f"{_ID_PREFIX.get(object_name, '0XX')}{next(counter):012d}AAA", "CreatedDate": sf_timestamp(ms)}
        record.update({k: (None if v is None else str(v)) for k, v in fields.items()})
        record["SystemModstamp"] = record["LastModifiedDate"] = sf_timestamp(ms)
        record["_ms"] = ms
        records.setdefault(object_name, {})[record["Id"]] = record
        return record

    for name, email in config.users:
        insert("User", {"Name": name, "Email": email, "IsActive": "true"})
    for object_name, rows in config.seed.items():
        for row in rows:
            insert(object_name, row)
    app.state.insert = insert

    def errors(status: int, code: str, message: str) -> JSONResponse:
        return JSONResponse([{"message": message, "errorCode": code}], status_code=status)

    @app.middleware("http")
    async def gate(request: Request, call_next):
        if not request.url.path.startswith("/services/data/"):
            return await call_next(request)
        if request.headers.get("authorization", "") != f"Bearer {config.token}":
            return errors(401, "INVALID_SESSION_ID", "Session expired or invalid")
        stats["requests"] += 1
        if stats["requests"] > config.total_request_limit:
            stats["limit_exceeded"] += 1
            return errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
        if config.concurrent_limit_every and stats["requests"] % config.concurrent_limit_every == 0:
            stats["limit_exceeded"] += 1
            return errors(403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded. Try again later.")
        response = await call_next(request)
        response.headers["Sforce-Limit-Info"] = f"api-usage={stats['requests']}/{config.total_request_limit}"
        return response

    def find(object_name: str, field_name: str, value: str) -> dict | None:
        for record in records.get(object_name, {}).values():
            current = record.get(field_name)
            if current is not None and (
                current.lower() == value.lower() if field_name == "Email" else current == value
            ):
                return record
        return None

    @app.patch(f"/services/data/{API_VERSION}/composite/sobjects/{{object_name}}/{{external_field}}")
    async def upsert_collection(object_name: str, external_field: str, request: Request):
        body = await request.json()
        items = body.get("records") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return errors(400, "JSON_PARSER_ERROR", "The request body must contain a records array")
        if len(items) > COLLECTION_LIMIT:
            return errors(400, "EXCEEDED_ID_LIMIT", f"Record limit exceeded: at most {COLLECTION_LIMIT} records")
        if external_field not in config.external_id_fields.get(object_name, ()):
            return errors(
                404, "NOT_FOUND", f"Provided external ID field does not exist or is not accessible: {external_field}"
            )
        results = []
        for item in items:
            fields = {k: v for k, v in item.items() if k != "attributes"}
            key = fields.get(external_field)
            if key in (None, ""):
                results.append(
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "MISSING_ARGUMENT",
                                "message": f"{external_field} not specified",
                                "fields": [external_field],
                            }
                        ],
                    }
                )
                continue
            email = fields.get("Email")
            if email not in (None, "") and not _EMAIL.match(str(email)):
                results.append(
                    {
                        "success": False,
                        "errors": [
                            {
                                "statusCode": "INVALID_EMAIL_ADDRESS",
                                "message": f"Email: invalid email address: {email}",
                                "fields": ["Email"],
                            }
                        ],
                    }
                )
                continue
            existing = find(object_name, external_field, str(key))
            ms = tick()
            if existing is None:
                record_id = f"{_ID_PREFIX.get(object_name, '0XX')}{next(counter):012d}AAA"
                existing = {"Id": record_id, "CreatedDate": sf_timestamp(ms)}
                records.setdefault(object_name, {})[record_id] = existing
                created = True
            else:
                created = False
            existing.update({k: (None if v is None else str(v)) for k, v in fields.items()})
            existing["SystemModstamp"] = existing["LastModifiedDate"] = sf_timestamp(ms)
            existing["_ms"] = ms
            results.append({"id": existing["Id"], "success": True, "errors": [], "created": created})
        return results

    def page(query_id: str, rows: list[dict], start: int) -> dict:
        chunk = rows[start : start + QUERY_BATCH]
        done = start + QUERY_BATCH >= len(rows)
        answer = {"totalSize": len(rows), "done": done, "records": chunk}
        if not done:
            cursors[query_id] = rows
            answer["nextRecordsUrl"] = f"/services/data/{API_VERSION}/query/{query_id}-{start + QUERY_BATCH}"
        return answer

    def save_error(code: str, message: str, fields: list[str] | None = None) -> dict:
        return {"success": False, "errors": [{"statusCode": code, "message": message, "fields": fields or []}]}

    def collection_items(body) -> list | JSONResponse:
        items = body.get("records") if isinstance(body, dict) else None
        if not isinstance(items, list):
            return errors(400, "JSON_PARSER_ERROR", "The request body must contain a records array")
        if len(items) > COLLECTION_LIMIT:
            return errors(400, "EXCEEDED_ID_LIMIT", f"Record limit exceeded: at most {COLLECTION_LIMIT} records")
        return items

    @app.patch(f"/services/data/{API_VERSION}/composite/sobjects")
    async def update_collection(request: Request):
        items = collection_items(await request.json())
        if isinstance(items, JSONResponse):
            return items
        results = []
        for item in items:
            object_name = (item.get("attributes") or {}).get("type")
            fields = {k: v for k, v in item.items() if k not in ("attributes", "Id", "id")}
            record = records.get(object_name or "", {}).get(str(item.get("Id") or item.get("id") or ""))
            if record is None:
                results.append(save_error("ENTITY_IS_DELETED", "entity is deleted or does not exist", ["Id"]))
                continue
            ms = tick()
            record.update({k: (None if v is None else str(v)) for k, v in fields.items()})
            record["SystemModstamp"] = record["LastModifiedDate"] = sf_timestamp(ms)
            record["_ms"] = ms
            results.append({"id": record["Id"], "success": True, "errors": []})
        return results

    @app.post(f"/services/data/{API_VERSION}/composite/sobjects")
    async def create_collection(request: Request):
        items = collection_items(await request.json())
        if isinstance(items, JSONResponse):
            return items
        results = []
        for item in items:
            object_name = (item.get("attributes") or {}).get("type") or ""
            fields = {k: v for k, v in item.items() if k != "attributes"}
            if object_name == "CampaignMember":
                campaign, contact = str(fields.get("CampaignId")), str(fields.get("ContactId"))
                if campaign not in records.get("Campaign", {}):
                    results.append(
                        save_error("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", ["CampaignId"])
                    )
                    continue
                if any(
                    m.get("CampaignId") == campaign and m.get("ContactId") == contact
                    for m in records.get("CampaignMember", {}).values()
                ):
                    results.append(save_error("DUPLICATE_VALUE", "Already a campaign member.", ["ContactId"]))
                    continue
            results.append({"id": insert(object_name, fields)["Id"], "success": True, "errors": []})
        return results

    @app.get(f"/services/data/{API_VERSION}/query")
    @app.get(f"/services/data/{API_VERSION}/query/")
    async def query(q: str):
        match = _SOQL.match(q)
        if not match:
            return errors(
                400,
                "MALFORMED_QUERY",
                "unexpected token in the query (the test server understands "
                "SELECT ... FROM ... [WHERE SystemModstamp > ...] [ORDER BY SystemModstamp] [LIMIT n])",
            )
        names = [f.strip() for f in match["fields"].split(",")]
        object_name = match["object"]
        rows = sorted(records.get(object_name, {}).values(), key=lambda r: (r["_ms"], r["Id"]))
        if match["since"]:
            since = parse_sf_timestamp(match["since"])
            rows = [r for r in rows if r["_ms"] > since or (match["op"] == ">=" and r["_ms"] == since)]
        if match["ids"] is not None:
            wanted = {i.strip().strip("'") for i in match["ids"].split(",") if i.strip()}
            rows = [r for r in rows if r["Id"] in wanted]
        if match["limit"]:
            rows = rows[: int(match["limit"])]
        shaped = [
            {
                "attributes": {
                    "type": object_name,
                    "url": f"/services/data/{API_VERSION}/sobjects/{object_name}/{r['Id']}",
                },
                **{n: r.get(n) for n in names},
            }
            for r in rows
        ]
        return page(f"01g{next(counter):015d}", shaped, 0)

    @app.get(f"/services/data/{API_VERSION}/query/{{locator}}")
    async def query_more(locator: str):
        query_id, _, start = locator.rpartition("-")
        if query_id not in cursors or not start.isdigit():
            return errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return page(query_id, cursors[query_id], int(start))

    @app.get(f"/services/data/{API_VERSION}/limits")
    async def limits():
        used = stats["requests"]
        return {
            "DailyApiRequests": {
                "Max": config.total_request_limit,
                "Remaining": max(config.total_request_limit - used, 0),
            }
        }

    return app
