"""A world that answers: next-hour mode reads what the sync engine wrote to the sandbox CRM and lets it change
the outcomes people's hidden state would have had (docs/sample-world.md, "A world that answers").

Every hour the world resolves the *situations* whose time has come, acted on or not:

- a follow-up trigger (positive reply, procurement ask, referral, demo request; `sla_triggers`) resolves
  `meeting_resolve_hours` after it came in: a meeting is held, or not;
- an open renewal deal resolves on its renewal date: renewed (Closed Won) or churned (Closed Lost);
- a no-show meeting resolves `reschedule_resolve_hours` after its start: rescheduled (a new meeting), or not;
- a sequence enrollment read from the CRM resolves `sequence_resolve_hours` after it was read: a positive reply,
  an unsubscribe, a spam report, or silence (its sends are written as email events of that sequence).

The outcome is `u < p`, with `u` a uniform drawn from a hash of (seed, situation) — the same `u` with and without
actions (common random numbers) — and `p = clip(p_without + sum over workflows of the largest effect of that
workflow's actions on the situation)`. `p_without` comes from hidden state only; effects from `Effects` (documented
defaults, one workflow with a true effect of zero). Without actions every situation resolves at `p_without`: that
is what held-out targets see.

Truth (never read by the pipeline): `action_effects_hNNNN.parquet`, one row per CRM write read (the person or
account, the workflow it was recognised as, the situation it touched, p with and without it, the outcome under
either); `situation_outcomes_hNNNN.parquet`, one row per resolved situation; `crm_cursor.json`, what was read.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import polars as pl

from . import vocab as V
from .util import HOUR, ts_hub, ts_iso

WORLD_CRM_ENV = "ACTIONHOUSE_WORLD_CRM_DB"
CURSOR_FILE = "crm_cursor.json"
ANSWER_STREAM = 20_000

# Workflows the world recognises in what the CRM holds (names as in actions.catalog.Workflow).
FIRST_TOUCH_WORKFLOWS = ("lead_routing", "sla", "reply_routing", "meetings", "hygiene", "no_show")


@dataclass(frozen=True)
class Effects:
    """Effect sizes and base rates of the answering world. Every field has a documented default; override any
    with keyword arguments or a YAML/JSON file (`load_effects`)."""

    # Follow-up triggers -> a meeting within `meeting_resolve_hours`.
    meeting_resolve_hours: float = 96.0
    meeting_base: float = 0.08  # p_without = meeting_base + meeting_per_fit_intent * fit * intent
    meeting_per_fit_intent: float = 0.40
    first_touch_uplift: float = 0.20  # added to p by a first touch at delay 0 ...
    first_touch_decay_hours: float = 24.0  # ... times exp(-delay / decay): a touch a day late is worth 37%
    # Per workflow, how much of `first_touch_uplift` its touches carry. `meetings` (a proposal of three times to a
    # person who asked for a meeting) is the workflow whose true effect is ZERO: in this world such a person books
    # at the same rate either way, so an evaluation can check that no false lift is reported.
    first_touch_scale: dict[str, float] = field(
        default_factory=lambda: {
            "lead_routing": 1.0,
            "sla": 1.0,
            "reply_routing": 1.0,
            "meetings": 0.0,
            "hygiene": 0.5,
            "no_show": 0.0,
        }
    )
    meeting_no_show_base: float = 0.12  # a held meeting is a no-show with 0.12 + 0.10 * (1 - fit)
    meeting_no_show_per_unfit: float = 0.10
    # Sequences: outcomes of an enrollment (without it, none of them come from that sequence: p_without = 0).
    sequence_resolve_hours: float = 72.0
    sequence_positive_base: float = 0.01  # + sequence_positive_targeted * q, q = sqrt(fit * intent)
    sequence_positive_targeted: float = 0.20
    sequence_unsubscribe_base: float = 0.01  # + sequence_unsubscribe_mistargeted * (1 - q)
    sequence_unsubscribe_mistargeted: float = 0.10
    sequence_spam_base: float = 0.001  # + sequence_spam_mistargeted * (1 - q)
    sequence_spam_mistargeted: float = 0.03
    # Renewals: renewed on the renewal date with p_without by health; a save play adds (at most once per workflow).
    renewal_base_healthy: float = 0.93
    renewal_base_at_risk: float = 0.55
    save_uplift_at_risk: float = 0.25  # a save play on a truly at-risk account
    save_uplift_healthy: float = 0.0  # ... on a healthy one (nothing to save)
    # No-shows: rescheduled within `reschedule_resolve_hours` of the missed start.
    reschedule_resolve_hours: float = 72.0
    reschedule_base: float = 0.15
    reschedule_uplift: float = 0.30  # a reschedule email with two new times
    reschedule_no_show: float = 0.10  # the rescheduled meeting is missed again
    p_max: float = 0.98

    def scale(self, workflow: str) -> float:
        return float(self.first_touch_scale.get(workflow, 0.0))


def load_effects(path: Path | str | None = None, **overrides) -> Effects:
    """Effects from a YAML/JSON file of field values (unknown names refused), then keyword overrides."""
    values: dict = {}
    if path is not None:
        import yaml

        values = yaml.safe_load(Path(path).read_text()) or {}
    values.update(overrides)
    known = {f.name for f in fields(Effects)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(f"unknown effect parameters: {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if "first_touch_scale" in values:
        values["first_touch_scale"] = {**Effects().first_touch_scale, **values["first_touch_scale"]}
    return Effects(**values)


def uniform(seed: int, situation_id: str) -> float:
    """The situation's uniform in [0, 1): a hash of (seed, situation), independent of order and of actions."""
    h = hashlib.sha256(f"{seed}:{situation_id}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2.0**64


# ------------------------------------------------------------------------------------------ reading the CRM
_TASK_WORKFLOWS = (  # subject patterns of what the planner writes (actions/workflows, default_policy drafts)
    (re.compile(r": three times to talk$"), "meetings", "email"),
    (re.compile(r": two new times$"), "no_show", "email"),
    (re.compile(r"^Second no-show:"), "no_show", "task"),
    (
        re.compile(r": (your open support cases and your renewal|getting your team back to full use)$"),
        "at_risk",
        "email",
    ),
    (re.compile(r"^Overdue follow-up:"), "sla", "task"),
    (re.compile(r"^(Read and answer a reply|Answer .*'s reply)"), "reply_routing", "task"),
    (re.compile(r"^Follow up on "), "hygiene", "task"),
)


def classify_task(subject: str, task_type: str) -> tuple[str, str]:
    """(workflow, kind) of a task the sync wrote, from its subject (kind `email` for an approved one-to-one
    email, which the owner sends; `task` for a to-do that leads the owner to reach out)."""
    subject = re.sub(r"^\[[^\]]*\] ", "", subject or "")  # a group assignee prefixes its name
    for pattern, workflow, kind in _TASK_WORKFLOWS:
        if pattern.search(subject):
            return workflow, kind
    if task_type == "EMAIL":
        return "sequence_drafts", "email"
    return "other", "task"


@dataclass
class Cursor:
    """What was read from the CRM so far: a `(updated_ms, id)` watermark per object type, the last enrollment."""

    tasks: tuple[int, int] = (0, 0)
    notes: tuple[int, int] = (0, 0)
    contacts: tuple[int, int] = (0, 0)
    deals: tuple[int, int] = (0, 0)
    enrollments: int = 0

    @classmethod
    def load(cls, truth_dir: Path) -> Cursor:
        path = truth_dir / CURSOR_FILE
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()})

    def save(self, truth_dir: Path) -> None:
        (truth_dir / CURSOR_FILE).write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")


def read_synced(store, cursor: Cursor) -> tuple[list[dict], Cursor]:
    """Everything the sync engine wrote since `cursor`: raw rows (object, id, properties, associated contacts)."""
    rows: list[dict] = []
    new = Cursor(**asdict(cursor))
    for object_type in ("tasks", "notes", "contacts", "deals"):
        after_ms, after_id = getattr(cursor, object_type)
        while True:
            page = store.changed_since(object_type, after_ms, after_id)
            for obj in page:
                contacts = []
                if object_type in ("tasks", "notes"):
                    contacts = sorted(store.associations_of(object_type, obj.id, "contacts"))
                rows.append({"object": object_type, "id": obj.id, "properties": obj.properties, "contacts": contacts})
            if not page:
                break
            after_ms, after_id = page[-1].updated_ms, page[-1].id
        setattr(new, object_type, (after_ms, after_id))
    last = cursor.enrollments
    while True:
        page = store.enrollments_after(last)
        for e in page:
            rows.append(
                {
                    "object": "sequence_enrollments",
                    "id": e["id"],
                    "properties": e,
                    "contacts": [int(e["contactId"])] if str(e["contactId"]).isdigit() else [],
                }
            )
        if not page:
            break
        last = page[-1]["id"]
    new.enrollments = last
    return rows, new


# ----------------------------------------------------------------------------------------------- the world
@dataclass
class WorldView:
    """What the world knows to answer: people, record -> person, accounts' renewals, open situations."""

    people: pl.DataFrame
    record_person: dict[int, int]
    email_person: dict[str, int]
    renewals: pl.DataFrame
    triggers: pl.DataFrame
    no_shows: pl.DataFrame
    effects_so_far: pl.DataFrame


ACTION_SCHEMA = {
    "hour": pl.Int64,
    "seen_at": pl.Int64,
    "crm_object": pl.String,
    "crm_id": pl.String,
    "action_key": pl.String,
    "action_kind": pl.String,
    "workflow": pl.String,
    "person_id": pl.Int64,
    "record_id": pl.Int64,
    "account_id": pl.Int64,
    "new_owner": pl.String,
    "sequence_id": pl.String,
    "situation_id": pl.String,
    "situation_kind": pl.String,
    "outcome_name": pl.String,
    "resolves_at": pl.Int64,
    "acted": pl.Boolean,
    "delay_hours": pl.Float64,
    "effect": pl.Float64,
    "p_without": pl.Float64,
    "p_with": pl.Float64,
    "p_unsubscribe": pl.Float64,
    "p_spam_report": pl.Float64,
    "u": pl.Float64,
    "outcome_without": pl.Boolean,
    "outcome_with": pl.Boolean,
}
TRIGGER_SCHEMA = {
    "trigger_id": pl.String,
    "channel": pl.String,
    "person_id": pl.Int64,
    "record_id": pl.Int64,
    "triggered_at": pl.Int64,
    "resolves_at": pl.Int64,
}
NO_SHOW_SCHEMA = {
    "meeting_id": pl.Int64,
    "record_id": pl.Int64,
    "start": pl.Int64,
    "person_id": pl.Int64,
    "resolves_at": pl.Int64,
}
OUTCOME_SCHEMA = {
    "hour": pl.Int64,
    "situation_id": pl.String,
    "situation_kind": pl.String,
    "outcome_name": pl.String,
    "person_id": pl.Int64,
    "record_id": pl.Int64,
    "account_id": pl.Int64,
    "resolves_at": pl.Int64,
    "p_without": pl.Float64,
    "p": pl.Float64,
    "n_actions": pl.Int64,
    "workflows": pl.String,
    "u": pl.Float64,
    "outcome": pl.Boolean,
    "outcome_class": pl.String,
}


def p_meeting(eff: Effects, fit: float, intent: float) -> float:
    return float(np.clip(eff.meeting_base + eff.meeting_per_fit_intent * fit * intent, 0.0, eff.p_max))


def p_renewal(eff: Effects, at_risk: bool) -> float:
    return eff.renewal_base_at_risk if at_risk else eff.renewal_base_healthy


def sequence_probabilities(eff: Effects, fit: float, intent: float) -> tuple[float, float, float]:
    """(positive reply, unsubscribe, spam report) after an enrollment; q = sqrt(fit * intent) is how well the
    person is targeted (true fit and intent, which the planner only estimates)."""
    q = math.sqrt(max(0.0, fit) * max(0.0, intent))
    return (
        eff.sequence_positive_base + eff.sequence_positive_targeted * q,
        eff.sequence_unsubscribe_base + eff.sequence_unsubscribe_mistargeted * (1 - q),
        eff.sequence_spam_base + eff.sequence_spam_mistargeted * (1 - q),
    )


def known_owners(view: WorldView) -> tuple[dict[int, str], dict[int, str]]:
    """What owner the world believes each record has: (person -> exported owner, record -> owner set since by an
    owner change answered). Per record: the sync changes one record of a person, the others keep theirs."""
    people = dict(zip(view.people["person_id"].to_list(), view.people["owner"].fill_null("").to_list(), strict=True))
    changes = view.effects_so_far.filter(pl.col("new_owner").is_not_null()).sort("hour", "crm_object", "crm_id")
    return people, dict(zip(changes["record_id"].to_list(), changes["new_owner"].to_list(), strict=True))


def recognise(rows: list[dict], view: WorldView, owners: dict[str, str], answered: set[str]) -> list[dict]:
    """CRM writes -> actions the world reacts to (person, workflow, kind); writes that are no action (score fields,
    a contact whose owner did not change) and writes answered before are left out."""
    out: list[dict] = []
    sla_people = set(view.effects_so_far.filter(pl.col("workflow") == "sla")["person_id"].drop_nulls().to_list())

    def person_of(record_id: int | None, email: str | None = None) -> int | None:
        if record_id is not None and record_id in view.record_person:
            return view.record_person[record_id]
        return view.email_person.get((email or "").strip().lower())

    renewal_deals = set(view.renewals["deal_id"].to_list())
    person_owner, record_owner = known_owners(view)
    for row in rows:
        props = row["properties"]
        obj, oid = row["object"], row["id"]
        base = {"crm_object": obj, "crm_id": str(oid)}
        if obj in ("tasks", "notes"):
            key = props.get("actionhouse_id") or f"{obj}:{oid}"
            if key in answered:
                continue
            if obj == "tasks":
                workflow, kind = classify_task(props.get("hs_task_subject", ""), props.get("hs_task_type", ""))
            else:
                workflow, kind = "other", "note"
            record = row["contacts"][0] if row["contacts"] else None
            out.append(
                {
                    **base,
                    "action_key": key,
                    "action_kind": kind,
                    "workflow": workflow,
                    "record_id": record,
                    "person_id": person_of(record),
                }
            )
        elif obj == "contacts":
            person = person_of(oid, props.get("email"))
            if person is None:
                continue
            if props.get("actionhouse_routing_queue") == "nurture":
                key = f"nurture:{oid}"
                if key not in answered:
                    out.append(
                        {
                            **base,
                            "action_key": key,
                            "action_kind": "nurture",
                            "workflow": "lead_routing",
                            "record_id": oid,
                            "person_id": person,
                        }
                    )
                continue
            name = owners.get(str(props.get("hubspot_owner_id") or ""), "")
            if not name or name == record_owner.get(oid, person_owner.get(person, "")):
                continue
            key = f"owner:{oid}:{name}"
            if key in answered:
                continue
            out.append(
                {
                    **base,
                    "action_key": key,
                    "action_kind": "owner_change",
                    "workflow": "sla" if person in sla_people else "lead_routing",
                    "record_id": oid,
                    "person_id": person,
                    "new_owner": name,
                }
            )
        elif obj == "deals":
            if props.get("hs_priority") != "high" or oid not in renewal_deals:
                continue
            key = f"save:{oid}"
            if key in answered:
                continue
            account = view.renewals.filter(pl.col("deal_id") == oid)["account_id"][0]
            out.append(
                {**base, "action_key": key, "action_kind": "save_play", "workflow": "at_risk", "account_id": account}
            )
        else:  # sequence enrollment
            key = f"enrollment:{oid}"
            if key in answered:
                continue
            record = row["contacts"][0] if row["contacts"] else None
            out.append(
                {
                    **base,
                    "action_key": key,
                    "action_kind": "sequence",
                    "workflow": "sequences",
                    "record_id": record,
                    "person_id": person_of(record),
                    "sequence_id": str(props.get("sequenceId")),
                }
            )
    return out


def _person(view: WorldView, person_id: int | None) -> dict | None:
    if person_id is None:
        return None
    row = view.people.filter(pl.col("person_id") == person_id)
    return row.row(0, named=True) if row.height else None


def _touches(r: dict, situation_id: str, kind: str, resolves_at: int, p0: float, effect: float, eff: Effects) -> None:
    """Record on an action row the situation it touches and p without / with its effect."""
    r.update(
        situation_id=situation_id,
        situation_kind=kind,
        resolves_at=resolves_at,
        effect=effect,
        p_without=p0,
        p_with=min(eff.p_max, p0 + effect),
    )


def evaluate(actions: list[dict], view: WorldView, eff: Effects, seed: int, hour: int, t0: int) -> pl.DataFrame:
    """Per recognised action: the situation it touches, p without and with it, the outcome under either."""
    rows = []
    for a in actions:
        r = {k: None for k in ACTION_SCHEMA} | a | {"hour": hour, "seen_at": t0}
        person = _person(view, a.get("person_id"))
        if person is not None and r["account_id"] is None:
            r["account_id"] = person["account_id"]
        # It reached a person (or account) of the world; workflows without an effect model keep null p's.
        r["acted"] = person is not None or r["account_id"] is not None
        kind, workflow = a["action_kind"], a["workflow"]
        if (
            kind in ("task", "email", "note", "owner_change", "nurture")
            and workflow in FIRST_TOUCH_WORKFLOWS
            and workflow != "no_show"
            and person is not None
        ):
            r["outcome_name"] = "meeting"
            open_ = view.triggers.filter(
                (pl.col("person_id") == person["person_id"])
                & (pl.col("triggered_at") <= t0)
                & (pl.col("resolves_at") >= t0)
            ).sort("triggered_at")
            if open_.height:
                trig = open_.row(-1, named=True)
                delay = (t0 - trig["triggered_at"]) / HOUR
                reaches = kind != "nurture"  # the nurture queue is nobody's call
                effect = (
                    eff.first_touch_uplift * eff.scale(workflow) * math.exp(-delay / eff.first_touch_decay_hours)
                    if reaches
                    else 0.0
                )
                p0 = p_meeting(eff, person["fit"], person["intent"])
                _touches(r, f"trigger:{trig['trigger_id']}", "follow_up_trigger", trig["resolves_at"], p0, effect, eff)
                r["delay_hours"] = delay
            else:  # no open trigger: in this world no meeting comes of it either way
                r.update(effect=0.0, p_without=0.0, p_with=0.0)
        elif workflow == "no_show" and person is not None:
            r["outcome_name"] = "rescheduled"
            ns = view.no_shows.filter(
                (pl.col("person_id") == person["person_id"]) & (pl.col("start") <= t0) & (pl.col("resolves_at") >= t0)
            ).sort("start")
            effect = eff.reschedule_uplift if kind == "email" else 0.0
            if ns.height:
                m = ns.row(-1, named=True)
                _touches(r, f"no_show:{m['meeting_id']}", "no_show", m["resolves_at"], eff.reschedule_base, effect, eff)
                r["delay_hours"] = (t0 - m["start"]) / HOUR
            else:
                r.update(effect=0.0, p_without=0.0, p_with=0.0)
        elif workflow == "at_risk" and r["account_id"] is not None:
            r["outcome_name"] = "renewal"
            ren = view.renewals.filter((pl.col("account_id") == r["account_id"]) & (pl.col("renewal_at") >= t0))
            if ren.height:
                d = ren.row(0, named=True)
                p0 = p_renewal(eff, d["at_risk"])
                effect = eff.save_uplift_at_risk if d["at_risk"] else eff.save_uplift_healthy
                _touches(r, f"renewal:{d['deal_id']}", "renewal", d["renewal_at"], p0, effect, eff)
            else:
                r.update(effect=0.0, p_without=0.0, p_with=0.0)
        elif kind == "sequence" and person is not None:
            pos, unsub, spam = sequence_probabilities(eff, person["fit"], person["intent"])
            r.update(
                outcome_name="positive_reply",
                situation_id=f"sequence:{a['crm_id']}",
                situation_kind="sequence",
                resolves_at=t0 + int(eff.sequence_resolve_hours * HOUR),
                effect=pos,
                p_without=0.0,
                p_with=pos,
                p_unsubscribe=unsub,
                p_spam_report=spam,
            )
        if r["situation_id"] is not None:
            r["u"] = uniform(seed, r["situation_id"])
            r["outcome_without"] = r["u"] < r["p_without"]
            r["outcome_with"] = r["u"] < r["p_with"]
        rows.append(r)
    df = pl.DataFrame(rows, schema=ACTION_SCHEMA) if rows else pl.DataFrame(schema=ACTION_SCHEMA)
    return df.sort("crm_object", "crm_id", "action_key")


# ------------------------------------------------------------------------------------------ resolving outcomes
def _combined(p0: float, acts: pl.DataFrame, eff: Effects) -> tuple[float, int, str]:
    """p of a situation given its actions: p_without plus, per workflow, the largest effect of its actions."""
    if acts.height == 0:
        return p0, 0, ""
    per = acts.group_by("workflow").agg(pl.col("effect").max()).sort("workflow")
    return (float(min(eff.p_max, p0 + per["effect"].sum())), acts.height, ";".join(per["workflow"].to_list()))


def _due(frame: pl.DataFrame, at: str, t0: int, t1: int, key: str) -> list[dict]:
    """Rows of `frame` whose time `at` falls in [t0, t1), in (time, key) order."""
    return frame.filter((pl.col(at) >= t0) & (pl.col(at) < t1)).sort(at, key).to_dicts()


def resolve(view: WorldView, eff: Effects, seed: int, hour: int, t0: int, t1: int) -> pl.DataFrame:
    """Every situation whose time falls in [t0, t1): its p (with whatever acted on it) and the drawn outcome."""
    acts = view.effects_so_far.filter(pl.col("situation_id").is_not_null())
    rows = []

    def add(sid, kind, name, person_id, record_id, account_id, at, p0, cls=None):
        mine = acts.filter(pl.col("situation_id") == sid)
        p, n, wfs = _combined(p0, mine, eff)
        u = uniform(seed, sid)
        rows.append(
            {
                "hour": hour,
                "situation_id": sid,
                "situation_kind": kind,
                "outcome_name": name,
                "person_id": person_id,
                "record_id": record_id,
                "account_id": account_id,
                "resolves_at": at,
                "p_without": p0,
                "p": p,
                "n_actions": n,
                "workflows": wfs,
                "u": u,
                "outcome": u < p,
                "outcome_class": cls,
            }
        )

    due = view.triggers.filter((pl.col("resolves_at") >= t0) & (pl.col("resolves_at") < t1))
    due = due.join(view.people.select("person_id", "fit", "intent", "account_id"), on="person_id", how="inner")
    for t in _due(due, "resolves_at", t0, t1, "trigger_id"):
        sid, p0 = f"trigger:{t['trigger_id']}", p_meeting(eff, t["fit"], t["intent"])
        add(sid, "follow_up_trigger", "meeting", t["person_id"], t["record_id"], t["account_id"], t["resolves_at"], p0)
    for d in _due(view.renewals, "renewal_at", t0, t1, "deal_id"):
        sid, p0 = f"renewal:{d['deal_id']}", p_renewal(eff, d["at_risk"])
        add(sid, "renewal", "renewal", None, None, d["account_id"], d["renewal_at"], p0)
    for m in _due(view.no_shows, "resolves_at", t0, t1, "meeting_id"):
        sid, p0 = f"no_show:{m['meeting_id']}", eff.reschedule_base
        add(sid, "no_show", "rescheduled", m["person_id"], m["record_id"], None, m["resolves_at"], p0)
    seqs = acts.filter(
        (pl.col("situation_kind") == "sequence") & (pl.col("resolves_at") >= t0) & (pl.col("resolves_at") < t1)
    ).sort("resolves_at", "situation_id")
    for s in seqs.iter_rows(named=True):
        u = uniform(seed, s["situation_id"])
        cls = (
            "positive_reply"
            if u < s["p_with"]
            else "unsubscribe"
            if u < s["p_with"] + s["p_unsubscribe"]
            else "spam_report"
            if u < s["p_with"] + s["p_unsubscribe"] + s["p_spam_report"]
            else "none"
        )
        rows.append(
            {
                "hour": hour,
                "situation_id": s["situation_id"],
                "situation_kind": "sequence",
                "outcome_name": "positive_reply",
                "person_id": s["person_id"],
                "record_id": s["record_id"],
                "account_id": s["account_id"],
                "resolves_at": s["resolves_at"],
                "p_without": 0.0,
                "p": s["p_with"],
                "n_actions": 1,
                "workflows": "sequences",
                "u": u,
                "outcome": cls == "positive_reply",
                "outcome_class": cls,
            }
        )
    return pl.DataFrame(rows, schema=OUTCOME_SCHEMA) if rows else pl.DataFrame(schema=OUTCOME_SCHEMA)


# ------------------------------------------------------------------------------------------ landing files
def meetings_landing(
    rng: np.random.Generator,
    held: pl.DataFrame,
    view: WorldView,
    company_rec: pl.DataFrame,
    eff: Effects,
    t0: int,
    t1: int,
    first_id: int,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Meetings held this hour (from met triggers and rescheduled no-shows): landing rows and truth rows."""
    if held.height == 0:
        return pl.DataFrame(), pl.DataFrame()
    p = held.select("situation_id", "situation_kind", "person_id", "record_id").join(
        view.people.select("person_id", "account_id", "fit", "owner", "company_name"), on="person_id", how="inner"
    )
    n = p.height
    start = ((t0 + rng.integers(0, t1 - t0, n)) // 1800) * 1800
    fit = p["fit"].to_numpy()
    p_ns = np.where(
        p["situation_kind"].to_numpy() == "no_show",
        eff.reschedule_no_show,
        eff.meeting_no_show_base + eff.meeting_no_show_per_unfit * (1 - fit),
    )
    outcome = np.where(rng.random(n) < p_ns, "NO_SHOW", "COMPLETED")
    names = np.where(
        p["situation_kind"].to_numpy() == "no_show",
        "Rescheduled call",
        np.array(["Intro call", "Discovery call", "Demo"])[rng.integers(0, 3, n)],
    )
    dur = np.array([30, 30, 45, 60])[rng.integers(0, 4, n)] * 60
    m = p.with_columns(
        meeting_id=pl.int_range(first_id, first_id + n, dtype=pl.Int64),
        start=pl.Series(start),
        end=pl.Series(start + dur),
        outcome=pl.Series(outcome),
        mname=pl.Series(names),
    ).join(company_rec, on="account_id", how="left", maintain_order="left")
    land = m.select(
        pl.col("meeting_id").cast(pl.String).alias("Record ID"),
        pl.concat_str([pl.col("mname"), pl.lit(" - "), pl.col("company_name")]).alias("Meeting name"),
        ts_hub("start").alias("Meeting start time"),
        ts_hub("end").alias("Meeting end time"),
        pl.col("outcome").alias("Meeting outcome"),
        pl.col("owner").alias("Activity assigned to"),
        ts_hub("start").alias("Create Date"),
        pl.col("record_id").cast(pl.String).alias("Associated Contact IDs"),
        pl.col("company_record_id").cast(pl.String).alias("Associated Company IDs"),
        pl.lit(None, dtype=pl.String).alias("Associated Deal IDs"),
    )
    truth = m.select("meeting_id", "situation_id", "person_id", "record_id", "start", "outcome")
    return land, truth


def renewals_landing(resolved: pl.DataFrame, deals_landing: pl.DataFrame) -> pl.DataFrame:
    """The renewal deals resolved this hour: their export row again, Closed Won or Closed Lost on the renewal date."""
    if resolved.height == 0 or deals_landing.height == 0:
        return pl.DataFrame()
    r = resolved.select(
        pl.col("situation_id").str.strip_prefix("renewal:").alias("Record ID"), "outcome", "resolves_at"
    )
    d = deals_landing.join(r, on="Record ID", how="inner").sort("resolves_at", "Record ID")
    won, lost = 'Date entered "Closed Won (Sales Pipeline)"', 'Date entered "Closed Lost (Sales Pipeline)"'
    missing = [c for c in (won, lost) if c not in deals_landing.columns]
    if missing:  # written anyway, the closing dates would silently be dropped by the select below
        raise ValueError(f"the deals export has no column {missing[0]!r}: cannot write resolved renewals")
    return d.with_columns(
        pl.when(pl.col("outcome")).then(pl.lit("Closed Won")).otherwise(pl.lit("Closed Lost")).alias("Deal Stage"),
        ts_hub("resolves_at").alias("Last Modified Date"),
        pl.when(pl.col("outcome")).then(ts_hub("resolves_at")).otherwise(None).alias(won),
        pl.when(~pl.col("outcome")).then(ts_hub("resolves_at")).otherwise(None).alias(lost),
    ).select(deals_landing.columns)


def sequence_events(
    rng: np.random.Generator,
    resolved: pl.DataFrame,
    view: WorldView,
    t0: int,
    t1: int,
    first_event: int,
    first_message: int,
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """The resolved sequences' emails (sent, delivered) and the person's answer (a positive reply, an
    unsubscribe, a spam report), as email events of the enrolled sequence. Returns (events, replies truth,
    messages)."""
    if resolved.height == 0:
        return pl.DataFrame(), pl.DataFrame(), 0
    seq = resolved.join(
        view.effects_so_far.select("situation_id", "sequence_id").unique("situation_id"), on="situation_id", how="left"
    ).join(view.people.select("person_id", "email", "first_name", "company_name"), on="person_id", how="inner")
    seq = seq.filter(pl.col("email") != "")
    n = seq.height
    if n == 0:
        return pl.DataFrame(), pl.DataFrame(), 0
    t_send = t0 + rng.integers(0, (t1 - t0) // 2, n)
    msg = np.arange(first_message, first_message + n)
    cls = seq["outcome_class"].to_list()
    firsts = [o[0].split()[0] for o in V.OWNERS]
    positive = V.REPLY_TEMPLATES["positive"]
    rows = []
    for i in range(n):
        common = {
            "email": seq["email"][i],
            "contact_record_id": str(seq["record_id"][i]),
            "campaign_id": f"c-{seq['sequence_id'][i]}",
            "sequence_id": seq["sequence_id"][i],
            "message_id": f"m-{msg[i]}",
            "url": None,
            "reply_text": None,
            "bounce_type": None,
        }
        ts = int(t_send[i])
        rows.append({"type": "sent", "t": ts, **common})
        rows.append({"type": "delivered", "t": ts + 30, **common})
        if cls[i] == "positive_reply":
            tpl = positive[int(rng.integers(0, len(positive)))]
            text = tpl.format(
                first=firsts[int(rng.integers(0, len(firsts)))], company=seq["company_name"][i], colleague=""
            )
            rows.append(
                {
                    "type": "reply",
                    "t": ts + 600,
                    **common,
                    "reply_text": text,
                    "_asks": tpl in V.MEETING_REQUEST_TEMPLATES,
                    "_pid": seq["person_id"][i],
                }
            )
        elif cls[i] in ("unsubscribe", "spam_report"):
            rows.append({"type": cls[i], "t": ts + 300, **common})
    ev = pl.DataFrame(rows, infer_schema_length=None).filter(pl.col("t") < t1).sort("t", "message_id", "type")
    ev = ev.with_columns(
        event_id=pl.concat_str(
            [
                pl.lit("e-"),
                pl.int_range(first_event, first_event + ev.height, dtype=pl.Int64).cast(pl.String).str.zfill(10),
            ]
        )
    )
    replies = ev.filter(pl.col("type") == "reply")
    replies_truth = (
        replies.select(
            "event_id",
            pl.lit("positive").alias("true_class"),
            pl.col("contact_record_id").cast(pl.Int64).alias("record_id"),
            pl.col("_pid").cast(pl.Int64).alias("person_id"),
            "reply_text",
            pl.col("_asks").fill_null(False).alias("asks_for_meeting"),
        )
        if replies.height
        else pl.DataFrame()
    )
    out = ev.select(
        "event_id",
        "type",
        "email",
        "contact_record_id",
        "campaign_id",
        "sequence_id",
        "message_id",
        ts_iso("t").alias("timestamp"),
        "url",
        "reply_text",
        "bounce_type",
    )
    return out, replies_truth, n


# ------------------------------------------------------------------------------------------ the hour
def load_view(out: Path, people: pl.DataFrame, record_people: pl.DataFrame, eff: Effects) -> WorldView:
    """The world's view for answering, from its truth and landing files."""
    from .world import load_truth

    truth = out / "truth"
    trig = load_truth(out, "sla_triggers")
    if trig.height:
        trig = trig.with_columns(resolves_at=pl.col("triggered_at") + int(eff.meeting_resolve_hours * HOUR))
    else:
        trig = pl.DataFrame(schema=TRIGGER_SCHEMA)
    renewals = load_truth(out, "renewals")
    if renewals.height == 0:
        renewals = pl.DataFrame(
            schema={"deal_id": pl.Int64, "account_id": pl.Int64, "renewal_at": pl.Int64, "at_risk": pl.Boolean}
        )
    effects = load_truth(out, "action_effects")
    if effects.height == 0:
        effects = pl.DataFrame(schema=ACTION_SCHEMA)
    rp = dict(zip(record_people["record_id"].to_list(), record_people["person_id"].to_list(), strict=True))
    emails = people.filter(pl.col("email") != "").select(pl.col("email").str.to_lowercase(), "person_id")
    return WorldView(
        people=people,
        record_person=rp,
        email_person=dict(zip(emails["email"].to_list(), emails["person_id"].to_list(), strict=True)),
        renewals=renewals,
        triggers=trig,
        no_shows=_no_shows(out, truth, rp, eff),
        effects_so_far=effects,
    )


def _no_shows(out: Path, truth: Path, record_person: dict[int, int], eff: Effects) -> pl.DataFrame:
    """Missed meetings of the last weeks: the world's meeting exports (first contact) and the ones it held since."""
    from .world import load_truth

    frames = []
    folder = out / "landing" / "hubspot_meetings"
    files = sorted(folder.glob("meetings_0*.csv")) if folder.is_dir() else []
    if files:
        m = pl.concat([pl.read_csv(f, infer_schema=False) for f in files], how="vertical_relaxed").filter(
            pl.col("Meeting outcome") == "NO_SHOW"
        )
        frames.append(
            m.select(
                pl.col("Record ID").cast(pl.Int64, strict=False).alias("meeting_id"),
                pl.col("Associated Contact IDs")
                .str.split(";")
                .list.first()
                .cast(pl.Int64, strict=False)
                .alias("record_id"),
                pl.col("Meeting start time")
                .str.to_datetime("%Y-%m-%d %H:%M", time_zone="UTC")
                .dt.epoch("s")
                .alias("start"),
            ).drop_nulls()
        )
    held = load_truth(out, "answer_meetings")
    if held.height:
        frames.append(held.filter(pl.col("outcome") == "NO_SHOW").select("meeting_id", "record_id", "start"))
    if not frames:
        return pl.DataFrame(schema=NO_SHOW_SCHEMA)
    ns = pl.concat(frames, how="vertical_relaxed")
    ns = ns.with_columns(
        person_id=pl.col("record_id").replace_strict(record_person, default=None, return_dtype=pl.Int64),
        resolves_at=pl.col("start") + int(eff.reschedule_resolve_hours * HOUR),
    )
    return ns.drop_nulls("person_id")


def open_store(crm_db: Path | str):
    """The sandbox CRM's store over its file (refuses a file that does not exist rather than creating one)."""
    from crm_sandbox.store import SandboxStore

    path = Path(crm_db)
    if not path.is_file():
        raise FileNotFoundError(f"no sandbox CRM file at {path}")
    return SandboxStore(path)


__all__ = [
    "ACTION_SCHEMA",
    "CURSOR_FILE",
    "NO_SHOW_SCHEMA",
    "OUTCOME_SCHEMA",
    "TRIGGER_SCHEMA",
    "WORLD_CRM_ENV",
    "Cursor",
    "Effects",
    "classify_task",
    "evaluate",
    "load_effects",
    "load_view",
    "meetings_landing",
    "open_store",
    "p_meeting",
    "p_renewal",
    "read_synced",
    "recognise",
    "renewals_landing",
    "resolve",
    "sequence_events",
    "sequence_probabilities",
    "uniform",
]
