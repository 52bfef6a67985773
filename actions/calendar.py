"""Time zones and meeting options: when a proposed meeting time falls in a contact's working day.

    options = next_weekday_options(after, "DE", hours=[10, 14], count=2, length_minutes=30)

A contact's time zone comes from their country (the golden record's ISO code); a country this table does not
know falls back to UTC, and the proposal says so.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# The main business time zone per country (countries with several use the most populous business region).
COUNTRY_TIME_ZONES = {
    "US": "America/New_York",
    "CA": "America/Toronto",
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "DE": "Europe/Berlin",
    "AT": "Europe/Vienna",
    "CH": "Europe/Zurich",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "BE": "Europe/Brussels",
    "LU": "Europe/Luxembourg",
    "ES": "Europe/Madrid",
    "IT": "Europe/Rome",
    "PT": "Europe/Lisbon",
    "IN": "Asia/Kolkata",
    "SG": "Asia/Singapore",
    "JP": "Asia/Tokyo",
    "HK": "Asia/Hong_Kong",
    "AU": "Australia/Sydney",
    "NZ": "Pacific/Auckland",
    "SE": "Europe/Stockholm",
    "NO": "Europe/Oslo",
    "DK": "Europe/Copenhagen",
    "FI": "Europe/Helsinki",
    "BR": "America/Sao_Paulo",
    "MX": "America/Mexico_City",
    "AR": "America/Argentina/Buenos_Aires",
    "CL": "America/Santiago",
    "CO": "America/Bogota",
}


def time_zone_of(country: str | None) -> ZoneInfo:
    """The contact's time zone from their country (UTC when unknown)."""
    return ZoneInfo(COUNTRY_TIME_ZONES.get((country or "").upper(), "UTC"))


def next_weekday_options(
    after: datetime, country: str | None, hours: list[int], count: int, length_minutes: int
) -> list[tuple[datetime, datetime]]:
    """`count` meeting options on the working days after `after` (the next day onwards), at the given local hours
    of the contact's time zone, one per day in turn; returned as (start, end) in the contact's time zone."""
    zone = time_zone_of(country)
    day = after.astimezone(zone).date() + timedelta(days=1)
    options: list[tuple[datetime, datetime]] = []
    turn = 0
    while len(options) < count:
        if day.weekday() < 5:
            hour = hours[turn % len(hours)]
            start = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
            options.append((start, start + timedelta(minutes=length_minutes)))
            turn += 1
        day += timedelta(days=1)
    return options


def option_words(start: datetime) -> str:
    """A meeting option as the contact reads it: `Tuesday 3 November, 10:00 (Europe/Berlin)`."""
    return f"{start:%A} {start.day} {start:%B}, {start:%H:%M} ({start.tzinfo})"
