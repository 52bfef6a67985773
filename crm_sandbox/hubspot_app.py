"""The sandbox CRM: a FastAPI app speaking the subset of HubSpot's public CRM v3/v4 API Actionhouse uses.

Paths, JSON shapes, status codes and error bodies follow HubSpot's documentation, so the official
`hubspot-api-client` works against it unmodified. Deviations are listed in docs/crm.md.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
import uuid
from collections import deque
from dataclasses import asdict

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from crm_sandbox.config import SandboxConfig
from crm_sandbox.store import (
    DEFAULT_ASSOCIATION_TYPES,
    OBJECT_TYPE_IDS,
    OBJECT_TYPES,
    PRIMARY_ASSOCIATION_TYPES,
    SUBSCRIPTION_DEFINITIONS,
    SandboxStore,
    StoredObject,
    iso_from_ms,
    ms_from_value,
    now_ms,
)

BATCH_LIMIT = 100
SEARCH_PAGE_LIMIT = 200
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_TYPE_ALIASES = {"contact": "contacts", "company": "companies", "deal": "deals", "task": "tasks", "note": "notes"}
_TYPE_ALIASES.update({type_id: name for name, type_id in OBJECT_TYPE_IDS.items()})
_SINGULAR = {"contacts": "CONTACT", "companies": "COMPANY", "deals": "DEAL", "tasks": "TASK", "notes": "NOTE"}
DEFAULT_PROPERTIES = {
    "contacts": ("createdate", "email", "firstname", "hs_object_id", "lastmodifieddate", "lastname"),
    "companies": ("createdate", "domain", "hs_lastmodifieddate", "hs_object_id", "name"),
    "deals": (
        "amount",
        "closedate",
        "createdate",
        "dealname",
        "dealstage",
        "hs_lastmodifieddate",
        "hs_object_id",
        "pipeline",
    ),
    "tasks": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
    "notes": ("hs_createdate", "hs_lastmodifieddate", "hs_object_id"),
}
_TIME_COLUMNS = {
    "hs_lastmodifieddate": "updated_ms",
    "lastmodifieddate": "updated_ms",
    "createdate": "created_ms",
    "hs_createdate": "created_ms",
    "hs_object_id": "id",
}


class HubSpotError(Exception):
    """An error answered with HubSpot's error body."""

    def __init__(self, status: int, message: str, category: str, **extra) -> None:
        super().__init__(message)
        self.status, self.message, self.category, self.extra = status, message, category, extra


def error_body(message: str, category: str, **extra) -> dict:
    """HubSpot's error JSON (`status`, `message`, `correlationId`, `category`, ...)."""
    return {"status": "error", "message": message, "correlationId": str(uuid.uuid4()), "category": category, **extra}


class RollingWindow:
    """Admitted request times per token over a rolling window; remembers the most ever seen in one window."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit, self.window_s = limit, window_s
        self._times: dict[str, deque[float]] = {}
        self.max_in_window = 0

    def admit(self, token: str, now: float) -> tuple[bool, int]:
        """Admit a request if the window has room; returns (admitted, remaining)."""
        times = self._times.setdefault(token, deque())
        while times and times[0] <= now - self.window_s:
            times.popleft()
        if len(times) >= self.limit:
            return False, 0
        times.append(now)
        self.max_in_window = max(self.max_in_window, len(times))
        return True, self.limit - len(times)


def _object_type(raw: str) -> str:
    name = _TYPE_ALIASES.get(raw.lower(), raw.lower())
    if name not in OBJECT_TYPES:
        raise HubSpotError(400, f"Unable to infer object type from: {raw}", "OBJECT_NOT_FOUND")
    return name


def _requested_properties(request: Request) -> list[str] | None:
    values = request.query_params.getlist("properties")
    names = [p.strip() for v in values for p in v.split(",") if p.strip()]
    return names or None


def serialize(obj: StoredObject, properties: list[str] | None, new: bool | None = None) -> dict:
    """HubSpot's SimplePublicObject (only the requested properties, or the type's defaults)."""
    wanted = properties or DEFAULT_PROPERTIES[obj.object_type]
    body = {
        "id": str(obj.id),
        "properties": {name: obj.properties.get(name) for name in wanted},
        "createdAt": iso_from_ms(obj.created_ms),
        "updatedAt": iso_from_ms(obj.updated_ms),
        "archived": obj.archived,
    }
    for always in (
        "hs_object_id",
        "createdate" if obj.object_type in ("contacts", "companies", "deals") else "hs_createdate",
        "hs_lastmodifieddate" if obj.object_type != "contacts" else "lastmodifieddate",
    ):
        body["properties"].setdefault(always, obj.properties.get(always))
    if new is not None:
        body["new"] = new
    return body


def _batch_answer(results: list[dict], errors: list[dict], started: str, ok_status: int = 200) -> JSONResponse:
    body: dict = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": iso_from_ms(now_ms()),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return JSONResponse(body, status_code=207)
    return JSONResponse(body, status_code=ok_status)


def _row_error(category: str, message: str, ids: list[str], trace_id: str | None = None, **context) -> dict:
    ctx: dict = {"ids": ids, **context}
    if trace_id is not None:
        ctx["objectWriteTraceId"] = [trace_id]
    return {"status": "error", "category": category, "message": message, "context": ctx}


def create_app(config: SandboxConfig, store: SandboxStore | None = None) -> FastAPI:
    """Build the sandbox app on a config (and optionally an already open store)."""
    app = FastAPI(title="Actionhouse sandbox CRM (HubSpot-compatible)", docs_url=None, redoc_url=None)
    store = store or SandboxStore(config.db_path, config.unique_properties)
    store.unique_properties = config.unique_properties
    app.state.store = store
    app.state.config = config
    limiter = RollingWindow(config.rate_limit, config.rate_window_s)
    search_limiter = RollingWindow(config.search_rate_limit, config.search_window_s)
    dice = random.Random(config.fault_seed)
    stats = {
        "requests": 0,
        "admitted": 0,
        "rate_limited": 0,
        "search_rate_limited": 0,
        "unauthorized": 0,
        "faults_5xx": 0,
        "faults_slow": 0,
        "faults_423": 0,
        "faults_partial_rows": 0,
    }
    app.state.stats = stats

    def roll(rate: float) -> bool:
        return rate > 0 and dice.random() < rate

    @app.exception_handler(HubSpotError)
    async def _hubspot_error(request: Request, exc: HubSpotError) -> JSONResponse:
        return JSONResponse(error_body(exc.message, exc.category, **exc.extra), status_code=exc.status)

    @app.middleware("http")
    async def gatekeeper(request: Request, call_next):
        path = request.url.path
        if path.startswith("/_sandbox/") and path != "/_sandbox/health":
            # Administration (stats, fault injection) needs one of the sandbox's tokens like the API does, so a
            # sandbox bound to another address cannot be reconfigured by whoever reaches it.
            header = request.headers.get("authorization", "")
            if not header.lower().startswith("bearer ") or header[7:].strip() not in config.tokens:
                return JSONResponse(
                    error_body("The sandbox's administration needs a sandbox token.", "INVALID_AUTHENTICATION"),
                    status_code=401,
                )
            return await call_next(request)
        if not path.startswith(("/crm/", "/communication-preferences/", "/automation/")):
            return await call_next(request)
        stats["requests"] += 1
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if token not in config.tokens:
            stats["unauthorized"] += 1
            return JSONResponse(
                error_body(
                    "Authentication credentials not found. This API supports OAuth 2.0 authentication and you can "
                    "find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
                    "INVALID_AUTHENTICATION",
                ),
                status_code=401,
            )
        now = time.monotonic()
        limit_headers = {
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(config.rate_window_s * 1000)),
            "X-HubSpot-RateLimit-Max": str(config.rate_limit),
        }
        is_search = path.endswith("/search")
        if is_search:
            admitted, _ = search_limiter.admit(token, now)
            if not admitted:
                stats["search_rate_limited"] += 1
                return _rate_limited("secondly", "SECONDLY", "publicapi:search", limit_headers)
        admitted, remaining = limiter.admit(token, now)
        if not admitted:
            stats["rate_limited"] += 1
            return _rate_limited(
                "ten_secondly_rolling", "TEN_SECONDLY_ROLLING", "publicapi:private-app:sandbox", limit_headers
            )
        stats["admitted"] += 1
        headers = {**limit_headers, "X-HubSpot-RateLimit-Remaining": str(remaining)}
        is_write = request.method in ("POST", "PUT", "PATCH", "DELETE") and not is_search and "batch/read" not in path
        if is_write and roll(config.fault_locked_rate):
            stats["faults_423"] += 1
            return JSONResponse(
                error_body("This record is locked by another request; retry later.", "LOCKED"),
                status_code=423,
                headers=headers,
            )
        if roll(config.fault_5xx_rate):
            stats["faults_5xx"] += 1
            if dice.random() < 0.5:  # half fail before doing anything, half after the write is applied
                return JSONResponse(
                    error_body("Service unavailable", "INTERNAL_ERROR"), status_code=503, headers=headers
                )
            await call_next(request)
            return JSONResponse(error_body("internal error", "INTERNAL_ERROR"), status_code=500, headers=headers)
        response = await call_next(request)
        if roll(config.fault_slow_rate):
            stats["faults_slow"] += 1
            await asyncio.sleep(config.slow_seconds)
        response.headers.update(headers)
        return response

    # ---- helpers bound to the store -----------------------------------------------------------
    def validate(object_type: str, properties: dict) -> str | None:
        problems = []
        email = properties.get("email")
        if object_type == "contacts" and email not in (None, "") and not _EMAIL.match(str(email)):
            problems.append(
                {
                    "isValid": False,
                    "message": f"Email address {email} is invalid",
                    "error": "INVALID_EMAIL",
                    "name": "email",
                }
            )
        owner = properties.get("hubspot_owner_id")
        if owner not in (None, "") and not store.owner_exists(owner):
            problems.append(
                {
                    "isValid": False,
                    "message": f"{owner} is not a valid owner id",
                    "error": "INVALID_OWNER_ID",
                    "name": "hubspot_owner_id",
                }
            )
        if problems:
            return "Property values were not valid: " + json.dumps(problems)
        return None

    def clean(properties: dict | None) -> dict:
        if not isinstance(properties, dict):
            raise HubSpotError(400, "Invalid input JSON: properties must be an object", "VALIDATION_ERROR")
        return {str(k): (None if v is None else str(v)) for k, v in properties.items()}

    def association_target(from_type: str, type_id: int) -> str:
        for (source, target), known in DEFAULT_ASSOCIATION_TYPES.items():
            if source == from_type and known == type_id:
                return target
        pair = PRIMARY_ASSOCIATION_TYPES.get(type_id)
        if pair and pair[0] == from_type:
            return pair[1]
        raise HubSpotError(
            400, f"{type_id} is not a valid association type id for {_SINGULAR[from_type]}", "VALIDATION_ERROR"
        )

    def check_associations(from_type: str, associations) -> list[tuple[str, int, int, str]]:
        checked = []
        for association in associations or []:
            to_id = str(association.get("to", {}).get("id", ""))
            for spec in association.get("types", []):
                type_id = int(spec.get("associationTypeId"))
                target = association_target(from_type, type_id)
                if not to_id.isdigit() or store.get(target, int(to_id)) is None:
                    raise HubSpotError(400, f"{_SINGULAR[target]}={to_id} is not valid", "VALIDATION_ERROR")
                checked.append((target, int(to_id), type_id, spec.get("associationCategory", "HUBSPOT_DEFINED")))
        return checked

    def create_one(object_type: str, properties: dict, associations=None) -> StoredObject:
        problem = validate(object_type, properties)
        if problem:
            raise HubSpotError(400, problem, "VALIDATION_ERROR")
        conflict = store.unique_conflict(object_type, properties, None)
        if conflict:
            existing = store.find_id(object_type, conflict, properties[conflict])
            raise HubSpotError(
                409, f"{_SINGULAR[object_type].title()} already exists. Existing ID: {existing}", "CONFLICT"
            )
        links = check_associations(object_type, associations)
        ms = store.tick()
        obj = StoredObject(
            object_type, store.next_id(object_type), {k: v for k, v in properties.items() if v is not None}, ms, ms
        )
        store.put(obj)
        for target, to_id, type_id, category in links:
            store.associate(object_type, obj.id, target, to_id, type_id, category)
        return obj

    def update_one(obj: StoredObject, properties: dict) -> StoredObject:
        problem = validate(obj.object_type, properties)
        if problem:
            raise HubSpotError(400, problem, "VALIDATION_ERROR")
        if store.unique_conflict(obj.object_type, properties, obj.id):
            raise HubSpotError(409, "A record with this unique value already exists", "CONFLICT")
        for name, value in properties.items():
            if value in (None, ""):
                obj.properties.pop(name, None)
            else:
                obj.properties[name] = value
        obj.updated_ms = store.tick()
        store.put(obj)
        return obj

    def resolve(object_type: str, raw_id: str, id_property: str | None) -> StoredObject | None:
        if id_property and id_property != "hs_object_id":
            if id_property not in store.unique_properties.get(object_type, ()):
                raise HubSpotError(400, f"{id_property} is not a unique property", "VALIDATION_ERROR")
            found = store.find_id(object_type, id_property, raw_id)
            return store.get(object_type, found) if found is not None else None
        return store.get(object_type, int(raw_id)) if str(raw_id).isdigit() else None

    async def body_of(request: Request) -> dict:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise HubSpotError(400, "Invalid input JSON on line 1", "VALIDATION_ERROR") from exc
        if not isinstance(body, (dict, list)):
            raise HubSpotError(400, "Invalid input JSON: expected an object", "VALIDATION_ERROR")
        return body

    def batch_inputs(body: dict) -> list:
        inputs = body.get("inputs") if isinstance(body, dict) else None
        if not isinstance(inputs, list):
            raise HubSpotError(400, "Invalid input JSON: inputs is required", "VALIDATION_ERROR")
        if len(inputs) > BATCH_LIMIT:
            raise HubSpotError(
                400, f"Batch input limit exceeded: {len(inputs)} inputs, at most {BATCH_LIMIT}", "VALIDATION_ERROR"
            )
        return inputs

    def injected_failure(input_id: str, trace_id: str | None) -> dict | None:
        if roll(config.fault_partial_rate):
            stats["faults_partial_rows"] += 1
            return _row_error(
                "INTERNAL_ERROR",
                "Injected partial failure: this input was not processed; retry it",
                [input_id],
                trace_id,
            )
        return None

    # ---- objects ------------------------------------------------------------------------------
    @app.post("/crm/v3/objects/{object_type}/batch/upsert")
    async def batch_upsert(object_type: str, request: Request):
        object_type = _object_type(object_type)
        inputs = batch_inputs(await body_of(request))
        started = iso_from_ms(now_ms())
        results, errors = [], []
        with store.transaction():
            for item in inputs:
                id_property = item.get("idProperty") or "hs_object_id"
                raw_id = str(item.get("id", ""))
                trace = item.get("objectWriteTraceId")
                if id_property != "hs_object_id" and id_property not in store.unique_properties.get(object_type, ()):
                    raise HubSpotError(
                        400,
                        f"{id_property} is not a unique property and cannot be used as idProperty",
                        "VALIDATION_ERROR",
                    )
                failure = injected_failure(raw_id, trace)
                if failure:
                    errors.append(failure)
                    continue
                properties = clean(item.get("properties", {}))
                try:
                    existing = resolve(object_type, raw_id, id_property)
                    if existing is not None:
                        results.append(serialize(update_one(existing, properties), list(properties) or None, False))
                    else:
                        if id_property != "hs_object_id":
                            properties[id_property] = raw_id
                        results.append(serialize(create_one(object_type, properties), list(properties) or None, True))
                except HubSpotError as exc:
                    errors.append(_row_error(exc.category, exc.message, [raw_id], trace))
        return _batch_answer(results, errors, started)

    @app.post("/crm/v3/objects/{object_type}/batch/create")
    async def batch_create(object_type: str, request: Request):
        object_type = _object_type(object_type)
        inputs = batch_inputs(await body_of(request))
        started = iso_from_ms(now_ms())
        results, errors = [], []
        with store.transaction():
            for index, item in enumerate(inputs):
                trace = item.get("objectWriteTraceId")
                failure = injected_failure(str(index), trace)
                if failure:
                    errors.append(failure)
                    continue
                try:
                    properties = clean(item.get("properties", {}))
                    obj = create_one(object_type, properties, item.get("associations"))
                    results.append(serialize(obj, list(properties) or None))
                except HubSpotError as exc:
                    errors.append(_row_error(exc.category, exc.message, [str(index)], trace))
        return _batch_answer(results, errors, started, ok_status=201)

    @app.post("/crm/v3/objects/{object_type}/batch/update")
    async def batch_update(object_type: str, request: Request):
        object_type = _object_type(object_type)
        inputs = batch_inputs(await body_of(request))
        started = iso_from_ms(now_ms())
        results, errors = [], []
        with store.transaction():
            for item in inputs:
                raw_id, trace = str(item.get("id", "")), item.get("objectWriteTraceId")
                failure = injected_failure(raw_id, trace)
                if failure:
                    errors.append(failure)
                    continue
                try:
                    properties = clean(item.get("properties", {}))
                    existing = resolve(object_type, raw_id, item.get("idProperty"))
                    if existing is None:
                        errors.append(
                            _row_error(
                                "OBJECT_NOT_FOUND",
                                f"Could not find {_SINGULAR[object_type]} with id {raw_id}",
                                [raw_id],
                                trace,
                            )
                        )
                        continue
                    results.append(serialize(update_one(existing, properties), list(properties) or None))
                except HubSpotError as exc:
                    errors.append(_row_error(exc.category, exc.message, [raw_id], trace))
        return _batch_answer(results, errors, started)

    @app.post("/crm/v3/objects/{object_type}/batch/read")
    async def batch_read(object_type: str, request: Request):
        object_type = _object_type(object_type)
        body = await body_of(request)
        inputs = batch_inputs(body)
        started = iso_from_ms(now_ms())
        properties = body.get("properties") or None
        results, missing = [], []
        for item in inputs:
            raw_id = str(item.get("id", ""))
            obj = resolve(object_type, raw_id, body.get("idProperty"))
            if obj is None:
                missing.append(raw_id)
            else:
                results.append(serialize(obj, properties))
        errors = (
            [
                _row_error(
                    "OBJECT_NOT_FOUND",
                    f"Could not get some {_SINGULAR[object_type]} objects, they may "
                    "be deleted or not exist. Check that ids are valid.",
                    missing,
                )
            ]
            if missing
            else []
        )
        return _batch_answer(results, errors, started)

    @app.post("/crm/v3/objects/{object_type}/batch/archive")
    async def batch_archive(object_type: str, request: Request):
        object_type = _object_type(object_type)
        inputs = batch_inputs(await body_of(request))
        with store.transaction():
            for item in inputs:
                raw_id = str(item.get("id", ""))
                if raw_id.isdigit():
                    store.archive(object_type, int(raw_id))
        return Response(status_code=204)

    @app.post("/crm/v3/objects/{object_type}/search")
    async def search(object_type: str, request: Request):
        object_type = _object_type(object_type)
        body = await body_of(request)
        limit = int(body.get("limit") or 10)
        if limit > SEARCH_PAGE_LIMIT:
            raise HubSpotError(400, f"limit must be at most {SEARCH_PAGE_LIMIT}", "VALIDATION_ERROR")
        offset = int(body.get("after") or 0)
        if offset + limit > config.search_max_results:
            raise HubSpotError(
                400,
                f"Search results are limited to {config.search_max_results} records; narrow "
                "the filters (e.g. on hs_lastmodifieddate) instead of paging further.",
                "VALIDATION_ERROR",
            )
        where, params = _search_condition(body.get("filterGroups") or [])
        order_by = _search_order(body.get("sorts") or [])
        total, page = store.search(object_type, where, params, order_by, offset, limit)
        answer: dict = {"total": total, "results": [serialize(o, body.get("properties") or None) for o in page]}
        if offset + len(page) < total:
            answer["paging"] = {"next": {"after": str(offset + len(page))}}
        return answer

    @app.post("/crm/v3/objects/{object_type}/merge")
    async def merge(object_type: str, request: Request):
        object_type = _object_type(object_type)
        body = await body_of(request)
        primary_id, other_id = str(body.get("primaryObjectId", "")), str(body.get("objectIdToMerge", ""))
        with store.transaction():
            primary = resolve(object_type, primary_id, None)
            other = resolve(object_type, other_id, None)
            if primary is None or other is None:
                raise HubSpotError(
                    404,
                    f"Object not found. objectId are usually numeric. ({primary_id}, {other_id})",
                    "OBJECT_NOT_FOUND",
                )
            if primary.id == other.id:
                raise HubSpotError(400, "Cannot merge an object with itself", "VALIDATION_ERROR")
            filled = {
                k: v
                for k, v in other.properties.items()
                if k not in primary.properties
                and k not in ("hs_object_id", "createdate", "hs_lastmodifieddate", "lastmodifieddate")
            }
            store.archive(object_type, other.id, merged_into=primary.id)
            store.move_associations(object_type, other.id, primary.id)
            merged_ids = [i for i in (primary.properties.get("hs_merged_object_ids") or "").split(";") if i]
            filled["hs_merged_object_ids"] = ";".join([*merged_ids, str(other.id)])
            update_one(primary, filled)
        return serialize(primary, None)

    @app.post("/crm/v3/objects/{object_type}")
    async def create(object_type: str, request: Request):
        object_type = _object_type(object_type)
        body = await body_of(request)
        with store.transaction():
            properties = clean(body.get("properties", {}))
            obj = create_one(object_type, properties, body.get("associations"))
        return JSONResponse(serialize(obj, list(properties) or None), status_code=201)

    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(object_type: str, request: Request):
        object_type = _object_type(object_type)
        limit = min(int(request.query_params.get("limit", 10)), 100)
        after = int(request.query_params.get("after") or 0)
        archived = request.query_params.get("archived", "false").lower() == "true"
        page = store.list_page(object_type, after, limit + 1, archived)
        answer: dict = {"results": [serialize(o, _requested_properties(request)) for o in page[:limit]]}
        if len(page) > limit:
            answer["paging"] = {"next": {"after": str(page[limit - 1].id)}}
        return answer

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def read(object_type: str, object_id: str, request: Request):
        object_type = _object_type(object_type)
        obj = resolve(object_type, object_id, request.query_params.get("idProperty"))
        if obj is None:
            return Response(status_code=404)  # HubSpot answers a missing record with an empty 404
        body = serialize(obj, _requested_properties(request))
        wanted = [t.strip() for v in request.query_params.getlist("associations") for t in v.split(",") if t.strip()]
        if wanted:
            body["associations"] = {}
            for raw in wanted:
                target = _object_type(raw)
                linked = store.associations_of(object_type, obj.id, target)
                if linked:
                    body["associations"][target] = {
                        "results": [
                            {"id": str(to_id), "type": f"{object_type[:-1]}_to_{target[:-1]}"} for to_id in linked
                        ]
                    }
        return body

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update(object_type: str, object_id: str, request: Request):
        object_type = _object_type(object_type)
        body = await body_of(request)
        with store.transaction():
            obj = resolve(object_type, object_id, request.query_params.get("idProperty"))
            if obj is None:
                return Response(status_code=404)
            properties = clean(body.get("properties", {}))
            update_one(obj, properties)
        return serialize(obj, list(properties) or None)

    @app.delete("/crm/v3/objects/{object_type}/{object_id}")
    async def archive(object_type: str, object_id: str):
        object_type = _object_type(object_type)
        with store.transaction():
            if object_id.isdigit():
                store.archive(object_type, int(object_id))
        return Response(status_code=204)

    # ---- associations (v4) ----------------------------------------------------------------------
    def both(from_type: str, from_id: str, to_type: str, to_id: str) -> tuple[str, int, str, int]:
        from_type, to_type = _object_type(from_type), _object_type(to_type)
        for kind, raw in ((from_type, from_id), (to_type, to_id)):
            if not str(raw).isdigit() or store.get(kind, int(raw)) is None:
                raise HubSpotError(404, f"No {_SINGULAR[kind].lower()} with ID {raw} exists", "OBJECT_NOT_FOUND")
        if (from_type, to_type) not in DEFAULT_ASSOCIATION_TYPES:
            raise HubSpotError(400, f"No default association from {from_type} to {to_type}", "VALIDATION_ERROR")
        return from_type, int(from_id), to_type, int(to_id)

    def default_result(from_type: str, from_id: int, to_type: str, to_id: int) -> dict:
        type_id = DEFAULT_ASSOCIATION_TYPES[(from_type, to_type)]
        store.associate(from_type, from_id, to_type, to_id, type_id)
        return {
            "from": {"id": str(from_id)},
            "to": {"id": str(to_id)},
            "associationSpec": {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id},
        }

    @app.put("/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")
    async def associate_default(from_type: str, from_id: str, to_type: str, to_id: str):
        started = iso_from_ms(now_ms())
        with store.transaction():
            result = default_result(*both(from_type, from_id, to_type, to_id))
        return _batch_answer([result], [], started)

    @app.put("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}")
    async def associate_labelled(from_type: str, from_id: str, to_type: str, to_id: str, request: Request):
        specs = await body_of(request)
        with store.transaction():
            f_type, f_id, t_type, t_id = both(from_type, from_id, to_type, to_id)
            for spec in specs if isinstance(specs, list) else []:
                store.associate(
                    f_type,
                    f_id,
                    t_type,
                    t_id,
                    int(spec.get("associationTypeId")),
                    spec.get("associationCategory", "HUBSPOT_DEFINED"),
                )
        return JSONResponse(
            {
                "fromObjectTypeId": OBJECT_TYPE_IDS[f_type],
                "fromObjectId": f_id,
                "toObjectTypeId": OBJECT_TYPE_IDS[t_type],
                "toObjectId": t_id,
                "labels": [],
            },
            status_code=201,
        )

    def associated(from_type: str, from_id: int, to_type: str) -> list[dict]:
        return [
            {
                "toObjectId": to_id,
                "associationTypes": [
                    {"category": category, "typeId": type_id, "label": None} for category, type_id in kinds
                ],
            }
            for to_id, kinds in store.associations_of(from_type, from_id, to_type).items()
        ]

    @app.get("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}")
    async def list_associations(from_type: str, from_id: str, to_type: str):
        from_type, to_type = _object_type(from_type), _object_type(to_type)
        if not from_id.isdigit():
            raise HubSpotError(400, f"{from_id} is not a valid object id", "VALIDATION_ERROR")
        return {"results": associated(from_type, int(from_id), to_type)}

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/associate/default")
    async def batch_associate_default(from_type: str, to_type: str, request: Request):
        inputs = batch_inputs(await body_of(request))
        started = iso_from_ms(now_ms())
        results, errors = [], []
        with store.transaction():
            for item in inputs:
                from_id, to_id = str(item.get("from", {}).get("id", "")), str(item.get("to", {}).get("id", ""))
                try:
                    results.append(default_result(*both(from_type, from_id, to_type, to_id)))
                except HubSpotError as exc:
                    errors.append(_row_error(exc.category, exc.message, [from_id, to_id]))
        return _batch_answer(results, errors, started)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/read")
    async def batch_read_associations(from_type: str, to_type: str, request: Request):
        inputs = batch_inputs(await body_of(request))
        started = iso_from_ms(now_ms())
        f_type, t_type = _object_type(from_type), _object_type(to_type)
        results = [
            {"from": {"id": str(item.get("id"))}, "to": associated(f_type, int(item["id"]), t_type)}
            for item in inputs
            if str(item.get("id", "")).isdigit()
        ]
        return _batch_answer(results, [], started)

    # ---- owners ---------------------------------------------------------------------------------
    @app.get("/crm/v3/owners/")
    @app.get("/crm/v3/owners")
    async def owners(request: Request):
        limit = min(int(request.query_params.get("limit", 100)), 500)
        after = int(request.query_params.get("after") or 0)
        page = store.owners(after, limit + 1, request.query_params.get("email"))
        answer: dict = {"results": page[:limit]}
        if len(page) > limit:
            answer["paging"] = {"next": {"after": page[limit - 1]["id"]}}
        return answer

    @app.get("/crm/v3/owners/{owner_id}")
    async def owner(owner_id: str):
        found = store.owners(int(owner_id) - 1, 1) if owner_id.isdigit() else []
        if not found or found[0]["id"] != owner_id:
            raise HubSpotError(404, f"Owner {owner_id} not found", "OBJECT_NOT_FOUND")
        return found[0]

    # ---- communication preferences (v3) -------------------------------------------------------
    definitions = {d["id"]: d for d in SUBSCRIPTION_DEFINITIONS}

    @app.get("/communication-preferences/v3/definitions")
    async def subscription_definitions():
        return {"subscriptionDefinitions": list(SUBSCRIPTION_DEFINITIONS)}

    def status_item(subscription_id: str, status: str, legal_basis=None, explanation=None) -> dict:
        definition = definitions[subscription_id]
        return {
            "id": subscription_id,
            "name": definition["name"],
            "description": definition["description"],
            "status": status,
            "sourceOfStatus": "SUBSCRIPTION_STATUS",
            "legalBasis": legal_basis,
            "legalBasisExplanation": explanation,
        }

    async def change_subscription(request: Request, status: str):
        body = await body_of(request)
        email, subscription_id = str(body.get("emailAddress", "")), str(body.get("subscriptionId", ""))
        if not _EMAIL.match(email):
            raise HubSpotError(400, f"Invalid email address: {email}", "VALIDATION_ERROR")
        if subscription_id not in definitions:
            raise HubSpotError(400, f"Subscription {subscription_id} does not exist", "VALIDATION_ERROR")
        with store.transaction():
            if store.subscription_status(email, subscription_id) == status:
                verb = "unsubscribed from" if status == "NOT_SUBSCRIBED" else "subscribed to"
                raise HubSpotError(400, f"{email} is already {verb} subscription {subscription_id}", "VALIDATION_ERROR")
            store.set_subscription(email, subscription_id, status, body.get("legalBasis"))
            contact_id = store.find_id("contacts", "email", email)
            if contact_id is not None and status == "NOT_SUBSCRIBED":
                update_one(store.get("contacts", contact_id), {"hs_email_optout": "true"})
        return status_item(subscription_id, status, body.get("legalBasis"), body.get("legalBasisExplanation"))

    @app.post("/communication-preferences/v3/unsubscribe")
    async def unsubscribe(request: Request):
        return await change_subscription(request, "NOT_SUBSCRIBED")

    @app.post("/communication-preferences/v3/subscribe")
    async def subscribe(request: Request):
        return await change_subscription(request, "SUBSCRIBED")

    @app.get("/communication-preferences/v3/status/email/{email}")
    async def subscription_statuses(email: str):
        return {
            "recipient": email,
            "subscriptionStatuses": [
                status_item(sid, store.subscription_status(email, sid) or "SUBSCRIBED") for sid in definitions
            ],
        }

    # ---- property definitions (v3): custom properties such as Actionhouse's scores -------------
    property_types = {"string", "number", "date", "datetime", "enumeration", "bool"}

    @app.get("/crm/v3/properties/{object_type}")
    async def list_properties(object_type: str):
        return {"results": store.property_definitions(_object_type(object_type))}

    @app.get("/crm/v3/properties/{object_type}/{name}")
    async def read_property(object_type: str, name: str):
        found = store.property_definition(_object_type(object_type), name)
        if found is None:
            raise HubSpotError(404, f"Property {name} does not exist", "OBJECT_NOT_FOUND")
        return found

    @app.post("/crm/v3/properties/{object_type}")
    async def create_property(object_type: str, request: Request):
        object_type = _object_type(object_type)
        body = await body_of(request)
        name, kind = str(body.get("name", "")), body.get("type")
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or kind not in property_types or not body.get("label"):
            raise HubSpotError(
                400, "Property definitions need a lowercase name, a label and a type", "VALIDATION_ERROR"
            )
        with store.transaction():
            if store.property_definition(object_type, name) is not None:
                raise HubSpotError(409, f"Property named '{name}' already exists.", "OBJECT_ALREADY_EXISTS")
            definition = {
                "name": name,
                "label": body["label"],
                "type": kind,
                "fieldType": body.get("fieldType", "text"),
                "groupName": body.get("groupName", "contactinformation"),
                "description": body.get("description", ""),
                "calculated": False,
                "hasUniqueValue": False,
            }
            store.add_property_definition(object_type, definition)
        return JSONResponse(definition, status_code=201)

    # ---- sequences (automation v4) ---------------------------------------------------------------
    @app.post("/automation/v4/sequences/enrollments")
    async def enroll_in_sequence(request: Request):
        body = await body_of(request)
        sequence_id, contact_id = str(body.get("sequenceId", "")), str(body.get("contactId", ""))
        sender = str(body.get("senderEmail", ""))
        if not sequence_id or not contact_id.isdigit() or not _EMAIL.match(sender):
            raise HubSpotError(400, "sequenceId, contactId and senderEmail are required", "VALIDATION_ERROR")
        contact = store.get("contacts", int(contact_id))
        if contact is None:
            raise HubSpotError(400, f"Contact {contact_id} does not exist", "VALIDATION_ERROR")
        with store.transaction():
            if store.enrollment(sequence_id, contact_id) is not None:
                raise HubSpotError(
                    400, f"Contact {contact_id} is already enrolled in sequence {sequence_id}", "VALIDATION_ERROR"
                )
            enrolled = store.enroll(sequence_id, contact_id, sender, request.query_params.get("userId"))
        stamp = iso_from_ms(enrolled["ms"])
        return {
            "id": enrolled["id"],
            "enrolledAt": stamp,
            "updatedAt": stamp,
            "toEmail": contact.properties.get("email"),
        }

    @app.get("/automation/v4/sequences/enrollments/contact/{contact_id}")
    async def enrollment_status(contact_id: str):
        found = store.enrollments_of(contact_id)
        if not found:
            raise HubSpotError(404, f"Contact {contact_id} is not enrolled in a sequence", "OBJECT_NOT_FOUND")
        latest = found[-1]
        return {"id": latest["id"], "sequenceId": latest["sequenceId"], "enrolledAt": iso_from_ms(latest["ms"])}

    # ---- sandbox administration (not HubSpot API; a sandbox token required, health excepted) ------
    @app.get("/_sandbox/stats")
    async def sandbox_stats():
        return {
            **stats,
            "max_in_window": limiter.max_in_window,
            "rate_limit": config.rate_limit,
            "rate_window_s": config.rate_window_s,
            "records": store.counts(),
        }

    @app.patch("/_sandbox/faults")
    async def sandbox_faults(request: Request):
        body = await body_of(request)
        for name in ("fault_5xx_rate", "fault_slow_rate", "fault_partial_rate", "fault_locked_rate", "slow_seconds"):
            if name in body:
                setattr(config, name, float(body[name]))
        return {k: v for k, v in asdict(config).items() if k.startswith("fault") or k == "slow_seconds"}

    @app.get("/_sandbox/health")
    async def health():
        return {"status": "ok"}

    return app


def _filter_sql(item: dict) -> tuple[str, list]:
    name = str(item.get("propertyName", ""))
    operator = str(item.get("operator", "EQ")).upper()
    column = _TIME_COLUMNS.get(name)
    if column is None:
        column = "json_extract(properties, ?)"
        prefix: list = [f'$."{name}"']
    else:
        prefix = []

    def convert(value):
        if column == "id":
            return int(value)
        if column in ("updated_ms", "created_ms"):
            try:
                return ms_from_value(value)
            except ValueError as exc:
                raise HubSpotError(400, f"{value} is not a valid date for {name}", "VALIDATION_ERROR") from exc
        return str(value)

    comparisons = {"EQ": "=", "NEQ": "!=", "LT": "<", "LTE": "<=", "GT": ">", "GTE": ">="}
    if operator in comparisons:
        if operator == "EQ" and name == "email":
            return "lower(json_extract(properties, ?)) = lower(?)", [*prefix, str(item.get("value"))]
        return f"{column} {comparisons[operator]} ?", [*prefix, convert(item.get("value"))]
    if operator == "BETWEEN":
        return f"{column} BETWEEN ? AND ?", [*prefix, convert(item.get("value")), convert(item.get("highValue"))]
    if operator in ("IN", "NOT_IN"):
        values = [convert(v) for v in item.get("values") or []]
        marks = ", ".join("?" for _ in values) or "NULL"
        return f"{column} {'NOT ' if operator == 'NOT_IN' else ''}IN ({marks})", [*prefix, *values]
    if operator in ("HAS_PROPERTY", "NOT_HAS_PROPERTY"):
        return f"{column} IS {'NOT ' if operator == 'HAS_PROPERTY' else ''}NULL", prefix
    raise HubSpotError(400, f"Unsupported filter operator {operator}", "VALIDATION_ERROR")


def _search_condition(filter_groups: list) -> tuple[str, list]:
    if len(filter_groups) > 5:
        raise HubSpotError(400, "A search can have at most 5 filterGroups", "VALIDATION_ERROR")
    groups, params = [], []
    for group in filter_groups:
        parts = []
        for item in group.get("filters", []):
            sql, values = _filter_sql(item)
            parts.append(sql)
            params.extend(values)
        if parts:
            groups.append("(" + " AND ".join(parts) + ")")
    return (" OR ".join(groups) or "1 = 1"), params


def _rate_limited(limit_name: str, policy: str, group: str, limit_headers: dict[str, str]) -> JSONResponse:
    """HubSpot's 429 body and headers for a request over one of its rate-limit policies."""
    return JSONResponse(
        error_body(
            f"You have reached your {limit_name} limit.",
            "RATE_LIMITS",
            errorType="RATE_LIMIT",
            policyName=policy,
            groupName=group,
        ),
        status_code=429,
        headers={**limit_headers, "X-HubSpot-RateLimit-Remaining": "0"},
    )


def _search_order(sorts: list) -> str:
    terms = []
    for sort in sorts[:1]:  # HubSpot accepts one sort
        if isinstance(sort, str):
            name, direction = sort.lstrip("-"), "DESC" if sort.startswith("-") else "ASC"
        else:
            name = str(sort.get("propertyName", ""))
            direction = "DESC" if str(sort.get("direction", "ASCENDING")).upper().startswith("DESC") else "ASC"
        column = _TIME_COLUMNS.get(name)
        if column is None:
            if not re.fullmatch(r"[A-Za-z0-9_]+", name):
                raise HubSpotError(400, f"Invalid sort property {name}", "VALIDATION_ERROR")
            column = f"json_extract(properties, '$.{name}')"
        terms.append(f"{column} {direction}")
    terms.append("id ASC")
    return ", ".join(terms)
