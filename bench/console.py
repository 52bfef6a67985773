"""Console benchmark: page latency over a 1M-contact publication (`make bench-console`).

A small sample world is built with `actionhouse demo` (3,000 contacts, once, in bench_data/console_base); its
publication is then scaled in DuckDB to `--contacts` golden contacts (every contact-keyed table — scores, features,
score history, golden records and their field provenance, the crosswalk — is copied with new ids; deals scale with
it), the console serves that publication on a loopback port, and a signed-in client requests every page type:
overview, scores (plain, filtered, a later page, a search), lead pages, the queue, an explain rail, data quality,
workflows & safety, pipeline and its deals. Latency is measured at the client, per request. The queue pages read the
demo's operational store as it is (its size does not grow with the publication).

Ends with one line: `bench-console contacts=... p95_ms=... pages=...` (p95 over every request of every page type).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import httpx
import numpy as np

from console.publish import DERIVED_SQL, create_derived

REPO = Path(__file__).resolve().parents[1]
BASE_CONTACTS = 3000
PASSWORD = "bench-console-password"
USER = "Bench Approver"
# Tables whose rows belong to one golden contact: (table, contact column).
CONTACT_TABLES = {
    "scores": "contact_id",
    "lead_scores": "contact_id",
    "score_history": "contact_id",
    "tier_movers": "contact_id",
    "contacts": "golden_contact_id",
    "golden_fields": "golden_contact_id",
    "crosswalk": "golden_contact_id",
}


def say(message: str) -> None:
    print(f"[bench-console] {message}", file=sys.stderr, flush=True)


def build_base(data_dir: Path) -> None:
    """The demo world whose publication is scaled (built once; reused by later runs)."""
    if (data_dir / "console" / "publication.duckdb").exists():
        say(f"reusing the demo world in {data_dir}")
        return
    env = {
        **os.environ,
        "ACTIONHOUSE_DATA_DIR": str(data_dir),
        "DAGSTER_HOME": str(data_dir / "dagster_home"),
        "DAGSTER_DISABLE_TELEMETRY": "1",
    }
    say(f"building a {BASE_CONTACTS:,}-contact demo world in {data_dir} ...")
    subprocess.run(
        [str(REPO / ".venv" / "bin" / "actionhouse"), "demo", "--contacts", str(BASE_CONTACTS), "--seed", "5"],
        env=env,
        cwd=REPO,
        stdout=sys.stderr,
        check=True,
    )


def scale_publication(base: Path, target: Path, contacts: int) -> int:
    """Write a publication with `contacts` golden contacts, copying the base one's contacts with new ids."""
    target.unlink(missing_ok=True)
    con = duckdb.connect(str(target))
    try:
        con.execute(f"attach '{base}' as base (read_only)")
        n = con.execute("select count(*) from base.scores").fetchone()[0]
        copies = math.ceil(contacts / n)
        con.execute(
            f"""create temp table idmap as
            select b.contact_id as src, r.i as copy,
                   case when r.i = 0 then b.contact_id else b.contact_id || '-c' || r.i end as dst
            from (select contact_id, row_number() over (order by contact_id) as rn from base.scores) b,
                 range({copies}) r(i)
            where r.i * {n} + b.rn <= {contacts}"""
        )
        tables = [
            r[0] for r in con.execute("select table_name from duckdb_tables() where database_name = 'base'").fetchall()
        ]
        for table in tables:
            column = CONTACT_TABLES.get(table)
            if table in DERIVED_SQL:
                continue  # recounted over the scaled scores below
            if column is None and table != "deals":
                con.execute(f"create table {table} as select * from base.{table}")
            elif table == "deals":
                con.execute(
                    f"create table deals as select * replace (deal_id + r.i * 1000000000 as deal_id) "
                    f"from base.deals, range({copies}) r(i)"
                )
            else:
                extra = ""
                if table == "crosswalk":
                    extra = ", source_record_id + m.copy * 1000000000 as source_record_id"
                con.execute(
                    f"create table {table} as select t.* replace (m.dst as {column}{extra}) "
                    f"from base.{table} t join idmap m on m.src = t.{column} order by m.dst"
                )
        # Deciles over the scaled population, and Tier 1's reasons counted the way a publication counts them.
        con.execute(
            "create or replace table scores as select * replace "
            "(ntile(10) over (order by combined_score, contact_id) as decile) from scores order by contact_id"
        )
        create_derived(con)
        total = con.execute("select count(*) from scores").fetchone()[0]
        con.execute("checkpoint")
    finally:
        con.close()
    return total


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(data_dir: Path, publication: Path):
    """The console on a loopback port (cookies over plain HTTP for this local client)."""
    import uvicorn

    from console.app import create_app
    from console.auth import UserStore
    from console.settings import ConsoleSettings
    from ops_store import open_store, ops_db_url_from_env

    ops_url = ops_db_url_from_env(data_dir)
    engine = open_store(ops_url)
    UserStore(engine).add(USER, "approver", PASSWORD)
    engine.dispose()
    settings = ConsoleSettings(
        data_dir=data_dir,
        ops_db_url=ops_url,
        publication=publication,
        secret_key=os.urandom(32).hex(),
        secure_cookies=False,
    )
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    return server, thread, f"http://127.0.0.1:{port}"


def sign_in(base_url: str) -> httpx.Client:
    client = httpx.Client(base_url=base_url, timeout=60, follow_redirects=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    response = client.post(
        "/login",
        data={"csrf_token": token, "username": USER, "password": PASSWORD, "next": "/"},
        headers={"Origin": base_url},
    )
    response.raise_for_status()
    return client


def page_plan(publication: Path, data_dir: Path, rounds: int, seed: int = 3) -> dict[str, list[str]]:
    """The URLs requested for each page type."""
    import sqlalchemy as sa

    from ops_store import open_store, ops_db_url_from_env
    from ops_store.schema import actions

    rng = np.random.default_rng(seed)
    con = duckdb.connect(str(publication), read_only=True)
    try:
        total = con.execute("select count(*) from scores").fetchone()[0]
        picks = sorted({int(i) for i in rng.integers(0, total, rounds)})
        leads = [
            r[0]
            for r in con.execute(
                "select contact_id from (select contact_id, row_number() over () - 1 as i from scores) "
                f"where i in ({', '.join(map(str, picks))})"
            ).fetchall()
        ]
        owner = con.execute("select owner from scores group by 1 order by count(*) desc limit 1").fetchone()[0]
        stage = con.execute("select deal_stage from deals group by 1 order by count(*) desc limit 1").fetchone()[0]
    finally:
        con.close()
    engine = open_store(ops_db_url_from_env(data_dir))
    with engine.connect() as store:
        action_ids = [r[0] for r in store.execute(sa.select(actions.c.action_id).limit(rounds))]
    engine.dispose()
    owner_q = httpx.QueryParams({"owner": owner})
    return {
        "overview": ["/"] * rounds,
        "scores": ["/scores"] * rounds,
        "scores_filtered": [f"/scores?{owner_q}&segment=Enterprise"] * rounds,
        "scores_page": [f"/scores?page={20 + i}" for i in range(rounds)],
        "scores_search": [f"/scores?q={lead}" for lead in leads[:rounds]],
        "lead": [f"/leads/{lead}" for lead in leads],
        "queue": ["/queue?state=all"] * rounds,
        "queue_rail": [f"/queue/{a}" for a in action_ids] or ["/queue"],
        "quality": ["/quality"] * rounds,
        "safety": ["/safety"] * rounds,
        "pipeline": ["/pipeline"] * rounds,
        "pipeline_deals": [f"/pipeline/deals?{httpx.QueryParams({'stage': stage})}"] * rounds,
    }


def measure(client: httpx.Client, plan: dict[str, list[str]]) -> dict[str, list[float]]:
    timings: dict[str, list[float]] = {}
    for name, urls in plan.items():
        client.get(urls[0])  # warm: first-open costs (templates, DuckDB metadata) are not a page's latency
        for url in urls:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = (time.perf_counter() - started) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{url}: HTTP {response.status_code}")
            timings.setdefault(name, []).append(elapsed)
    return timings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--contacts", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=20, help="requests per page type")
    parser.add_argument("--work-dir", type=Path, default=REPO / "bench_data" / "console_base")
    args = parser.parse_args(argv)

    data_dir = args.work_dir.resolve()
    build_base(data_dir)
    base = data_dir / "console" / "publication.duckdb"
    scaled = data_dir / "console" / f"bench_publication_{args.contacts}.duckdb"
    started = time.perf_counter()
    total = scale_publication(base, scaled, args.contacts)
    say(f"publication scaled to {total:,} contacts in {time.perf_counter() - started:.1f} s ({scaled})")

    server, thread, base_url = serve(data_dir, scaled)
    try:
        plan = page_plan(scaled, data_dir, args.rounds)
        timings = measure(sign_in(base_url), plan)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    every = np.array([t for ts in timings.values() for t in ts])
    for name, ts in timings.items():
        say(f"{name:<16} p50 {np.percentile(ts, 50):7.1f} ms   p95 {np.percentile(ts, 95):7.1f} ms   n={len(ts)}")
    worst = max(timings, key=lambda k: np.percentile(timings[k], 95))
    print(
        f"bench-console contacts={total} p95_ms={np.percentile(every, 95):.1f} pages={len(timings)} "
        f"requests={every.size} p50_ms={np.percentile(every, 50):.1f} slowest_page={worst} "
        f"slowest_page_p95_ms={np.percentile(timings[worst], 95):.1f}",
        flush=True,
    )
    shutil.rmtree(scaled, ignore_errors=True) if scaled.is_dir() else scaled.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
