"""Hand-made contact records for the matcher's tests: a background population plus the records under test."""

from __future__ import annotations

import polars as pl

# Background population: distinct people at distinct companies, so u-probabilities and name
# frequencies are estimated on something like a CRM rather than on the handful of test records.
FIRSTS = ["Anna", "Ben", "Carla", "David", "Eva", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Karl", "Lena"]
LASTS = ["Adler", "Berg", "Conti", "Dahl", "Eder", "Fink", "Graf", "Horn", "Imhof", "Jung", "Kern", "Lang", "Moser"]


def person(record_id: int, first: str, last: str, domain: str, phone: str | None, **extra) -> dict:
    row = {
        "record_id": record_id,
        "first_name": first,
        "last_name": last,
        "email": f"{first.lower()}.{last.lower()}@{domain}" if first and last else None,
        "phone": phone,
        "mobile_phone": None,
        "linkedin_url": None,
        "company_name": domain.split(".")[0].title() + " Inc.",
        "website_domain": domain,
        "street_address": f"{record_id % 97} Main Street",
        "city": "Springfield",
        "postal_code": "12345",
        "country_code": "US",
    }
    row.update(extra)
    return row


def background(n: int = 300) -> list[dict]:
    rows = []
    for i in range(n):
        first, last = FIRSTS[i % len(FIRSTS)], LASTS[(i * 7) % len(LASTS)]
        rows.append(
            person(1000 + i, first, f"{last}{i}", f"company{i}.com", f"+1555{1000000 + i}", postal_code=f"{20000 + i}")
        )
    return rows


def records_frame(rows: list[dict]) -> pl.DataFrame:
    return pl.DataFrame(rows, infer_schema_length=None)


def pair_of(pairs: pl.DataFrame, a: int, b: int) -> dict:
    left, right = min(a, b), max(a, b)
    found = pairs.filter((pl.col("left_id") == left) & (pl.col("right_id") == right))
    assert found.height == 1, f"pair {left}-{right} was not a candidate"
    return found.row(0, named=True)
