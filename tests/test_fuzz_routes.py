"""Property-based fuzzing of every SCIM route through the Flask app: hostile bodies, filters, paths, query
parameters, headers and content types never get a 5xx; every refusal is a SCIM error that changed nothing."""
from __future__ import annotations

import json
from urllib.parse import quote, unquote, urlencode

import pytest
from hypothesis import given, strategies as st

from server.http.security import SECURITY_HEADERS
from tests import scim_strategies as s
from tests.reliability_support import TALLY, assert_scim_error, load_profile, snapshot

load_profile()

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"
ROUTES = [("GET", "/Users"), ("POST", "/Users"), ("POST", "/Users/.search"), ("GET", "/Users/{id}"),
          ("PUT", "/Users/{id}"), ("PATCH", "/Users/{id}"), ("DELETE", "/Users/{id}"),
          ("GET", "/Groups"), ("POST", "/Groups"), ("POST", "/Groups/.search"), ("GET", "/Groups/{id}"),
          ("PUT", "/Groups/{id}"), ("PATCH", "/Groups/{id}"), ("DELETE", "/Groups/{id}"),
          ("POST", "/.search"), ("POST", "/Bulk"), ("GET", "/ServiceProviderConfig"), ("GET", "/Schemas"),
          ("GET", "/Schemas/{id}"), ("GET", "/ResourceTypes"), ("GET", "/ResourceTypes/{id}")]


class Fuzzer:
    """Sends one request as the workspace and checks the answer against the properties; holds real ids to aim at."""

    def __init__(self, scim, other_scim, db_path):
        self.scim, self.db_path = scim, db_path
        self.user = scim.post("/Users", json=s.valid_user(0)).get_json()["id"]
        self.group = scim.post("/Groups", json={"schemas": [s.GROUP], "displayName": "Fuzzers",
                                                "members": [{"value": self.user}]}).get_json()["id"]
        self.foreign = other_scim.post("/Users", json=s.valid_user(1)).get_json()["id"]

    def ids(self):
        return st.sampled_from([self.user, self.group, self.foreign, "", "%00", "..", s.USER]) | s.text.map(lambda t: quote(t, safe="", errors="surrogatepass"))

    def send(self, method: str, path: str, body: bytes | None = None, content_type: str | None = "application/scim+json",
             headers: dict | None = None, query: dict | None = None):
        before = snapshot(self.db_path)
        all_headers = {"Authorization": f"Bearer {self.scim.token}", **(headers or {})}
        if content_type is not None:
            all_headers["Content-Type"] = content_type
        # A lone surrogate goes on the wire as the invalid UTF-8 bytes a careless client would send.
        query_string = urlencode(query or {}, encoding="utf-8", errors="surrogatepass")
        response = self.scim.flask.open("/scim/v2" + path, method=method, data=body, headers=all_headers,
                                        query_string=query_string)
        TALLY["fuzz requests"] += 1
        TALLY[f"fuzz answers {response.status_code // 100}xx"] += 1
        self.check(method, path, response, before)
        return response

    def send_json(self, method: str, path: str, value, **kw):
        return self.send(method, path, json.dumps(value).encode(), **kw)

    def check(self, method: str, path: str, response, before: list[str]) -> None:
        assert response.status_code < 500, (method, path, response.get_data(as_text=True)[:2000])
        assert all(response.headers.get(name) == value for name, value in SECURITY_HEADERS.items())
        assert self.scim.token.encode() not in response.get_data()
        if 300 <= response.status_code < 400:  # Werkzeug's redirect of a path with an empty segment (an id of "/")
            assert "//" in unquote(path) and response.headers["Location"], (method, path)
            assert snapshot(self.db_path) == before
            return
        if response.status_code >= 400:
            assert_scim_error(response.status_code, json.loads(response.get_data()))
            assert snapshot(self.db_path) == before, f"a refused {method} {path} changed the workspace"
            TALLY["fuzz refusals proven to change nothing"] += 1
            return
        if method == "OPTIONS":  # Flask answers it with the route's methods and no body
            assert response.headers["Allow"] and response.get_data() == b""
            return
        if response.status_code == 204:
            assert response.get_data() == b""
            if method == "DELETE":
                assert self.scim.get(path).status_code == 404
            return
        body = json.loads(response.get_data())
        if body.get("schemas") == [LIST_RESPONSE]:
            assert body["itemsPerPage"] == len(body["Resources"]) <= body["totalResults"]
        elif body.get("schemas") == [BULK_RESPONSE]:
            assert all(isinstance(op["status"], str) for op in body["Operations"])
        elif method in ("POST", "PUT", "PATCH"):  # a written resource reads back exactly as answered
            location = body["meta"]["location"].split("/scim/v2", 1)[1]
            assert self.scim.get(location).get_json() == body


@pytest.fixture
def fuzzer(scim, other_scim, db_path):
    return Fuzzer(scim, other_scim, db_path)


def _path(fuzzer: Fuzzer, data, template: str) -> str:
    return template.format(id=data.draw(fuzzer.ids())) if "{id}" in template else template


@given(data=st.data())
def test_mutated_resources_are_created_or_refused_cleanly(fuzzer, data):
    kind = data.draw(st.sampled_from(["Users", "Groups"]))
    attributes = s.USER_ATTRIBUTES if kind == "Users" else s.GROUP_ATTRIBUTES
    base = s.valid_user(data.draw(st.integers(2, 50))) if kind == "Users" else \
        {"schemas": [s.GROUP], "displayName": data.draw(s.text), "members": [{"value": fuzzer.user}]}
    body = data.draw(s.mutated(base, attributes))
    if data.draw(st.booleans()):
        fuzzer.send_json("POST", f"/{kind}", body)
    else:
        fuzzer.send_json("PUT", _path(fuzzer, data, f"/{kind}/{{id}}"), body)


@given(data=st.data(), body=s.patch_bodies())
def test_hostile_patches_apply_or_change_nothing(fuzzer, data, body):
    kind = data.draw(st.sampled_from(["Users", "Groups"]))
    headers = data.draw(st.sampled_from([{}, {"If-Match": "*"}, {"If-Match": 'W/"999"'}, {"If-Match": "\x7f,,"}]))
    fuzzer.send_json("PATCH", _path(fuzzer, data, f"/{kind}/{{id}}"), body, headers=headers)


@given(data=st.data(), query=s.query_params, accept=s.accept_headers)
def test_hostile_queries_list_or_refuse(fuzzer, data, query, accept):
    path = data.draw(st.sampled_from(["/Users", "/Groups", "/Users/{id}", "/Groups/{id}", "/Schemas", "/ResourceTypes"]))
    fuzzer.send("GET", _path(fuzzer, data, path), headers={"Accept": accept} if accept else {}, query=query,
                content_type=None)


@given(data=st.data(), flt=s.any_filter, paging=s.query_params)
def test_hostile_search_bodies_list_or_refuse(fuzzer, data, flt, paging):
    path = data.draw(st.sampled_from(["/Users/.search", "/Groups/.search", "/.search"]))
    fuzzer.send_json("POST", path, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                                    "filter": flt, **paging})


@given(body=s.bulk_bodies())
def test_hostile_bulk_requests_answer_per_operation(fuzzer, body):
    fuzzer.send_json("POST", "/Bulk", body)


@given(data=st.data(), body=s.raw_bodies, content_type=s.content_types)
def test_raw_bodies_on_every_route(fuzzer, data, body, content_type):
    method, template = data.draw(st.sampled_from(ROUTES))
    method = data.draw(st.sampled_from([method, "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "FOO"]))
    fuzzer.send(method, _path(fuzzer, data, template), body, content_type=content_type)


@given(segments=st.lists(s.text.filter(bool), min_size=1, max_size=4), method=st.sampled_from(["GET", "POST", "PATCH", "DELETE"]))
def test_random_paths_answer_scim_errors(fuzzer, segments, method):
    fuzzer.send(method, "/" + "/".join(quote(segment, safe="", errors="surrogatepass") for segment in segments), b"{}")


@pytest.mark.parametrize("body", [
    b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"\\ud800"}',
    b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"a","name":{"givenName":"\\udfff"}}',
    b"[" * 100_000 + b"]" * 100_000,
])
def test_regression_bodies_that_once_failed(fuzzer, body):
    fuzzer.send("POST", "/Users", body)
