"""Hand-made landing files for the ingest tests."""

from __future__ import annotations

from pathlib import Path


def web_events_file(landing: Path, name: str, first: int, count: int, bad_at: int | None = None) -> Path:
    """A web events file of ``count`` events from message number ``first``; line ``bad_at`` holds an unknown type."""
    lines = []
    for n in range(first, first + count):
        kind = "teleport" if bad_at is not None and n - first + 1 == bad_at else "page"
        lines.append(
            f'{{"type": "{kind}", "messageId": "m-{n}", "anonymousId": "a-{n % 97}", "userId": null,'
            f' "properties": {{"path": "/p/{n}", "n": {n}}}, "context": {{"ip": "10.0.{n % 250}.1"}},'
            f' "timestamp": "2026-05-0{1 + n % 9}T00:00:{n % 60:02d}Z"}}\n'
        )
    path = landing / "web_events" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(lines))
    return path
