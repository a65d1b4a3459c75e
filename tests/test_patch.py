"""apply_patch: the PatchOp shapes Entra, Okta and OneLogin really send, and RFC 7644 §3.5.2's rules."""
import copy

import pytest

from server.scim.errors import ScimError
from server.scim.patch import (
    AddMembers, RemoveAllMembers, RemoveMatchingMembers, RemoveMembers, apply_patch, member_ids_referenced,
)
from server.scim.schema import ENTERPRISE_USER
from tests.schema_fixtures import contract, enterprise_users, groups, users  # noqa: F401  (fixtures)

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MANAGER = f"{ENTERPRISE_USER}:manager"


def body(*operations):
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def patch(resource, resource_type, *operations):
    return apply_patch(resource, body(*operations), resource_type)


def rejects(resource, resource_type, patch_body, scim_type):
    before = copy.deepcopy(resource)
    with pytest.raises(ScimError) as caught:
        apply_patch(resource, patch_body, resource_type)
    assert (caught.value.status, caught.value.scim_type) == (400, scim_type)
    assert resource == before
    return caught.value


@pytest.fixture
def user():
    return {"id": "u1", "userName": "ann@x.com", "active": True, "externalId": "ann",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "ann@x.com", "type": "work", "primary": True}]}


@pytest.fixture
def group():
    return {"id": "g1", "displayName": "Engineering"}


# ---- envelope ------------------------------------------------------------------------------------------------

def test_entra_validator_empty_operations_is_success_without_change(user, users):
    result = patch(user, users)
    assert result.data == user and not result.changed and result.member_ops == []


def test_wrong_schemas_is_invalid_syntax(user, users):
    rejects(user, users, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "Operations": []},
            "invalidSyntax")


def test_onelogin_patch_without_schemas_is_accepted(group, groups):
    result = apply_patch(group, {"Operations": [{"value": [{"value": "u9"}], "op": "remove", "path": "members"}]},
                         groups)
    assert result.member_ops == [RemoveMembers(("u9",))]


def test_operations_key_in_any_case(user, users):
    result = apply_patch(user, {"SCHEMAS": [PATCH_OP.upper()], "operations": [{"OP": "replace", "PATH": "active",
                                                                               "VALUE": False}]},
                         users)
    assert result.data["active"] is False


@pytest.mark.parametrize("bad", [{"schemas": [PATCH_OP]}, {"schemas": [PATCH_OP], "Operations": {}}, []])
def test_missing_or_non_list_operations_is_invalid_syntax(user, users, bad):
    rejects(user, users, bad, "invalidSyntax")


def test_unknown_op_is_invalid_syntax(user, users):
    rejects(user, users, body({"op": "merge", "path": "active", "value": False}), "invalidSyntax")


@pytest.mark.parametrize("op", ["Add", "Replace", "REPLACE", "add"])
def test_op_in_any_case(user, users, op):
    assert patch(user, users, {"op": op, "path": "externalId", "value": "new"}).data["externalId"] == "new"


def test_error_names_the_operation(user, users):
    error = rejects(user, users, body({"op": "replace", "path": "active", "value": False},
                                      {"op": "replace", "path": "active", "value": "maybe"}), "invalidValue")
    assert error.detail.startswith("Operations[1]:")


# ---- Entra default job ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, stored", [("False", False), ("false", False), ("True", True), (False, False)])
def test_entra_default_disable_string_boolean(user, users, sent, stored):
    result = patch(user, users, {"op": "Replace", "path": "active", "value": sent})
    assert result.data["active"] is stored


def test_entra_default_replace_work_email_and_family_name(user, users):
    result = patch(user, users,
                   {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x.com"},
                   {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"})
    assert result.data["emails"] == [{"value": "new@x.com", "type": "work", "primary": True}]
    assert result.data["name"] == {"givenName": "Ann", "familyName": "updatedFamilyName"}
    assert result.changed


def test_entra_attribute_names_in_any_case(user, users):
    result = patch(user, users, {"op": "Replace", "path": "emails[Type eq \"work\"].Value", "value": "n@x.com"},
                   {"op": "Replace", "path": "NAME.GivenName", "value": "Anna"})
    assert result.data["emails"][0]["value"] == "n@x.com"
    assert result.data["name"]["givenName"] == "Anna"


@pytest.mark.parametrize("op", ["Add", "Replace"])
def test_entra_work_email_upsert_creates_the_element(users, op):
    resource = {"id": "u2", "userName": "bob"}
    result = patch(resource, users, {"op": op, "path": "emails[type eq \"work\"].value", "value": "bob@x.com"})
    assert result.data["emails"] == [{"type": "work", "value": "bob@x.com"}]


def test_upsert_adds_alongside_other_types(user, users):
    result = patch(user, users, {"op": "Replace", "path": "emails[type eq \"home\"].value", "value": "a@home"})
    assert result.data["emails"] == [{"value": "ann@x.com", "type": "work", "primary": True},
                                     {"type": "home", "value": "a@home"}]


def test_upsert_with_a_non_equality_filter_is_no_target(users):
    resource = {"id": "u2", "userName": "bob"}
    with pytest.raises(ScimError) as caught:
        apply_patch(resource, body({"op": "Add", "path": "emails[type co \"wor\"].value", "value": "b@x"}), users)
    assert caught.value.scim_type == "noTarget"


def test_entra_unknown_attributes_are_dropped_not_errors(user, users):
    result = patch(user, users,
                   {"op": "Replace", "path": "addresses[type eq \"work\"].formatted", "value": "18/2111"},
                   {"op": "Replace", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "555"},
                   {"op": "Add", "path": f"{ENTERPRISE_USER}:department", "value": "Retail"},
                   {"op": "Replace", "path": "title", "value": "Boss"},
                   {"op": "Replace", "path": "displayName", "value": "Ann Lee"})
    assert result.data == user and not result.changed
    assert result.dropped == ["addresses[type eq \"work\"].formatted", "phoneNumbers[type eq \"mobile\"].value",
                              f"{ENTERPRISE_USER}:department", "title", "displayName"]


def test_entra_add_department_lands_with_enterprise_extension(user, enterprise_users):
    result = patch(user, enterprise_users, {"op": "Add", "path": f"{ENTERPRISE_USER}:department", "value": "Retail"})
    assert result.data[ENTERPRISE_USER] == {"department": "Retail"}


def test_entra_replace_primary_flag_on_work_email(users):
    resource = {"userName": "a", "emails": [{"value": "a@home", "type": "home", "primary": True},
                                            {"value": "a@work", "type": "work"}]}
    result = patch(resource, users, {"op": "replace", "path": "emails[type eq \"work\"].primary", "value": True})
    assert result.data["emails"] == [{"value": "a@home", "type": "home", "primary": False},
                                     {"value": "a@work", "type": "work", "primary": True}]


def test_remove_with_value_filter_removes_matching_elements(users):
    resource = {"userName": "a", "emails": [{"value": "a@home", "type": "home"}, {"value": "a@work", "type": "work"}]}
    result = patch(resource, users, {"op": "Remove", "path": "emails[type eq \"home\"]"})
    assert result.data["emails"] == [{"value": "a@work", "type": "work"}]


def test_remove_with_value_filter_matching_nothing_is_a_no_op(user, users):
    result = patch(user, users, {"op": "remove", "path": "emails[type eq \"other\"]"})
    assert result.data == user and not result.changed


def test_remove_last_matching_element_removes_the_attribute(user, users):
    assert "emails" not in patch(user, users, {"op": "remove", "path": "emails[type eq \"work\"]"}).data


def test_replace_email_value_with_empty_removes_the_element(user, users):
    result = patch(user, users, {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": ""})
    assert "emails" not in result.data


def test_remove_without_path_is_no_target(user, users):
    rejects(user, users, body({"op": "remove", "value": {"active": False}}), "noTarget")


def test_remove_plain_attribute(user, users):
    assert "externalId" not in patch(user, users, {"op": "Remove", "path": "externalId"}).data


# ---- single and multi-valued semantics -----------------------------------------------------------------------

def test_add_on_single_valued_replaces(user, users):
    assert patch(user, users, {"op": "add", "path": "userName", "value": "b@x.com"}).data["userName"] == "b@x.com"


def test_add_on_multi_valued_appends_without_duplicates(user, users):
    result = patch(user, users, {"op": "add", "path": "emails", "value": [
        {"value": "ann@x.com", "type": "work", "primary": True}, {"value": "a@home", "type": "home"}]})
    assert result.data["emails"] == [{"value": "ann@x.com", "type": "work", "primary": True},
                                     {"value": "a@home", "type": "home"}]


def test_add_new_primary_demotes_the_old_one(user, users):
    result = patch(user, users, {"op": "add", "path": "emails",
                                 "value": [{"value": "a@home", "type": "home", "primary": "True"}]})
    assert [e.get("primary") for e in result.data["emails"]] == [False, True]


def test_replace_on_multi_valued_replaces_the_list(user, users):
    result = patch(user, users, {"op": "replace", "path": "emails", "value": [{"value": "z@x", "type": "work"}]})
    assert result.data["emails"] == [{"value": "z@x", "type": "work"}]


def test_replace_complex_merges_sub_attributes(user, users):
    result = patch(user, users, {"op": "replace", "path": "name", "value": {"givenName": "Anna", "middleName": ""}})
    assert result.data["name"] == {"givenName": "Anna", "familyName": "Lee"}


def test_type_mismatch_is_invalid_value(user, users):
    rejects(user, users, body({"op": "replace", "path": "userName", "value": 7}), "invalidValue")


def test_add_without_value_is_invalid_value(user, users):
    rejects(user, users, body({"op": "add", "path": "userName"}), "invalidValue")


# ---- path-less operations ------------------------------------------------------------------------------------

def test_aadopt_pathless_replace_with_dotted_and_urn_keys(user, enterprise_users):
    result = patch(user, enterprise_users, {"op": "replace", "value": {
        "displayName": "Bjfe", "name.givenName": "Kkom", "name.familyName": "Unua",
        f"{ENTERPRISE_USER}:employeeNumber": "Aklq",
        "urn:ietf:params:scim:schemas:core:2.0:User:userName": "kkom@x.com"}})
    assert result.data["name"] == {"givenName": "Kkom", "familyName": "Unua"}
    assert result.data["userName"] == "kkom@x.com"
    assert result.data[ENTERPRISE_USER] == {"employeeNumber": "Aklq"}
    assert result.dropped == ["displayName"]


def test_aadopt_pathless_replace_active_and_username(user, users):
    result = patch(user, users, {"op": "replace", "value": {"active": False, "userName": "someone"}})
    assert (result.data["active"], result.data["userName"]) == (False, "someone")


def test_okta_pathless_replace_active_false(user, users):
    result = patch(user, users, {"op": "replace", "value": {"active": False}})
    assert result.data == {**user, "active": False} and result.changed


def test_okta_group_touch_with_own_id_and_display_name(group, groups):
    result = patch(group, groups, {"op": "replace", "value": {"id": "g1", "displayName": "Engineering"}})
    assert result.data == group and not result.changed and result.dropped == []


def test_okta_group_rename_pathless(group, groups):
    result = patch(group, groups, {"op": "replace", "value": {"id": "g1", "displayName": "Eng"}})
    assert result.data["displayName"] == "Eng"


def test_pathless_different_id_is_mutability(group, groups):
    rejects(group, groups, body({"op": "replace", "value": {"id": "other", "displayName": "x"}}), "mutability")


def test_pathless_nested_extension_object(user, enterprise_users):
    result = patch(user, enterprise_users, {"op": "add", "value": {ENTERPRISE_USER: {"department": "Ops"}}})
    assert result.data[ENTERPRISE_USER] == {"department": "Ops"}


def test_pathless_value_must_be_object(user, users):
    rejects(user, users, body({"op": "replace", "value": "x"}), "invalidValue")


# ---- enterprise manager --------------------------------------------------------------------------------------

def test_entra_historic_manager_add_with_ref_list(user, enterprise_users):
    result = patch(user, enterprise_users, {"op": "Add", "path": "manager", "value": [
        {"$ref": "http://x/scim/Users/2819c223", "value": "2819c223"}]})
    assert result.data[ENTERPRISE_USER] == {"manager": {"value": "2819c223"}}


@pytest.mark.parametrize("value", ["2c2f6fb8", {"value": "2c2f6fb8"}])
def test_entra_manager_urn_path_raw_string_or_object(user, enterprise_users, value):
    result = patch(user, enterprise_users, {"op": "add", "path": MANAGER, "value": value})
    assert result.data[ENTERPRISE_USER] == {"manager": {"value": "2c2f6fb8"}}


def test_manager_replace_changes_the_id(user, enterprise_users):
    resource = {**user, ENTERPRISE_USER: {"manager": {"value": "m1"}, "department": "D"}}
    result = patch(resource, enterprise_users, {"op": "Replace", "path": MANAGER, "value": "m2"})
    assert result.data[ENTERPRISE_USER] == {"manager": {"value": "m2"}, "department": "D"}


@pytest.mark.parametrize("operation", [{"op": "remove", "path": MANAGER},
                                       {"op": "Replace", "path": MANAGER, "value": ""}])
def test_manager_removal(user, enterprise_users, operation):
    resource = {**user, ENTERPRISE_USER: {"manager": {"value": "m1"}}}
    result = patch(resource, enterprise_users, operation)
    assert ENTERPRISE_USER not in result.data


def test_manager_dropped_under_seed_contract(user, users):
    result = patch(user, users, {"op": "add", "path": MANAGER, "value": "m1"})
    assert result.data == user and result.dropped == [MANAGER]


def test_manager_display_name_is_read_only(user, enterprise_users):
    rejects(user, enterprise_users, body({"op": "replace", "path": f"{MANAGER}.displayName", "value": "B"}),
            "mutability")


# ---- group members -------------------------------------------------------------------------------------------

def test_entra_add_several_members_in_one_op(group, groups):
    result = patch(group, groups, {"op": "Add", "path": "members", "value": [
        {"$ref": None, "value": "u1"}, {"value": "u2"}, {"value": "u1"}]})
    assert result.member_ops == [AddMembers(({"value": "u1"}, {"value": "u2"}))]
    assert result.data == group and result.changed


def test_entra_remove_member_with_value_array_removes_only_those(group, groups):
    result = patch(group, groups, {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": "u1"}]})
    assert result.member_ops == [RemoveMembers(("u1",))]


def test_remove_members_with_empty_value_array_removes_nobody(group, groups):
    assert patch(group, groups, {"op": "Remove", "path": "members", "value": []}).member_ops == []


def test_remove_members_by_other_filters_keeps_the_filter(group, groups):
    result = patch(group, groups, {"op": "remove", "path": "members[type eq \"Group\"]"})
    assert [type(op) for op in result.member_ops] == [RemoveMatchingMembers]


def test_aadopt_and_okta_remove_member_by_filter(group, groups):
    result = patch(group, groups, {"op": "remove", "path": "members[value eq \"7f4bc1a3\"]"})
    assert result.member_ops == [RemoveMembers(("7f4bc1a3",))]


def test_remove_members_without_value_removes_all(group, groups):
    assert patch(group, groups, {"op": "remove", "path": "members"}).member_ops == [RemoveAllMembers()]


def test_okta_push_now_replace_members(group, groups):
    result = patch(group, groups, {"op": "replace", "path": "members", "value": [
        {"value": "u1", "display": "a@x"}, {"value": "u2", "display": "b@x"}]})
    assert result.member_ops == [RemoveAllMembers(), AddMembers(({"value": "u1"}, {"value": "u2"}))]


def test_replace_members_with_empty_list_clears(group, groups):
    assert patch(group, groups, {"op": "replace", "path": "members", "value": []}).member_ops == [RemoveAllMembers()]


def test_okta_membership_patch_keeps_operation_order(group, groups):
    result = patch(group, groups,
                   {"op": "remove", "path": "members[value eq \"u9\"]"},
                   {"op": "add", "path": "members", "value": [{"value": "u1", "display": "t@okta.local"}]})
    assert result.member_ops == [RemoveMembers(("u9",)), AddMembers(({"value": "u1"},))]


def test_members_as_plain_string_ids(group, groups):
    result = patch(group, groups, {"op": "add", "path": "members", "value": ["u1", "u2"]},
                   {"op": "remove", "path": "members", "value": "u3"})
    assert result.member_ops == [AddMembers(({"value": "u1"}, {"value": "u2"})), RemoveMembers(("u3",))]


def test_member_type_is_kept(group, groups):
    result = patch(group, groups, {"op": "add", "path": "members", "value": [{"value": "g2", "type": "Group"}]})
    assert result.member_ops == [AddMembers(({"value": "g2", "type": "Group"},))]


def test_pathless_members_value(group, groups):
    result = patch(group, groups, {"op": "add", "value": {"members": [{"value": "u1"}]}})
    assert result.member_ops == [AddMembers(({"value": "u1"},))]


def test_member_without_value_is_invalid_value(group, groups):
    rejects(group, groups, body({"op": "add", "path": "members", "value": [{"display": "x"}]}), "invalidValue")


def test_member_sub_attribute_is_immutable(group, groups):
    rejects(group, groups, body({"op": "replace", "path": "members[value eq \"u1\"].value", "value": "u2"}),
            "mutability")


def test_member_ids_referenced_lists_added_ids_once(group, groups):
    result = patch(group, groups, {"op": "replace", "path": "members", "value": ["u1", "u2"]},
                   {"op": "add", "path": "members", "value": ["u2", "u3"]},
                   {"op": "remove", "path": "members", "value": ["u4"]})
    assert member_ids_referenced(result.member_ops) == ["u1", "u2", "u3"]


# ---- mutability and atomicity --------------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["id", "meta", "meta.lastModified"])
def test_read_only_path_is_mutability(user, users, path):
    rejects(user, users, body({"op": "replace", "path": path, "value": "x"}), "mutability")


def test_all_or_nothing_input_untouched_on_error(user, users):
    rejects(user, users, body({"op": "replace", "path": "active", "value": False},
                              {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "z@x"},
                              {"op": "replace", "path": "id", "value": "u2"}), "mutability")


def test_success_does_not_mutate_input(user, users):
    before = copy.deepcopy(user)
    result = patch(user, users, {"op": "replace", "path": "emails[type eq \"work\"].value", "value": "z@x"},
                   {"op": "add", "path": "name.middleName", "value": "Q"})
    assert user == before and result.data != before


@pytest.mark.parametrize("operation", [{"op": "remove", "path": "userName"},
                                       {"op": "Replace", "path": "userName", "value": ""},
                                       {"op": "replace", "value": {"userName": None}}])
def test_removing_required_attribute_is_mutability(user, users, operation):
    rejects(user, users, body(operation), "mutability")


def test_replace_whole_matching_element_keeps_filter_attributes(user, users):
    result = patch(user, users, {"op": "replace", "path": "emails[type eq \"work\"]", "value": {"value": "z@x"}})
    assert result.data["emails"] == [{"value": "z@x", "type": "work", "primary": True}]


def test_filter_on_single_valued_attribute_is_invalid_path(user, users):
    rejects(user, users, body({"op": "replace", "path": "name[givenName eq \"Ann\"].familyName", "value": "X"}),
            "invalidPath")
