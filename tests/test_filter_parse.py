"""Filter and PATCH-path parsing (RFC 7644 §3.4.2.2, §3.5.2) and binding to the seed contract."""
import pytest

from server.contract import load_contract
from server.scim.errors import ScimError
from server.scim.filter import (
    MAX_DEPTH, MAX_LENGTH, MAX_TERMS, And, AttrPath, Compare, Not, Or, PatchPath, Present, ValuePath,
    bind, bind_path, for_resource_type, parse_filter, parse_path, unknown_everywhere,
)
from server.scim.schema import CORE_USER, ENTERPRISE_USER

CONTRACT = load_contract()
USER = CONTRACT.resource_type("User")
GROUP = CONTRACT.resource_type("Group")


def p(name, sub=None, urn=None):
    return AttrPath(urn, name, sub)


def a(name):
    return Present(p(name))


def error_of(call, *args) -> ScimError:
    with pytest.raises(ScimError) as caught:
        call(*args)
    return caught.value


# ---------------------------------------------------------------- well-formed filters

@pytest.mark.parametrize("op", ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le"])
def test_every_comparison_operator(op):
    assert parse_filter(f'title {op} "x"') == Compare(p("title"), op, "x")


@pytest.mark.parametrize("op", ["EQ", "Eq", "eQ"])
def test_operators_are_case_insensitive(op):
    assert parse_filter(f'userName {op} "x"') == Compare(p("userName"), "eq", "x")


def test_present():
    assert parse_filter("title pr") == a("title")
    assert parse_filter("title PR") == a("title")


def test_and_binds_tighter_than_or():
    assert parse_filter("a pr or b pr and c pr") == Or((a("a"), And((a("b"), a("c")))))
    assert parse_filter("a pr and b pr or c pr") == Or((And((a("a"), a("b"))), a("c")))


def test_parentheses_override_precedence():
    assert parse_filter("(a pr or b pr) and c pr") == And((Or((a("a"), a("b"))), a("c")))
    assert parse_filter("((a pr))") == a("a")


def test_not_binds_tighter_than_and():
    assert parse_filter("not (a pr) and b pr") == And((Not(a("a")), a("b")))
    assert parse_filter("b pr or not (a pr or c pr)") == Or((a("b"), Not(Or((a("a"), a("c"))))))


def test_logical_operators_in_any_case():
    assert parse_filter("a pr AND b pr Or NOT (c pr)") == Or((And((a("a"), a("b"))), Not(a("c"))))


def test_chains_are_flat():
    assert parse_filter("a pr or b pr or c pr") == Or((a("a"), a("b"), a("c")))


def test_value_path():
    node = parse_filter('emails[type eq "work" and value co "@example.com"]')
    assert node == ValuePath(p("emails"), And((Compare(p("type"), "eq", "work"),
                                               Compare(p("value"), "co", "@example.com"))))


def test_value_path_with_not_and_groups_inside():
    node = parse_filter('emails[not (type eq "work") or (primary eq true)] and userName pr')
    assert node == And((ValuePath(p("emails"), Or((Not(Compare(p("type"), "eq", "work")),
                                                  Compare(p("primary"), "eq", True)))), a("userName")))


def test_sub_attributes():
    assert parse_filter('name.familyName co "O\'Malley"') == Compare(p("name", "familyName"), "co", "O'Malley")
    assert parse_filter('meta.lastModified gt "2011-05-13T04:42:34Z"') == \
        Compare(p("meta", "lastModified"), "gt", "2011-05-13T04:42:34Z")


def test_urn_qualified_attributes():
    assert parse_filter(f'{CORE_USER}:userName eq "x"') == Compare(p("userName", urn=CORE_USER), "eq", "x")
    assert parse_filter(f'{ENTERPRISE_USER}:manager.value eq "x"') == \
        Compare(p("manager", "value", ENTERPRISE_USER), "eq", "x")


@pytest.mark.parametrize("literal, value", [
    (r'"say \"hi\""', 'say "hi"'), (r'"back\\slash"', "back\\slash"), (r'"caf\u00e9"', "café"),
    (r'"a\/b"', "a/b"), (r'"tab\there"', "tab\there"), ('"ünïcødé ✓"', "ünïcødé ✓"), ('""', ""),
    ("42", 42), ("-1.5", -1.5), ("1e3", 1000.0), ("0", 0),
    ("true", True), ("FALSE", False), ("True", True), ("null", None), ("NULL", None),
])
def test_values_are_json_scalars(literal, value):
    node = parse_filter(f"x eq {literal}")
    assert node.value == value and type(node.value) is type(value)


def test_whitespace_is_tolerated():
    expected = And((Compare(p("userName"), "eq", "x"), Not(a("title"))))
    assert parse_filter('  userName \t eq   "x"\n and not(title pr)  ') == expected
    assert parse_filter('emails[ type eq "work" ]') == ValuePath(p("emails"), Compare(p("type"), "eq", "work"))


def test_value_path_with_sub_attribute_is_one_element_passing_both():
    # Entra's matching attribute `emails[type eq "work"].value eq "…"`
    assert parse_filter('emails[type eq "work"].value eq "x" or emails[type eq "home"].Value pr') == Or((
        ValuePath(p("emails"), And((Compare(p("type"), "eq", "work"), Compare(p("value"), "eq", "x")))),
        ValuePath(p("emails"), And((Compare(p("type"), "eq", "home"), Present(p("Value")))))))


def test_keywords_inside_strings_are_values():
    assert parse_filter('title eq "a and b or not (c)"').value == "a and b or not (c)"


def test_ref_sub_attribute():
    assert parse_filter('members.$ref pr') == Present(p("members", "$ref"))


# ---------------------------------------------------------------- malformed filters

@pytest.mark.parametrize("text, detail", [
    ("", "empty filter"),
    ("   ", "empty filter"),
    ("userName eq john", "unquoted value 'john' at position 12"),
    ("userName eq 'john'", "unexpected character \"'\" at position 12"),
    ('userName eq "john")', "unexpected ')' at position 18"),
    ('(userName eq "john"', "expected ')' to close '(' at position 0"),
    ('emails[type eq "work"', "expected ']' to close '[' at position 6"),
    ('emails[type eq "work")', "unexpected ')' at position 21"),
    ("userName", "expected an operator after 'userName'"),
    ('userName "john"', "unexpected '\"john\"' at position 9, expected an operator"),
    ('userName eqq "john"', "unknown operator 'eqq' at position 9"),
    ('userName eq', "expected a value after 'eq'"),
    ('userName eq "a" userName eq "b"', "unexpected 'userName' at position 16"),
    ('userName pr and', "unexpected end of input at position 15, expected an attribute name"),
    ('and userName pr', "unexpected 'and' at position 0"),
    ('userName pr or or title pr', "unexpected 'or' at position 15"),
    ("not userName pr", "expected '(' after 'not'"),
    ("not", "expected '(' after 'not'"),
    ("()", "unexpected ')' at position 1, expected an attribute name"),
    ('"john" eq userName', "unexpected '\"john\"' at position 0"),
    ('userName eq "unterminated', "invalid string at position 12"),
    (r'userName eq "bad \q escape"', "invalid string at position 17"),
    (r'userName eq "\u12"', "invalid string"),
    ('userName eq "line\nbreak"', "invalid string"),
    ("name..familyName pr", "invalid attribute path 'name..familyName' at position 0"),
    ("name.familyName.x pr", "invalid attribute path"),
    ("name. pr", "invalid attribute path"),
    (f"{ENTERPRISE_USER}: pr", "invalid attribute path"),
    ("user-name! pr", "unexpected character '!' at position 9"),
    ("userName eq 01", "unexpected '1' at position 13"),
    ('emails[type[value pr]]', "value filters cannot nest"),
    ('emails[emails.type eq "x"]', "inside [...] name a sub-attribute"),
    ('emails[type eq "work"].value', "unexpected end of input at position 28, expected an operator after 'value'"),
    ('emails[type eq "work"].("x")', "unexpected '(' at position 23, expected a sub-attribute name after '.'"),
    ("userName eq @", "unexpected character '@' at position 12"),
])
def test_malformed_filters_are_invalid_filter(text, detail):
    error = error_of(parse_filter, text)
    assert (error.status, error.scim_type) == (400, "invalidFilter")
    assert detail in error.detail
    assert error.to_scim()["status"] == "400"


def test_depth_limit_is_an_error_not_a_recursion_error():
    deep = "(" * (MAX_DEPTH + 1) + "a pr" + ")" * (MAX_DEPTH + 1)
    assert "nests deeper than" in error_of(parse_filter, deep).detail
    very_deep = "(" * 4000 + "a pr" + ")" * 4000  # under the length limit; would overflow the stack unchecked
    assert "nests deeper than" in error_of(parse_filter, very_deep).detail
    assert parse_filter("(" * MAX_DEPTH + "a pr" + ")" * MAX_DEPTH) == a("a")


def test_length_and_term_limits():
    assert "longer than" in error_of(parse_filter, "a pr or " * (MAX_LENGTH // 8) + "a pr").detail
    many = " or ".join(f'id eq "{i}"' for i in range(MAX_TERMS + 1))
    assert "more than" in error_of(parse_filter, many).detail
    assert len(parse_filter(" or ".join(f'id eq "{i}"' for i in range(MAX_TERMS))).operands) == MAX_TERMS


# ---------------------------------------------------------------- binding to the contract

def test_bind_canonicalises_names_in_any_case():
    bound = bind(parse_filter('USERNAME eq "x" and Name.FAMILYNAME pr and META.lastmodified gt "2020-01-01T00:00:00Z"'),
                 USER)
    paths = [str(n.path) for n in bound.operands]
    assert paths == ["userName", "name.familyName", "meta.lastModified"]
    assert bound.operands[0].path.resolved.attribute.name == "userName"


def test_bind_core_urn_is_dropped():
    bound = bind(parse_filter(f'{CORE_USER.upper()}:USERNAME eq "x"'), USER)
    assert bound == Compare(p("userName"), "eq", "x")


def test_multi_valued_complex_compares_its_value():
    assert bind(parse_filter('emails co "@x"'), USER) == Compare(p("emails", "value"), "co", "@x")
    assert bind(parse_filter('members eq "u1"'), GROUP) == Compare(p("members", "value"), "eq", "u1")
    assert bind(parse_filter("emails pr"), USER) == Present(p("emails"))  # pr keeps the whole attribute


def test_value_path_binds_to_full_sub_attribute_paths():
    bound = bind(parse_filter('Emails[TYPE eq "work"]'), USER)
    assert bound == ValuePath(p("emails"), Compare(p("emails", "type"), "eq", "work"))
    assert bound.filter.path.resolved.sub.name == "type"


def test_null_comparisons_become_presence():
    assert bind(parse_filter("externalId eq null"), USER) == Not(Present(p("externalId")))
    assert bind(parse_filter("externalId ne null"), USER) == Present(p("externalId"))


def test_bind_is_idempotent():
    once = bind(parse_filter('emails[type eq "work"] and emails eq "a" and externalId eq null'), USER)
    assert bind(once, USER) == once


@pytest.mark.parametrize("rt, text, detail", [
    (USER, 'nickName eq "x"', "unknown attribute 'nickName'"),
    (USER, 'name.nick eq "x"', "unknown attribute 'name.nick'"),
    (USER, 'emails[kind eq "x"]', "unknown attribute 'emails.kind'"),
    (USER, f'{ENTERPRISE_USER}:department eq "x"', "unknown attribute"),
    (USER, 'urn:nope:thing eq "x"', "unknown attribute 'urn:nope:thing'"),
    (USER, 'displayName eq "x"', "unknown attribute 'displayName'"),
    (GROUP, 'userName eq "x"', "unknown attribute 'userName'"),
    (USER, "active gt true", "'gt' does not apply to boolean 'active'"),
    (USER, 'active eq "true"', "'active' is boolean"),
    (USER, 'emails[primary lt false]', "does not apply to boolean"),
    (USER, "userName eq 5", "'userName' is a string"),
    (USER, 'meta.created gt "yesterday"', "not an ISO 8601 date-time"),
    (USER, 'meta.created co "2011"', "'co' does not apply to dateTime"),
    (USER, 'name eq "x"', "'name' is complex"),
    (USER, "userName co null", "cannot compare with null"),
    (USER, 'userName[value eq "x"]', "not a complex attribute"),
    (USER, 'name.givenName[value eq "x"]', "not a complex attribute"),
])
def test_bind_rejects_with_invalid_filter(rt, text, detail):
    error = error_of(bind, parse_filter(text), rt)
    assert (error.status, error.scim_type) == (400, "invalidFilter")
    assert detail in error.detail


# ---------------------------------------------------------------- PATCH paths

@pytest.mark.parametrize("text, expected", [
    ("members", PatchPath(p("members"))),
    ("name.givenName", PatchPath(p("name", "givenName"))),
    ("NAME.GIVENNAME", PatchPath(p("NAME", "GIVENNAME"))),
    ('emails[type eq "work"].value', PatchPath(p("emails", "value"), Compare(p("type"), "eq", "work"))),
    ('members[value eq "2819c223"]', PatchPath(p("members"), Compare(p("value"), "eq", "2819c223"))),
    (f"{ENTERPRISE_USER}:department", PatchPath(p("department", urn=ENTERPRISE_USER))),
    (f"{ENTERPRISE_USER}:manager.value", PatchPath(p("manager", "value", ENTERPRISE_USER))),
    ('emails[type eq "work" and primary eq true]',
     PatchPath(p("emails"), And((Compare(p("type"), "eq", "work"), Compare(p("primary"), "eq", True))))),
    ('  members  ', PatchPath(p("members"))),
])
def test_parse_path(text, expected):
    assert parse_path(text) == expected


@pytest.mark.parametrize("text", [
    "", "   ", "emails[", 'emails[type eq "work"', 'emails[type eq "work"].', 'emails[type eq "work"]value',
    'emails[type eq "work"].value.x', 'emails.value[type eq "work"]', "name..givenName", "name.givenName.x",
    'emails[type eq work]', 'members[value eq "x"] and active pr', "emails]", "(members)", "$", "1abc",
    'emails[type[x pr]]', "members value",
])
def test_bad_paths_are_invalid_path(text):
    error = error_of(parse_path, text)
    assert (error.status, error.scim_type) == (400, "invalidPath")


def test_bind_path_canonicalises_and_binds_the_filter():
    bound = bind_path(parse_path('EMAILS[Type eq "work"].VALUE'), USER)
    assert bound == PatchPath(p("emails", "value"), Compare(p("emails", "type"), "eq", "work"))
    assert bound.path.resolved.sub.name == "value"


@pytest.mark.parametrize("text", ["nickName", 'emails[kind eq "x"]', 'name[givenName eq "x"].x',
                                  'userName[value eq "x"]', 'active[value eq "x"]', "name.nick",
                                  'emails[primary gt true]'])
def test_bind_path_rejects_with_invalid_path(text):
    error = error_of(bind_path, parse_path(text), USER)
    assert (error.status, error.scim_type) == (400, "invalidPath")


# ---------------------------------------------------------------- root-level /.search over several types

@pytest.mark.parametrize("text, for_users, for_groups", [
    ('userName eq "a"', Compare(p("userName"), "eq", "a"), False),
    ('userName eq "a" or displayName eq "b"', Compare(p("userName"), "eq", "a"), Compare(p("displayName"), "eq", "b")),
    ('userName eq "a" and displayName eq "b"', False, False),
    ('not (userName pr)', Not(a("userName")), True),
    ('externalId eq "x" and (members pr or active eq true)', And((Compare(p("externalId"), "eq", "x"),
                                                                 Compare(p("active"), "eq", True))),
     And((Compare(p("externalId"), "eq", "x"), a("members")))),
])
def test_a_root_search_treats_attributes_a_type_lacks_as_false(text, for_users, for_groups):
    node = parse_filter(text)
    assert for_resource_type(node, USER) == for_users
    assert for_resource_type(node, GROUP) == for_groups
    assert unknown_everywhere(node, [USER, GROUP]) is None


def test_a_root_search_names_an_attribute_no_type_knows():
    assert unknown_everywhere(parse_filter('userName eq "a" or title pr'), [USER, GROUP]) == p("title")
