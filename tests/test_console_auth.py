"""Console sign-in and request safety: password hashing, session expiry, the trusted identity header only from
configured proxies, CSRF, Origin/Host checks and roles — on the app, through an HTTP client."""

from __future__ import annotations

import ipaddress
import re

import pytest
from console_world import PASSWORD, build_world, settings_for
from fastapi.testclient import TestClient

from console.app import create_app
from console.auth import (
    SESSION_COOKIE,
    SessionCodec,
    UserStore,
    from_trusted_proxy,
    hash_password,
    host_allowed,
    same_origin,
    session_user,
    verify_password,
)
from ops_store import open_store

BASE = "https://127.0.0.1"
ORIGIN = {"Origin": BASE}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return build_world(tmp_path_factory.mktemp("console_auth"))


@pytest.fixture(scope="module")
def app(world):
    return create_app(settings_for(world))


def _csrf(client: TestClient, path: str = "/login") -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text).group(1)


def _signed_in(app, name: str) -> TestClient:
    client = TestClient(app, base_url=BASE)
    response = client.post(
        "/login",
        data={"csrf_token": _csrf(client), "username": name, "password": PASSWORD, "next": "/"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return client


def _waiting_action(world, action_type: str) -> tuple[str, int]:
    from actions.policy import load_policy
    from actions.queue import DecisionQueue

    engine = open_store(world.ops_url)
    try:
        item = next(
            a
            for a in DecisionQueue(engine, load_policy()).list(states=["proposed"], limit=None)
            if a.action_type == action_type
        )
        return item.action_id, item.row_version
    finally:
        engine.dispose()


def test_passwords_are_hashed_with_argon2id_and_verified():
    stored = hash_password("a long enough password")
    assert stored.startswith("$argon2id$") and "a long enough password" not in stored
    assert verify_password(stored, "a long enough password")
    assert not verify_password(stored, "a long enough passworD")
    assert hash_password("a long enough password") != stored  # salted
    assert not verify_password("not a hash", "x")


def test_accounts_refuse_short_passwords_and_unknown_roles(world):
    users = UserStore(open_store(world.ops_url))
    with pytest.raises(ValueError, match="at least"):
        users.add("Shorty", "viewer", "short")
    with pytest.raises(ValueError, match="unknown role"):
        users.add("Someone", "superuser", PASSWORD)
    assert users.authenticate("Vic Viewer", PASSWORD).role.label == "viewer"
    assert users.authenticate("Vic Viewer", "wrong password!") is None
    assert users.authenticate("Nobody", PASSWORD) is None


def test_sessions_expire_and_end_when_the_password_changes(world):
    users = UserStore(open_store(world.ops_url))
    users.add("Temp Person", "viewer", PASSWORD)
    now = [1_900_000_000.0]
    codec = SessionCodec("k" * 32, hours=1, clock=lambda: now[0])
    cookie = codec.issue("Temp Person")
    assert session_user(codec, users, cookie).username == "Temp Person"
    now[0] += 3599
    assert codec.read(cookie) is not None
    now[0] += 2
    assert codec.read(cookie) is None, "a session older than its lifetime is refused"
    # Forged or re-signed with another key: refused.
    assert codec.read(cookie + "x") is None
    assert SessionCodec("other key" * 4, hours=1, clock=lambda: now[0]).read(codec.issue("Temp Person")) is None
    # A new password ends the sessions issued before it.
    fresh = SessionCodec("k" * 32, hours=1)
    old_cookie = fresh.issue("Temp Person")
    assert session_user(fresh, users, old_cookie) is not None
    users.add("Temp Person", "viewer", PASSWORD + "2")
    assert session_user(fresh, users, old_cookie) is None


def test_identity_header_is_accepted_only_from_configured_proxies(world):
    proxies = (ipaddress.ip_network("10.0.0.5/32"),)
    assert from_trusted_proxy("10.0.0.5", proxies)
    assert not from_trusted_proxy("10.0.0.6", proxies)
    assert not from_trusted_proxy("127.0.0.1", ())
    assert not from_trusted_proxy("testclient", proxies)
    app = create_app(settings_for(world, trusted_proxies=proxies, header_default_role="viewer"))
    via_proxy = TestClient(app, base_url=BASE, client=("10.0.0.5", 40000))
    page = via_proxy.get("/", headers={"X-Forwarded-User": "Dana Steward"}, follow_redirects=False)
    assert page.status_code == 200 and 'id="signed-in-as">Dana Steward<' in page.text
    # The role comes from the local account when there is one, else the configured default.
    assert "approver" in page.text
    stranger = via_proxy.get("/", headers={"X-Forwarded-User": "Sam Newcomer"})
    assert 'id="signed-in-as">Sam Newcomer<' in stranger.text and ">viewer<" in stranger.text
    # The same header from anywhere else is ignored: sign in first.
    direct = TestClient(app, base_url=BASE, client=("10.0.0.6", 40000))
    refused = direct.get("/", headers={"X-Forwarded-User": "Ada Admin"}, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"].startswith("/login")
    # Without configured proxies the header mode is off altogether.
    plain = TestClient(create_app(settings_for(world)), base_url=BASE, client=("10.0.0.5", 40000))
    assert plain.get("/", headers={"X-Forwarded-User": "Ada Admin"}, follow_redirects=False).status_code == 303


def test_sign_in_sets_a_secure_httponly_strict_cookie(app):
    client = TestClient(app, base_url=BASE)
    response = client.post(
        "/login",
        data={"csrf_token": _csrf(client), "username": "Vic Viewer", "password": PASSWORD, "next": "/scores"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/scores"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and "Max-Age=" in cookie
    wrong = TestClient(app, base_url=BASE)
    bad = wrong.post(
        "/login",
        data={"csrf_token": _csrf(wrong), "username": "Vic Viewer", "password": "nope nope nope"},
        headers=ORIGIN,
    )
    assert bad.status_code == 401 and "Wrong name or password" in bad.text
    assert PASSWORD not in bad.text


def test_sign_in_redirects_only_inside_the_console(app):
    client = TestClient(app, base_url=BASE)
    response = client.post(
        "/login",
        data={"csrf_token": _csrf(client), "username": "Vic Viewer", "password": PASSWORD, "next": "//evil.example"},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert response.headers["location"] == "/"


def test_every_form_needs_the_csrf_token_and_a_same_origin_request(app, world):
    client = _signed_in(app, "Dana Steward")
    action_id, version = _waiting_action(world, "apply_enrichment")
    form = {"decision": "reject", "seen_version": str(version), "note": "csrf test"}
    no_token = client.post(f"/queue/{action_id}/decide", data=form, headers=ORIGIN)
    assert no_token.status_code == 403 and "security token" in no_token.text
    forged = client.post(f"/queue/{action_id}/decide", data={**form, "csrf_token": "0" * 64}, headers=ORIGIN)
    assert forged.status_code == 403
    token = _csrf(client, "/queue")
    cross_site = client.post(
        f"/queue/{action_id}/decide", data={**form, "csrf_token": token}, headers={"Origin": "https://evil.example"}
    )
    assert cross_site.status_code == 403
    no_origin = client.post(f"/queue/{action_id}/decide", data={**form, "csrf_token": token})
    assert no_origin.status_code == 403
    # The login form is protected too.
    assert client.post("/login", data={"username": "x", "password": "y"}, headers=ORIGIN).status_code == 403
    # Nothing was decided by any of these.
    assert _waiting_action(world, "apply_enrichment")[0] == action_id
    # Every POST route of the app reads its form through the CSRF check.
    for route in app.routes:
        if "POST" in getattr(route, "methods", set()):
            names = {d.call.__name__ for d in route.dependant.dependencies}
            assert "verified_form" in names, route.path


def test_host_header_and_origin_helpers():
    assert host_allowed("127.0.0.1:8080", ("127.0.0.1", "localhost"))
    assert host_allowed("[::1]:8080", ("::1",))
    assert not host_allowed("attacker.example:8080", ("127.0.0.1", "localhost"))
    assert same_origin("https://127.0.0.1:8080", None, "127.0.0.1:8080")
    assert same_origin(None, "https://127.0.0.1:8080/queue", "127.0.0.1:8080")
    assert not same_origin("https://evil.example", None, "127.0.0.1:8080")
    assert not same_origin(None, None, "127.0.0.1:8080")


def test_unknown_host_names_are_refused(app):
    client = TestClient(app, base_url="https://rebound.example")
    assert client.get("/login").status_code == 400


def test_roles_viewer_cannot_decide_approver_cannot_switch_admin_can(app, world):
    action_id, version = _waiting_action(world, "apply_enrichment")
    viewer = _signed_in(app, "Vic Viewer")
    refused = viewer.post(
        f"/queue/{action_id}/decide",
        data={"decision": "approve", "seen_version": str(version), "csrf_token": _csrf(viewer, "/queue")},
        headers=ORIGIN,
    )
    assert refused.status_code == 403 and "needs the approver role" in refused.text
    approver = _signed_in(app, "Dana Steward")
    switch = {"state": "on", "reason": "test", "csrf_token": _csrf(approver, "/")}
    assert approver.post("/kill-switch", data=switch, headers=ORIGIN).status_code == 403
    admin = _signed_in(app, "Ada Admin")
    done = admin.post(
        "/kill-switch", data={**switch, "csrf_token": _csrf(admin, "/")}, headers=ORIGIN, follow_redirects=False
    )
    assert done.status_code == 303
    from actions.kill_switch import KillSwitch

    state = KillSwitch(open_store(world.ops_url)).state()
    assert state.on and state.actor == "Ada Admin" and state.reason == "test"
    back = admin.post(
        "/kill-switch",
        data={"state": "off", "reason": "test over", "csrf_token": _csrf(admin, "/")},
        headers=ORIGIN,
        follow_redirects=False,
    )
    assert back.status_code == 303 and not KillSwitch(open_store(world.ops_url)).state().on


def test_pages_need_a_signed_in_person(app):
    client = TestClient(app, base_url=BASE)
    for path in ("/", "/scores", "/queue", "/leads/gc-1", "/quality", "/safety", "/pipeline"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login"), path
