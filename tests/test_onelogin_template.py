"""OneLogin's SCIM JSON Template: shipped templates rendered per user, a user's own file, and every template error
reported when the app is configured, with line and placeholder, before a single request goes out."""
import json

import pytest

from harness.directory import Directory, DirectoryUser
from idp_profiles.onelogin import OneLoginProfile
from idp_profiles.onelogin.template import SHIPPED_TEMPLATES, TemplateError

BASE = "https://scim.example.test/scim/v2"
ZOE = "20000000-0000-4000-8000-000000000001"
BOSS = "20000000-0000-4000-8000-000000000002"


def directory() -> Directory:
    d = Directory()
    d.add_user(DirectoryUser(BOSS, "Aoife.Walsh@Contoso.com", "Aoife.Walsh", "Aoife", "Walsh", "Aoife Walsh",
                             "aoife.walsh@contoso.com"))
    d.add_user(DirectoryUser(ZOE, "Zoe.OBrien@Contoso.onmicrosoft.com", "Zoe.OBrien", "Zoë", "O'Brien",
                             "Zoë O'Brien", "zoe.obrien+scim@contoso.com", 'Engineer "Platform" \\ Ops',
                             "R&D", "40123", manager_id=BOSS))
    return d


def configure(rsps, **settings) -> OneLoginProfile:
    return OneLoginProfile.configure(directory(), BASE, "tok", settings)


def zoe_body(profile: OneLoginProfile) -> dict:
    return profile.user_body(profile.directory.users[ZOE])


def test_the_shipped_templates(rsps):
    assert SHIPPED_TEMPLATES == ("core-2.0", "enterprise-1.1", "enterprise-2.0")


def test_core_2_0_renders_the_body_linkyard_captured(rsps):
    assert zoe_body(configure(rsps)) == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": "Zoe.OBrien@Contoso.onmicrosoft.com",
        "name": {"givenName": "Zoë", "familyName": "O'Brien"},
        "emails": [{"primary": True, "type": "work", "value": "zoe.obrien+scim@contoso.com"}],
        "active": True}


def test_enterprise_2_0_escapes_quotes_and_backslashes(rsps):
    body = zoe_body(configure(rsps, template="enterprise-2.0"))
    assert body["title"] == 'Engineer "Platform" \\ Ops'
    assert body["name"] == {"givenName": "Zoë", "familyName": "O'Brien", "formatted": "Zoë O'Brien"}
    assert body["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {
        "department": "R&D", "manager": {"value": BOSS}}


def test_enterprise_1_1_sends_emails_as_an_object(rsps):
    body = zoe_body(configure(rsps, template="enterprise-1.1", parameters={
        "scimusername": "{email}", "title": "{title}", "department": "{department}",
        "external_manager_id": "{manager_id}"}))
    assert body["schemas"] == ["urn:scim:schemas:core:1.0", "urn:scim:schemas:extension:enterprise:1.0"]
    assert body["userName"] == "zoe.obrien+scim@contoso.com"
    assert body["emails"] == {"value": "zoe.obrien+scim@contoso.com", "type": "work", "primary": True}
    assert body["urn:scim:schemas:extension:enterprise:1.0"]["manager"] == {
        "managerId": BOSS, "displayName": "Aoife Walsh"}


def test_a_users_own_template_file_with_custom_parameters_and_fields(rsps, tmp_path):
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": None,
        "userName": "{$parameters.scimusername}", "nickName": "{$parameters.handle}",
        "employeeNumber": "{$user.custom_fields.employee_number}", "active": "{$user.active}",
        "phoneNumbers": [{"value": "{$user.phone}", "type": "work"}], "meta": {"resourceType": "User"}}, indent=2))
    profile = configure(rsps, template=str(path), custom_fields={"employee_number": "employee_id"},
                        parameters={"scimusername": "{firstname}.{lastname}", "handle": "{username}"})
    assert zoe_body(profile) == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "id": None, "userName": "Zoë.O'Brien",
        "nickName": "Zoe.OBrien@Contoso.onmicrosoft.com", "employeeNumber": "40123",
        "active": "true",                                    # in quotes, the template sends a string
        "phoneNumbers": [{"value": "", "type": "work"}],     # a field the directory lacks renders empty
        "meta": {"resourceType": "User"}}


def test_inline_template_with_a_bare_active_placeholder(rsps):
    profile = configure(rsps, template='{"userName": "{$user.username}", "active": {$user.active}}')
    assert zoe_body(profile) == {"userName": "Zoe.OBrien@Contoso.onmicrosoft.com", "active": True}


# -- errors found up front ----------------------------------------------------------------------------------------
def template_error(rsps, **settings) -> TemplateError:
    with pytest.raises(TemplateError) as caught:
        configure(rsps, **settings)
    assert len(rsps.calls) == 0                  # nothing reached the server
    return caught.value


def test_unknown_placeholders_are_listed_with_their_lines(rsps):
    error = template_error(rsps, template='{\n  "userName": "{$parameters.scimusername}",\n'
                                         '  "userType": "{$parameters.userType}",\n'
                                         '  "nickName": "{$user.nickname}"\n}')
    assert [(p.line, p.placeholder) for p in error.problems] == [(3, "parameters.userType"), (4, "user.nickname")]
    assert str(error) == (
        "SCIM JSON Template (inline) is invalid:\n"
        "  line 3: unknown placeholder {$parameters.userType}: no parameter 'userType' on the Parameters tab "
        "(defined: department, external_manager_id, scimusername, title)\n"
        "  line 4: unknown placeholder {$user.nickname}: OneLogin has no user field 'nickname'")


def test_unknown_custom_field_and_bad_prefix(rsps):
    error = template_error(rsps, template='{"a": "{$user.custom_fields.cost_centre}", "b": "{$firstname}"}')
    assert [p.message for p in error.problems] == [
        "unknown placeholder {$user.custom_fields.cost_centre}: no custom user field 'cost_centre'",
        "unknown placeholder {$firstname}: placeholders start with $user. or $parameters."]


def test_a_placeholder_outside_a_json_string_breaks_on_o_brien(rsps):
    error = template_error(rsps, template='{\n  "userName": "{$parameters.scimusername}",\n'
                                         '  "name": {"familyName": {$user.lastname}}\n}')
    [problem] = error.problems
    assert (problem.line, problem.placeholder) == (3, "user.lastname")
    assert "stands outside a JSON string" in problem.message and "O'Brien" in problem.message


def test_bad_json_reports_its_line(rsps):
    error = template_error(rsps, template='{\n  "userName": "{$parameters.scimusername}",\n}')
    [problem] = error.problems
    assert problem.line == 3 and problem.placeholder is None
    assert problem.message.startswith("not valid JSON after rendering: Expecting property name")


def test_a_template_that_is_not_an_object(rsps, tmp_path):
    path = tmp_path / "list.json"
    path.write_text('[{"userName": "{$user.email}"}]')
    assert [str(p) for p in template_error(rsps, template=str(path)).problems] == [
        "line 1: renders to a JSON list, not an object"]


def test_a_missing_template_file(rsps, tmp_path):
    error = template_error(rsps, template=str(tmp_path / "nope.json"))
    assert "no shipped template and no file named" in str(error) and "core-2.0" in str(error)


def test_parameter_macros_and_settings_are_checked_up_front(rsps):
    with pytest.raises(ValueError, match=r"parameter 'scimusername' uses unknown field \{mail\}"):
        configure(rsps, parameters={"scimusername": "{mail}"})
    with pytest.raises(ValueError, match="custom field 'x' reads 'cost_centre'"):
        configure(rsps, custom_fields={"x": "cost_centre"})
    with pytest.raises(ValueError, match="deprovision_action must be one of delete, suspend, nothing"):
        configure(rsps, deprovision_action="remove")
    with pytest.raises(ValueError, match="update_verb must be PUT or PATCH"):
        configure(rsps, update_verb="POST")
    with pytest.raises(ValueError, match="not a valid regex"):
        configure(rsps, rules=[{"roles_matching": "("}])
    with pytest.raises(ValueError, match="OneLogin has no setting"):
        configure(rsps, scim_username="x")
    assert len(rsps.calls) == 0
