"""Load the sample world's HubSpot exports (landing CSVs) into the sandbox CRM, keeping their record ids."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crm_sandbox.store import DEFAULT_ASSOCIATION_TYPES, SandboxStore, StoredObject, ms_from_value, now_ms
from landing.contract import SOURCES, snake_case
from reverse_etl.crm.hubspot_mapping import (
    ASSOCIATION_COLUMNS,
    OWNER_COLUMNS,
    RAW_SOURCES,
    raw_row_to_properties,
)

SEED_ORDER = ("companies", "contacts", "deals")  # associations point at records loaded before them


@dataclass
class SeedReport:
    """Records written per object type, rows skipped (with reasons), owners and associations created."""

    records: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    owners: int = 0
    associations: int = 0


def _rows(paths: list[Path]) -> Iterator[tuple[str, int, dict[str, str]]]:
    for path in paths:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [snake_case(label) for label in next(reader, [])]
            for line, values in enumerate(reader, start=2):
                yield path.name, line, dict(zip(header, values, strict=False))


def _ms(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return ms_from_value(value)
    except ValueError:
        return None


def seed_from_landing(store: SandboxStore, landing_dir: Path | str) -> SeedReport:
    """Write every contact, company and deal in the landing exports into the sandbox (later files win).

    Owners are created from the owner names; `Associated ... IDs` become default associations. Rows
    without a numeric Record ID are skipped and counted, with a reason (never silently).
    """
    files = {}
    for object_type in SEED_ORDER:
        folder = Path(landing_dir) / SOURCES[RAW_SOURCES[object_type]].folder
        files[object_type] = sorted(folder.glob("*.csv")) if folder.is_dir() else []
    return seed_files(store, files)


def seed_files(store: SandboxStore, files: dict[str, list[Path]], only_new: bool = False) -> SeedReport:
    """Write the records of these HubSpot export files (per object type, in order: later files win) into the sandbox.

    With `only_new`, records the sandbox already holds are left as they are: how the sample world adds the contacts
    it creates in later hours without undoing what the sync wrote to existing ones; they are stamped with the
    sandbox's clock, as the sync's writes are. Owners are found by name (and created when new) as in
    `seed_from_landing`.
    """
    report = SeedReport()
    loaded: dict[str, list[tuple[str, int, dict[str, str]]]] = {
        t: list(_rows(files.get(t, []))) for t in SEED_ORDER
    }
    owner_names = sorted({row.get(OWNER_COLUMNS[t], "").strip() for t in SEED_ORDER for _, _, row in loaded[t]} - {""})
    owner_ids = dict(
        zip(
            owner_names,
            store.add_owners(
                {
                    "email": f"{name.lower().replace(' ', '.').replace(chr(39), '')}@owners.sandbox.invalid",
                    "firstName": name.split(" ")[0],
                    "lastName": " ".join(name.split(" ")[1:]),
                }
                for name in owner_names
            ),
            strict=True,
        )
    )
    report.owners = len(owner_ids)
    links: list[tuple[str, int, str, int]] = []
    for object_type in SEED_ORDER:
        written: set[int] = set()
        with store.transaction():
            for file_name, line, row in loaded[object_type]:
                record_id = (row.get("record_id") or "").strip()
                if not record_id.isdigit():
                    report.skipped[object_type] = report.skipped.get(object_type, 0) + 1
                    report.reasons.append(f"{object_type} {file_name}:{line}: Record ID {record_id!r} is not a number")
                    continue
                properties = raw_row_to_properties(object_type, row)
                properties.pop("hs_object_id", None)
                owner = (row.get(OWNER_COLUMNS[object_type]) or "").strip()
                if owner:
                    properties["hubspot_owner_id"] = str(owner_ids[owner])
                created = _ms(properties.get("createdate")) or now_ms()
                modified_property = "lastmodifieddate" if object_type == "contacts" else "hs_lastmodifieddate"
                modified = _ms(properties.get(modified_property)) or created
                existing = store.get(object_type, int(record_id), include_archived=True)
                if existing is not None and (only_new or existing.updated_ms > modified):
                    continue  # kept as it is, or an older export of a record already loaded from a newer file
                if only_new:
                    # Added now, on the sandbox's clock like every write after the seed: a reader's cursor over
                    # update times must not jump to the export's dates.
                    created = modified = store.tick()
                store.put(StoredObject(object_type, int(record_id), properties, created, modified))
                written.add(int(record_id))
                for column, target in ASSOCIATION_COLUMNS.get(object_type, {}).items():
                    for target_id in (row.get(column) or "").split(";"):
                        if target_id.strip().isdigit():
                            links.append((object_type, int(record_id), target, int(target_id.strip())))
        report.records[object_type] = len(written)
    with store.transaction():
        for from_type, from_id, to_type, to_id in links:
            if store.get(to_type, to_id) is not None:
                store.associate(from_type, from_id, to_type, to_id, DEFAULT_ASSOCIATION_TYPES[(from_type, to_type)])
                report.associations += 1
    return report
