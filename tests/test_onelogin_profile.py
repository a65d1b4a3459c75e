"""OneLogin's requests for each setting, asserted exactly against a pretend target (`responses`): API connection,
lookup + POST, PUT without id, deprovision and suspension actions, approvals, groups from roles, failures."""
import json
import re

import pytest
import responses

from harness.directory import Directory, DirectoryUser
from idp_profiles.onelogin import OneLoginProfile
from tests.fake_scim import FakeScimTarget

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PROBE = "/Users?filter=userName+eq+%22never-existing-user%22"

ZOE = "30000000-0000-4000-8000-000000000001"
LI = "30000000-0000-4000-8000-000000000002"
OFF = "30000000-0000-4000-8000-000000000003"
OUT = "30000000-0000-4000-8000-000000000004"
ZOE_NAME, LI_NAME = "Zoe.OBrien@Contoso.onmicrosoft.com", "Wei.Li@Contoso.com"


def directory() -> Directory:
    d = Directory()
    d.add_user(DirectoryUser(ZOE, ZOE_NAME, "Zoe.OBrien", "Zoë", "O'Brien", "Zoë O'Brien",
                             "zoe.obrien+scim@contoso.com", roles=["Engineering", "Sales", "Admins"]))
    d.add_user(DirectoryUser(LI, LI_NAME, "Wei.Li", "伟", "李", "李伟", "wei.li@contoso.com"))
    d.add_user(DirectoryUser(OFF, "Anna.Smirnova@Contoso.com", "Anna.Smirnova", "Анна", "Смирнова",
                             "Анна Смирнова", "anna.smirnova@contoso.com"))
    d.add_user(DirectoryUser(OUT, "Priya.Patel@Contoso.com", "Priya.Patel", "Priya", "Patel", "Priya Patel"))
    for object_id in (ZOE, LI, OFF):
        d.assign(object_id)
    d.disable_user(OFF)                  # suspended before provisioning: never created
    return d                             # OUT has no app access


def body_of(upn: str, given: str, family: str, mail: str, active: bool = True) -> dict:
    return {"schemas": [CORE], "userName": upn, "name": {"givenName": given, "familyName": family},
            "emails": [{"primary": True, "type": "work", "value": mail}], "active": active}


ZOE_BODY = body_of(ZOE_NAME, "Zoë", "O'Brien", "zoe.obrien+scim@contoso.com")
LI_BODY = body_of(LI_NAME, "伟", "李", "wei.li@contoso.com")


class GroupsTarget:
    """/Groups on the pretend target, seeded with known groups (the fake pages listings by count)."""

    def __init__(self, fake: FakeScimTarget, rsps, existing: dict[str, str] | None = None) -> None:
        self.fake = fake
        fake.groups.update({gid: {"id": gid, "displayName": name, "members": []}
                            for name, gid in (existing or {}).items()})

    def members(self, name: str) -> list[str]:
        return next([m["value"] for m in g.get("members", [])] for g in self.fake.groups.values()
                    if g["displayName"] == name)


def install_put(fake: FakeScimTarget, rsps) -> FakeScimTarget:
    """The fake target has no PUT: replace the stored user, keeping its id, as a SCIM server does."""
    def put(request):
        user_id = request.path_url.rsplit("/", 1)[1]
        if user_id not in fake.users:
            return 404, {}, json.dumps({"status": "404", "detail": "Resource not found"})
        fake.users[user_id] = {**json.loads(request.body), "id": user_id, "meta": {"resourceType": "User"}}
        return 200, {"Content-Type": "application/scim+json"}, json.dumps(fake.users[user_id])
    rsps.add_callback(responses.PUT, re.compile(re.escape(fake.base_url) + r"/Users/[^/?]+$"), callback=put)
    return fake


@pytest.fixture
def target(fake, rsps) -> FakeScimTarget:
    return install_put(fake, rsps)


def onelogin(target, d=None, **settings) -> OneLoginProfile:
    return OneLoginProfile.configure(d or directory(), target.base_url, target.token, settings)


def sent(profile: OneLoginProfile, since: int = 0) -> list[tuple]:
    return [(e.method, e.path, e.request_body) for e in profile.trace[since:]]


def provisioned(target, **settings) -> tuple[OneLoginProfile, Directory]:
    d = directory()
    profile = onelogin(target, d, **settings)
    profile.run_cycle()
    return profile, d


# -- API connection ---------------------------------------------------------------------------------------------
def test_enable_api_connection_is_one_lookup_of_a_name_that_does_not_exist(target, rsps):
    profile = onelogin(target)
    result = profile.test_connection()
    assert result.ok and result.message == "API connection enabled"
    assert sent(profile) == [("GET", PROBE, None)]
    assert rsps.calls[0].request.headers["Authorization"] == "Bearer secret"


def test_a_404_to_the_lookup_also_enables_the_connection(rsps):
    target = FakeScimTarget(probe_status=404).install(rsps)
    result = onelogin(target).test_connection()
    assert result.ok and "404" in result.message


def test_rejected_token_and_a_lookup_that_finds_someone(target, rsps):
    result = OneLoginProfile.configure(directory(), target.base_url, "wrong").test_connection()
    assert not result.ok and result.credentials_rejected and result.error_code == "HTTP 401"
    target.add_user({"userName": "never-existing-user"})
    result = onelogin(target).test_connection()
    assert not result.ok and "did not answer an empty list" in result.message


def test_the_connection_test_username_is_a_setting(target):
    profile = onelogin(target, connection_test_username="onelogin-probe@example.invalid")
    profile.test_connection()
    assert profile.trace[0].path == "/Users?filter=userName+eq+%22onelogin-probe%40example.invalid%22"


def test_api_connection_and_provisioning_switches(target):
    profile = onelogin(target, provisioning=False)
    assert profile.run_cycle().aborted == "Enable provisioning is off: OneLogin sends nothing"
    profile = onelogin(target, api_connection=False)
    assert profile.run_cycle().aborted == "API Connection is not enabled"
    assert profile.trace == [] and target.users == {}


# -- users --------------------------------------------------------------------------------------------------------
def test_initial_push_is_lookup_then_post_of_the_rendered_template(target, rsps):
    profile, _ = provisioned(target)
    assert sent(profile) == [
        ("GET", PROBE, None),
        ("GET", "/Users?filter=userName+eq+%22Zoe.OBrien%40Contoso.onmicrosoft.com%22", None),
        ("POST", "/Users", ZOE_BODY),
        ("GET", "/Users?filter=userName+eq+%22Wei.Li%40Contoso.com%22", None),
        ("POST", "/Users", LI_BODY),
    ]
    report = profile.cycles[-1]
    assert (report.created, report.skipped) == ([ZOE, LI], [OFF, OUT])
    post = rsps.calls[2].request
    assert post.headers["Content-Type"] == "application/json"          # not scim+json unless a custom header
    assert json.loads(post.body) == ZOE_BODY
    assert [(r.label, r.status) for r in profile.admin_view()] == [(LI_NAME, "Provisioned"), (ZOE_NAME, "Provisioned")]


def test_custom_headers_go_with_every_request(target, rsps):
    profile = onelogin(target, custom_headers={"Content-Type": "application/scim+json", "User-Agent": "OneLogin SCIM"})
    profile.run_cycle()
    assert {(c.request.headers["Content-Type"], c.request.headers["User-Agent"]) for c in rsps.calls} == {
        ("application/scim+json", "OneLogin SCIM")}
    assert profile.trace[2].request_headers["User-Agent"] == "OneLogin SCIM"


def test_an_existing_user_is_linked_and_updated_with_put(target):
    existing = target.add_user({"userName": ZOE_NAME, "active": False})
    d = directory()
    d.unassign(LI)
    profile = onelogin(target, d)
    report = profile.run_cycle()
    assert sent(profile)[1:] == [
        ("GET", "/Users?filter=userName+eq+%22Zoe.OBrien%40Contoso.onmicrosoft.com%22", None),
        ("PUT", f"/Users/{existing['id']}", ZOE_BODY)]
    assert report.matched == [ZOE] and report.updated == [ZOE] and target.users[existing["id"]]["active"] is True


def test_update_is_a_put_of_the_full_template_without_id(target):
    profile, d = provisioned(target)
    before = len(profile.trace)
    d.update_user(ZOE, surname="Ó Súilleabháin", user_principal_name="Zoe.OSuilleabhain@Contoso.onmicrosoft.com")
    profile.run_cycle()
    zoe_id = profile.links[ZOE]
    assert sent(profile, before) == [("PUT", f"/Users/{zoe_id}", body_of(
        "Zoe.OSuilleabhain@Contoso.onmicrosoft.com", "Zoë", "Ó Súilleabháin", "zoe.obrien+scim@contoso.com"))]
    assert "id" not in profile.trace[-1].request_body
    assert target.users[zoe_id]["name"]["familyName"] == "Ó Súilleabháin"


def test_update_verb_patch_sends_one_replace_of_the_template_values(live_server):
    d = directory()
    profile = OneLoginProfile.configure(d, live_server.base_url, live_server.token, {"update_verb": "PATCH"})
    profile.run_cycle()
    before = len(profile.trace)
    d.update_user(LI, given_name="Wei")
    profile.run_cycle()
    [(method, path, body)] = sent(profile, before)
    assert (method, path) == ("PATCH", f"/Users/{profile.links[LI]}")
    assert body == {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {
        "userName": LI_NAME, "name": {"givenName": "Wei", "familyName": "李"},
        "emails": [{"primary": True, "type": "work", "value": "wei.li@contoso.com"}], "active": True}}]}
    assert profile.trace[-1].status == 200 and profile.trace[-1].response_body["name"]["givenName"] == "Wei"


# -- deprovisioning and suspension ----------------------------------------------------------------------------------
def test_deprovision_delete_sends_delete_for_deletion_and_for_lost_access(target):
    profile, d = provisioned(target)
    zoe_id, li_id = profile.links[ZOE], profile.links[LI]
    before = len(profile.trace)
    d.hard_delete_user(ZOE)
    d.unassign(LI)
    report = profile.run_cycle()
    assert sent(profile, before) == [("DELETE", f"/Users/{zoe_id}", None), ("DELETE", f"/Users/{li_id}", None)]
    assert report.deleted == [ZOE, LI] and target.users == {}
    assert [r.status for r in profile.admin_view()] == ["Deleted", "Deleted"]


def test_deprovision_suspend_puts_active_false_and_relinks_on_new_access(target):
    profile, d = provisioned(target, deprovision_action="suspend")
    li_id = profile.links[LI]
    before = len(profile.trace)
    d.unassign(LI)
    profile.run_cycle()
    assert sent(profile, before) == [("PUT", f"/Users/{li_id}", {**LI_BODY, "active": False})]
    assert target.users[li_id]["active"] is False and LI not in profile.links
    before = len(profile.trace)
    d.assign(LI)
    profile.run_cycle()
    assert sent(profile, before) == [("GET", "/Users?filter=userName+eq+%22Wei.Li%40Contoso.com%22", None),
                                     ("PUT", f"/Users/{li_id}", LI_BODY)]
    assert target.users[li_id]["active"] is True


def test_deprovision_do_nothing_sends_nothing(target):
    profile, d = provisioned(target, deprovision_action="nothing")
    before = len(profile.trace)
    d.hard_delete_user(ZOE)
    profile.run_cycle()
    assert sent(profile, before) == [] and len(target.users) == 2 and ZOE not in profile.links
    row = next(r for r in profile.admin_view() if r.object_id == ZOE)
    assert (row.status, row.reason) == ("Not provisioned", "app access removed; the action is Do nothing")


def test_suspended_user_is_suspended_then_reactivated(target):
    profile, d = provisioned(target)
    zoe_id = profile.links[ZOE]
    before = len(profile.trace)
    d.disable_user(ZOE)
    profile.run_cycle()
    d.enable_user(ZOE)
    profile.run_cycle()
    assert sent(profile, before) == [("PUT", f"/Users/{zoe_id}", {**ZOE_BODY, "active": False}),
                                     ("PUT", f"/Users/{zoe_id}", ZOE_BODY)]


def test_suspended_user_with_do_nothing(target):
    profile, d = provisioned(target, suspended_action="nothing")
    before = len(profile.trace)
    d.disable_user(ZOE)
    profile.run_cycle()
    assert sent(profile, before) == [] and target.users[profile.links[ZOE]]["active"] is True
    assert [e.presence for e in profile.expected_users() if e.object_id == ZOE] == ["present"]


# -- admin approval -----------------------------------------------------------------------------------------------
def test_create_waits_pending_until_approved(target):
    d = directory()
    profile = onelogin(target, d, require_approval=["create"])
    profile.run_cycle()
    assert sent(profile) == [("GET", PROBE, None)] and target.users == {}
    assert [(r.status, r.reason) for r in profile.admin_view()] == [
        ("Pending", "waiting for admin approval (create user)")] * 2
    assert {e.object_id: e.presence for e in profile.expected_users()} == {ZOE: "absent", LI: "absent",
                                                                          OFF: "inactive", OUT: "absent"}
    report = profile.approve("create", ZOE)
    assert [m for m, _, _ in sent(profile, 1)] == ["GET", "POST"] and report.created == [ZOE]
    profile.approve()
    assert report.created == [ZOE] and sorted(profile.links) == sorted([ZOE, LI]) and not profile.pending


def test_update_approval_holds_the_put_but_not_the_delete(target):
    profile, d = provisioned(target, require_approval=["update"])
    before = len(profile.trace)
    d.update_user(ZOE, given_name="Zoe")
    d.hard_delete_user(LI)
    profile.run_cycle()
    assert [m for m, _, _ in sent(profile, before)] == ["DELETE"]
    assert profile.pending[ZOE].approval == "update"
    profile.approve("delete")                       # the wrong checkbox approves nothing
    assert len(profile.trace) == before + 1
    profile.approve("update")
    assert profile.trace[-1].method == "PUT" and profile.trace[-1].request_body["name"]["givenName"] == "Zoe"


def test_lost_access_is_a_delete_task_even_when_the_action_is_suspend(target):
    profile, d = provisioned(target, require_approval=["delete"], deprovision_action="suspend")
    d.unassign(ZOE)
    profile.run_cycle()
    assert profile.pending[ZOE].intent == "deprovision" and profile.pending[ZOE].approval == "delete"
    assert [e.presence for e in profile.expected_users() if e.object_id == ZOE] == []   # nothing promised yet


# -- failures -----------------------------------------------------------------------------------------------------
def test_a_refused_create_is_failed_with_the_servers_reason(rsps):
    target = install_put(FakeScimTarget(hide_from_filter=True).install(rsps), rsps)
    target.add_user({"userName": ZOE_NAME})
    profile = onelogin(target)
    report = profile.run_cycle()
    [failure] = report.failures
    assert (failure.object_id, failure.action, failure.error_code) == (ZOE, "create", "HTTP 409")
    row = next(r for r in profile.admin_view() if r.object_id == ZOE)
    assert (row.status, row.reason) == ("Failed", "POST answered 409: userName already exists")
    assert row.describe() == f"{ZOE_NAME}: Failed (create) — POST answered 409: userName already exists"


def test_strict_content_type_fails_a_scim_json_answer(target):
    profile = onelogin(target, strict_content_type=True)
    profile.run_cycle()
    assert {r.reason for r in profile.admin_view()} == {
        "response Content-Type is application/scim+json; OneLogin expects application/json"}


# -- groups from roles ----------------------------------------------------------------------------------------------
GROUP_SETTINGS = {"groups_include_in_provisioning": True, "rules": [{"roles_matching": "Engineering|Sales"}]}


def group_requests(profile: OneLoginProfile, since: int = 0) -> list[tuple]:
    return [(m, p, b) for m, p, b in sent(profile, since) if p.startswith("/Groups") or m != "GET"]


def test_create_with_groups_lists_posts_missing_and_patches_each(target, rsps):
    groups = GroupsTarget(target, rsps, {"Engineering": "g-eng"})
    profile, _ = provisioned(target, **GROUP_SETTINGS)
    zoe_id = profile.links[ZOE]
    assert sent(profile)[1:6] == [
        ("GET", "/Users?filter=userName+eq+%22Zoe.OBrien%40Contoso.onmicrosoft.com%22", None),
        ("POST", "/Users", ZOE_BODY),
        ("GET", "/Groups?count=100&startIndex=1", None),
        ("POST", "/Groups", {"displayName": "Sales", "schemas": [GROUP]}),
        ("PATCH", "/Groups/g-eng", {"schemas": [PATCH], "Operations": [
            {"value": [{"value": zoe_id}], "op": "add", "path": "members"}]}),
    ]
    assert sent(profile)[6] == ("PATCH", "/Groups/g2", {"schemas": [PATCH], "Operations": [
        {"value": [{"value": zoe_id}], "op": "add", "path": "members"}]})
    assert groups.members("Engineering") == [zoe_id] and groups.members("Sales") == [zoe_id]
    assert len(profile.trace) == 9            # Li has no role: lookup + POST, no group calls
    assert next(r for r in profile.admin_view() if r.object_id == ZOE).groups == ("Engineering", "Sales")


def test_without_multi_value_the_roles_arrive_joined_into_one_group(target, rsps):
    groups = GroupsTarget(target, rsps, {"Engineering": "g-eng", "Sales": "g-sales"})
    profile, _ = provisioned(target, groups_multi_value=False, **GROUP_SETTINGS)
    zoe_id = profile.links[ZOE]
    assert sent(profile)[3:6] == [
        ("GET", "/Groups?count=100&startIndex=1", None),
        ("POST", "/Groups", {"displayName": "Engineering,Sales", "schemas": [GROUP]}),
        ("PATCH", "/Groups/g3", {"schemas": [PATCH], "Operations": [
            {"value": [{"value": zoe_id}], "op": "add", "path": "members"}]})]
    assert groups.members("Engineering,Sales") == [zoe_id]
    assert groups.members("Engineering") == [] and groups.members("Sales") == []


def test_groups_not_included_in_user_provisioning_send_no_group_calls(target, rsps):
    GroupsTarget(target, rsps)
    profile, _ = provisioned(target, rules=GROUP_SETTINGS["rules"])
    assert not any(p.startswith("/Groups") for _, p, _ in sent(profile))


def test_fixed_group_rule_and_role_pattern(target, rsps):
    groups = GroupsTarget(target, rsps)
    profile, _ = provisioned(target, groups_include_in_provisioning=True,
                             rules=[{"roles_matching": "Adm.*"}, {"group": "All Staff"}])
    assert [b["displayName"] for m, p, b in sent(profile) if (m, p) == ("POST", "/Groups")] == ["Admins",
                                                                                                "All Staff"]
    assert sorted(groups.members("All Staff")) == sorted([profile.links[ZOE], profile.links[LI]])


def test_role_removal_is_put_then_patch_remove_with_a_value_array(target, rsps):
    groups = GroupsTarget(target, rsps)
    profile, d = provisioned(target, **GROUP_SETTINGS)
    zoe_id = profile.links[ZOE]
    sales = next(g for g in groups.fake.groups.values() if g["displayName"] == "Sales")["id"]
    before = len(profile.trace)
    d.remove_role(ZOE, "Sales")
    profile.run_cycle()
    assert sent(profile, before) == [
        ("PUT", f"/Users/{zoe_id}", ZOE_BODY),
        ("PATCH", f"/Groups/{sales}", {"schemas": [PATCH], "Operations": [
            {"value": [{"value": zoe_id}], "op": "remove", "path": "members"}]})]
    assert groups.members("Sales") == []


def test_delete_and_suspend_leave_groups_first_and_never_delete_a_group(target, rsps):
    groups = GroupsTarget(target, rsps)
    profile, d = provisioned(target, **GROUP_SETTINGS)
    zoe_id = profile.links[ZOE]
    before = len(profile.trace)
    d.disable_user(ZOE)
    profile.run_cycle()
    assert [(m, p) for m, p, _ in sent(profile, before)] == [("PATCH", "/Groups/g1"), ("PATCH", "/Groups/g2"),
                                                             ("PUT", f"/Users/{zoe_id}")]
    d.enable_user(ZOE)
    profile.run_cycle()
    before = len(profile.trace)
    d.hard_delete_user(ZOE)
    profile.run_cycle()
    assert [(m, p, b["Operations"][0]["op"] if b else None) for m, p, b in sent(profile, before)] == [
        ("PATCH", "/Groups/g1", "remove"), ("PATCH", "/Groups/g2", "remove"), ("DELETE", f"/Users/{zoe_id}", None)]
    assert not any(e.method == "DELETE" and e.path.startswith("/Groups") for e in profile.trace)
    assert len(groups.fake.groups) == 2


def test_group_listing_pages_until_total_results_and_refresh_entitlements(target, rsps):
    GroupsTarget(target, rsps, {f"Team {n:03}": f"t{n}" for n in range(150)} | {"Sales": "g-sales"})
    profile = onelogin(target, **GROUP_SETTINGS)
    assert len(profile.refresh_entitlements()) == 151
    assert [e.path for e in profile.trace] == ["/Groups?count=100&startIndex=1", "/Groups?count=100&startIndex=101"]
    profile.run_cycle()
    assert [(m, b["displayName"]) for m, p, b in sent(profile) if (m, p) == ("POST", "/Groups")] == [
        ("POST", "Engineering")]                  # Sales was found on the second page
