"""The workspace admin API under /api: admin-key authentication (shown once, hashed, rotated), SCIM token
rotation with the CLI's rules, members and activity, and JSON errors with the right status."""
import sqlite3

import pytest

from server.admin_keys import generate_admin_key
from server.storage import Store
from server.tokens import hash_token
from tests.conftest import AdminTestClient, new_user


def test_scim_token_rotation_invalidates_the_old_token_at_once(admin, scim):
    assert scim.get("/Users").status_code == 200
    response = admin.post("/scim-token")
    assert response.status_code == 201
    rotated = response.get_json()
    assert rotated["workspace"] == "acme" and rotated["base_url"] == "http://localhost/scim/v2"
    assert rotated["token"].startswith("scimh_") and rotated["token"] != scim.token
    assert scim.get("/Users").status_code == 401
    scim.token = rotated["token"]
    assert scim.get("/Users").status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer scimha_wrong"])
def test_requests_without_a_valid_admin_key_get_401_json(app, admin, header):
    response = app.test_client().get("/api/members", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.get_json()["error"] == "unauthorized" and response.get_json()["detail"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_scim_token_is_not_an_admin_key_nor_the_reverse(app, admin, scim):
    client = app.test_client()
    assert client.get("/api/members", headers={"Authorization": f"Bearer {scim.token}"}).status_code == 401
    assert client.get("/scim/v2/Users", headers={"Authorization": f"Bearer {admin.key}"}).status_code == 401


def test_admin_key_is_stored_hashed_and_regenerating_replaces_it(app, admin, db_path):
    dump = "\n".join(sqlite3.connect(db_path).iterdump())
    assert admin.key not in dump and hash_token(admin.key) in dump
    assert admin.get("/workspace").status_code == 200
    fresh = AdminTestClient(app.test_client(), generate_admin_key(Store(db_path), "acme"))
    assert admin.get("/workspace").status_code == 401
    assert fresh.get("/workspace").status_code == 200


def test_workspace_summary_counts_members_by_access(admin, scim):
    scim.post("/Users", json=new_user("ann@acme.test"))
    scim.post("/Users", json=new_user("bob@acme.test", active=False))
    summary = admin.get("/workspace").get_json()
    assert summary["name"] == "acme" and summary["scim_token_created"]
    assert summary["members"] == {"active": 1, "revoked": 1}


def test_members_list_filters_by_access(admin, scim):
    ann = scim.post("/Users", json=new_user("ann@acme.test")).get_json(force=True)["id"]
    bob = scim.post("/Users", json=new_user("bob@acme.test", active=False)).get_json(force=True)["id"]
    assert [m["id"] for m in admin.get("/members").get_json()["members"]] == [ann, bob]
    assert [m["id"] for m in admin.get("/members?access=active").get_json()["members"]] == [ann]
    assert [m["id"] for m in admin.get("/members?access=revoked").get_json()["members"]] == [bob]
    assert admin.get("/members?access=gone").status_code == 400


def test_activity_is_recorded_with_a_kind_and_an_optional_time(admin, scim):
    ann = scim.post("/Users", json=new_user("ann@acme.test")).get_json(force=True)["id"]
    recorded = admin.post(f"/members/{ann}/activity", json={"kind": "login", "at": "2024-05-01T10:00:00+02:00"})
    assert recorded.status_code == 201
    assert recorded.get_json() == {"member": ann, "kind": "login", "at": "2024-05-01T08:00:00.000000Z"}
    admin.post(f"/members/{ann}/activity", json={"kind": "generation"})
    listed = admin.get(f"/members/{ann}/activity").get_json()
    assert [a["kind"] for a in listed["activity"]] == ["login", "generation"] and listed["total"] == 2


@pytest.mark.parametrize("body, error", [
    ({}, "invalid_kind"), ({"kind": ""}, "invalid_kind"), ({"kind": 3}, "invalid_kind"),
    ({"kind": "x" * 65}, "invalid_kind"), ({"kind": "login", "at": "yesterday"}, "invalid_time"),
    ([1, 2], "invalid_json"),
])
def test_bad_activity_requests_get_400_json(admin, scim, body, error):
    ann = scim.post("/Users", json=new_user("ann@acme.test")).get_json(force=True)["id"]
    response = admin.post(f"/members/{ann}/activity", json=body)
    assert response.status_code == 400 and response.get_json()["error"] == error


def test_unknown_member_and_unknown_endpoint_get_404_json(admin):
    for response in (admin.get("/members/nope"), admin.get("/members/nope/activity"),
                     admin.post("/members/nope/activity", json={"kind": "login"}), admin.get("/nothing/here")):
        assert response.status_code == 404
        assert set(response.get_json()) == {"error", "detail"}


def test_request_log_limit_is_validated(admin):
    assert admin.get("/request-log?limit=0").status_code == 400
    assert admin.get("/request-log?limit=abc").get_json()["error"] == "invalid_parameter"
    assert admin.get("/request-log?limit=5").status_code == 200
