"""dbt project: build the staging layer on a small raw database and check normalized values."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

DBT_PROJECT = Path(__file__).resolve().parents[1] / "dbt_project"
DBT = Path(sys.executable).parent / "dbt"


def _load_create_dev_raw():
    spec = importlib.util.spec_from_file_location("create_dev_raw", DBT_PROJECT / "scripts" / "create_dev_raw.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.create_dev_raw


def _dbt_build(warehouse: Path, tmp_path: Path, extra_env: dict[str, str] | None = None):
    env = {
        **os.environ,
        "ACTIONHOUSE_WAREHOUSE": str(warehouse),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        **(extra_env or {}),
    }
    cmd = [
        str(DBT) if DBT.exists() else "dbt",
        "build",
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(tmp_path / "target"),
        "--log-path",
        str(tmp_path / "logs"),
    ]
    return subprocess.run(cmd, env=env, cwd=DBT_PROJECT, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("dbt_build")
    warehouse = _load_create_dev_raw()(tmp_path / "warehouse.duckdb")
    result = _dbt_build(warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    return warehouse


def _query(warehouse: Path, sql: str):
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        con.execute("set TimeZone = 'UTC'")
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_contacts_are_deduplicated_and_normalized(built_warehouse):
    rows = _query(
        built_warehouse,
        """select contact_id, last_name, email, email_domain, phone, country_code, website_domain,
                  role_category, seniority, linkedin_url, strftime(last_modified_at, '%Y-%m-%d %H:%M')
           from staging.stg_hubspot__contacts order by contact_id""",
    )
    assert [r[0] for r in rows] == [1001, 1002, 1003, 1004]  # 1001 appears twice in raw
    ana = rows[0]
    assert ana[1:] == (
        "Souza Lima",
        "ana@acme.io",
        "acme.io",
        "+14155550123",
        "US",
        "acme.io",
        "sales",
        "vp",
        "linkedin.com/in/ana-souza",
        "2026-03-01 09:30",
    )
    bernd, chloe, dan = rows[1], rows[2], rows[3]
    assert (bernd[4], bernd[5], bernd[7], bernd[8]) == ("+49301234567", "DE", "marketing", "director")
    assert (chloe[2], chloe[4], chloe[5]) == (None, "+442079460958", "GB")  # invalid email, 0044 prefix
    assert (chloe[7], chloe[8], chloe[10]) == ("engineering", "individual_contributor", "2026-01-07 09:00")
    assert (dan[4], dan[5], dan[7], dan[8]) == (None, None, "other", "intern")


def test_invalid_email_keeps_raw_value(built_warehouse):
    assert _query(
        built_warehouse,
        "select email, email_is_valid, email_raw from staging.stg_hubspot__contacts where contact_id = 1003",
    ) == [(None, False, "chloe@@gamma")]


def test_events_enrichment_and_usage(built_warehouse):
    assert _query(
        built_warehouse,
        "select message_id, is_pricing_page, user_email from staging.stg_segment__web_events where event_type = 'page'",
    ) == [("w-1", True, "ana@acme.io")]
    assert _query(
        built_warehouse,
        "select count(*), count(distinct payload_id) from staging.stg_vendors__enrichment",
    ) == [(4, 2)]
    assert _query(
        built_warehouse,
        "select distinct account_domain from staging.stg_product__usage",
    ) == [("acme.io",)]
    assert _query(
        built_warehouse,
        "select submission_id, strftime(submitted_at, '%H:%M'), role_category, seniority, country_code, phone "
        "from staging.stg_forms__leads order by 1",
    ) == [
        ("9001", "08:15", "sales", "c_level", "FR", "+33612345678"),
        ("9002", "07:00", "marketing", "manager", "NL", "+31612345678"),
    ]


def test_build_on_empty_raw_tables_in_other_timezone(tmp_path):
    warehouse = _load_create_dev_raw()(tmp_path / "empty.duckdb", empty=True)
    result = _dbt_build(warehouse, tmp_path, {"ACTIONHOUSE_EXPORT_TIMEZONE": "Europe/Berlin"})
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    assert _query(warehouse, "select count(*) from staging.stg_hubspot__contacts") == [(0,)]
