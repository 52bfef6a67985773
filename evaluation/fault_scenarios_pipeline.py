"""Fault scenarios of the hourly pipeline (issue 18): privacy of the Dagster home and growth of dbt's files.

Each scenario is a plain function taking a working directory (a fresh folder it may fill) and returning a dict
of figures; `make eval-faults` runs them and prints one `eval-faults ...` line. Each builds a small sample
world there and runs real refreshes in this process (`actionhouse generate` / `actionhouse refresh`).

- `pii_values_in_dagster_home`: a world is refreshed; then a bad deals export arrives (a refund booked as a
  deal with a negative amount: the loader accepts it, the staging deals gate fails with its examples, every
  model incl. dim_contacts was built); then a row written into the raw contacts table by something other than
  the loader (a contact's email shifted into the record id column: the raw gate fails, its failing example is
  that email). After the three refreshes every file under the Dagster home (run and event storage, compute
  logs, schedules) is read as bytes and searched for the world's contact emails and phone numbers. Goal: 0.
- `dbt_target_growth_mb_per_run`: a world is refreshed, then 2-3 more hours of data each get a refresh; the
  growth in MB of `dbt_project/target` (and, separately, of the Dagster home, which keeps each run's history)
  per extra refresh. Goal: near 0 for dbt's folder.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import duckdb

# The end-to-end test's world: its next hours refresh green (smaller worlds can trip the score drift gate).
WORLD_CONTACTS = 400
WORLD_SEED = 3
# A phone number shorter than this (after trimming) is too generic to search for as bytes.
MIN_PHONE_CHARS = 8
LOCATION_VARIABLES = ("ACTIONHOUSE_DATA_DIR", "ACTIONHOUSE_WAREHOUSE", "ACTIONHOUSE_LANDING_DIR", "DAGSTER_HOME")
CRM_VARIABLES = ("ACTIONHOUSE_CRM_BASE_URL", "ACTIONHOUSE_CRM_TOKEN")


@contextlib.contextmanager
def world_environment(data_dir: Path) -> Iterator[Path]:
    """Point every Actionhouse location (and the Dagster home) into `data_dir`, no CRM; restored afterwards."""
    names = (*LOCATION_VARIABLES, *CRM_VARIABLES)
    saved = {name: os.environ.get(name) for name in names}
    os.environ.update(
        ACTIONHOUSE_DATA_DIR=str(data_dir),
        ACTIONHOUSE_WAREHOUSE=str(data_dir / "warehouse.duckdb"),
        ACTIONHOUSE_LANDING_DIR=str(data_dir / "landing"),
        DAGSTER_HOME=str(data_dir / "dagster_home"),
    )
    for name in CRM_VARIABLES:
        os.environ.pop(name, None)
    try:
        yield data_dir
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _cli(*args: str) -> int:
    from orchestration.cli import main

    return main(list(args))


def world_contact_values(warehouse: Path) -> tuple[set[str], set[str]]:
    """The world's contact emails and phone numbers (as exported and as normalized), lowercased."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        emails = {
            row[0]
            for row in con.execute(
                "select distinct lower(trim(email)) from raw.hubspot_contacts where email like '%@%' "
                "union select distinct email from staging.stg_hubspot__contacts where email is not null"
            ).fetchall()
        }
        phones = {
            row[0].lower()
            for row in con.execute(
                "select trim(v) from (select unnest([phone_number, mobile_phone_number]) as v "
                "from raw.hubspot_contacts) where v is not null "
                "union select unnest([phone, mobile_phone]) from staging.stg_hubspot__contacts"
            ).fetchall()
            if row[0] and len(row[0]) >= MIN_PHONE_CHARS
        }
    finally:
        con.close()
    return emails, phones


def contact_values_found(folder: Path, values: Iterable[str]) -> tuple[set[str], int]:
    """Which of `values` occur (case-insensitively, as UTF-8 bytes) in any file under `folder`; files read."""
    wanted = {value.lower().encode() for value in values if value}
    found: set[bytes] = set()
    files = 0
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        files += 1
        content = path.read_bytes().lower()
        found |= {value for value in wanted - found if value in content}
    return {value.decode() for value in found}, files


def dbt_target_dir() -> Path:
    """dbt's target folder of the project (`dbt_project/target`; the project's own path is relative to it)."""
    from orchestration.dbt import actionhouse_dbt_project

    project = actionhouse_dbt_project()
    return Path(project.project_dir) / project.target_path


def folder_mb(folder: Path) -> float:
    """Size of every file under `folder`, in MB (0 when it does not exist)."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6 if folder.exists() else 0.0


NEGATIVE_AMOUNT_DEALS = (
    "Record ID,Deal Name,Deal Stage,Pipeline,Amount,Close Date,Create Date,Last Modified Date\n"
    "79000001,Refund booked as a deal,Closed Won,Sales Pipeline,-1200,2026-11-30,2026-11-20 10:00,2026-11-30 10:00\n"
)


def drop_negative_amount_deals(data_dir: Path) -> None:
    """A deals export the loader accepts but the staging deals gate rejects (an amount below zero)."""
    (data_dir / "landing" / "hubspot_deals" / "deals_refund_export.csv").write_text(NEGATIVE_AMOUNT_DEALS)


def plant_shifted_contact_row(data_dir: Path) -> str:
    """A raw contacts row written by another tool, one contact's email in the record id column (the raw gate
    fails with that email as its failing example); returns the email."""
    con = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    try:
        email, phone = con.execute(
            "select email, phone_number from raw.hubspot_contacts where email like '%@%' and phone_number <> '' "
            "order by record_id limit 1"
        ).fetchone()
        con.execute(
            "insert into raw.hubspot_contacts (record_id, email, phone_number, _source_file, _source_line, _loaded_at) "
            "values (?, ?, ?, 'another-tool', 1, now()::timestamp)",
            [email, phone, phone],
        )
    finally:
        con.close()
    return email


def _failed_gates_of_latest_run(warehouse: Path) -> list[str]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return [
            row[0]
            for row in con.execute(
                "select distinct suite from quality.expectation_results where not success and run_id = "
                "(select run_id from quality.expectation_results order by checked_at desc limit 1) order by 1"
            ).fetchall()
        ]
    finally:
        con.close()


def pii_values_in_dagster_home(workdir: Path, contacts: int = WORLD_CONTACTS, seed: int = WORLD_SEED) -> dict[str, Any]:
    """Contact emails and phones of a small world found anywhere in the Dagster home after three refreshes, the
    last two with a failing gate each (goal 0); with the world's counts, the failed gates and the files scanned."""
    data_dir = Path(workdir) / "pii_world"
    with world_environment(data_dir):
        assert _cli("generate", "--contacts", str(contacts), "--seed", str(seed), "--overwrite") == 0
        first_ok = _cli("refresh") == 0
        warehouse = data_dir / "warehouse.duckdb"
        drop_negative_amount_deals(data_dir)
        second_ok = _cli("refresh") == 0
        failed_gates = _failed_gates_of_latest_run(warehouse)
        planted = plant_shifted_contact_row(data_dir)
        third_ok = _cli("refresh") == 0
        failed_gates += _failed_gates_of_latest_run(warehouse)
        emails, phones = world_contact_values(warehouse)
        found, files = contact_values_found(data_dir / "dagster_home", emails | phones)
    return {
        "pii_values_in_dagster_home": len(found),
        "emails_found": len(found & emails),
        "phones_found": len(found & phones),
        "planted_email_found": int(planted.lower() in found),
        "world_emails": len(emails),
        "world_phones": len(phones),
        "failed_gates": len(failed_gates),
        "failed_gate_names": failed_gates,
        "first_refresh_ok": int(first_ok),
        "second_refresh_ok": int(second_ok),
        "third_refresh_ok": int(third_ok),
        "files_scanned": files,
        "examples": sorted(found)[:3],
    }


def dbt_target_growth_mb_per_run(
    workdir: Path, contacts: int = WORLD_CONTACTS, seed: int = WORLD_SEED, extra_refreshes: int = 2
) -> dict[str, Any]:
    """Growth in MB per extra hourly refresh of `dbt_project/target` (goal near 0) and of the Dagster home."""
    target = dbt_target_dir()
    data_dir = Path(workdir) / "growth_world"
    with world_environment(data_dir):
        assert _cli("generate", "--contacts", str(contacts), "--seed", str(seed), "--overwrite") == 0
        ok = _cli("refresh") == 0
        target_after_first, home_after_first = folder_mb(target), folder_mb(data_dir / "dagster_home")
        for _ in range(extra_refreshes):
            assert _cli("generate", "--hours", "1") == 0
            ok = (_cli("refresh") == 0) and ok
        target_after, home_after = folder_mb(target), folder_mb(data_dir / "dagster_home")
    return {
        "dbt_target_growth_mb_per_run": round((target_after - target_after_first) / extra_refreshes, 2),
        "dagster_home_growth_mb_per_run": round((home_after - home_after_first) / extra_refreshes, 2),
        "dbt_target_mb": round(target_after, 1),
        "extra_refreshes": extra_refreshes,
        "refreshes_ok": int(ok),
    }
