"""The seed's revocation promise: a SCIM user is a member whose access is revoked at once on deactivation (in
any shape an IdP sends) or deletion, restored on reactivation, and whose history stays with the workspace."""
import pytest

from tests.conftest import new_user, patch_body

DEACTIVATIONS = {
    "entra PATCH Replace with string 'False'": patch_body({"op": "Replace", "path": "active", "value": "False"}),
    "PATCH replace with boolean": patch_body({"op": "replace", "path": "active", "value": False}),
    "okta PATCH without path": patch_body({"op": "replace", "value": {"active": False}}),
}
REACTIVATION = patch_body({"op": "replace", "path": "active", "value": True})


@pytest.fixture
def user_id(scim, admin):
    created = scim.post("/Users", json=new_user("ann@acme.test")).get_json(force=True)
    assert admin.post(f"/members/{created['id']}/activity", json={"kind": "generation"}).status_code == 201
    assert admin.post(f"/members/{created['id']}/activity", json={"kind": "login"}).status_code == 201
    return created["id"]


def member(admin, user_id) -> dict:
    response = admin.get(f"/members/{user_id}")
    assert response.status_code == 200
    return response.get_json()


def test_a_created_user_is_an_active_member(user_id, admin):
    found = member(admin, user_id)
    assert found["access"] == "active" and found["revoked_because"] is None
    assert found["user_name"] == "ann@acme.test" and found["activity_count"] == 2


def test_a_user_created_inactive_has_no_access(scim, admin):
    created = scim.post("/Users", json=new_user("bob@acme.test", active=False)).get_json(force=True)
    assert member(admin, created["id"])["access"] == "revoked"


@pytest.mark.parametrize("shape", list(DEACTIVATIONS))
def test_deactivation_revokes_and_reactivation_restores(user_id, scim, admin, shape):
    assert scim.patch(f"/Users/{user_id}", json=DEACTIVATIONS[shape]).status_code in (200, 204)
    revoked = member(admin, user_id)
    assert (revoked["access"], revoked["revoked_because"], revoked["scim_deleted"]) == ("revoked", "deactivated", False)
    assert scim.patch(f"/Users/{user_id}", json=REACTIVATION).status_code in (200, 204)
    assert member(admin, user_id)["access"] == "active"
    assert admin.post(f"/members/{user_id}/activity", json={"kind": "login"}).status_code == 201


def test_put_with_active_false_revokes(user_id, scim, admin):
    assert scim.put(f"/Users/{user_id}", json=new_user("ann@acme.test", active=False)).status_code == 200
    assert member(admin, user_id)["access"] == "revoked"
    assert scim.put(f"/Users/{user_id}", json=new_user("ann@acme.test", active=True)).status_code == 200
    assert member(admin, user_id)["access"] == "active"


def test_recording_activity_for_a_revoked_member_is_refused(user_id, scim, admin):
    scim.patch(f"/Users/{user_id}", json=DEACTIVATIONS["PATCH replace with boolean"])
    response = admin.post(f"/members/{user_id}/activity", json={"kind": "generation"})
    assert response.status_code == 403
    assert response.get_json()["error"] == "access_revoked"
    assert member(admin, user_id)["activity_count"] == 2


def test_history_survives_deactivation(user_id, scim, admin):
    scim.patch(f"/Users/{user_id}", json=DEACTIVATIONS["okta PATCH without path"])
    kinds = [a["kind"] for a in admin.get(f"/members/{user_id}/activity").get_json()["activity"]]
    assert kinds == ["generation", "login"]


def test_delete_answers_404_over_scim_but_the_member_and_history_stay(user_id, scim, admin):
    assert scim.delete(f"/Users/{user_id}").status_code == 204
    assert scim.get(f"/Users/{user_id}").status_code == 404
    assert scim.get('/Users?filter=userName eq "ann@acme.test"').get_json(force=True)["totalResults"] == 0
    gone = member(admin, user_id)
    assert (gone["access"], gone["revoked_because"], gone["scim_deleted"]) == ("revoked", "deleted", True)
    activity = admin.get(f"/members/{user_id}/activity").get_json()
    assert [a["kind"] for a in activity["activity"]] == ["generation", "login"]
    assert [m["id"] for m in admin.get("/members?access=revoked").get_json()["members"]] == [user_id]
    assert admin.post(f"/members/{user_id}/activity", json={"kind": "login"}).status_code == 403


def test_deleting_through_bulk_revokes_too(user_id, scim, admin):
    body = scim.post("/Bulk", json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
                                    "Operations": [{"method": "DELETE", "path": f"/Users/{user_id}"}]})
    assert body.get_json(force=True)["Operations"][0]["status"] == "204"
    assert member(admin, user_id)["revoked_because"] == "deleted"


def test_a_refused_scim_write_leaves_access_unchanged(user_id, scim, admin):
    scim.post("/Users", json=new_user("taken@acme.test"))
    response = scim.put(f"/Users/{user_id}", json=new_user("taken@acme.test", email="ann@acme.test", active=False))
    assert response.status_code == 409
    assert member(admin, user_id)["access"] == "active"


def test_groups_are_not_members(scim, admin):
    scim.post("/Groups", json={"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Staff"})
    assert admin.get("/members").get_json()["members"] == []


def test_a_recreated_user_is_a_new_member_and_the_old_history_stays(user_id, scim, admin):
    scim.delete(f"/Users/{user_id}")
    again = scim.post("/Users", json=new_user("ann@acme.test")).get_json(force=True)
    members = {m["id"]: m for m in admin.get("/members").get_json()["members"]}
    assert members[user_id]["access"] == "revoked" and members[user_id]["activity_count"] == 2
    assert members[again["id"]]["access"] == "active" and members[again["id"]]["activity_count"] == 0
