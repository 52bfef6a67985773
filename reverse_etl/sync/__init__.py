"""The sync engine: approved actions and changed scores to the CRM, exactly the approved rows, once.

    engine = SyncEngine(open_store(url), HubSpotWriter(client, policy), policy)
    report = engine.run()                         # or run(dry_run=True): what would be sent, writing nothing

Guarantees (docs/sync.md): at-least-once delivery to the CRM with an exactly-once effect — every request carries
an idempotency key (the action id, stored in the CRM as `actionhouse_id` or made idempotent by the endpoint), and
an outbox row or a ledger entry changes only after the CRM's answer for that row is known. One sync per CRM
connection at a time (a lease); last-mile checks against the operational store right before each batch.
"""

from reverse_etl.sync.engine import SyncEngine, SyncReport
from reverse_etl.sync.lease import LeaseHeld

__all__ = ["LeaseHeld", "SyncEngine", "SyncReport"]
