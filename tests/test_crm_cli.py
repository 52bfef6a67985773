"""`actionhouse crm serve --help` documents its settings; `actionhouse crm seed` loads the landing exports."""

from __future__ import annotations

import pytest

from crm_sandbox.config import SandboxConfig, config_from_env
from crm_sandbox.store import SandboxStore
from landing.contract import SOURCES
from orchestration.cli import build_parser, main
from reverse_etl.crm.hubspot_mapping import ASSOCIATION_COLUMNS, OBJECT_COLUMNS, OWNER_COLUMNS, RAW_SOURCES


def test_serve_help_lists_flags_and_environment_variables(capsys):
    with pytest.raises(SystemExit):
        build_parser().parse_args(["crm", "serve", "--help"])
    text = capsys.readouterr().out
    for needle in (
        "--host",
        "--port",
        "--token",
        "ACTIONHOUSE_CRM_TOKEN",
        "--rate-limit",
        "ACTIONHOUSE_SANDBOX_RATE_LIMIT",
        "--fault-207",
        "ACTIONHOUSE_SANDBOX_DB",
    ):
        assert needle in text


def test_config_from_env_and_bad_values():
    config = config_from_env(
        {"ACTIONHOUSE_SANDBOX_RATE_LIMIT": "5", "ACTIONHOUSE_CRM_TOKEN": "a, b", "ACTIONHOUSE_SANDBOX_FAULT_5XX": "0.5"}
    )
    assert (config.rate_limit, config.tokens, config.fault_5xx_rate) == (5, ("a", "b"), 0.5)
    assert SandboxConfig().fault_5xx_rate == 0.0  # faults are off by default
    with pytest.raises(ValueError, match="ACTIONHOUSE_SANDBOX_RATE_LIMIT"):
        config_from_env({"ACTIONHOUSE_SANDBOX_RATE_LIMIT": "lots"})


def test_mapping_covers_every_contract_column():
    for object_type, columns in OBJECT_COLUMNS.items():
        mapped = set(columns) | {OWNER_COLUMNS[object_type]} | set(ASSOCIATION_COLUMNS.get(object_type, {}))
        assert mapped == set(SOURCES[RAW_SOURCES[object_type]].column_names), object_type


def test_seed_loads_the_landing_exports(tmp_path, capsys):
    from sample_world import generate_world

    generate_world(tmp_path, contacts=60, seed=2)
    db = tmp_path / "crm.sqlite"
    assert main(["crm", "seed", "--landing", str(tmp_path / "landing"), "--db", str(db)]) == 0
    out = capsys.readouterr().out
    assert "Seeded the sandbox CRM" in out
    store = SandboxStore(db)
    counts = store.counts()
    store.close()
    # Every deal of the export is in the CRM (the world at 60 contacts has some), each once.
    import csv

    deal_ids = {
        row["Record ID"]
        for path in sorted((tmp_path / "landing" / "hubspot_deals").glob("*.csv"))
        for row in csv.DictReader(path.open(encoding="utf-8-sig"))
    }
    assert counts["contacts"] >= 50 and counts["companies"] > 0
    assert len(deal_ids) > 0 and counts["deals"] == len(deal_ids)
    assert main(["crm", "seed", "--landing", str(tmp_path / "missing"), "--db", str(db)]) == 2
