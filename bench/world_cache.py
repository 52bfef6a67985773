"""Generated sample worlds kept between benchmark runs, keyed by what determines them.

A sample world is deterministic for (contacts, seed, generator code): the same key gives byte-identical landing
files and truth. `cached_world` keeps one pristine copy per key under `bench_data/worlds/<key>/` (generated
once, never written to afterwards) and `place_world` puts it into a scratch data folder: landing files as hard
links (the pipeline never writes a landing file; the next hour's generation adds new files beside them), the
truth folder as a real copy (the next hour's generation rewrites `world_state.json` and
`scheduled_activities.parquet` in place, which would change the pristine copy through a hard link).

The generator's part of the key is a hash of the `sample_world` package's source files (names and contents):
any change to the generator makes a new key, so a benchmark never scores a world of an older generator against
today's code (what made `make bench-dedupe` print F1 1.0000 on one machine and 0.9676 on a fresh clone).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

from orchestration.settings import PROJECT_ROOT

GENERATOR_DIR = PROJECT_ROOT / "sample_world"
WORLDS_DIR = PROJECT_ROOT / "bench_data" / "worlds"
COMPLETE_MARKER = "world.json"


def tree_fingerprint(root: Path, pattern: str = "*.py") -> str:
    """A short hash of the files under `root` matching `pattern`: relative paths and contents (not times)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob(pattern)):
        if "__pycache__" in path.parts or not path.is_file():
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()[:12]


def generator_fingerprint() -> str:
    """The hash of the sample-world generator's source (the `sample_world` package)."""
    return tree_fingerprint(GENERATOR_DIR)


def world_cache_key(contacts: int, seed: int, generator: str) -> str:
    """The folder name of a cached world: everything the generated files depend on."""
    return f"world_{contacts}_seed{seed}_gen{generator}"


def cached_world(
    contacts: int,
    seed: int,
    generate: Callable[[Path], dict | None],
    worlds_dir: Path = WORLDS_DIR,
    generator: str | None = None,
) -> tuple[Path, dict]:
    """The pristine world for (contacts, seed, generator), generated with `generate(folder)` if not cached yet.

    Returns the folder and its record (`generate_seconds` of the generation that made it, what `generate`
    returned, e.g. its peak memory, and `generated_now`).
    Worlds of the same size and seed from another generator version are deleted (a 1M world is ~8 GB)."""
    generator = generator or generator_fingerprint()
    key = world_cache_key(contacts, seed, generator)
    world = worlds_dir / key
    marker = world / COMPLETE_MARKER
    if marker.exists():
        return world, {**json.loads(marker.read_text()), "generated_now": False}
    worlds_dir.mkdir(parents=True, exist_ok=True)
    for stale in worlds_dir.glob(f"{world_cache_key(contacts, seed, '')}*"):
        shutil.rmtree(stale, ignore_errors=True)  # older generator versions, or an interrupted generation
    building = worlds_dir / f"{key}.building"
    started = time.perf_counter()
    extra = generate(building) or {}
    record = {
        **extra,
        "contacts": contacts,
        "seed": seed,
        "generator": generator,
        "generate_seconds": round(time.perf_counter() - started, 1),
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    (building / COMPLETE_MARKER).write_text(json.dumps(record, indent=2) + "\n")
    building.rename(world)
    return world, {**record, "generated_now": True}


def place_world(world: Path, data_dir: Path) -> None:
    """Put a pristine world into an empty data folder: landing files hard-linked (copied across file systems),
    truth copied."""
    for source in sorted((world / "landing").rglob("*")):
        target = data_dir / "landing" / source.relative_to(world / "landing")
        if source.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(source, target)
        except OSError:
            shutil.copy2(source, target)
    shutil.copytree(world / "truth", data_dir / "truth")
