"""Run the sandbox CRM: in the foreground (`actionhouse crm serve`) or in a background thread (tests, bench)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from crm_sandbox.config import SandboxConfig
from crm_sandbox.hubspot_app import create_app


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(config: SandboxConfig, host: str = "127.0.0.1", port: int = 8765) -> None:
    """Serve the sandbox until interrupted."""
    uvicorn.run(create_app(config), host=host, port=port, log_level="warning", access_log=False)


class BackgroundServer:
    """An ASGI app on a free loopback port in a daemon thread: `with BackgroundServer(app) as server: server.url`."""

    def __init__(self, app, host: str = "127.0.0.1", port: int | None = None) -> None:
        self.app = app
        self.host, self.port = host, port or free_loopback_port()
        self._server = uvicorn.Server(
            uvicorn.Config(app, host=self.host, port=self.port, log_level="warning", access_log=False, lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, name=f"sandbox-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        """Base URL, e.g. `http://127.0.0.1:54321`."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> BackgroundServer:
        """Start serving and wait until the socket accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the sandbox server did not start on {self.url}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        """Ask the server to exit and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def start_sandbox(config: SandboxConfig, port: int | None = None) -> tuple[BackgroundServer, object]:
    """Start a sandbox CRM in a background thread; returns (server, app). Stop it with `server.stop()`."""
    app = create_app(config)
    return BackgroundServer(app, port=port).start(), app
