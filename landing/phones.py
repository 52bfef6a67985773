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
an Arrow UDF taking a batch of rows at a time, parsing each distinct (text, region) once per process. Most
numbers are written as plain digits ('+' and digits with spaces, national digits with spaces, hyphens, dots or
parentheses): those skip the parsing steps that do nothing to them (`_digits_read`; ~half the CPU at 1M contacts)
and are written out from their digits, the possible-length check looked up per calling code and length
(`_possible_e164`; ~40% of what was left).
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

import phonenumbers
from phonenumbers import phonenumberutil

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
# Digits as most CRM exports and vendors write them: '+' and digits with spaces (`+4930123456`, `+49 30 1234567`),
# or national digits with spaces, hyphens, dots and parentheses (`(415) 555-0123`, `030 1234567`), 3-20 ASCII
# digits in all. `to_e164` reads them without the general path's text handling (see `_digits_read`). A '+' not
# followed by a digit, other characters, a leading '00' or a '(0)' go the general way.
_PLUS_DIGITS = re.compile(r"\+[0-9][0-9 ]{1,38}[0-9]")
_NATIONAL_DIGITS = re.compile(r"\(?[0-9][0-9 ().\-]{1,38}[0-9]")
_NOT_DIGITS = str.maketrans("", "", " ().-")
# phonenumbers' own shortest and longest national significant number.
_NSN_MIN, _NSN_MAX = phonenumberutil._MIN_LENGTH_FOR_NSN, phonenumberutil._MAX_LENGTH_FOR_NSN
# The lengths after which `phonenumbers.parse` keeps the number as it was rather than without its national prefix.
_PREFIX_KEPT = (
    phonenumberutil.ValidationResult.TOO_SHORT,
    phonenumberutil.ValidationResult.IS_POSSIBLE_LOCAL_ONLY,
    phonenumberutil.ValidationResult.INVALID_LENGTH,
)
# `_digits_read`'s answer for a number it leaves to the general path.
_GENERAL_PATH = object()
# Distinct (text, region) results kept per process: phones repeat (switchboards, duplicate records, re-runs).
_MEMO_LIMIT = 2_000_000
_memo: dict[tuple[str, str | None], str | None] = {}
# `_memo`'s default for a key it does not hold (None is a result).
_UNSEEN = object()


def to_e164(text: str | None, region: str | None) -> str | None:
    """Phone text -> E.164 (`+` and 8-15 digits, first not 0), or None.

    `region` is the ISO 3166 alpha-2 country (`DE`, `US`; case-insensitive) a national number is read in; None
    reads international numbers only. Extensions are dropped; a number of a length that country's numbers never
    have, an unknown country code or text that is no phone number gives None.
    """
    if text is None:
        return None
    # '00' and a country code is '+' and it (the one change `_read`'s cleaning makes to the shapes read here).
    shape = _INTERNATIONAL_00.sub("+", text) if text.startswith("00") else text
    plus = _PLUS_DIGITS.fullmatch(shape) is not None
    if plus or (_NATIONAL_DIGITS.fullmatch(shape) and not shape.startswith("00") and not _TRUNK_HINT.search(shape)):
        read = _digits_read(shape.translate(_NOT_DIGITS)[plus:], plus, region)
        if read is not _GENERAL_PATH:
            return None if read is None else _possible_e164(*read)
    return _e164(_read(text, region))


def _read(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """The possible number `text` holds read in `region` (the general path of `to_e164`), or None."""
    cleaned = _INTERNATIONAL_00.sub("+", _TRAILING_WORDS.sub("", _SPACES.sub(" ", text)))
    if not _TRUNK_HINT.search(cleaned):
        return _parse_possible(cleaned, region)
    # '(0)' is the trunk prefix the writer would dial at home (DE, GB, BR): read without it. Where the country
    # has no trunk prefix, it may be the first digit of the number (Italy: +39 (0)6 ... is +39 06 ...): kept
    # when that reads as a valid number (Spain and Poland have none starting with 0: a writer's habit).
    number = _parse_possible_plus_digits_first(_TRUNK_HINT.sub(" ", cleaned), region)
    if number is None or _trunk_prefix(number.country_code) is None:
        kept = _parse_possible(cleaned, region)
        if kept is not None and phonenumbers.is_valid_number(kept):
            number = kept
    return number


def _e164(number: phonenumbers.PhoneNumber | None) -> str | None:
    return None if number is None else phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _digits_read(digits: str, plus: bool, region: str | None) -> tuple[int, str] | None | object:
    """The number the general path reads in a text of `_PLUS_DIGITS` (`plus`) or `_NATIONAL_DIGITS` whose digits
    are `digits`, as its calling code and national significant number (`_number` makes it a PhoneNumber; None
    where `parse` finds none or one of a length no number has), read with phonenumbers' own steps but those with
    nothing to do on such a text; `_GENERAL_PATH` for fewer than 3 or more than 20 digits, a '+' whose first 1-3
    digits are no calling code (phonenumbers then reads the digits in `region`) or metadata `parse` would fail on.

    The steps `phonenumbers.parse` takes on such a text and why they are skipped: none of the cleaning regexes of
    `_read` changes its digits (spaces only collapse; no letters, no '00' start, no '(0)'); the possible number
    found in it is the text from its first digit or '+' (it ends with a digit, has no ';', '/' or '\\'); it is
    viable (3 or more digits between `_VALID_PHONE_NUMBER_PATTERN`'s punctuation); no extension pattern matches
    (each needs a letter, '#', '~', ',' or ';'); the country code step normalizes the text to its digits first
    (after a leading '+'), so it is given the digits. From there it is `parse`'s own code: the region check, the
    calling code, the metadata, the national prefix, the lengths and the Italian leading zeros; then
    `_possible`. tests/test_phones.py compares both paths on every calling code."""
    if not 3 <= len(digits) <= 20:
        return _GENERAL_PATH
    region = region.strip().upper() if region else None
    if plus:
        country_code, national = phonenumberutil._extract_country_code(digits)
        if country_code == 0:
            return _GENERAL_PATH
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None) if region is not None else None
    else:
        # A national text: no region reads nothing (`_parse_possible`), nor one phonenumbers does not know.
        if not region or not phonenumberutil._check_region_for_parsing(digits, region):
            return None
        metadata = phonenumbers.PhoneMetadata.metadata_for_region(region, None)
        try:
            country_code, national = phonenumberutil._maybe_extract_country_code(
                digits, metadata, False, phonenumbers.PhoneNumber()
            )
        except phonenumbers.NumberParseException:
            return None
    if country_code != 0:
        number_region = phonenumbers.region_code_for_country_code(country_code)
        if number_region != region:
            metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, number_region)
    elif metadata is not None:
        country_code, national = metadata.country_code, digits
    if metadata is None or country_code == 0:  # parse fails on these with other errors: left to it
        return _GENERAL_PATH
    if len(national) < _NSN_MIN:
        return None
    _, stripped, _ = phonenumberutil._maybe_strip_national_prefix_carrier_code(national, metadata)
    if stripped != national and _length_result(metadata, len(stripped)) not in _PREFIX_KEPT:
        national = stripped
    if not _NSN_MIN <= len(national) <= _NSN_MAX:
        return None
    return country_code, national


def _number(country_code: int, national: str) -> phonenumbers.PhoneNumber:
    """The PhoneNumber `parse` makes of a calling code and national significant number (ASCII digits): Italian
    leading zeros kept, so that its national significant number is `national` again."""
    number = phonenumbers.PhoneNumber(country_code=country_code)
    phonenumberutil._set_italian_leading_zeros_for_phone_number(national, number)
    number.national_number = int(national)
    return number


# `_length_result`'s answers by metadata (its region id and calling code: one metadata object each) and length.
_length_results: dict[tuple[str | None, int | None, int], int] = {}


def _length_result(metadata: phonenumbers.PhoneMetadata, length: int) -> int:
    """phonenumbers' `_test_number_length` of a national number of `length` digits against `metadata` (it reads
    the number's length alone), computed once per metadata and length."""
    key = (metadata.id, metadata.country_code, length)
    try:
        return _length_results[key]
    except KeyError:
        result = _length_results[key] = phonenumberutil._test_number_length("0" * length, metadata)
        return result


@cache
def _possible_length(country_code: int, length: int) -> bool:
    """Whether phonenumbers deems a number of `country_code` whose national significant number has `length` digits
    possible (`is_possible_number_with_reason`, which reads the calling code and the length alone)."""
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int("1" * length))
    return phonenumbers.is_possible_number_with_reason(number) == phonenumbers.ValidationResult.IS_POSSIBLE


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
    return _possible(number)


def _parse_possible_plus_digits_first(text: str, region: str | None) -> phonenumbers.PhoneNumber | None:
    """`_parse_possible`, by `_digits_read` when `text` is '+' and digits with spaces (`+49  30 1234567`, a '(0)'
    taken out)."""
    if _PLUS_DIGITS.fullmatch(text):
        read = _digits_read(text.translate(_NOT_DIGITS)[1:], True, region)
        if read is not _GENERAL_PATH:
            return None if read is None else _possible(_number(*read))
    return _parse_possible(text, region)


def _possible(number: phonenumbers.PhoneNumber) -> phonenumbers.PhoneNumber | None:
    """`number` if it is a possible number dialable from abroad, of at least `MIN_DIGITS` digits and not one digit
    repeated, else None."""
    # Possible: a length the country's numbers have, dialable from abroad (a local number without its area code
    # is not: IS_POSSIBLE_LOCAL_ONLY).
    if phonenumbers.is_possible_number_with_reason(number) != phonenumbers.ValidationResult.IS_POSSIBLE:
        return None
    return number if _a_line(number.country_code, phonenumbers.national_significant_number(number)) else None


def _possible_e164(country_code: int, national: str) -> str | None:
    """`_e164(_possible(_number(country_code, national)))` for a national significant number of ASCII digits,
    without the PhoneNumber: its length checked by `_possible_length`, its E.164 text written from the digits."""
    if not _possible_length(country_code, len(national)) or not _a_line(country_code, national):
        return None
    return f"+{country_code}{national}"


def _a_line(country_code: int, national: str) -> bool:
    """Whether a possible number (its calling code and national significant number) can be a person's line: at
    least `MIN_DIGITS` digits and not one digit repeated."""
    if len(str(country_code)) + len(national) < MIN_DIGITS:
        return False
    # One digit repeated (`0000000000`, `999 999 9999`): a placeholder typed to fill a required field, of a length
    # the country's numbers have but no one's line. Kept, it could become a golden record's phone and hide a
    # missing one from enrichment.
    return len(set(national)) != 1


def to_e164_memo(text: str | None, region: str | None) -> str | None:
    """`to_e164`, computed once per distinct (text, region) in this process."""
    if text is None:
        return None
    key = (text, region)
    # Most keys are new (a full build's numbers barely repeat): a lookup with a default, not a KeyError caught.
    result = _memo.get(key, _UNSEEN)
    if result is _UNSEEN:
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
