"""The SCIM wire over the Flask test client: media types in and out, attribute names in any case, RFC 7644 §3.12
errors, 404 for unknown ids and routes, 405 with Allow, and no input that produces a 500."""
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.app import create_app
from server.storage import Store
from server.tokens import generate_token
from tests.conftest import ScimTestClient, new_user, patch_body

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


def raw_post(scim, path, body: str, content_type: str):
    return scim.flask.post("/scim/v2" + path, data=body, headers={
        "Authorization": f"Bearer {scim.token}", "Content-Type": content_type})


@pytest.mark.parametrize("content_type", [
    "application/scim+json", "application/scim+json; charset=utf-8", "application/json",
    "application/json;charset=UTF-8"])
def test_both_media_types_are_accepted_with_or_without_charset(scim, content_type):
    response = raw_post(scim, "/Users", json.dumps(new_user("ct@example.com")), content_type)
    assert response.status_code == 201
    assert scim.get(f"/Users/{response.get_json(force=True)['id']}").status_code == 200


@pytest.mark.parametrize("accept, answered", [
    (None, "application/scim+json"),
    ("application/scim+json", "application/scim+json"),
    ("application/json", "application/json"),
    ("application/json; charset=utf-8", "application/json"),
    ("application/json, application/scim+json;q=0.9", "application/scim+json"),
    ("application/json, */*;q=0.1", "application/scim+json"),
    ("application/scim+json;q=0, application/json", "application/json"),
    ("text/html", "application/scim+json"),
])
def test_answers_scim_json_unless_plain_json_is_all_the_client_takes(scim, accept, answered):
    headers = {"Accept": accept} if accept else {}
    for response in (scim.get("/Users", headers=headers), scim.get("/Users/missing", headers=headers)):
        assert response.mimetype == answered
        json.loads(response.get_data(as_text=True))


def test_attribute_names_in_any_case_land_under_canonical_names(scim):
    created = scim.post("/Users", json={
        "SCHEMAS": ["urn:ietf:params:scim:schemas:core:2.0:User"], "UserName": "Case.Test@Example.com",
        "Active": "True", "NAME": {"GivenName": "Ada", "FAMILYNAME": "Lovelace"}, "ExternalID": "ada",
        "Emails": [{"Value": "case.test@example.com", "Type": "work", "Primary": "true"}]})
    assert created.status_code == 201
    stored = scim.get(f"/Users/{created.get_json(force=True)['id']}").get_json(force=True)
    assert stored["userName"] == "Case.Test@Example.com"
    assert stored["active"] is True and stored["externalId"] == "ada"
    assert stored["name"] == {"givenName": "Ada", "familyName": "Lovelace"}
    assert stored["emails"] == [{"value": "case.test@example.com", "type": "work", "primary": True}]
    group = scim.post("/Groups", json={"DisplayName": "Ops", "Members": [{"Value": stored["id"]}]})
    assert group.status_code == 201
    assert [m["value"] for m in scim.get(f"/Groups/{group.get_json(force=True)['id']}").get_json(
        force=True)["members"]] == [stored["id"]]


def assert_error(response, status: int, scim_type: str | None = None):
    assert response.status_code == status
    body = response.get_json(force=True)
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    assert body.get("scimType") == scim_type
    return body


def test_malformed_json_and_non_objects_are_invalid_syntax(scim):
    assert_error(raw_post(scim, "/Users", "{not json", "application/scim+json"), 400, "invalidSyntax")
    assert_error(raw_post(scim, "/Users", "[1, 2]", "application/scim+json"), 400, "invalidSyntax")
    assert_error(raw_post(scim, "/Users", "\xff", "application/scim+json"), 400, "invalidSyntax")
    assert scim.get("/Users").get_json(force=True)["totalResults"] == 0


def test_missing_required_attribute_is_invalid_value(scim):
    assert_error(scim.post("/Users", json={"emails": [{"value": "x@y.z"}]}), 400, "invalidValue")
    assert_error(scim.post("/Groups", json={"members": []}), 400, "invalidValue")


def test_wrong_types_are_invalid_value(scim):
    assert_error(scim.post("/Users", json=new_user(active="maybe")), 400, "invalidValue")
    assert_error(scim.post("/Users", json=new_user(emails="a@b.c")), 400, "invalidValue")
    assert_error(scim.post("/Users", json=new_user(userName=42)), 400, "invalidValue")


@pytest.mark.parametrize("path", ["/Users/nope", "/Groups/nope"])
def test_unknown_ids_are_404_for_every_method(scim, path):
    assert_error(scim.get(path), 404)
    assert_error(scim.put(path, json=new_user() if "Users" in path else {"displayName": "x"}), 404)
    assert_error(scim.patch(path, json=patch_body({"op": "replace", "path": "externalId", "value": "x"})), 404)
    assert_error(scim.delete(path), 404)


@pytest.mark.parametrize("path", ["/Nope", "/Users/a/b", "/Schemas/urn:nope", "/ResourceTypes/Nope", "/Me"])
def test_unknown_routes_are_scim_404(scim, path):
    assert_error(scim.get(path), 404)


def test_routes_outside_the_scim_prefix_are_scim_404(scim):
    assert_error(scim.flask.get("/elsewhere"), 404)


@pytest.mark.parametrize("method, path, allowed", [
    ("DELETE", "/Users", {"GET", "POST"}), ("PUT", "/Groups", {"GET", "POST"}),
    ("POST", "/Users/some-id", {"GET", "PUT", "PATCH", "DELETE"}),
    ("POST", "/ServiceProviderConfig", {"GET"}), ("DELETE", "/Schemas", {"GET"}),
    ("GET", "/Bulk", {"POST"}), ("GET", "/.search", {"POST"}),
])
def test_wrong_method_is_405_with_allow(scim, method, path, allowed):
    response = scim._call(method, path)
    assert_error(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}


def test_bad_credentials_are_401_with_www_authenticate(scim):
    response = scim.flask.get("/scim/v2/Users", headers={"Authorization": "Bearer wrong"})
    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(scim.flask.get("/scim/v2/Users"), 401)


def test_unsupported_content_type_is_415(scim):
    assert_error(raw_post(scim, "/Users", "userName=x", "application/x-www-form-urlencoded"), 415)


# --- never a 500 -------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    """One app for all generated inputs (hypothesis reuses it), with a user and a group to aim at."""
    db = str(tmp_path_factory.mktemp("fuzz") / "scim.db")
    app = create_app(db)
    client = ScimTestClient(app.test_client(), generate_token(Store(db), "fuzz"))
    user = client.post("/Users", json=new_user("fuzz@example.com")).get_json(force=True)
    group = client.post("/Groups", json={"displayName": "fuzzers", "members": [{"value": user["id"]}]}).get_json(
        force=True)
    return client, user["id"], group["id"]


KEYS = st.sampled_from([
    "userName", "UserName", "name", "name.givenName", "emails", "value", "primary", "type", "active", "members",
    "displayName", "externalId", "id", "meta", "schemas", "Operations", "op", "path", "method", "data", "bulkId",
    "filter", "startIndex", "count", "attributes", "excludedAttributes", "failOnErrors", "$ref",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User", "urn:ietf:params:scim:schemas:core:2.0:User:userName",
    "manager", "title", "", "emails[type eq \"work\"].value", "members[value eq \"x\"]"]) | st.text(max_size=8)
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12) | \
    st.sampled_from(["add", "Replace", "remove", "True", "False", "POST", "/Users", "/Groups/bulkId:x", "work"])
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
                    max_leaves=20)
FILTER_PARTS = st.sampled_from([
    "userName", "emails", "[", "]", "(", ")", ".", "value", "type", " eq ", " ne ", " co ", " sw ", " gt ", " pr",
    " and ", " or ", "not ", '"x"', '"', "\\", "1", "true", "null", "meta.lastModified", "members", " ", "urn:x:y",
    "name.familyName", "2020-01-01T00:00:00Z"])
FILTERS = st.lists(FILTER_PARTS, max_size=12).map("".join) | st.text(max_size=20)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=JSON, target=st.sampled_from(["POST /Users", "POST /Groups", "PUT user", "PUT group", "PATCH user",
                                          "PATCH group", "POST /Bulk", "POST /.search", "POST /Users/.search"]))
def test_no_body_produces_a_500(fuzz_target, body, target):
    client, user_id, group_id = fuzz_target
    method, where = target.split(" ")
    path = {"user": f"/Users/{user_id}", "group": f"/Groups/{group_id}"}.get(where, where)
    response = client._call(method, path, json=body if body is not None else {})
    assert response.status_code < 500, response.get_data(as_text=True)
    if method == "PATCH" and isinstance(body, dict):
        patched = client.patch(path, json=patch_body(body))
        assert patched.status_code < 500, patched.get_data(as_text=True)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=FILTERS, start=st.text(max_size=4) | st.integers().map(str), count=st.text(max_size=4),
       attributes=st.lists(FILTER_PARTS, max_size=4).map("".join))
def test_no_query_produces_a_500(fuzz_target, text, start, count, attributes):
    client, _, group_id = fuzz_target
    for path in ("/Users", "/Groups"):
        response = client.get(path, query_string={"filter": text, "startIndex": start, "count": count,
                                                  "attributes": attributes})
        assert response.status_code < 500, response.get_data(as_text=True)
        if response.status_code == 400:
            assert response.get_json(force=True)["scimType"] in ("invalidFilter", "invalidValue")
    response = client.patch(f"/Groups/{group_id}", json=patch_body({"op": "remove", "path": text}))
    assert response.status_code < 500, response.get_data(as_text=True)
