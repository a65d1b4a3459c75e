"""The OneLogin scenarios (harness/scenarios/onelogin-*.toml) run by the scheduler end to end against the embedded
server and scim2-server."""
import tomllib
from pathlib import Path

import pytest

from harness.sample_org import generate_org
from harness.scenario_files import load_scenario
from harness.simulate import Target, run_simulation
from harness.transport import ScimClient
from harness.verifier import verify_groups
from idp_profiles.onelogin import OneLoginProfile

SCENARIOS = Path(__file__).resolve().parent.parent / "harness" / "scenarios"


def replay(name: str, base_url: str, token: str):
    """Run the shipped scenario; returns the OneLogin profile and the final verification's findings."""
    run = run_simulation(load_scenario(name), Target(base_url, lambda workspace: token))
    [idp] = run.idps
    return idp.profile, idp.verification.findings


def statuses(profile: OneLoginProfile) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in profile.admin_view():
        counts[row.status] = counts.get(row.status, 0) + 1
    return counts


@pytest.fixture(params=["embedded", "scim2-server"])
def target(request):
    if request.param == "embedded":
        return request.getfixturevalue("live_server").base_url, request.getfixturevalue("live_server").token
    return request.getfixturevalue("scim2_target")


def test_every_scenario_file_uses_only_known_settings():
    for path in SCENARIOS.glob("onelogin-*.toml"):
        scenario = tomllib.loads(path.read_text(encoding="utf-8"))
        assert scenario["name"] == path.stem
        assert set(scenario["idp"][0]["settings"]) <= set(OneLoginProfile.default_settings)


def test_onelogin_delete(target):
    profile, findings = replay("onelogin-delete", *target)
    assert findings == []
    deletes = [e for e in profile.trace if e.method == "DELETE"]
    assert [e.status for e in deletes] == [204, 204]                 # lost access and hard delete, once approved
    assert not profile.pending
    assert statuses(profile) == {"Provisioned": 9, "Suspended": 1, "Deleted": 2}
    rename = next(e for e in profile.trace if e.method == "PUT" and "Súilleabháin" in str(e.request_body))
    assert "id" not in rename.request_body and rename.status == 200


def test_onelogin_suspend(target):
    profile, findings = replay("onelogin-suspend", *target)
    assert findings == []
    assert not any(e.method == "DELETE" for e in profile.trace)
    inactive_puts = [e for e in profile.trace if e.method == "PUT" and e.request_body.get("active") is False]
    assert len(inactive_puts) == 3 and all(e.status == 200 for e in inactive_puts)
    assert statuses(profile) == {"Provisioned": 10, "Suspended": 2}


def test_onelogin_roles_on_the_embedded_server(live_server):
    profile, findings = replay("onelogin-roles", live_server.base_url, live_server.token)
    assert findings == []
    assert [b["displayName"] for b in (e.request_body for e in profile.trace if e.method == "POST"
                                       and e.path == "/Groups")] == ["Engineering", "Sales"]
    removes = [e for e in profile.trace if e.method == "PATCH"
               and e.request_body["Operations"][0]["op"] == "remove"]
    assert len(removes) == 2 and all(e.status == 200 for e in removes)      # Sales role removed; deleted user
    assert profile.entitlements == ["Engineering", "Sales"]
    assert not any(e.method == "DELETE" and e.path.startswith("/Groups") for e in profile.trace)
    assert statuses(profile) == {"Provisioned": 11, "Deleted": 1}


def test_onelogin_roles_on_scim2_server_refuses_remove_with_a_value_array(scim2_target):
    """scim2-server answers 400 to OneLogin's {"op": "remove", "path": "members", "value": [...]}: the user keeps
    the Sales group, and the deleted user's DELETE is never sent because leaving its group failed first."""
    profile, findings = replay("onelogin-roles", *scim2_target)
    removes = [e for e in profile.trace if e.method == "PATCH"
               and e.request_body["Operations"][0]["op"] == "remove"]
    assert [e.status for e in removes] == [400, 400]
    assert removes[0].response_body["detail"] == \
        "a remove operation carries no value, a filter in the path selects what to remove"
    assert not any(e.method == "DELETE" for e in profile.trace)
    reason = "PATCH answered 400: a remove operation carries no value, a filter in the path selects what to remove"
    assert [(r.status, r.last_action, r.groups, r.reason) for r in profile.admin_view() if r.status != "Provisioned"
            ] == [("Failed", "group-remove", ("Engineering", "Sales"), reason),
                  ("Failed", "delete", ("Engineering",), reason)]
    assert statuses(profile) == {"Provisioned": 10, "Failed": 2}
    assert sorted((f.kind, f.message) for f in findings) == [
        ("membership", "still a member of group 'Engineering'"),      # the deleted user
        ("membership", "still a member of group 'Sales'"),            # the user whose Sales role was removed
        ("unexpected", "deleted in the directory but still present in the target")]


def test_joined_roles_misconfiguration_in_a_real_target(target):
    """Groups parameter not multi-value: the target ends up with a group literally named "Engineering,Sales"."""
    base, token = target
    directory = generate_org(users=3, groups=1, seed=1)
    first, second, _ = directory.users
    directory.add_role(first, "Engineering")
    directory.add_role(first, "Sales")
    directory.add_role(second, "Engineering")
    profile = OneLoginProfile.configure(directory, base, token, {
        "groups_include_in_provisioning": True, "groups_multi_value": False, "rules": [{"roles_matching": ".*"}]})
    profile.run_cycle()
    assert [e.request_body["displayName"] for e in profile.trace if (e.method, e.path) == ("POST", "/Groups")] == [
        "Engineering,Sales", "Engineering"]
    assert profile.configuration_warnings() == [
        "the Groups parameter is not multi-value: users with several groups get one group named by the values "
        "joined with ',' (here: 'Engineering,Sales')"]
    client = ScimClient(base, token)
    listing = client.get("/Groups", params={"count": "100", "startIndex": "1"}).response_body
    members = {g["displayName"]: [m["value"] for m in g.get("members") or []]
               for g in (client.get(f"/Groups/{g['id']}").response_body for g in listing["Resources"])}
    assert members == {"Engineering,Sales": [profile.links[first]], "Engineering": [profile.links[second]]}
    groups = verify_groups(client, profile.expected_groups(), profile.trace)
    assert groups.findings == [] and groups.checked_attributes == 8      # 2 groups × (displayName + 3 judged users)


def test_the_v1_1_template_with_an_emails_object(target, request):
    """The embedded server accepts `emails` as an object (OneLogin quirk 1); scim2-server refuses it with 400."""
    directory = generate_org(users=2, groups=1, seed=2)
    profile = OneLoginProfile.configure(directory, *target, {"template": "enterprise-1.1"})
    profile.run_cycle()
    posts = [e for e in profile.trace if e.method == "POST"]
    assert all(isinstance(e.request_body["emails"], dict) for e in posts)
    if request.node.callspec.params["target"] == "embedded":
        assert [e.status for e in posts] == [201, 201] and {r.status for r in profile.admin_view()} == {"Provisioned"}
        assert all(isinstance(e.response_body["emails"], list) for e in posts)
    else:
        assert [e.status for e in posts] == [400, 400]
        assert {(r.status, r.reason) for r in profile.admin_view()} == {
            ("Failed", "POST answered 400: Input should be a valid array: emails")}
