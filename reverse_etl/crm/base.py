"""The one interface every CRM connector implements, and the per-row outcomes every write returns.

The sync engine talks to `CrmConnector` only, so it does not care whether rows go to HubSpot or Salesforce.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, Self, runtime_checkable

import httpx


class OutcomeStatus(StrEnum):
    """What happened to one row: written, worth retrying later, or refused by the CRM for good."""

    OK = "ok"
    RETRYABLE = "retryable"
    REJECTED = "rejected"


@dataclass(frozen=True)
class RowOutcome:
    """The result of one input row. `message` is the CRM's own error message when it refused the row."""

    key: str
    status: OutcomeStatus
    record_id: str | None = None
    message: str | None = None
    created: bool | None = None

    @property
    def ok(self) -> bool:
        """True if the row was written."""
        return self.status is OutcomeStatus.OK


@dataclass(frozen=True)
class CrmRecord:
    """One record read from a CRM: its id, last modification (epoch ms) and properties (as strings)."""

    object_type: str
    id: str
    modified_ms: int
    properties: dict[str, str | None] = field(default_factory=dict)


@dataclass(frozen=True)
class ChangePage:
    """One page of changed records and the cursor to resume after it (persist it once the page is stored)."""

    records: list[CrmRecord]
    cursor: str


class CrmError(Exception):
    """A request the CRM refused or that could not be completed (after the client's bounded retries)."""

    def __init__(
        self, message: str, status: int | None = None, category: str | None = None, retryable: bool = False
    ) -> None:
        super().__init__(message)
        self.message, self.status, self.category, self.retryable = message, status, category, retryable


class CrmAuthenticationError(CrmError):
    """The token was refused (401/403 auth): a configuration problem, so the whole sync stops."""


@runtime_checkable
class CrmConnector(Protocol):
    """What Actionhouse needs from a CRM: incremental reads and idempotent writes with per-row outcomes."""

    name: str

    def iter_changed(
        self, object_type: str, since_cursor: str | None, properties: Sequence[str] | None = None
    ) -> Iterator[ChangePage]:
        """Pages of records modified after the cursor (None: everything), oldest first."""
        ...

    def read_changed(
        self, object_type: str, since_cursor: str | None, properties: Sequence[str] | None = None
    ) -> ChangePage:
        """All records modified after the cursor, and the cursor to use next time."""
        ...

    def upsert(self, object_type: str, rows: Sequence[Mapping[str, object]], id_property: str) -> list[RowOutcome]:
        """Create or update rows keyed by a unique property; one outcome per input row, in input order."""
        ...


def collect_pages(pages: Iterator[ChangePage], since_cursor: str | None) -> ChangePage:
    """Join an iterator of pages into one (shared by the connectors' `read_changed`)."""
    records: list[CrmRecord] = []
    cursor = since_cursor or ""
    for page in pages:
        records.extend(page.records)
        cursor = page.cursor
    return ChangePage(records, cursor)


def row_key(row: Mapping[str, object], id_property: str) -> str | None:
    """The row's id-property value as text, or None when it is missing or blank."""
    value = row.get(id_property)
    if value is None or str(value).strip() == "":
        return None
    return str(value).strip()


def chunk_without_duplicate_keys(keyed: Sequence[tuple[int, str]], size: int) -> list[list[tuple[int, str]]]:
    """Split (row index, key) pairs into chunks of at most `size` where no key repeats inside a chunk.

    A CRM refuses a batch naming the same record twice; later duplicates go to later chunks, so the
    last row for a key is written last (last write wins, as in the input order).
    """
    chunks: list[list[tuple[int, str]]] = []
    keys_per_chunk: list[set[str]] = []
    first_open = 0
    for index, key in keyed:
        normalized = key.lower()
        position = first_open
        while position < len(chunks) and (len(chunks[position]) >= size or normalized in keys_per_chunk[position]):
            position += 1
        if position == len(chunks):
            chunks.append([])
            keys_per_chunk.append(set())
        chunks[position].append((index, key))
        keys_per_chunk[position].add(normalized)
        while first_open < len(chunks) and len(chunks[first_open]) >= size:
            first_open += 1
    return chunks


class HttpCrmClient:
    """What the HTTP CRM clients share: one pooled `httpx.Client` (`self._http`), closed by `close()` or `with`."""

    _http: httpx.Client

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
