"""Users over the Flask test client: PATCH in the shapes Entra, Okta and OneLogin send, the primary-email policy
in every shape, PUT, If-Match, uniqueness; each end state read back with a GET."""
import pytest

from tests.conftest import capture_dropped, new_user, patch_body

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def user(scim):
    body = new_user("Pat.Doe@Example.com", email="pat@example.com", externalId="pdoe")
    body["emails"].append({"type": "home", "value": "pat@home.org"})
    return scim.post("/Users", json=body).get_json(force=True)


def patched(scim, user, *operations, status=200):
    response = scim.patch(f"/Users/{user['id']}", json=patch_body(*operations))
    assert response.status_code == status, response.get_json(force=True)
    return scim.get(f"/Users/{user['id']}").get_json(force=True)


@pytest.mark.parametrize("op", ["replace", "Replace", "REPLACE", "add", "Add"])
def test_op_in_any_case_and_add_on_single_valued_replaces(scim, user, op):
    after = patched(scim, user, {"op": op, "path": "externalId", "value": "new-ext"},
                    {"op": op, "path": "name.familyName", "value": "Doe-Smith"})
    assert after["externalId"] == "new-ext" and after["name"]["familyName"] == "Doe-Smith"
    assert after["name"]["givenName"] == "Zoë"


def test_patch_answers_200_with_the_resource_etag_and_location(scim, user):
    response = scim.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": "active", "value": False}))
    body = response.get_json(force=True)
    assert response.status_code == 200 and body["active"] is False and body["id"] == user["id"]
    assert response.headers["ETag"] == body["meta"]["version"] != user["meta"]["version"]
    assert response.headers["Location"] == body["meta"]["location"]


@pytest.mark.parametrize("value, expected", [("False", False), ("false", False), ("True", True), ("true", True),
                                             (False, False), (True, True)])
def test_booleans_sent_as_strings(scim, user, value, expected):
    scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "active", "value": not expected}))
    assert patched(scim, user, {"op": "Replace", "path": "active", "value": value})["active"] is expected


def test_okta_pathless_deactivate_and_reactivate(scim, user):
    assert patched(scim, user, {"op": "replace", "value": {"active": False}})["active"] is False
    assert patched(scim, user, {"op": "replace", "value": {"active": True}})["active"] is True


def test_entra_flag_pathless_object_with_plain_dotted_and_urn_keys(scim, user):
    after = patched(scim, user, {"op": "replace", "value": {
        "userName": "pat.renamed@example.com", "name.givenName": "Patricia", "externalId": "pr",
        f"{CORE}:name.familyName": "Renamed", "displayName": "Dropped In The Seed"}})
    assert after["userName"] == "pat.renamed@example.com" and after["externalId"] == "pr"
    assert after["name"] == {"givenName": "Patricia", "familyName": "Renamed"}
    assert "displayName" not in after


def test_entra_flag_pathless_enterprise_keys(full_scim):
    user = full_scim.post("/Users", json=new_user("ent@example.com")).get_json(force=True)
    response = full_scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "value": {
        "displayName": "Bjfe", "name.givenName": "Kkom", f"{ENTERPRISE}:employeeNumber": "Aklq"}}))
    assert response.status_code == 204 and not response.get_data()
    after = full_scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["displayName"] == "Bjfe" and after["name"]["givenName"] == "Kkom"
    assert after[ENTERPRISE] == {"employeeNumber": "Aklq"}
    assert ENTERPRISE in after["schemas"]


@pytest.mark.parametrize("op", ["Add", "Replace"])
def test_value_path_targets_are_created_when_missing(full_scim, op):
    user = full_scim.post("/Users", json=new_user("vp@example.com")).get_json(force=True)
    response = full_scim.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": op, "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"},
        {"op": op, "path": 'addresses[type eq "work"].formatted', "value": "18/2111"},
        {"op": op, "path": 'emails[type eq "other"].value', "value": "vp@other.org"}))
    assert response.status_code == 204
    after = full_scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["phoneNumbers"] == [{"type": "work", "value": "+1 555 0100"}]
    assert after["addresses"] == [{"type": "work", "formatted": "18/2111"}]
    assert {"type": "other", "value": "vp@other.org"} in after["emails"]
    full_scim.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": op, "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0199"}))
    assert full_scim.get(f"/Users/{user['id']}").get_json(force=True)["phoneNumbers"] == [
        {"type": "work", "value": "+1 555 0199"}]


def test_seed_value_path_upsert_on_a_secondary_email(scim, user):
    after = patched(scim, user, {"op": "Add", "path": 'emails[type eq "other"].value', "value": "o@x.org"})
    assert {"type": "other", "value": "o@x.org"} in after["emails"]


@pytest.mark.parametrize("shape", [
    lambda boss: boss, lambda boss: {"value": boss},
    lambda boss: [{"$ref": f"http://x/Users/{boss}", "value": boss}]], ids=["string", "object", "ref-list"])
@pytest.mark.parametrize("path", [f"{ENTERPRISE}:manager", "manager"])
def test_enterprise_manager_in_every_shape_then_removed(full_scim, shape, path):
    boss = full_scim.post("/Users", json=new_user("boss@example.com")).get_json(force=True)
    user = full_scim.post("/Users", json=new_user("emp@example.com")).get_json(force=True)
    full_scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "Add", "path": path, "value": shape(boss["id"])}))
    manager = full_scim.get(f"/Users/{user['id']}").get_json(force=True)[ENTERPRISE]["manager"]
    assert manager == {"value": boss["id"], "$ref": f"http://localhost/scim/v2/Users/{boss['id']}"}
    full_scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "Replace", "path": path, "value": ""}))
    assert ENTERPRISE not in full_scim.get(f"/Users/{user['id']}").get_json(force=True)
    full_scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "add", "path": path, "value": boss["id"]}))
    full_scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "remove", "path": path}))
    assert ENTERPRISE not in full_scim.get(f"/Users/{user['id']}").get_json(force=True)


def test_manager_string_on_create(full_scim):
    boss = full_scim.post("/Users", json=new_user("boss@example.com")).get_json(force=True)
    user = full_scim.post("/Users", json=new_user("emp@example.com", **{ENTERPRISE: {"manager": boss["id"]}}))
    assert user.get_json(force=True)[ENTERPRISE]["manager"]["value"] == boss["id"]


def test_all_operations_apply_atomically(scim, user):
    response = scim.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": "externalId", "value": "changed"},
        {"op": "replace", "path": "active", "value": "perhaps"}))
    assert response.status_code == 400
    assert "Operations[1]" in response.get_json(force=True)["detail"]
    after = scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["externalId"] == "pdoe" and after["meta"]["version"] == user["meta"]["version"]


def test_empty_operations_change_nothing(scim, user):
    response = scim.patch(f"/Users/{user['id']}", json=patch_body())
    assert response.status_code == 200
    assert scim.get(f"/Users/{user['id']}").get_json(force=True)["meta"]["version"] == user["meta"]["version"]


@pytest.mark.parametrize("body, scim_type", [
    ({"Operations": "nope"}, "invalidSyntax"),
    (patch_body({"op": "merge", "path": "active", "value": True}), "invalidSyntax"),
    (patch_body({"op": "replace", "path": "emails[type eq", "value": "x"}), "invalidPath"),
    (patch_body({"op": "remove"}), "noTarget"),
    (patch_body({"op": "replace", "path": "meta.created", "value": "x"}), "mutability"),
    (patch_body({"op": "remove", "path": "userName"}), "mutability"),
    (patch_body({"op": "replace", "path": "id", "value": "other"}), "mutability"),
])
def test_bad_patches_are_scim_errors_and_change_nothing(scim, user, body, scim_type):
    response = scim.patch(f"/Users/{user['id']}", json=body)
    assert response.status_code == 400 and response.get_json(force=True)["scimType"] == scim_type
    assert scim.get(f"/Users/{user['id']}").get_json(force=True)["meta"]["version"] == user["meta"]["version"]


def test_unsupported_paths_are_accepted_and_dropped(app, scim, user):
    dropped = capture_dropped(app)
    after = patched(scim, user, {"op": "Replace", "path": "title", "value": "Engineer"},
                    {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Retail"},
                    {"op": "Replace", "path": 'addresses[type eq "work"].formatted', "value": "18/2111"},
                    {"op": "replace", "path": "active", "value": False})
    assert after["active"] is False and "title" not in after and ENTERPRISE not in after
    assert set(dropped[-2]) == {"title", f"{ENTERPRISE}:department", 'addresses[type eq "work"].formatted'}


def test_dropped_attributes_are_recorded_for_post_and_put(app, scim):
    dropped = capture_dropped(app)
    created = scim.post("/Users", json=new_user("d@example.com", title="Eng", nickName="", roles=[{"value": "a"}],
                                                **{ENTERPRISE: {"department": "R"}}))
    assert created.status_code == 201
    assert set(dropped[-1]) == {"title", "roles", f"{ENTERPRISE}:department"}  # an unassigned nickName is no loss
    scim.put(f"/Users/{created.get_json(force=True)['id']}", json=new_user("d@example.com", locale="en-US",
                                                                           password="1mz050nq"))
    assert set(dropped[-1]) == {"locale", "password"}


# --- the primary email --------------------------------------------------------------------------------------

@pytest.mark.parametrize("operation", [
    {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@example.com"},
    {"op": "replace", "path": "emails[primary eq true].value", "value": "new@example.com"},
    {"op": "replace", "path": "emails", "value": [{"type": "work", "primary": True, "value": "new@example.com"}]},
    {"op": "add", "path": "emails", "value": [{"type": "other", "primary": True, "value": "new@example.com"}]},
    {"op": "replace", "path": 'emails[type eq "home"].primary', "value": True},
    {"op": "remove", "path": "emails"},
    {"op": "remove", "path": 'emails[type eq "work"]'},
    {"op": "remove", "path": 'emails[value eq "pat@example.com"].value'},
    {"op": "replace", "value": {"emails": [{"value": "new@example.com", "primary": True}]}},
    {"op": "replace", "value": {"emails[type eq \"work\"].value": "new@example.com"}},
    {"op": "Replace", "path": "emails.value", "value": "everything@example.com"},
])
def test_primary_email_change_refused_in_every_patch_shape(scim, user, operation):
    response = scim.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": "externalId", "value": "should-not-land"}, operation))
    assert response.status_code == 400
    body = response.get_json(force=True)
    assert body["scimType"] == "mutability" and "primary email" in body["detail"]
    assert "pat@example.com" in body["detail"]
    after = scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["emails"] == user["emails"] and after["externalId"] == "pdoe"


def test_primary_email_change_refused_by_put_same_primary_fine(scim, user):
    changed = new_user("Pat.Doe@Example.com", email="other@example.com")
    response = scim.put(f"/Users/{user['id']}", json=changed)
    assert response.status_code == 400 and response.get_json(force=True)["scimType"] == "mutability"
    assert scim.get(f"/Users/{user['id']}").get_json(force=True)["emails"] == user["emails"]
    same = new_user("Pat.Doe@Example.com", email="PAT@example.com", externalId="okta-put")
    response = scim.put(f"/Users/{user['id']}", json=same)
    assert response.status_code == 200
    after = scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["externalId"] == "okta-put" and [e["value"] for e in after["emails"]] == ["PAT@example.com"]


def test_okta_put_echoing_the_get_is_fine(scim, user):
    echoed = scim.get(f"/Users/{user['id']}").get_json(force=True)
    echoed.update(active=False, groups=[], password="1mz050nq")
    response = scim.put(f"/Users/{user['id']}", json=echoed)
    assert response.status_code == 200
    after = scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["active"] is False and after["emails"] == user["emails"]


def test_secondary_emails_may_change(scim, user):
    after = patched(scim, user, {"op": "replace", "path": 'emails[type eq "home"].value', "value": "p@new.org"})
    assert {"type": "home", "value": "p@new.org"} in after["emails"]
    after = patched(scim, user, {"op": "add", "path": "emails", "value": [{"type": "other", "value": "o@x.org"}]})
    assert len(after["emails"]) == 3
    after = patched(scim, user, {"op": "remove", "path": 'emails[type eq "home"]'},
                    {"op": "remove", "path": 'emails[type eq "other"]'})
    assert after["emails"] == [{"type": "work", "primary": True, "value": "pat@example.com"}]
    put = scim.put(f"/Users/{user['id']}", json=new_user("Pat.Doe@Example.com", email="pat@example.com") | {
        "emails": [{"type": "work", "primary": True, "value": "pat@example.com"}, {"type": "home", "value": "h@h"}]})
    assert put.status_code == 200


def test_a_user_without_emails_may_get_a_first_primary(scim):
    user = scim.post("/Users", json={"userName": "noemail@example.com"}).get_json(force=True)
    after = patched(scim, user, {"op": "add", "path": 'emails[type eq "work"].value', "value": "first@x.org"})
    assert after["emails"] == [{"type": "work", "value": "first@x.org"}]


def test_full_contract_lets_the_primary_email_change(full_scim):
    user = full_scim.post("/Users", json=new_user("mover@example.com")).get_json(force=True)
    response = full_scim.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "moved@example.com"}))
    assert response.status_code == 204
    assert full_scim.get(f"/Users/{user['id']}").get_json(force=True)["emails"][0]["value"] == "moved@example.com"


# --- If-Match, uniqueness, PUT ---------------------------------------------------------------------------------

def test_if_match_mismatch_is_412_and_nothing_changes(scim, user):
    stale = user["meta"]["version"]
    scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "externalId", "value": "v2"}))
    for response in (
            scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "externalId",
                                                                 "value": "v3"}), headers={"If-Match": stale}),
            scim.put(f"/Users/{user['id']}", json=new_user("Pat.Doe@Example.com", email="pat@example.com"),
                     headers={"If-Match": stale}),
            scim.delete(f"/Users/{user['id']}", headers={"If-Match": stale})):
        assert response.status_code == 412
        assert response.get_json(force=True)["status"] == "412"
    current = scim.get(f"/Users/{user['id']}")
    assert current.get_json(force=True)["externalId"] == "v2"
    etag = current.headers["ETag"]
    ok = scim.patch(f"/Users/{user['id']}", json=patch_body({"op": "replace", "path": "externalId", "value": "v3"}),
                    headers={"If-Match": etag})
    assert ok.status_code == 200
    assert scim.delete(f"/Users/{user['id']}", headers={"If-Match": "*"}).status_code == 204


def test_username_uniqueness_on_put_and_patch(scim, user):
    other = scim.post("/Users", json=new_user("other@example.com")).get_json(force=True)
    for response in (scim.put(f"/Users/{other['id']}", json=new_user("PAT.DOE@example.com",
                                                                        email="other@example.com")),
                     scim.patch(f"/Users/{other['id']}", json=patch_body(
                         {"op": "replace", "path": "userName", "value": "pat.doe@EXAMPLE.com"}))):
        assert response.status_code == 409 and response.get_json(force=True)["scimType"] == "uniqueness"
    assert scim.get(f"/Users/{other['id']}").get_json(force=True)["userName"] == "other@example.com"
    renamed = patched(scim, user, {"op": "replace", "path": "userName", "value": "PAT.DOE@EXAMPLE.COM"})
    assert renamed["userName"] == "PAT.DOE@EXAMPLE.COM"  # its own name in another case is no clash


def test_put_clears_what_it_leaves_out_and_ignores_read_only(scim, user):
    body = {"schemas": [CORE], "id": "ignored", "meta": {"resourceType": "User"}, "userName": "Pat.Doe@Example.com",
            "emails": [{"value": "pat@example.com", "primary": True, "type": "work"}]}
    response = scim.put(f"/Users/{user['id']}", json=body)
    assert response.status_code == 200
    after = scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["id"] == user["id"] and "name" not in after and "externalId" not in after
    assert after["meta"]["created"] == user["meta"]["created"]
