"""Policy as code: one YAML file, validated on load, that says what the planner may propose and who decides.

    policy = load_policy()                       # actions/default_policy.yml, or ACTIONHOUSE_POLICY
    policy.risk_class("merge_contacts")          # RiskClass.APPROVE
    policy.version                               # "v1+3f9a0c2d41be": stamped on every action

A file that does not validate raises `PolicyError`, whose lines each name the file line that is wrong.
"""

from __future__ import annotations

import hashlib
import os
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from actions.catalog import ACTION_TYPES, RiskClass, Workflow
from actions.drafts import TemplateError, template_fields
from actions.holdout import FOLLOWS, MAX_SHARE, NEVER_HELD_OUT, in_holdout

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "default_policy.yml"
POLICY_ENV = "ACTIONHOUSE_POLICY"

SUPPRESSION_SOURCES = ("do_not_contact", "unsubscribe", "hard_bounce", "spam_report", "competitor_domain", "customer")
SLA_CHANNELS = ("inbound_demo_request", "positive_reply", "referral", "procurement_ask")
Tier = Literal[1, 2, 3]
CountryCode = Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
Hours = Annotated[float, Field(gt=0)]
Days = Annotated[int, Field(gt=0)]
# Fields a sequence-step draft (W6) may use -> the golden contact's column they come from
# (`marts.fct_action_contacts`): a segment template can never ask for a value the golden record cannot hold.
SEQUENCE_DRAFT_FIELDS = {
    "contact_first_name": "first_name",
    "contact_name": "contact_name",
    "company_name": "company_name",
    "industry": "industry",
    "owner_name": "contact_owner",
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Approvers(_Section):
    groups: dict[str, list[str]]
    admins: list[str] = []
    route: dict[str, str]


class Escalations(_Section):
    owner_change_with_open_deal: RiskClass = RiskClass.APPROVE
    enrichment_against_human_verified: RiskClass = RiskClass.NEVER
    # A sequence-step draft to a Tier 1 contact is reviewed even if one-to-one emails were made automatic.
    tier1_draft: RiskClass = RiskClass.APPROVE


class Suppression(_Section):
    sources: list[Literal[SUPPRESSION_SOURCES]]  # type: ignore[valid-type]
    competitor_domains: list[str] = []
    customers_for_prospecting: bool = True

    @field_validator("competitor_domains")
    @classmethod
    def _lowercase_domains(cls, domains: list[str]) -> list[str]:
        return [d.strip().lower() for d in domains]


class Caps(_Section):
    per_account_weekly_touches: Annotated[int, Field(gt=0)]
    merge_proposals_per_day: Annotated[int, Field(ge=0)]
    enrichment_reviews_per_day: Annotated[int, Field(ge=0)]


class KillSwitch(_Section):
    default: Literal["on", "off"] = "off"


class Content(_Section):
    banned_claims: list[str] = []
    banned_topics: list[str] = []
    # Words that show a draft is on a banned topic (the topic's own name always counts).
    topic_phrases: dict[str, list[str]] = {}

    def topic_phrase_map(self) -> dict[str, list[str]]:
        """Every banned topic -> the phrases that show a text is on it."""
        return {topic: self.topic_phrases.get(topic, []) for topic in self.banned_topics}


class DraftTemplate(_Section):
    """One email template: plain text with `{{ field }}` placeholders (see `actions.drafts`)."""

    subject: str
    body: str


class Drafts(_Section):
    templates: dict[str, DraftTemplate] = {}


class Hygiene(_Section):
    max_items_per_owner_per_day: Annotated[int, Field(ge=0)]
    follow_up_due_hours: Hours
    buyer_meeting_stage: str


class DraftSegment(_Section):
    """An ICP segment for sequence-step drafts: the industries it covers (none listed: any industry no other
    segment covers) and its template for each email step (pain hypothesis, one proof point, one ask)."""

    id: str
    name: str
    industries: list[str] = []
    templates: Annotated[list[str], Field(min_length=1)]

    @field_validator("industries")
    @classmethod
    def _lowercase_industries(cls, industries: list[str]) -> list[str]:
        return [i.strip().lower() for i in industries]


class SequenceDrafts(_Section):
    # Days after enrolment each email step is due (step 1 first); every segment has one template per step.
    step_days: Annotated[list[Annotated[int, Field(ge=0)]], Field(min_length=1)]
    # New sequence drafts per owner per day (whole sequences: all steps of an enrolment or none; the rest wait).
    max_new_per_owner_per_day: Annotated[int, Field(ge=0)]
    segments: Annotated[list[DraftSegment], Field(min_length=1)]

    def segment_for(self, industry: str | None) -> DraftSegment | None:
        """The first segment listing the industry, else the first catch-all segment (no industries listed)."""
        wanted = (industry or "").strip().lower()
        for segment in self.segments:
            if wanted and wanted in segment.industries:
                return segment
        return next((s for s in self.segments if not s.industries), None)


class Multithreading(_Section):
    # Late-stage deals with fewer engaged stakeholders than this get more contacts proposed.
    min_engaged: Annotated[int, Field(ge=1)]
    min_contacts: Annotated[int, Field(ge=1)]
    max_contacts: Annotated[int, Field(ge=1)]
    # Buying-committee functions (contact role categories), in the order they are filled.
    functions: Annotated[list[str], Field(min_length=1)]
    spacing_days: Annotated[int, Field(ge=0)]
    sequence_id: str


class SequenceEntry(_Section):
    """One catalogue sequence: the signal it answers, its channel mix, how sure a full-strength signal makes us."""

    id: str
    name: str
    signal: Literal["tool_install", "hiring", "demo_request", "pricing_revisits", "trial_activity"]
    channels: Annotated[list[str], Field(min_length=1)]
    base_confidence: Annotated[float, Field(ge=0, le=1)]
    # The signal count at which the signal counts fully (fewer: proportionally less confidence).
    full_at: Annotated[int, Field(gt=0)]


class Sequences(_Section):
    confidence_floor: Annotated[float, Field(ge=0, le=1)]
    max_new_per_day: Annotated[int, Field(ge=0)]
    tier_adjustment: dict[Tier, float] = {}
    catalogue: Annotated[list[SequenceEntry], Field(min_length=1)]


class TimeWindow(_Section):
    """Working hours on working days (ISO weekdays: 1 = Monday), in some time zone."""

    days: Annotated[list[Annotated[int, Field(ge=1, le=7)]], Field(min_length=1)]
    start: time
    end: time


class Meetings(_Section):
    template: str
    slots_per_proposal: Annotated[int, Field(ge=1, le=5)]
    length_minutes: Annotated[int, Field(gt=0, le=240)]
    buffer_minutes: Annotated[int, Field(ge=0)]
    # The owner's window is in the owner's time zone (their territory's), the contact's in theirs (their country's).
    owner_window: TimeWindow
    contact_window: TimeWindow
    agenda: list[str] = []
    # Words in a positive reply that ask for a meeting; words that bring in more people (flag for confirmation).
    intent_phrases: Annotated[list[str], Field(min_length=1)]
    multi_attendee_phrases: list[str] = []


class NoShow(_Section):
    # The reschedule note's template, its two options' local hours and length.
    template: str
    option_hours_local: Annotated[list[Annotated[int, Field(ge=0, le=23)]], Field(min_length=1)]
    length_minutes: Annotated[int, Field(gt=0)]
    # Words in the contact's latest reply that mean frustration: escalate instead of writing.
    negative_phrases: list[str] = []


class AtRisk(_Section):
    # Verdict tiers (marts.fct_account_risk) that get an outreach draft for the owner, and an escalation of the
    # renewal deal.
    outreach_tiers: list[Tier] = [1, 2]
    escalate_tiers: list[Tier] = [1]
    # Template per strongest signal: support escalations, usage drop.
    templates: dict[Literal["escalations", "usage_drop"], str]


class Restricted(_Section):
    industries: list[str] = []
    countries: list[CountryCode] = []


class ReplyRouting(_Section):
    lookback_days: Days
    positive_min_confidence: Annotated[float, Field(ge=0, le=1)]
    follow_up_days: dict[Literal["not_now", "objection"], Days]
    escalate_to: dict[Literal["compliance_threat", "needs_human"], str]
    procurement_keywords: list[str] = []


class Sla(_Section):
    lookback_days: Days
    hours: dict[Literal[SLA_CHANNELS], dict[Tier, Hours]]  # type: ignore[valid-type]
    reroute_after_hours: Hours


class Sync(_Section):
    max_attempts: Annotated[int, Field(gt=0)] = 8
    retry_base_seconds: Annotated[float, Field(ge=0)] = 60.0
    owned_properties: list[str] = []


class Territory(_Section):
    countries: Annotated[list[CountryCode], Field(min_length=1)]
    owners: Annotated[list[str], Field(min_length=1)]


class Routing(_Section):
    territories: dict[str, Territory]
    rep_tiers: list[Tier]
    nurture_owner: str
    inbound_lead_tier: dict[str, Tier]
    lookback_days: Days


class Holdouts(_Section):
    """Holdout groups (`actions.holdout`): per workflow the share of eligible targets that gets nothing, chosen by a
    stable hash of the seed, the workflow and the target's golden id. Workflows not listed: no holdout."""

    seed: Annotated[str, Field(min_length=1)]
    shares: dict[Workflow, Annotated[float, Field(ge=0, le=MAX_SHARE)]] = {}


class Policy(_Section):
    """A validated policy file. Read its sections as attributes; `version` identifies this exact content."""

    version_number: Annotated[int, Field(gt=0, alias="version")]
    risk_classes: dict[str, RiskClass]
    auto_customer_facing: list[str] = []
    escalations: Escalations = Escalations()
    bulk_approval_forbidden: list[str] = []
    approvers: Approvers
    expiry_hours: dict[str, Hours]
    suppression: Suppression
    caps: Caps
    kill_switch: KillSwitch = KillSwitch()
    content: Content = Content()
    restricted: Restricted = Restricted()
    reply_routing: ReplyRouting
    sla: Sla
    routing: Routing
    sync: Sync = Sync()
    drafts: Drafts = Drafts()
    at_risk: AtRisk | None = None
    hygiene: Hygiene | None = None
    no_show: NoShow | None = None
    meetings: Meetings | None = None
    sequences: Sequences | None = None
    sequence_drafts: SequenceDrafts | None = None
    multithreading: Multithreading | None = None
    holdouts: Holdouts | None = None
    kpis: dict[Workflow, str]

    _version: str = PrivateAttr(default="")
    _path: str = PrivateAttr(default="")

    @property
    def version(self) -> str:
        """`v<file version>+<first 12 hex of the content's SHA-256>`, stamped on every action."""
        return self._version

    @property
    def path(self) -> str:
        """The file this policy was read from."""
        return self._path

    def risk_class(self, action_type: str) -> RiskClass:
        """The class the policy gives an action type (customer-facing types are never below approve)."""
        declared = self.risk_classes[action_type]
        if (
            ACTION_TYPES[action_type].customer_facing
            and declared == RiskClass.AUTO
            and action_type not in self.auto_customer_facing
        ):
            return RiskClass.APPROVE
        return declared

    def expiry_hours_for(self, action_type: str) -> float:
        """Hours a proposal of this type waits for a decision before it expires."""
        return self.expiry_hours.get(action_type, self.expiry_hours["default"])

    def approver_group(self, action_type: str) -> str:
        """The group (or `owner`) that decides this action type."""
        return self.approvers.route.get(action_type, self.approvers.route["default"])

    def may_decide(self, person: str, action_type: str, owner: str | None) -> bool:
        """Whether `person` may approve, reject or edit an action of this type owned by `owner`."""
        if person in self.approvers.admins:
            return True
        group = self.approver_group(action_type)
        if group == "owner":
            return owner is not None and person == owner
        return person in self.approvers.groups.get(group, [])

    def territory_of_owner(self) -> dict[str, str]:
        """Owner name -> the territory they sell in."""
        return {owner: name for name, t in self.routing.territories.items() for owner in t.owners}

    def territories_of_country(self) -> dict[str, list[str]]:
        """ISO country -> the territories that cover it (in file order)."""
        out: dict[str, list[str]] = {}
        for name, territory in self.routing.territories.items():
            for country in territory.countries:
                out.setdefault(country, []).append(name)
        return out

    def holdout_share(self, workflow: Workflow | str) -> float:
        """The share of the workflow's eligible targets held out (a follower's: the workflow it follows)."""
        workflow = Workflow(workflow)
        if self.holdouts is None or workflow in NEVER_HELD_OUT:
            return 0.0
        return self.holdouts.shares.get(FOLLOWS.get(workflow, workflow), 0.0)

    def in_holdout(self, workflow: Workflow | str, target_id: str) -> bool:
        """Whether the target is in the workflow's holdout group (see `actions.holdout.in_holdout`)."""
        share = self.holdout_share(workflow)
        if share <= 0 or self.holdouts is None:
            return False
        group = FOLLOWS.get(Workflow(workflow), Workflow(workflow))
        return in_holdout(group.value, target_id, share, self.holdouts.seed)

    def holdout_reason(self, workflow: Workflow | str) -> str:
        """The state reason of a held-out action, e.g. `held out: sla holdout group 10%`."""
        workflow = Workflow(workflow)
        group = FOLLOWS.get(workflow, workflow)
        return f"held out: {group.value} holdout group {self.holdout_share(workflow) * 100:g}%"

    def sla_hours(self, channel: str, tier: int) -> float:
        """Hours to first touch for a channel and tier (tiers missing from the table use the slowest listed)."""
        table = self.sla.hours[channel]
        return table.get(tier, max(table.values()))


class PolicyError(ValueError):
    """A policy file that does not validate; `problems` are `(line, message)` pairs, line 0 when unknown."""

    def __init__(self, path: str, problems: list[tuple[int, str]]):
        self.path = path
        self.problems = sorted(problems)
        super().__init__(
            "\n".join(f"{path}:{line}: {message}" if line else f"{path}: {message}" for line, message in self.problems)
        )


def policy_path() -> Path:
    """`ACTIONHOUSE_POLICY` if set, else the default policy shipped with Actionhouse."""
    return Path(os.environ.get(POLICY_ENV, "").strip() or DEFAULT_POLICY_PATH)


def load_policy(path: str | Path | None = None) -> Policy:
    """Read and validate a policy file (default: `policy_path()`); raise `PolicyError` naming each bad line."""
    path = Path(path) if path is not None else policy_path()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(str(path), [(0, f"cannot read the policy file: {exc.strerror or exc}")]) from exc
    return parse_policy(text, str(path))


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    """Validate policy YAML text; `source` names it in errors."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        raise PolicyError(source, [(line, f"not valid YAML: {getattr(exc, 'problem', None) or exc}")]) from exc
    if not isinstance(data, dict):
        raise PolicyError(source, [(1, "a policy file is a mapping of sections (version, risk_classes, ...)")])
    try:
        policy = Policy.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(source, [(_line_of(root, err["loc"]), _message(err)) for err in exc.errors()]) from None
    problems = [(_line_of(root, loc), message) for loc, message in _consistency_problems(policy)]
    if problems:
        raise PolicyError(source, problems)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    policy._version = f"v{policy.version_number}+{digest}"
    policy._path = source
    return policy


def _message(err: dict[str, Any]) -> str:
    where = ".".join(str(p) for p in err["loc"])
    if err["type"] == "extra_forbidden":
        return f"unknown key '{err['loc'][-1]}' (in {'.'.join(map(str, err['loc'][:-1])) or 'the top level'})"
    if err["type"] == "missing":
        return f"missing required key '{where}'"
    return f"{where}: {err['msg']} (got {err.get('input')!r})"


def _consistency_problems(policy: Policy) -> list[tuple[tuple, str]]:
    """Rules that span sections: names must refer to action types, groups and owners that exist."""
    known = set(ACTION_TYPES)
    problems: list[tuple[tuple, str]] = []

    def unknown(loc: tuple, name: str) -> None:
        problems.append((loc, f"unknown action type '{name}' (known: {', '.join(sorted(known))})"))

    for name in policy.risk_classes:
        if name not in known:
            unknown(("risk_classes", name), name)
    for name in sorted(known - set(policy.risk_classes)):
        problems.append((("risk_classes",), f"risk_classes has no class for action type '{name}'"))
    for section in ("auto_customer_facing", "bulk_approval_forbidden"):
        for i, name in enumerate(getattr(policy, section)):
            if name not in known:
                unknown((section, i), name)
    groups = set(policy.approvers.groups) | {"owner"}
    if "default" not in policy.approvers.route:
        problems.append((("approvers", "route"), "approvers.route needs a 'default' group"))
    for name, group in policy.approvers.route.items():
        if name != "default" and name not in known:
            unknown(("approvers", "route", name), name)
        if group not in groups:
            problems.append(
                (("approvers", "route", name), f"'{group}' is not a group in approvers.groups (or 'owner')")
            )
    for reply_class, group in policy.reply_routing.escalate_to.items():
        if group not in groups:
            problems.append(
                (
                    ("reply_routing", "escalate_to", reply_class),
                    f"'{group}' is not a group in approvers.groups (or 'owner')",
                )
            )
    for topic in policy.content.topic_phrases:
        if topic not in policy.content.banned_topics:
            problems.append((("content", "topic_phrases", topic), f"'{topic}' is not one of content.banned_topics"))
    for name, template in policy.drafts.templates.items():
        for part in ("subject", "body"):
            try:
                template_fields(getattr(template, part))
            except TemplateError as exc:
                problems.append((("drafts", "templates", name, part), f"template {name} {part}: {exc}"))
    if policy.at_risk is not None:
        for signal, name in policy.at_risk.templates.items():
            if name not in policy.drafts.templates:
                problems.append((("at_risk", "templates", signal), f"'{name}' is not a template in drafts.templates"))
    if policy.no_show is not None and policy.no_show.template not in policy.drafts.templates:
        problems.append((("no_show", "template"), f"'{policy.no_show.template}' is not a template in drafts.templates"))
    if policy.meetings is not None and policy.meetings.template not in policy.drafts.templates:
        problems.append(
            (("meetings", "template"), f"'{policy.meetings.template}' is not a template in drafts.templates")
        )
    problems += _sequence_draft_problems(policy)
    for workflow in policy.holdouts.shares if policy.holdouts is not None else ():
        where = ("holdouts", "shares", workflow.value)
        if workflow in NEVER_HELD_OUT:
            problems.append(
                (where, f"{workflow.value} is a safety workflow: it is never held out (remove it from holdouts.shares)")
            )
        elif workflow in FOLLOWS:
            problems.append(
                (
                    where,
                    f"{workflow.value} follows the {FOLLOWS[workflow].value} holdout group (a sequence is held out "
                    f"whole): set the share of {FOLLOWS[workflow].value} instead",
                )
            )
    if "default" not in policy.expiry_hours:
        problems.append((("expiry_hours",), "expiry_hours needs a 'default'"))
    for name in policy.expiry_hours:
        if name != "default" and name not in known:
            unknown(("expiry_hours", name), name)
    for workflow in Workflow:
        if workflow not in policy.kpis:
            problems.append((("kpis",), f"kpis has no KPI for workflow '{workflow.value}'"))
    seen: dict[str, str] = {}
    for territory, spec in policy.routing.territories.items():
        for i, owner in enumerate(spec.owners):
            if owner in seen:
                problems.append(
                    (
                        ("routing", "territories", territory, "owners", i),
                        f"owner '{owner}' is already in territory '{seen[owner]}' (an owner sells in one territory)",
                    )
                )
            seen.setdefault(owner, territory)
    return problems


def _sequence_draft_problems(policy: Policy) -> list[tuple[tuple, str]]:
    """Segment templates exist, there is one per step, and they use only fields the golden record can hold."""
    settings = policy.sequence_drafts
    if settings is None:
        return []
    problems: list[tuple[tuple, str]] = []
    if settings.step_days != sorted(settings.step_days):
        problems.append((("sequence_drafts", "step_days"), "step_days must not go back in time (ascending days)"))
    allowed = ", ".join(SEQUENCE_DRAFT_FIELDS)
    for i, segment in enumerate(settings.segments):
        where = ("sequence_drafts", "segments", i, "templates")
        if len(segment.templates) != len(settings.step_days):
            problems.append(
                (
                    where,
                    f"segment {segment.id} has {len(segment.templates)} templates for "
                    f"{len(settings.step_days)} steps (one template per step)",
                )
            )
        for j, name in enumerate(segment.templates):
            template = policy.drafts.templates.get(name)
            if template is None:
                problems.append(((*where, j), f"'{name}' is not a template in drafts.templates"))
                continue
            try:
                used = template_fields(template.subject) + template_fields(template.body)
            except TemplateError:
                continue  # reported with the template itself
            for name_used in dict.fromkeys(used):
                if name_used not in SEQUENCE_DRAFT_FIELDS:
                    problems.append(
                        (
                            ("drafts", "templates", name),
                            f"template {name} (segment {segment.id}) uses '{name_used}', which the golden record "
                            f"does not hold (sequence drafts may use: {allowed})",
                        )
                    )
    return problems


def _line_of(root: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the YAML node at `loc` (the deepest node that exists on the path)."""
    node, line = root, (root.start_mark.line + 1 if root is not None else 0)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if str(key_node.value) == str(part):
                    line, node = key_node.start_mark.line + 1, value_node
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
