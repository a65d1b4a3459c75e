"""Shared fixtures: a real scim2-server subprocess (a SCIM server we did not write), one fresh tenant per test,
and the `responses`-backed fake target."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
import responses

from tests.fake_scim import FakeScimTarget

SCIM2_SERVER = Path(sys.executable).with_name("scim2-server")
TOKEN = "scim2-server-test-token"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def scim2_server():
    """scim2-server on a free port, one tenant per test (--dynamic-tenants). Yields its root URL."""
    if not SCIM2_SERVER.exists():
        pytest.skip("scim2-server is not installed")
    port = _free_port()
    process = subprocess.Popen([str(SCIM2_SERVER), "--hostname", "127.0.0.1", "--port", str(port),
                                "--bearer-token", TOKEN, "--dynamic-tenants"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
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
                pytest.fail(f"scim2-server did not start: {process.stderr.read().decode(errors='replace')}")
            time.sleep(0.1)
    yield root
    process.terminate()
    process.wait(timeout=10)


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
