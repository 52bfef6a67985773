"""Small vectorized helpers shared by the generators (time, choice, string formatting, file output)."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import phonenumbers
import polars as pl

# The world's clock starts at a fixed instant so output never depends on the wall clock.
BASE_NOW = int(datetime(2026, 11, 1, tzinfo=UTC).timestamp())
DAY = 86_400
HOUR = 3_600
HISTORY_DAYS = 180


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent deterministic generator for one (seed, stream...) pair."""
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, *stream])))


def zipf_weights(n: int, s: float = 0.75, shift: float = 8.0) -> np.ndarray:
    """Popularity weights: earlier list entries are more common, with a long tail."""
    w = 1.0 / (np.arange(n) + shift) ** s
    return w / w.sum()


def pick(rng: np.random.Generator, values: list, n: int, p=None) -> np.ndarray:
    """Indices drawn from a list (with optional probabilities)."""
    if p is not None:
        p = np.asarray(p, dtype=float)
        p = p / p.sum()
        return rng.choice(len(values), size=n, p=p)
    return rng.integers(0, len(values), size=n)


def take(values: list, idx: np.ndarray) -> pl.Series:
    """values[idx] as a polars string Series (fast gather instead of a Python loop)."""
    return pl.Series(values, dtype=pl.String).gather(idx)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def ts_iso(col: str | pl.Expr) -> pl.Expr:
    """Epoch seconds -> ISO 8601 UTC with Z (event timestamps)."""
    e = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(e, time_unit="s").dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def ts_hub(col: str | pl.Expr) -> pl.Expr:
    """Epoch seconds -> HubSpot export style 'YYYY-MM-DD HH:MM' (export time zone = UTC)."""
    e = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(e, time_unit="s").dt.strftime("%Y-%m-%d %H:%M")


def ts_date(col: str | pl.Expr) -> pl.Expr:
    e = pl.col(col) if isinstance(col, str) else col
    return pl.from_epoch(e, time_unit="s").dt.strftime("%Y-%m-%d")


_ASCII_FOLD = {
    "ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "é": "e", "è": "e", "ê": "e", "ë": "e", "á": "a", "à": "a",
    "â": "a", "í": "i", "ï": "i", "ó": "o", "ô": "o", "ú": "u", "ç": "c", "ñ": "n", "ã": "a", "å": "a",
    "É": "E", "Ü": "Ue", "Ö": "Oe", "Ä": "Ae", "Î": "I", "'": "", " ": "", "-": "", "&": "", ".": "", ",": "",
}


def ascii_slug(e: pl.Expr) -> pl.Expr:
    """Lower-case ASCII token for e-mail local parts and domains ("Müller" -> "mueller")."""
    # Lower-case first so capital accents fold too; anything still outside [a-z0-9] is dropped, since
    # real mailboxes and domains are ASCII.
    folded = e.str.to_lowercase().str.replace_many(list(_ASCII_FOLD), list(_ASCII_FOLD.values()))
    return folded.str.replace_all(r"[^a-z0-9]", "")


def fill_patterns(rng: np.random.Generator, patterns: pl.Series) -> pl.Series:
    """Postal codes from per-row patterns: '#' -> digit, 'A'/'B' -> upper-case letter."""
    out = pl.Series([""] * len(patterns), dtype=pl.String)
    pats = patterns.to_numpy()
    letters = np.array(list("ABCDEFGHJKLMNPRSTUVWXYZ"))
    for pat in np.unique(pats):
        mask = pats == pat
        m = int(mask.sum())
        parts = []
        for ch in pat:
            if ch == "#":
                parts.append(rng.integers(0, 10, m).astype(str))
            elif ch in "AB":
                parts.append(letters[rng.integers(0, len(letters), m)])
            else:
                parts.append(np.full(m, ch))
        vals = parts[0]
        for p in parts[1:]:
            vals = np.char.add(vals, p)
        out = out.scatter(np.flatnonzero(mask), pl.Series(vals, dtype=pl.String))
    return out


@cache
def trunk_prefix(dial: str) -> str:
    """The national (trunk) prefix people dial before a national number of the country with calling code `dial`:
    '0' in most of Europe, '' in Spain, Poland or Singapore (which have none), by libphonenumber's metadata."""
    code = int(dial)
    region = phonenumbers.region_code_for_country_code(code)
    return phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region).national_prefix or ""


def phone_expr(dial: str, nsn: str, nanp: str, fmt: str) -> pl.Expr:
    """Format a national number in one of several real-world styles chosen per row by `fmt` (0-4)."""
    d, s = pl.col(dial), pl.col(nsn)
    trunk = d.map_batches(
        lambda dials: dials.replace_strict({v: trunk_prefix(v) for v in dials.drop_nulls().unique()}, default=None),
        return_dtype=pl.String,
    )
    a, b, c = s.str.slice(0, 3), s.str.slice(3, 3), s.str.slice(6)
    f = pl.col(fmt)
    nanp_styles = (
        pl.when(f == 0).then(pl.concat_str([pl.lit("+1 "), a, pl.lit(" "), b, pl.lit(" "), c]))
        .when(f == 1).then(pl.concat_str([pl.lit("("), a, pl.lit(") "), b, pl.lit("-"), c]))
        .when(f == 2).then(pl.concat_str([a, pl.lit("."), b, pl.lit("."), c]))
        .when(f == 3).then(pl.concat_str([pl.lit("+1"), s]))
        .otherwise(pl.concat_str([a, pl.lit("-"), b, pl.lit("-"), c]))
    )
    intl_styles = (
        pl.when(f == 0).then(pl.concat_str([pl.lit("+"), d, pl.lit(" "), s.str.slice(0, 2), pl.lit(" "),
                                            s.str.slice(2, 4), pl.lit(" "), s.str.slice(6)]))
        .when(f == 1).then(pl.concat_str([trunk, s.str.slice(0, 2), pl.lit(" "), s.str.slice(2)]))
        .when(f == 2).then(pl.concat_str([pl.lit("+"), d, s]))
        .when(f == 3).then(pl.concat_str([pl.lit("00"), d, pl.lit(" "), s]))
        .otherwise(pl.concat_str([pl.lit("+"), d, pl.lit(" (0)"), s.str.slice(0, 3), pl.lit(" "), s.str.slice(3)]))
    )
    return pl.when(pl.col(nanp)).then(nanp_styles).otherwise(intl_styles)


def nsn_digits(rng: np.random.Generator, lengths: np.ndarray) -> pl.Series:
    """Random national significant numbers (first digit 2-9) with per-row length."""
    lengths = np.asarray(lengths, dtype=np.int64)
    lo = 2 * 10 ** (lengths - 1)
    hi = 10 ** lengths
    vals = lo + (rng.random(len(lengths)) * (hi - lo)).astype(np.int64)
    return pl.Series(vals).cast(pl.String)


class Writer:
    """Writes landing/truth files, keeps per-source file numbering and row counts for the summary."""

    def __init__(self, out_dir: Path, suffix_tag: str = ""):
        self.out_dir = Path(out_dir)
        self.tag = suffix_tag  # e.g. "h0003" in next-hour mode
        self.part: dict[str, int] = {}
        self.files: list[str] = []
        self.rows: dict[str, int] = {}

    def _path(self, source: str, stem: str, ext: str) -> Path:
        folder = self.out_dir / "landing" / source
        folder.mkdir(parents=True, exist_ok=True)
        if self.tag:
            k = self.part.get(source, 0)
            self.part[source] = k + 1
            name = f"{stem}_{self.tag}.{ext}" if k == 0 else f"{stem}_{self.tag}_{k:02d}.{ext}"
        else:
            k = self.part.get(source, 0)
            self.part[source] = k + 1
            name = f"{stem}_{k:04d}.{ext}"
        return folder / name

    def _record(self, source: str, path: Path, n: int) -> None:
        self.files.append(str(path.relative_to(self.out_dir)))
        self.rows[source] = self.rows.get(source, 0) + n

    def csv(self, source: str, stem: str, df: pl.DataFrame, extra_lines: list[tuple[int, str]] = ()) -> Path:
        """Write a CSV. `extra_lines` = (data row index, raw CSV line) inserted verbatim (dirty rows)."""
        if df.height == 0 and not extra_lines:
            return None
        path = self._path(source, stem, "csv")
        text = df.write_csv(quote_style="necessary", line_terminator="\n")
        if extra_lines:
            lines = text.split("\n")
            # Ascending inserts: the line inserted at data index i ends up on file line i + 2.
            for idx, raw in sorted(extra_lines):
                lines.insert(1 + idx, raw)
            text = "\n".join(lines)
        path.write_text(text, encoding="utf-8")
        self._record(source, path, df.height + len(extra_lines))
        return path

    def jsonl(self, source: str, stem: str, frames: list[pl.DataFrame],
              extra_lines: list[tuple[int, str]] = ()) -> Path:
        """Write JSON lines from one or more frames (different shapes allowed) into a single file."""
        frames = [f for f in frames if f is not None and f.height]
        n = sum(f.height for f in frames)
        if n == 0 and not extra_lines:
            return None
        path = self._path(source, stem, "jsonl")
        buf = io.BytesIO()
        for f in frames:
            f.write_ndjson(buf)
        data = buf.getvalue()
        if extra_lines:
            lines = data.split(b"\n")
            for idx, raw in sorted(extra_lines):  # ends up on file line idx + 1
                lines.insert(idx, raw.encode("utf-8"))
            data = b"\n".join(lines)
        path.write_bytes(data)
        self._record(source, path, n + len(extra_lines))
        return path


def masked(values, keep) -> pl.Series:
    """Series of `values` with nulls where `keep` is False."""
    s = pl.Series(np.asarray(values))
    return s.zip_with(pl.Series(np.asarray(keep, dtype=bool)), pl.Series([None] * len(s), dtype=s.dtype))
