"""Screenshots of the console for the docs, taken by Playwright on Debian's chromium (dev dependency).

    .venv/bin/python -m console.screenshots --out docs   # after `make demo`; signs in as the demo user

Serves the console on a loopback port over the current data folder's publication and writes
`console-scores.png` and `console-queue.png`.
"""

from __future__ import annotations

import argparse
import os
import socket
import threading
import time
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def main(argv: list[str] | None = None) -> int:
    import uvicorn
    from playwright.sync_api import sync_playwright

    from console.app import create_app
    from console.settings import DEMO_PASSWORD_ENV, ConsoleSettings
    from orchestration.console_cli import DEMO_PASSWORD_DEFAULT, DEMO_USER

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs"))
    args = parser.parse_args(argv)
    password = os.environ.get(DEMO_PASSWORD_ENV, "").strip() or DEMO_PASSWORD_DEFAULT

    app = create_app(ConsoleSettings.from_environment())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 1000})
            page.goto(f"{base}/scores")
            page.fill("#username", DEMO_USER)
            page.fill("#password", password)
            page.click("form.login button[type=submit]")
            page.wait_for_selector("#chart-conversion-tier[data-rendered='1'] svg")
            page.screenshot(path=str(args.out / "console-scores.png"), full_page=False)
            page.goto(f"{base}/queue?type=merge_contacts")
            first = page.locator("#queue-table a[data-action-id]").first
            if first.count() == 0:
                page.goto(f"{base}/queue")
                first = page.locator("#queue-table a[data-action-id]").first
            first.click()
            page.wait_for_selector("#rail[data-action-id]")
            page.screenshot(path=str(args.out / "console-queue.png"), full_page=False)
            browser.close()
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    print(f"wrote {args.out / 'console-scores.png'} and {args.out / 'console-queue.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
