"""The SCIM request log: every request a workspace receives, bodies for failures only, dropped attributes noted,
never a token (wherever it appears), bounded per workspace, readable through the admin API and the CLI."""
import json
import sqlite3

import pytest

from harness.cli import main
from server.app import create_app
from server.request_log import classify_idp, redact
from server.storage import Store
from server.tokens import generate_token
from tests.conftest import ScimTestClient, new_user

OKTA = {"User-Agent": "Okta SCIM Client 1.0.0"}


def entries(admin, query="") -> list[dict]:
    return admin.get(f"/request-log{query}").get_json()["entries"]


def test_a_success_is_logged_without_bodies(scim, admin):
    scim.get('/Users?filter=userName eq "ann"&count=5', headers=OKTA)
    [entry] = entries(admin)
    assert entry["method"] == "GET" and entry["status"] == 200 and not entry["failed"]
    assert entry["path"] == '/scim/v2/Users?filter=userName eq "ann"&count=5'  # the query as received
    assert entry["idp"] == "okta" and entry["user_agent"] == "Okta SCIM Client 1.0.0"
    assert entry["duration_ms"] >= 0 and entry["workspace"] == "acme"
    assert "request_body" not in entry and "response_body" not in entry


def test_a_failure_is_logged_with_both_bodies(scim, admin):
    scim.post("/Users", json=new_user("ann@acme.test"))
    scim.post("/Users", json=new_user("ANN@acme.test"))
    success, failure = entries(admin)
    assert not success["failed"] and "request_body" not in success
    assert failure["failed"] and failure["status"] == 409
    assert json.loads(failure["request_body"])["userName"] == "ANN@acme.test"
    assert json.loads(failure["response_body"])["scimType"] == "uniqueness"
    assert [e["status"] for e in entries(admin, "?failures=true")] == [409]


def test_dropped_attributes_are_noted(scim, admin):
    scim.post("/Users", json=new_user("ann@acme.test", title="Engineer"))
    [entry] = entries(admin)
    assert any("title" in path for path in entry["dropped_attributes"])


def test_a_bulk_with_a_failed_operation_counts_as_a_failure(scim, admin):
    scim.post("/Bulk", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                             "Operations": [{"method": "DELETE", "path": "/Users/missing"}]})
    [entry] = entries(admin)
    assert entry["status"] == 200 and entry["failed"]
    assert '"404"' in entry["response_body"]


def test_no_token_is_ever_stored_wherever_it_appears(scim, admin, app, db_path):
    token = scim.token
    scim.post("/Users", json=new_user("ann@acme.test", title=token, password="hunter2-secret"))
    scim.post("/Users", json=new_user("ann@acme.test", displayName=f"Bearer {token}", password="hunter2-secret"))
    scim.get(f"/Users?filter=userName eq \"{token}\"", headers={"User-Agent": f"weird {token}"})
    scim.get(f"/Nowhere?token={token}")
    client = app.test_client()
    client.post("/scim/v2/Users", json={"note": "scimh_guessedbutwrong123"},
                headers={"Authorization": "Bearer scimh_guessedbutwrong123"})
    client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {admin.key}"})
    admin.post("/scim-token")
    dump = "\n".join(sqlite3.connect(db_path).iterdump())
    for secret in (token, "scimh_guessedbutwrong123", admin.key, "hunter2-secret"):
        assert secret not in dump
    assert dump.count("[redacted]") >= 6


def test_unauthenticated_requests_are_logged_without_a_workspace(app, admin, db_path, capsys):
    app.test_client().get("/scim/v2/Users", headers={"Authorization": "Bearer wrong", **OKTA})
    assert entries(admin) == []  # no workspace sees what it cannot be attributed to
    assert main(["log", "--db", db_path, "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["workspace"] is None and entry["status"] == 401 and entry["failed"]


def test_unknown_scim_paths_are_logged_for_their_workspace(scim, admin):
    scim.get("/Nowhere")
    [entry] = entries(admin)
    assert entry["status"] == 404 and entry["path"] == "/scim/v2/Nowhere"


def test_each_workspace_reads_only_its_own_log(scim, other_scim, admin):
    scim.get("/Users")
    other_scim.get("/Groups")
    other_scim.get("/Groups")
    assert [e["path"] for e in entries(admin)] == ["/scim/v2/Users"]


def test_admin_api_requests_are_not_in_the_scim_log(admin):
    admin.get("/members")
    assert entries(admin) == []


def test_the_log_is_bounded_per_workspace_oldest_pruned(db_path):
    app = create_app(db_path, request_log_limit=3)
    acme = ScimTestClient(app.test_client(), generate_token(Store(db_path), "acme"))
    globex = ScimTestClient(app.test_client(), generate_token(Store(db_path), "globex"))
    globex.get("/Users?startIndex=99")
    for index in range(1, 6):
        acme.get(f"/Users?startIndex={index}")
    log = app.config["REQUEST_LOG"]
    acme_id = Store(db_path).workspace_by_name("acme")["id"]
    assert [e["path"][-1] for e in log.entries(acme_id)] == ["3", "4", "5"]
    assert len(log.entries(every_workspace=True)) == 4  # globex's entry is not pruned by acme's traffic


def test_limit_must_be_positive(db_path):
    with pytest.raises(ValueError):
        create_app(db_path, request_log_limit=-1)


@pytest.mark.parametrize("user_agent, idp", [
    ("Okta SCIM Client 1.0.0", "okta"), ("OneLogin SCIM", "onelogin"), ("onelogin-provisioning/2", "onelogin"),
    ("Microsoft Azure AD SCIM Client", "entra"), ("Microsoft.Identity.Provisioning", "entra"),
    ("Entra ID provisioning", "entra"), (None, "none"), ("", "none"), ("curl/8.5", "other"),
])
def test_idp_is_classified_leniently_from_user_agent(user_agent, idp):
    assert classify_idp(user_agent) == idp


def test_redaction_covers_known_values_token_shapes_bearer_headers_and_passwords():
    text = 'secret-xyz scimh_abc scimha_def Bearer raw.jwt.value {"password": "p\\"w"}'
    assert redact(text, ("secret-xyz",)) == \
        '[redacted] [redacted] [redacted] Bearer [redacted] {"password": "[redacted]"}'


def test_cli_log_filters_by_workspace_and_failures(scim, other_scim, db_path, capsys):
    scim.get("/Users", headers=OKTA)
    scim.get("/Users/missing")
    other_scim.get("/Users/missing")
    assert main(["log", "--db", db_path, "--workspace", "acme", "--failures", "--json"]) == 0
    [entry] = json.loads(capsys.readouterr().out)
    assert entry["workspace"] == "acme" and entry["status"] == 404 and entry["response_body"]
    assert main(["log", "--db", db_path]) == 0
    text = capsys.readouterr().out
    assert "acme  GET /scim/v2/Users  200" in text and "idp=okta" in text and "globex" in text
    assert "    response: " in text
    assert main(["log", "--db", db_path, "--workspace", "nope"]) == 1
