"""Salesforce REST client (httpx) behind the same `CrmConnector` interface as the HubSpot client.

Writes: sObject Collections upsert by an external id field (200 records per request, `allOrNone: false`),
one `RowOutcome` per row. Reads: SOQL on `SystemModstamp` with `nextRecordsUrl` paging.
`403 REQUEST_LIMIT_EXCEEDED`: the transient `ConcurrentPerOrgLongTxn` kind is retried with backoff; the
org's total (24-hour) allowance is not waited for — remaining rows come back `retryable` at once.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime

import httpx

from landing.contract import epoch_ms
from reverse_etl.crm.base import (
    ChangePage,
    CrmAuthenticationError,
    CrmError,
    CrmRecord,
    HttpCrmClient,
    OutcomeStatus,
    RowOutcome,
    chunk_without_duplicate_keys,
    collect_pages,
    row_key,
)
from reverse_etl.crm.hubspot import decode_cursor, encode_cursor
from reverse_etl.crm.throttle import RetryLater, call_with_retries

COLLECTION_SIZE = 200
DEFAULT_API_VERSION = "v60.0"
# Actionhouse's object names -> Salesforce sObjects (sObject names are accepted as they are).
SOBJECTS = {"contacts": "Contact", "companies": "Account", "deals": "Opportunity", "tasks": "Task", "leads": "Lead"}
_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def soql_datetime(ms: int) -> str:
    """A SOQL datetime literal (UTC): `2026-03-01T09:30:00.123Z`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


class SalesforceClient(HttpCrmClient):
    """A Salesforce org: `SalesforceClient(instance_url, access_token)`; close it or use `with`."""

    name = "salesforce"

    def __init__(
        self,
        instance_url: str,
        token: str,
        *,
        api_version: str = DEFAULT_API_VERSION,
        max_attempts: int = 5,
        timeout_s: float = 60.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 20.0,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise CrmAuthenticationError("no Salesforce access token configured")
        self.api = f"/services/data/{api_version}"
        self._http = httpx.Client(
            base_url=instance_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        )
        self.max_attempts = max_attempts
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self._rng = random.Random(seed)
        self.stats = {"requests": 0, "limit_exceeded": 0, "retries": 0}

    def request(self, method: str, path: str, *, json_body=None, params=None) -> httpx.Response:
        """One call with bounded retries on 5xx, timeouts and the concurrent-request limit."""

        def attempt() -> httpx.Response:
            self.stats["requests"] += 1
            try:
                response = self._http.request(method, path, json=json_body, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                raise RetryLater(f"{type(exc).__name__} talking to Salesforce") from exc
            if response.status_code == 401:
                raise CrmAuthenticationError(_first_error(response)[1] or "session invalid", 401, "INVALID_SESSION_ID")
            code, message = _first_error(response) if response.status_code >= 400 else (None, None)
            if response.status_code == 403 and code == "REQUEST_LIMIT_EXCEEDED":
                self.stats["limit_exceeded"] += 1
                if "concurrent" in (message or "").lower():
                    raise RetryLater(message or code)
                raise CrmError(f"Salesforce API request limit reached: {message}", 403, code, retryable=True)
            if response.status_code >= 500:
                raise RetryLater(message or f"HTTP {response.status_code}")
            return response

        return call_with_retries(
            attempt,
            max_errors=self.max_attempts,
            base_s=self.backoff_base_s,
            cap_s=self.backoff_cap_s,
            rng=self._rng,
            on_pause=self._paused,
        )

    def _paused(self, _reason: RetryLater, _seconds: float) -> None:
        self.stats["retries"] += 1

    # ---- reads -------------------------------------------------------------------------------
    def iter_changed(
        self, object_type: str, since_cursor: str | None, properties: Sequence[str] | None = None
    ) -> Iterator[ChangePage]:
        """Pages of records with `SystemModstamp` at or after the cursor (minus ids already read), oldest first."""
        sobject = SOBJECTS.get(object_type, object_type)
        fields = sorted({"Id", "SystemModstamp", *(properties or ())})
        for name in (sobject, *fields):
            if not _FIELD.match(name):
                raise ValueError(f"not a Salesforce API name: {name!r}")
        since_ms, seen = decode_cursor(since_cursor)
        soql = f"SELECT {', '.join(fields)} FROM {sobject}"
        if since_ms:
            soql += f" WHERE SystemModstamp >= {soql_datetime(since_ms)}"
        soql += " ORDER BY SystemModstamp ASC, Id ASC"
        newest, ids_at_newest = since_ms, set(seen)
        response = self.request("GET", f"{self.api}/query", params={"q": soql})
        while True:
            body = self._checked(response)
            records = []
            for item in body.get("records", []):
                ms = epoch_ms(item.get("SystemModstamp"))
                record_id = str(item["Id"])
                if ms < since_ms or (ms == since_ms and record_id in seen):
                    continue
                props = {k: (None if v is None else str(v)) for k, v in item.items() if k != "attributes"}
                records.append(CrmRecord(object_type, record_id, ms, props))
                if ms > newest:
                    newest, ids_at_newest = ms, {record_id}
                elif ms == newest:
                    ids_at_newest.add(record_id)
            yield ChangePage(records, encode_cursor(newest, sorted(ids_at_newest)) if newest else (since_cursor or ""))
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            response = self.request("GET", body["nextRecordsUrl"])

    def read_changed(
        self, object_type: str, since_cursor: str | None, properties: Sequence[str] | None = None
    ) -> ChangePage:
        """All records changed since the cursor and the next cursor."""
        return collect_pages(self.iter_changed(object_type, since_cursor, properties), since_cursor)

    def _checked(self, response: httpx.Response) -> dict:
        if response.status_code >= 400:
            code, message = _first_error(response)
            raise CrmError(message or f"HTTP {response.status_code}", response.status_code, code)
        return response.json()

    # ---- writes ------------------------------------------------------------------------------
    def upsert(self, object_type: str, rows: Sequence[Mapping[str, object]], id_property: str) -> list[RowOutcome]:
        """Upsert rows by an external id field, 200 per request; one outcome per row, in input order."""
        sobject = SOBJECTS.get(object_type, object_type)
        outcomes: list[RowOutcome | None] = [None] * len(rows)
        keyed = []
        for index, row in enumerate(rows):
            key = row_key(row, id_property)
            if key is None:
                outcomes[index] = RowOutcome(
                    str(index), OutcomeStatus.REJECTED, message=f"missing value for the external id field {id_property}"
                )
            else:
                keyed.append((index, key))
        stop: CrmError | None = None
        for chunk in chunk_without_duplicate_keys(keyed, COLLECTION_SIZE):
            if stop is not None:  # the org's allowance is used up: do not spend more requests on it
                for index, key in chunk:
                    outcomes[index] = RowOutcome(key, OutcomeStatus.RETRYABLE, message=stop.message)
                continue
            body = {
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": sobject}, **{k: v for k, v in rows[index].items()}} for index, _ in chunk
                ],
            }
            try:
                response = self.request(
                    "PATCH", f"{self.api}/composite/sobjects/{sobject}/{id_property}", json_body=body
                )
            except CrmAuthenticationError:
                raise
            except CrmError as exc:
                if exc.category == "REQUEST_LIMIT_EXCEEDED":
                    stop = exc
                status = OutcomeStatus.RETRYABLE if exc.retryable else OutcomeStatus.REJECTED
                for index, key in chunk:
                    outcomes[index] = RowOutcome(key, status, message=exc.message)
                continue
            if response.status_code != 200:
                _, message = _first_error(response)
                for index, key in chunk:
                    outcomes[index] = RowOutcome(key, OutcomeStatus.REJECTED, message=message)
                continue
            for (index, _), outcome in zip(chunk, _save_outcomes(response.json(), [k for _, k in chunk]), strict=True):
                outcomes[index] = outcome
        return [o for o in outcomes if o is not None]


    def update(self, rows: Sequence[Mapping[str, object]]) -> list[RowOutcome]:
        """Update records by Salesforce id (`{"type": "Contact", "Id": ..., fields...}`), 200 per request."""
        return self._collection("PATCH", rows, [str(r["Id"]) for r in rows], with_id=True)

    def create(self, rows: Sequence[Mapping[str, object]], keys: Sequence[str]) -> list[RowOutcome]:
        """Create records (`{"type": "CampaignMember", fields...}`), 200 per request; outcomes keyed by `keys`."""
        return self._collection("POST", rows, list(keys), with_id=False)

    def _collection(self, method: str, rows, keys: list[str], with_id: bool) -> list[RowOutcome]:
        outcomes: list[RowOutcome] = []
        for start in range(0, len(rows), COLLECTION_SIZE):
            chunk, chunk_keys = rows[start : start + COLLECTION_SIZE], keys[start : start + COLLECTION_SIZE]
            body = {
                "allOrNone": False,
                "records": [
                    {"attributes": {"type": r["type"]}, **{k: v for k, v in r.items() if k != "type"}} for r in chunk
                ],
            }
            try:
                response = self.request(method, f"{self.api}/composite/sobjects", json_body=body)
                answer = self._checked(response)
            except CrmAuthenticationError:
                raise
            except CrmError as exc:
                status = OutcomeStatus.RETRYABLE if exc.retryable else OutcomeStatus.REJECTED
                outcomes += [RowOutcome(k, status, message=exc.message) for k in chunk_keys]
                continue
            outcomes += _save_outcomes(answer, chunk_keys)
        return outcomes

    def query(self, soql: str) -> list[dict]:
        """Every record a SOQL query returns (following `nextRecordsUrl`), without the `attributes` maps."""
        response = self.request("GET", f"{self.api}/query", params={"q": soql})
        records: list[dict] = []
        while True:
            body = self._checked(response)
            records += [{k: v for k, v in r.items() if k != "attributes"} for r in body.get("records", [])]
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return records
            response = self.request("GET", body["nextRecordsUrl"])


# Per-record errors worth another try: a lock held by another transaction, a limit that resets.
_RETRYABLE_CODES = ("UNABLE_TO_LOCK_ROW", "REQUEST_LIMIT_EXCEEDED")


def _save_outcomes(results: list, keys: Sequence[str]) -> list[RowOutcome]:
    """Salesforce SaveResults (`{id, success, errors, created}`, in request order) -> one outcome per key."""
    outcomes = []
    for position, key in enumerate(keys):
        result = results[position] if position < len(results) else None
        if result is None:
            outcomes.append(RowOutcome(key, OutcomeStatus.RETRYABLE, message="no result for this record"))
        elif result.get("success"):
            outcomes.append(RowOutcome(key, OutcomeStatus.OK, result.get("id"), created=result.get("created")))
        else:
            problems = result.get("errors") or [{}]
            message = "; ".join(f"{p.get('statusCode')}: {p.get('message')}" for p in problems)
            retryable = any(p.get("statusCode") in _RETRYABLE_CODES for p in problems)
            status = OutcomeStatus.RETRYABLE if retryable else OutcomeStatus.REJECTED
            outcomes.append(RowOutcome(key, status, message=message))
    return outcomes


def _first_error(response: httpx.Response) -> tuple[str | None, str | None]:
    try:
        body = response.json()
    except ValueError:
        return None, None
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0].get("errorCode"), body[0].get("message")
    if isinstance(body, dict):
        return body.get("errorCode"), body.get("message")
    return None, None
