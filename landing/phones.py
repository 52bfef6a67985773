"""Phone numbers -> E.164 with `phonenumbers` (Google's libphonenumber metadata): the one place phones are normalized.

`to_e164(text, region)` reads a number as people write it — international (`+49 30 1234567`, `0049 30 1234567`),
national with the row's country (`030 1234567` in DE, `(415) 555-0123` in US), with a `(0)` trunk hint
(`+44 (0)20 7946 0958`), an extension (`x12`, `ext. 12`, `#12`, dropped) or no-break spaces — and returns
`+<country code><national number>`, or None when it cannot be a number: no country and no `+`/`00`, not a phone
number at all, or a length no number of that country has. Italian numbers keep their leading 0 (`+39 06 ...`).

The check is `is_possible_number` (the country's possible lengths), not `is_valid_number` (its number ranges):
the sample worlds generate random national numbers of each country's length, most of which lie outside the real
ranges, and a CRM's numbers are not ours to judge by range either; a number of a wrong length is rejected.

In the warehouse, dbt's staging calls it as the DuckDB scalar function `phone_e164(text, region)` (the
`normalize_phone` macro), registered on dbt's connection by `landing.dbt_plugin` (see dbt_project/profiles.yml):
an Arrow UDF taking a batch of rows at a time, parsing each distinct (text, region) once per process.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

import phonenumbers

if TYPE_CHECKING:
    import duckdb

# The SQL name of the function `register` adds to a DuckDB connection.
SQL_FUNCTION = "phone_e164"

# Any Unicode space (no-break, narrow no-break, thin: spreadsheets and web forms write them); phonenumbers
# only skips ASCII punctuation and spaces.
_SPACES = re.compile(r"\s+")
# '(0)' after the country code (`+49 (0)30 ...`): the trunk prefix, not dialled from abroad.
_TRUNK_HINT = re.compile(r"\(\s*0\s*\)")
# '00' then the country code: the international call prefix of most countries (not NANP's 011, which
# phonenumbers reads itself from the region's metadata).
_INTERNATIONAL_00 = re.compile(r"^\s*00\s*(?=[1-9])")
# Words after the last digit ('ramal', '(Zentrale)', 'mobile'): phonenumbers would read letters as keypad digits
# (vanity numbers, 1-800-FLOWERS), which a contact's phone field never means. Extension markers stay ('x12').
_TRAILING_WORDS = re.compile(r"[^\W\d_]\D*$")
# The fewest digits of a contact's E.164 number (the `is_e164` data test): phonenumbers deems shorter numbers
# possible in a few countries (Austrian 4-digit, Dutch 5-digit municipal 140xx), which in a CRM's phone field are a
# truncated number, not a person's line.
MIN_DIGITS = 8
# Distinct (text, region) results kept per process: phones repeat (switchboards, duplicate records, re-runs).
_MEMO_LIMIT = 2_000_000
_memo: dict[tuple[str, str | None], str | None] = {}


def to_e164(text: str | None, region: str | None) -> str | None:
    """Phone text -> E.164 (`+` and 8-15 digits, first not 0), or None.

    `region` is the ISO 3166 alpha-2 country (`DE`, `US`; case-insensitive) a national number is read in; None
    reads international numbers only. Extensions are dropped; a number of a length that country's numbers never
    have, an unknown country code or text that is no phone number gives None.
    """
    if text is None:
        return None
    cleaned = _INTERNATIONAL_00.sub("+", _TRAILING_WORDS.sub("", _SPACES.sub(" ", text)))
    if not _TRUNK_HINT.search(cleaned):
        number = _parse_possible(cleaned, region)
    else:
        # '(0)' is the trunk prefix the writer would dial at home (DE, GB, BR): read without it. Where the country
        # has no trunk prefix, it may be the first digit of the number (Italy: +39 (0)6 ... is +39 06 ...): kept
        # when that reads as a valid number (Spain and Poland have none starting with 0: a writer's habit).
        number = _parse_possible(_TRUNK_HINT.sub(" ", cleaned), region)
        if number is None or _trunk_prefix(number.country_code) is None:
            kept = _parse_possible(cleaned, region)
            if kept is not None and phonenumbers.is_valid_number(kept):
                number = kept
    if number is None:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@cache
def _trunk_prefix(country_code: int) -> str | None:
    """The national (trunk) prefix of a calling code's main country ('0' for 49, '1' for 1), None if it has none."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    return metadata.national_prefix if metadata is not None else None


def _parse_possible(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """phonenumbers' reading of `text` in `region` if it is a possible number dialable from abroad, else None."""
    region = region.strip().upper() if region else None
    if not region and not text.lstrip().startswith("+"):
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    # Possible: a length the country's numbers have, dialable from abroad (a local number without its area code
    # is not: IS_POSSIBLE_LOCAL_ONLY).
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    national = phonenumbers.national_significant_number(number)
    if len(str(number.country_code)) + len(national) < MIN_DIGITS:
        return None
    # One digit repeated (`0000000000`, `999 999 9999`): a placeholder typed to fill a required field, of a length
    # the country's numbers have but no one's line. Kept, it could become a golden record's phone and hide a
    # missing one from enrichment.
    if len(set(national)) == 1:
        return None
    return number


def to_e164_memo(text: str | None, region: str | None) -> str | None:
    """`to_e164`, computed once per distinct (text, region) in this process."""
    if text is None:
        return None
    key = (text, region)
    try:
        return _memo[key]
    except KeyError:
        pass
    if len(_memo) >= _MEMO_LIMIT:
        _memo.clear()
    result = _memo[key] = to_e164(text, region)
    return result


def to_e164_arrow(texts, regions):  # unannotated: DuckDB evaluates annotations (pyarrow loads lazily)
    """The vectorised form DuckDB calls (an Arrow UDF): pyarrow string arrays of one batch of (text, region)
    rows -> a pyarrow string array of E.164 numbers."""
    import pyarrow as pa

    out = list(map(to_e164_memo, texts.to_pylist(), regions.to_pylist()))
    return pa.array(out, type=pa.string())


def register(con: duckdb.DuckDBPyConnection) -> None:
    """Add `phone_e164(text VARCHAR, region VARCHAR) -> VARCHAR` to a DuckDB connection (once)."""
    import duckdb

    exists = con.execute(
        "select 1 from duckdb_functions() where function_name = ? and function_type = 'scalar'", [SQL_FUNCTION]
    ).fetchall()
    if exists:
        return
    con.create_function(
        SQL_FUNCTION,
        to_e164_arrow,
        [duckdb.sqltype("VARCHAR"), duckdb.sqltype("VARCHAR")],
        duckdb.sqltype("VARCHAR"),
        type="arrow",
        # A NULL region still reads '+' numbers: the function sees NULLs (a NULL text gives NULL).
        null_handling="special",
        side_effects=False,
    )
