"""The landing data contract (docs/landing-contract.md) as code.

One :class:`SourceSpec` per landing sub-folder. The raw table columns are derived from the known column
labels / JSON keys with :func:`snake_case`, in contract order, so adding a label here is all it takes for
``ensure_raw_schema`` to add the column to an existing warehouse.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

__all__ = [
    "REPLY_LABEL_VOCABULARY",
    "RESERVED_COLUMNS",
    "SOURCES",
    "TIMESTAMP_PATTERN",
    "SourceSpec",
    "export_timezone",
    "is_timestamp",
    "is_whole_number",
    "epoch_ms",
    "parse_timestamp",
    "snake_case",
]

# Columns the loader adds itself; a known label that maps onto one of them would shadow it.
RESERVED_COLUMNS = frozenset({"extra_columns", "payload", "_source_file", "_source_line", "_loaded_at"})

_NON_ALNUM = re.compile(r"[^0-9a-z]+")
_CAMEL_1 = re.compile(r"([A-Z]+)([A-Z][a-z])")
_CAMEL_2 = re.compile(r"([a-z0-9])([A-Z])")


def snake_case(label: str, *, split_camel: bool = False) -> str:
    """Column name for a CSV label or JSON key.

    Lowercase, every run of non-alphanumerics becomes ``_``, ``_`` stripped at both ends:
    ``Date entered "Closed Won (Sales Pipeline)"`` -> ``date_entered_closed_won_sales_pipeline``.
    With ``split_camel`` (JSON keys) camelCase is split first: ``messageId`` -> ``message_id``.
    HubSpot labels are not camel-split, or ``LinkedIn URL`` would become ``linked_in_url``.
    """
    if split_camel:
        label = _CAMEL_2.sub(r"\1_\2", _CAMEL_1.sub(r"\1_\2", label))
    return _NON_ALNUM.sub("_", label.lower()).strip("_")


def export_timezone() -> tzinfo:
    """Time zone of timestamps without an offset (``ACTIONHOUSE_EXPORT_TIMEZONE``, default UTC)."""
    name = os.environ.get("ACTIONHOUSE_EXPORT_TIMEZONE", "UTC").strip() or "UTC"
    return UTC if name.upper() == "UTC" else ZoneInfo(name)


# The accepted timestamp shapes, spelled out so the SQL check of JSON lines (RE2) and the Python check agree
# exactly; calendar validity (Feb 30, year 0) is checked separately on both sides.
TIMESTAMP_PATTERN = (
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])"
    r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):?[0-5]\d)?)?"
)
_TIMESTAMP_RE = re.compile(TIMESTAMP_PATTERN)


def parse_timestamp(value: str, tz: tzinfo | None = None) -> datetime | None:
    """Parse a contract timestamp into an aware UTC datetime, or None if it is not one.

    Accepted: ``YYYY-MM-DD HH:MM[:SS[.ffffff]]``, ISO 8601 (``2026-03-01T09:30:00Z``, with or without
    offset) and ``YYYY-MM-DD``; surrounding whitespace is ignored. Values without an offset are read in
    ``tz`` (default: the export time zone, ``ACTIONHOUSE_EXPORT_TIMEZONE``).
    """
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not _TIMESTAMP_RE.fullmatch(text):
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:  # a day that does not exist in the month, or year 0
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz or export_timezone())
    return parsed.astimezone(UTC)


def epoch_ms(value: str | int | None) -> int:
    """Epoch milliseconds of a time read from a CRM's API: digits are epoch milliseconds already; otherwise a
    contract timestamp (`parse_timestamp`), where a time without an offset is UTC (as the APIs write them, unlike
    exports). 0 when empty; ValueError when the value is not a time."""
    text = "" if value is None else str(value).strip()
    if not text:
        return 0
    if text.lstrip("-").isdigit():
        return int(text)
    parsed = parse_timestamp(text, tz=UTC)
    if parsed is None:
        raise ValueError(f"not a date/time: {text!r}")
    return int(parsed.timestamp() * 1000)


def is_timestamp(value: object) -> bool:
    """True if ``value`` is a string holding a contract timestamp exactly (no surrounding whitespace)."""
    if type(value) is not str or not _TIMESTAMP_RE.fullmatch(value):
        return False
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


def is_whole_number(value: str) -> bool:
    """True for a non-negative whole number written with ASCII digits (HubSpot record IDs)."""
    text = value.strip()
    return text.isascii() and text.isdigit()


@dataclass(frozen=True)
class SourceSpec:
    """One landing source: folder, raw table, format and the checks each row must pass.

    ``columns`` are CSV labels or JSON keys in contract order; ``required``, ``id_columns`` and
    ``timestamp_columns`` use the same spelling. ``json_columns`` (JSONL only) are keys holding objects,
    stored as JSON; the other keys are stored as text.
    """

    name: str
    format: str  # "csv" or "jsonl"
    columns: tuple[str, ...]
    required: tuple[str, ...]
    id_columns: tuple[str, ...] = ()
    timestamp_columns: tuple[str, ...] = ()
    json_columns: tuple[str, ...] = ()
    # Closed vocabularies: a filled-in value outside its list quarantines the row.
    allowed_values: dict[str, tuple[str, ...]] = field(default_factory=dict)
    folder: str = ""
    table: str = ""
    extensions: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.format not in ("csv", "jsonl"):
            raise ValueError(f"{self.name}: unknown format {self.format!r}")
        if not self.folder:
            object.__setattr__(self, "folder", self.name)
        if not self.table:
            object.__setattr__(self, "table", f"raw.{self.name}")
        if not self.extensions:
            exts = (".csv",) if self.format == "csv" else (".jsonl", ".ndjson")
            object.__setattr__(self, "extensions", exts)
        listed = set(self.columns)
        for group in (self.required, self.id_columns, self.timestamp_columns, self.json_columns,
                      tuple(self.allowed_values)):
            missing = [c for c in group if c not in listed]
            if missing:
                raise ValueError(f"{self.name}: {missing} not among the known columns")
        names = [self.column_name(c) for c in self.columns]
        clash = (set(names) & RESERVED_COLUMNS) or {n for n in names if names.count(n) > 1}
        if clash:
            raise ValueError(f"{self.name}: column names {sorted(clash)} clash")

    def column_name(self, label: str) -> str:
        """Raw table column for a known label / key."""
        return snake_case(label, split_camel=self.format == "jsonl")

    @property
    def column_names(self) -> list[str]:
        """Raw table columns for the known labels / keys, in contract order."""
        return [self.column_name(c) for c in self.columns]

    def row_problems(self, value_of: Callable[[str], str | None]) -> list[str]:
        """Why one row must be quarantined (empty when it may load): a missing required value, an id that is
        not a whole number, a date/time that is not one, a value outside a closed vocabulary. `value_of(label)`
        gives the row's text for a known label, None when the row has no such column. The checks of a landing
        file's CSV rows and of rows read from a CRM's API."""
        problems = [f"missing {label}" for label in self.required if not (value_of(label) or "").strip()]
        for label in self.id_columns:
            value = value_of(label)
            if value and value.strip() and not is_whole_number(value):
                problems.append(f"{label} {value!r} is not a whole number")
        for label in self.timestamp_columns:
            value = (value_of(label) or "").strip()
            if value and not is_timestamp(value):
                problems.append(f"{label} {value!r} is not a date/time")
        for label, allowed in self.allowed_values.items():
            value = value_of(label)
            if value and value not in allowed:
                problems.append(not_allowed_reason(label, value, allowed))
        return problems


def not_allowed_reason(label: str, value: object, allowed: tuple[str, ...]) -> str:
    """The quarantine reason of a value outside its closed vocabulary."""
    return f"{label} {value!r} is not one of {', '.join(allowed)}"


_CONTACTS = (
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Mobile Phone Number", "Job Title",
    "Company Name", "Website URL", "Street Address", "City", "State/Region", "Postal Code", "Country/Region",
    "LinkedIn URL", "Create Date", "Last Modified Date", "Lifecycle Stage", "Lead Status", "Contact owner",
    "Original Source", "Associated Company IDs", "Associated Company ID (Primary)",
    "Unsubscribed from all email", "Human Verified Fields",
)
_COMPANIES = (
    "Record ID", "Company name", "Company Domain Name", "Website URL", "Industry", "Number of Employees",
    "Annual Revenue", "Phone Number", "Street Address", "City", "State/Region", "Postal Code",
    "Country/Region", "Create Date", "Last Modified Date", "Company owner", "Lifecycle Stage", "Type",
    "Parent Company ID", "Technologies", "Renewal Date",
)
_DEAL_STAGES = (
    "Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled", "Decision Maker Bought-In",
    "Contract Sent", "Closed Won", "Closed Lost",
)
_DEAL_STAGE_DATES = tuple(f'Date entered "{stage} (Sales Pipeline)"' for stage in _DEAL_STAGES)
_DEALS = (
    "Record ID", "Deal Name", "Deal Stage", "Pipeline", "Amount", "Close Date", "Create Date",
    "Last Modified Date", "Deal owner", "Deal Type", "Associated Company IDs", "Associated Contact IDs",
    *_DEAL_STAGE_DATES,
)
_MEETINGS = (
    "Record ID", "Meeting name", "Meeting start time", "Meeting end time", "Meeting outcome",
    "Activity assigned to", "Create Date", "Associated Contact IDs", "Associated Company IDs",
    "Associated Deal IDs",
)
# HubSpot's activity export: calls, logged sales emails and tasks (first touches of follow-ups).
_ACTIVITIES = (
    "Record ID", "Activity type", "Activity date", "Activity assigned to", "Subject", "Call outcome",
    "Task status", "Associated Contact IDs", "Associated Company IDs",
)
_TICKETS = (
    "Ticket ID", "Ticket name", "Pipeline", "Ticket status", "Priority", "Category", "Create date",
    "Close date", "Last Modified Date", "Associated Company IDs", "Associated Contact IDs", "Escalated",
)
_LEADS = (
    "Submission ID", "Submitted At", "Lead Source", "Campaign", "First Name", "Last Name", "Email",
    "Phone Number", "Job Title", "Company Name", "Website URL", "Country/Region", "State/Region", "City",
    "Number of Employees", "Industry", "Message",
)
_PRODUCT_USAGE = ("Account Domain", "Usage Date", "Active Users", "Sessions", "Key Events", "Seats Purchased")
_EMAIL_EVENTS = (
    "event_id", "type", "email", "contact_record_id", "campaign_id", "sequence_id", "message_id",
    "timestamp", "url", "reply_text", "bounce_type",
)
_SEGMENT = (
    "type", "messageId", "anonymousId", "userId", "event", "name", "properties", "traits", "context",
    "timestamp",
)
_SEGMENT_TYPES = ("page", "track", "identify", "screen", "group", "alias")
_ENRICHMENT = ("payload_id", "vendor", "object_type", "match_key", "received_at", "fields")
# Buying triggers a signals feed may carry (a closed vocabulary: other types are quarantined).
SIGNAL_TYPES = ("hiring", "funding", "tool_install", "leadership_change")
_SIGNALS = ("signal_id", "type", "domain", "observed_at", "detail", "magnitude", "source")
_REPLY_LABELS = ("event_id", "message_id", "label", "labelled_by", "labelled_at")
# Reply classes an SDR can set by hand (the reply classifier's classes, ml.replies.REPLY_CLASSES).
REPLY_LABEL_VOCABULARY = (
    "positive", "objection", "not_now", "unsubscribe", "wrong_person_referral", "compliance_threat",
)

_SPECS = (
    SourceSpec(
        "hubspot_contacts", "csv", _CONTACTS, required=("Record ID",),
        # Optional ID columns are only checked when filled in.
        id_columns=("Record ID", "Associated Company ID (Primary)"),
        timestamp_columns=("Create Date", "Last Modified Date"),
    ),
    SourceSpec(
        "hubspot_companies", "csv", _COMPANIES, required=("Record ID",),
        id_columns=("Record ID", "Parent Company ID"),
        timestamp_columns=("Create Date", "Last Modified Date"),
    ),
    SourceSpec(
        "hubspot_deals", "csv", _DEALS, required=("Record ID",), id_columns=("Record ID",),
        timestamp_columns=("Close Date", "Create Date", "Last Modified Date", *_DEAL_STAGE_DATES),
    ),
    SourceSpec(
        "hubspot_meetings", "csv", _MEETINGS, required=("Record ID",), id_columns=("Record ID",),
        timestamp_columns=("Meeting start time", "Meeting end time", "Create Date"),
    ),
    SourceSpec(
        "hubspot_activities", "csv", _ACTIVITIES, required=("Record ID", "Activity type", "Activity date"),
        id_columns=("Record ID",), timestamp_columns=("Activity date",),
        allowed_values={
            "Activity type": ("CALL", "EMAIL", "TASK", "MEETING", "NOTE"),
            "Task status": ("COMPLETED", "NOT_STARTED", "IN_PROGRESS", "WAITING", "DEFERRED"),
        },
    ),
    SourceSpec(
        "hubspot_tickets", "csv", _TICKETS, required=("Ticket ID",), id_columns=("Ticket ID",),
        timestamp_columns=("Create date", "Close date", "Last Modified Date"),
    ),
    # Submission IDs come from several intake tools and are not promised to be numeric.
    SourceSpec(
        "leads", "csv", _LEADS, required=("Submission ID", "Submitted At", "Lead Source"),
        timestamp_columns=("Submitted At",),
        allowed_values={"Lead Source": ("form", "chat", "webinar", "demo_request", "list_upload")},
    ),
    SourceSpec(
        "product_usage", "csv", _PRODUCT_USAGE, required=("Account Domain", "Usage Date"),
        timestamp_columns=("Usage Date",),
    ),
    SourceSpec(
        "email_events", "jsonl", _EMAIL_EVENTS, required=("event_id", "type", "email", "timestamp"),
        timestamp_columns=("timestamp",),
        allowed_values={
            "type": ("sent", "delivered", "open", "click", "reply", "bounce", "unsubscribe", "spam_report"),
            "bounce_type": ("hard", "soft"),
        },
    ),
    SourceSpec(
        "web_events", "jsonl", _SEGMENT, required=("messageId", "type", "timestamp"),
        timestamp_columns=("timestamp",), json_columns=("properties", "traits", "context"),
        allowed_values={"type": _SEGMENT_TYPES},
    ),
    SourceSpec(
        "product_events", "jsonl", _SEGMENT, required=("messageId", "type", "timestamp"),
        timestamp_columns=("timestamp",), json_columns=("properties", "traits", "context"),
        allowed_values={"type": _SEGMENT_TYPES},
    ),
    SourceSpec(
        "enrichment", "jsonl", _ENRICHMENT, required=_ENRICHMENT,
        timestamp_columns=("received_at",), json_columns=("fields",),
        allowed_values={"object_type": ("contact", "company")},
    ),
    SourceSpec(
        "signals", "jsonl", _SIGNALS, required=("signal_id", "type", "domain", "observed_at"),
        timestamp_columns=("observed_at",),
        allowed_values={"type": SIGNAL_TYPES},
    ),
    # Replies triaged by hand in the sending tool (training data for the reply classifier).
    SourceSpec(
        "email_reply_labels", "jsonl", _REPLY_LABELS, required=("event_id", "label", "labelled_at"),
        timestamp_columns=("labelled_at",), allowed_values={"label": REPLY_LABEL_VOCABULARY},
    ),
)

SOURCES: dict[str, SourceSpec] = {spec.name: spec for spec in _SPECS}
