"""`make bench`: time sample-world generation, a full build and the next hour's refresh, with peak memory.

Each phase runs as its own `actionhouse` process on a scratch data folder (`bench_data/build_<contacts>`,
emptied first), so the figures are what a user sees from the command line. The next-hour refresh is the
hourly schedule's work: only new files load, and entity resolution re-resolves only the changed records.
Ends with one `bench key=value ...` line.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from orchestration.settings import PROJECT_ROOT


def _run_phase(args: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run `actionhouse <args>`; return (seconds, peak RSS in MB of the largest process so far)."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "orchestration.cli", *args], env=env, check=True, cwd=PROJECT_ROOT)
    seconds = time.perf_counter() - started
    # ru_maxrss of children is the largest resident set of any finished descendant (KiB on Linux).
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return seconds, peak_mb


def main() -> int:
    """Generate `--contacts` contacts, refresh everything, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--data-dir", default=None, help="scratch folder (default bench_data/build_<contacts>)")
    parser.add_argument("--generate-only", action="store_true", help="skip the build (e.g. for 1M contacts)")
    args = parser.parse_args()

    data_dir = Path(args.data_dir) if args.data_dir else PROJECT_ROOT / "bench_data" / f"build_{args.contacts}"
    shutil.rmtree(data_dir, ignore_errors=True)
    env = {**os.environ, "ACTIONHOUSE_DATA_DIR": str(data_dir), "DAGSTER_HOME": str(data_dir / "dagster_home")}
    for key in ("ACTIONHOUSE_WAREHOUSE", "ACTIONHOUSE_LANDING_DIR"):
        env.pop(key, None)

    generate_seconds, peak_mb = _run_phase(
        ["generate", "--contacts", str(args.contacts), "--seed", str(args.seed)], env
    )
    print(f"bench: generation of {args.contacts:,} contacts took {generate_seconds:.1f} s, peak {peak_mb:.0f} MB")
    figures = f"bench contacts={args.contacts} generate_seconds={generate_seconds:.1f}"
    if not args.generate_only:
        build_seconds, peak_mb = _run_phase(["refresh"], env)
        print(f"bench: full build took {build_seconds:.1f} s")
        figures += f" full_build_seconds={build_seconds:.1f}"
        _run_phase(["generate", "--hours", "1"], env)
        hour_seconds, peak_mb = _run_phase(["refresh"], env)
        print(f"bench: the next hour's refresh took {hour_seconds:.1f} s")
        figures += f" next_hour_seconds={hour_seconds:.1f}"
    print(f"{figures} peak_rss_mb={peak_mb:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
