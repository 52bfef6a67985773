"""Fast paths of the staging macros give what their regexes give.

`normalize_domain` names the host of a bare host or of 'https://www.' and a host without running its extraction
regex, and `email_candidate` runs its 'mailto:' replace only on values holding a ':' (dbt_project/macros). Both are
checked here against the regex-only forms they replaced, on hard cases and on generated strings of the characters
the regexes care about. The macros are rendered with jinja2 as dbt renders them (they use nothing of dbt's)."""

from __future__ import annotations

import random
from pathlib import Path

import duckdb
import jinja2
import pytest

MACROS = Path(__file__).resolve().parents[1] / "dbt_project" / "macros"
MACRO_FILES = ("normalize_regex.sql", "normalize_text.sql", "normalize_domain.sql", "normalize_email.sql")

# The SQL the macros had before their fast paths (v: the value).
DOMAIN_HOST_REGEX = r"'^(?:[a-z][a-z0-9+.\-]*://)?(?:[^@/?#]*@)?(?:www[0-9]*\.)?([^/?#:\s]+)'"
REGEX_ONLY_HOST = f"rtrim(regexp_extract(lower(trim(v)), {DOMAIN_HOST_REGEX}, 1), '.')"
REGEX_ONLY_DOMAIN = (
    f"case when regexp_full_match({REGEX_ONLY_HOST}, '([a-z0-9]([a-z0-9\\-]*[a-z0-9])?\\.)+[a-z0-9\\-]{{2,}}') "
    f"then {REGEX_ONLY_HOST} end"
)
REGEX_ONLY_EMAIL_CANDIDATE = r"nullif(lower(trim(regexp_replace(v, '^\s*mailto:', '', 'i'))), '')"

HARD_DOMAINS = [
    None,
    "",
    " ",
    ".",
    "acme.io",
    "ACME.IO",
    "  acme.io  ",
    "acme.io.",
    "acme",
    "a.b",
    "acme..io",
    "-acme.io",
    "https://www.acme.io",
    "http://www.acme.io",
    "HTTPS://WWW.Acme.IO/",
    "https://acme.io",
    "http://acme.io:8080",
    "https://www.",
    "https://www",
    "https://",
    "http://",
    "www.",
    "www",
    "www.acme.io",
    "www2.acme.io",
    "www.www.acme.io",
    "wwwacme.io",
    "www-acme.io",
    "https://www2.acme.io",
    "https://wwwacme.io",
    "https://www.www.acme.io",
    "www..acme.io",
    "https://www..io",
    "ftp://www.acme.io",
    "https:/acme.io",
    "https//acme.io",
    "user@acme.io",
    "https://user@www.acme.io",
    "acme.io/path?q=1#x",
    "acme.io?x",
    "acme.io#x",
    "acme.io:443",
    "https://www.acme.io/pricing",
    "\tacme.io",
    "acme.io\t",
    "acme .io",
    "acme.io\n",
    "xn--bcher-kva.de",
    "bücher.de",
    "https://www.bücher.de",
    "1.2.3.4",
    "acme.i",
    "acme.io-",
    "mailto:x@acme.io",
    "http://http://acme.io",
    "https://https://www.acme.io",
    "a+b.io",
    "https://a+b.io",
    "a_b.io",
]
HARD_EMAILS = [
    None,
    "",
    " ",
    "x@acme.io",
    "X@ACME.IO",
    "mailto:x@acme.io",
    "MAILTO:x@acme.io",
    "  MailTo:x@acme.io ",
    "\tmailto:x@acme.io",
    "mailto: x@acme.io",
    "a:b@acme.io",
    "x@acme.io:",
    "mailto:",
    "mailto",
    ":",
    "mailtox@acme.io",
    "x mailto:y@acme.io",
    "mailto:mailto:x@acme.io",
]


def _macro(call: str) -> str:
    """The SQL of a macro call (e.g. "normalize_domain('v')"), as dbt renders it."""
    source = "".join((MACROS / name).read_text() for name in MACRO_FILES)
    return jinja2.Template(source + "{{ " + call + " }}").render().strip()


def _generated(alphabet: list[str], count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 14))) for _ in range(count)]


def _mismatches(values: list[str | None], new_sql: str, old_sql: str) -> list[tuple]:
    con = duckdb.connect()
    con.execute("create table t as select unnest(?::varchar[]) as v", [values])
    return con.execute(
        f"select v, new, old from (select v, {new_sql} as new, {old_sql} as old from t) where new is distinct from old"
    ).fetchall()


def test_domain_fast_path_takes_the_common_shapes():
    sql = _macro("domain_host_of_common_shape('v')")
    con = duckdb.connect()
    got = {
        v: con.execute(f"select {sql} from (select ?::varchar as v)", [v]).fetchone()[0]
        for v in ["acme.io", "https://www.acme.io", "http://acme.io", "www2.acme.io", "acme.io/x", "https://www."]
    }
    assert got == {
        "acme.io": "acme.io",
        "https://www.acme.io": "acme.io",
        "http://acme.io": "acme.io",
        "www2.acme.io": None,
        "acme.io/x": None,
        "https://www.": None,
    }


def test_normalize_domain_is_its_regex_on_hard_and_generated_values():
    alphabet = list("hwtps:/.@#?") + ["www.", "https://", "http://", "a", "-", "0", "9", " ", "\t", "W", "io"]
    values = HARD_DOMAINS + _generated(alphabet, 20_000, seed=14)
    assert _mismatches(values, _macro("normalize_domain('v')"), REGEX_ONLY_DOMAIN) == []


@pytest.mark.parametrize("value", HARD_EMAILS)
def test_email_candidate_is_its_regex_replace(value):
    assert _mismatches([value], _macro("email_candidate('v')"), REGEX_ONLY_EMAIL_CANDIDATE) == []


def test_email_candidate_on_generated_values():
    alphabet = list("mailto:MAILTO @.x") + ["mailto:", "MailTo:", "\t", "\n"]
    values = _generated(alphabet, 5_000, seed=14)
    assert _mismatches(values, _macro("email_candidate('v')"), REGEX_ONLY_EMAIL_CANDIDATE) == []


# Every ASCII character, the Unicode space separators trim removes, and characters like them it keeps.
TRIM_CHARACTERS = [chr(c) for c in range(128)] + [
    chr(c) for c in (0x85, 0xA0, 0x1680, *range(0x2000, 0x200C), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000, 0xFEFF, 0xE9)
]


def test_trimmed_is_trim_with_any_character_at_either_end():
    values = [None, "", "a", "ab"]
    for c in TRIM_CHARACTERS:
        values += [c, c + c, c + "a", "a" + c, c + "ab" + c, " " + c, c + " ", "a" + c + "b"]
    assert _mismatches(values, _macro("trimmed('v')"), "trim(v)") == []
