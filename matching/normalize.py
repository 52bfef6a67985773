"""Normalization for matching that the dbt staging macros do not already do (they give lowercase valid
emails, E.164 phones, bare hosts, `linkedin.com/in/<slug>` URLs and ISO countries).

Everything here is a polars expression, so a million records normalize in a second.
"""

from __future__ import annotations

import polars as pl

from matching.reference import free_mail_domains, legal_suffixes, multi_label_public_suffixes

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


def name_key(expr: pl.Expr) -> pl.Expr:
    """Person name -> lowercase ASCII letters only ("  O'Brien-Smith " -> "obriensmith", "Schäfer" -> "schafer")."""
    cleaned = expr.str.normalize("NFKD").str.to_lowercase().str.replace_all(r"[^a-z]", "")
    return pl.when(cleaned.str.len_chars() > 0).then(cleaned)


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


def registrable_domain(expr: pl.Expr) -> pl.Expr:
    """Host -> registrable domain, public-suffix aware offline (mail.eu.acme.co.uk -> acme.co.uk).

    Two-label public suffixes come from the `er_public_suffixes` seed; every other suffix is one label.
    """
    host = expr.str.to_lowercase().str.strip_chars(".").str.replace(r"^www[0-9]*\.", "")
    last_two = host.str.extract(r"([^.]+\.[^.]+)$", 1)
    last_three = host.str.extract(r"([^.]+\.[^.]+\.[^.]+)$", 1)
    suffixes = sorted(multi_label_public_suffixes())
    return pl.when(last_two.is_in(suffixes) & last_three.is_not_null()).then(last_three).otherwise(last_two)


def employer_domain(website_domain: pl.Expr, email: pl.Expr) -> pl.Expr:
    """The company domain of a person: the website's registrable domain, else the email's unless it is free mail."""
    email_domain = registrable_domain(email.str.extract(r"@(.+)$", 1))
    from_email = pl.when(~email_domain.is_in(sorted(free_mail_domains()))).then(email_domain)
    return pl.coalesce(registrable_domain(website_domain), from_email)


def company_name_key(expr: pl.Expr) -> pl.Expr:
    """Company name -> lowercase words without punctuation and trailing legal forms ("ACME, Inc." -> "acme")."""
    words = expr.str.normalize("NFKD").str.to_lowercase().str.replace_all(r"[^a-z0-9 ]", " ")
    words = words.str.replace_all(r"\s+", " ").str.strip_chars()
    suffix_alternatives = "|".join(sorted((s.replace(".", "") for s in legal_suffixes()), key=len, reverse=True))
    # Strip up to two trailing legal forms ("pty ltd", "gmbh co kg" are also listed whole).
    for _ in range(2):
        words = words.str.replace(rf"(^| )({suffix_alternatives})$", "").str.strip_chars()
    return pl.when(words.str.len_chars() > 0).then(words)


def street_key(expr: pl.Expr) -> pl.Expr:
    """Street address -> lowercase words with common abbreviations ("12 Main Street" == "12 main st.")."""
    street = expr.str.to_lowercase().str.replace_all(r"[.,#]", " ")
    for pattern, abbreviation in _STREET_WORDS.items():
        street = street.str.replace_all(pattern, abbreviation)
    street = street.str.replace_all(r"\s+", " ").str.strip_chars()
    return pl.when(street.str.len_chars() > 0).then(street)


def postal_key(expr: pl.Expr) -> pl.Expr:
    """Postal code -> uppercase alphanumerics ("sw1a 1aa" == "SW1A1AA")."""
    code = expr.str.to_uppercase().str.replace_all(r"[^A-Z0-9]", "")
    return pl.when(code.str.len_chars() > 0).then(code)


def linkedin_slug(expr: pl.Expr) -> pl.Expr:
    """`linkedin.com/in/<slug>` (staging form) or any LinkedIn profile URL -> the profile slug."""
    return expr.str.to_lowercase().str.extract(r"linkedin\.com/(?:in|pub)/([^/?#\s]+)", 1)
