"""W9 no-show recovery: one reschedule proposal per missed meeting, ever — then a person takes over.

Signal: `marts.fct_no_shows` (meetings whose outcome is no-show in the look-back, with the contact's earlier
no-shows, whether a later meeting is already booked, and the contact's latest reply) and the reply model's class of
that reply.
Decision: first no-show -> `send_email`: a grounded reschedule note with two options on the next working days in
the contact's time zone (approve); a second no-show -> `create_task` for the owner, no email (auto); frustration or
negative wording in the latest reply (policy phrases, or the reply model says objection, compliance threat or
unsubscribe) -> `escalate_reply` to the owner instead (auto).
Guardrail: at most one reschedule proposal per meeting ever (even after it expired or was rejected); nothing when a
later meeting is already booked; suppression, restricted lists and the weekly account cap on the email.
Done metric: no-show -> rescheduled rate; time to reschedule (`noshow_recovery_once` in `make eval-actions`).
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import polars as pl

from actions.calendar import COUNTRY_TIME_ZONES, next_weekday_options, option_words
from actions.catalog import Workflow
from actions.drafts import render_draft
from actions.guardrails import Blocked
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal
from actions.policy import Policy
from actions.workflows.common import contact_index, contact_target, iso, meeting_outcome

NO_SHOWS_TABLE = "marts.fct_no_shows"
NEGATIVE_CLASSES = {"objection", "compliance_threat", "unsubscribe"}


def _negative(row: dict[str, Any], reply_class: str | None, phrases: list[tuple[str, re.Pattern[str]]]) -> str | None:
    """Why the latest reply reads as frustrated or negative (None when it does not); `phrases`: `_phrase_patterns`
    of the policy's phrases (compiled once a run, not looked up per row)."""
    if reply_class in NEGATIVE_CLASSES:
        return f"the reply model classes the latest reply as {reply_class.replace('_', ' ')}"
    text = row.get("latest_reply_text") or ""
    for phrase, pattern in phrases:
        if pattern.search(text):
            return f'the latest reply says "{phrase}"'
    return None


def _phrase_patterns(phrases: list[str]) -> list[tuple[str, re.Pattern[str]]]:
    """Each negative phrase with its whole-word, case-insensitive pattern, in the policy's order."""
    return [(phrase, re.compile(rf"(?<!\w){re.escape(phrase)}(?!\w)", re.IGNORECASE)) for phrase in phrases]


def no_show_proposals(inputs: PlanningInputs, policy: Policy) -> list[Proposal | Blocked]:
    """Reschedule drafts, second-no-show tasks and escalations for recent no-shows not yet rebooked."""
    settings = policy.no_show
    if settings is None:
        return []
    misses = inputs.no_shows.filter(
        ~pl.col("rebooked").fill_null(False) & pl.col("golden_contact_id").is_not_null()
    ).sort("meeting_start_at", "meeting_id")
    contacts = contact_index(
        inputs.contacts.filter(pl.col("golden_contact_id").is_in(misses["golden_contact_id"].implode()))
    )
    classes = dict(inputs.replies.select("event_id", "predicted_class").iter_rows())
    negative_patterns = _phrase_patterns(settings.negative_phrases)
    # A reschedule note's two options and their words depend only on the data's clock and the contact's country:
    # worked out once per country a run, not per missed meeting (~6,400 an hour at 1M contacts).
    options_by_country: dict[str | None, tuple[list[tuple[datetime, datetime]], str, str]] = {}
    out: list[Proposal | Blocked] = []
    for row in misses.iter_rows(named=True):
        contact = contacts.get(row["golden_contact_id"])
        if contact is None:
            continue
        owner = row["owner"] or contact.get("contact_owner")
        evidence = [
            meeting_outcome(row["meeting_id"], "NO_SHOW", row["meeting_start_at"]),
            EvidenceRow(
                source_table=NO_SHOWS_TABLE,
                key=str(row["meeting_id"]),
                field="earlier_no_shows",
                value=row["earlier_no_shows"],
            ),
        ]
        if row.get("latest_reply_event_id"):
            evidence.append(
                EvidenceRow(
                    source_table="staging.stg_email__events",
                    key=row["latest_reply_event_id"],
                    field="reply_text",
                    value=(row.get("latest_reply_text") or "")[:200],
                    observed_at=row.get("latest_reply_at"),
                )
            )
        who = contact.get("contact_name") or row["golden_contact_id"]
        missed = f"{who} missed {row['meeting_name'] or 'the meeting'} on {row['meeting_start_at']:%Y-%m-%d %H:%M} UTC"
        window = f"meeting={row['meeting_id']}"
        why_negative = _negative(row, classes.get(row.get("latest_reply_event_id")), negative_patterns)
        common = {
            "workflow": Workflow.NO_SHOW,
            "target": contact_target(contact),
            "evidence": evidence,
            "evidence_window": window,
            "owner": owner,
        }
        if why_negative:
            out.append(
                Proposal(
                    action_type="escalate_reply",
                    payload={
                        "assignee": owner,
                        "meeting": str(row["meeting_id"]),
                        "notes": f"No-show; {why_negative}. Decide in person; no reschedule email is proposed.",
                    },
                    reasons=[f"{missed}.", f"Escalated instead of a reschedule email: {why_negative}."],
                    **common,
                )
            )
            continue
        if row["earlier_no_shows"] >= 1:
            out.append(
                Proposal(
                    action_type="create_task",
                    payload={
                        "subject": f"Second no-show: {contact.get('contact_name') or row['golden_contact_id']}",
                        "assignee": owner,
                        "due_at": iso(inputs.as_of),
                        "meeting": str(row["meeting_id"]),
                    },
                    reasons=[
                        f"{missed} — their no-show number {row['earlier_no_shows'] + 1}.",
                        "After one reschedule attempt a person decides: a task for the owner, no second email.",
                    ],
                    **common,
                )
            )
            continue
        country = contact.get("country_code")
        if country not in options_by_country:
            found = next_weekday_options(inputs.as_of, country, settings.option_hours_local, 2, settings.length_minutes)
            options_by_country[country] = (found, option_words(found[0][0]), option_words(found[1][0]))
        options, option_1, option_2 = options_by_country[country]
        template = policy.drafts.templates[settings.template]
        record = {
            "contact_first_name": contact.get("first_name"),
            "meeting_name": row.get("meeting_name"),
            "option_1": option_1,
            "option_2": option_2,
            "owner_name": owner,
        }
        draft = render_draft(
            settings.template,
            template.subject,
            template.body,
            record,
            policy.content.banned_claims,
            policy.content.topic_phrase_map(),
        )
        zone_note = (
            ""
            if (contact.get("country_code") or "").upper() in COUNTRY_TIME_ZONES
            else " (the contact's country has no known time zone: UTC)"
        )
        proposal = Proposal(
            action_type="send_email",
            payload={
                **({"subject": draft.subject, "body": draft.body} if not draft.blocked else {}),
                "template": settings.template,
                "field_map": draft.field_map,
                "options": [{"start": iso(s), "end": iso(e)} for s, e in options],
                "meeting": str(row["meeting_id"]),
                "prospecting": False,
            },
            reasons=[
                f"{missed}.",
                f"One reschedule note with two options on the next working days in the contact's time zone"
                f"{zone_note}; the only one this meeting will get.",
            ],
            **common,
        )
        out.append(
            Blocked(proposal, draft.blocked_rule or "drafts", draft.blocked_reason or "") if draft.blocked else proposal
        )
    return out
