"""SQLite persistence of the sandbox CRM: objects, unique-value index, associations, owners, subscriptions.

Every object's properties are one JSON document; the last-modified time is also a column (indexed) so
incremental searches on `hs_lastmodifieddate` stay fast at hundreds of thousands of records.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from landing.contract import epoch_ms
from ops_store.clock import epoch_now

OBJECT_TYPES = ("contacts", "companies", "deals", "tasks", "notes")
ENGAGEMENT_TYPES = ("tasks", "notes")

# HubSpot's object type ids (used in v4 association answers).
# Records the sandbox creates (contacts, companies, deals) get ids from here up. Records loaded from exports keep
# their own ids, which are smaller (the sample world's run below 100,000,000): if the sandbox counted on from the
# largest loaded id, a contact it creates could take the id of a record a later export brings, and two people
# would share one id. HubSpot's own ids come from one allocator; here exports and the API are two.
CREATED_RECORD_FIRST_ID = 1_000_000_001
OBJECT_TYPE_IDS = {"contacts": "0-1", "companies": "0-2", "deals": "0-3", "notes": "0-46", "tasks": "0-27"}

# HUBSPOT_DEFINED default association type ids, as documented by HubSpot ("association type id values").
DEFAULT_ASSOCIATION_TYPES: dict[tuple[str, str], int] = {
    ("contacts", "companies"): 279,
    ("companies", "contacts"): 280,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
    ("deals", "companies"): 341,
    ("companies", "deals"): 342,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("notes", "companies"): 190,
    ("companies", "notes"): 189,
    ("notes", "deals"): 214,
    ("deals", "notes"): 213,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("tasks", "companies"): 192,
    ("companies", "tasks"): 191,
    ("tasks", "deals"): 216,
    ("deals", "tasks"): 215,
}
# The label-less type id each direction's inverse uses, to store both directions of one association.
PRIMARY_ASSOCIATION_TYPES = {
    1: ("contacts", "companies"),
    2: ("companies", "contacts"),
    5: ("deals", "companies"),
    6: ("companies", "deals"),
}

# The "last modified" property of each type (contacts use `lastmodifieddate`, everything also gets
# `hs_lastmodifieddate`, which is what Actionhouse filters on).
MODIFIED_PROPERTIES = ("hs_lastmodifieddate", "lastmodifieddate")

SUBSCRIPTION_DEFINITIONS = (
    {
        "id": "1",
        "name": "Marketing Information",
        "description": "Marketing offers and updates.",
        "purpose": "Marketing",
        "communicationMethod": "Email",
        "isActive": True,
        "isDefault": True,
        "isInternal": False,
    },
    {
        "id": "2",
        "name": "One to One",
        "description": "One to one emails from sales.",
        "purpose": "Sales",
        "communicationMethod": "Email",
        "isActive": True,
        "isDefault": True,
        "isInternal": True,
    },
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    object_type TEXT NOT NULL, id INTEGER NOT NULL, properties TEXT NOT NULL,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, archived INTEGER NOT NULL DEFAULT 0,
    merged_into INTEGER, PRIMARY KEY (object_type, id));
CREATE INDEX IF NOT EXISTS objects_by_modified ON objects (object_type, archived, updated_ms, id);
CREATE TABLE IF NOT EXISTS unique_values (
    object_type TEXT NOT NULL, property TEXT NOT NULL, value TEXT NOT NULL, id INTEGER NOT NULL,
    PRIMARY KEY (object_type, property, value));
CREATE INDEX IF NOT EXISTS unique_values_by_record ON unique_values (object_type, id);
CREATE TABLE IF NOT EXISTS associations (
    from_type TEXT NOT NULL, from_id INTEGER NOT NULL, to_type TEXT NOT NULL, to_id INTEGER NOT NULL,
    type_id INTEGER NOT NULL, category TEXT NOT NULL DEFAULT 'HUBSPOT_DEFINED',
    PRIMARY KEY (from_type, from_id, to_type, to_id, type_id));
CREATE TABLE IF NOT EXISTS owners (
    id INTEGER PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, user_id INTEGER,
    created_ms INTEGER NOT NULL, updated_ms INTEGER NOT NULL, archived INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS subscriptions (
    email TEXT NOT NULL, subscription_id TEXT NOT NULL, status TEXT NOT NULL, legal_basis TEXT,
    updated_ms INTEGER NOT NULL, PRIMARY KEY (email, subscription_id));
CREATE TABLE IF NOT EXISTS property_definitions (
    object_type TEXT NOT NULL, name TEXT NOT NULL, definition TEXT NOT NULL, created_ms INTEGER NOT NULL,
    PRIMARY KEY (object_type, name));
CREATE TABLE IF NOT EXISTS sequence_enrollments (
    id INTEGER PRIMARY KEY, sequence_id TEXT NOT NULL, contact_id TEXT NOT NULL, sender_email TEXT NOT NULL,
    user_id TEXT, enrolled_ms INTEGER NOT NULL, UNIQUE (sequence_id, contact_id));
"""


def now_ms() -> int:
    """Milliseconds since the epoch (HubSpot's timestamp resolution), on the operational clock: a simulation's
    offset (`ops_store.clock`) moves the sandbox CRM's timestamps with the rest of Actionhouse, as a real CRM lives
    in the same time as its users."""
    return int(epoch_now() * 1000)


def iso_from_ms(ms: int) -> str:
    """HubSpot's timestamp format: `2026-03-01T09:30:00.123Z`."""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def ms_from_value(value: str | int | float) -> int:
    """Parse a search filter / property timestamp: epoch milliseconds or ISO 8601 (raises ValueError)."""
    return epoch_ms(value)


class StoredObject:
    """One CRM record as stored (properties are all strings, like HubSpot's)."""

    __slots__ = ("object_type", "id", "properties", "created_ms", "updated_ms", "archived")

    def __init__(
        self, object_type: str, id: int, properties: dict, created_ms: int, updated_ms: int, archived: bool = False
    ) -> None:
        self.object_type, self.id, self.properties = object_type, id, properties
        self.created_ms, self.updated_ms, self.archived = created_ms, updated_ms, archived


class SandboxStore:
    """The sandbox CRM's data, in one SQLite file (WAL, so `crm seed` can write while the server runs)."""

    def __init__(self, db_path: Path | str, unique_properties: dict[str, tuple[str, ...]] | None = None) -> None:
        self.db_path = Path(db_path)
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._con = sqlite3.connect(self.db_path, check_same_thread=False, isolation_level=None, timeout=30)
        self._con.execute("PRAGMA journal_mode=WAL")
        self._con.execute("PRAGMA synchronous=NORMAL")
        self._con.executescript(_SCHEMA)
        self.unique_properties = unique_properties or {}
        self.lock = threading.RLock()
        self._last_ms = 0

    def close(self) -> None:
        """Close the SQLite connection."""
        self._con.close()

    # -- time -------------------------------------------------------------------------------------
    def tick(self) -> int:
        """A strictly increasing millisecond timestamp, so every write gets its own modification time."""
        ms = max(now_ms(), self._last_ms + 1)
        self._last_ms = ms
        return ms

    # -- transactions ------------------------------------------------------------------------------
    def transaction(self):
        """`with store.transaction():` one SQLite transaction under the store lock."""
        store = self

        class _Tx:
            def __enter__(self_inner):
                store.lock.acquire()
                store._con.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, exc, tb):
                try:
                    store._con.execute("ROLLBACK" if exc_type else "COMMIT")
                finally:
                    store.lock.release()
                return False

        return _Tx()

    # -- objects -----------------------------------------------------------------------------------
    def _row_to_object(self, object_type: str, row: Sequence) -> StoredObject:
        return StoredObject(object_type, row[0], json.loads(row[1]), row[2], row[3], bool(row[4]))

    def get(self, object_type: str, object_id: int, include_archived: bool = False) -> StoredObject | None:
        """The record with this id (following merges to the surviving record), or None."""
        row = self._con.execute(
            "SELECT id, properties, created_ms, updated_ms, archived, merged_into FROM objects "
            "WHERE object_type = ? AND id = ?",
            (object_type, object_id),
        ).fetchone()
        if row is None:
            return None
        if row[5] is not None:
            return self.get(object_type, row[5], include_archived)
        if row[4] and not include_archived:
            return None
        return self._row_to_object(object_type, row)

    def find_id(self, object_type: str, property_name: str, value: str) -> int | None:
        """Id of the record whose unique property has this value (emails compare case-insensitively)."""
        if property_name == "hs_object_id":
            return int(value) if str(value).isdigit() and self.get(object_type, int(value)) else None
        row = self._con.execute(
            "SELECT id FROM unique_values WHERE object_type = ? AND property = ? AND value = ?",
            (object_type, property_name, self._unique_key(property_name, value)),
        ).fetchone()
        return row[0] if row else None

    @staticmethod
    def _unique_key(property_name: str, value: str) -> str:
        return str(value).strip().lower() if property_name == "email" else str(value)

    def next_id(self, object_type: str) -> int:
        # Engagements (tasks, notes, ...) share one id space, as in HubSpot, so an activity id names one record.
        """The id of the next record the sandbox creates of this type (engagements from 1001, records from
        `CREATED_RECORD_FIRST_ID`, each past the largest so far)."""
        types = ENGAGEMENT_TYPES if object_type in ENGAGEMENT_TYPES else (object_type,)
        marks = ", ".join("?" for _ in types)
        row = self._con.execute(
            f"SELECT coalesce(max(id), 0) FROM objects WHERE object_type IN ({marks})", types
        ).fetchone()
        first = 1001 if object_type in ENGAGEMENT_TYPES else CREATED_RECORD_FIRST_ID
        return max(row[0] + 1, first)

    def put(self, obj: StoredObject) -> None:
        """Insert or replace a record and keep its unique-value index (call inside a transaction)."""
        obj.properties["hs_object_id"] = str(obj.id)
        obj.properties.setdefault("createdate", iso_from_ms(obj.created_ms))
        stamp = iso_from_ms(obj.updated_ms)
        obj.properties["hs_lastmodifieddate"] = stamp
        if obj.object_type == "contacts":
            obj.properties["lastmodifieddate"] = stamp
        self._con.execute(
            "INSERT OR REPLACE INTO objects (object_type, id, properties, created_ms, updated_ms, archived) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (obj.object_type, obj.id, json.dumps(obj.properties), obj.created_ms, obj.updated_ms, int(obj.archived)),
        )
        for prop in self.unique_properties.get(obj.object_type, ()):
            self._con.execute(
                "DELETE FROM unique_values WHERE object_type = ? AND property = ? AND id = ?",
                (obj.object_type, prop, obj.id),
            )
            value = obj.properties.get(prop)
            if value not in (None, "") and not obj.archived:
                self._con.execute(
                    "INSERT OR REPLACE INTO unique_values (object_type, property, value, id) VALUES (?, ?, ?, ?)",
                    (obj.object_type, prop, self._unique_key(prop, value), obj.id),
                )

    def unique_conflict(self, object_type: str, properties: dict, own_id: int | None) -> str | None:
        """Name of a unique property whose new value already belongs to another record, if any."""
        for prop in self.unique_properties.get(object_type, ()):
            value = properties.get(prop)
            if value not in (None, ""):
                other = self.find_id(object_type, prop, value)
                if other is not None and other != own_id:
                    return prop
        return None

    def archive(self, object_type: str, object_id: int, merged_into: int | None = None) -> bool:
        """Archive a record (or mark it merged); False if it did not exist."""
        obj = self.get(object_type, object_id)
        if obj is None:
            return False
        obj.archived = True
        obj.updated_ms = self.tick()
        self.put(obj)
        if merged_into is not None:
            self._con.execute(
                "UPDATE objects SET merged_into = ? WHERE object_type = ? AND id = ?",
                (merged_into, object_type, object_id),
            )
        return True

    def list_page(self, object_type: str, after: int, limit: int, archived: bool = False) -> list[StoredObject]:
        """Records by id, after an id (the list endpoint's paging)."""
        rows = self._con.execute(
            "SELECT id, properties, created_ms, updated_ms, archived FROM objects WHERE object_type = ? "
            "AND archived = ? AND merged_into IS NULL AND id > ? ORDER BY id LIMIT ?",
            (object_type, int(archived), after, limit),
        ).fetchall()
        return [self._row_to_object(object_type, r) for r in rows]

    def search(
        self, object_type: str, where: str, params: list, order_by: str, offset: int, limit: int
    ) -> tuple[int, list[StoredObject]]:
        """Total and one page of live records matching a SQL condition built by the search endpoint."""
        base = f"FROM objects WHERE object_type = ? AND archived = 0 AND ({where})"
        total = self._con.execute(f"SELECT count(*) {base}", [object_type, *params]).fetchone()[0]
        rows = self._con.execute(
            f"SELECT id, properties, created_ms, updated_ms, archived {base} ORDER BY {order_by} LIMIT ? OFFSET ?",
            [object_type, *params, limit, offset],
        ).fetchall()
        return total, [self._row_to_object(object_type, r) for r in rows]

    # -- associations ------------------------------------------------------------------------------
    def associate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int, category: str = "HUBSPOT_DEFINED"
    ) -> None:
        """Store an association and its inverse (default type ids both ways)."""
        self._con.execute(
            "INSERT OR IGNORE INTO associations VALUES (?, ?, ?, ?, ?, ?)",
            (from_type, from_id, to_type, to_id, type_id, category),
        )
        inverse = DEFAULT_ASSOCIATION_TYPES.get((to_type, from_type))
        if inverse is not None:
            self._con.execute(
                "INSERT OR IGNORE INTO associations VALUES (?, ?, ?, ?, ?, ?)",
                (to_type, to_id, from_type, from_id, inverse, "HUBSPOT_DEFINED"),
            )

    def associations_of(self, from_type: str, from_id: int, to_type: str) -> dict[int, list[tuple[str, int]]]:
        """`{to_id: [(category, type_id), ...]}` of one record towards one object type."""
        found: dict[int, list[tuple[str, int]]] = {}
        for to_id, type_id, category in self._con.execute(
            "SELECT to_id, type_id, category FROM associations WHERE from_type = ? AND from_id = ? "
            "AND to_type = ? ORDER BY to_id, type_id",
            (from_type, from_id, to_type),
        ):
            found.setdefault(to_id, []).append((category, type_id))
        return found

    def move_associations(self, object_type: str, from_id: int, to_id: int) -> None:
        """Re-point a merged record's associations to the surviving record."""
        self._con.execute(
            "UPDATE OR IGNORE associations SET from_id = ? WHERE from_type = ? AND from_id = ?",
            (to_id, object_type, from_id),
        )
        self._con.execute(
            "UPDATE OR IGNORE associations SET to_id = ? WHERE to_type = ? AND to_id = ?", (to_id, object_type, from_id)
        )

    # -- owners ------------------------------------------------------------------------------------
    def add_owners(self, owners: Iterable[dict]) -> list[int]:
        """Create owners (`email`, `firstName`, `lastName`); existing emails are kept. Returns their ids."""
        ids = []
        with self.transaction():
            for owner in owners:
                row = self._con.execute(
                    "SELECT id FROM owners WHERE lower(email) = lower(?)", (owner["email"],)
                ).fetchone()
                if row:
                    ids.append(row[0])
                    continue
                owner_id = self._con.execute("SELECT coalesce(max(id), 70000000) + 1 FROM owners").fetchone()[0]
                ms = self.tick()
                self._con.execute(
                    "INSERT INTO owners VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
                    (
                        owner_id,
                        owner["email"],
                        owner.get("firstName", ""),
                        owner.get("lastName", ""),
                        owner_id - 60000000,
                        ms,
                        ms,
                    ),
                )
                ids.append(owner_id)
        return ids

    def owners(self, after: int, limit: int, email: str | None = None) -> list[dict]:
        """Owners in id order, HubSpot's owner shape."""
        sql = (
            "SELECT id, email, first_name, last_name, user_id, created_ms, updated_ms FROM owners "
            "WHERE archived = 0 AND id > ?"
        )
        params: list = [after]
        if email:
            sql += " AND lower(email) = lower(?)"
            params.append(email)
        rows = self._con.execute(sql + " ORDER BY id LIMIT ?", [*params, limit]).fetchall()
        return [
            {
                "id": str(r[0]),
                "email": r[1],
                "firstName": r[2],
                "lastName": r[3],
                "userId": r[4],
                "createdAt": iso_from_ms(r[5]),
                "updatedAt": iso_from_ms(r[6]),
                "archived": False,
                "teams": [],
            }
            for r in rows
        ]

    def owner_exists(self, owner_id: str) -> bool:
        """True if an owner with this id exists."""
        return (
            str(owner_id).isdigit()
            and self._con.execute("SELECT 1 FROM owners WHERE id = ? AND archived = 0", (int(owner_id),)).fetchone()
            is not None
        )

    # -- subscriptions -----------------------------------------------------------------------------
    def subscription_status(self, email: str, subscription_id: str) -> str | None:
        row = self._con.execute(
            "SELECT status FROM subscriptions WHERE email = ? AND subscription_id = ?", (email.lower(), subscription_id)
        ).fetchone()
        return row[0] if row else None

    def set_subscription(self, email: str, subscription_id: str, status: str, legal_basis: str | None) -> None:
        self._con.execute(
            "INSERT OR REPLACE INTO subscriptions VALUES (?, ?, ?, ?, ?)",
            (email.lower(), subscription_id, status, legal_basis, self.tick()),
        )

    # -- custom property definitions ----------------------------------------------------------------
    def property_definition(self, object_type: str, name: str) -> dict | None:
        row = self._con.execute(
            "SELECT definition FROM property_definitions WHERE object_type = ? AND name = ?", (object_type, name)
        ).fetchone()
        return json.loads(row[0]) if row else None

    def property_definitions(self, object_type: str) -> list[dict]:
        rows = self._con.execute(
            "SELECT definition FROM property_definitions WHERE object_type = ? ORDER BY name", (object_type,)
        ).fetchall()
        return [json.loads(r[0]) for r in rows]

    def add_property_definition(self, object_type: str, definition: dict) -> None:
        self._con.execute(
            "INSERT INTO property_definitions VALUES (?, ?, ?, ?)",
            (object_type, definition["name"], json.dumps(definition), self.tick()),
        )

    # -- sequence enrollments ----------------------------------------------------------------------
    def enrollment(self, sequence_id: str, contact_id: str) -> dict | None:
        row = self._con.execute(
            "SELECT id, sequence_id, contact_id, sender_email, enrolled_ms FROM sequence_enrollments "
            "WHERE sequence_id = ? AND contact_id = ?",
            (sequence_id, contact_id),
        ).fetchone()
        if row is None:
            return None
        return {"id": str(row[0]), "sequenceId": row[1], "contactId": row[2], "senderEmail": row[3], "ms": row[4]}

    def enrollments_of(self, contact_id: str) -> list[dict]:
        rows = self._con.execute(
            "SELECT sequence_id FROM sequence_enrollments WHERE contact_id = ? ORDER BY id", (contact_id,)
        ).fetchall()
        return [self.enrollment(r[0], contact_id) for r in rows]

    def enroll(self, sequence_id: str, contact_id: str, sender_email: str, user_id: str | None) -> dict:
        self._con.execute(
            "INSERT INTO sequence_enrollments (sequence_id, contact_id, sender_email, user_id, enrolled_ms) "
            "VALUES (?, ?, ?, ?, ?)",
            (sequence_id, contact_id, sender_email, user_id, self.tick()),
        )
        return self.enrollment(sequence_id, contact_id)

    # -- read side (the sample world reads what was synced, `sample_world/answers.py`) ---------------------
    def changed_since(self, object_type: str, after_ms: int, after_id: int, limit: int = 10_000) -> list[StoredObject]:
        """Live records written after the watermark `(after_ms, after_id)`, in `(updated_ms, id)` order."""
        rows = self._con.execute(
            "SELECT id, properties, created_ms, updated_ms, archived FROM objects WHERE object_type = ? "
            "AND archived = 0 AND merged_into IS NULL AND (updated_ms > ? OR (updated_ms = ? AND id > ?)) "
            "ORDER BY updated_ms, id LIMIT ?",
            (object_type, after_ms, after_ms, after_id, limit),
        ).fetchall()
        return [self._row_to_object(object_type, r) for r in rows]

    def enrollments_after(self, after_id: int, limit: int = 10_000) -> list[dict]:
        """Sequence enrollments with an id above `after_id`, in id order."""
        rows = self._con.execute(
            "SELECT id, sequence_id, contact_id, sender_email, enrolled_ms FROM sequence_enrollments "
            "WHERE id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        ).fetchall()
        return [
            {"id": r[0], "sequenceId": r[1], "contactId": r[2], "senderEmail": r[3], "ms": r[4]} for r in rows
        ]

    def owner_names(self) -> dict[str, str]:
        """Owner id -> "First Last" (archived owners included: a record may still point at one)."""
        rows = self._con.execute("SELECT id, first_name, last_name FROM owners").fetchall()
        return {str(r[0]): " ".join(p for p in (r[1], r[2]) if p) for r in rows}

    def counts(self) -> dict[str, int]:
        """Live records per object type (for `crm seed` and tests)."""
        rows = self._con.execute(
            "SELECT object_type, count(*) FROM objects WHERE archived = 0 GROUP BY object_type"
        ).fetchall()
        return {t: c for t, c in rows}
