"""Search over the Flask test client: the filter grammar end to end, paging rules, /.search at the root and per
type, sorting ignored, attributes/excludedAttributes on every response, and proof that filters and paging run in
SQL (indexes, one page decoded) and that excluded members are never read."""
import json
import time
from datetime import datetime, timedelta, timezone

import pytest

from server import storage
from server.app import create_app
from server.contract import CONTRACTS_DIR
from server.storage import Store
from server.tokens import generate_token
from tests.conftest import ScimTestClient, new_user, patch_body

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def found(scim, filter_text, path="/Users"):
    response = scim.get(path, query_string={"filter": filter_text})
    assert response.status_code == 200, response.get_json(force=True)
    return sorted(r["userName"] if "userName" in r else r["displayName"]
                  for r in response.get_json(force=True)["Resources"])


@pytest.fixture
def people(scim):
    """Three users whose attributes make every operator distinguishable."""
    specs = [
        ("Ada.Lovelace@Example.com", "Lovelace", "ada", True, [("work", "ada@example.com"), ("home", "ada@home.org")]),
        ("grace.hopper@example.com", "Hopper", "GRACE", False, [("work", "grace@navy.mil")]),
        ('Zoë."Quoted"@example.com', 'O"Brien\\Ë', "zoe", True, []),
    ]
    for user_name, family, external, active, emails in specs:
        body = {"userName": user_name, "name": {"familyName": family, "givenName": "G"}, "externalId": external,
                "active": active, "emails": [{"type": t, "value": v, "primary": i == 0}
                                             for i, (t, v) in enumerate(emails)]}
        assert scim.post("/Users", json=body).status_code == 201
    return ["Ada.Lovelace@Example.com", "grace.hopper@example.com", 'Zoë."Quoted"@example.com']


ADA, GRACE, ZOE = range(3)


@pytest.mark.parametrize("filter_text, expected", [
    ('userName eq "ada.lovelace@example.com"', [ADA]),
    ('userName ne "ada.lovelace@example.com"', [GRACE, ZOE]),
    ('userName co "HOPPER"', [GRACE]),
    ('userName sw "ada."', [ADA]),
    ('userName ew "@EXAMPLE.COM"', [ADA, GRACE, ZOE]),
    ('userName gt "b"', [GRACE, ZOE]),
    ('userName ge "grace.hopper@example.com"', [GRACE, ZOE]),
    ('userName lt "b"', [ADA]),
    ('userName le "grace.hopper@example.com"', [ADA, GRACE]),
    ("emails pr", [ADA, GRACE]),
    ("not (emails pr)", [ZOE]),
    ("active eq false", [GRACE]),
    ('externalId eq "grace"', []),  # caseExact
    ('externalId eq "GRACE"', [GRACE]),
    ('name.familyName eq "lovelace"', [ADA]),
    ('emails.value co "home"', [ADA]),
    ('emails[type eq "work"].value eq "grace@navy.mil"', [GRACE]),
    ('emails[type eq "home" and value ew ".org"]', [ADA]),
    ('emails[type eq "home"] or active eq false', [ADA, GRACE]),
    ('userName sw "a" or userName sw "g" and active eq true', [ADA]),  # and binds tighter than or
    ('(userName sw "a" or userName sw "g") and active eq true', [ADA]),
    ('(userName sw "a" or userName sw "z") and not (active eq false)', [ADA, ZOE]),
    ('USERNAME EQ "GRACE.HOPPER@EXAMPLE.COM"', [GRACE]),
    ('Emails[Type Eq "work"].Value Pr', [ADA, GRACE]),
    ('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "zo"', [ZOE]),
    ('name.familyName eq "o\\"brien\\\\\\u00cb"', [ZOE]),  # JSON escapes, caseExact false
    ('userName eq "zoë.\\"quoted\\"@example.com"', [ZOE]),
    ('meta.resourceType eq "User"', [ADA, GRACE, ZOE]),
])
def test_filter_grammar_end_to_end(scim, people, filter_text, expected):
    assert found(scim, filter_text) == sorted(people[i] for i in expected)


def test_meta_last_modified_compares_as_dates_in_any_offset(scim, people):
    before = scim.get("/Users").get_json(force=True)["Resources"]
    time.sleep(0.01)
    grace = next(r for r in before if r["userName"] == people[GRACE])
    scim.patch(f"/Users/{grace['id']}", json=patch_body({"op": "replace", "path": "active", "value": True}))
    stamp = max(r["meta"]["lastModified"] for r in before)  # after every create, before the PATCH
    assert found(scim, f'meta.lastModified gt "{stamp}"') == [people[GRACE]]
    instant = datetime.fromisoformat(stamp)
    plus_two = instant.astimezone(timezone(timedelta(hours=2))).isoformat()  # the same instant, another offset
    naive = instant.replace(tzinfo=None).isoformat()  # no offset: taken as UTC
    assert found(scim, f'meta.lastModified gt "{plus_two}"') == [people[GRACE]]
    assert found(scim, f'meta.lastModified le "{naive}"') == sorted([people[ADA], people[ZOE]])
    assert found(scim, 'meta.created lt "2000-01-01T00:00:00Z"') == []


@pytest.mark.parametrize("filter_text", [
    "userName eq", 'userName eq "x', "userName xx \"a\"", '(userName eq "a"', 'userName eq "a")', "   ",
    'emails[type eq "work"', 'nonsense eq "x"', 'name.nope eq "x"', 'urn:x:y:Thing:attr eq "x"',
    "active eq \"true\"", 'meta.lastModified gt "yesterday"', "userName pr and", "not userName eq \"a\"",
    'userName eq "a" and or', "\"x\" eq userName",
])
def test_bad_filters_are_400_invalid_filter_never_an_unfiltered_list(scim, people, filter_text):
    response = scim.get("/Users", query_string={"filter": filter_text})
    assert response.status_code == 400, response.get_json(force=True)
    body = response.get_json(force=True)
    assert body["scimType"] == "invalidFilter" and body["status"] == "400"


def test_extension_urn_filters_and_members_filters(full_scim):
    boss = full_scim.post("/Users", json=new_user("boss@example.com")).get_json(force=True)
    worker = full_scim.post("/Users", json=new_user("worker@example.com", **{ENTERPRISE: {
        "department": "Retail", "manager": {"value": boss["id"]}}})).get_json(force=True)
    group = full_scim.post("/Groups", json={"displayName": "Retail", "members": [{"value": worker["id"]}]})
    assert found(full_scim, f'{ENTERPRISE}:department eq "retail"') == ["worker@example.com"]
    assert found(full_scim, f'{ENTERPRISE}:manager.value eq "{boss["id"]}"') == ["worker@example.com"]
    assert found(full_scim, f'{ENTERPRISE}:department pr') == ["worker@example.com"]
    assert found(full_scim, f'groups.value eq "{group.get_json(force=True)["id"]}"') == ["worker@example.com"]
    assert found(full_scim, f'members[value eq "{worker["id"]}"]', "/Groups") == ["Retail"]
    assert found(full_scim, f'members.value eq "{worker["id"].upper()}"', "/Groups") == []  # caseExact


# --- paging ----------------------------------------------------------------------------------------------


@pytest.fixture
def small_pages(tmp_path):
    """A contract loaded from a file path: the seed with maxResults 3 and defaultCount 2."""
    contract = json.loads((CONTRACTS_DIR / "seed.json").read_text())
    contract["limits"].update(maxResults=3, defaultCount=2)
    path = tmp_path / "small.json"
    path.write_text(json.dumps(contract))
    db = str(tmp_path / "small.db")
    client = ScimTestClient(create_app(db, str(path)).test_client(), generate_token(Store(db), "acme"))
    names = [f"user{i}@example.com" for i in range(5)]
    for name in names:
        client.post("/Users", json=new_user(name))
    return client, names


def page(client, **params):
    body = client.get("/Users", query_string=params).get_json(force=True)
    return body, [r["userName"] for r in body["Resources"]]


def test_paging_rules(small_pages):
    client, names = small_pages
    body, got = page(client)
    assert (body["totalResults"], body["startIndex"], body["itemsPerPage"], got) == (5, 1, 2, names[:2])
    body, got = page(client, startIndex=4, count=2)
    assert (body["startIndex"], body["itemsPerPage"], got) == (4, 2, names[3:5])
    body, got = page(client, startIndex=0, count=1)
    assert (body["startIndex"], got) == (1, names[:1])
    body, got = page(client, startIndex=-7, count=1)
    assert (body["startIndex"], got) == (1, names[:1])
    body, got = page(client, count=0)
    assert (body["totalResults"], body["itemsPerPage"], got) == (5, 0, [])
    body, got = page(client, count=-3)
    assert (body["totalResults"], body["itemsPerPage"], got) == (5, 0, [])
    body, got = page(client, count=500)
    assert (body["itemsPerPage"], got) == (3, names[:3])  # capped at maxResults
    body, got = page(client, startIndex=5, count=3)
    assert (body["itemsPerPage"], got) == (1, names[4:])
    body, got = page(client, startIndex=99)
    assert (body["totalResults"], body["itemsPerPage"], got) == (5, 0, [])
    config = client.get("/ServiceProviderConfig").get_json(force=True)
    assert config["filter"]["maxResults"] == 3


def test_non_integer_paging_is_invalid_value(scim):
    response = scim.get("/Users?count=ten")
    assert response.status_code == 400 and response.get_json(force=True)["scimType"] == "invalidValue"


def test_sort_by_and_sort_order_are_accepted_and_ignored(small_pages):
    client, names = small_pages
    _, plain = page(client, count=3)
    for params in ({"sortBy": "userName", "sortOrder": "descending"}, {"sortBy": "nonsense", "sortOrder": "x"}):
        body, got = page(client, count=3, **params)
        assert got == plain
    response = client.post("/Users/.search", json={"schemas": [SEARCH], "sortBy": "userName",
                                                   "sortOrder": "descending", "count": 3})
    assert [r["userName"] for r in response.get_json(force=True)["Resources"]] == plain


# --- /.search ------------------------------------------------------------------------------------------------


def test_search_per_type_and_at_the_root(scim, people):
    group = scim.post("/Groups", json={"displayName": "Analysts"}).get_json(force=True)
    per_type = scim.post("/Users/.search", json={"schemas": [SEARCH], "filter": 'userName sw "ada"',
                                                 "attributes": ["userName"]})
    assert per_type.status_code == 200
    assert per_type.get_json(force=True)["Resources"][0].keys() == {"schemas", "id", "userName"}
    root = scim.post("/.search", json={"schemas": [SEARCH], "filter": 'userName sw "ada" or displayName pr'})
    body = root.get_json(force=True)
    assert body["totalResults"] == 2
    assert {r["meta"]["resourceType"] for r in body["Resources"]} == {"User", "Group"}
    assert scim.post("/.search", json={"filter": 'displayName eq "analysts"'}).get_json(
        force=True)["Resources"][0]["id"] == group["id"]
    everything = scim.post("/.search", json={"startIndex": 3, "count": 2}).get_json(force=True)
    assert everything["totalResults"] == 4 and everything["itemsPerPage"] == 2
    assert [r["meta"]["resourceType"] for r in everything["Resources"]] == ["User", "Group"]
    bad = scim.post("/.search", json={"filter": 'nothing eq "x"'})
    assert bad.status_code == 400 and bad.get_json(force=True)["scimType"] == "invalidFilter"


# --- attributes / excludedAttributes ------------------------------------------------------------------------


def test_attributes_on_every_read_search_and_write(scim):
    query = {"attributes": "userName,name.givenName"}
    expected = {"schemas", "id", "userName", "name"}
    created = scim.post("/Users", json=new_user("proj@example.com"), query_string=query)
    assert created.status_code == 201 and created.get_json(force=True).keys() == expected
    assert created.headers["ETag"] and created.headers["Location"]
    user_id = created.get_json(force=True)["id"]
    assert created.get_json(force=True)["name"] == {"givenName": "Zoë"}
    responses = [
        scim.get(f"/Users/{user_id}", query_string=query),
        scim.put(f"/Users/{user_id}", json=new_user("proj@example.com"), query_string=query),
        scim.patch(f"/Users/{user_id}", json=patch_body({"op": "replace", "path": "active", "value": False}),
                   query_string=query),
    ]
    for response in responses:
        assert response.status_code == 200 and response.get_json(force=True).keys() == expected
        assert response.headers["ETag"].startswith('W/"')
    listed = scim.get("/Users", query_string=query).get_json(force=True)["Resources"][0]
    searched = scim.post("/Users/.search", json={"attributes": "userName,name.givenName"}).get_json(
        force=True)["Resources"][0]
    assert listed.keys() == searched.keys() == expected


def test_excluded_attributes_on_every_read_search_and_write(scim):
    query = {"excludedAttributes": "emails,meta,name.familyName"}
    created = scim.post("/Users", json=new_user("excl@example.com"), query_string=query).get_json(force=True)
    assert "emails" not in created and "meta" not in created and created["name"] == {"givenName": "Zoë"}
    user_id = created["id"]
    for response in (scim.get(f"/Users/{user_id}", query_string=query),
                     scim.patch(f"/Users/{user_id}", json=patch_body({"op": "add", "path": "externalId",
                                                                       "value": "e"}), query_string=query)):
        body = response.get_json(force=True)
        assert {"id", "userName", "name"} <= body.keys() and "emails" not in body and "meta" not in body
    searched = scim.post("/.search", json={"excludedAttributes": ["emails", "meta"]}).get_json(force=True)
    assert "emails" not in searched["Resources"][0] and "meta" not in searched["Resources"][0]


def test_id_and_schemas_are_always_returned(scim):
    user = scim.post("/Users", json=new_user()).get_json(force=True)
    body = scim.get(f"/Users/{user['id']}?excludedAttributes=id,schemas,userName").get_json(force=True)
    assert body.keys() >= {"id", "schemas"} and "userName" not in body


def statements_during(store: Store, action) -> list[str]:
    statements: list[str] = []
    store.db.conn.set_trace_callback(statements.append)
    try:
        action()
    finally:
        store.db.conn.set_trace_callback(None)
    return statements


def test_excluded_members_are_never_read(app, scim):
    user = scim.post("/Users", json=new_user()).get_json(force=True)
    group = scim.post("/Groups", json={"displayName": "Big", "members": [{"value": user["id"]}]}).get_json(
        force=True)
    store = app.config["STORE"]
    reads = [
        lambda: scim.get(f"/Groups/{group['id']}?excludedAttributes=members"),
        lambda: scim.get('/Groups?excludedAttributes=members&filter=displayName eq "big"'),
        lambda: scim.get(f"/Groups/{group['id']}?attributes=displayName"),
        lambda: scim.post("/Groups/.search", json={"excludedAttributes": "members"}),
        lambda: scim.patch(f"/Groups/{group['id']}?excludedAttributes=members", json=patch_body(
            {"op": "replace", "path": "externalId", "value": "x"})),
    ]
    for read in reads:
        statements = statements_during(store, read)
        assert statements and not [s for s in statements if "group_members" in s], statements
    with_members = statements_during(store, lambda: scim.get(f"/Groups/{group['id']}"))
    assert [s for s in with_members if "group_members" in s]
    assert "members" not in scim.get(f"/Groups/{group['id']}?excludedAttributes=members").get_json(force=True)


# --- scale: filters and paging in SQL --------------------------------------------------------------------------


def test_filters_and_paging_run_in_sql_with_indexes(app, scim, monkeypatch):
    store = app.config["STORE"]
    workspace_id = store.workspaces()[0]["id"]
    with store.transaction() as db:  # 400 users written directly: the point is the read path, not the writes
        for i in range(400):
            data = {"userName": f"bulk{i:03d}@example.com", "active": True}
            stamp = "2026-01-02T00:00:00.000000Z" if i == 7 else "2026-01-01T00:00:00.000000Z"
            db["resources"].insert({"id": f"u{i:03d}", "workspace_id": workspace_id, "resource_type": "User",
                                    "name_key": data["userName"], "external_id": f"ext{i}", "active": 1,
                                    "created": stamp, "last_modified": stamp, "version": 1,
                                    "data": json.dumps(data)})
    decoded = []
    real_decode = storage._decode
    monkeypatch.setattr(storage, "_decode", lambda row: decoded.append(row["id"]) or real_decode(row))
    body = scim.get('/Users?filter=userName sw "bulk" and active eq true&startIndex=101&count=5').get_json(
        force=True)
    assert body["totalResults"] == 400 and [r["id"] for r in body["Resources"]] == [f"u{i}" for i in range(100, 105)]
    assert sorted(decoded) == [f"u{i}" for i in range(100, 105)]  # only the page left SQLite
    plans = {
        'userName eq "bulk007@example.com"': "name_key",
        'externalId eq "ext7"': "external_id",
        'meta.lastModified gt "2026-01-01T00:00:00Z" or userName eq "bulk007@example.com"': "last_modified",
    }
    for filter_text, column in plans.items():
        decoded.clear()
        assert scim.get("/Users", query_string={"filter": filter_text}).get_json(force=True)["totalResults"] == 1
        assert len(decoded) == 1
        statements = statements_during(store, lambda: scim.get("/Users", query_string={"filter": filter_text}))
        select = next(s for s in statements if s.startswith("SELECT r.*"))
        plan = " ".join(str(row[-1]) for row in store.db.execute(f"EXPLAIN QUERY PLAN {select}").fetchall())
        assert "USING INDEX" in plan and column in plan, plan
