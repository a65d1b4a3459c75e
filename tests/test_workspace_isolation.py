"""Workspaces are the unit of isolation: another workspace's token can never read, find, change or delete a
resource, and gets the same 404 or empty list as if it did not exist."""
import pytest

from tests.conftest import new_user, patch_body

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def acme(scim):
    """An Acme user in an Acme group, by their ids."""
    user = scim.post("/Users", json=new_user("ann@acme.test", externalId="ann-ext")).get_json(force=True)
    group = scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Acme Staff", "externalId": "staff-ext",
                                       "members": [{"value": user["id"]}]}).get_json(force=True)
    return {"user": user["id"], "group": group["id"]}


@pytest.mark.parametrize("kind", ["Users", "Groups"])
def test_another_workspace_cannot_read_change_or_delete_by_id(acme, scim, other_scim, kind):
    resource_id = acme["user" if kind == "Users" else "group"]
    before = scim.get(f"/{kind}/{resource_id}").get_json(force=True)
    replacement = new_user("ann@acme.test") if kind == "Users" else {"schemas": [GROUP], "displayName": "Stolen"}
    attempts = [other_scim.get(f"/{kind}/{resource_id}"),
                other_scim.put(f"/{kind}/{resource_id}", json=replacement),
                other_scim.patch(f"/{kind}/{resource_id}",
                                 json=patch_body({"op": "replace", "path": "externalId", "value": "x"})),
                other_scim.delete(f"/{kind}/{resource_id}")]
    for response in attempts:
        assert response.status_code == 404, response.request.method
        assert response.get_json(force=True)["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert scim.get(f"/{kind}/{resource_id}").get_json(force=True) == before


@pytest.mark.parametrize("kind, filter_text", [
    ("Users", 'userName eq "ann@acme.test"'),
    ("Users", 'userName eq "ANN@ACME.TEST"'),
    ("Users", 'externalId eq "ann-ext"'),
    ("Users", 'id eq "{user}"'),
    ("Users", 'userName sw "ann"'),
    ("Users", 'emails.value co "acme"'),
    ("Users", "userName pr"),
    ("Users", 'emails[value eq "ann@acme.test"]'),
    ("Groups", 'displayName eq "Acme Staff"'),
    ("Groups", 'externalId eq "staff-ext"'),
    ("Groups", 'members.value eq "{user}"'),
    ("Groups", "displayName pr"),
])
def test_another_workspace_finds_nothing_by_any_filter(acme, scim, other_scim, kind, filter_text):
    filter_text = filter_text.format(**acme)
    assert scim.get(f"/{kind}", query_string={"filter": filter_text}).get_json(force=True)["totalResults"] == 1
    for response in (other_scim.get(f"/{kind}", query_string={"filter": filter_text}),
                     other_scim.post(f"/{kind}/.search", json={"filter": filter_text}),
                     other_scim.post("/.search", json={"filter": filter_text})):
        assert response.status_code == 200
        assert response.get_json(force=True)["totalResults"] == 0


def test_another_workspace_lists_nothing(acme, other_scim):
    for path in ("/Users", "/Groups"):
        assert other_scim.get(path).get_json(force=True)["totalResults"] == 0
    assert other_scim.post("/.search", json={}).get_json(force=True)["totalResults"] == 0


def test_another_workspace_cannot_reference_members_across_workspaces(acme, other_scim):
    response = other_scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Globex",
                                                "members": [{"value": acme["user"]}]})
    assert response.status_code == 400
    created = other_scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Globex"}).get_json(force=True)
    response = other_scim.patch(f"/Groups/{created['id']}",
                                json=patch_body({"op": "add", "path": "members", "value": [{"value": acme["user"]}]}))
    assert response.status_code == 400


def test_bulk_cannot_reach_another_workspace(acme, scim, other_scim):
    operations = [{"method": "PATCH", "path": f"/Users/{acme['user']}",
                   "data": patch_body({"op": "replace", "path": "active", "value": False})},
                  {"method": "DELETE", "path": f"/Groups/{acme['group']}"}]
    body = other_scim.post("/Bulk", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                          "Operations": operations}).get_json(force=True)
    assert [op["status"] for op in body["Operations"]] == ["404", "404"]
    assert scim.get(f"/Users/{acme['user']}").get_json(force=True)["active"] is True
    assert scim.get(f"/Groups/{acme['group']}").status_code == 200


def test_the_same_names_can_exist_in_each_workspace(acme, other_scim):
    assert other_scim.post("/Users", json=new_user("ann@acme.test", externalId="ann-ext")).status_code == 201
    assert other_scim.post("/Groups", json={"schemas": [GROUP], "displayName": "Acme Staff"}).status_code == 201


def test_members_and_activity_stay_in_their_workspace(acme, admin, other_scim, app, db_path):
    from server.admin_keys import generate_admin_key
    from server.storage import Store
    from tests.conftest import AdminTestClient

    globex_admin = AdminTestClient(app.test_client(), generate_admin_key(Store(db_path), "globex"))
    assert [m["id"] for m in admin.get("/members").get_json()["members"]] == [acme["user"]]
    assert globex_admin.get("/members").get_json()["members"] == []
    assert globex_admin.get(f"/members/{acme['user']}").status_code == 404
    assert globex_admin.post(f"/members/{acme['user']}/activity", json={"kind": "login"}).status_code == 404
    assert admin.get(f"/members/{acme['user']}").get_json()["activity_count"] == 0
