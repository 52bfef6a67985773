"""Normalization for matching that the dbt staging macros do not already do (they give lowercase valid
emails, E.164 phones, bare hosts, `linkedin.com/in/<slug>` URLs and ISO countries).

Everything here is a polars expression; work that needs Python (transliteration, the public-suffix list,
URL decoding) runs once per distinct value (`map_distinct`), so a million records normalize in seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, lru_cache
from urllib.parse import unquote

import polars as pl
import tldextract
from anyascii import anyascii

from matching.reference import free_mail_domains, legal_suffixes, name_particles, placeholder_company_names

# Providers that ignore dots in the local part (j.smith@gmail.com == jsmith@gmail.com).
DOTLESS_PROVIDERS = ("gmail.com", "googlemail.com")
_STREET_WORDS = {
    r"\bstreet\b": "st",
    r"\bstrasse\b": "str",
    r"\bstraße\b": "str",
    r"\bavenue\b": "ave",
    r"\broad\b": "rd",
    r"\bboulevard\b": "blvd",
    r"\bdrive\b": "dr",
    r"\blane\b": "ln",
    r"\bplace\b": "pl",
    r"\bsuite\b": "ste",
    r"\bcourt\b": "ct",
    r"\bsquare\b": "sq",
    r"\bnorth\b": "n",
    r"\bsouth\b": "s",
    r"\beast\b": "e",
    r"\bwest\b": "w",
}


def map_distinct(expr: pl.Expr, function: Callable[[str], str | None]) -> pl.Expr:
    """`function` applied to every distinct non-null string of `expr` once (nulls stay null)."""

    def apply(values: pl.Series) -> pl.Series:
        distinct = values.drop_nulls().unique()
        mapped = pl.Series(list(map(function, distinct.to_list())), dtype=pl.String)
        # Replaced by two Series, not a dict: polars would first turn a dict of every distinct value (~630k
        # LinkedIn slugs at 1M records) back into Series, which cost more than the function calls.
        return values.replace_strict(distinct, mapped, default=None, return_dtype=pl.String)

    return expr.cast(pl.String).map_batches(apply, return_dtype=pl.String)


def per_distinct_value(frame: pl.DataFrame, column: str, derived: dict[str, pl.Expr]) -> pl.DataFrame:
    """The `derived` expressions of one column (each reads only `pl.col(column)`), evaluated once per distinct
    value and joined back onto `frame`'s rows in order: one frame with a column per name of `derived`.

    Names, companies, titles and addresses repeat: 100k contacts hold under 2,000 distinct first or last names,
    so evaluating a chain of string rules per distinct value instead of per row is several times faster.
    """
    distinct = frame.lazy().select(pl.col(column).unique()).with_columns(**derived).collect()
    return (
        frame.select(column).join(distinct, on=column, how="left", maintain_order="left", nulls_equal=True).drop(column)
    )


def ascii_text(expr: pl.Expr) -> pl.Expr:
    """Any script -> ASCII by transliteration ("Müller" -> "Muller", "Weiß" -> "Weiss", "Łukasz" -> "Lukasz",
    "Satō" -> "Sato"); no-break and other Unicode spaces become plain spaces."""
    return map_distinct(expr, anyascii)


# Spellings one sound has across romanizations, folded to one (both sides of a comparison are folded, so
# only the key changes): German umlauts written out (Mueller ~ Müller ~ Muller), Scandinavian aa/oe, and
# Japanese long vowels (Satoh ~ Satou ~ Satoo ~ Satō, Yuuki ~ Yūki).
_ROMANIZATION_FOLDS = (
    (r"ae", "a"),
    (r"oe", "o"),
    (r"ue", "u"),
    (r"aa", "a"),
    (r"oo", "o"),
    (r"uu", "u"),
    (r"oh$", "o"),
    (r"oh ", "o "),
    (r"ou([^aeiouy]|$)", "o${1}"),
)


def fold_romanization(expr: pl.Expr) -> pl.Expr:
    """Lowercase ASCII text with one spelling per sound (see `_ROMANIZATION_FOLDS`): "mueller" -> "muller"."""
    for pattern, replacement in _ROMANIZATION_FOLDS:
        expr = expr.str.replace_all(pattern, replacement)
    return expr


def name_words(expr: pl.Expr) -> pl.Expr:
    """Person name -> list of lowercase ASCII words, romanization-folded ("García-López" -> [garcia, lopez],
    "Mueller" -> [muller], "J." -> [j])."""
    text = fold_romanization(ascii_text(expr).str.to_lowercase().str.replace_all(r"[^a-z\s\-,]", ""))
    words = text.str.replace_all(r"[\s\-,]+", " ").str.strip_chars().str.split(" ")
    return words.list.filter(pl.element().str.len_chars() > 0)


def name_key(expr: pl.Expr) -> pl.Expr:
    """Person name -> lowercase ASCII letters only, romanization-folded ("  O'Brien-Smith " -> "obriensmith",
    "Schäfer" / "Schaefer" -> "schafer", "Satoh" -> "sato")."""
    joined = name_words(expr).list.join("")
    return pl.when(joined.str.len_chars() > 0).then(joined)


def surname_words(expr: pl.Expr) -> pl.Expr:
    """Family name -> its words without particles ("van der Berg" -> [berg], "García López" -> [garcia, lopez])."""
    particles = sorted(name_particles())
    words = name_words(expr)
    kept = words.list.filter(~pl.element().is_in(particles))
    # A name made of particles only ("De") keeps them: it is the name.
    kept = pl.when(kept.list.len() > 0).then(kept).otherwise(words)
    return pl.when(kept.list.len() > 0).then(kept)


_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(name: str) -> str:
    """American Soundex of a lowercase ASCII name ("robert" -> "r163", "rupert" -> "r163", "ashcraft" -> "a261")."""
    if not name:
        return ""
    code, previous = name[0], _SOUNDEX_CODES.get(name[0], "")
    for letter in name[1:]:
        digit = _SOUNDEX_CODES.get(letter, "")
        if digit and digit != previous:
            code += digit
        if letter not in "hw":  # h and w do not separate equal codes; vowels do
            previous = digit
    return (code + "000")[:4]


def soundex_key(names: pl.Series) -> pl.Series:
    """Name keys (see `name_key`) -> Soundex codes, computed once per distinct name (nulls stay null)."""
    distinct = names.drop_nulls().unique().to_list()
    return names.replace_strict(dict(zip(distinct, map(soundex, distinct), strict=True)), default=None).cast(pl.String)


def canonical_email(expr: pl.Expr) -> pl.Expr:
    """Normalized email -> the mailbox it delivers to: `+tag` dropped, dots dropped for Gmail, googlemail -> gmail."""
    local = expr.str.extract(r"^([^@]+)@", 1).str.replace(r"\+.*$", "")
    domain = expr.str.extract(r"@(.+)$", 1).replace({"googlemail.com": "gmail.com"})
    local = pl.when(domain.is_in(DOTLESS_PROVIDERS)).then(local.str.replace_all(".", "", literal=True)).otherwise(local)
    return pl.when(expr.is_not_null()).then(pl.concat_str([local, pl.lit("@"), domain]))


@cache
def _public_suffix_list() -> tldextract.TLDExtract:
    # The Public Suffix List snapshot bundled with tldextract: no download (suffix_list_urls=()) and no cache
    # files (cache_dir=None), ever. ICANN suffixes only: a company's domain is never "blogspot.com".
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())


# Memoized: a person's website and email hosts are mostly the same few hosts (~98k distinct of each at 1M
# records), each looked up once per column; bounded, as a dbt process lives on between refreshes.
@lru_cache(maxsize=1 << 18)
def _registrable(host: str) -> str | None:
    parts = _public_suffix_list()(host)
    return parts.top_domain_under_public_suffix or None


def _employer_registrable(host: str) -> str | None:
    """`_registrable`, or None for a free mail domain (gmail.com says nothing about the employer)."""
    domain = _registrable(host)
    return None if domain in free_mail_domains() else domain


def _host_key(expr: pl.Expr) -> pl.Expr:
    return expr.str.to_lowercase().str.strip_chars(" .").str.replace(r"^www[0-9]*\.", "")


def registrable_domain(expr: pl.Expr) -> pl.Expr:
    """Host -> registrable domain by the Public Suffix List, offline (mail.eu.acme.co.uk -> acme.co.uk,
    shop.acme.com.br -> acme.com.br); NULL for a host with no public suffix. Looked up once per distinct host."""
    return map_distinct(_host_key(expr), _registrable)


def employer_domain(website_domain: pl.Expr, email: pl.Expr) -> pl.Expr:
    """The company domain of a person: the website's registrable domain, else the email's unless it is free mail."""
    # The free mail test inside the per-host function: an expression used twice (`when(...).then(...)`) would
    # look up every distinct host twice, polars not sharing the work of a `map_batches`.
    from_email = map_distinct(_host_key(email.str.extract(r"@(.+)$", 1)), _employer_registrable)
    return pl.coalesce(registrable_domain(website_domain), from_email)


def company_name_key(expr: pl.Expr) -> pl.Expr:
    """Company name -> lowercase ASCII words without punctuation and trailing legal forms ("ACME, Inc." -> "acme",
    "Grünwerk G.m.b.H." -> "grunwerk"); NULL for a placeholder ("N/A", "none", "-": no company given)."""
    words = ascii_text(expr).str.to_lowercase().str.replace_all(r"[^a-z0-9& ]", "").str.replace_all("&", " ")
    words = words.str.replace_all(r"\s+", " ").str.strip_chars()
    words = pl.when(~words.is_in(sorted(placeholder_company_names()))).then(words)
    suffix_alternatives = "|".join(sorted((s.replace(".", "") for s in legal_suffixes()), key=len, reverse=True))
    # Strip up to two trailing legal forms ("pty ltd", "gmbh co kg" are also listed whole).
    for _ in range(2):
        words = words.str.replace(rf"(^| )({suffix_alternatives})$", "").str.strip_chars()
    return pl.when(words.str.len_chars() > 0).then(words)


def street_key(expr: pl.Expr) -> pl.Expr:
    """Street address -> lowercase words with common abbreviations ("12 Main Street" == "12 main st.")."""
    street = ascii_text(expr).str.to_lowercase().str.replace_all(r"[.,#]", " ")
    for pattern, abbreviation in _STREET_WORDS.items():
        street = street.str.replace_all(pattern, abbreviation)
    street = street.str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(street.str.len_chars() > 0).then(street)


def postal_key(expr: pl.Expr) -> pl.Expr:
    """Postal code -> uppercase alphanumerics ("sw1a 1aa" == "SW1A1AA")."""
    code = expr.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.when(code.str.len_chars() > 0).then(code)


def linkedin_slug(expr: pl.Expr) -> pl.Expr:
    """`linkedin.com/in/<slug>` (staging form) or any LinkedIn profile URL -> the profile slug, percent-decoded
    and lowercase (`de.linkedin.com/in/j%C3%BCrgen-m%C3%BCller/details/` == `linkedin.com/in/jürgen-müller`)."""
    slug = expr.str.extract(r"(?i)linkedin\.com/(?:in|pub)/([^/?#\s]+)", 1)
    return map_distinct(slug, lambda text: unquote(text).lower())
