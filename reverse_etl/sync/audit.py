"""Audits of what the sync engine sent, read from the operational store (checks, evals, the console)."""

from __future__ import annotations

import sqlalchemy as sa

from ops_store.schema import actions, sync_outbox


def sent_without_approval(engine: sa.Engine, connection: str | None = None) -> list[str]:
    """Action ids sent to the CRM without a recorded approval of exactly the payload that went out.

    A sent outbox row passes when its action has a decider (a person, or the policy for auto actions) and the
    approved payload hash the row carried is the action's approved payload hash. Should always be empty."""
    query = (
        sa.select(
            sync_outbox.c.action_id,
            sync_outbox.c.payload,
            actions.c.decided_by,
            actions.c.approved_payload_hash,
        )
        .select_from(sync_outbox.outerjoin(actions, actions.c.action_id == sync_outbox.c.action_id))
        .where(sync_outbox.c.state.in_(["sent", "in_flight"]))
    )
    if connection is not None:
        query = query.where(sync_outbox.c.connection == connection)
    offending = []
    with engine.connect() as con:
        for action_id, payload, decided_by, approved_hash in con.execute(query):
            if not decided_by or not approved_hash or payload.get("approved_payload_hash") != approved_hash:
                offending.append(action_id)
    return offending
