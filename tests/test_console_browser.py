"""The console in a real browser: Playwright drives Debian's chromium (no browser download) against the app served
by uvicorn on a loopback port, over one small fixture world shared by the module.

`make test` installs chromium with apt when it is missing, so these run in CI rather than being skipped.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import duckdb
import pytest
import uvicorn
from console_world import PASSWORD, build_world, settings_for

from actions.policy import load_policy
from actions.queue import DecisionQueue
from console.app import create_app
from console.publish import publish
from console.screenshots import CHROMIUM as CHROMIUM_PATH
from console.screenshots import CHROMIUM_ARGS
from ops_store import open_store

CHROMIUM = Path(CHROMIUM_PATH)
TIMEOUT_MS = 15_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("console_browser"))


@pytest.fixture(scope="module")
def base_url(world):
    app = create_app(settings_for(world))
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    app.state.reader.close()


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium package (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _sign_in(browser, base_url: str, name: str, start: str = "/"):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(base_url + start)
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("#signed-in-as")
    return context, page


def _queue(world) -> DecisionQueue:
    return DecisionQueue(open_store(world.ops_url), load_policy())


def _waiting(world, action_type: str, skip: int = 0) -> str:
    items = [a for a in _queue(world).list(states=["proposed"], limit=None) if a.action_type == action_type]
    return sorted(items, key=lambda a: a.action_id)[skip].action_id


def _open_rail(page, base_url: str, action_id: str) -> None:
    page.goto(f"{base_url}/queue?state=all")
    page.click(f"#queue-table a[data-action-id='{action_id}']")
    page.wait_for_selector(f"#rail[data-action-id='{action_id}']")


def _marks(page, chart_id: str) -> int:
    page.wait_for_selector(f"#{chart_id}[data-rendered='1'] svg")
    return page.locator(f"#{chart_id} svg .mark-rect path, #{chart_id} svg .mark-line path").count()


def test_sign_in_then_scores_page_draws_its_charts(browser, base_url):
    context, page = _sign_in(browser, base_url, "Demo Approver", start="/scores")
    assert page.url.endswith("/scores")
    assert page.inner_text("#signed-in-as") == "Demo Approver"
    # 3 tiers, a histogram split by tier, 10 deciles: every chart has drawn marks.
    assert _marks(page, "chart-tiers") == 3
    assert _marks(page, "chart-histogram") >= 5
    assert _marks(page, "chart-deciles") == 10
    assert _marks(page, "chart-conversion-tier") == 3
    assert page.locator("#leads tr").count() == 51  # header + one page of 50
    # A filter narrows the figures (done in DuckDB over the publication).
    page.select_option("select[name=owner]", "Alice Carter")
    page.click("form.filters button[type=submit]")
    page.wait_for_url(re.compile(r"owner=Alice"))
    assert _marks(page, "chart-tiers") >= 1
    assert page.locator("#leads tr").count() == 21  # 20 of the 60 contacts are Alice Carter's
    context.close()


def test_lead_page_and_an_action_explain_rail(browser, base_url, world):
    context, page = _sign_in(browser, base_url, "Demo Approver", start="/leads/gc-6")
    assert "employees" in page.inner_text("#lead-reasons")
    assert page.locator("#golden-record tr").count() == 3  # header + email + job title, with their sources
    assert "hubspot" in page.inner_text("#crosswalk")
    assert "f_" not in page.inner_text("#features") and "employees" in page.inner_text("#features")
    assert _marks(page, "chart-history") >= 1
    # The lead's actions lead to the explain rail.
    page.click("#lead-actions a:text('merge_contacts')")
    page.wait_for_selector("#rail[data-action-id]")
    rail = page.inner_text("#rail")
    assert "Why" in rail and "Evidence" in rail and "Policy verdicts" in rail
    assert page.locator("#rail-evidence tr").count() > 1
    assert page.locator("#rail-verdicts tr").count() > 1
    assert "policy version" in rail and "KPI" in rail
    assert page.locator("#decision-forms button[value=approve]").count() == 1
    context.close()


def test_approve_one_reject_another_records_the_signed_in_person(browser, base_url, world):
    merge_id = _waiting(world, "merge_contacts")
    enrichment_id = _waiting(world, "apply_enrichment")
    context, page = _sign_in(browser, base_url, "Demo Approver", start="/queue")
    _open_rail(page, base_url, merge_id)
    page.fill("#decision-forms textarea[name=note]", "same person, checked")
    page.click("#decision-forms button[value=approve]")
    page.wait_for_selector("#decision-message")
    assert page.inner_text("#decision-message") == "Approved."
    assert page.inner_text("#rail-state") == "approved"
    _open_rail(page, base_url, enrichment_id)
    page.fill("#decision-forms textarea[name=note]", "vendor is wrong")
    page.click("#decision-forms button[value=reject]")
    page.wait_for_selector("#decision-message")
    assert page.inner_text("#rail-state") == "rejected"
    queue = _queue(world)
    approved, rejected = queue.get(merge_id), queue.get(enrichment_id)
    assert (approved.state, approved.decided_by, approved.decision_note) == (
        "approved",
        "Demo Approver",
        "same person, checked",
    )
    assert (rejected.state, rejected.decided_by, rejected.decision_note) == (
        "rejected",
        "Demo Approver",
        "vendor is wrong",
    )
    assert [e["actor"] for e in queue.events(merge_id)][-1] == "Demo Approver"
    context.close()


def test_a_viewer_is_refused(browser, base_url, world):
    action_id = _waiting(world, "apply_enrichment")
    context, page = _sign_in(browser, base_url, "Vic Viewer", start="/queue")
    _open_rail(page, base_url, action_id)
    assert page.locator("#decision-forms").count() == 0
    assert "Viewers cannot decide" in page.inner_text("#not-yours")
    # Posting the decision anyway (with a valid token) is refused by the server.
    token = page.get_attribute("meta[name=csrf-token]", "content")
    version = page.get_attribute("#rail", "data-row-version")
    response = page.request.post(
        f"{base_url}/queue/{action_id}/decide",
        form={"decision": "approve", "seen_version": version, "csrf_token": token},
        headers={"Origin": base_url},
    )
    assert response.status == 403 and "needs the approver role" in response.text()
    assert _queue(world).get(action_id).state == "proposed"
    context.close()


def test_a_stale_second_approver_gets_the_conflict_message(browser, base_url, world):
    action_id = _waiting(world, "apply_enrichment", skip=1)
    first_context, first = _sign_in(browser, base_url, "Dana Steward", start="/queue")
    second_context, second = _sign_in(browser, base_url, "Demo Approver", start="/queue")
    _open_rail(first, base_url, action_id)
    _open_rail(second, base_url, action_id)
    first.click("#decision-forms button[value=approve]")
    first.wait_for_selector("#decision-message")
    second.fill("#decision-forms textarea[name=note]", "I think not")
    second.click("#decision-forms button[value=reject]")
    second.wait_for_selector("#decision-message.conflict")
    message = second.inner_text("#decision-message")
    assert "changed since you read it" in message and "Dana Steward" in message and "not recorded" in message
    assert second.inner_text("#rail-state") == "approved"
    item = _queue(world).get(action_id)
    assert (item.state, item.decided_by) == ("approved", "Dana Steward")
    first_context.close()
    second_context.close()


def test_pages_keep_working_while_a_refresh_republishes(browser, base_url, world):
    context, page = _sign_in(browser, base_url, "Demo Approver", start="/scores")
    errors: list[BaseException] = []
    published: list[int] = []
    stop = threading.Event()

    def republish():
        n = 0
        while not stop.is_set():
            con = duckdb.connect(str(world.warehouse), read_only=True)
            try:
                publish(con, world.publication, run_id=f"republish-{n}")
                published.append(n)
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
            finally:
                con.close()
            n += 1

    publisher = threading.Thread(target=republish)
    publisher.start()
    statuses = []
    try:
        for path in ("/scores", "/leads/gc-1", "/", "/quality", "/pipeline", "/safety") * 2:
            response = page.goto(base_url + path)
            statuses.append(response.status)
            if path == "/scores":
                assert _marks(page, "chart-histogram") >= 5
            if path == "/safety":
                # The lift chart: a point and an interval bar per workflow (3 hand-made rows), and the zero line.
                page.wait_for_selector("#chart-lift[data-rendered='1'] svg")
                assert page.locator("#chart-lift svg .mark-symbol.role-mark path").count() == 3
                assert page.locator("#chart-lift svg .mark-rule.role-mark line").count() == 4
                assert "raises bookings" in page.inner_text("#workflow-lift tr[data-workflow=sla]")
    finally:
        stop.set()
        publisher.join()
    assert errors == []
    assert len(published) >= 3, "the pages were read while the publication was being replaced, several times"
    assert statuses == [200] * 12
    page.goto(base_url + "/scores")
    assert "(refresh republis" in page.inner_text("#publication")  # the page shows the newest publication
    context.close()
