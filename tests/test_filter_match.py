"""In-memory filter evaluation: `matches` against wire-shaped resources and `matches_element` for PATCH."""
import pytest

from server.contract import load_contract
from server.scim.errors import ScimError
from server.scim.filter import matches, matches_element, normalise_instant, parse_filter, parse_path
from tests.filter_support import enterprise_user_type

CONTRACT = load_contract()
USER = CONTRACT.resource_type("User")
GROUP = CONTRACT.resource_type("Group")

BARBARA = {
    "id": "2819c223-7f76-453a-919d-413861904646",
    "externalId": "BJensen-EXT",
    "userName": "BJensen@Example.com",
    "name": {"familyName": "Jensen", "givenName": "Barbara", "middleName": ""},
    "emails": [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@JENSEN.org", "type": "home"},
    ],
    "active": True,
    "meta": {"resourceType": "User", "created": "2011-05-13T04:42:34Z",
             "lastModified": "2011-05-13T06:42:34.5+02:00"},
}


def m(text, resource=BARBARA, rt=USER):
    return matches(parse_filter(text), resource, rt)


@pytest.mark.parametrize("text, expected", [
    ('userName eq "bjensen@example.com"', True),         # caseExact false
    ('USERNAME EQ "BJENSEN@EXAMPLE.COM"', True),
    ('userName ne "bjensen@example.com"', False),
    ('userName co "jensen@"', True),
    ('userName sw "BJ"', True),
    ('userName ew ".COM"', True),
    ('userName ew "example"', False),
    ('userName gt "a"', True),
    ('userName lt "a"', False),
    ('userName ge "bjensen@example.com"', True),
    ('userName le "bjensen@example.com"', True),
    ('id eq "2819c223-7f76-453a-919d-413861904646"', True),
    ('id eq "2819C223-7F76-453A-919D-413861904646"', False),  # caseExact true
    ('externalId eq "BJensen-EXT"', True),
    ('externalId eq "bjensen-ext"', False),
    ('externalId co "sen-E"', True),
    ('active eq true', True),
    ('active eq false', False),
    ('active ne false', True),
    ('name.familyName eq "JENSEN"', True),
    ('name.middleName pr', False),                          # empty string is not present
    ('name.formatted pr', False),
    ('name.formatted ne "x"', True),                        # ne is true when absent
    ('name.formatted eq "x"', False),
    ('name pr', True),
    ('emails pr', True),
    ('emails.type pr', True),
    ('emails eq "BABS@jensen.ORG"', True),                  # implicit .value, any element, caseExact false
    ('emails.value ew "@jensen.org"', True),
    ('emails.value sw "nobody"', False),
    ('emails.value ne "bjensen@example.com"', True),        # another element differs
    ('emails[type eq "work" and value co "example"]', True),
    ('emails[type eq "work" and value co "jensen.org"]', False),  # same element, not across elements
    ('emails.type eq "work" and emails.value co "jensen.org"', True),
    ('emails[primary eq true]', True),
    ('emails[type eq "home" and primary eq true]', False),
    ('emails[not (type eq "work")]', True),
    ('emails[type pr and value ew ".com"]', True),
    ('externalId eq null', False),
    ('name.formatted eq null', True),
    ('meta.created eq "2011-05-13T04:42:34Z"', True),
    ('meta.created eq "2011-05-13T06:42:34+02:00"', True),  # same instant
    ('meta.created eq "2011-05-13T04:42:34.000Z"', True),
    ('meta.created gt "2011-05-13T04:42:33.999Z"', True),
    ('meta.created lt "2011-05-13T04:42:34Z"', False),
    ('meta.lastModified eq "2011-05-13T04:42:34.500Z"', True),
    ('meta.lastModified ge "2011-05-13T04:42:34.5Z"', True),
    ('meta.lastModified gt "2011-05-13T05:00:00+01:00"', True),
    ('meta.resourceType eq "User"', True),
    ('userName pr and not (active eq false) or id eq "x"', True),
    ('id eq "x" or userName eq "nope" and active eq true', False),
])
def test_semantics(text, expected):
    assert m(text) is expected


def test_attribute_names_in_the_resource_are_case_insensitive():
    assert m('userName eq "x"', {"USERNAME": "X"})


def test_absent_attributes():
    empty = {"id": "1", "userName": "u", "emails": []}
    assert not m("emails pr", empty)
    assert m('emails.value ne "x"', empty)
    assert not m('emails[type ne "x"]', empty)
    assert not m("active eq false", empty) and m("active ne true", empty)
    assert not m('name.givenName pr', {"name": {"givenName": None}})
    assert not m("name pr", {"name": {"givenName": "", "familyName": None}})


def test_unicode_casefold():
    straße = {"userName": "Straße", "name": {"familyName": "ΣΊΣΥΦΟΣ"}}
    assert m('userName eq "STRASSE"', straße)
    assert m('name.familyName eq "σίσυφος"', straße)


def test_numbers_do_not_match_strings_in_resource():
    assert not m('userName eq "5"', {"userName": 5})


def test_groups_members():
    group = {"id": "g1", "displayName": "Admins", "members": [{"value": "u1", "type": "User"}]}
    assert m('members eq "u1"', group, GROUP)
    assert not m('members eq "U1"', group, GROUP)  # members.value is caseExact
    assert m('members[value eq "u1" and type eq "user"]', group, GROUP)
    assert m('displayName eq "ADMINS"', group, GROUP)
    assert not m("members pr", {"id": "g2", "displayName": "Empty", "members": []}, GROUP)


def test_extension_attributes():
    enterprise = enterprise_user_type()
    user = {"userName": "x", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {
        "department": "Tour Operations", "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}}}
    assert m('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "tour operations"',
             user, enterprise)
    assert m('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value sw "2611"',
             user, enterprise)
    assert not m('urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:costCenter pr',
                 user, enterprise)


def test_unknown_attribute_raises_even_when_absent_from_resource():
    with pytest.raises(ScimError) as caught:
        m('title eq "x"')
    assert caught.value.scim_type == "invalidFilter"


def test_matches_element_for_patch():
    emails = USER.top_level("emails")
    work, home = BARBARA["emails"]
    node = parse_path('emails[TYPE eq "WORK" and primary eq true]').filter
    assert matches_element(node, work, emails)
    assert not matches_element(node, home, emails)
    assert matches_element(parse_filter('value ew "JENSEN.ORG"'), home, emails)
    with pytest.raises(ScimError):
        matches_element(parse_filter('kind eq "x"'), work, emails)


@pytest.mark.parametrize("text, expected", [
    ("2011-05-13T04:42:34Z", "2011-05-13T04:42:34.000000Z"),
    ("2011-05-13T04:42:34.1234567Z", "2011-05-13T04:42:34.123456Z"),
    ("2011-05-13T00:30:00-05:30", "2011-05-13T06:00:00.000000Z"),
    ("2011-05-13T04:42:34", "2011-05-13T04:42:34.000000Z"),
    ("not a date", None), ("", None), (None, None),
])
def test_normalise_instant(text, expected):
    assert normalise_instant(text) == expected
