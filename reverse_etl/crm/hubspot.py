"""HubSpot CRM client (httpx): incremental reads and idempotent writes with per-row outcomes.

Works against HubSpot itself and against the sandbox CRM (`crm_sandbox`). Rate limits are
respected before sending (a client-side rolling window that learns the server's limit from the
`X-HubSpot-RateLimit-*` headers) and after (429 -> bounded exponential backoff with jitter). Every
write returns one `RowOutcome` per input row: nothing is dropped silently.
"""

from __future__ import annotations

import json
import logging
import os
import random
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urlparse

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
from reverse_etl.crm.throttle import RetryLater, RollingThrottle, backoff_delay, call_with_retries

log = logging.getLogger(__name__)

BATCH_SIZE = 100
SEARCH_PAGE_SIZE = 200
RETRYABLE_STATUSES = {423, 500, 502, 503, 504}
RETRYABLE_CATEGORIES = {"INTERNAL_ERROR", "LOCKED", "RATE_LIMITS", "TIMEOUT"}
DEFAULT_ASSOCIATION_TARGETS = ("contacts", "companies", "deals")
ENGAGEMENT_KEY = "actionhouse_id"  # unique custom property making task/note writes idempotent


CRM_NAME_ENV = "ACTIONHOUSE_CRM_NAME"


def hubspot_connection_name(base_url: str) -> str:
    """How Actionhouse names a HubSpot-API CRM in its cursors, outbox and ledger: `hubspot@host:port`
    (never a token), so pointing at another CRM starts fresh state. `ACTIONHOUSE_CRM_NAME` overrides it for a CRM
    whose address changes (the demo's sandbox, which takes a free port each time)."""
    override = os.environ.get(CRM_NAME_ENV, "").strip()
    return override or f"hubspot@{urlparse(base_url).netloc or base_url}"


@dataclass(frozen=True)
class Engagement:
    """A task or note to write: an idempotency key, its properties, and the records it belongs to."""

    key: str
    properties: Mapping[str, object]
    associations: Sequence[tuple[str, str]] = ()  # (object type, record id)


def _modified_property(object_type: str) -> str:
    # HubSpot's contacts carry `lastmodifieddate`; the other objects `hs_lastmodifieddate`.
    return "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"


def encode_cursor(modified_ms: int, ids_at_ms: Sequence[str]) -> str:
    """Cursor text: the newest modification time read and the ids read at exactly that time."""
    return json.dumps({"ms": modified_ms, "ids": sorted(set(ids_at_ms))}, separators=(",", ":"))


def decode_cursor(cursor: str | None) -> tuple[int, set[str]]:
    """(epoch ms, ids already read at that ms); (0, {}) for no cursor. A bare number is read as ms."""
    if not cursor:
        return 0, set()
    text = cursor.strip()
    if text.isdigit():
        return int(text), set()
    data = json.loads(text)
    return int(data["ms"]), set(map(str, data.get("ids", [])))


class HubSpotClient(HttpCrmClient):
    """A HubSpot (or sandbox) connection: `HubSpotClient(base_url, token)`; close it or use `with`."""

    name = "hubspot"

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        rate_limit: int = 100,
        rate_window_s: float = 10.0,
        search_rate_limit: int = 5,
        max_attempts: int = 6,
        max_rate_limit_retries: int = 12,
        timeout_s: float = 30.0,
        backoff_base_s: float = 0.5,
        backoff_cap_s: float = 20.0,
        max_workers: int = 4,
        seed: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not token:
            raise CrmAuthenticationError("no CRM token configured (set ACTIONHOUSE_CRM_TOKEN)")
        self._http = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=timeout_s,
            transport=transport,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            limits=httpx.Limits(max_connections=max_workers + 2),
        )
        self.throttle = RollingThrottle(rate_limit, rate_window_s)
        self.search_throttle = RollingThrottle(search_rate_limit, 1.0)
        self.max_attempts, self.max_rate_limit_retries = max_attempts, max_rate_limit_retries
        self.backoff_base_s, self.backoff_cap_s = backoff_base_s, backoff_cap_s
        self.max_workers = max_workers
        self._rng = random.Random(seed)
        self.stats = {"requests": 0, "rate_limited": 0, "retries": 0}

    # ---- transport ---------------------------------------------------------------------------
    def _learn_limits(self, response: httpx.Response) -> None:
        limit = response.headers.get("X-HubSpot-RateLimit-Max")
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds")
        if limit and interval and limit.isdigit() and interval.isdigit():
            window = int(interval) / 1000
            if int(limit) != self.throttle.limit or window != self.throttle.window_s:
                self.throttle.set_limit(int(limit), window)

    def request(
        self, method: str, path: str, *, json_body=None, params=None, search: bool = False, idempotent: bool = True
    ) -> httpx.Response:
        """Send one API call with throttling and bounded retries; returns the final non-retryable response.

        Raises `CrmError(retryable=True)` when retries ran out on 429/5xx/423/timeouts, and
        `CrmAuthenticationError` on 401.
        """
        # Errors (5xx, 423, timeouts) and 429s have separate budgets: waiting out a rolling window shared
        # with other integrations can take several tries without anything being wrong.
        def attempt() -> httpx.Response:
            if search:
                self.search_throttle.acquire()
            self.throttle.acquire()
            self.stats["requests"] += 1
            try:
                response = self._http.request(method, path, json=json_body, params=params)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                problem = f"{type(exc).__name__} talking to the CRM"
                if not idempotent:
                    raise CrmError(problem, retryable=True) from exc
                raise RetryLater(problem) from exc
            self._learn_limits(response)
            if response.status_code == 401:
                raise CrmAuthenticationError(
                    _error_message(response) or "authentication failed", 401, "INVALID_AUTHENTICATION"
                )
            if response.status_code == 429:
                self.stats["rate_limited"] += 1
                body = _json_or_empty(response)
                problem = body.get("message") or "rate limited"
                policy = body.get("policyName", "")
                # A daily limit will not clear by waiting seconds: stop and let the caller retry later.
                if policy == "DAILY":
                    raise CrmError(problem, 429, "RATE_LIMITS", retryable=True)
                window = 1.0 if policy == "SECONDLY" else self.throttle.window_s
                raise RetryLater(
                    problem,
                    rate_limited=True,
                    retry_after=response.headers.get("Retry-After"),
                    floor_s=window / max(self.throttle.limit, 1),
                )
            if response.status_code in RETRYABLE_STATUSES:
                problem = _error_message(response) or f"HTTP {response.status_code}"
                if not idempotent:
                    raise CrmError(problem, response.status_code, retryable=True)
                raise RetryLater(problem)
            return response

        return call_with_retries(
            attempt,
            max_errors=self.max_attempts,
            max_rate_limited=self.max_rate_limit_retries,
            base_s=self.backoff_base_s,
            cap_s=self.backoff_cap_s,
            rng=self._rng,
            on_pause=self._paused,
        )

    def _paused(self, reason: RetryLater, seconds: float) -> None:
        self.stats["retries"] += 1
        if reason.rate_limited:
            # The server's window is fuller than ours: hold every sender of this client back too.
            self.throttle.penalize(seconds)

    def _pause(self, attempt: int) -> None:
        """Wait before retrying the rows of a batch the CRM asked to send again."""
        self.stats["retries"] += 1
        time.sleep(backoff_delay(attempt, self.backoff_base_s, self.backoff_cap_s, self._rng))

    def _checked(self, response: httpx.Response, ok: tuple[int, ...] = (200, 201, 204, 207)) -> dict:
        if response.status_code not in ok:
            body = _json_or_empty(response)
            raise CrmError(
                _error_message(response) or f"HTTP {response.status_code}", response.status_code, body.get("category")
            )
        return _json_or_empty(response)

    # ---- reads -------------------------------------------------------------------------------
    def iter_changed(
        self, object_type: str, since_cursor: str | None, properties: Sequence[str] | None = None
    ) -> Iterator[ChangePage]:
        """Pages of records modified since the cursor, oldest first (HubSpot search on last-modified date).

        Each page re-anchors the filter at the newest modification time read, so HubSpot's 10,000-result
        cap per search query and records moving while paging do not lose records.
        """
        if object_type == "owners":
            yield from self._iter_owners(since_cursor)
            return
        modified = _modified_property(object_type)
        anchor_ms, seen_at_anchor = decode_cursor(since_cursor)
        newest_ms, ids_at_newest = anchor_ms, set(seen_at_anchor)
        wanted = sorted({*(properties or ()), modified, "hs_object_id"})
        # Keyset paging on the modification time: "from" filters GTE the newest time read (nothing at the
        # boundary is missed; ids already read there are skipped). When a whole page shares one time (bulk
        # imports stamp thousands of records alike), "tie" walks that time by record id, which no search
        # result cap limits, and "after" then continues strictly after it.
        mode, tie_after_id = "from", 0
        while True:
            if mode == "tie":
                filters = [
                    {"propertyName": modified, "operator": "EQ", "value": str(anchor_ms)},
                    {"propertyName": "hs_object_id", "operator": "GT", "value": str(tie_after_id)},
                ]
                sort_by = "hs_object_id"
            else:
                operator = "GT" if mode == "after" else "GTE"
                filters = [{"propertyName": modified, "operator": operator, "value": str(anchor_ms)}]
                filters = filters if anchor_ms else []
                sort_by = modified
            body = {
                "filterGroups": [{"filters": filters}] if filters else [],
                "sorts": [{"propertyName": sort_by, "direction": "ASCENDING"}],
                "properties": wanted,
                "limit": SEARCH_PAGE_SIZE,
                "after": "0",
            }
            page = self._checked(
                self.request("POST", f"/crm/v3/objects/{object_type}/search", json_body=body, search=True)
            )
            results = page.get("results", [])
            records = []
            for item in results:
                props = item.get("properties") or {}
                ms = epoch_ms(props.get(modified) or props.get("hs_lastmodifieddate") or item.get("updatedAt"))
                record_id = str(item["id"])
                if ms < newest_ms or (ms == newest_ms and record_id in ids_at_newest):
                    continue  # already read (in an earlier run or an earlier page)
                records.append(CrmRecord(object_type, record_id, ms, props))
                if ms > newest_ms:
                    newest_ms, ids_at_newest = ms, {record_id}
                else:
                    ids_at_newest.add(record_id)
            cursor = encode_cursor(newest_ms, sorted(ids_at_newest)) if newest_ms else (since_cursor or "")
            yield ChangePage(records, cursor)
            has_next = bool((page.get("paging") or {}).get("next", {}).get("after"))
            if mode == "tie":
                if results:
                    tie_after_id = max(int(item["id"]) for item in results)
                if not has_next:
                    mode = "after"
            elif not has_next:
                return
            elif newest_ms > anchor_ms:
                anchor_ms, mode = newest_ms, "from"
            else:
                mode, tie_after_id = "tie", 0

    def read_changed(
        self, object_type: str, since_cursor: str | None, properties: Sequence[str] | None = None
    ) -> ChangePage:
        """All records changed since the cursor and the next cursor (see `iter_changed`)."""
        return collect_pages(self.iter_changed(object_type, since_cursor, properties), since_cursor)

    def read_associations(self, from_type: str, ids: Sequence[str], to_type: str) -> dict[str, list[str]]:
        """`{record id: [associated record ids]}` for records of one type towards another (v4 batch read)."""
        linked: dict[str, list[str]] = {}
        unique_ids = list(dict.fromkeys(map(str, ids)))
        for start in range(0, len(unique_ids), BATCH_SIZE):
            body = {"inputs": [{"id": i} for i in unique_ids[start : start + BATCH_SIZE]]}
            answer = self._checked(
                self.request("POST", f"/crm/v4/associations/{from_type}/{to_type}/batch/read", json_body=body)
            )
            for result in answer.get("results", []):
                targets = [str(t.get("toObjectId")) for t in result.get("to", [])]
                linked[str(result.get("from", {}).get("id"))] = sorted(set(targets), key=lambda t: (len(t), t))
        return linked

    def owner_names(self) -> dict[str, str]:
        """`{owner id: "First Last"}` of every owner (what HubSpot's exports show in the owner columns)."""
        names = {}
        for record in self.read_changed("owners", None).records:
            full = " ".join(p for p in (record.properties.get("firstName"), record.properties.get("lastName")) if p)
            names[record.id] = full or record.properties.get("email") or record.id
        return names

    def _iter_owners(self, since_cursor: str | None) -> Iterator[ChangePage]:
        # The owners API has no modified-since filter: page through all, keep those updated after the cursor.
        since_ms, _ = decode_cursor(since_cursor)
        newest, after, records = since_ms, None, []
        while True:
            params = {"limit": 500, **({"after": after} if after else {})}
            page = self._checked(self.request("GET", "/crm/v3/owners", params=params))
            for owner in page.get("results", []):
                ms = epoch_ms(owner.get("updatedAt"))
                if ms > since_ms:
                    props = {
                        "email": owner.get("email"),
                        "firstName": owner.get("firstName"),
                        "lastName": owner.get("lastName"),
                        "userId": str(owner.get("userId") or ""),
                    }
                    records.append(CrmRecord("owners", str(owner["id"]), ms, props))
                    newest = max(newest, ms)
            after = (page.get("paging") or {}).get("next", {}).get("after")
            if not after:
                break
        yield ChangePage(records, encode_cursor(newest, []) if newest else (since_cursor or ""))

    # ---- writes ------------------------------------------------------------------------------
    def upsert(self, object_type: str, rows: Sequence[Mapping[str, object]], id_property: str) -> list[RowOutcome]:
        """Create or update rows by a unique property (e.g. `email`), 100 per request, in parallel.

        Returns one outcome per row in input order: ok (with the record id and whether it was created),
        retryable (rate limits/5xx/timeouts persisted past the retries), or rejected with HubSpot's message.
        """
        outcomes: list[RowOutcome | None] = [None] * len(rows)
        keyed = []
        for index, row in enumerate(rows):
            key = row_key(row, id_property)
            if key is None:
                outcomes[index] = RowOutcome(
                    str(index), OutcomeStatus.REJECTED, message=f"missing value for the id property {id_property}"
                )
            else:
                keyed.append((index, key))

        def write(chunk: list[tuple[int, str]]) -> list[tuple[int, RowOutcome]]:
            inputs = []
            for index, key in chunk:
                properties = {k: _as_text(v) for k, v in rows[index].items()}
                inputs.append(
                    {"idProperty": id_property, "id": key, "properties": properties, "objectWriteTraceId": str(index)}
                )
            return self._batch_write(
                f"/crm/v3/objects/{object_type}/batch/upsert",
                inputs,
                chunk,
                key_of_result=lambda result: _result_key(result, id_property),
            )

        self._run_chunks(chunk_without_duplicate_keys(keyed, BATCH_SIZE), write, outcomes)
        return [o for o in outcomes if o is not None]

    def update(self, object_type: str, rows: Sequence[Mapping[str, object]]) -> list[RowOutcome]:
        """Update records by HubSpot id: each row is `{"id": ..., <property>: value, ...}`."""
        outcomes: list[RowOutcome | None] = [None] * len(rows)
        keyed = []
        for index, row in enumerate(rows):
            key = row_key(row, "id")
            if key is None:
                outcomes[index] = RowOutcome(str(index), OutcomeStatus.REJECTED, message="missing record id")
            else:
                keyed.append((index, key))

        def write(chunk: list[tuple[int, str]]) -> list[tuple[int, RowOutcome]]:
            inputs = [
                {
                    "id": key,
                    "objectWriteTraceId": str(index),
                    "properties": {k: _as_text(v) for k, v in rows[index].items() if k != "id"},
                }
                for index, key in chunk
            ]
            return self._batch_write(
                f"/crm/v3/objects/{object_type}/batch/update",
                inputs,
                chunk,
                key_of_result=lambda result: str(result.get("id")),
            )

        self._run_chunks(chunk_without_duplicate_keys(keyed, BATCH_SIZE), write, outcomes)
        return [o for o in outcomes if o is not None]

    def assign_owner(self, object_type: str, assignments: Sequence[tuple[str, str]]) -> list[RowOutcome]:
        """Set `hubspot_owner_id` on records: `[(record id, owner id), ...]`."""
        return self.update(
            object_type, [{"id": record_id, "hubspot_owner_id": owner_id} for record_id, owner_id in assignments]
        )

    def write_engagements(self, kind: str, engagements: Sequence[Engagement]) -> list[RowOutcome]:
        """Create or update tasks/notes idempotently (upsert on `actionhouse_id`) and associate them.

        A row is ok only when the engagement and all of its associations were written.
        """
        if kind not in ("tasks", "notes"):
            raise ValueError(f"engagements are tasks or notes, not {kind}")
        rows = [{**e.properties, ENGAGEMENT_KEY: e.key} for e in engagements]
        outcomes = self.upsert(kind, rows, ENGAGEMENT_KEY)
        by_target: dict[str, list[tuple[int, str, str]]] = {}
        for index, (engagement, outcome) in enumerate(zip(engagements, outcomes, strict=True)):
            if outcome.ok:
                for target, target_id in engagement.associations:
                    by_target.setdefault(target, []).append((index, outcome.record_id, str(target_id)))
        failures: dict[int, RowOutcome] = {}
        for target, links in by_target.items():
            for start in range(0, len(links), BATCH_SIZE):
                chunk = links[start : start + BATCH_SIZE]
                for index, problem in self._associate(kind, target, chunk).items():
                    failures.setdefault(index, problem)
        return [failures[i] if i in failures and outcome.ok else outcome for i, outcome in enumerate(outcomes)]

    def _associate(self, kind: str, target: str, links: list[tuple[int, str, str]]) -> dict[int, RowOutcome]:
        body = {"inputs": [{"from": {"id": from_id}, "to": {"id": to_id}} for _, from_id, to_id in links]}
        path = f"/crm/v4/associations/{kind}/{target}/batch/associate/default"
        failed: dict[int, RowOutcome] = {}
        try:
            answer = self._checked(self.request("POST", path, json_body=body))
        except CrmError as exc:
            status = OutcomeStatus.RETRYABLE if exc.retryable else OutcomeStatus.REJECTED
            return {
                index: RowOutcome(from_id, status, from_id, f"association to {target}: {exc.message}")
                for index, from_id, _ in links
            }
        for error in answer.get("errors", []):
            ids = set(map(str, (error.get("context") or {}).get("ids", [])))
            for index, from_id, to_id in links:
                if from_id in ids and to_id in ids:
                    failed[index] = RowOutcome(
                        from_id, _status_of(error), from_id, f"association to {target} {to_id}: {error.get('message')}"
                    )
        return failed

    def merge(self, object_type: str, pairs: Sequence[tuple[str, str]]) -> list[RowOutcome]:
        """Merge records: `[(primary id, id to merge into it), ...]`; outcome key is the merged id."""
        outcomes = []
        for primary_id, other_id in pairs:
            body = {"primaryObjectId": str(primary_id), "objectIdToMerge": str(other_id)}
            try:
                response = self.request("POST", f"/crm/v3/objects/{object_type}/merge", json_body=body)
                if response.status_code in (400, 404) and self._already_merged(object_type, primary_id, other_id):
                    outcomes.append(RowOutcome(str(other_id), OutcomeStatus.OK, str(primary_id)))
                    continue
                merged = self._checked(response, ok=(200,))
                outcomes.append(RowOutcome(str(other_id), OutcomeStatus.OK, str(merged.get("id", primary_id))))
            except CrmAuthenticationError:
                raise
            except CrmError as exc:
                outcomes.append(_outcome_from_error(str(other_id), exc))
        return outcomes

    def _already_merged(self, object_type: str, primary_id: str, other_id: str) -> bool:
        # A retried merge (after a timeout whose first try went through) finds the id already merged.
        response = self.request("GET", f"/crm/v3/objects/{object_type}/{other_id}")
        return response.status_code == 200 and str(response.json().get("id")) == str(primary_id)

    def unsubscribe(
        self,
        emails: Sequence[str],
        subscription_id: str,
        legal_basis: str = "LEGITIMATE_INTEREST_OTHER",
        explanation: str = "Unsubscribed through Actionhouse",
    ) -> list[RowOutcome]:
        """Opt email addresses out of a subscription; an address already opted out counts as ok."""
        outcomes = []
        for email in emails:
            body = {
                "emailAddress": email,
                "subscriptionId": str(subscription_id),
                "legalBasis": legal_basis,
                "legalBasisExplanation": explanation,
            }
            try:
                response = self.request("POST", "/communication-preferences/v3/unsubscribe", json_body=body)
                if response.status_code == 400 and "already unsubscribed" in (_error_message(response) or ""):
                    outcomes.append(RowOutcome(email, OutcomeStatus.OK))
                    continue
                self._checked(response, ok=(200,))
                outcomes.append(RowOutcome(email, OutcomeStatus.OK))
            except CrmAuthenticationError:
                raise
            except CrmError as exc:
                outcomes.append(_outcome_from_error(email, exc))
        return outcomes

    def read_records(
        self, object_type: str, ids: Sequence[str], properties: Sequence[str]
    ) -> dict[str, dict[str, str | None]]:
        """Current values of `properties` for records by id (100 per request); ids the CRM lacks are absent."""
        found: dict[str, dict[str, str | None]] = {}
        for start in range(0, len(ids), BATCH_SIZE):
            chunk = [str(i) for i in ids[start : start + BATCH_SIZE]]
            body = {"inputs": [{"id": i} for i in chunk], "properties": list(properties)}
            answer = self._checked(self.request("POST", f"/crm/v3/objects/{object_type}/batch/read", json_body=body))
            for result in answer.get("results", []):
                found[str(result.get("id"))] = result.get("properties") or {}
        return found

    def ensure_properties(self, object_type: str, definitions: Sequence[Mapping[str, str]]) -> list[str]:
        """Create the custom properties the CRM lacks (name, label, type, fieldType); returns those created."""
        created = []
        for definition in definitions:
            response = self.request("GET", f"/crm/v3/properties/{object_type}/{definition['name']}")
            if response.status_code == 200:
                continue
            response = self.request("POST", f"/crm/v3/properties/{object_type}", json_body=dict(definition))
            if response.status_code == 409:  # created meanwhile (another run)
                continue
            self._checked(response, ok=(200, 201))
            created.append(definition["name"])
        return created

    def subscription_ids(self) -> list[str]:
        """Ids of the active email subscription types (what "unsubscribe from all email" opts out of)."""
        answer = self._checked(self.request("GET", "/communication-preferences/v3/definitions"))
        return [
            str(d["id"])
            for d in answer.get("subscriptionDefinitions", [])
            if d.get("isActive", True) and d.get("communicationMethod", "Email").lower() == "email"
        ]

    def enroll_in_sequence(
        self, enrollments: Sequence[tuple[str, str, str]], user_id: str | None = None
    ) -> list[RowOutcome]:
        """Enroll contacts in sequences: `[(sequence id, contact id, sender email), ...]`; a contact already
        enrolled in that sequence counts as ok (a retried enrollment must not fail)."""
        outcomes = []
        params = {"userId": user_id} if user_id else None
        for sequence_id, contact_id, sender in enrollments:
            body = {"sequenceId": str(sequence_id), "contactId": str(contact_id), "senderEmail": sender}
            try:
                response = self.request("POST", "/automation/v4/sequences/enrollments", json_body=body, params=params)
                if response.status_code == 400 and "already enrolled" in (_error_message(response) or ""):
                    outcomes.append(RowOutcome(str(contact_id), OutcomeStatus.OK, str(contact_id)))
                    continue
                answer = self._checked(response, ok=(200, 201))
                outcomes.append(RowOutcome(str(contact_id), OutcomeStatus.OK, str(answer.get("id"))))
            except CrmAuthenticationError:
                raise
            except CrmError as exc:
                outcomes.append(_outcome_from_error(str(contact_id), exc))
        return outcomes

    # ---- batch machinery -----------------------------------------------------------------------
    def _run_chunks(self, chunks, write, outcomes: list) -> None:
        if len(chunks) <= 1 or self.max_workers <= 1:
            results = [write(chunk) for chunk in chunks]
        else:
            with ThreadPoolExecutor(max_workers=self.max_workers, thread_name_prefix="hubspot") as pool:
                results = list(pool.map(write, chunks))
        for chunk_results in results:
            for index, outcome in chunk_results:
                outcomes[index] = outcome

    def _batch_write(
        self, path: str, inputs: list[dict], chunk: list[tuple[int, str]], key_of_result, attempt: int = 0
    ) -> list[tuple[int, RowOutcome]]:
        """Send one batch; split its answer into per-row outcomes, re-sending only rows that failed transiently."""
        try:
            response = self.request("POST", path, json_body={"inputs": inputs})
        except CrmAuthenticationError:
            raise
        except CrmError as exc:
            return [(index, _outcome_from_error(key, exc)) for index, key in chunk]
        if response.status_code == 400 and len(inputs) > 1 and _names_an_input(_error_message(response)):
            # The whole batch was refused for a bad input: halve it to isolate the culprit(s). A 400 about
            # the request itself (e.g. an idProperty that is not unique) rejects every row at once instead.
            middle = len(inputs) // 2
            first = self._batch_write(path, inputs[:middle], chunk[:middle], key_of_result, attempt)
            return first + self._batch_write(path, inputs[middle:], chunk[middle:], key_of_result, attempt)
        if response.status_code not in (200, 201, 207):
            message = _error_message(response) or f"HTTP {response.status_code}"
            return [(index, RowOutcome(key, OutcomeStatus.REJECTED, message=message)) for index, key in chunk]
        body = _json_or_empty(response)
        by_key = {key.lower(): (index, key) for index, key in chunk}
        by_trace = {str(index): (index, key) for index, key in chunk}
        done: dict[int, RowOutcome] = {}
        for result in body.get("results", []):
            found = by_key.get((key_of_result(result) or "").lower())
            if found is not None:
                done[found[0]] = RowOutcome(
                    found[1], OutcomeStatus.OK, str(result.get("id")), created=result.get("new")
                )
        retry: list[tuple[int, str]] = []
        for error in body.get("errors", []):
            context = error.get("context") or {}
            targets = [by_trace[t] for t in map(str, context.get("objectWriteTraceId", [])) if t in by_trace]
            if not targets:
                targets = [by_key[i.lower()] for i in map(str, context.get("ids", [])) if i.lower() in by_key]
            for index, key in targets:
                status = _status_of(error)
                if status is OutcomeStatus.RETRYABLE:
                    retry.append((index, key))
                done[index] = RowOutcome(key, status, message=error.get("message"))
        missing = [(index, key) for index, key in chunk if index not in done]
        for index, key in missing:
            done[index] = RowOutcome(key, OutcomeStatus.RETRYABLE, message="HubSpot returned no result for this row")
        retry += missing
        if retry and attempt + 1 < self.max_attempts:
            self._pause(attempt)
            wanted = {index for index, _ in retry}
            again = self._batch_write(
                path,
                [i for i, (index, _) in zip(inputs, chunk, strict=True) if index in wanted],
                [c for c in chunk if c[0] in wanted],
                key_of_result,
                attempt + 1,
            )
            done.update(dict(again))
        return sorted(done.items())


def _names_an_input(message: str | None) -> bool:
    """True for HubSpot 400 messages about input values (worth bisecting), not about the request's shape."""
    text = (message or "").lower()
    return any(marker in text for marker in ("property values were not valid", "invalid_", "already exists"))


def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _result_key(result: dict, id_property: str) -> str | None:
    value = (result.get("properties") or {}).get(id_property)
    return str(value) if value is not None else None


def _status_of(error: dict) -> OutcomeStatus:
    return OutcomeStatus.RETRYABLE if error.get("category") in RETRYABLE_CATEGORIES else OutcomeStatus.REJECTED


def _outcome_from_error(key: str, exc: CrmError) -> RowOutcome:
    status = OutcomeStatus.RETRYABLE if exc.retryable else OutcomeStatus.REJECTED
    return RowOutcome(key, status, message=exc.message)


def _json_or_empty(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _error_message(response: httpx.Response) -> str | None:
    return _json_or_empty(response).get("message")
