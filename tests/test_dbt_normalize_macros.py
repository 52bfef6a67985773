"""The staging macros' shortcuts give what their general form gives: `normalize_domain` returns an already bare host
without the capture-group extraction, and `email_candidate` runs the 'mailto:' regex only on values holding a ':'.
Each macro, rendered from dbt_project/macros, is compared in DuckDB with the general expression (the macro before the
shortcut) on hard cases and on random strings of the characters the patterns treat specially."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import jinja2
import pytest

MACROS = Path(__file__).resolve().parents[1] / "dbt_project" / "macros"

HOST_REGEX = r"'([a-z0-9]([a-z0-9\-]*[a-z0-9])?\.)+[a-z0-9\-]{2,}'"
HOST_PART = r"'^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/?#]*@)?(?:www[0-9]*\.)?([^/?#:\s]+)'"
EXTRACT = f"rtrim(regexp_extract(lower(trim(x)), {HOST_PART}, 1), '.')"
# The macros as they were before the shortcuts: the reference.
GENERAL_DOMAIN = f"case when regexp_full_match({EXTRACT}, {HOST_REGEX}) then {EXTRACT} end"
GENERAL_CANDIDATE = r"nullif(lower(trim(regexp_replace(x, '^\s*mailto:', '', 'i'))), '')"

HARD_CASES = [
    None,
    "",
    " ",
    "acme.io",
    " Acme.IO ",
    "ACME.io.",
    "acme.io.",
    "acme..io",
    "-acme.io",
    "acme.io-",
    "acme-.io",
    "a.bc",
    "a.b",
    "io",
    "www.acme.io",
    "WWW.acme.io",
    "www2.acme.io",
    "www.com",
    "wwwacme.io",
    "www",
    "www.",
    "wwwx.acme.io",
    "www..acme.io",
    "https://www.acme.io/pricing",
    "http://acme.io:8080/x",
    "user@acme.io",
    "mailto:ana@acme.io",
    "acme.io/path",
    "acme.io?q=1",
    "acme.io#top",
    "acme.io:443",
    "ftp://files.acme.io",
    "xn--bcher-kva.example",
    "acme.\u212aom",
    "\u212a.acme.io",
    "acme.io\t",
    "\tacme.io",
    "ac me.io",
    "acme.i",
    "1.2.3.4",
    "sub.sub.acme.co.uk",
    "ACME.IO\n",
    "\u00e9cole.fr",
    "acme_corp.io",
    "acme.io..",
    "://acme.io",
    "mailto:",
    " mailto:Ana@Acme.io",
    "MAILTO:ana@acme.io",
    "ma:ilto",
    "a:b@acme.io",
    "ana@acme.io",
    "Ana@ACME.io ",
    "\u00a0acme.io",
    "\x0bacme.io",
]
ALPHABET = "aAwW0.-:/@?#_ \t\u212a\u00e9mailto"


def _render(call: str) -> str:
    """The SQL of a macro call, rendered with the project's regex, domain and email macros."""
    source = "".join(
        (MACROS / name).read_text() for name in ("normalize_regex.sql", "normalize_domain.sql", "normalize_email.sql")
    )
    return jinja2.Environment(extensions=["jinja2.ext.do"]).from_string(source + "{{ " + call + " }}").render().strip()


def _values() -> list[str | None]:
    rng = random.Random(14)
    randoms = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 14))) for _ in range(4000)]
    # Strings near a bare host: a host with one character changed, inserted or put in front.
    hosts = ["acme.io", "www.acme.io", "a.b.co", "x-y.z9"]
    near = [
        h[:i] + c + h[i + 1 :] if rng.random() < 0.5 else h[:i] + c + h[i:]
        for h in hosts
        for i in range(len(h) + 1)
        for c in ALPHABET
    ]
    return HARD_CASES + randoms + near


@pytest.mark.parametrize(
    ("macro", "general"),
    [("normalize_domain('x')", GENERAL_DOMAIN), ("email_candidate('x')", GENERAL_CANDIDATE)],
)
def test_macro_equals_its_general_form(macro, general):
    con = duckdb.connect()
    con.execute("create table v as select unnest(range(len($1))) as i, unnest($1::varchar[]) as x", [_values()])
    differing = con.execute(
        f"select i, x, {_render(macro)} as fast, {general} as general from v where fast is distinct from general"
    ).fetchall()
    assert differing == []
    # The shortcut is taken: a bare host is returned as it is, and the hard cases give what they should.
    domains = dict(con.execute(f"select x, {_render(macro)} from v where i < {len(HARD_CASES)}").fetchall())
    if macro.startswith("normalize_domain"):
        assert domains[" Acme.IO "] == "acme.io"
        assert domains["www.acme.io"] == "acme.io"
        assert domains["www.com"] is None
        assert domains["https://www.acme.io/pricing"] == "acme.io"
    else:
        assert domains["mailto:ana@acme.io"] == "ana@acme.io"
        assert domains["Ana@ACME.io "] == "ana@acme.io"
