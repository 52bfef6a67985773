"""The decision queue in the operational store: proposals in, people's decisions, an append-only audit log.

    queue = DecisionQueue(open_store(url), load_policy())
    queue.approve(action_id, actor="Dana Steward", note="same person, checked LinkedIn")

Every change goes through `transition()`: it checks the move is legal (`actions.states`), writes the row only if
nobody changed it since it was read (two people deciding at once: exactly one wins, the other gets a
`DecisionConflict`), and appends the audit event in the same transaction.
"""

from __future__ import annotations

import json
import numbers
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from actions.catalog import ACTION_TYPES, MERGE_ACTION_TYPES, RiskClass
from actions.model import Action, PolicyVerdict, payload_hash
from actions.policy import Policy
from actions.states import AWAITING_DECISION, NOT_YET_QUEUED, State, can_move
from actions.suppression import SuppressionSnapshot
from ops_store.bulk import insert_many
from ops_store.schema import action_events, actions, utc_now

POLICY_ACTOR = "policy"
PLANNER_ACTOR = "planner"
# The audit event of a sent merge a person found wrong and split again (`DecisionQueue.record_split`).
SPLIT_EVENT = "split"
_IN_CHUNK = 500
# `slot_states` of more slots than this reads the workflow's actions in one pass (a query per 500 keys costs ~4 ms;
# a pass over a workflow's actions a few ms per 10,000 of them).
_SCAN_SLOTS_ABOVE = 5 * _IN_CHUNK


def json_values(texts: list[str | None]) -> list[Any]:
    """`json.loads` of each stored JSON text (None for SQL NULL), as SQLAlchemy's JSON type reads them on SQLite.

    Decoded as one JSON array (one parser call, not one per row: the planner's store read and the safety checks
    read ~110,000 and ~70,000 of them an hour at 1M contacts). Each text is a whole JSON document written by
    `json.dumps`, so the array's items are what decoding each alone gives; anything else (a value not stored as text,
    a text that is not one document, so the item count differs) is decoded row by row, raising as before."""
    if all(type(text) is str or text is None for text in texts):
        try:
            values = json.loads("[" + ",".join("null" if text is None else text for text in texts) + "]")
        except ValueError:
            values = None
        if values is not None and len(values) == len(texts):
            return values
    return [_json_value(text) for text in texts]


def _json_value(text: Any) -> Any:
    # SQLAlchemy's JSON type on SQLite: NULL is None, a number stored as one is itself, text is decoded.
    if text is None or (isinstance(text, numbers.Number) and not isinstance(text, str)):
        return text
    return json.loads(text)


class QueueError(Exception):
    """A decision the queue refuses; the message says why in plain words."""


class UnknownAction(QueueError):
    """No action has this id."""


class IllegalTransition(QueueError):
    """The action cannot move from its state to the one asked for."""


class DecisionConflict(QueueError):
    """Someone else changed the action since it was read; this decision was not recorded."""


class NotAllowed(QueueError):
    """The policy does not let this person (or anyone) make this decision."""


@dataclass(frozen=True)
class StoredAction:
    """An action as the queue holds it now (state, decision, edits) — what `queue show` and the console read."""

    row: dict[str, Any]

    def __getattr__(self, name: str) -> Any:
        try:
            return self.row[name]
        except KeyError:
            raise AttributeError(name) from None

    @property
    def state(self) -> State:
        return State(self.row["state"])

    @property
    def risk_class(self) -> RiskClass:
        return RiskClass(self.row["risk_class"])

    @property
    def effective_payload(self) -> dict[str, Any]:
        """The payload that would be executed: the edited one if a person edited it."""
        return self.row["edited_payload"] or self.row["payload"]

    @property
    def approved_as_is(self) -> bool:
        """Approved, and the payload now is exactly the one that was approved."""
        return (
            self.state == State.APPROVED
            and self.row["approved_payload_hash"] is not None
            and self.row["approved_payload_hash"] == payload_hash(self.effective_payload)
        )


@dataclass
class BulkResult:
    """What a bulk approval did: approved ids, and the ones it skipped with why."""

    approved: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


class DecisionQueue:
    """Proposals, decisions and their audit trail in the operational store."""

    def __init__(self, engine: sa.Engine, policy: Policy, clock: Callable[[], datetime] = utc_now) -> None:
        self.engine = engine
        self.policy = policy
        self.clock = clock

    # ---- planner side -------------------------------------------------------------------------------------
    def slot_states(self, slots: Iterable[str], workflow: str | None = None) -> dict[str, list[tuple[str, State]]]:
        """For each slot key that has actions: `(action_id, state)` of each.

        `workflow`: the workflow all these slots are of (a slot key hashes its workflow, so no action of another
        workflow holds one). Many slots of one workflow are then found in one read of that workflow's actions, not
        500 keys a query: a 1M-contact hour looks up ~350,000 slots, ~700 queries that took ~3 s."""
        found: dict[str, list[tuple[str, State]]] = {}
        slots = list(dict.fromkeys(slots))
        with self.engine.connect() as con:
            if workflow is not None and len(slots) > _SCAN_SLOTS_ABOVE:
                wanted = set(slots)
                rows = con.execute(
                    sa.select(actions.c.slot_key, actions.c.action_id, actions.c.state).where(
                        actions.c.workflow == str(workflow)
                    )
                )
                for slot, action_id, state in rows:
                    if slot in wanted:
                        found.setdefault(slot, []).append((action_id, State(state)))
                return found
            for i in range(0, len(slots), _IN_CHUNK):
                rows = con.execute(
                    sa.select(actions.c.slot_key, actions.c.action_id, actions.c.state).where(
                        actions.c.slot_key.in_(slots[i : i + _IN_CHUNK])
                    )
                )
                for slot, action_id, state in rows:
                    found.setdefault(slot, []).append((action_id, State(state)))
        return found

    def add(
        self, new_actions: list[Action], run_id: str | None = None, payload_hashes: dict[str, str] | None = None
    ) -> list[str]:
        """Store new proposals (ids already in the queue are skipped); `auto` ones enter approved by the policy,
        held-out ones `held_out` (`new_action_row`). `payload_hashes`: action id -> its payload's hash, where the
        caller has it (the planner's, `PlanResult.payload_hashes`); any other action's payload is hashed here.

        Returns the ids actually added.
        """
        if not new_actions:
            return []
        ids = [a.action_id for a in new_actions]
        with self.engine.begin() as con:
            existing: set[str] = set()
            for i in range(0, len(ids), _IN_CHUNK):
                existing.update(
                    con.execute(
                        sa.select(actions.c.action_id).where(actions.c.action_id.in_(ids[i : i + _IN_CHUNK]))
                    ).scalars()
                )
            rows, events = [], []
            now = self.clock()
            verdict_docs: dict[tuple, list[dict[str, Any]]] = {}  # the rows' few distinct verdict lists, shared
            for action in new_actions:
                if action.action_id in existing:
                    continue
                existing.add(action.action_id)
                digest = payload_hashes.get(action.action_id) if payload_hashes else None
                row, event = new_action_row(action, run_id, now, verdict_docs, digest)
                rows.append(row)
                events.append(event)
            if rows:
                insert_many(con, actions, rows)
                insert_many(con, action_events, events)
        return [r["action_id"] for r in rows]

    def withdraw(self, action_id: str, reason: str, actor: str = PLANNER_ACTOR) -> StoredAction:
        """The evidence behind a not-yet-sent proposal changed: it leaves the queue with the reason."""
        return self.transition(action_id, State.WITHDRAWN, actor=actor, note=reason, event="withdrawn")

    def withdraw_many(self, withdrawals: list[tuple[str, str]], actor: str = PLANNER_ACTOR) -> int:
        """`withdraw` for many `(action id, reason)` pairs, a few hundred per transaction; the ones decided, queued or
        changed meanwhile stay as they are (people win over the planner). Returns how many were withdrawn."""
        return self._move_in_batches([(i, State.WITHDRAWN, reason, None) for i, reason in withdrawals], actor)

    def expire_due(self) -> int:
        """Expire every not-yet-queued action past its `expires_at`; returns how many.

        In batches (`transition_many`: the same checks and audit events as `transition`), not a transaction and two
        reads per action: the day a full build's proposals lapse, a 1M-contact queue expires 100,000 at once."""
        now = self.clock()
        with self.engine.connect() as con:
            due = (
                con.execute(
                    sa.select(actions.c.action_id).where(
                        actions.c.state.in_([s.value for s in NOT_YET_QUEUED]), actions.c.expires_at < now
                    )
                )
                .scalars()
                .all()
            )
        return self._move_in_batches([(i, State.EXPIRED, "nobody decided in time", None) for i in due], PLANNER_ACTOR)

    def _move_in_batches(self, moves: list[tuple[str, State, str | None, dict[str, Any] | None]], actor: str) -> int:
        """`transition_many` a batch at a time (short write transactions: people deciding meanwhile wait little);
        returns how many moved (the others were decided or changed meanwhile, or cannot move)."""
        moved = 0
        for i in range(0, len(moves), _IN_CHUNK):
            batch = moves[i : i + _IN_CHUNK]
            moved += len(batch) - len(self.transition_many(batch, actor=actor))
        return moved

    # ---- people ------------------------------------------------------------------------------------------
    def approve(self, action_id: str, actor: str, note: str | None = None, seen_version: int | None = None):
        """Approve the action's current payload (the edited one if edited)."""
        current = self._for_decision(action_id, actor)
        if current.risk_class == RiskClass.NEVER:
            raise NotAllowed(
                f"{action_id} is context for a person: the policy classes {current.action_type} actions as "
                "'never', so Actionhouse never executes them. Reject it to dismiss it."
            )
        return self.transition(
            action_id,
            State.APPROVED,
            actor=actor,
            note=note,
            seen_version=seen_version,
            event="approved",
            changes={"approved_payload_hash": payload_hash(current.effective_payload)},
        )

    def reject(self, action_id: str, actor: str, note: str | None = None, seen_version: int | None = None):
        """Reject (dismiss) the action; it will not be proposed again for the same evidence."""
        self._for_decision(action_id, actor)
        return self.transition(
            action_id, State.REJECTED, actor=actor, note=note, seen_version=seen_version, event="rejected"
        )

    def edit(
        self,
        action_id: str,
        actor: str,
        changes: dict[str, Any],
        note: str | None = None,
        seen_version: int | None = None,
    ) -> StoredAction:
        """Change payload fields (the original is kept beside the edit); the edit then waits for an approval."""
        current = self._for_decision(action_id, actor)
        if current.risk_class == RiskClass.NEVER:
            raise NotAllowed(f"{action_id} is context for a person (risk class 'never'); it cannot be edited.")
        editable = ACTION_TYPES[current.action_type].editable
        for name in changes:
            if name not in editable:
                allowed = ", ".join(editable) or "none"
                raise NotAllowed(f"{current.action_type} field '{name}' cannot be edited (editable: {allowed}).")
        if "new_owner" in changes and changes["new_owner"] not in self.policy.territory_of_owner():
            raise NotAllowed(f"'{changes['new_owner']}' is not an owner in any territory of the policy.")
        before = current.effective_payload
        after = {**before, **changes}
        return self.transition(
            action_id,
            State.EDITED,
            actor=actor,
            note=note,
            seen_version=seen_version,
            event="edited",
            changes={"edited_payload": after, "approved_payload_hash": None},
            payload_before=before,
            payload_after=after,
        )

    def bulk_approve(self, actor: str, note: str | None = None, **filters: Any) -> BulkResult:
        """Approve every action awaiting a decision that matches `filters` (see `list`), where the policy allows
        bulk approval for its type and this person may decide it."""
        result = BulkResult()
        forbidden = set(self.policy.bulk_approval_forbidden)
        for item in self.list(states=list(AWAITING_DECISION), limit=None, **filters):
            if item.action_type in forbidden:
                result.skipped.append((item.action_id, f"bulk approval of {item.action_type} is refused by policy"))
                continue
            try:
                self.approve(item.action_id, actor=actor, note=note, seen_version=item.row_version)
                result.approved.append(item.action_id)
            except QueueError as exc:
                result.skipped.append((item.action_id, str(exc)))
        return result

    def record_split(self, action_id: str, actor: str, reason: str) -> StoredAction:
        """Record that a merge Actionhouse sent was wrong: the records were two people and a person split them
        again. Only a sent merge, once, by someone who may decide merges; the action stays `sent` and the audit
        log gets a `split` event (who, when, why). The decision log's `split_at` and the incorrect merge rate of
        the outcome marts read it (docs/outcomes.md)."""
        if not reason or not reason.strip():
            raise NotAllowed("Say why the merge was wrong (--reason): it is kept in the audit log.")
        current = self.get(action_id)
        if current.action_type not in MERGE_ACTION_TYPES:
            raise NotAllowed(
                f"{action_id} is a {current.action_type} action: only a merge "
                f"({', '.join(sorted(MERGE_ACTION_TYPES))}) can be recorded as split."
            )
        if current.state != State.SENT:
            raise NotAllowed(
                f"{action_id} is {current.state.value}: only a merge Actionhouse sent to the CRM can be recorded as "
                "split (one never sent merged nothing)."
            )
        if not self.policy.may_decide(actor, current.action_type, current.owner):
            group = self.policy.approver_group(current.action_type)
            raise NotAllowed(
                f"{actor} may not record a split of a {current.action_type}: the policy routes them to the "
                f"'{group}' group."
            )
        now = self.clock()
        with self.engine.begin() as con:
            # The row's version moves too, so two people recording the same split at once: exactly one wins.
            updated = con.execute(
                sa.update(actions)
                .where(
                    actions.c.action_id == action_id,
                    actions.c.row_version == current.row_version,
                    actions.c.state == State.SENT.value,
                )
                .values(row_version=current.row_version + 1, updated_at=now)
            )
            if updated.rowcount != 1:
                raise self._conflict(con, action_id)
            earlier = con.execute(
                sa.select(action_events.c.at, action_events.c.actor).where(
                    action_events.c.action_id == action_id, action_events.c.event == SPLIT_EVENT
                )
            ).first()
            if earlier is not None:
                raise NotAllowed(
                    f"{action_id} was already recorded as split by {earlier.actor} at {earlier.at:%Y-%m-%d %H:%M} UTC."
                )
            con.execute(
                sa.insert(action_events).values(
                    action_id=action_id,
                    at=now,
                    actor=actor,
                    event=SPLIT_EVENT,
                    from_state=State.SENT.value,
                    to_state=State.SENT.value,
                    note=reason.strip(),
                )
            )
        return self.get(action_id)

    def _for_decision(self, action_id: str, actor: str) -> StoredAction:
        current = self.get(action_id)
        if current.state == State.HELD_OUT:
            raise NotAllowed(
                f"{action_id} is held out ({current.state_reason}): it is what the planner would have proposed for a "
                "target in the workflow's holdout group, kept to measure the workflow's lift. It is never approved, "
                "edited or sent."
            )
        if not self.policy.may_decide(actor, current.action_type, current.owner):
            group = self.policy.approver_group(current.action_type)
            who = "the action's owner" if group == "owner" else f"the '{group}' group"
            raise NotAllowed(f"{actor} may not decide {current.action_type} actions: the policy routes them to {who}.")
        if current.state in NOT_YET_QUEUED and current.expires_at < self.clock():
            self.transition(action_id, State.EXPIRED, actor=PLANNER_ACTOR, note="nobody decided in time")
            raise NotAllowed(f"{action_id} expired at {current.expires_at:%Y-%m-%d %H:%M} UTC; it was not decided.")
        return current

    # ---- the one place state changes ---------------------------------------------------------------------
    def transition(
        self,
        action_id: str,
        to: State,
        actor: str,
        note: str | None = None,
        seen_version: int | None = None,
        event: str | None = None,
        changes: dict[str, Any] | None = None,
        payload_before: dict[str, Any] | None = None,
        payload_after: dict[str, Any] | None = None,
    ) -> StoredAction:
        """Move an action to `to`, recording who, when, why and what changed; refuse illegal or stale moves.

        `seen_version` is the `row_version` the decider saw; without it, the version read here is used, so a
        decision that lands between this read and the write still loses cleanly.
        """
        current = self.get(action_id)
        if seen_version is not None and current.row_version != seen_version:
            with self.engine.connect() as con:
                raise self._conflict(con, action_id)
        if not can_move(current.state, to):
            raise IllegalTransition(f"{action_id} is {current.state.value}; it cannot become {to.value}.")
        version = current.row_version if seen_version is None else seen_version
        now = self.clock()
        values: dict[str, Any] = {
            "state": to.value,
            "updated_at": now,
            "row_version": version + 1,
            **(changes or {}),
        }
        if to in (State.APPROVED, State.EDITED, State.REJECTED):
            values.update(decided_by=actor, decided_at=now, decision_note=note)
        elif note is not None:
            values["state_reason"] = note
        with self.engine.begin() as con:
            updated = con.execute(
                sa.update(actions)
                .where(
                    actions.c.action_id == action_id,
                    actions.c.row_version == version,
                    actions.c.state == current.state.value,
                )
                .values(**values)
            )
            if updated.rowcount != 1:
                raise self._conflict(con, action_id)
            con.execute(
                sa.insert(action_events).values(
                    action_id=action_id,
                    at=now,
                    actor=actor,
                    event=event or to.value,
                    from_state=current.state.value,
                    to_state=to.value,
                    note=note,
                    payload_before=payload_before,
                    payload_after=payload_after,
                )
            )
        return self.get(action_id)

    def transition_many(
        self, moves: list[tuple[str, State, str | None, dict[str, Any] | None]], actor: str
    ) -> list[str]:
        """Move many actions in one transaction (the sync engine's per-batch outcomes): `(action id, to state,
        note, extra column values)` each, with the same legality checks and audit events as `transition`.
        Returns the ids that could not move (illegal from their current state, or changed meanwhile)."""
        if not moves:
            return []
        now = self.clock()
        refused: list[str] = []
        with self.engine.begin() as con:
            ids = [m[0] for m in moves]
            current: dict[str, tuple[str, int]] = {}
            for i in range(0, len(ids), _IN_CHUNK):
                rows = con.execute(
                    sa.select(actions.c.action_id, actions.c.state, actions.c.row_version).where(
                        actions.c.action_id.in_(ids[i : i + _IN_CHUNK])
                    )
                )
                current.update({a: (s, v) for a, s, v in rows})
            events = []
            for action_id, to, note, extra in moves:
                state, version = current.get(action_id, (None, None))
                if state is None or not can_move(State(state), to):
                    refused.append(action_id)
                    continue
                values = {"state": to.value, "updated_at": now, "row_version": version + 1, **(extra or {})}
                if note is not None:
                    values["state_reason"] = note
                updated = con.execute(
                    sa.update(actions)
                    .where(actions.c.action_id == action_id, actions.c.row_version == version)
                    .values(**values)
                )
                if updated.rowcount != 1:
                    refused.append(action_id)
                    continue
                events.append(
                    {
                        "action_id": action_id,
                        "at": now,
                        "actor": actor,
                        "event": to.value,
                        "from_state": state,
                        "to_state": to.value,
                        "note": note,
                        "payload_before": None,
                        "payload_after": None,
                    }
                )
            if events:
                insert_many(con, action_events, events)
        return refused

    def _conflict(self, con, action_id: str) -> DecisionConflict:
        row = con.execute(sa.select(actions).where(actions.c.action_id == action_id)).mappings().one()
        who = f" by {row['decided_by']}" if row["decided_by"] else ""
        return DecisionConflict(
            f"{action_id} changed since you read it: it is now {row['state']}{who} "
            f"(at {row['updated_at']:%Y-%m-%d %H:%M:%S} UTC). Your decision was not recorded; reload and decide again."
        )

    # ---- reads -------------------------------------------------------------------------------------------
    def get(self, action_id: str) -> StoredAction:
        """The action with this id (`UnknownAction` if none)."""
        with self.engine.connect() as con:
            row = con.execute(sa.select(actions).where(actions.c.action_id == action_id)).mappings().first()
        if row is None:
            raise UnknownAction(f"No action {action_id} in the decision queue.")
        return StoredAction(dict(row))

    def find(self, prefix: str) -> StoredAction:
        """The action whose id starts with `prefix` (people type the first characters of an id)."""
        with self.engine.connect() as con:
            ids = (
                con.execute(sa.select(actions.c.action_id).where(actions.c.action_id.like(f"{prefix}%")).limit(2))
                .scalars()
                .all()
            )
        if not ids:
            raise UnknownAction(f"No action whose id starts with '{prefix}'.")
        if len(ids) > 1:
            raise UnknownAction(f"More than one action id starts with '{prefix}': type more of it.")
        return self.get(ids[0])

    def _filtered(self, query, workflow=None, states=None, owner=None, risk_class=None, action_type=None):
        if workflow:
            query = query.where(actions.c.workflow == str(workflow))
        if states:
            query = query.where(actions.c.state.in_([str(s) for s in states]))
        if owner:
            query = query.where(actions.c.owner == owner)
        if risk_class:
            query = query.where(actions.c.risk_class == str(risk_class))
        if action_type:
            query = query.where(actions.c.action_type == action_type)
        return query

    def list(
        self,
        workflow: str | None = None,
        states: list[str] | None = None,
        owner: str | None = None,
        risk_class: str | None = None,
        action_type: str | None = None,
        limit: int | None = 50,
        offset: int = 0,
    ) -> list[StoredAction]:
        """Actions matching the filters, newest proposals first."""
        query = self._filtered(sa.select(actions), workflow, states, owner, risk_class, action_type)
        query = query.order_by(actions.c.proposed_at.desc(), actions.c.action_id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self.engine.connect() as con:
            return [StoredAction(dict(r)) for r in con.execute(query).mappings()]

    def iter_open(self, columns: Iterable[str] | None = None) -> Iterator[StoredAction]:
        """Every action not yet handed to the sync engine (proposed, edited, approved); `columns`: only these
        fields of each (the planner reads a few of every open action each hour; the rest is JSON to parse)."""
        selected = [actions.c[name] for name in columns] if columns is not None else list(actions.c)
        # On SQLite the JSON columns are read as their text and decoded together (`json_values`).
        as_text = set()
        if self.engine.dialect.name == "sqlite":
            as_text = {c.name for c in selected if isinstance(c.type, sa.JSON)}
            selected = [sa.type_coerce(c, sa.Text).label(c.name) if c.name in as_text else c for c in selected]
        query = sa.select(*selected).where(actions.c.state.in_([s.value for s in NOT_YET_QUEUED]))
        with self.engine.connect() as con:
            result = con.execute(query)
            names = list(result.keys())
            values = result.all()
        columns_read = [list(column) for column in zip(*values, strict=True)] or [[] for _ in names]
        for i, name in enumerate(names):
            if name in as_text:
                columns_read[i] = json_values(columns_read[i])
        # Plain tuples zipped with the names: a mapping per row cost more than the row (110,000 at 1M contacts).
        for row in zip(*columns_read, strict=True):
            yield StoredAction(dict(zip(names, row, strict=True)))

    def fields_of(self, action_ids: Iterable[str], columns: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Action id -> the named fields of each of these actions (ids not in the queue are left out)."""
        ids = list(dict.fromkeys(action_ids))
        selected = [actions.c[name] for name in columns]
        found: dict[str, dict[str, Any]] = {}
        with self.engine.connect() as con:
            for i in range(0, len(ids), _IN_CHUNK):
                query = sa.select(actions.c.action_id, *selected).where(actions.c.action_id.in_(ids[i : i + _IN_CHUNK]))
                for row in con.execute(query).mappings():
                    found[row["action_id"]] = {c.name: row[c.name] for c in selected}
        return found

    def counts(self, by: tuple[str, ...] = ("workflow", "risk_class", "state")) -> list[dict[str, Any]]:
        """Action counts grouped by the named columns."""
        cols = [actions.c[name] for name in by]
        query = sa.select(*cols, sa.func.count().label("actions")).group_by(*cols).order_by(*cols)
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(query).mappings()]

    def events(self, action_id: str) -> list[dict[str, Any]]:
        """The audit trail of one action, oldest first."""
        query = (
            sa.select(action_events).where(action_events.c.action_id == action_id).order_by(action_events.c.event_id)
        )
        with self.engine.connect() as con:
            return [dict(r) for r in con.execute(query).mappings()]

    def executable(self, kill_switch_on: bool, suppression: SuppressionSnapshot, limit: int | None = None):
        """Approved actions that may run now: the approved payload unchanged, not expired, the kill switch off,
        and (for anything that reaches a contact) the contact not suppressed. Empty while the kill switch is on.
        """
        if kill_switch_on:
            return []
        now = self.clock()
        ready = []
        for item in self.list(states=[State.APPROVED.value], limit=None):
            kind = ACTION_TYPES[item.action_type]
            if item.risk_class == RiskClass.NEVER or not item.approved_as_is or item.expires_at < now:
                continue
            if (kind.reaches_contact or kind.customer_facing) and suppression.reason(
                item.target_emails or [], item.target_domain
            ):
                continue
            ready.append(item)
            if limit is not None and len(ready) >= limit:
                break
        return ready

    def customer_facing_touches(self, since: datetime) -> dict[str, int]:
        """Customer-facing actions per account approved, queued or sent since `since` (for the weekly cap)."""
        live = [State.APPROVED.value, State.QUEUED.value, State.SENT.value, State.EDITED.value, State.PROPOSED.value]
        query = (
            sa.select(actions.c.account_id, sa.func.count())
            .where(
                actions.c.customer_facing.is_(True),
                actions.c.state.in_(live),
                actions.c.proposed_at >= since,
                actions.c.account_id.is_not(None),
            )
            .group_by(actions.c.account_id)
        )
        with self.engine.connect() as con:
            return {account: n for account, n in con.execute(query)}


def new_action_row(
    action: Action,
    run_id: str | None,
    now: datetime,
    verdict_docs: dict[tuple, list[dict[str, Any]]] | None = None,
    digest: str | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The `actions` row and the first audit event of a new action: `auto` ones enter approved by the policy,
    held-out ones `held_out` (decided by the policy, never executed), the rest `proposed`.

    With `verdict_docs` (one dict for many rows written together), rows whose policy verdicts are equal share one
    list of them (`policy_verdict_docs`). `digest`: the payload's `payload_hash`, when the caller has it."""
    held = action.holdout is not None
    auto = action.risk_class == RiskClass.AUTO and not held
    state = State.HELD_OUT if held else State.APPROVED if auto else State.PROPOSED
    reason = action.holdout if held else None
    if auto:
        reason = "auto: executed without review (policy risk class)"
    note = f"policy {action.policy_version}, run {run_id}" if run_id else None
    digest = digest or payload_hash(action.payload)
    row = {
        "action_id": action.action_id,
        "slot_key": action.slot_key,
        "evidence_window": action.evidence_window,
        "workflow": action.workflow.value,
        "action_type": action.action_type,
        "target_kind": action.target.kind,
        "target_id": action.target.id,
        "target_label": action.target.label,
        # `CrmRef.model_dump()` of its two text fields, without pydantic's serializer per ref.
        "target_crm_ids": [{"object_type": r.object_type, "record_id": r.record_id} for r in action.target.crm_ids],
        "target_emails": list(action.target.emails),
        "target_domain": action.target.domain,
        "account_id": action.target.account_id,
        "owner": action.owner,
        "approver_group": action.approver_group,
        "risk_class": action.risk_class.value,
        "customer_facing": action.customer_facing,
        "state": state.value,
        "state_reason": reason,
        "payload": action.payload,
        "payload_hash": digest,
        "edited_payload": None,
        "approved_payload_hash": digest if auto else None,
        "reasons": list(action.reasons),
        "evidence": [e.model_dump(mode="json") for e in action.evidence],
        "policy_verdicts": policy_verdict_docs(action.policy_verdicts, verdict_docs),
        "model_version": action.model_version,
        "policy_version": action.policy_version,
        "kpi": action.kpi,
        "as_of": action.as_of,
        "proposed_at": action.proposed_at,
        "expires_at": action.expires_at,
        "decided_by": POLICY_ACTOR if auto or held else None,
        "decided_at": now if auto or held else None,
        "decision_note": None,
        "updated_at": now,
        "run_id": run_id,
        "row_version": 1,
    }
    event = {
        "action_id": action.action_id,
        "at": now,
        "actor": POLICY_ACTOR if auto or held else PLANNER_ACTOR,
        "event": "held_out" if held else "auto_approved" if auto else "proposed",
        "from_state": None,
        "to_state": state.value,
        "note": f"{action.holdout}; {note}" if held else note,
        "payload_before": None,
        "payload_after": None,
    }
    return row, event


def policy_verdict_docs(
    verdicts: list[PolicyVerdict], shared: dict[tuple, list[dict[str, Any]]] | None = None
) -> list[dict[str, Any]]:
    """The verdicts as the `actions` row stores them (each one's `model_dump`).

    A full build at 1M contacts writes ~114,000 actions with ~110 distinct verdict lists (the same rules pass the
    same way): with `shared`, equal verdicts give the one list kept there, so `insert_many` encodes it once."""
    if shared is None:
        return [v.model_dump() for v in verdicts]
    # Every field a dump holds: equal keys, equal dumps.
    key = tuple([(v.rule, v.verdict, v.detail) for v in verdicts])
    docs = shared.get(key)
    if docs is None:
        shared[key] = docs = [v.model_dump() for v in verdicts]
    return docs


def week_ago(now: datetime) -> datetime:
    """The start of the rolling week the contact caps count over."""
    return now - timedelta(days=7)


def as_json(value: Any) -> str:
    """Readable JSON for the command line."""
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)
