"""Safety checks over the whole decision queue (the blocking checks after each planning run, and the eval).

Each returns the offending action ids (empty = the promise holds):
- `suppressed_targets`: a live action that reaches a contact on the suppression list;
- `cap_violations`: accounts with more customer-facing actions in a rolling week than the policy's cap;
- `unexplained`: an action without reasons, evidence, policy verdicts, policy version or KPI;
- `customer_facing_auto`: a customer-facing action that would run without a person's approval.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
import sqlalchemy as sa

from actions.catalog import ACTION_TYPES, RiskClass
from actions.policy import Policy
from actions.queue import json_values
from actions.states import State
from actions.suppression import SuppressionList
from ops_store.schema import actions

LIVE = [State.PROPOSED, State.EDITED, State.APPROVED, State.QUEUED]
TOUCHED = [*LIVE, State.SENT]
# What may surround a JSON document's value (RFC 8259's whitespace).
_JSON_SPACE = " \t\n\r"


def json_text_truthy(text: str | None) -> bool:
    """`bool(json.loads(text))` for a JSON document's text, without decoding it (None, SQL NULL, is false).

    Only `null`, `false`, `0` (any spelling of zero), `""`, `[]` and `{}` decode to false values; a container is
    empty exactly when nothing but whitespace stands between its brackets. The explanations check reads three JSON
    documents of every action of a run: decoding them all was most of that check in a 1M-contact full build
    (~340,000 documents, some of them long evidence lists)."""
    if text is None:
        return False
    value = text.strip(_JSON_SPACE)
    first = value[:1]
    if first in ("[", "{"):
        return bool(value[1:-1].strip(_JSON_SPACE))
    if first == '"':
        return value != '""'
    if first in ("n", "f"):  # null, false
        return False
    if first == "t":  # true
        return True
    return float(value) != 0  # a number (or NaN / Infinity, which Python's json reads and which are true)


@dataclass
class QueueSafety:
    """Offending action ids (or accounts) per promise."""

    suppressed_targets: list[str] = field(default_factory=list)
    cap_violations: list[str] = field(default_factory=list)
    unexplained: list[str] = field(default_factory=list)
    customer_facing_auto: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.suppressed_targets or self.cap_violations or self.unexplained or self.customer_facing_auto)


def queue_safety(engine: sa.Engine, policy: Policy, run_id: str | None = None) -> QueueSafety:
    """Check every promise over the queue as it is now (`run_id`: check explanations of that run's actions only)."""
    report = QueueSafety()
    snapshot = SuppressionList(engine).snapshot()
    gated = [name for name, kind in ACTION_TYPES.items() if kind.reaches_contact or kind.customer_facing]
    sqlite = engine.dialect.name == "sqlite"
    # On SQLite the emails are read as JSON text and decoded together (`json_values`).
    emails_column = sa.type_coerce(actions.c.target_emails, sa.Text) if sqlite else actions.c.target_emails
    cols = [actions.c.action_id, emails_column, actions.c.target_domain]
    with engine.connect() as con:
        rows = con.execute(
            sa.select(*cols).where(actions.c.state.in_([s.value for s in LIVE]), actions.c.action_type.in_(gated))
        ).all()
        decoded = json_values([emails for _, emails, _ in rows]) if sqlite else [emails for _, emails, _ in rows]
        for (action_id, _, domain), emails in zip(rows, decoded, strict=True):
            if snapshot.reason(emails or [], domain):
                report.suppressed_targets.append(action_id)
        facing = con.execute(
            sa.select(
                actions.c.action_id,
                actions.c.account_id,
                actions.c.proposed_at,
                actions.c.risk_class,
                actions.c.action_type,
            ).where(actions.c.customer_facing.is_(True), actions.c.state.in_([s.value for s in TOUCHED]))
        ).all()
        for action_id, _account, _at, risk, action_type in facing:
            if risk == RiskClass.AUTO.value and action_type not in policy.auto_customer_facing:
                report.customer_facing_auto.append(action_id)
        frame = pl.DataFrame(
            [(a, acc, at) for a, acc, at, _, _ in facing if acc is not None],
            schema={"action_id": pl.String, "account_id": pl.String, "at": pl.Datetime("us", "UTC")},
            orient="row",
        )
        if frame.height:
            counts = (
                frame.sort("at")
                .rolling(index_column="at", period="7d", group_by="account_id")
                .agg(pl.len().alias("touches"))
            )
            over = counts.filter(pl.col("touches") > policy.caps.per_account_weekly_touches)
            report.cap_violations = sorted(set(over["account_id"].to_list()))
        # The JSON columns as their text: whether each decodes to something non-empty is read off the text.
        explained = sa.select(
            actions.c.action_id,
            sa.cast(actions.c.reasons, sa.Text),
            sa.cast(actions.c.evidence, sa.Text),
            sa.cast(actions.c.policy_verdicts, sa.Text),
            actions.c.policy_version,
            actions.c.kpi,
        )
        if run_id is not None:
            explained = explained.where(actions.c.run_id == run_id)
        missing = con.execute(explained).all()
        for action_id, reasons, evidence, verdicts, version, kpi in missing:
            if not (
                json_text_truthy(reasons)
                and json_text_truthy(evidence)
                and json_text_truthy(verdicts)
                and version
                and kpi
            ):
                report.unexplained.append(action_id)
    return report
