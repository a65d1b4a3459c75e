"""Okta Group Push request by request against a pretend target, per flavour: link or create, follow-up GET,
membership changes, the rename after every change, Push Now, unlink with and without delete, app-assigned members."""
from __future__ import annotations

import pytest

from tests.okta_target import OktaFakeTarget
from tests.test_okta_sequences import PATCH_OP, okta, small_org

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.fixture
def target(rsps) -> OktaFakeTarget:
    return OktaFakeTarget().install(rsps)


def pushing(target, flavour, directory=None, **settings):
    directory = directory or small_org()
    profile = okta(target, directory, flavour=flavour, pushed_groups=["Engineering"], **settings)
    profile.run_cycle()
    return profile, directory


def group_requests(profile, start=0):
    return [e for e in profile.trace[start:] if e.subject == "grp-eng"]


def user_id(target, user_name):
    return target.find(user_name)["id"]


def member(target, user_name):
    return {"value": user_id(target, user_name), "display": user_name}


ZOE, SEAN, ANA = "Zoë.OBrien@Contoso.com", "Seán.Walsh@Contoso.com", "Ana.Núñez@Contoso.com"


@pytest.mark.parametrize("flavour, after_get", [("aiw", ["PUT"]), ("oin", [])])
def test_create_posts_members_then_reads_back(target, flavour, after_get):
    profile, _ = pushing(target, flavour)
    sent = group_requests(profile)
    group_id = next(iter(target.groups))
    assert [e.request_line() for e in sent] == ["POST /Groups", f"GET /Groups/{group_id}",
                                               *[f"{m} /Groups/{group_id}" for m in after_get]]
    assert sent[0].request_body == {"schemas": [GROUP], "displayName": "Engineering",
                                    "members": [member(target, ZOE), member(target, SEAN)]}
    if flavour == "aiw":
        assert sent[2].request_body == sent[0].request_body
    # the app groups were read on To App save, so no lookup by name came first
    assert [e.request_line() for e in profile.trace[:2]] == ["GET /Users?startIndex=1&count=2",
                                                           "GET /Groups?startIndex=1&count=100"]


def test_without_the_app_group_list_okta_looks_the_name_up_first(target):
    profile, _ = pushing(target, "oin", import_groups=False)
    assert group_requests(profile)[0].request_line() == (
        "GET /Groups?filter=displayName%20eq%20%22Engineering%22&startIndex=1&count=100")
    assert group_requests(profile)[1].request_line() == "POST /Groups"


@pytest.mark.parametrize("import_groups", [True, False])
def test_existing_app_group_is_linked_and_filled_not_created(target, import_groups):
    existing = target.add_group("Engineering", [{"value": "someone-else"}])
    profile, _ = pushing(target, "oin", import_groups=import_groups)
    sent = group_requests(profile)
    assert "POST /Groups" not in [e.request_line() for e in sent]
    path = f"/Groups/{existing['id']}"
    assert [e.request_line() for e in sent][-3:] == [f"PATCH {path}", f"GET {path}", f"PATCH {path}"]
    assert sent[-3].request_body == {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "path": "members", "value": [member(target, ZOE), member(target, SEAN)]}]}
    assert target.member_ids(existing["id"]) == [user_id(target, ZOE), user_id(target, SEAN)]


def test_oin_membership_change_is_patch_get_then_rename(target):
    profile, directory = pushing(target, "oin")
    group_id = next(iter(target.groups))
    start = len(profile.trace)
    directory.remove_member("grp-eng", "id-sean")
    directory.add_member("grp-eng", "id-ana")
    profile.run_cycle()
    sent = group_requests(profile, start)
    path = f"/Groups/{group_id}"
    assert [e.request_line() for e in sent] == [f"PATCH {path}", f"GET {path}", f"PATCH {path}"]
    assert sent[0].request_body == {"schemas": [PATCH_OP], "Operations": [
        {"op": "remove", "path": f'members[value eq "{user_id(target, SEAN)}"]'},
        {"op": "add", "path": "members", "value": [member(target, ANA)]}]}
    assert sent[2].request_body == {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"id": group_id, "displayName": "Engineering"}}]}
    assert target.member_ids(group_id) == [user_id(target, ZOE), user_id(target, ANA)]


def test_oin_rename_alone_is_the_replace(target):
    profile, directory = pushing(target, "oin")
    group_id = next(iter(target.groups))
    start = len(profile.trace)
    directory.update_group("grp-eng", display_name="Engineering & Research")
    profile.run_cycle()
    sent = group_requests(profile, start)
    assert [e.request_line() for e in sent] == [f"PATCH /Groups/{group_id}"]
    assert sent[0].request_body["Operations"] == [
        {"op": "replace", "value": {"id": group_id, "displayName": "Engineering & Research"}}]
    assert target.groups[group_id]["displayName"] == "Engineering & Research"


@pytest.mark.parametrize("change", ["member", "rename", "push_now"])
def test_aiw_every_group_change_is_get_then_full_put(target, change):
    profile, directory = pushing(target, "aiw")
    group_id = next(iter(target.groups))
    start = len(profile.trace)
    if change == "member":
        directory.add_member("grp-eng", "id-ana")
        profile.run_cycle()
    elif change == "rename":
        directory.update_group("grp-eng", display_name="Engineering & Research")
        profile.run_cycle()
    else:
        profile.apply_scenario_action("push_now", {"group": "Engineering"})
    sent = group_requests(profile, start)
    assert [e.request_line() for e in sent] == [f"GET /Groups/{group_id}", f"PUT /Groups/{group_id}"]
    members = [member(target, ZOE), member(target, SEAN)] + ([member(target, ANA)] if change == "member" else [])
    name = "Engineering & Research" if change == "rename" else "Engineering"
    assert sent[1].request_body == {"schemas": [GROUP], "displayName": name, "members": members}


def test_oin_push_now_replaces_all_members_even_when_empty(target):
    profile, directory = pushing(target, "oin")
    group_id = next(iter(target.groups))
    directory.remove_member("grp-eng", "id-zoe")
    directory.remove_member("grp-eng", "id-sean")
    profile.run_cycle()
    start = len(profile.trace)
    profile.apply_scenario_action("push_now", {"group": "Engineering"})
    sent = group_requests(profile, start)
    assert [e.request_line() for e in sent] == [f"{m} /Groups/{group_id}" for m in ("PATCH", "GET", "PATCH")]
    assert sent[0].request_body["Operations"] == [{"op": "replace", "path": "members", "value": []}]
    assert target.member_ids(group_id) == []


def test_only_app_assigned_users_are_pushed_and_unassigning_leaves_the_group_alone(target):
    directory = small_org()
    directory.unassign("id-sean")
    profile, _ = pushing(target, "oin", directory)
    group_id = next(iter(target.groups))
    assert target.member_ids(group_id) == [user_id(target, ZOE)]       # Seán is in the Okta group, not the app
    start = len(profile.trace)
    directory.unassign("id-zoe")
    profile.run_cycle()
    assert [e.request_line() for e in profile.trace[start:]] == [f"PATCH /Users/{user_id(target, ZOE)}"]
    assert target.member_ids(group_id) == [user_id(target, ZOE)]       # still there until the next push
    assert {e.object_id: e.member_ids for e in profile.expected_groups()} == {"grp-eng": frozenset()}


def test_reassignment_pushes_the_membership_again(target):
    profile, directory = pushing(target, "aiw")
    group_id = next(iter(target.groups))
    directory.disable_user("id-zoe")
    profile.run_cycle()
    start = len(profile.trace)
    directory.enable_user("id-zoe")
    profile.run_cycle()
    assert [e.request_line() for e in group_requests(profile, start)] == [f"GET /Groups/{group_id}",
                                                                          f"PUT /Groups/{group_id}"]


@pytest.mark.parametrize("delete, expected", [(True, ["DELETE"]), (False, [])])
def test_unlink_deletes_the_app_group_only_when_asked(target, delete, expected):
    profile, _ = pushing(target, "oin")
    group_id = next(iter(target.groups))
    start = len(profile.trace)
    profile.apply_scenario_action("unlink_group", {"group": "Engineering", "delete": delete})
    assert [e.method for e in profile.trace[start:]] == expected
    assert (group_id in target.groups) is not delete
    assert profile.admin_view().groups[0].push_status == "Unlinked"
    assert [g.presence for g in profile.expected_groups()] == (["absent"] if delete else [])


def test_deleting_the_okta_group_unlinks_per_setting(target):
    profile, directory = pushing(target, "aiw", unlink_deletes_app_group=True)
    group_id = next(iter(target.groups))
    start = len(profile.trace)
    directory.delete_group("grp-eng")
    profile.run_cycle()
    assert [e.request_line() for e in profile.trace[start:]] == [f"DELETE /Groups/{group_id}"]


def test_a_failed_group_push_is_a_group_task(target):
    profile, directory = pushing(target, "oin")
    group_id = next(iter(target.groups))
    del target.groups[group_id]
    directory.add_member("grp-eng", "id-ana")
    report = profile.run_cycle()
    assert report.failures[0].message == (
        "Push of group Engineering to app SCIM 2.0 app failed: Error while pushing group Engineering: Not Found. "
        "Errors reported by remote server: Resource not found")
    row = profile.admin_view().groups[0]
    assert row.push_status == "Error" and row.task.title == "Group Push errors"
