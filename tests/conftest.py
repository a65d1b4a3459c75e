"""Shared fixtures: a fresh app and database per test with a workspace token and a Flask test client speaking
SCIM; a real HTTP embedded server; a real scim2-server subprocess (a SCIM server we did not write) with one fresh
tenant per test; and the `responses`-backed fake target."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from dataclasses import replace

import pytest
import requests
import responses
from flask import g, request_finished

from server.app import create_app
from server.embedded import EmbeddedServer
from server.storage import Store
from server.tokens import generate_token
from tests.fake_scim import FakeScimTarget

SCIM = "application/scim+json"


class ScimTestClient:
    """The Flask test client with the workspace token and SCIM content type applied to every call."""

    def __init__(self, flask_client, token: str, prefix: str = "/scim/v2"):
        self.flask = flask_client
        self.token = token
        self.prefix = prefix

    def _call(self, method: str, path: str, json=None, headers=None, **kwargs):
        all_headers = {"Authorization": f"Bearer {self.token}", **(headers or {})}
        if json is not None:
            kwargs["json"] = json
            all_headers.setdefault("Content-Type", SCIM)
        return self.flask.open(self.prefix + path, method=method, headers=all_headers, **kwargs)

    def get(self, path, **kw):
        return self._call("GET", path, **kw)

    def post(self, path, json=None, **kw):
        return self._call("POST", path, json=json, **kw)

    def put(self, path, json=None, **kw):
        return self._call("PUT", path, json=json, **kw)

    def patch(self, path, json=None, **kw):
        return self._call("PATCH", path, json=json, **kw)

    def delete(self, path, **kw):
        return self._call("DELETE", path, **kw)


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "scim.db")


@pytest.fixture
def app(db_path):
    return create_app(db_path)


@pytest.fixture
def token(app, db_path):
    return generate_token(Store(db_path), "acme")


@pytest.fixture
def scim(app, token):
    return ScimTestClient(app.test_client(), token)


@pytest.fixture
def full_scim(tmp_path):
    """A SCIM client for an app serving the `full` contract (core User + enterprise extension, PATCH 204)."""
    db = str(tmp_path / "full.db")
    return ScimTestClient(create_app(db, "full").test_client(), generate_token(Store(db), "acme"))


def capture_dropped(app) -> list[list[str]]:
    """What each request leaves in g.dropped_attributes (the request log reads it), in request order."""
    seen = []

    def remember(sender, response, **extra):
        seen.append(list(g.get("dropped_attributes") or []))

    request_finished.connect(remember, app, weak=False)
    return seen


@pytest.fixture
def live_server():
    with EmbeddedServer() as server:
        yield server


def new_user(user_name="Zoë.O'Brien@Contoso.onmicrosoft.com", email=None, **extra) -> dict:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Zoë", "familyName": "O'Brien"},
        "emails": [{"type": "work", "primary": True, "value": email or user_name.lower()}],
        "active": True,
        **extra,
    }


def simulate_entra(base_url: str, token: str, users: int = 12, seed: int = 0):
    """The default scenario (initial cycle, a rename, a disable, a hard delete) run by Entra against a target."""
    from harness.scenario_files import load_scenario
    from harness.simulate import Target, run_simulation
    scenario = load_scenario("walking-skeleton")
    scenario = replace(scenario, directory=replace(scenario.directory, users=users))
    return run_simulation(scenario, Target(base_url, lambda workspace: token), idp="entra", seed=seed)


def patch_body(*operations) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


SCIM2_SERVER = Path(sys.executable).with_name("scim2-server")
TOKEN = "scim2-server-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def scim2_server(tmp_path_factory):
    """scim2-server on a free port, one tenant per test (--dynamic-tenants). Yields its root URL."""
    if not SCIM2_SERVER.exists():
        pytest.skip("scim2-server is not installed")
    port = _free_port()
    # its log goes to a file: an undrained pipe fills up after a few hundred requests and blocks the server
    log = tmp_path_factory.mktemp("scim2-server") / "stderr.log"
    log_file = log.open("wb")
    process = subprocess.Popen([str(SCIM2_SERVER), "--hostname", "127.0.0.1", "--port", str(port),
                                "--bearer-token", TOKEN, "--dynamic-tenants"],
                               stdout=subprocess.DEVNULL, stderr=log_file)
    root = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while True:
        try:
            requests.get(f"{root}/probe/v2/ServiceProviderConfig", timeout=1,
                         headers={"Authorization": f"Bearer {TOKEN}"})
            break
        except requests.ConnectionError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"scim2-server did not start: {log.read_text(errors='replace')}")
            time.sleep(0.1)
    yield root
    process.terminate()
    process.wait(timeout=10)
    log_file.close()


@pytest.fixture
def scim2_target(scim2_server) -> tuple[str, str]:
    """(base URL, token) of an empty scim2-server tenant."""
    return f"{scim2_server}/{uuid.uuid4().hex}/v2", TOKEN


@pytest.fixture
def rsps():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def fake(rsps) -> FakeScimTarget:
    return FakeScimTarget().install(rsps)


# --- workspaces: a second workspace and the admin API ----------------------------------------------


class AdminTestClient:
    """The Flask test client with a workspace admin key applied to every /api call."""

    def __init__(self, flask_client, key: str):
        self.flask = flask_client
        self.key = key

    def get(self, path, **kw):
        return self.flask.get("/api" + path, headers={"Authorization": f"Bearer {self.key}"}, **kw)

    def post(self, path, json=None, **kw):
        return self.flask.post("/api" + path, json=json, headers={"Authorization": f"Bearer {self.key}"}, **kw)


@pytest.fixture
def admin(app, db_path, token):
    from server.admin_keys import generate_admin_key

    return AdminTestClient(app.test_client(), generate_admin_key(Store(db_path), "acme"))


@pytest.fixture
def other_scim(app, db_path):
    """A SCIM client for a second workspace, 'globex', on the same server."""
    return ScimTestClient(app.test_client(), generate_token(Store(db_path), "globex"))


# --- the long reliability run ------------------------------------------------------------------------------


def pytest_addoption(parser):
    parser.addoption("--slow", action="store_true", help="long fuzz/stateful/concurrency/crash runs "
                                                         "(same as SCIMHARNESS_SLOW=1)")


def pytest_configure(config):
    if config.getoption("--slow"):
        import os

        os.environ.setdefault("SCIMHARNESS_SLOW", "1")


def pytest_terminal_summary(terminalreporter):
    from tests.reliability_support import TALLY

    if TALLY:
        terminalreporter.write_line("reliability: " + ", ".join(f"{k} {v}" for k, v in sorted(TALLY.items())))
