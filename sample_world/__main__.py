"""`python -m sample_world --contacts 1000 --seed 7 --out /tmp/x [--hours H | --hard-cases]`."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .answers import WORLD_CRM_ENV, load_effects
from .hard_cases import generate_hard_world
from .world import generate_next_hours, generate_world


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="sample_world", description="Generate the Actionhouse sample CRM world.")
    ap.add_argument("--contacts", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=Path("data"))
    ap.add_argument("--hours", type=int, default=0,
                    help="advance an existing world by H hours instead of generating a new one")
    ap.add_argument("--crm-db", type=Path, default=None,
                    help="with --hours: the sandbox CRM's SQLite file whose synced actions the world answers "
                         "(default: ACTIONHOUSE_WORLD_CRM_DB, else none)")
    ap.add_argument("--effects", type=Path, default=None,
                    help="with --hours: a YAML/JSON file of effect sizes (sample_world.answers.Effects fields)")
    ap.add_argument("--hard-cases", action="store_true",
                    help="write only a HubSpot contacts + companies export full of hard entity-resolution cases")
    args = ap.parse_args(argv)
    say = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    if args.hard_cases:
        h = generate_hard_world(args.out, args.contacts, args.seed)
        print(f"wrote {h.contacts:,} contact and {h.companies:,} company records ({h.junk:,} junk), "
              f"{h.seconds:.1f}s -> {h.out_dir}")
        return 0
    if args.hours:
        crm_db = args.crm_db or (Path(os.environ[WORLD_CRM_ENV]) if os.environ.get(WORLD_CRM_ENV) else None)
        effects = load_effects(args.effects) if args.effects else None
        s = generate_next_hours(args.out, args.hours, progress=say, crm_db=crm_db, effects=effects)
    else:
        s = generate_world(args.out, args.contacts, args.seed, progress=say)
    print(f"wrote {len(s.files)} files, {s.events:,} events, {s.seconds:.1f}s -> {s.out_dir}")
    for src, n in sorted(s.rows.items()):
        print(f"  {src:20s} {n:>12,}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
