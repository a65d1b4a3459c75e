"""The contract drives both discovery and behaviour: the seed and the full contract (or any file) answer
/ServiceProviderConfig, /Schemas and /ResourceTypes from the same data that decides what is stored, dropped,
refused and how PATCH is answered; `scimharness serve --contract` loads either."""
import json
import subprocess
import sys
import time

import pytest
import requests

from server.app import create_app
from server.contract import CONTRACTS_DIR
from server.storage import Store
from server.tokens import generate_token
from tests.conftest import ScimTestClient, _free_port, new_user, patch_body

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def attribute_names(client, schema_id):
    schema = client.get(f"/Schemas/{schema_id}").get_json(force=True)
    return {a["name"] for a in schema["attributes"]}


def test_seed_discovery_says_exactly_what_the_seed_stores(scim):
    assert attribute_names(scim, CORE_USER) == {"userName", "name", "emails", "active"}
    assert scim.get(f"/Schemas/{ENTERPRISE}").status_code == 404
    user_type = scim.get("/ResourceTypes/User").get_json(force=True)
    assert user_type["schemaExtensions"] == []
    emails = next(a for a in scim.get(f"/Schemas/{CORE_USER}").get_json(force=True)["attributes"]
                  if a["name"] == "emails")
    assert "cannot be changed" in emails["description"]
    config = scim.get("/ServiceProviderConfig").get_json(force=True)
    assert config["patch"] == {"supported": True} and config["etag"] == {"supported": True}
    assert "documentationUri" not in config


def test_full_discovery_lists_the_core_user_schema_and_enterprise_extension(full_scim):
    names = attribute_names(full_scim, CORE_USER)
    assert {"userName", "name", "displayName", "nickName", "profileUrl", "title", "userType", "preferredLanguage",
            "locale", "timezone", "active", "emails", "phoneNumbers", "ims", "photos", "addresses", "groups",
            "entitlements", "roles", "x509Certificates"} == names  # no password: a mock keeps no credentials
    assert attribute_names(full_scim, ENTERPRISE) == {
        "employeeNumber", "costCenter", "organization", "division", "department", "manager"}
    user_type = full_scim.get("/ResourceTypes/User").get_json(force=True)
    assert user_type["schemaExtensions"] == [{"schema": ENTERPRISE, "required": False}]
    schemas = full_scim.get("/Schemas").get_json(force=True)
    assert schemas["totalResults"] == 3


def okta_create(**extra):
    return new_user("test.user@okta.local", displayName="Test User", locale="en-US", title="Engineer",
                    password="1mz050nq", groups=[], **{ENTERPRISE: {"department": "Engineering"}}, **extra)


def test_the_seed_drops_what_it_does_not_store(scim):
    created = scim.post("/Users", json=okta_create())
    assert created.status_code == 201
    stored = scim.get(f"/Users/{created.get_json(force=True)['id']}").get_json(force=True)
    assert stored.keys() == {"schemas", "id", "userName", "name", "emails", "active", "meta"}
    assert stored["schemas"] == [CORE_USER]


def test_the_full_contract_stores_it_and_answers_patch_with_204(full_scim):
    created = full_scim.post("/Users", json=okta_create())
    assert created.status_code == 201
    user_id = created.get_json(force=True)["id"]
    stored = full_scim.get(f"/Users/{user_id}").get_json(force=True)
    assert stored["displayName"] == "Test User" and stored["locale"] == "en-US" and stored["title"] == "Engineer"
    assert stored[ENTERPRISE] == {"department": "Engineering"}
    assert stored["schemas"] == [CORE_USER, ENTERPRISE]
    assert "password" not in stored and "groups" not in stored
    response = full_scim.patch(f"/Users/{user_id}", json=patch_body({"op": "replace", "path": "title",
                                                                      "value": "Lead"}))
    assert response.status_code == 204 and response.get_data() == b"" and response.headers["ETag"]
    assert full_scim.get(f"/Users/{user_id}").get_json(force=True)["title"] == "Lead"


def test_the_full_contract_shows_a_users_groups(full_scim):
    user = full_scim.post("/Users", json=new_user("member@example.com")).get_json(force=True)
    group = full_scim.post("/Groups", json={"displayName": "G", "members": [{"value": user["id"]}]}).get_json(
        force=True)
    groups = full_scim.get(f"/Users/{user['id']}").get_json(force=True)["groups"]
    assert groups == [{"value": group["id"], "$ref": f"http://localhost/scim/v2/Groups/{group['id']}",
                       "type": "direct"}]
    assert "groups" not in full_scim.get(f"/Users/{user['id']}?excludedAttributes=groups").get_json(force=True)
    full_scim.put(f"/Users/{user['id']}", json=new_user("member@example.com", groups=[]))  # readOnly: ignored
    assert full_scim.get(f"/Users/{user['id']}").get_json(force=True)["groups"] == groups


def test_a_contract_file_path_is_loadable(tmp_path):
    contract = json.loads((CONTRACTS_DIR / "seed.json").read_text())
    contract["name"] = "no-email-policy"
    contract["policies"]["primaryEmailImmutable"] = False
    contract["policies"]["patchResponse"] = 204
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(contract))
    db = str(tmp_path / "mine.db")
    client = ScimTestClient(create_app(db, str(path)).test_client(), generate_token(Store(db), "acme"))
    user = client.post("/Users", json=new_user("m@example.com")).get_json(force=True)
    response = client.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "moved@example.com"}))
    assert response.status_code == 204
    assert client.get(f"/Users/{user['id']}").get_json(force=True)["emails"][0]["value"] == "moved@example.com"


@pytest.mark.parametrize("contract, has_enterprise", [("full", True), ("seed", False)])
def test_serve_loads_a_contract_by_name(tmp_path, contract, has_enterprise):
    db, port = str(tmp_path / "serve.db"), _free_port()
    cli = [sys.executable, "-m", "harness.cli"]
    token = json.loads(subprocess.run([*cli, "token", "generate", "--db", db, "--json"], check=True,
                                      capture_output=True, text=True).stdout)["token"]
    server = subprocess.Popen([*cli, "serve", "--db", db, "--port", str(port), "--contract", contract],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        url = f"http://127.0.0.1:{port}/scim/v2/ResourceTypes/User"
        deadline = time.monotonic() + 20
        while True:
            try:
                response = requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=2)
                break
            except requests.ConnectionError:
                assert server.poll() is None and time.monotonic() < deadline, server.stderr.read()
                time.sleep(0.1)
        assert response.headers["Content-Type"].startswith("application/scim+json")
        assert bool(response.json()["schemaExtensions"]) is has_enterprise
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_serve_refuses_an_unknown_contract(tmp_path):
    result = subprocess.run([sys.executable, "-m", "harness.cli", "serve", "--db", str(tmp_path / "x.db"),
                             "--contract", "nonexistent"], capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "cannot start" in result.stderr
