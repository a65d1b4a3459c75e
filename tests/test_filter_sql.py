"""compile_filter against a real SQLite database in the storage layout: the SQL result set must equal `matches()`."""
import json
import sqlite3

import pytest

from server.contract import load_contract
from server.scim.errors import ScimError
from server.scim.filter import MAX_DEPTH, MAX_TERMS, matches, normalise_instant, parse_filter
from server.scim.schema import ENTERPRISE_USER
from server.storage_filter import compile_filter, register_functions
from tests.filter_support import TEST_EXTENSION, enterprise_user_type, user_type_with_groups

CONTRACT = load_contract()
USER = CONTRACT.resource_type("User")
GROUP = CONTRACT.resource_type("Group")
ENTERPRISE = enterprise_user_type()
WITH_GROUPS = user_type_with_groups()
WORKSPACE = "ws1"

SCHEMA = """
CREATE TABLE resources(workspace_id TEXT, resource_type TEXT, id TEXT PRIMARY KEY, name_key TEXT,
                       external_id TEXT, active INTEGER, created TEXT, last_modified TEXT, version INTEGER, data TEXT);
CREATE TABLE group_members(workspace_id TEXT, group_id TEXT, member_id TEXT, member_type TEXT,
                           PRIMARY KEY(group_id, member_id));
CREATE UNIQUE INDEX resources_name ON resources(workspace_id, resource_type, name_key);
CREATE INDEX resources_external ON resources(workspace_id, resource_type, external_id);
CREATE INDEX group_members_member ON group_members(member_id);
"""


def user(id, user_name, created="2021-01-01T00:00:00Z", modified=None, **attributes):
    return {"id": id, "userName": user_name, **attributes,
            "meta": {"resourceType": "User", "created": created, "lastModified": modified or created}}


def work(value, **extra):
    return {"value": value, "type": "work", **extra}


USERS = [
    user("u1", "BJensen@Example.com", "2011-05-13T04:42:34Z", "2011-05-13T06:42:34.5+02:00",
         externalId="ext-1", active=True, name={"familyName": "Jensen", "givenName": "Barbara"},
         emails=[work("bjensen@example.com", primary=True), {"value": "babs@jensen.org", "type": "home"}],
         **{ENTERPRISE_USER: {"department": "Tour Operations", "manager": {"value": "u6", "displayName": "Admin"}},
            TEST_EXTENSION: {"hireDate": "2010-01-01T09:00:00+01:00", "level": 3, "score": 2.5,
                             "tags": ["Blue", "green"], "code": "AbC", "badge": "aGk="}}),
    user("u2", "jsmith", "2020-01-01T00:00:00+02:00", externalId="EXT-2", active=False,
         name={"familyName": "Smith", "givenName": "John"}, emails=[work("John.Smith@Example.COM")],
         **{ENTERPRISE_USER: {"department": "tour operations"},
            TEST_EXTENSION: {"hireDate": "2010-01-01T08:00:00Z", "level": 7, "tags": ["GREEN"], "code": "abc"}}),
    user("u3", "Zoë.Ångström", "2022-06-01T12:00:00.123456Z", active=True,
         name={"familyName": "Ångström", "givenName": "Zoë"}, emails=[{"value": "zoe@ÅNGSTRÖM.se", "type": "home"}],
         **{TEST_EXTENSION: {"hireDate": "2012-02-29", "level": 1, "score": 9, "tags": []}}),
    user("u4", "straße", "2022-06-01T12:00:00.123457Z", active=True, name={"familyName": "Straße"}, emails=[]),
    user("u5", "ΣΊΣΥΦΟΣ", active=True, name={"givenName": "Σίσυφος"},
         emails=[{"value": "sisyphus@hades.gr", "type": "other"}]),
    user("u6", "admin", active=False, emails=[work("admin@example.com"), {"value": "root@example.com"}]),
    user("u7", "o'malley", active=True, externalId="x\\y", name={"familyName": "O'Malley", "givenName": "Séan"},
         emails=[work('"quoted"@example.com')]),
    user("u8", "empty-name", name={"givenName": "", "familyName": ""}, emails=[{"value": "", "type": "work"}]),
    user("u9", "Percent%Under_score", active=True, emails=[work("a%b_c@example.com", primary=False)]),
    user("u10", "LongTime", "1999-12-31T23:59:59.999Z", "2030-01-01T00:00:00Z", active=True,
         emails=[{"value": "x@y.z", "type": "home", "primary": False}, work("lt@example.com", primary=True)],
         **{ENTERPRISE_USER: {"department": "", "manager": {"value": ""}}}),
]


def group(id, display_name, members=(), **attributes):
    return {"id": id, "displayName": display_name, **attributes,
            "members": [{"value": m, "type": "Group" if m.startswith("g") else "User"} for m in members],
            "meta": {"resourceType": "Group", "created": "2021-01-01T00:00:00Z", "lastModified": "2021-01-01T00:00:00Z"}}


GROUPS = [
    group("g1", "Admins", ["u1", "u6"]),
    group("g2", "Everyone", [u["id"] for u in USERS] + ["g1"]),
    group("g3", "Empty"),
    group("g4", "Ünïcode Group", ["u3"], externalId="G-4"),
]

for u in USERS:  # RFC 7643 `groups`, read-only and derived from memberships, for the WITH_GROUPS type
    u["groups"] = [{"value": g["id"], "display": g["displayName"]}
                   for g in GROUPS if any(m["value"] == u["id"] for m in g["members"])]


def stored_row(resource: dict, resource_type: str) -> tuple:
    key_attribute = "userName" if resource_type == "User" else "displayName"
    data = {k: v for k, v in resource.items() if k not in ("id", "meta", "members", "groups")}
    active = resource.get("active")
    return (WORKSPACE, resource_type, resource["id"], resource[key_attribute].casefold(), resource.get("externalId"),
            None if active is None else int(active), normalise_instant(resource["meta"]["created"]),
            normalise_instant(resource["meta"]["lastModified"]), 1, json.dumps(resource))


@pytest.fixture(scope="module")
def db():
    connection = sqlite3.connect(":memory:")
    register_functions(connection)
    connection.executescript(SCHEMA)
    rows = [stored_row(u, "User") for u in USERS] + [stored_row(g, "Group") for g in GROUPS]
    connection.executemany("INSERT INTO resources VALUES (?,?,?,?,?,?,?,?,?,?)", rows)
    # A second workspace with the same names must never leak into results.
    connection.execute("INSERT INTO resources VALUES ('ws2','User','other','jsmith',NULL,1,NULL,NULL,1,'{}')")
    connection.executemany("INSERT INTO group_members VALUES (?,?,?,?)", [
        (WORKSPACE, g["id"], m["value"], m["type"]) for g in GROUPS for m in g["members"]])
    yield connection
    connection.close()


def sql_ids(db, text, resource_type):
    where, params = compile_filter(parse_filter(text), resource_type)
    kind = "Group" if resource_type is GROUP else "User"
    query = f"SELECT r.id FROM resources r WHERE r.workspace_id = ? AND r.resource_type = ? AND {where}"
    return {row[0] for row in db.execute(query, [WORKSPACE, kind, *params])}


def python_ids(text, resource_type):
    resources = GROUPS if resource_type is GROUP else USERS
    node = parse_filter(text)
    return {r["id"] for r in resources if matches(node, r, resource_type)}


USER_FILTERS = [
    'userName eq "bjensen@example.com"', 'USERNAME EQ "STRASSE"', 'userName eq "σίσυφος"', 'userName ne "jsmith"',
    'userName co "ENS"', 'userName sw "zoë"', 'userName ew "SCORE"', 'userName co "%"', 'userName co "_"',
    'userName sw ""', 'userName ew ""', 'userName gt "m"', 'userName le "jsmith"', 'userName pr', 'userName eq null',
    'id eq "u3"', 'id ne "u3"', 'id eq "U3"', 'id sw "u1"', 'externalId eq "EXT-2"', 'externalId eq "ext-2"',
    'externalId pr', 'externalId eq null', r'externalId eq "x\\y"', 'externalId ne "ext-1"',
    "active eq true", "active ne true", "active eq false", "not (active eq true)", "active pr",
    'name.familyName eq "jensen"', 'name.familyName co "\'"', 'name.givenName pr', "name pr", "not (name pr)",
    'name.familyName ne "Smith"', 'name.givenName ge "b"', 'name.givenName lt "Z"', 'name.familyName ew "STRÖM"',
    'name.familyName eq null', 'name[givenName sw "j" or familyName eq "jensen"]', 'name[givenName ne "John"]',
    "emails pr", "not (emails pr)", 'emails eq "JOHN.SMITH@example.com"', 'emails.value ew "@EXAMPLE.COM"',
    'emails.value ne "admin@example.com"', 'emails.type eq "work"', 'emails.type ne "work"', "emails.type pr",
    "emails.value pr", 'emails[type eq "work" and value co "example"]', 'emails[type eq "home" and primary eq true]',
    "emails[primary eq true]", "emails.primary eq false", "emails[not (type pr)]", 'emails[type ne "work"]',
    "emails[value pr]", 'not (emails[type eq "work"])', r'emails co "\"quoted\""', 'emails co "ångström"',
    'emails[value co "%" or value sw "zoe"]',
    'meta.created gt "2011-05-13T04:42:34Z"', 'meta.created eq "2019-12-31T22:00:00Z"',
    'meta.created ge "2020-01-01T00:00:00+02:00"', 'meta.lastModified lt "2025-01-01"',
    'meta.created gt "2022-06-01T12:00:00.123456Z"', 'meta.created le "2022-06-01T14:00:00.123456+02:00"',
    'meta.lastModified eq "2011-05-13T04:42:34.5Z"', 'meta.resourceType eq "User"', 'meta.created pr',
    'userName eq "jsmith" or active eq false and name.givenName pr',
    '(userName eq "jsmith" or active eq false) and name.givenName pr',
    'not (userName sw "a" or emails pr)', "not (not (active eq true))",
    'emails[type eq "work"] and not (emails[type eq "home"]) or userName co "ß"',
    'not (name.familyName co "s")', 'not (externalId sw "e")', 'not (name.givenName ne "John")',
    'not (emails.value ne "admin@example.com")', 'not (name[givenName eq "John"] or active eq true)',
]
GROUP_FILTERS = [
    'displayName eq "admins"', 'displayName co "GROUP"', 'displayName sw "ünï"', 'displayName ne "Empty"',
    'members eq "u1"', 'members.value eq "g1"', 'members.value eq "U1"', 'members[value eq "u3" and type eq "user"]',
    'members[type eq "group"]', "members pr", "not (members pr)", 'members.value ne "u1"', 'members.type eq "User"',
    'externalId eq "G-4"', 'members[not (value eq "u1")]', "members.value pr", "members.type pr",
    'members[value sw "u1"] and displayName pr', 'members.value gt "u5"', "externalId eq null",
]
EXTENSION_FILTERS = [
    f'{ENTERPRISE_USER}:department eq "TOUR operations"', f"{ENTERPRISE_USER}:department pr",
    f'{ENTERPRISE_USER}:department ne "Tour Operations"', f'{ENTERPRISE_USER.upper()}:MANAGER.VALUE eq "u6"',
    f"{ENTERPRISE_USER}:manager pr", f"{ENTERPRISE_USER}:manager.value pr", f"{ENTERPRISE_USER}:manager.displayName pr",
    f'{ENTERPRISE_USER}:manager[value eq "u6" and displayName eq "ADMIN"]', f"{ENTERPRISE_USER}:manager eq null",
    f'{TEST_EXTENSION}:hireDate eq "2010-01-01T08:00:00Z"', f'{TEST_EXTENSION}:hireDate lt "2010-01-01T08:30:00Z"',
    f'{TEST_EXTENSION}:hireDate ge "2012-02-29T00:00:00+00:00"', f"{TEST_EXTENSION}:hireDate pr",
    f"{TEST_EXTENSION}:level gt 2", f"{TEST_EXTENSION}:level eq 7", f"{TEST_EXTENSION}:level ne 7",
    f"{TEST_EXTENSION}:score le 2.5", f"{TEST_EXTENSION}:score gt 2", f"{TEST_EXTENSION}:level le 1.5",
    f'{TEST_EXTENSION}:tags eq "GREEN"', f'{TEST_EXTENSION}:tags ne "green"', f"{TEST_EXTENSION}:tags pr",
    f'{TEST_EXTENSION}:tags sw "bl"', f'{TEST_EXTENSION}:code eq "abc"', f'{TEST_EXTENSION}:code co "bC"',
    f'{TEST_EXTENSION}:badge eq "aGk="', f"not ({TEST_EXTENSION}:level gt 2)",
    f'not ({TEST_EXTENSION}:tags ne "blue")', f'{TEST_EXTENSION}:code eq "abc" and {ENTERPRISE_USER}:department pr',
]


@pytest.mark.parametrize("text", USER_FILTERS)
def test_users_sql_agrees_with_matches(db, text):
    assert sql_ids(db, text, USER) == python_ids(text, USER)


@pytest.mark.parametrize("text", GROUP_FILTERS)
def test_groups_sql_agrees_with_matches(db, text):
    assert sql_ids(db, text, GROUP) == python_ids(text, GROUP)


@pytest.mark.parametrize("text", EXTENSION_FILTERS)
def test_extensions_sql_agrees_with_matches(db, text):
    assert sql_ids(db, text, ENTERPRISE) == python_ids(text, ENTERPRISE)


@pytest.mark.parametrize("text", ['groups eq "g1"', 'groups[value eq "g4"]', "groups pr", 'groups.value ne "g2"'])
def test_user_groups_come_from_group_members(db, text):
    assert sql_ids(db, text, WITH_GROUPS) == python_ids(text, WITH_GROUPS)


@pytest.mark.parametrize("resource_type, text, expected", [
    (USER, 'userName eq "BJENSEN@example.COM"', {"u1"}),
    (USER, 'userName eq "STRASSE"', {"u4"}),
    (USER, 'userName co "%"', {"u9"}),
    (USER, 'userName co "_"', {"u9"}),
    (USER, "active eq false", {"u2", "u6"}),
    (USER, "not (active eq true)", {"u2", "u6", "u8"}),
    (USER, 'emails[type eq "work" and value co "example"]', {"u1", "u2", "u6", "u7", "u9", "u10"}),
    (USER, 'emails[type eq "home" and primary eq true]', set()),
    (USER, 'emails.type eq "home" and emails.primary eq true', {"u1", "u10"}),
    (USER, "emails[not (type pr)]", {"u6"}),
    (USER, "name.givenName pr", {"u1", "u2", "u3", "u5", "u7"}),
    (USER, 'meta.created eq "2019-12-31T22:00:00Z"', {"u2"}),
    (USER, 'meta.created lt "2011-05-13T04:42:34.000001Z"', {"u1", "u10"}),
    (USER, 'userName eq "jsmith" or active eq false and name.givenName pr', {"u2"}),
    (USER, '(userName eq "jsmith" or active eq false) and name pr', {"u2"}),
    (GROUP, 'members[type eq "group"]', {"g2"}),
    (GROUP, "not (members pr)", {"g3"}),
    (GROUP, 'members.value ne "u1"', {"g1", "g2", "g3", "g4"}),
    (ENTERPRISE, f'{ENTERPRISE_USER}:department eq "TOUR operations"', {"u1", "u2"}),
    (ENTERPRISE, f'{TEST_EXTENSION}:hireDate lt "2010-01-01T08:30:00Z"', {"u1", "u2"}),
    (ENTERPRISE, f'{TEST_EXTENSION}:code eq "abc"', {"u2"}),
])
def test_hand_checked_results(db, resource_type, text, expected):
    assert sql_ids(db, text, resource_type) == expected
    assert python_ids(text, resource_type) == expected


def test_user_name_eq_uses_the_name_index(db):
    where, params = compile_filter(parse_filter('userName eq "BJensen@example.com"'), USER)
    assert params == ["bjensen@example.com"]  # casefolded in Python, compared with the stored key
    plan = db.execute(f"EXPLAIN QUERY PLAN SELECT r.id FROM resources r WHERE r.workspace_id = ? "
                      f"AND r.resource_type = ? AND {where}", [WORKSPACE, "User", *params]).fetchall()
    detail = " ".join(row[-1] for row in plan)
    assert "USING INDEX resources_name (workspace_id=? AND resource_type=? AND name_key=?)" in detail


def test_indexed_columns_are_used():
    sql, _ = compile_filter(parse_filter('externalId eq "x"'), USER)
    assert sql == "(r.external_id IS NOT NULL AND r.external_id = ?)"
    assert compile_filter(parse_filter('id eq "x"'), USER)[0] == "(r.id IS NOT NULL AND r.id = ?)"
    sql, params = compile_filter(parse_filter('meta.lastModified gt "2011-05-13T06:42:34+02:00"'), USER)
    assert sql == "(r.last_modified IS NOT NULL AND r.last_modified > ?)" and params == ["2011-05-13T04:42:34.000000Z"]
    assert compile_filter(parse_filter("active eq true"), USER) == ("(r.active IS NOT NULL AND r.active = ?)", [True])
    sql, _ = compile_filter(parse_filter('members eq "u1"'), GROUP)
    assert "group_members" in sql and "json" not in sql


def test_values_are_always_parameters(db):
    hostile = "x' OR 1=1; DROP TABLE resources; --"
    for text in [f'userName eq "{hostile}"', f'name.familyName co "{hostile}"', f'emails[type eq "{hostile}"]',
                 f'members eq "{hostile}"']:
        resource_type = GROUP if text.startswith("members") else USER
        sql, params = compile_filter(parse_filter(text), resource_type)
        assert hostile not in sql and "DROP" not in sql
        assert sql_ids(db, text, resource_type) == set()
    assert db.execute("SELECT count(*) FROM resources").fetchone()[0] == len(USERS) + len(GROUPS) + 1


def test_limits_compile_and_run(db):
    # A value path counts as two comparisons.
    many = " or ".join(f'emails[value eq "{i}"] or userName eq "{i}"' for i in range(MAX_TERMS // 3 - 1))
    assert sql_ids(db, many + ' or id eq "u5"', USER) == {"u5"}
    deep = "not (" * (MAX_DEPTH - 1) + 'userName eq "jsmith"' + ")" * (MAX_DEPTH - 1)
    assert sql_ids(db, deep, USER) == python_ids(deep, USER) == set(u["id"] for u in USERS) - {"u2"}


def alternating(depth: int, inner: str = 'userName eq "jsmith"') -> str:
    """`a and not (b or (c and not (...)))`: the shape that costs SQLite's parser the most stack per level."""
    text = inner
    for level in range(depth):
        text = f'name.givenName pr {"or" if level % 2 else "and"} {"not " if level % 3 else ""}({text})'
    return text


@pytest.mark.parametrize("text", [
    alternating(MAX_DEPTH), alternating(MAX_DEPTH - 3, 'emails[type eq "work" or (value pr and not (type pr))]'),
    f'emails[{alternating(MAX_DEPTH - 1, "value pr").replace("name.givenName", "type")}] and userName pr',
])
def test_deepest_allowed_nesting_runs_in_sqlite(db, text):
    assert sql_ids(db, text, USER) == python_ids(text, USER)


@pytest.mark.parametrize("resource_type, text", [
    (USER, 'meta.version eq "W/\\"1\\""'), (USER, 'meta.location co "Users"'), (USER, "meta pr"),
    (USER, 'meta[created gt "2020-01-01T00:00:00Z"]'), (GROUP, 'members.display eq "x"'),
    (GROUP, 'members[display eq "x"]'), (GROUP, "members.$ref pr"), (WITH_GROUPS, 'groups.display eq "Admins"'),
    (USER, 'title eq "x"'), (GROUP, 'userName eq "x"'),
])
def test_unfilterable_and_unknown_attributes_are_invalid_filter(resource_type, text):
    with pytest.raises(ScimError) as caught:
        compile_filter(parse_filter(text), resource_type)
    assert (caught.value.status, caught.value.scim_type) == (400, "invalidFilter")


def test_register_functions(db):
    assert db.execute("SELECT scim_fold('STRAßE'), scim_fold(NULL), scim_fold(3)").fetchone() == ("strasse", None, 3)
    assert db.execute("SELECT scim_instant('2011-05-13T06:42:34+02:00'), scim_instant('nope')").fetchone() == \
        ("2011-05-13T04:42:34.000000Z", None)
    presence = db.execute("""SELECT scim_present('""'), scim_present('[{}]'), scim_present('[{"a":1}]'),
                                    scim_present(NULL)""").fetchone()
    assert presence == (0, 0, 1, 0)
