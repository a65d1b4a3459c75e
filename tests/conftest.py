"""Shared fixtures: a fresh app and database per test, a workspace token, a Flask test client speaking
SCIM, and a real HTTP server for tests that need sockets."""
from __future__ import annotations

import pytest

from server.app import create_app
from server.embedded import EmbeddedServer
from server.storage import Store
from server.tokens import generate_token

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


def patch_body(*operations) -> dict:
    return {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": list(operations)}


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
