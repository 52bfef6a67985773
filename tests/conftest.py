"""Shared fixtures: a prepared dbt manifest, and warehouses in temporary folders."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# Tests never touch the checkout's data/ folder: everything lives under pytest's tmp_path.
os.environ.setdefault("DAGSTER_DISABLE_TELEMETRY", "1")
os.environ.setdefault("DO_NOT_TRACK", "1")
# Tests write landing files and load them at once: no waiting for files to settle (tests of the wait pass their own).
os.environ.setdefault("ACTIONHOUSE_LANDING_SETTLE_SECONDS", "0")

# `make test` runs the modules on two workers (pytest-xdist `--dist loadfile`: a module's tests on one worker, in
# order, sharing its fixtures) and hands a worker the next module when it is nearly done. The longest modules
# (seconds in a serial run on 2 cores, most of them waiting on one dbt or Dagster process) go first, so the two
# workers end together rather than one starting a long module when the other is finishing.
LONGEST_MODULES_FIRST = (
    "test_end_to_end.py",  # ~175 s: the demo through the CLI, then the next hour
    "test_dbt_project.py",  # ~150 s: a dbt build of the dev raw tables, then tests on it
    "test_dbt_empty_build.py",  # ~145 s: a dbt build of empty raw tables in another time zone
    "test_dbt_preload.py",  # ~95 s: a small dbt project's commands, each with and without a preloaded process
    "test_dbt_manifest.py",  # ~90 s: three dbt parses of a copied project
    "test_incremental_equivalence.py",  # ~85 s
    "test_console_browser.py",
    "test_sync_engine.py",
    "test_actions_prepass.py",
    "test_crm_hubspot_client.py",
    "test_landing_csv_engine.py",
    "test_phones.py",
    "test_lead_capture.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest modules first (`LONGEST_MODULES_FIRST`), every other module after them in its usual order."""
    rank = {name: position for position, name in enumerate(LONGEST_MODULES_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))


@pytest.fixture(scope="session")
def dbt_manifest() -> Path:
    """Parse the dbt project once per test session (definitions need the manifest to load)."""
    from orchestration.dbt import prepare_dbt_manifest

    return prepare_dbt_manifest()


@pytest.fixture
def engine(tmp_path):
    """An operational store (SQLite, migrated) in a temporary folder, for the planner and queue tests."""
    from ops_store import open_store

    engine = open_store(f"sqlite:///{tmp_path / 'ops.sqlite'}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def actionhouse_defs(dbt_manifest, tmp_path_factory):
    """The whole Definitions object, loaded the way `dg dev` loads it, with paths in a temporary folder."""
    data_dir = tmp_path_factory.mktemp("defs_data")
    os.environ["ACTIONHOUSE_DATA_DIR"] = str(data_dir)
    from orchestration.definitions import defs

    return defs()


@pytest.fixture
def warehouse(tmp_path):
    """A warehouse resource on a fresh DuckDB file and landing folder under tmp_path."""
    from orchestration.resources import WarehouseResource

    landing = tmp_path / "landing"
    landing.mkdir()
    return WarehouseResource(database_path=str(tmp_path / "warehouse.duckdb"), landing_dir=str(landing))


def _postgres_bin() -> Path | None:
    """Debian's PostgreSQL server binaries (`/usr/lib/postgresql/<version>/bin`), newest first."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"), key=lambda p: int(p.parent.parent.name))
    return found[-1].parent if found else None


@pytest.fixture(scope="session")
def postgres_url():
    """A real PostgreSQL server on a loopback port for this test session; its SQLAlchemy URL.

    Started from Debian's `postgresql` package (installed by `make test` where missing); skipped only where the
    server binary is absent. PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
    """
    import pwd
    import shutil
    import socket
    import subprocess
    import tempfile

    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (make test installs Debian's postgresql package)")
    as_user: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="actionhouse-pg-"))
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(workdir, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    data = workdir / "data"
    run = {"check": True, "capture_output": True, "text": True, "timeout": 120}
    subprocess.run(
        [
            *as_user,
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "actionhouse",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ],
        **run,
    )
    options = f"-p {port} -k {workdir} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start"],
        **run,
    )
    try:
        subprocess.run(
            [
                *as_user,
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "actionhouse",
                "actionhouse_test",
            ],
            **run,
        )
        yield f"postgresql+psycopg://actionhouse@127.0.0.1:{port}/actionhouse_test"
    finally:
        subprocess.run(
            [*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def ops_store_url(request, tmp_path):
    """A fresh, empty operational store URL on SQLite and on the real PostgreSQL server (one database per test)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'operations.sqlite'}"
    import uuid

    import sqlalchemy as sa

    base = request.getfixturevalue("postgres_url")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as con:
        con.execute(sa.text(f"create database {name}"))
    admin.dispose()
    return base.rsplit("/", 1)[0] + f"/{name}"
