"""The kill switch: one flag that pauses every send at once, with who turned it and why kept forever."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from ops_store.schema import kill_switch_events, utc_now


@dataclass(frozen=True)
class KillSwitchState:
    """Whether sends are paused, and the last change (None while the policy default applies)."""

    on: bool
    actor: str | None
    reason: str | None
    at: datetime | None


class KillSwitch:
    """Read and flip the kill switch in the operational store (history is append-only)."""

    def __init__(self, engine: sa.Engine, default: str = "off") -> None:
        self.engine = engine
        self.default = default

    def state(self) -> KillSwitchState:
        """The current state: the latest switch, else the policy default."""
        query = sa.select(kill_switch_events).order_by(kill_switch_events.c.event_id.desc()).limit(1)
        with self.engine.connect() as con:
            row = con.execute(query).mappings().first()
        if row is None:
            return KillSwitchState(on=self.default == "on", actor=None, reason=None, at=None)
        return KillSwitchState(on=row["state"] == "on", actor=row["actor"], reason=row["reason"], at=row["at"])

    def set(self, on: bool, actor: str, reason: str) -> KillSwitchState:
        """Turn the switch on (pause every send) or off; a reason is required."""
        if not actor.strip() or not reason.strip():
            raise ValueError("the kill switch needs a name (--as) and a reason")
        with self.engine.begin() as con:
            con.execute(
                sa.insert(kill_switch_events).values(
                    state="on" if on else "off", actor=actor.strip(), reason=reason.strip(), at=utc_now()
                )
            )
        return self.state()

    def history(self) -> list[dict[str, Any]]:
        """Every switch, oldest first."""
        with self.engine.connect() as con:
            return [
                dict(r)
                for r in con.execute(sa.select(kill_switch_events).order_by(kill_switch_events.c.event_id)).mappings()
            ]
