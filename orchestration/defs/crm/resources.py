"""The CRM connection as a Dagster resource (base URL and token from environment variables)."""

import os
from urllib.parse import urlsplit, urlunsplit

import dagster as dg

from ops_store import OPS_DB_ENV, default_ops_db_url
from orchestration.settings import CRM_BASE_URL_ENV, CRM_TOKEN_ENV, crm_rate_limit, resolve_paths
from reverse_etl.crm.base import CrmAuthenticationError, CrmError
from reverse_etl.crm.cursors import CursorStore
from reverse_etl.crm.hubspot import HubSpotClient, hubspot_connection_name


def crm_configured() -> bool:
    """True when a CRM base URL is set (the API ingestion assets exist only then)."""
    return bool(os.environ.get(CRM_BASE_URL_ENV, "").strip())


class CrmResource(dg.ConfigurableResource):
    """A HubSpot-API CRM (HubSpot or the sandbox) and the operational store that keeps read cursors."""

    base_url: str
    token: str
    ops_db_url: str
    rate_limit: int = 100

    @classmethod
    def from_environment(cls) -> "CrmResource":
        """`ACTIONHOUSE_CRM_BASE_URL`, `ACTIONHOUSE_CRM_TOKEN` (read at run time, never shown),
        `ACTIONHOUSE_CRM_RATE_LIMIT` (requests per 10 s, default 100) and
        `ACTIONHOUSE_OPS_DB` (default `sqlite:///<data dir>/operations.sqlite`)."""
        # The store's URL can hold a password: taken from the variable at run time, never shown in the UI.
        if os.environ.get(OPS_DB_ENV, "").strip():
            ops_db = dg.EnvVar(OPS_DB_ENV)
        else:
            ops_db = default_ops_db_url(resolve_paths().data_dir)
        return cls(
            base_url=dg.EnvVar(CRM_BASE_URL_ENV),
            token=dg.EnvVar(CRM_TOKEN_ENV),
            ops_db_url=ops_db,
            rate_limit=crm_rate_limit(),
        )

    @property
    def connection_name(self) -> str:
        """Names the CRM in the cursor table, outbox and ledger (`hubspot@host:port`)."""
        return hubspot_connection_name(self.base_url)

    def client(self) -> HubSpotClient:
        """A client for one step (close it, or use `with`)."""
        return HubSpotClient(self.base_url, self.token, rate_limit=self.rate_limit)

    def cursor_store(self) -> CursorStore:
        """The read-cursor store in the operational database."""
        return CursorStore(self.ops_db_url)


def shown_url(url: str) -> str:
    """The CRM URL as it may be shown: without a user name or password in it."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def crm_problem(exc: Exception, base_url: str) -> str:
    """What went wrong talking to the CRM, in words a person can act on: the URL, the status, and which
    environment variable to look at."""
    url = shown_url(base_url)
    status = exc.status if isinstance(exc, CrmError) else None
    message = exc.message if isinstance(exc, CrmError) else f"{type(exc).__name__}: {exc}"
    if isinstance(exc, CrmAuthenticationError) or status in (401, 403):
        return f"the CRM at {url} refused the token (HTTP {status or 401}: {message}); check {CRM_TOKEN_ENV}"
    if status is None:
        return f"could not reach the CRM at {url} ({message}); check {CRM_BASE_URL_ENV} and that the CRM is up"
    return f"the CRM at {url} answered HTTP {status}: {message}; the next refresh tries again"
