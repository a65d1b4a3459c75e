"""normalise_resource: what IdPs really POST/PUT becomes the canonical stored shape."""
import copy

import pytest

from server.scim.errors import ScimError
from server.scim.normalise import normalise_resource
from server.scim.schema import ENTERPRISE_USER
from tests.schema_fixtures import contract, enterprise_users, groups, users  # noqa: F401  (fixtures)


def rejects(body, resource_type, scim_type="invalidValue", mentions=""):
    before = copy.deepcopy(body)
    with pytest.raises(ScimError) as caught:
        normalise_resource(body, resource_type)
    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)
    assert mentions in caught.value.detail
    assert body == before
    return caught.value


def test_entra_create_user_keeps_core_and_drops_roles_and_meta(users):
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE_USER],
        "externalId": "0a21f0f2", "userName": "Test_User_00aa", "active": True,
        "emails": [{"primary": True, "type": "work", "value": "t@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
    }
    out = normalise_resource(body, users)
    assert out.data == {
        "externalId": "0a21f0f2", "userName": "Test_User_00aa", "active": True,
        "emails": [{"primary": True, "type": "work", "value": "t@testuser.com"}],
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
    }
    assert out.dropped == []  # empty roles carried nothing


def test_attribute_names_in_any_case_become_canonical(users):
    out = normalise_resource({"UserName": "a", "ACTIVE": True, "Emails": [{"Value": "a@x", "Primary": True}],
                              "NAME.givenName": "Ann", "name": {"FAMILYNAME": "Lee"}}, users)
    assert out.data == {"userName": "a", "active": True, "emails": [{"value": "a@x", "primary": True}],
                        "name": {"givenName": "Ann", "familyName": "Lee"}}


def test_okta_create_drops_unknown_attributes_and_lists_them(users):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": True, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User", "locale": "en-US", "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [], "password": "1mz050nq", "active": True, "title": "Boss",
            "phoneNumbers": [{"value": "555", "type": "work"}]}
    out = normalise_resource(body, users)
    assert set(out.data) == {"userName", "name", "emails", "externalId", "active"}
    assert out.dropped == ["displayName", "locale", "password", "title", "phoneNumbers"]


def test_okta_put_echo_with_id_meta_and_email_display(users):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "23a35c27", "userName": "t@okta.local",
            "emails": [{"primary": True, "value": "t@okta.local", "type": "work", "display": "t@okta.local"}],
            "active": True, "groups": [], "meta": {"resourceType": "User", "location": "https://x/Users/23a35c27"}}
    out = normalise_resource(body, users)
    assert "id" not in out.data and "meta" not in out.data
    assert out.data["emails"] == [{"primary": True, "value": "t@okta.local", "type": "work"}]
    assert out.dropped == ["emails.display"]


def test_enterprise_nested_is_dropped_when_contract_lacks_extension(users):
    out = normalise_resource({"userName": "a", ENTERPRISE_USER: {"department": "Engineering", "costCenter": ""}},
                             users)
    assert out.data == {"userName": "a"}
    assert out.dropped == [f"{ENTERPRISE_USER}:department"]


def test_enterprise_flat_urn_key_is_dropped_when_contract_lacks_extension(users):
    out = normalise_resource({"userName": "a", f"{ENTERPRISE_USER}:department": "Retail"}, users)
    assert out.dropped == [f"{ENTERPRISE_USER}:department"]


def test_enterprise_nested_and_flat_keys_are_stored_nested(enterprise_users):
    out = normalise_resource({"userName": "a", ENTERPRISE_USER.upper(): {"Department": "Eng"},
                              f"{ENTERPRISE_USER}:employeeNumber": "42"}, enterprise_users)
    assert out.data == {"userName": "a", ENTERPRISE_USER: {"department": "Eng", "employeeNumber": "42"}}


def test_custom_extension_attributes_are_dropped(enterprise_users):
    custom = "urn:ietf:params:scim:schemas:extension:Contoso:2.0:User"
    out = normalise_resource({"userName": "a", f"{custom}:badge": "7", custom: {"floor": 3}}, enterprise_users)
    assert out.data == {"userName": "a"}
    assert out.dropped == [f"{custom}:badge", f"{custom}:floor"]


def test_unknown_attribute_of_known_extension_is_dropped(enterprise_users):
    out = normalise_resource({"userName": "a", ENTERPRISE_USER: {"costCenter": "9"}}, enterprise_users)
    assert out.data == {"userName": "a"}
    assert out.dropped == [f"{ENTERPRISE_USER}:costCenter"]


def test_core_urn_qualified_key(users):
    out = normalise_resource({"urn:ietf:params:scim:schemas:core:2.0:User:userName": "a"}, users)
    assert out.data == {"userName": "a"}


@pytest.mark.parametrize("sent, stored", [("True", True), ("false", False), ("FALSE", False), (True, True)])
def test_string_booleans_are_coerced(users, sent, stored):
    out = normalise_resource({"userName": "a", "active": sent, "emails": [{"value": "a@x", "primary": sent}]}, users)
    assert out.data["active"] is stored
    assert out.data["emails"][0]["primary"] is stored


def test_number_for_username_is_invalid_value(users):
    rejects({"userName": 42}, users, mentions="userName")


def test_object_for_active_is_invalid_value(users):
    rejects({"userName": "a", "active": {"value": True}}, users, mentions="active")


def test_word_that_is_not_a_boolean_is_invalid_value(users):
    rejects({"userName": "a", "active": "yes"}, users, mentions="active")


def test_non_list_for_multi_valued_is_invalid_value(users):
    rejects({"userName": "a", "emails": "a@x"}, users, mentions="emails")


def test_onelogin_v11_single_email_object(users):
    body = {"schemas": ["urn:scim:schemas:core:1.0"], "userName": "pm@example.com",
            "name": {"givenName": "Peter", "familyName": "Meier", "formatted": "Peter Meier"},
            "emails": {"value": "pm@example.com", "type": "work", "primary": True}}
    out = normalise_resource(body, users)
    assert out.data["emails"] == [{"value": "pm@example.com", "type": "work", "primary": True}]


def test_onelogin_template_null_id_and_string_active(users):
    out = normalise_resource({"id": None, "userName": "a", "active": "true", "user_mobile": "555",
                              "meta": {"resourceType": "User"}}, users)
    assert out.data == {"userName": "a", "active": True}
    assert out.dropped == ["user_mobile"]


def test_null_and_empty_string_mean_unassigned(users):
    out = normalise_resource({"userName": "a", "externalId": None, "active": "",
                              "name": {"givenName": "", "familyName": None}, "emails": []}, users)
    assert out.data == {"userName": "a"}


def test_entra_legacy_nulls_for_unknown_attributes_are_not_reported(users):
    out = normalise_resource({"userName": "a", "addresses": None, "phoneNumbers": None}, users)
    assert out.dropped == []


def test_two_primary_emails_are_invalid(users):
    rejects({"userName": "a", "emails": [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": "True"}]},
            users, mentions="primary")


@pytest.mark.parametrize("body", [{}, {"userName": ""}, {"userName": None}, {"active": True}])
def test_missing_username_is_invalid_value(users, body):
    rejects(body, users, mentions="userName")


def test_missing_group_display_name_is_invalid_value(groups):
    rejects({"members": []}, groups, mentions="displayName")


def test_required_check_is_skipped_when_not_writing(users):
    assert normalise_resource({"active": True}, users, for_write=False).data == {"active": True}


@pytest.mark.parametrize("manager", [
    "2819c223",
    {"value": "2819c223"},
    {"value": "2819c223", "displayName": "Boss", "$ref": "../Users/2819c223"},
    [{"$ref": "http://x/scim/Users/2819c223", "value": "2819c223"}],
])
def test_manager_shapes_are_stored_as_value_object(enterprise_users, manager):
    out = normalise_resource({"userName": "a", ENTERPRISE_USER: {"manager": manager}}, enterprise_users)
    assert out.data[ENTERPRISE_USER] == {"manager": {"value": "2819c223"}}


def test_manager_dropped_under_seed_contract(users):
    out = normalise_resource({"userName": "a", ENTERPRISE_USER: {"manager": {"value": "m1"}}}, users)
    assert out.data == {"userName": "a"}
    assert out.dropped == [f"{ENTERPRISE_USER}:manager"]


def test_empty_manager_is_unassigned(enterprise_users):
    out = normalise_resource({"userName": "a", ENTERPRISE_USER: {"manager": "", "department": "D"}},
                             enterprise_users)
    assert out.data[ENTERPRISE_USER] == {"department": "D"}


def test_group_members_normalised_and_deduplicated(groups):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Test SCIMv2",
            "members": [{"value": "u1", "display": "a@x", "$ref": "https://x/Users/u1"}, {"value": "u1"},
                        "u2", {"value": "g1", "type": "group"}]}
    out = normalise_resource(body, groups)
    assert out.data == {"displayName": "Test SCIMv2",
                        "members": [{"value": "u1"}, {"value": "u2"}, {"value": "g1", "type": "Group"}]}
    assert out.dropped == []


def test_entra_group_create_with_microsoft_schema(groups):
    body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group",
                        "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
            "externalId": "8aa1a0c0", "displayName": "displayName", "meta": {"resourceType": "Group"}}
    assert normalise_resource(body, groups).data == {"externalId": "8aa1a0c0", "displayName": "displayName"}


def test_body_must_be_object(users):
    rejects(["userName"], users, scim_type="invalidSyntax")


def test_bare_extension_attribute_name_lands_in_its_extension(enterprise_users):
    out = normalise_resource({"userName": "a", "department": "Eng"}, enterprise_users)
    assert out.data == {"userName": "a", ENTERPRISE_USER: {"department": "Eng"}}
