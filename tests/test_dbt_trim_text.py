"""`trim_text` (dbt_project/macros/normalize_text.sql) gives exactly DuckDB's `trim`, and the staging macros built on it
give what they gave with `trim`: each macro, rendered from dbt_project/macros, is compared in DuckDB with its earlier
form on hard cases (every ASCII character at either end, every Unicode space separator DuckDB's trim removes, other
non-ASCII characters, NULL, empty and blank values) and on random strings of those characters."""

from __future__ import annotations

import random
import re
import types
from pathlib import Path

import duckdb
import jinja2
import pytest

MACROS = Path(__file__).resolve().parents[1] / "dbt_project" / "macros"

# The Unicode space separators (category Zs): what DuckDB's trim removes from either end.
UNICODE_SPACES = ["\u00a0", "\u1680", *(chr(c) for c in range(0x2000, 0x200B)), "\u202f", "\u205f", "\u3000"]
# Non-ASCII characters trim keeps: accents, a combining mark, the next line and line separator, a byte order mark.
OTHER_NON_ASCII = ["\u00e9", "e\u0301", "\u0085", "\u2028", "\ufeff", "\u212a", "\U0001f600"]
ASCII = [chr(c) for c in range(1, 128)]

# The macros as they were before `trim_text` (x: the column): the reference.
EARLIER_FORMS = {
    "trim_text('x')": "trim(x)",
    "normalize_code('x')": "nullif(lower(trim(x)), '')",
    "nullif_blank('x')": "case when trim(x) = '' then null else x end",
    "to_id('x')": "try_cast(nullif(trim(x), '') as bigint)",
    "to_double('x')": "try_cast(nullif(trim(x), '') as double)",
    "normalize_text('x')": (
        "nullif(trim(case when contains(x, '  ') or contains(x, chr(9)) or contains(x, chr(10))"
        " or contains(x, chr(12)) or contains(x, chr(13)) then regexp_replace(x, '\\s+', ' ', 'g') else x end), '')"
    ),
    "to_utc_timestamp('x')": (
        "case when nullif(trim(x), '') is null then null"
        " when regexp_matches(nullif(trim(x), ''),"
        " '\\d{1,2}:\\d{2}(:\\d{2}(\\.\\d+)?)?\\s*([zZ]|[+\\-]\\d{2}(:?\\d{2})?)$')"
        " then try_cast(nullif(trim(x), '') as timestamptz)"
        " else timezone('UTC', try_cast(nullif(trim(x), '') as timestamp)) end"
    ),
}


def _render(call: str) -> str:
    """The SQL of a macro call, rendered with the project's text, type, timestamp and regex macros."""
    source = "".join(
        (MACROS / name).read_text()
        for name in ("normalize_regex.sql", "normalize_text.sql", "normalize_types.sql", "normalize_timestamp.sql")
    )
    template = jinja2.Environment(extensions=["jinja2.ext.do"]).from_string(source + "{{ " + call + " }}")
    # dbt's context as far as these macros use it: `modules.re`, `var` (its default) and `return` (the value).
    context = {"modules": types.SimpleNamespace(re=re), "var": lambda name, default=None: default, "return": str}
    return template.render(**context).strip()


def _values() -> list[str | None]:
    edges = [" ", *UNICODE_SPACES[:3], "\u3000", *ASCII, *OTHER_NON_ASCII]
    cases: list[str | None] = [None, "", " ", "  ", "\t", "\u00a0", "\u3000 \u00a0", "a", "ab", "a b", " a b "]
    cases += [f"{c}id-42" for c in edges] + [f"id-42{c}" for c in edges] + [f"{c}id 42{c}" for c in edges]
    cases += [f"{c}" for c in edges] + [f"{s}{c}" for s in (" ", "\u00a0") for c in edges]
    cases += ["2026-12-01T10:00:00Z", " 2026-12-01 10:00:00 ", "2026-12-01 10:00:00+02:00\u00a0", " 42 ", "4 2", "1e3 "]
    rng = random.Random(14)
    alphabet = ["a", "Z", "0", "7", ".", "-", ":", " ", "  ", "\t", "\n", *UNICODE_SPACES[:2], "\u3000", "\u00e9"]
    alphabet += ["\u0085"]
    cases += ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(4000)]
    return cases


@pytest.mark.parametrize("macro", list(EARLIER_FORMS))
def test_macro_equals_its_earlier_form(macro):
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    con.execute("create table v as select unnest(range(len($1))) as i, unnest($1::varchar[]) as x", [_values()])
    new, earlier = _render(macro), EARLIER_FORMS[macro]
    differing = con.execute(
        f"select i, x, {new} as new, {earlier} as earlier from v where new is distinct from earlier"
    ).fetchall()
    assert differing == []


def test_trim_text_skips_trim_only_on_a_plain_column():
    # A column is read several times by the fast path; an expression would be evaluated again each time: trim as it was.
    assert "strlen(x)" in _render("trim_text('x')") and "else trim(x)" in _render("trim_text('x')")
    assert _render("trim_text('lower(x)')") == "trim(lower(x))"
    assert _render("trim_text('_properties[1]')") == "trim(_properties[1])"


def test_what_duckdb_trim_removes():
    """The fast path's premise: of the ASCII characters DuckDB's trim removes only the space; the Unicode space
    separators (all non-ASCII) are removed too, and other characters kept."""
    con = duckdb.connect()
    characters = ASCII + UNICODE_SPACES + OTHER_NON_ASCII
    removed = {c for c in characters if con.execute("select trim(?)", [f"{c}a{c}"]).fetchone()[0] == "a"}
    assert removed == {" ", *UNICODE_SPACES}
