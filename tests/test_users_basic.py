"""The Users lifecycle an Entra walking skeleton needs: create, read, find, Entra-default PATCH, delete."""
import uuid

from tests.conftest import new_user, patch_body


def test_create_returns_201_with_location_meta_and_etag(scim):
    response = scim.post("/Users", json=new_user())
    assert response.status_code == 201
    body = response.get_json(force=True)
    assert body["userName"] == "Zoë.O'Brien@Contoso.onmicrosoft.com"  # case and accents kept as sent
    assert response.headers["Location"] == body["meta"]["location"]
    assert body["meta"]["location"].endswith(f"/scim/v2/Users/{body['id']}")
    assert response.headers["ETag"] == body["meta"]["version"]
    assert body["meta"]["resourceType"] == "User"
    assert scim.get(f"/Users/{body['id']}").get_json(force=True)["userName"] == body["userName"]


def test_username_is_unique_regardless_of_case(scim):
    scim.post("/Users", json=new_user("Ann.Lee@Contoso.com"))
    response = scim.post("/Users", json=new_user("ann.lee@contoso.COM"))
    assert response.status_code == 409
    assert response.get_json(force=True)["scimType"] == "uniqueness"
    assert scim.get("/Users").get_json(force=True)["totalResults"] == 1


def test_entra_probe_with_random_guid_gets_200_and_empty_list(scim):
    response = scim.get(f'/Users?filter=userName+eq+%22{uuid.uuid4()}%22')
    assert response.status_code == 200
    body = response.get_json(force=True)
    assert body["totalResults"] == 0 and body["Resources"] == []
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:ListResponse"]


def test_filter_username_ignores_case_and_externalid_is_exact(scim):
    created = scim.post("/Users", json=new_user(externalId="zobrien")).get_json(force=True)
    found = scim.get('/Users?filter=userName eq "zoë.o\'brien@contoso.onmicrosoft.com"').get_json(force=True)
    assert [r["id"] for r in found["Resources"]] == [created["id"]]
    assert scim.get('/Users?filter=externalId eq "zobrien"').get_json(force=True)["totalResults"] == 1
    assert scim.get('/Users?filter=externalId eq "ZOBRIEN"').get_json(force=True)["totalResults"] == 0


def test_entra_default_patch_replace_and_string_false_disable(scim):
    user = scim.post("/Users", json=new_user()).get_json(force=True)
    response = scim.patch(f"/Users/{user['id']}", json=patch_body(
        {"op": "Replace", "path": "name.familyName", "value": "O'Brien-Nakamura"},
        {"op": "Replace", "path": "active", "value": "False"},
    ))
    assert response.status_code == 200
    after = scim.get(f"/Users/{user['id']}").get_json(force=True)
    assert after["name"]["familyName"] == "O'Brien-Nakamura"
    assert after["active"] is False
    assert after["meta"]["version"] != user["meta"]["version"]


def test_delete_then_404(scim):
    user = scim.post("/Users", json=new_user()).get_json(force=True)
    assert scim.delete(f"/Users/{user['id']}").status_code == 204
    response = scim.get(f"/Users/{user['id']}")
    assert response.status_code == 404
    assert response.get_json(force=True)["status"] == "404"


def test_unsupported_attributes_are_accepted_and_dropped(scim):
    response = scim.post("/Users", json=new_user(title="Engineer", displayName="Zoë O'Brien", roles=[]))
    assert response.status_code == 201
    body = response.get_json(force=True)
    assert "title" not in body and "displayName" not in body


def test_discovery_tells_the_truth(scim):
    config = scim.get("/ServiceProviderConfig").get_json(force=True)
    assert config["bulk"] == {"supported": True, "maxOperations": 100, "maxPayloadSize": 1048576}
    assert config["sort"]["supported"] is False and config["patch"]["supported"] is True
    schemas = scim.get("/Schemas").get_json(force=True)
    user_schema = next(s for s in schemas["Resources"] if s["id"].endswith(":User"))
    assert {a["name"] for a in user_schema["attributes"]} == {"userName", "name", "emails", "active"}
    types = scim.get("/ResourceTypes").get_json(force=True)
    assert {t["endpoint"] for t in types["Resources"]} == {"/Users", "/Groups"}
