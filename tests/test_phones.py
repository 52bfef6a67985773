"""Phone normalization (landing/phones.py): phonenumbers in one place, the same in Python and in dbt's staging."""

from __future__ import annotations

from pathlib import Path

import duckdb
import phonenumbers
import pyarrow as pa
import pytest
import yaml

from landing import phones
from landing.phones import to_e164

UNIT_TESTS = Path(__file__).resolve().parents[1] / "dbt_project" / "models" / "staging" / "_staging__unit_tests.yml"


@pytest.mark.parametrize(
    ("text", "region", "expected"),
    [
        # Extensions are dropped, whatever the marker.
        ("+1 415 555 2671 x123", None, "+14155552671"),
        ("(415) 555-2671 ext. 12", "US", "+14155552671"),
        ("030 1234567 extension 5", "DE", "+49301234567"),
        ("+49 30 1234567 #12", None, "+49301234567"),
        # A company switchboard with an extension, written with the (0) trunk hint.
        ("+44 (0)20 7946 0958 ext 204", "GB", "+442079460958"),
        ("+49 (0) 30 1234567", None, "+49301234567"),
        # Italy keeps the leading 0 of its numbers (no trunk prefix), national or international.
        ("06 1234 5678", "IT", "+390612345678"),
        ("+39 06 1234 5678", None, "+390612345678"),
        ("+39 (0)6 1234 5678", None, "+390612345678"),
        # ... and a '(0)' where the country has no trunk prefix nor numbers starting with 0 is a writer's habit.
        ("+34 (0)912 345 678", None, "+34912345678"),
        ("+48 (0)612 345 678", "PL", "+48612345678"),
        # NANP: 1 is the trunk prefix, 11-digit national forms, any region of the plan.
        ("1-415-555-2671", "US", "+14155552671"),
        ("415.555.2671", "CA", "+14155552671"),
        ("+1 (415) 555-2671", "DE", "+14155552671"),
        # '00' international prefix, with or without the row's country (even NANP, whose prefix is 011).
        ("0041 44 668 18 00", None, "+41446681800"),
        ("00 49 30 1234567", "US", "+49301234567"),
        # National numbers read in the row's country (region case-insensitive); trunk 0 dropped where dialled.
        ("030/1234567", "de", "+49301234567"),
        ("020 7946 0958", "GB", "+442079460958"),
        ("912 345 678", "ES", "+34912345678"),
        # A national number already carrying the country code.
        ("49 30 1234567", "DE", "+49301234567"),
        # No-break and other Unicode spaces, trailing words are not keypad letters.
        ("+49\u00a030\u00a01234567", None, "+49301234567"),
        ("+49\u202f30\u20091234567", None, "+49301234567"),
        ("+55 (11) 91234-5678 ramal", "BR", "+5511912345678"),
        ("030 1234567 (Zentrale)", "DE", "+49301234567"),
        # Cannot be made international: no country and no '+'/'00'.
        ("4155552671", None, None),
        ("030 1234567", None, None),
        ("030 1234567", "", None),
        # Garbage, too short, local-only (no area code), too long, unknown country code, unknown region.
        ("garbage", "DE", None),
        ("n/a", None, None),
        ("", "DE", None),
        ("   ", None, None),
        (None, "DE", None),
        ("12", "US", None),
        ("555-0123", "US", None),
        ("+44 20 7946", None, None),
        ("+31 6 1234", None, None),  # possible for phonenumbers (a 140xx municipal number's length), < 8 digits
        ("+49 30 1234567890123456", None, None),
        ("+999 1234567", None, None),
        ("1234567", "XX", None),
        ("1-800-FLOWERS", "US", None),
        # Placeholders: one digit repeated, however written.
        ("0000000000", "DE", None),
        ("999 999 9999", "US", None),
        ("+49 (0)30 0000000", None, "+49300000000"),  # an area code, then zeros: not one repeated digit
        ("+44 1111 111111", None, None),
    ],
)
def test_to_e164(text, region, expected):
    assert to_e164(text, region) == expected


def test_possible_not_valid_numbers_are_kept():
    # The sample worlds generate random national numbers of the right length; most lie outside the ranges
    # libphonenumber knows to be allocated (is_valid_number), yet a CRM holds such numbers: length decides.
    assert to_e164("+1 123 555 0100", None) == "+11235550100"
    assert to_e164("+49 99 1234 5678", None) == "+499912345678"


def test_the_staging_unit_test_cases_give_the_same_in_python():
    """Each phone of the staging unit test (run by dbt through the phone_e164 UDF) gives the same here."""
    spec = yaml.safe_load(UNIT_TESTS.read_text())
    case = next(t for t in spec["unit_tests"] if t["name"] == "test_contacts_phone_country_linkedin_names")
    given = next(g for g in case["given"] if g["input"] == "source('hubspot', 'contacts')")["rows"]
    expected = {row["contact_id"]: row for row in case["expect"]["rows"]}
    assert len(given) >= 20
    for row in given:
        want = expected[int(row["record_id"])]
        assert to_e164(row["phone_number"], want["country_code"]) == want["phone"], row


def test_the_duckdb_function_reads_batches_and_null_regions():
    con = duckdb.connect()
    phones.register(con)
    phones.register(con)  # idempotent: a second registration is a no-op
    rows = con.execute(
        """select phone_e164(p, r) from (values
               ('+49 (0)30 1234567', null), ('030 1234567', 'DE'), ('030 1234567', null), (null, 'DE')
           ) as t(p, r)"""
    ).fetchall()
    assert [r[0] for r in rows] == ["+49301234567", "+49301234567", None, None]
    # Visible from cursors (dbt-duckdb runs models on cursors of the connection it configured).
    assert con.cursor().execute("select phone_e164('(415) 555-0123 x9', 'US')").fetchall() == [("+14155550123",)]
    # Many rows (several Arrow batches), repeated values computed once.
    count, distinct = con.execute(
        """select count(e), count(distinct e) from (
               select phone_e164('+1 415 555 ' || lpad((i % 1000)::varchar, 4, '0'), 'US') as e
               from range(10000) t(i))"""
    ).fetchall()[0]
    assert (count, distinct) == (10000, 1000)


def test_the_arrow_form_matches_the_scalar_form():
    texts = pa.array(["+39 06 1234 5678", None, "06 1234 5678", "0049 30 1234567", "junk"])
    regions = pa.array([None, "IT", "IT", None, "DE"])
    assert phones.to_e164_arrow(texts, regions).to_pylist() == [
        to_e164(t, r) for t, r in zip(texts.to_pylist(), regions.to_pylist(), strict=True)
    ]


def _general(texts, region):
    """`to_e164` of each text by the general path alone (the cleaning regexes and `phonenumbers.parse`)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(phones, "_parse_possible_plus_digits_first", phones._parse_possible)
        return [phones._e164(phones._read(text, region)) for text in texts]


def _digit_texts():
    """Texts of the fast path's shapes: '+' and every calling code (and codes no country has) followed by national
    parts of every length up to past the longest, with and without a national prefix, leading zeros, one digit
    repeated; and the same digits written nationally with spaces, hyphens, dots and parentheses."""
    import random

    import phonenumbers

    rng = random.Random(14)
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE) + [0, 28, 999]
    for code in codes:
        prefixes = {"", "0", "00", "011"}
        for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
            metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(code, region)
            if metadata is not None and metadata.national_prefix:
                prefixes.add(metadata.national_prefix)
        for prefix in prefixes:
            rests = ["".join(rng.choice("0123456789") for _ in range(length)) for length in range(0, 19, 3)]
            for national in [prefix + rest for rest in rests] + [prefix + "7" * 9]:
                yield f"+{code}{national}"
                yield f"+{code} {national[:3]} {national[3:]}".rstrip()
                yield national
                yield f"({national[:3]}) {national[3:6]}-{national[6:]}".rstrip("-) ")
                yield f"{code}.{national[:4]}.{national[4:]}".rstrip(".")
                yield f"00{code} {national}"
                yield f"+{code} (0){national[:3]} {national[3:]}".rstrip()


@pytest.mark.parametrize("region", [None, "", "de", "US", " gb ", "IT", "AR", "001", "XX"])
def test_the_fast_path_reads_as_the_general_path(region):
    """The common digit shapes skip steps of the general path that do nothing to them (`_digits_read`): the same
    result for every calling code, national prefix, length and region, read either way."""
    texts = list(dict.fromkeys(_digit_texts()))
    fast = sum(1 for t in texts if phones._PLUS_DIGITS.fullmatch(t) or phones._NATIONAL_DIGITS.fullmatch(t))
    assert fast > 0.6 * len(texts)
    assert [to_e164(t, region) for t in texts] == _general(texts, region)


@pytest.mark.parametrize(
    "text",
    [
        "+",
        "+1",
        "+12",
        "+123",
        "+ 49 30 1234567",
        "+49 30 1234567 ",
        " +49 30 1234567",
        "+49  30  1234567",
        "+0301234567",
        "+999 1234567",
        "00 49 30 1234567",
        "0049301234567",
        "(0)30 1234567",
        "030 (0) 1234567",
        "(030) 1234567",
        "030-123-4567",
        "030.123.4567",
        "12",
        "1-2",
        "123",
        "1" * 20,
        "1" * 21,
        "+" + "4" * 20,
        "+" + "49" * 11,
        "((030)) 1234567",
        "030 1234567-",
        "030 1234567)",
        "(030 1234567",
        "+1 (415) 555 0123",
        "00 44 20 7946 0958",
        "00\t44 20 7946 0958",
        "00-44 20 7946 0958",
        "0044-20-7946-0958",
        "000 44 20 7946 0958",
        "+44 (0)20 7946 0958",
        "+44 (0) 20 7946 0958",
        "+39 (0)6 1234 5678",
        "+34 (0)912 345 678",
        "+44 (0)20-7946-0958",
    ],
)
@pytest.mark.parametrize("region", [None, "DE", "US", "IT", "001", "XX"])
def test_the_fast_path_edges_read_as_the_general_path(text, region):
    assert [to_e164(text, region)] == _general([text], region)


def test_the_fast_path_writes_what_phonenumbers_formats():
    """`_possible_e164` (the fast path's end: the possible-length check looked up per calling code and length, the
    E.164 text written from the digits) gives what phonenumbers' check and format give for the same number: every
    calling code and a few unknown ones, national numbers of every length, with leading zeros (Italian), all zeros,
    one digit repeated."""
    codes = sorted(phonenumbers.COUNTRY_CODE_TO_REGION_CODE) + [0, 999, 4242]
    nationals = [
        digits
        for length in range(1, 19)
        for digits in (
            "1" * length,
            "7" + "3" * (length - 1),
            ("12345678901234567890")[:length],
            "0" + "5" * (length - 1),
            "00" + "81" * length,
            "0" * length,
        )
    ]
    for code in codes:
        for national in dict.fromkeys(n[:18] for n in nationals):
            expected = phones._e164(phones._possible(phones._number(code, national)))
            assert phones._possible_e164(code, national) == expected, (code, national)


def test_the_stripped_length_check_is_phonenumbers_own():
    """`_length_result`, looked up per metadata and length, is phonenumbers' length test of any number of that
    length, for every region's and non-geographic calling code's metadata."""
    from phonenumbers import phonenumberutil

    metadata = [phonenumbers.PhoneMetadata.metadata_for_region(r) for r in phonenumbers.SUPPORTED_REGIONS]
    metadata += [
        phonenumbers.PhoneMetadata.metadata_for_nongeo_region(c) for c in phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS
    ]
    for meta in metadata:
        for length in range(0, 20):
            for digits in ("9" * length, ("0123456789" * 2)[:length]):
                assert phones._length_result(meta, length) == phonenumberutil._test_number_length(digits, meta)
