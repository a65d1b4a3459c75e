"""Primary-email policy and PUT's full-replace rules."""
import copy
from dataclasses import replace

import pytest

from server.contract import Policies
from server.scim.errors import ScimError
from server.scim.patch import apply_patch
from server.scim.rules import apply_put, check_primary_email_unchanged, primary_email
from server.scim.schema import ENTERPRISE_USER, Schema
from tests.schema_fixtures import contract, enterprise_users, groups, users  # noqa: F401  (fixtures)

POLICY_ON, POLICY_OFF = Policies(primary_email_immutable=True), Policies(primary_email_immutable=False)
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def emails(*elements):
    return {"userName": "a", "emails": list(elements)}


def refused(old, new, policies=POLICY_ON):
    with pytest.raises(ScimError) as caught:
        check_primary_email_unchanged(old, new, policies)
    assert (caught.value.status, caught.value.scim_type) == (400, "mutability")
    return caught.value.detail


# ---- primary_email -------------------------------------------------------------------------------------------

def test_primary_email_is_the_flagged_element():
    assert primary_email(emails({"value": "h@x", "type": "home"}, {"value": "p@x", "primary": True})) == "p@x"


def test_primary_email_falls_back_to_first_work_email():
    assert primary_email(emails({"value": "h@x", "type": "home"}, {"value": "w@x", "type": "Work"})) == "w@x"


def test_primary_email_falls_back_to_first_email():
    assert primary_email(emails({"value": "h@x", "type": "home"}, {"value": "o@x"})) == "h@x"


def test_primary_email_none_without_emails():
    assert primary_email({"userName": "a"}) is None


# ---- check_primary_email_unchanged ---------------------------------------------------------------------------

def test_changed_primary_email_is_refused_with_reason():
    detail = refused(emails({"value": "a@x", "primary": True}), emails({"value": "b@x", "primary": True}))
    assert detail == ("The primary email address cannot be changed through SCIM (was 'a@x', request would make it "
                      "'b@x'). Change it in the workspace instead.")


def test_removed_primary_email_is_refused():
    assert "request would remove it" in refused(emails({"value": "a@x", "primary": True}), {"userName": "a"})


def test_other_element_marked_primary_is_refused():
    old = emails({"value": "a@x", "type": "work", "primary": True}, {"value": "h@x", "type": "home"})
    new = emails({"value": "a@x", "type": "work", "primary": False}, {"value": "h@x", "type": "home", "primary": True})
    assert "'h@x'" in refused(old, new)


def test_same_primary_in_other_case_is_not_a_change():
    check_primary_email_unchanged(emails({"value": "Ann@X.com", "primary": True}),
                                  emails({"value": "ann@x.COM", "primary": True}), POLICY_ON)


def test_secondary_emails_may_change():
    old = emails({"value": "a@x", "primary": True}, {"value": "h@x", "type": "home"})
    check_primary_email_unchanged(old, emails({"value": "a@x", "primary": True}, {"value": "z@x", "type": "home"}),
                                  POLICY_ON)


def test_first_primary_email_may_be_set():
    check_primary_email_unchanged({"userName": "a"}, emails({"value": "a@x", "primary": True}), POLICY_ON)


def test_policy_off_allows_change():
    check_primary_email_unchanged(emails({"value": "a@x", "primary": True}), emails({"value": "b@x"}), POLICY_OFF)


def test_seed_contract_has_the_policy_on(contract):
    assert contract.policies.primary_email_immutable


def test_entra_work_email_patch_then_check_refuses(users, contract):
    old = {"userName": "a", "emails": [{"value": "a@x", "type": "work", "primary": True}]}
    result = apply_patch(old, {"schemas": [PATCH_OP], "Operations": [
        {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "new@x"}]}, users)
    assert "'new@x'" in refused(old, result.data, contract.policies)


# ---- apply_put -----------------------------------------------------------------------------------------------

@pytest.fixture
def stored():
    return {"userName": "a@x", "externalId": "ext", "active": True, "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "a@x", "type": "work", "primary": True}]}


def test_put_clears_attributes_left_out(stored, users):
    out = apply_put(stored, {"userName": "a@x", "emails": [{"value": "a@x", "type": "work", "primary": True}]}, users)
    assert out.data == {"userName": "a@x", "emails": [{"value": "a@x", "type": "work", "primary": True}]}


def test_okta_deactivation_put_echoes_get_with_active_flipped(stored, users):
    echo = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": "u1",
            "meta": {"resourceType": "User", "location": "https://x/scim/v2/Users/u1"},
            **copy.deepcopy(stored), "active": False, "groups": [], "password": "1mz050nq"}
    out = apply_put(stored, echo, users)
    assert out.data == {**stored, "active": False}
    assert out.dropped == ["password"]


def test_onelogin_put_without_id(stored, users):
    out = apply_put(stored, {"userName": "a@x", "active": "false",
                             "emails": {"value": "a@x", "type": "work", "primary": True}}, users)
    assert out.data["active"] is False and out.data["emails"] == stored["emails"]


def test_put_id_in_body_is_ignored_even_when_different(stored, users):
    # RFC 7644 §3.5.1: readOnly values provided SHALL be ignored; the URL names the resource.
    assert "id" not in apply_put(stored, {"id": "other", "userName": "a@x"}, users).data


def test_put_still_requires_username(stored, users):
    with pytest.raises(ScimError) as caught:
        apply_put(stored, {"active": False}, users)
    assert caught.value.scim_type == "invalidValue"


def test_okta_group_put_with_full_member_list(groups):
    out = apply_put({"displayName": "G"}, {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                                           "id": "g1", "displayName": "G",
                                           "members": [{"value": "u1", "display": "a"}, {"value": "u2"}]}, groups)
    assert out.data == {"displayName": "G", "members": [{"value": "u1"}, {"value": "u2"}]}


@pytest.fixture
def badge_users(enterprise_users):
    """Enterprise users whose employeeNumber is immutable, to exercise §3.5.1's immutable rule."""
    enterprise = enterprise_users.extensions[0]
    frozen = tuple(replace(a, mutability="immutable") if a.name == "employeeNumber" else a
                   for a in enterprise.attributes)
    return replace(enterprise_users, extensions=(Schema(enterprise.id, enterprise.name, "", frozen),))


def test_put_changing_immutable_attribute_is_mutability(badge_users):
    old = {"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7"}}
    with pytest.raises(ScimError) as caught:
        apply_put(old, {"userName": "a", ENTERPRISE_USER: {"employeeNumber": "8"}}, badge_users)
    assert (caught.value.status, caught.value.scim_type) == (400, "mutability")
    assert old == {"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7"}}


def test_put_repeating_immutable_attribute_is_fine(badge_users):
    old = {"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7"}}
    assert apply_put(old, {"userName": "b", ENTERPRISE_USER: {"employeeNumber": "7"}}, badge_users).data == \
        {"userName": "b", ENTERPRISE_USER: {"employeeNumber": "7"}}


def test_put_omitting_immutable_attribute_keeps_it(badge_users):
    old = {"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7", "department": "D"}}
    assert apply_put(old, {"userName": "a"}, badge_users).data == \
        {"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7"}}


def test_put_setting_immutable_attribute_first_time_is_fine(badge_users):
    out = apply_put({"userName": "a"}, {"userName": "a", f"{ENTERPRISE_USER}:employeeNumber": "7"}, badge_users)
    assert out.data[ENTERPRISE_USER] == {"employeeNumber": "7"}


def test_patch_on_immutable_attribute_with_value_is_mutability(badge_users):
    old = {"userName": "a", ENTERPRISE_USER: {"employeeNumber": "7"}}
    with pytest.raises(ScimError) as caught:
        apply_patch(old, {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "path": f"{ENTERPRISE_USER}:employeeNumber", "value": "8"}]}, badge_users)
    assert caught.value.scim_type == "mutability"
