"""The console web app: FastAPI routes rendering Jinja2 pages, htmx for the queue's interactions.

Reads come from the publication (`console.reader`) and the operational store; decisions go to the store through
`DecisionQueue` with the signed-in person's name. Every POST carries a CSRF token and passes an Origin check;
every request passes a Host check.
"""

import json
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode

import duckdb
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from actions.catalog import ACTION_TYPES, MERGE_ACTION_TYPES
from actions.kill_switch import KillSwitch
from actions.policy import Policy, load_policy
from actions.queue import (
    SPLIT_EVENT,
    DecisionConflict,
    DecisionQueue,
    IllegalTransition,
    NotAllowed,
    QueueError,
    UnknownAction,
)
from actions.states import AWAITING_DECISION, State
from console import charts, lift, queries, store_views
from console.auth import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Role,
    SessionCodec,
    User,
    UserStore,
    csrf_token,
    csrf_valid,
    header_user,
    host_allowed,
    new_csrf_seed,
    same_origin,
)
from console.reader import NoPublication, PublicationReader
from console.settings import ConsoleSettings
from ops_store import open_store

HERE = Path(__file__).resolve().parent
log = logging.getLogger("actionhouse.console")
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class SignInRequired(Exception):
    """The page needs a signed-in person."""


def create_app(settings: ConsoleSettings, policy: Policy | None = None) -> FastAPI:
    """The console app for `settings` (one operational-store engine and one publication reader per app)."""
    engine = open_store(settings.ops_db_url)
    policy = policy or load_policy()
    users = UserStore(engine)
    codec = SessionCodec(settings.secret_key, settings.session_hours)
    reader = PublicationReader(settings.publication)
    queue = DecisionQueue(engine, policy)
    kill_switch = KillSwitch(engine, default=policy.kill_switch.default)
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    templates.env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=2, default=str, sort_keys=True)
    templates.env.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    templates.env.filters["num"] = lambda v: "—" if v is None else (f"{v:,.1f}" if isinstance(v, float) else f"{v:,}")
    templates.env.filters["ts"] = _format_time

    app = FastAPI(title="Actionhouse console", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.engine = engine
    app.state.reader = reader
    app.state.queue = queue
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    # ---- security on every request -----------------------------------------------------------------------
    @app.middleware("http")
    async def guard(request: Request, call_next):
        if not host_allowed(request.headers.get("host"), settings.allowed_hosts):
            return Response("This console does not answer to that host name.", status_code=400)
        if request.method in UNSAFE_METHODS and not same_origin(
            request.headers.get("origin"), request.headers.get("referer"), request.headers.get("host")
        ):
            return Response("Refused: the request did not come from this console's pages.", status_code=403)
        seed = request.cookies.get(CSRF_COOKIE)
        fresh_seed = None
        if not seed:
            seed = fresh_seed = new_csrf_seed()
        request.state.csrf_seed = seed
        response = await call_next(request)
        if fresh_seed:
            _set_cookie(response, CSRF_COOKIE, fresh_seed, settings, max_age=None)
        response.headers["Content-Security-Policy"] = (
            # vega compiles its expressions with Function(): 'unsafe-eval' is needed for the charts.
            "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
        )
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        if not request.url.path.startswith("/static/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.exception_handler(SignInRequired)
    async def to_sign_in(request: Request, _exc: SignInRequired):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login?" + urlencode({"next": target}), status_code=303)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException):
        return templates.TemplateResponse(
            request,
            "error.html",
            _context(request, None, message=exc.detail, status=exc.status_code),
            status_code=exc.status_code,
        )

    # ---- who is asking --------------------------------------------------------------------------------------
    def current_user(request: Request) -> User | None:
        if settings.header_mode:
            client = request.client.host if request.client else None
            user = header_user(
                client,
                request.headers,
                settings.trusted_proxies,
                settings.identity_header,
                users,
                settings.header_default_role,
            )
            if user is not None:
                return user
        from console.auth import session_user

        return session_user(codec, users, request.cookies.get(SESSION_COOKIE))

    def signed_in(request: Request) -> User:
        user = current_user(request)
        if user is None:
            raise SignInRequired()
        return user

    def require(role: Role) -> Callable[[Request], User]:
        def dependency(request: Request) -> User:
            user = signed_in(request)
            if not user.at_least(role):
                raise HTTPException(403, f"{user.username} is a {user.role.label}: this needs the {role.label} role.")
            return user

        return dependency

    async def verified_form(request: Request) -> dict[str, str]:
        """The posted form, refused unless it carries this browser's CSRF token."""
        form = await request.form()
        token = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
        if not csrf_valid(settings.secret_key, request.cookies.get(CSRF_COOKIE), token):
            raise HTTPException(403, "Refused: the form's security token is missing or stale. Reload the page.")
        return {k: v for k, v in form.items() if isinstance(v, str)}

    SignedIn = Annotated[User, Depends(signed_in)]
    Approver = Annotated[User, Depends(require(Role.APPROVER))]
    Admin = Annotated[User, Depends(require(Role.ADMIN))]
    PostedForm = Annotated[dict, Depends(verified_form)]

    def _context(request: Request, user: User | None, **values: Any) -> dict[str, Any]:
        seed = getattr(request.state, "csrf_seed", "")
        info = None
        try:
            cur = reader.cursor()
            info = queries.publication_info(cur)
        except (NoPublication, duckdb.Error, IndexError):
            info = None
        return {
            "user": user,
            "csrf": csrf_token(settings.secret_key, seed) if seed else "",
            "csrf_field": CSRF_FIELD,
            "publication": info,
            "path": request.url.path,
            **values,
        }

    def page(request: Request, name: str, user: User | None, status: int = 200, **values: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, name, _context(request, user, **values), status_code=status)

    def publication_cursor() -> duckdb.DuckDBPyConnection | None:
        try:
            return reader.cursor()
        except NoPublication:
            return None

    # ---- sign in ---------------------------------------------------------------------------------------------
    @app.get("/login", response_class=HTMLResponse)
    def login_form(request: Request, next: str = "/"):
        return page(request, "login.html", current_user(request), next=_safe_next(next), error=None)

    @app.post("/login")
    def login(request: Request, form: PostedForm):
        target = _safe_next(form.get("next", "/"))
        user = users.authenticate(form.get("username", ""), form.get("password", ""))
        if user is None:
            log.info("console sign-in refused")
            return page(request, "login.html", None, status=401, next=target, error="Wrong name or password.")
        response = RedirectResponse(target, status_code=303)
        _set_cookie(response, SESSION_COOKIE, codec.issue(user.username), settings, max_age=codec.max_age_seconds)
        log.info("console sign-in: %s (%s)", user.username, user.role.label)
        return response

    @app.post("/logout")
    def logout(request: Request, form: PostedForm):
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/", secure=settings.secure_cookies, httponly=True)
        return response

    @app.get("/healthz")
    def healthz():
        cur = publication_cursor()
        published = queries.publication_info(cur)["published_at"] if cur is not None else None
        return JSONResponse({"ok": True, "published_at": published.isoformat() if published else None})

    # ---- overview --------------------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, user: SignedIn):
        cur = publication_cursor()
        tables = queries.published_tables(cur) if cur is not None else set()
        return page(
            request,
            "overview.html",
            user,
            sources=queries.quarantine_by_source(cur) if "load_files" in tables else [],
            gates=queries.latest_gate_results(cur) if "expectation_results" in tables else [],
            waiting=store_views.waiting_per_workflow(engine),
            kill=kill_switch.state(),
            planner=store_views.latest_planner_run(engine),
            message=request.query_params.get("message"),
        )

    @app.post("/kill-switch")
    def switch_kill(request: Request, form: PostedForm, user: Admin):
        reason = form.get("reason", "").strip()
        if not reason:
            raise HTTPException(400, "Say why you switch the kill switch (a reason is required).")
        state = kill_switch.set(form.get("state") == "on", user.username, reason)
        log.info("kill switch %s by %s", "on" if state.on else "off", user.username)
        message = "Kill switch ON: every send is paused." if state.on else "Kill switch off: sends resume."
        return RedirectResponse("/?" + urlencode({"message": message}), status_code=303)

    # ---- scores ----------------------------------------------------------------------------------------------
    @app.get("/scores", response_class=HTMLResponse)
    def scores(request: Request, user: SignedIn):
        cur = publication_cursor()
        if cur is None or "scores" not in queries.published_tables(cur):
            return page(request, "empty.html", user, title="Scores", what="scores")
        filters = {k: request.query_params.get(k, "") for k in queries.SCORE_FILTERS}
        search = request.query_params.get("q", "").strip()
        page_no = _page(request)
        tiers = queries.tier_distribution(cur, filters)
        leads, total = queries.leads_page(cur, filters, search, page_no)
        return page(
            request,
            "scores.html",
            user,
            filters=filters,
            search=search,
            options=queries.filter_options(cur),
            tiers=tiers,
            charts={
                "tiers": charts.tier_distribution(tiers),
                "histogram": charts.score_histogram(queries.score_histogram(cur, filters)),
                "deciles": charts.conversion_by_decile(queries.conversion_by_decile(cur, filters)),
                "conversion_by_tier": charts.conversion_by_tier(tiers),
            },
            reasons=queries.top_reasons(cur, filters),
            movers=queries.movers(cur),
            drift=queries.drift(cur),
            models=queries.models(cur),
            leads=leads,
            total=total,
            page_no=page_no,
            page_size=queries.PAGE_SIZE,
            query_string=_without_page(request),
        )

    @app.get("/leads/{contact_id}", response_class=HTMLResponse)
    def lead(request: Request, contact_id: str, user: SignedIn):
        cur = publication_cursor()
        found = queries.lead(cur, contact_id) if cur is not None else None
        if found is None:
            raise HTTPException(404, f"No lead {contact_id} in the latest publication.")
        lead_actions = _actions_for(engine, contact_id)
        return page(
            request,
            "lead.html",
            user,
            lead=found,
            contact_id=contact_id,
            history_chart=charts.score_history(found["history"]),
            actions=lead_actions,
        )

    # ---- decision queue --------------------------------------------------------------------------------------
    @app.get("/queue", response_class=HTMLResponse)
    def queue_list(request: Request, user: SignedIn):
        filters = store_views.queue_filters(dict(request.query_params))
        page_no = _page(request)
        items, total = store_views.queue_page(engine, filters, page_no)
        action_type = filters.get("type")
        bulk_allowed = bool(action_type) and action_type not in policy.bulk_approval_forbidden
        selected = request.query_params.get("action")
        rail = _rail(request, user, selected) if selected else None
        return page(
            request,
            "queue.html",
            user,
            items=items,
            total=total,
            filters=filters,
            options=store_views.queue_options(engine),
            page_no=page_no,
            page_size=store_views.QUEUE_PAGE_SIZE,
            query_string=_without_page(request),
            bulk_allowed=bulk_allowed,
            bulk_forbidden=policy.bulk_approval_forbidden,
            message=request.query_params.get("message"),
            rail=rail,
        )

    def _rail(request: Request, user: User, action_id: str, **extra: Any) -> dict[str, Any]:
        try:
            item = queue.get(action_id)
        except UnknownAction as exc:
            raise HTTPException(404, str(exc)) from exc
        row = dict(item.row)
        awaiting = item.state in AWAITING_DECISION
        events = queue.events(action_id)
        return {
            "action": row,
            "events": events,
            "awaiting": awaiting,
            "approvable": awaiting and item.risk_class.value != "never",
            "editable": ACTION_TYPES[item.action_type].editable if item.risk_class.value != "never" else (),
            "effective_payload": item.effective_payload,
            "may_decide": user.at_least(Role.APPROVER)
            and policy.may_decide(user.username, item.action_type, item.owner),
            "routed_to": policy.approver_group(item.action_type),
            "does": ACTION_TYPES[item.action_type].does,
            # A sent merge a person can record as wrong (`DecisionQueue.record_split`), once.
            "splittable": item.action_type in MERGE_ACTION_TYPES
            and item.state == State.SENT
            and not any(e["event"] == SPLIT_EVENT for e in events),
            **extra,
        }

    @app.get("/queue/{action_id}", response_class=HTMLResponse)
    def action_rail(request: Request, action_id: str, user: SignedIn):
        rail = _rail(request, user, action_id)
        if request.headers.get("hx-request"):
            return page(request, "_rail.html", user, rail=rail)
        return page(request, "action.html", user, rail=rail)

    @app.post("/queue/{action_id}/decide", response_class=HTMLResponse)
    def decide(
        request: Request,
        action_id: str,
        form: PostedForm,
        user: Approver,
    ):
        decision = form.get("decision", "")
        note = form.get("note", "").strip() or None
        try:
            seen_version = int(form.get("seen_version", ""))
        except ValueError:
            raise HTTPException(400, "The form lacks the version of the action you saw; reload it.") from None
        status, kind = 200, "ok"
        try:
            if decision == "approve":
                queue.approve(action_id, user.username, note=note, seen_version=seen_version)
                message = "Approved."
            elif decision == "reject":
                queue.reject(action_id, user.username, note=note, seen_version=seen_version)
                message = "Rejected."
            elif decision == "edit":
                current = queue.get(action_id)
                changes = _edited_fields(form, current.effective_payload, ACTION_TYPES[current.action_type].editable)
                if not changes:
                    raise NotAllowed("Nothing was changed in the payload.")
                queue.edit(action_id, user.username, changes, note=note, seen_version=seen_version)
                message = "Edit saved beside the original; it now waits for an approval."
            elif decision == "split":
                queue.record_split(action_id, user.username, reason=note or "")
                message = "Recorded as split: the merge was wrong. It counts in the incorrect merge rate."
            else:
                raise HTTPException(400, f"Unknown decision {decision!r}.")
        except DecisionConflict as exc:
            status, kind, message = 409, "conflict", str(exc)
        except (NotAllowed, IllegalTransition) as exc:
            status, kind, message = 403, "refused", str(exc)
        except UnknownAction as exc:
            raise HTTPException(404, str(exc)) from exc
        if kind == "ok":
            log.info("console decision: %s %s by %s", decision, action_id, user.username)
        rail = _rail(request, user, action_id, message=message, message_kind=kind)
        template = "_rail.html" if request.headers.get("hx-request") else "action.html"
        return page(request, template, user, status=status, rail=rail)

    @app.post("/queue/bulk-approve")
    def bulk_approve(request: Request, form: PostedForm, user: Approver):
        action_type = form.get("type", "").strip()
        if not action_type:
            raise HTTPException(400, "Bulk approval needs an action type filter.")
        if action_type in policy.bulk_approval_forbidden:
            raise HTTPException(
                403, f"The policy refuses bulk approval of {action_type} actions: decide them one by one."
            )
        filters = {
            "workflow": form.get("workflow") or None,
            "owner": form.get("owner") or None,
            "risk_class": form.get("risk") or None,
            "action_type": action_type,
        }
        try:
            result = queue.bulk_approve(user.username, note=form.get("note") or None, **filters)
        except QueueError as exc:
            raise HTTPException(403, str(exc)) from exc
        log.info("console bulk approval of %d %s actions by %s", len(result.approved), action_type, user.username)
        message = f"Approved {len(result.approved)}; skipped {len(result.skipped)}" + (
            f" (e.g. {result.skipped[0][1]})" if result.skipped else ""
        )
        back = {
            k: v
            for k, v in {
                "type": action_type,
                "workflow": form.get("workflow"),
                "owner": form.get("owner"),
                "risk": form.get("risk"),
            }.items()
            if v
        }
        return RedirectResponse("/queue?" + urlencode({**back, "message": message}), status_code=303)

    # ---- quality, safety, pipeline ---------------------------------------------------------------------------
    @app.get("/quality", response_class=HTMLResponse)
    def quality(request: Request, user: SignedIn):
        cur = publication_cursor()
        tables = queries.published_tables(cur) if cur is not None else set()
        return page(
            request,
            "quality.html",
            user,
            sources=queries.quarantine_by_source(cur) if "load_files" in tables else [],
            quarantined=queries.quarantined_rows(cur) if "quarantine_rows" in tables else [],
            gates=queries.latest_gate_results(cur) if "expectation_results" in tables else [],
            merges=queries.merge_proposals(cur) if "merge_proposals" in tables else [],
            enrichment=queries.enrichment_reviews(cur) if "enrichment_review" in tables else [],
        )

    @app.get("/safety", response_class=HTMLResponse)
    def safety(request: Request, user: SignedIn):
        failures_only = request.query_params.get("failures") == "1"
        cur = publication_cursor()
        tables = queries.published_tables(cur) if cur is not None else set()
        lift_rows = lift.lift_rows(queries.workflow_lift(cur)) if "workflow_lift" in tables else None
        weekly = (
            lift.weekly_table(queries.workflow_outcomes_weekly(cur))
            if "workflow_outcomes_weekly" in tables
            else None
        )
        return page(
            request,
            "safety.html",
            user,
            lift_rows=lift_rows or [],
            lift_absent=lift.NO_TABLE if lift_rows is None else (lift.NO_ROWS if not lift_rows else None),
            lift_chart=charts.workflow_lift(lift.chart_rows(lift_rows or [])),
            weekly=weekly,
            metrics=store_views.workflow_metrics(engine),
            audit=store_views.audit_log(engine),
            sync_rows=store_views.sync_log_rows(engine, failures_only=failures_only),
            sync_counts=store_views.sync_status_counts(engine),
            failures_only=failures_only,
            kill_history=store_views.kill_switch_history(engine),
            kill=kill_switch.state(),
        )

    @app.get("/pipeline", response_class=HTMLResponse)
    def pipeline(request: Request, user: SignedIn):
        cur = publication_cursor()
        if cur is None or "deals" not in queries.published_tables(cur):
            return page(request, "empty.html", user, title="Pipeline", what="deals")
        figures = queries.pipeline(cur)
        return page(
            request,
            "pipeline.html",
            user,
            figures=figures,
            charts={
                "stage": charts.bars(figures["by_stage"], "stage", "amount", "Open pipeline by stage"),
                "weeks": charts.bars(figures["created_per_week"], "week", "deals", "Deals created per week", "T"),
            },
        )

    @app.get("/pipeline/deals", response_class=HTMLResponse)
    def pipeline_deals(request: Request, user: SignedIn):
        cur = publication_cursor()
        if cur is None or "deals" not in queries.published_tables(cur):
            return page(request, "empty.html", user, title="Deals", what="deals")
        stage = request.query_params.get("stage") or None
        owner = request.query_params.get("owner") or None
        page_no = _page(request)
        found, total = queries.deals(cur, stage, owner, page_no)
        return page(
            request,
            "deals.html",
            user,
            deals=found,
            total=total,
            stage=stage,
            owner=owner,
            page_no=page_no,
            page_size=queries.PAGE_SIZE,
            query_string=_without_page(request),
        )

    return app


# ---- helpers -------------------------------------------------------------------------------------------------
def _set_cookie(response: Response, name: str, value: str, settings: ConsoleSettings, max_age: float | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=int(max_age) if max_age else None,
        path="/",
        secure=settings.secure_cookies,
        httponly=True,
        samesite="strict",
    )


def _safe_next(target: str) -> str:
    """Only paths inside the console (no open redirect to another site)."""
    return target if target.startswith("/") and not target.startswith("//") and "\\" not in target else "/"


def _page(request: Request) -> int:
    try:
        return max(0, int(request.query_params.get("page", "0")))
    except ValueError:
        return 0


def _without_page(request: Request) -> str:
    return urlencode([(k, v) for k, v in request.query_params.multi_items() if k not in ("page", "action", "message")])


def _format_time(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.strftime("%Y-%m-%d %H:%M UTC")
    return str(value)


def _edited_fields(form: dict[str, str], payload: dict[str, Any], editable: tuple[str, ...]) -> dict[str, Any]:
    """The editable payload fields the form changed, typed like the original values."""
    changes: dict[str, Any] = {}
    for name in editable:
        key = f"field:{name}"
        if key not in form:
            continue
        raw = form[key]
        original = payload.get(name)
        if isinstance(original, dict | list):
            try:
                value: Any = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise NotAllowed(f"{name} must be JSON like the original: {exc.msg}") from exc
        elif isinstance(original, bool):
            value = raw.strip().lower() in ("true", "yes", "1")
        elif isinstance(original, int):
            try:
                value = int(raw)
            except ValueError as exc:
                raise NotAllowed(f"{name} must be a whole number") from exc
        elif isinstance(original, float):
            try:
                value = float(raw)
            except ValueError as exc:
                raise NotAllowed(f"{name} must be a number") from exc
        else:
            value = raw
        if value != original and not (original is None and value == ""):
            changes[name] = value
    return changes


def _actions_for(engine, contact_id: str) -> list[dict[str, Any]]:
    """Every action on this lead, newest first."""
    import sqlalchemy as sa

    from ops_store.schema import actions

    query = (
        sa.select(
            actions.c.action_id,
            actions.c.workflow,
            actions.c.action_type,
            actions.c.state,
            actions.c.risk_class,
            actions.c.proposed_at,
            actions.c.decided_by,
        )
        .where(actions.c.target_id == contact_id)
        .order_by(actions.c.proposed_at.desc())
    )
    with engine.connect() as con:
        return [dict(r) for r in con.execute(query).mappings()]
