"""Groups over the Flask test client: CRUD and membership in every shape Entra, Okta and OneLogin send, each end
state read back with a GET."""
import pytest

from tests.conftest import new_user, patch_body


@pytest.fixture
def users(scim):
    return [scim.post("/Users", json=new_user(f"user{i}@example.com")).get_json(force=True)["id"] for i in range(5)]


def create_group(scim, name="Engineering", members=(), **extra):
    response = scim.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                          "displayName": name, "members": [{"value": m} for m in members], **extra})
    assert response.status_code == 201, response.get_json(force=True)
    return response.get_json(force=True)


def member_ids(scim, group_id):
    body = scim.get(f"/Groups/{group_id}").get_json(force=True)
    return [m["value"] for m in body.get("members", [])]


def test_create_with_members_returns_them_with_type_and_ref(scim, users):
    group = create_group(scim, members=users[:2], externalId="8aa1a0c0")
    assert [m["value"] for m in group["members"]] == users[:2]
    assert all(m["type"] == "User" and m["$ref"].endswith(f"/Users/{m['value']}") for m in group["members"])
    assert group["meta"]["resourceType"] == "Group" and group["externalId"] == "8aa1a0c0"
    assert member_ids(scim, group["id"]) == users[:2]


def test_okta_create_with_display_keeps_only_the_ids(scim, users):
    response = scim.post("/Groups", json={"displayName": "Okta", "members": [
        {"value": users[0], "display": "user0@example.com"}]})
    assert response.status_code == 201
    assert scim.get(f"/Groups/{response.get_json(force=True)['id']}").get_json(force=True)["members"] == [
        {"value": users[0], "type": "User", "$ref": f"http://localhost/scim/v2/Users/{users[0]}"}]


def test_groups_can_be_members_of_groups(scim, users):
    inner = create_group(scim, "Inner", users[:1])
    outer = create_group(scim, "Outer", [inner["id"], users[1]])
    members = scim.get(f"/Groups/{outer['id']}").get_json(force=True)["members"]
    assert [(m["value"], m["type"]) for m in members] == [(inner["id"], "Group"), (users[1], "User")]


def test_display_name_unique_regardless_of_case_on_create_put_and_patch(scim):
    create_group(scim, "Sales")
    other = create_group(scim, "Marketing")
    for response in (scim.post("/Groups", json={"displayName": "SALES"}),
                     scim.put(f"/Groups/{other['id']}", json={"displayName": "sales"}),
                     scim.patch(f"/Groups/{other['id']}", json=patch_body(
                         {"op": "Replace", "path": "displayName", "value": "sAlEs"}))):
        assert response.status_code == 409
        assert response.get_json(force=True)["scimType"] == "uniqueness"
    assert scim.get(f"/Groups/{other['id']}").get_json(force=True)["displayName"] == "Marketing"
    assert scim.get("/Groups").get_json(force=True)["totalResults"] == 2


def test_put_replaces_the_member_list(scim, users):
    group = create_group(scim, members=users[:3])
    response = scim.put(f"/Groups/{group['id']}", json={"displayName": "Engineering", "members": [
        {"value": users[3]}, {"value": users[0]}]})
    assert response.status_code == 200
    assert member_ids(scim, group["id"]) == [users[3], users[0]]
    scim.put(f"/Groups/{group['id']}", json={"displayName": "Engineering"})
    assert member_ids(scim, group["id"]) == []


def test_entra_add_value_array_with_duplicates(scim, users):
    group = create_group(scim, members=users[:1])
    response = scim.patch(f"/Groups/{group['id']}", json=patch_body({"op": "Add", "path": "members", "value": [
        {"$ref": None, "value": users[1]}, {"value": users[2]}, {"value": users[1]}, {"value": users[0]}]}))
    assert response.status_code == 200
    assert [m["value"] for m in response.get_json(force=True)["members"]] == users[:3]
    assert member_ids(scim, group["id"]) == users[:3]


def test_remove_by_value_filter_removes_only_that_member(scim, users):
    group = create_group(scim, members=users[:3])
    response = scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "remove", "path": f'members[value eq "{users[1]}"]'}))
    assert response.status_code == 200
    assert member_ids(scim, group["id"]) == [users[0], users[2]]


def test_remove_by_other_member_filters(scim, users):
    inner = create_group(scim, "Inner")
    group = create_group(scim, members=[*users[:2], inner["id"]])
    scim.patch(f"/Groups/{group['id']}", json=patch_body({"op": "remove", "path": 'members[type eq "Group"]'}))
    assert member_ids(scim, group["id"]) == users[:2]
    scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "remove", "path": f'members[value eq "{users[0]}" or value eq "{users[1]}"]'}))
    assert member_ids(scim, group["id"]) == []


def test_entra_remove_with_value_array_removes_only_those(scim, users):
    group = create_group(scim, members=users[:4])
    response = scim.patch(f"/Groups/{group['id']}", json=patch_body({"op": "Remove", "path": "members", "value": [
        {"$ref": None, "value": users[0]}, {"value": users[2]}, {"value": "not-a-member-anyway"}]}))
    assert response.status_code == 200
    assert member_ids(scim, group["id"]) == [users[1], users[3]]


def test_remove_without_value_removes_all(scim, users):
    group = create_group(scim, members=users[:3])
    assert scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "remove", "path": "members"})).status_code == 200
    assert member_ids(scim, group["id"]) == []
    assert "members" not in scim.get(f"/Groups/{group['id']}").get_json(force=True)


def test_okta_replace_members_and_replace_with_empty_list(scim, users):
    group = create_group(scim, members=users[:2])
    scim.patch(f"/Groups/{group['id']}", json=patch_body({"op": "replace", "path": "members", "value": [
        {"value": users[2], "display": "user2@example.com"}, {"value": users[3]}]}))
    assert member_ids(scim, group["id"]) == users[2:4]
    scim.patch(f"/Groups/{group['id']}", json=patch_body({"op": "replace", "path": "members", "value": []}))
    assert member_ids(scim, group["id"]) == []


def test_okta_removes_and_add_in_one_patch_then_touch_rename(scim, users):
    group = create_group(scim, "Test SCIMv2", users[:2])
    scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "remove", "path": f'members[value eq "{users[0]}"]'},
        {"op": "remove", "path": f'members[value eq "{users[1]}"]'},
        {"op": "add", "path": "members", "value": [{"value": users[2], "display": "user2@example.com"}]}))
    assert member_ids(scim, group["id"]) == [users[2]]
    touched = scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "replace", "value": {"id": group["id"], "displayName": "Test SCIMv2"}}))
    assert touched.status_code == 200
    assert scim.get(f"/Groups/{group['id']}").get_json(force=True)["displayName"] == "Test SCIMv2"
    assert member_ids(scim, group["id"]) == [users[2]]


def test_onelogin_patch_without_schemas(scim, users):
    group = create_group(scim)
    response = scim.patch(f"/Groups/{group['id']}", json={"Operations": [
        {"op": "add", "path": "members", "value": [{"value": users[0]}]}]})
    assert response.status_code == 200
    assert member_ids(scim, group["id"]) == [users[0]]


@pytest.mark.parametrize("operation", [
    {"op": "add", "path": "members", "value": [{"value": "ghost-1"}, {"value": "REAL"}, {"value": "ghost-2"}]},
    {"op": "replace", "path": "members", "value": [{"value": "ghost-1"}, {"value": "ghost-2"}]},
])
def test_unknown_member_ids_are_named_and_nothing_changes(scim, users, operation):
    group = create_group(scim, members=users[:2])
    operation["value"] = [{"value": users[2] if m["value"] == "REAL" else m["value"]} for m in operation["value"]]
    response = scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "replace", "path": "displayName", "value": "Renamed"}, operation))
    assert response.status_code == 400
    body = response.get_json(force=True)
    assert body["scimType"] == "invalidValue"
    assert "'ghost-1'" in body["detail"] and "'ghost-2'" in body["detail"] and users[2] not in body["detail"]
    after = scim.get(f"/Groups/{group['id']}").get_json(force=True)
    assert after["displayName"] == "Engineering" and [m["value"] for m in after["members"]] == users[:2]
    assert after["meta"]["version"] == group["meta"]["version"]


def test_unknown_member_on_create_and_put_writes_nothing(scim, users):
    response = scim.post("/Groups", json={"displayName": "Ghosts", "members": [{"value": "ghost"}]})
    assert response.status_code == 400 and "'ghost'" in response.get_json(force=True)["detail"]
    assert scim.get("/Groups").get_json(force=True)["totalResults"] == 0
    group = create_group(scim, members=users[:1])
    response = scim.put(f"/Groups/{group['id']}", json={"displayName": "Other", "members": [{"value": "ghost"}]})
    assert response.status_code == 400
    after = scim.get(f"/Groups/{group['id']}").get_json(force=True)
    assert after["displayName"] == "Engineering" and [m["value"] for m in after["members"]] == users[:1]


def test_member_ids_of_another_workspace_are_unknown(scim, other_workspace_user):
    response = scim.post("/Groups", json={"displayName": "X", "members": [{"value": other_workspace_user}]})
    assert response.status_code == 400
    assert response.get_json(force=True)["scimType"] == "invalidValue"


@pytest.fixture
def other_workspace_user(app, db_path):
    from server.storage import Store
    from server.tokens import generate_token
    from tests.conftest import ScimTestClient

    other = ScimTestClient(app.test_client(), generate_token(Store(db_path), "globex"))
    return other.post("/Users", json=new_user("other@globex.com")).get_json(force=True)["id"]


def test_a_group_cannot_contain_itself(scim):
    group = create_group(scim)
    response = scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "add", "path": "members", "value": [{"value": group["id"]}]}))
    assert response.status_code == 400 and response.get_json(force=True)["scimType"] == "invalidValue"


def test_member_without_value_is_invalid(scim):
    group = create_group(scim)
    response = scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "add", "path": "members", "value": [{"display": "nobody"}]}))
    assert response.status_code == 400


def test_deleting_a_user_removes_it_from_every_group(scim, users):
    first = create_group(scim, "First", users[:3])
    second = create_group(scim, "Second", [users[1], users[4]])
    assert scim.delete(f"/Users/{users[1]}").status_code == 204
    assert member_ids(scim, first["id"]) == [users[0], users[2]]
    assert member_ids(scim, second["id"]) == [users[4]]
    found = scim.get(f'/Groups?filter=members[value eq "{users[1]}"]').get_json(force=True)
    assert found["totalResults"] == 0


def test_deleting_a_group_removes_it_from_parent_groups(scim, users):
    inner = create_group(scim, "Inner", users[:1])
    outer = create_group(scim, "Outer", [inner["id"], users[1]])
    assert scim.delete(f"/Groups/{inner['id']}").status_code == 204
    assert member_ids(scim, outer["id"]) == [users[1]]
    assert scim.get(f"/Groups/{inner['id']}").status_code == 404


def test_group_patch_changes_version_and_last_modified(scim, users):
    group = create_group(scim)
    response = scim.patch(f"/Groups/{group['id']}", json=patch_body(
        {"op": "add", "path": "members", "value": [{"value": users[0]}]}))
    assert response.headers["ETag"] != group["meta"]["version"]
    after = scim.get(f"/Groups/{group['id']}").get_json(force=True)
    assert after["meta"]["version"] == response.headers["ETag"]
    assert after["meta"]["lastModified"] > group["meta"]["lastModified"]


def test_renaming_a_group_and_external_id_pathless(scim):
    group = create_group(scim)
    scim.patch(f"/Groups/{group['id']}", json=patch_body({"op": "replace", "value": {"externalId": "ext-9"}}))
    scim.patch(f"/Groups/{group['id']}", json=patch_body({"op": "Replace", "path": "displayName",
                                                          "value": "Platform"}))
    after = scim.get(f"/Groups/{group['id']}").get_json(force=True)
    assert after["displayName"] == "Platform" and after["externalId"] == "ext-9"
    assert scim.get('/Groups?filter=displayName eq "platform"').get_json(force=True)["totalResults"] == 1
