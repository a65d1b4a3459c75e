"""Hypothesis strategies for hostile SCIM input: JSON values with unicode edge cases, mutated User/Group/PATCH/
Bulk bodies, filters built from the grammar (and random bytes), raw bodies, paths, headers and content types."""
from __future__ import annotations

import json

from hypothesis import strategies as st

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"

# Characters that break naive code: NUL, lone surrogates, RTL override, BOM, zero-width joiner, combining
# marks, astral emoji, quotes and backslashes, SQL and JSON-path punctuation.
EDGE_CHARACTERS = ["\x00", "\ud800", "\udfff", "\u202e", "\ufeff", "\u200d", "\u0301", "😀", "\U0010ffff",
                   '"', "\\", "'", ";", "--", "%", "_", "*", "$", "[", "]", "(", ")", ".", ":", "\n", "\t", "İ", "ß"]
edge_text = st.lists(st.one_of(st.sampled_from(EDGE_CHARACTERS), st.text(max_size=4)), max_size=12).map("".join)
text = st.one_of(st.text(max_size=30), edge_text)
huge_text = st.sampled_from([10_000, 70_000, 300_000]).map(lambda n: "x" * n)
numbers = st.one_of(st.integers(), st.integers(min_value=2**63 - 2, max_value=2**70), st.integers(max_value=-2**63),
                    st.floats(allow_nan=True, allow_infinity=True))
leaves = st.one_of(st.none(), st.booleans(), numbers, text, st.sampled_from(["True", "False", "", "null"]))
json_values = st.recursive(leaves, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(text, children, max_size=4)), max_leaves=12)
any_value = st.one_of(json_values, huge_text)

USER_ATTRIBUTES = ["userName", "name", "name.givenName", "displayName", "emails", "active", "externalId", "id",
                   "meta", "schemas", "phoneNumbers", "addresses", "title", "groups", "password", "USERNAME",
                   "urn:ietf:params:scim:schemas:core:2.0:User:userName",
                   "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department"]
GROUP_ATTRIBUTES = ["displayName", "members", "externalId", "id", "meta", "schemas", "DisplayName"]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"]
FILTER_ATTRIBUTES = ["userName", "displayName", "externalId", "id", "active", "emails.value", "emails.type",
                     "emails.primary", "name.givenName", "members.value", "meta.created", "meta.lastModified",
                     "title", "nope", "emails[type eq \"work\"].value", USER + ":userName"]


def valid_user(n: int) -> dict:
    return {"schemas": [USER], "userName": f"user{n}@example.test", "active": True,
            "name": {"givenName": "Ann", "familyName": f"N{n}"},
            "emails": [{"value": f"user{n}@example.test", "type": "work", "primary": True}]}


@st.composite
def mutated(draw, base: dict, attributes: list[str]) -> dict:
    """A valid body with a few keys set to hostile values, removed, or re-cased; sometimes nulls everywhere."""
    body = json.loads(json.dumps(base))
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(attributes) | text)
        action = draw(st.sampled_from(["set", "delete", "null"]))
        if action == "delete":
            body.pop(key, None)
        else:
            body[key] = None if action == "null" else draw(any_value)
    if draw(st.integers(0, 9)) == 0:
        body = {key: None for key in body}
    return body


@st.composite
def filters(draw, depth: int = 0) -> str:
    """Filters from RFC 7644's grammar with hostile values; some are wrong on purpose."""
    kind = draw(st.sampled_from(["compare", "present", "not", "and", "or", "group", "broken"])
                if depth < 3 else st.just("compare"))
    if kind in ("and", "or"):
        return f"{draw(filters(depth + 1))} {kind} {draw(filters(depth + 1))}"
    if kind == "not":
        return f"not ({draw(filters(depth + 1))})"
    if kind == "group":
        return f"emails[{draw(filters(depth + 1))}]"
    attribute = draw(st.sampled_from(FILTER_ATTRIBUTES) | text)
    if kind == "present":
        return f"{attribute} pr"
    operator = draw(st.sampled_from(OPERATORS) | text)
    value = draw(st.one_of(text.map(json.dumps), numbers.map(json.dumps), st.sampled_from(
        ["true", "false", "null", '"2024-01-01T00:00:00Z"', "'x'", '"x" or 1=1', "\"') OR 1=1 --\""])))
    if kind == "broken":
        return draw(st.sampled_from([f"{attribute} {operator}", f"({attribute} {operator} {value}",
                                     f"{attribute} {operator} {value})", f"{value} {operator} {attribute}"]))
    return f"{attribute} {operator} {value}"


any_filter = st.one_of(filters(), text, st.binary(max_size=40).map(lambda b: b.decode("latin-1")))

PATCH_PATHS = ["userName", "active", "name.givenName", "emails", 'emails[type eq "work"].value',
               'emails[type eq "work"]', "members", 'members[value eq "x"]', "displayName", "externalId", "id",
               "meta.version", "schemas", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
               "emails[value co \"'; DROP TABLE resources; --\"]", "$.userName", "../../etc", ""]


@st.composite
def patch_bodies(draw) -> dict:
    operations = draw(st.lists(st.fixed_dictionaries(
        {"op": st.sampled_from(["add", "replace", "remove", "Add", "REPLACE", "move", ""]) | any_value},
        optional={"path": st.sampled_from(PATCH_PATHS) | st.builds(str, any_filter) | any_value,
                  "value": any_value}), max_size=4))
    body = {"schemas": [PATCH_OP], "Operations": operations}
    return draw(st.one_of(st.just(body), mutated(body, ["schemas", "Operations", "operations"])))


@st.composite
def bulk_bodies(draw) -> dict:
    operation = st.fixed_dictionaries(
        {"method": st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET"]) | any_value},
        optional={"path": st.sampled_from(["/Users", "/Groups", "/Users/bulkId:a", "/Users/x", "/", "Users"]) | text,
                  "bulkId": st.sampled_from(["a", "b"]) | any_value, "version": any_value,
                  "data": st.one_of(mutated(valid_user(draw(st.integers(0, 9))), USER_ATTRIBUTES), patch_bodies(),
                                    any_value)})
    body = {"schemas": [BULK], "Operations": draw(st.lists(operation, max_size=4))}
    return draw(st.one_of(st.just(body), mutated(body, ["schemas", "Operations", "failOnErrors"])))


def deep_nesting(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode() if depth % 2 else ('{"a":' * depth + "1" + "}" * depth).encode()


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from([10, 500, 5_000, 200_000]).map(deep_nesting),
    st.sampled_from([b'{"userName":"a","userName":"b","schemas":["' + USER.encode() + b'"]}',
                     b'{"displayName":"a","DISPLAYNAME":null}', b"", b"null", b"[]", b'"text"', b"1e999999",
                     b'{"userName": "\\ud800"}', b'{"userName": "a\\u0000b"}', b"\xef\xbb\xbf{}",
                     b'{"userName": ' + b"9" * 5000 + b"}", b"\xff\xfe{\x00}\x00"]))
content_types = st.sampled_from([None, "application/scim+json", "application/json", "application/json; charset=utf-8",
                                 "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
                                 "application/scim+json; charset=latin-1", "application/vnd.foo+json", "*/*", "application/json; boundary=\"x\"",
                                 "application/json; charset=utf-16"])
accept_headers = st.sampled_from([None, "application/scim+json", "application/json", "text/html", "*/*",
                                  "application/xml", "application/json;q=0, */*;q=0", ";;;"])
query_values = st.one_of(text, st.integers().map(str), st.sampled_from(["-1", "0", "1e3", "99999999999999999999"]))
query_params = st.dictionaries(
    st.sampled_from(["filter", "startIndex", "count", "attributes", "excludedAttributes", "sortBy", "sortOrder"]) | text,
    st.one_of(query_values, any_filter), max_size=4)
