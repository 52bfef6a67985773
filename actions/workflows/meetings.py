"""W8 meeting proposals: a positive reply that asks for a meeting gets three times to choose from — inside the
owner's working window and the contact's working day, never over the owner's meetings — as a draft to approve.

Signal: `marts.fct_meeting_requests` (recent replies with the golden contact, its owner and country, and whether a
meeting is already booked after the reply), the reply model's class, and `marts.fct_owner_calendar` (the owners'
meetings from the as-of moment on).
Decision: a reply classed positive whose text asks for a meeting (`meetings.intent_phrases`) -> `send_email`: a
grounded draft (template `meetings.template`) with `meetings.slots_per_proposal` slots of `meetings.length_minutes`,
an agenda and the attendees; a reply that brings in colleagues (`meetings.multi_attendee_phrases`) is flagged for
confirmation of who attends.
Guardrail: slots only inside the owner's window (`meetings.owner_window`, in the owner's territory's time zone) and
the contact's window (`meetings.contact_window`, in the contact's time zone), on working days, at least
`meetings.buffer_minutes` away from any of the owner's meetings; approve; suppression, restricted lists and the
weekly account cap. Done metric: positive reply -> booked time; booked rate (`slots_outside_window`,
`meeting_intent_precision` in `make eval-actions`).
"""

from __future__ import annotations

import re
from bisect import bisect_left, insort
from collections.abc import Iterable
from datetime import datetime, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from actions.calendar import option_words, time_zone_of
from actions.catalog import Workflow
from actions.drafts import render_draft
from actions.guardrails import Blocked
from actions.inputs import PlanningInputs
from actions.model import EvidenceRow, Proposal
from actions.policy import Policy, TimeWindow
from actions.workflows.common import contact_index, contact_target, iso

REQUESTS_TABLE = "marts.fct_meeting_requests"
SLOT_STEP = timedelta(minutes=30)
SEARCH_DAYS = 14


def _matches(text: str, phrases: list[str]) -> str | None:
    for phrase in phrases:
        if re.search(rf"(?<!\w){re.escape(phrase)}(?!\w)", text, re.IGNORECASE):
            return phrase
    return None


def owner_time_zone(policy: Policy, owner: str | None) -> ZoneInfo:
    """The owner's time zone: their territory's first country's (UTC for an owner outside every territory)."""
    territory = policy.territory_of_owner().get(owner or "")
    if territory is None:
        return ZoneInfo("UTC")
    return time_zone_of(policy.routing.territories[territory].countries[0])


def _inside(moment_start: datetime, moment_end: datetime, window: TimeWindow, zone: ZoneInfo) -> bool:
    start, end = moment_start.astimezone(zone), moment_end.astimezone(zone)
    return (
        start.date() == end.date()
        and start.isoweekday() in window.days
        and start.time() >= window.start
        and end.time() <= window.end
    )


def slot_fits(
    start: datetime,
    end: datetime,
    owner_zone: ZoneInfo,
    contact_zone: ZoneInfo,
    policy: Policy,
    busy: list[tuple[datetime, datetime]],
) -> bool:
    """Whether a slot is inside both windows and clear of the owner's meetings (with the buffer)."""
    settings = policy.meetings
    assert settings is not None
    buffer = timedelta(minutes=settings.buffer_minutes)
    return (
        _inside(start, end, settings.owner_window, owner_zone)
        and _inside(start, end, settings.contact_window, contact_zone)
        and all(end + buffer <= b_start or start - buffer >= b_end for b_start, b_end in busy)
    )


class BusyTimes:
    """An owner's busy intervals `(start, end)`, kept sorted so a slot is checked against the few meetings near it.

    Checking every candidate slot against every meeting of the owner's calendar was most of the planner's time at
    1M contacts (a few hundred meetings per owner, hundreds of candidate slots per request, a thousand requests).
    """

    def __init__(self, intervals: Iterable[tuple[datetime, datetime]] = ()) -> None:
        self._intervals = sorted(intervals)
        self._longest = max((end - start for start, end in self._intervals), default=timedelta(0))
        self._longest = max(self._longest, timedelta(0))

    def __len__(self) -> int:
        return len(self._intervals)

    def extend(self, intervals: Iterable[tuple[datetime, datetime]]) -> None:
        """Add intervals (this run's proposed slots count as busy for the owner's next proposals)."""
        for start, end in intervals:
            insort(self._intervals, (start, end))
            self._longest = max(self._longest, end - start)

    def clear_of(self, low: datetime, high: datetime) -> bool:
        """Whether no interval overlaps the open span (`low`, `high`): none starts before `high` and ends after
        `low` — what `all(high <= start or low >= end for start, end in busy)` says, for sorted intervals."""
        # An interval starting before `low - longest` ends before `low`: the search starts where overlaps can be.
        i = bisect_left(self._intervals, (low - self._longest,))
        for start, end in islice(self._intervals, i, None):
            if start >= high:
                return True
            if end > low:
                return False
        return True


def _window_moments(first: datetime, owner_zone: ZoneInfo, contact_zone: ZoneInfo, policy: Policy) -> list[datetime]:
    """The slot starts of the search (every `SLOT_STEP` for `SEARCH_DAYS` from `first`) inside both windows, in
    order: the same for every request with the same first moment and time zones."""
    settings = policy.meetings
    assert settings is not None
    length = timedelta(minutes=settings.length_minutes)
    out = []
    moment = first
    while moment < first + timedelta(days=SEARCH_DAYS):
        end = moment + length
        if _inside(moment, end, settings.owner_window, owner_zone) and _inside(
            moment, end, settings.contact_window, contact_zone
        ):
            out.append(moment)
        moment += SLOT_STEP
    return out


def propose_slots(
    after: datetime,
    owner_zone: ZoneInfo,
    contact_zone: ZoneInfo,
    policy: Policy,
    busy: list[tuple[datetime, datetime]] | BusyTimes,
    windows: dict[tuple[datetime, ZoneInfo, ZoneInfo], list[datetime]] | None = None,
) -> list[tuple[datetime, datetime]]:
    """The first slots (one per day, so the contact has a real choice) that fit, from the next day on.

    The slots `slot_fits` accepts, found faster: the moments inside both windows depend only on the first moment
    and the two time zones (`windows` keeps them between calls of one run), and `BusyTimes` checks a slot against
    the meetings near it only."""
    settings = policy.meetings
    assert settings is not None
    length = timedelta(minutes=settings.length_minutes)
    buffer = timedelta(minutes=settings.buffer_minutes)
    first = (after.astimezone(UTC_ZONE) + timedelta(days=1)).replace(minute=0, second=0, microsecond=0)
    calendar = busy if isinstance(busy, BusyTimes) else BusyTimes(busy)
    key = (first, owner_zone, contact_zone)
    moments = windows.get(key) if windows is not None else None
    if moments is None:
        moments = _window_moments(first, owner_zone, contact_zone, policy)
        if windows is not None:
            windows[key] = moments
    out: list[tuple[datetime, datetime]] = []
    for moment in moments:
        if len(out) >= settings.slots_per_proposal:
            break
        if (
            not out or moment.astimezone(contact_zone).date() != out[-1][0].astimezone(contact_zone).date()
        ) and calendar.clear_of(moment - buffer, moment + length + buffer):
            out.append((moment, moment + length))
    return out


UTC_ZONE = ZoneInfo("UTC")


def meeting_proposals(inputs: PlanningInputs, policy: Policy) -> list[Proposal | Blocked]:
    """Slot proposals for recent positive replies that ask for a meeting and have none booked since."""
    settings = policy.meetings
    if settings is None:
        return []
    since = inputs.as_of - timedelta(days=policy.reply_routing.lookback_days)
    classes = inputs.replies.select("event_id", "predicted_class", "needs_human")
    asks = (
        inputs.meeting_requests.filter((pl.col("replied_at") >= since) & ~pl.col("meeting_booked").fill_null(False))
        .join(classes, on="event_id", how="inner")
        .filter(pl.col("predicted_class") == "positive")
        .sort("replied_at", "event_id")
    )
    contacts = contact_index(
        inputs.contacts.filter(pl.col("golden_contact_id").is_in(asks["golden_contact_id"].implode()))
    )
    meetings_by_owner: dict[str, list[tuple[datetime, datetime]]] = {}
    for owner, start, end in inputs.owner_calendar.select("owner", "meeting_start_at", "meeting_end_at").iter_rows():
        meetings_by_owner.setdefault(owner, []).append((start, end))
    busy_by_owner = {owner: BusyTimes(meetings) for owner, meetings in meetings_by_owner.items()}
    windows: dict[tuple[datetime, ZoneInfo, ZoneInfo], list[datetime]] = {}
    out: list[Proposal | Blocked] = []
    for row in asks.iter_rows(named=True):
        text = row["reply_text"] or ""
        phrase = _matches(text, settings.intent_phrases)
        contact = contacts.get(row["golden_contact_id"])
        if phrase is None or contact is None:
            continue
        owner = contact.get("contact_owner")
        busy = busy_by_owner.setdefault(owner or "", BusyTimes())
        out.append(_proposal(row, contact, owner, phrase, inputs, policy, busy, windows))
    return out


def _proposal(
    row: dict[str, Any],
    contact: dict[str, Any],
    owner: str | None,
    phrase: str,
    inputs: PlanningInputs,
    policy: Policy,
    busy: BusyTimes,
    windows: dict[tuple[datetime, ZoneInfo, ZoneInfo], list[datetime]],
) -> Proposal | Blocked:
    settings = policy.meetings
    assert settings is not None
    owner_zone = owner_time_zone(policy, owner)
    contact_zone = time_zone_of(contact.get("country_code"))
    slots = propose_slots(inputs.as_of, owner_zone, contact_zone, policy, busy, windows)
    colleagues = _matches(row["reply_text"] or "", settings.multi_attendee_phrases)
    record: dict[str, Any] = {
        "contact_first_name": contact.get("first_name"),
        "company_name": contact.get("company_name"),
        "owner_name": owner,
        **{f"slot_{i + 1}": option_words(s.astimezone(contact_zone)) for i, (s, _) in enumerate(slots)},
    }
    template = policy.drafts.templates[settings.template]
    draft = render_draft(
        settings.template,
        template.subject,
        template.body,
        record,
        policy.content.banned_claims,
        policy.content.topic_phrase_map(),
    )
    attendees = [a for a in (contact.get("contact_name"), owner) if a]
    reasons = [
        f"{contact.get('contact_name') or row['golden_contact_id']} replied on {row['replied_at']:%Y-%m-%d %H:%M} UTC "
        f'asking for a meeting ("{phrase}"); the reply model classes it positive.',
        f"{len(slots)} slots of {settings.length_minutes} min inside {owner or 'the owner'}'s window ({owner_zone}) "
        f"and the contact's working day ({contact_zone}), clear of the owner's meetings by "
        f"{settings.buffer_minutes} min.",
    ]
    if colleagues:
        reasons.append(f'The reply brings in others ("{colleagues}"): confirm who attends before sending.')
    proposal = Proposal(
        workflow=Workflow.MEETINGS,
        action_type="send_email",
        target=contact_target(contact),
        payload={
            **({"subject": draft.subject, "body": draft.body} if not draft.blocked else {}),
            "template": settings.template,
            "field_map": draft.field_map,
            "slots": [{"start": iso(s), "end": iso(e)} for s, e in slots],
            "owner_time_zone": str(owner_zone),
            "contact_time_zone": str(contact_zone),
            "agenda": settings.agenda,
            "attendees": attendees,
            "needs_attendee_confirmation": colleagues is not None,
            "reply_event": row["event_id"],
            "prospecting": False,
        },
        reasons=reasons,
        evidence=[
            EvidenceRow(
                source_table="ml.reply_classifications",
                key=row["event_id"],
                field="predicted_class",
                value="positive",
                observed_at=row["replied_at"],
            ),
            EvidenceRow(
                source_table=REQUESTS_TABLE,
                key=row["event_id"],
                field="reply_text",
                value=(row["reply_text"] or "")[:200],
            ),
            EvidenceRow(
                source_table="marts.fct_owner_calendar", key=owner or "", field="meetings_ahead", value=len(busy)
            ),
        ],
        evidence_window=f"reply={row['event_id']}",
        owner=owner,
    )
    if len(slots) < settings.slots_per_proposal:
        return Blocked(proposal, "meetings.no_common_window", f"only {len(slots)} slots fit both windows in two weeks")
    if draft.blocked:
        return Blocked(proposal, draft.blocked_rule or "drafts", draft.blocked_reason or "")
    # The proposed slots count as busy for the owner's next proposals in this run.
    busy.extend(slots)
    return proposal
