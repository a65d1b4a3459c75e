"""/Bulk over HTTP: the contract's limits (413, nothing executed, the body not read past the limit), bulkId
references including group members, failOnErrors, per-operation status and location, and recorded drops."""
import io
import json

import requests

from tests.conftest import capture_dropped, new_user

BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
LIMIT = 1_048_576


def bulk(scim, *operations, **extra):
    response = scim.post("/Bulk", json={"schemas": [BULK_REQUEST], "Operations": list(operations), **extra})
    return response


def post_user(bulk_id, user_name, **extra):
    return {"method": "POST", "path": "/Users", "bulkId": bulk_id, "data": new_user(user_name, **extra)}


def total(scim, path="/Users"):
    return scim.get(path).get_json(force=True)["totalResults"]


def test_bulk_ids_resolve_in_later_operations_including_group_members(scim):
    response = bulk(scim,
                    {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {
                        "displayName": "Tour", "members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}},
                    post_user("u1", "one@example.com"),
                    post_user("u2", "two@example.com"),
                    {"method": "PATCH", "path": "/Users/bulkId:u2", "data": {
                        "Operations": [{"op": "replace", "path": "active", "value": False}]}})
    assert response.status_code == 200
    results = response.get_json(force=True)["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "201", "200"]
    assert [r["method"] for r in results] == ["POST", "POST", "POST", "PATCH"]  # answered in request order
    user_ids = [r["location"].rsplit("/", 1)[1] for r in results[1:3]]
    group = scim.get(results[0]["location"].split("/scim/v2")[1]).get_json(force=True)
    assert [m["value"] for m in group["members"]] == user_ids
    assert scim.get(f"/Users/{user_ids[1]}").get_json(force=True)["active"] is False
    assert all(r["version"].startswith('W/"') for r in results)


def test_per_operation_status_location_and_errors(scim):
    existing = scim.post("/Users", json=new_user("kept@example.com")).get_json(force=True)
    doomed = scim.post("/Users", json=new_user("doomed@example.com")).get_json(force=True)
    response = bulk(scim,
                    post_user("dup", "KEPT@example.com"),
                    {"method": "PUT", "path": f"/Users/{existing['id']}",
                     "data": new_user("kept@example.com", externalId="put")},
                    {"method": "DELETE", "path": f"/Users/{doomed['id']}"},
                    {"method": "DELETE", "path": "/Users/missing"},
                    {"method": "PATCH", "path": "/Users/bulkId:nowhere", "data": {"Operations": []}},
                    {"method": "POST", "path": "/Nope", "bulkId": "n", "data": {}})
    results = response.get_json(force=True)["Operations"]
    assert [r["status"] for r in results] == ["409", "200", "204", "404", "409", "404"]
    assert results[0]["response"]["scimType"] == "uniqueness" and results[0]["response"]["status"] == "409"
    assert results[1]["location"].endswith(f"/Users/{existing['id']}")
    assert results[2]["location"].endswith(f"/Users/{doomed['id']}")
    assert "nowhere" in results[4]["response"]["detail"]
    assert scim.get(f"/Users/{existing['id']}").get_json(force=True)["externalId"] == "put"
    assert scim.get(f"/Users/{doomed['id']}").status_code == 404


def test_fail_on_errors_stops_after_that_many_errors(scim):
    response = bulk(scim,
                    post_user("a", "a@example.com"),
                    {"method": "DELETE", "path": "/Users/missing-1"},
                    {"method": "DELETE", "path": "/Users/missing-2"},
                    post_user("b", "b@example.com"),
                    failOnErrors=2)
    results = response.get_json(force=True)["Operations"]
    assert [r["status"] for r in results] == ["201", "404", "404"]
    assert total(scim) == 1
    response = bulk(scim, {"method": "DELETE", "path": "/Users/missing"}, post_user("c", "c@example.com"))
    assert [r["status"] for r in response.get_json(force=True)["Operations"]] == ["404", "201"]


def test_more_than_the_operation_limit_is_413_and_nothing_runs(scim):
    operations = [post_user(f"u{i}", f"user{i}@example.com") for i in range(101)]
    response = bulk(scim, *operations)
    assert response.status_code == 413
    body = response.get_json(force=True)
    assert body["status"] == "413" and "101" in body["detail"] and "100" in body["detail"]
    assert total(scim) == 0
    assert bulk(scim, *operations[:100]).status_code == 200
    assert total(scim) == 100


class CountingStream(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.bytes_read = 0

    def read(self, size=-1):
        chunk = super().read(size)
        self.bytes_read += len(chunk)
        return chunk

    def readline(self, size=-1):
        line = super().readline(size)
        self.bytes_read += len(line)
        return line


def oversized_body() -> bytes:
    filler = "x" * 1000
    operations = [post_user(f"u{i}", f"user{i}@example.com", externalId=filler) for i in range(1100)]
    return json.dumps({"schemas": [BULK_REQUEST], "Operations": operations}).encode()


def test_body_over_the_payload_limit_is_413_unread_and_nothing_runs(scim):
    data = oversized_body()
    assert len(data) > LIMIT
    stream = CountingStream(data)
    response = scim.flask.post("/scim/v2/Bulk", input_stream=stream, headers={
        "Authorization": f"Bearer {scim.token}", "Content-Type": "application/scim+json",
        "Content-Length": str(len(data))})
    assert response.status_code == 413
    assert response.get_json(force=True)["status"] == "413"
    assert stream.bytes_read == 0
    assert total(scim) == 0


def test_chunked_body_over_the_limit_is_cut_off_at_the_limit(live_server):
    data = oversized_body()

    def chunks():
        for i in range(0, len(data), 65536):
            yield data[i:i + 65536]

    response = requests.post(f"{live_server.base_url}/Bulk", data=chunks(), timeout=30, headers={
        "Authorization": f"Bearer {live_server.token}", "Content-Type": "application/scim+json"})
    assert response.status_code == 413
    assert str(LIMIT) in response.json()["detail"]
    listed = requests.get(f"{live_server.base_url}/Users", timeout=10,
                          headers={"Authorization": f"Bearer {live_server.token}"}).json()
    assert listed["totalResults"] == 0


def test_envelope_errors_are_400(scim):
    assert scim.post("/Bulk", json={"Operations": "x"}).status_code == 400
    response = bulk(scim, {"method": "POST", "path": "/Users", "data": new_user()})  # POST needs a bulkId
    assert response.status_code == 400 and response.get_json(force=True)["scimType"] == "invalidSyntax"
    assert bulk(scim, {"method": "GET", "path": "/Users"}).status_code == 400
    assert bulk(scim, post_user("a", "a@example.com"), failOnErrors=0).status_code == 400
    assert total(scim) == 0


def test_bulk_records_what_each_operation_dropped(app, scim):
    seen = capture_dropped(app)
    response = bulk(scim, post_user("a", "a@example.com", title="Eng"),
                    post_user("b", "b@example.com", title="Ops", nickName="B"))
    assert [r["status"] for r in response.get_json(force=True)["Operations"]] == ["201", "201"]
    assert seen[-1] == ["title", "nickName"]


def test_full_contract_bulk_patch_status_follows_the_contract(full_scim):
    created = full_scim.post("/Users", json=new_user("p@example.com")).get_json(force=True)
    response = bulk(full_scim, {"method": "PATCH", "path": f"/Users/{created['id']}", "data": {
        "Operations": [{"op": "replace", "path": "title", "value": "Lead"}]}})
    assert response.get_json(force=True)["Operations"][0]["status"] == "204"
    assert full_scim.get(f"/Users/{created['id']}").get_json(force=True)["title"] == "Lead"
