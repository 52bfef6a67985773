"""`make bench-sync`: sync throughput against the sandbox CRM at its default rate limit, as a share of the bound.

The sandbox runs in its own process (as `actionhouse crm serve` would); the HubSpot client upserts
synthetic contacts by email, 100 per request. The bound is what the rate limit allows:
limit / window x 100 records per request (100 / 10 s x 100 = 1,000 records/s). Ends with one line:
`bench-sync records=... seconds=... records_per_s=... bound_records_per_s=... fraction_of_bound=...`.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from crm_sandbox.config import SandboxConfig
from crm_sandbox.server import free_loopback_port
from reverse_etl.crm.hubspot import BATCH_SIZE, HubSpotClient

BENCH_TOKEN = "bench-sync-token"


def synthetic_contacts(count: int) -> list[dict[str, str]]:
    """Deterministic contact rows with the properties a typical score sync writes."""
    return [
        {
            "email": f"bench{i}@example{i % 97}.com",
            "firstname": f"First{i}",
            "lastname": f"Last{i}",
            "jobtitle": "Head of Data",
            "company": f"Company {i % 997}",
            "actionhouse_score": str(i % 100),
            "lifecyclestage": "lead",
        }
        for i in range(count)
    ]


def _wait_until_up(url: str, process: subprocess.Popen, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the sandbox process exited during start-up")
        try:
            if httpx.get(f"{url}/_sandbox/health", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"the sandbox did not answer on {url}")


def main(argv: list[str] | None = None) -> int:
    """Start a sandbox process, sync the records, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=40_000, help="contacts to upsert (default 40,000: ~40 s)")
    parser.add_argument("--workers", type=int, default=4, help="parallel batch requests of the client")
    args = parser.parse_args(argv)
    defaults = SandboxConfig()
    bound = defaults.rate_limit / defaults.rate_window_s * BATCH_SIZE
    rows = synthetic_contacts(args.records)
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as scratch:
        port = free_loopback_port()
        env = {
            **os.environ,
            "ACTIONHOUSE_CRM_TOKEN": BENCH_TOKEN,
            "ACTIONHOUSE_SANDBOX_DB": str(Path(scratch) / "crm.sqlite"),
        }
        server = subprocess.Popen([sys.executable, "-m", "crm_sandbox", "--port", str(port)], env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(url, server)
            with HubSpotClient(url, BENCH_TOKEN, max_workers=args.workers) as client:
                started = time.perf_counter()
                outcomes = client.upsert("contacts", rows, "email")
                seconds = time.perf_counter() - started
                rate_limited = client.stats["rate_limited"]
            stats = httpx.get(f"{url}/_sandbox/stats", headers={"Authorization": f"Bearer {BENCH_TOKEN}"}).json()
        finally:
            server.terminate()
            server.wait(timeout=10)
    synced = sum(1 for o in outcomes if o.ok)
    failed = len(outcomes) - synced
    per_second = synced / seconds
    print(
        f"sandbox: limit {defaults.rate_limit} requests / {defaults.rate_window_s:g} s, {stats['admitted']} "
        f"requests admitted, {rate_limited} answered 429, {failed} rows not synced, "
        f"{stats['records'].get('contacts', 0)} contacts stored"
    )
    print(
        f"bench-sync records={synced} seconds={seconds:.2f} records_per_s={per_second:.1f} "
        f"bound_records_per_s={bound:.1f} fraction_of_bound={per_second / bound:.3f}"
    )
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
