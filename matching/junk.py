"""Junk and test rows among contacts, whatever their source (CRM exports, API pulls, lead forms).

A row is junk when any rule below holds; every rule that holds is a reason. Junk rows are kept (nothing is
dropped), flagged in the golden records (`dim_contacts.is_junk`, `junk_reasons`), and kept out of merges,
tiers and actions. The rules, most common first in real exports:

- `test_name`: a name word that only test rows use ("Test", "Testperson", "Mustermann", "Dummy", "asdf") or
  a placeholder full name ("John Doe", "Max Mustermann" by its surname, "Mickey Mouse"); seed `er_junk_names`.
  A real "Tester", "Testa" or "Student Success Manager" is not matched: whole words only, and titles are not read.
- `test_email`: a mailbox that only test rows use (`test@`, `test123@`, `foo@`, `asdf@`, `dummy@`) or one that
  repeats its domain name (`asdf@asdf.com`, `a@a.com`).
- `no_reply_address`: `noreply@`, `no-reply@`, `donotreply@`, `mailer-daemon@`: nobody reads it.
- `placeholder_email_domain`: example.com, foo.com, domain.com ... (seed `er_placeholder_email_domains`) and the
  reserved TLDs .test, .example, .invalid, .localhost.
- `disposable_email`: a throwaway mailbox provider (seed `er_disposable_domains`, shared with lead capture).
- `keyboard_mash`: a name word or mailbox with a run of keys from one keyboard row (four of the home or bottom
  row: "asdf", "yxcv"; five of the top row, since "erty" and "ertz" occur in Laverty and Hertz), a chunk of
  three letters or more typed twice ("sdfsdf", "asdasd"), one letter three times ("aaa"), or a name whose
  words of four letters or more all lack a vowel ("Qwrtz Ztrwq"). Real names without vowels ("Ng"), a typo
  ("Mcgrr") and long consonant clusters with vowels ("Hirschsprung") are not matched.
- `test_company`: the company is a test placeholder ("Test GmbH", "Testfirma", "Musterfirma"; legal form
  ignored; seed `er_junk_companies`). A company that only contains the word ("Testo", "TestRail") is real.
"""

from __future__ import annotations

import polars as pl

from matching.normalize import ascii_text, company_name_key, per_distinct_value
from matching.reference import seed_column, seed_rows

JUNK_REASONS = (
    "test_name",
    "test_email",
    "no_reply_address",
    "placeholder_email_domain",
    "disposable_email",
    "keyboard_mash",
    "test_company",
)
_TEST_MAILBOX = r"^(test|testing|testuser|asdf|qwerty|qwertz|foo|foobar|bar|baz|dummy|example|sample|fake|spam|nobody|noname|abc|abcd|xxx+|aaa+)[0-9]*$"  # noqa: E501
_NO_REPLY_MAILBOX = r"^(no[-_.]?reply|do[-_.]?not[-_.]?reply|mailer[-_.]?daemon|postmaster|bounces?)$"
_RESERVED_TLDS = r"\.(test|example|invalid|localhost)$"
_KEYBOARD_ROWS = ("qwertyuiop", "qwertzuiop", "asdfghjkl", "zxcvbnm", "yxcvbnm")


def _keyboard_runs() -> list[str]:
    """Runs of neighbouring keys of one keyboard row, both directions: four keys of the home and bottom rows,
    five of the top row (four of it occur in real names: Laverty, Hertz, Wertheim)."""
    runs = set()
    for row in _KEYBOARD_ROWS:
        length = 5 if row.startswith("q") else 4
        runs |= {row[i : i + length] for i in range(len(row) - length + 1)}
    return sorted(runs | {run[::-1] for run in runs})


def _mashed_word(word: pl.Expr) -> pl.Expr:
    """True where one lowercase ASCII word looks like keyboard mash (a run of one keyboard row, one letter three
    times, a chunk typed twice or three times)."""
    runs = "|".join(_keyboard_runs())
    same_letter = "^(?:" + "|".join(f"{letter}{{3,}}" for letter in "abcdefghijklmnopqrstuvwxyz") + ")$"
    # A chunk of 3+ letters typed twice or three times ("sdfsdf", "asdasdasd"); the regex engine has no
    # back-references, so each (chunk length, repeats) is compared directly.
    repeated = pl.lit(False)
    for size, times in ((3, 2), (4, 2), (5, 2), (3, 3)):
        chunk = word.str.slice(0, size)
        repeated = repeated | ((word.str.len_chars() == size * times) & (word == pl.concat_str([chunk] * times)))
    return word.str.contains(runs) | word.str.contains(same_letter) | repeated


def _junk_companies() -> list[str]:
    """Company name keys (`company_name_key`) of test placeholder companies (seed `er_junk_companies`)."""
    return sorted(seed_column("er_junk_companies", "name"))


def _name_part_rules(column: str, name_words: list[str]) -> dict[str, pl.Expr]:
    """Per distinct value of one name column: its cleaned text and the word rules over its words (a name's
    words are its first name's words and its last name's, so each rule over the whole name combines these)."""
    text = ascii_text(pl.col(column)).str.to_lowercase().str.replace_all(r"[^a-z\s]", " ")
    words = text.str.replace_all(r"\s+", " ").str.split(" ").list.filter(pl.element().str.len_chars() > 0)
    word = pl.element()
    return {
        f"{column}_text": text,
        f"{column}_words": words.list.len(),
        f"{column}_test_word": words.list.eval(word.is_in(name_words)).list.any(),
        f"{column}_mashed": words.list.eval(_mashed_word(word)).list.any(),
        # No vowel in any word of four letters or more ("Qwrtz Ztrwq"); one such word alone is a typo or "Ng".
        f"{column}_vowelless": words.list.eval((word.str.len_chars() >= 4) & ~word.str.contains("[aeiouy]")).list.all(),
    }


_READ_COLUMNS = ("first_name", "last_name", "email", "company_name")


def _with_read_columns(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.with_columns(pl.lit(None, dtype=pl.String).alias(c) for c in _READ_COLUMNS if c not in frame.columns)


def flag_junk(frame: pl.DataFrame) -> pl.DataFrame:
    """Rows with first_name, last_name, email, company_name (missing columns count as empty) -> the same rows
    with `junk_reasons` (list of reasons, empty when real) and `is_junk`."""
    frame = _with_read_columns(frame)
    return frame.with_columns(junk_reasons(frame)).with_columns(
        (pl.col("junk_reasons").list.len() > 0).alias("is_junk")
    )


def is_junk(frame: pl.DataFrame) -> pl.Series:
    """`flag_junk`'s `is_junk` alone (whether any rule holds), without building each row's list of reasons."""
    return (_reason_masks(_with_read_columns(frame)) != 0).alias("is_junk")


def junk_reasons(frame: pl.DataFrame) -> pl.Series:
    """The junk reasons of each row (see the module docstring), in `JUNK_REASONS` order; an empty list when real."""
    # Each row's rules as the bits of one integer, and each distinct set of bits (a handful: nearly every row has
    # none) turned into its list once: building a list per row from seven optional values cost more than the rules.
    masks = _reason_masks(frame)
    distinct = masks.unique().to_list()
    reasons = [[reason for bit, reason in enumerate(JUNK_REASONS) if mask >> bit & 1] for mask in distinct]
    lists = pl.DataFrame(
        {"mask": distinct, "junk_reasons": reasons},
        schema={"mask": pl.Int64, "junk_reasons": pl.List(pl.String)},
    )
    return masks.to_frame("mask").join(lists, on="mask", how="left", maintain_order="left")["junk_reasons"]


def _reason_masks(frame: pl.DataFrame) -> pl.Series:
    """Per row, bit i set when the rule `JUNK_REASONS[i]` holds (see the module docstring)."""
    names = seed_rows("er_junk_names", ("name", "match"))
    name_words = sorted(name for name, match in names if match == "word")
    full_names = sorted(name for name, match in names if match == "full")
    parts = pl.concat(
        [
            per_distinct_value(frame, "first_name", _name_part_rules("first_name", name_words)),
            per_distinct_value(frame, "last_name", _name_part_rules("last_name", name_words)),
            per_distinct_value(
                frame,
                "company_name",
                {"test_company": company_name_key(pl.col("company_name")).is_in(_junk_companies())},
            ),
            frame.select("email"),
        ],
        how="horizontal",
    )
    full = (
        pl.concat_str(["first_name_text", "last_name_text"], separator=" ", ignore_nulls=True)
        .str.replace_all(r"\s+", " ")
        .str.strip_chars()
    )
    first, last = "first_name", "last_name"
    vowelless_name = (
        pl.col(f"{first}_vowelless").fill_null(True)
        & pl.col(f"{last}_vowelless").fill_null(True)
        & (pl.col(f"{first}_words").fill_null(0) + pl.col(f"{last}_words").fill_null(0) > 1)
    )
    # The mailbox parts are columns of their own: each rule reads them, and an expression used by many rules
    # would be evaluated once per use.
    email = pl.col("email").str.to_lowercase().str.strip_chars()
    parts = parts.with_columns(
        email.str.extract(r"^([^@+]+)", 1).alias("local"), email.str.extract(r"@(.+)$", 1).alias("domain")
    ).with_columns(
        pl.col("domain").str.extract(r"^([^.]+)\.", 1).alias("domain_label"),
        pl.col("local").str.replace_all(r"[^a-z]", "").alias("local_letters"),
    )
    local, domain, domain_label = pl.col("local"), pl.col("domain"), pl.col("domain_label")
    checks = {
        "test_name": pl.col(f"{first}_test_word").fill_null(False)
        | pl.col(f"{last}_test_word").fill_null(False)
        | full.is_in(full_names),
        "test_email": local.str.contains(_TEST_MAILBOX) | (local == domain_label),
        "no_reply_address": local.str.contains(_NO_REPLY_MAILBOX),
        "placeholder_email_domain": domain.is_in(sorted(seed_column("er_placeholder_email_domains", "domain")))
        | domain.str.contains(_RESERVED_TLDS),
        "disposable_email": domain.is_in(sorted(seed_column("er_disposable_domains", "domain"))),
        "keyboard_mash": pl.col(f"{first}_mashed").fill_null(False)
        | pl.col(f"{last}_mashed").fill_null(False)
        | vowelless_name
        | _mashed_word(pl.col("local_letters")),
        "test_company": pl.col("test_company"),
    }
    bit = {reason: 1 << i for i, reason in enumerate(JUNK_REASONS)}
    mask = pl.sum_horizontal(
        pl.when(check.fill_null(False)).then(pl.lit(bit[reason], dtype=pl.Int64)).otherwise(pl.lit(0, dtype=pl.Int64))
        for reason, check in checks.items()
    )
    return parts.lazy().select(mask.alias("mask")).collect()["mask"]
