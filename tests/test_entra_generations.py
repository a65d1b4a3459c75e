"""Entra's wire traffic request by request, for both PATCH generations, against the embedded server (entra.md §3–4):
probe, lookups, creates, every PATCH kind, disable, re-enable, soft delete then purge, group rename and membership."""
from __future__ import annotations

import json
import re

import pytest
import requests

from harness.clock import SimulatedClock
from harness.directory import Directory, DirectoryGroup, DirectoryUser
from harness.verifier import Verifier, verify_groups
from harness.transport import ScimClient
from idp_profiles.entra import EntraProfile

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"
FORTY_MINUTES = 40 * 60

ANA = "a0000000-0000-4000-8000-000000000001"
BEN = "a0000000-0000-4000-8000-000000000002"
CAI = "a0000000-0000-4000-8000-000000000003"
ENG = "b0000000-0000-4000-8000-000000000001"
# What an admin of this app maps: the seed contract stores userName, name, emails, active, externalId (and we
# keep the manager reference to see its separate PATCH).
SEED_MAPPINGS = {"displayName": None, "title": None, f"{ENT}:employeeNumber": None, f"{ENT}:department": None}


def org() -> Directory:
    d = Directory()
    d.add_user(DirectoryUser(ANA, "Ana.Garcia@Contoso.com", "Ana.Garcia", "Ana", "García", "Ana García",
                             "ana.garcia@contoso.com"))
    d.add_user(DirectoryUser(BEN, "Ben.OBrien@Contoso.com", "Ben.OBrien", "Ben", "O'Brien", "Ben O'Brien",
                             "ben.obrien@contoso.com", manager_id=ANA))
    d.add_user(DirectoryUser(CAI, "Cai.Li@Contoso.com", "Cai.Li", "蔡", "李", "李蔡"))
    d.add_group(DirectoryGroup(ENG, "Engineering", "engineering", member_ids=[BEN, CAI]))
    d.assign(ANA)
    d.assign(ENG)                       # BEN and CAI are in scope through the group
    return d


def entra(server, d: Directory, flag: bool) -> EntraProfile:
    url = server.base_url + ("?aadOptscim062020" if flag else "")
    return EntraProfile.configure(d, url, server.token, {"user_mappings": SEED_MAPPINGS}, clock=SimulatedClock())


def sent(profile: EntraProfile, start: int = 0) -> list[tuple[str, str, object]]:
    return [(e.method, e.path, e.request_body) for e in profile.trace[start:]]


def ids(profile: EntraProfile) -> dict[str, str]:
    return {**profile.links, **profile.group_links}


@pytest.mark.parametrize("flag", [False, True], ids=["default", "aadOptscim062020"])
def test_initial_cycle_request_by_request(live_server, flag):
    d = org()
    profile = entra(live_server, d, flag)
    assert profile.client.base_url == live_server.base_url        # the flag is read off the Tenant URL
    assert profile.flag is flag
    report = profile.run_cycle()
    t = ids(profile)
    trace = sent(profile)
    assert re.fullmatch(rf"/Users\?filter=userName\+eq\+%22{GUID}%22", trace[0][1])
    assert re.fullmatch(rf"/Groups\?excludedAttributes=members&filter=displayName\+eq\+%22{GUID}%22", trace[1][1])
    add = "add" if flag else "Add"
    assert trace[2:] == [
        ("GET", "/Users?filter=userName+eq+%22Ana.Garcia%40Contoso.com%22", None),
        ("GET", "/Users?filter=externalId+eq+%22Ana.Garcia%22", None),
        ("POST", "/Users", {
            "schemas": [CORE, ENT], "externalId": "Ana.Garcia", "userName": "Ana.Garcia@Contoso.com", "active": True,
            "emails": [{"primary": True, "type": "work", "value": "ana.garcia@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"givenName": "Ana", "familyName": "García", "formatted": "Ana García"}, "roles": []}),
        ("GET", "/Users?filter=userName+eq+%22Ben.OBrien%40Contoso.com%22", None),
        ("GET", "/Users?filter=externalId+eq+%22Ben.OBrien%22", None),
        ("POST", "/Users", {
            "schemas": [CORE, ENT], "externalId": "Ben.OBrien", "userName": "Ben.OBrien@Contoso.com", "active": True,
            "emails": [{"primary": True, "type": "work", "value": "ben.obrien@contoso.com"}],
            "meta": {"resourceType": "User"},
            "name": {"givenName": "Ben", "familyName": "O'Brien", "formatted": "Ben O'Brien"}, "roles": []}),
        ("GET", "/Users?filter=userName+eq+%22Cai.Li%40Contoso.com%22", None),
        ("GET", "/Users?filter=externalId+eq+%22Cai.Li%22", None),
        ("POST", "/Users", {
            "schemas": [CORE, ENT], "externalId": "Cai.Li", "userName": "Cai.Li@Contoso.com", "active": True,
            "meta": {"resourceType": "User"}, "name": {"givenName": "蔡", "familyName": "李", "formatted": "蔡 李"},
            "roles": []}),
        # groups after users, created empty, looked up without members
        ("GET", "/Groups?excludedAttributes=members&filter=displayName+eq+%22Engineering%22", None),
        ("POST", "/Groups", {"schemas": [GROUP, ADSCIM], "externalId": ENG, "displayName": "Engineering",
                             "meta": {"resourceType": "Group"}}),
        # then memberships by PATCH, several members in one op
        ("PATCH", f"/Groups/{t[ENG]}", {"schemas": [PATCH], "Operations": [
            {"op": add, "path": "members",
             "value": [{"value": t[BEN]}, {"value": t[CAI]}] if flag else
             [{"$ref": None, "value": t[BEN]}, {"$ref": None, "value": t[CAI]}]}]}),
        # then the manager reference, in its own PATCH once both users exist
        ("PATCH", f"/Users/{t[BEN]}", {"schemas": [PATCH], "Operations": [
            {"op": add, "path": f"{ENT}:manager", "value": t[ANA]}]}),
    ]
    assert report.created == [ANA, BEN, CAI, ENG] and report.failures == []
    group = requests.get(f"{live_server.base_url}/Groups/{t[ENG]}",
                         headers={"Authorization": f"Bearer {live_server.token}"}).json()
    assert sorted(m["value"] for m in group["members"]) == sorted([t[BEN], t[CAI]])


@pytest.mark.parametrize("flag", [False, True], ids=["default", "aadOptscim062020"])
def test_incremental_cycles_request_by_request(live_server, flag):
    d = org()
    profile = entra(live_server, d, flag)
    profile.run_cycle()
    t = ids(profile)
    auth = {"Authorization": f"Bearer {live_server.token}"}

    # 1. rename + UPN change; a member leaves the group (so leaves scope); the group is renamed
    d.update_user(BEN, surname="Ó Súilleabháin", user_principal_name="Ben.OSuilleabhain@Contoso.com")
    d.remove_member(ENG, CAI)
    d.update_group(ENG, display_name="Engineering (all)")
    profile.clock.sleep(FORTY_MINUTES)
    start = len(profile.trace)
    profile.run_cycle()
    rename = ([{"op": "replace", "value": {"userName": "Ben.OSuilleabhain@Contoso.com",
                                           "name.familyName": "Ó Súilleabháin",
                                           "name.formatted": "Ben Ó Súilleabháin"}}] if flag else
              [{"op": "Replace", "path": "userName", "value": "Ben.OSuilleabhain@Contoso.com"},
               {"op": "Replace", "path": "name.familyName", "value": "Ó Súilleabháin"},
               {"op": "Replace", "path": "name.formatted", "value": "Ben Ó Súilleabháin"}])
    disable = {"op": "replace", "path": "active", "value": False} if flag else \
        {"op": "Replace", "path": "active", "value": "False"}
    group_rename = ({"op": "replace", "value": {"displayName": "Engineering (all)"}} if flag else
                    {"op": "Replace", "path": "displayName", "value": "Engineering (all)"})
    remove = ({"op": "remove", "path": f'members[value eq "{t[CAI]}"]'} if flag else
              {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": t[CAI]}]})
    manager = {"op": "add" if flag else "Add", "path": f"{ENT}:manager", "value": t[ANA]}
    assert sent(profile, start + 2) == [
        ("GET", f"/Users/{t[BEN]}", None),
        ("PATCH", f"/Users/{t[BEN]}", {"schemas": [PATCH], "Operations": rename}),
        ("GET", f"/Users/{t[CAI]}", None),
        ("PATCH", f"/Users/{t[CAI]}", {"schemas": [PATCH], "Operations": [disable]}),
        ("GET", f"/Groups/{t[ENG]}?excludedAttributes=members", None),
        ("PATCH", f"/Groups/{t[ENG]}", {"schemas": [PATCH], "Operations": [group_rename]}),
        ("PATCH", f"/Groups/{t[ENG]}", {"schemas": [PATCH], "Operations": [remove]}),
        # the seed contract does not return the enterprise manager, so Entra writes it again (entra.md §2.2)
        ("PATCH", f"/Users/{t[BEN]}", {"schemas": [PATCH], "Operations": [manager]}),
    ]
    group = requests.get(f"{live_server.base_url}/Groups/{t[ENG]}", headers=auth).json()
    assert group["displayName"] == "Engineering (all)" and [m["value"] for m in group["members"]] == [t[BEN]]
    assert requests.get(f"{live_server.base_url}/Users/{t[CAI]}", headers=auth).json()["active"] is False

    # 2. CAI was unassigned: never touched again, even when purged from the directory
    d.hard_delete_user(CAI)
    profile.clock.sleep(FORTY_MINUTES)
    start = len(profile.trace)
    profile.run_cycle()
    assert [e.purpose for e in profile.trace[start:]] == ["test-connection", "test-connection"]

    # 3. soft delete: active false now; the purge 30 days later: DELETE; a restore in between re-enables
    d.soft_delete_user(ANA, at=profile.clock.now())
    profile.clock.sleep(FORTY_MINUTES)
    start = len(profile.trace)
    profile.run_cycle()
    assert sent(profile, start + 2) == [("GET", f"/Users/{t[ANA]}", None),
                                        ("PATCH", f"/Users/{t[ANA]}", {"schemas": [PATCH], "Operations": [disable]})]
    d.restore_user(ANA)
    profile.clock.sleep(FORTY_MINUTES)
    start = len(profile.trace)
    profile.run_cycle()
    enable = {"op": "replace", "value": {"active": True}} if flag else \
        {"op": "Replace", "path": "active", "value": "True"}
    assert sent(profile, start + 2) == [("GET", f"/Users/{t[ANA]}", None),
                                        ("PATCH", f"/Users/{t[ANA]}", {"schemas": [PATCH], "Operations": [enable]})]
    d.soft_delete_user(ANA, at=profile.clock.now())
    profile.clock.sleep(FORTY_MINUTES)
    profile.run_cycle()
    profile.clock.sleep(29 * 24 * 3600)
    start = len(profile.trace)
    profile.run_cycle()
    assert ANA in d.users and [e.method for e in profile.trace[start:]] == ["GET", "GET"]   # not yet purged
    profile.clock.sleep(24 * 3600)
    start = len(profile.trace)
    report = profile.run_cycle()
    assert ANA in d.deleted_users and sent(profile, start + 2) == [("DELETE", f"/Users/{t[ANA]}", None)]
    assert report.deleted == [ANA] and profile.trace[-1].status == 204

    # the verifier agrees with the target, users and groups
    verifier_client = ScimClient(live_server.base_url, live_server.token)
    users = Verifier(verifier_client).verify_users(profile.expected_users(), profile.trace)
    groups = verify_groups(verifier_client, profile.expected_groups(), profile.trace)
    assert users.ok, [f.message for f in users.findings]
    assert groups.ok and groups.checked_groups == 1, [f.message for f in groups.findings]


def test_flag_keeps_value_paths_and_adds_apart_from_the_merged_replace(scim2_target):
    """A rename plus a new mail plus a first job title: the path-less replace carries only simple attributes."""
    base, token = scim2_target
    d = org()
    profile = EntraProfile.configure(d, base + "?aadOptscim062020", token, {"provision_groups": False},
                                     clock=SimulatedClock())
    profile.run_cycle()
    d.update_user(ANA, given_name="Anabel", mail="anabel.garcia@contoso.com", job_title="Buyer",
                  display_name="Anabel García")
    profile.clock.sleep(FORTY_MINUTES)
    start = len(profile.trace)
    profile.run_cycle()
    [patch] = [e for e in profile.trace[start:] if e.purpose == "update"]
    assert patch.request_body["Operations"] == [
        {"op": "replace", "value": {"displayName": "Anabel García", "name.givenName": "Anabel",
                                    "name.formatted": "Anabel García"}},
        {"op": "add", "path": "title", "value": "Buyer"},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "anabel.garcia@contoso.com"},
    ]
    assert patch.status in (200, 204)
    user = requests.get(f"{base}/Users/{profile.links[ANA]}", headers={"Authorization": f"Bearer {token}"}).json()
    assert (user["name"]["givenName"], user["title"], user["emails"][0]["value"]) == (
        "Anabel", "Buyer", "anabel.garcia@contoso.com")


def test_default_generation_sends_one_op_per_attribute(scim2_target):
    base, token = scim2_target
    d = org()
    profile = EntraProfile.configure(d, base, token, {"provision_groups": False}, clock=SimulatedClock())
    profile.run_cycle()
    d.update_user(ANA, given_name="Anabel", mail="anabel.garcia@contoso.com", job_title="Buyer",
                  display_name="Anabel García")
    profile.clock.sleep(FORTY_MINUTES)
    start = len(profile.trace)
    profile.run_cycle()
    [patch] = [e for e in profile.trace[start:] if e.purpose == "update"]
    assert patch.request_body["Operations"] == [
        {"op": "Replace", "path": "displayName", "value": "Anabel García"},
        {"op": "Add", "path": "title", "value": "Buyer"},
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "anabel.garcia@contoso.com"},
        {"op": "Replace", "path": "name.givenName", "value": "Anabel"},
        {"op": "Replace", "path": "name.formatted", "value": "Anabel García"},
    ]


@pytest.mark.parametrize("shape, op", [
    ("string", {"op": "Add", "path": f"{ENT}:manager", "value": "<ana>"}),
    ("object", {"op": "Add", "path": f"{ENT}:manager", "value": {"value": "<ana>"}}),
    ("ref_list", {"op": "Add", "path": "manager", "value": [{"$ref": None, "value": "<ana>"}]}),
])
def test_manager_shapes_and_removal(fake, shape, op):
    d = org()
    profile = EntraProfile.configure(d, fake.base_url, fake.token, {"manager_shape": shape,
                                                                     "provision_groups": False})
    profile.run_cycle()
    [manager] = [e for e in profile.trace if e.purpose == "manager"]
    expected = repr(op).replace("<ana>", profile.links[ANA])
    assert repr(manager.request_body["Operations"][0]) == expected
    d.update_user(BEN, manager_id=None)
    profile.clock.sleep(FORTY_MINUTES)
    profile.run_cycle()
    if shape != "ref_list":          # the fake stores the historic list under core `manager`: nothing to remove
        assert profile.trace[-1].request_body["Operations"] == [
            {"op": "Replace", "path": f"{ENT}:manager", "value": ""}]


def test_matching_precedence_stops_at_the_first_hit_and_patches_by_cached_id(fake):
    existing = fake.add_user({"userName": "someone.else@contoso.com", "externalId": "Ana.Garcia", "active": True})
    d = org()
    profile = EntraProfile.configure(d, fake.base_url, fake.token, {"provision_groups": False})
    report = profile.run_cycle()
    ana = [(e.method, e.path) for e in profile.trace if e.subject == ANA]
    assert ana[:3] == [("GET", "/Users?filter=userName+eq+%22Ana.Garcia%40Contoso.com%22"),
                       ("GET", "/Users?filter=externalId+eq+%22Ana.Garcia%22"),
                       ("PATCH", f"/Users/{existing['id']}")]
    assert report.matched == [ANA] and profile.links[ANA] == existing["id"]


def test_matching_on_more_than_one_target_is_duplicate_target_entries(fake):
    fake.add_user({"userName": "x1@contoso.com", "externalId": "Ana.Garcia"})
    fake.add_user({"userName": "x2@contoso.com", "externalId": "Ana.Garcia"})
    profile = EntraProfile.configure(org(), fake.base_url, fake.token, {"provision_groups": False})
    report = profile.run_cycle()
    [failure] = [f for f in report.failures if f.object_id == ANA]
    assert failure.error_code == "DuplicateTargetEntries" and ANA in profile.escrow and ANA not in profile.links
    assert not any(e.method == "POST" and e.subject == ANA for e in profile.trace)


def test_matching_attributes_setting_changes_the_probe_and_lookups(fake):
    profile = EntraProfile.configure(org(), fake.base_url, fake.token,
                                     {"matching_attributes": ["externalId"], "provision_groups": False})
    profile.run_cycle()
    assert re.fullmatch(rf"/Users\?filter=externalId\+eq\+%22{GUID}%22", profile.trace[0].path)
    assert profile.trace[1].path == "/Users?filter=externalId+eq+%22Ana.Garcia%22"


def test_scope_all_provisions_unassigned_users_and_groups(fake):
    d = org()
    d.add_group(DirectoryGroup("b0000000-0000-4000-8000-000000000002", "Unassigned team", "team"))
    d.unassign(ANA)
    profile = EntraProfile.configure(d, fake.base_url, fake.token, {"scope": "all"})
    report = profile.run_cycle()
    assert ANA in report.created and "b0000000-0000-4000-8000-000000000002" in report.created


def test_settings_are_checked():
    with pytest.raises(ValueError, match="unknown Entra source attribute"):
        EntraProfile.configure(org(), "http://x.test/v2", "t", {"user_mappings": {"nickName": "nickname"}})
    with pytest.raises(ValueError, match="matching attributes"):
        EntraProfile.configure(org(), "http://x.test/v2", "t", {"matching_attributes": ["title"],
                                                                  "user_mappings": {"title": None}})
    assert EntraProfile.configure(org(), "http://x.test/v2?aadOptscim062020", "t",
                                  {"aadOptscim062020": False}).flag is False
    assert EntraProfile.configure(org(), "http://x.test/v2?aadOptscim062020&AzureAdScimPatch2017", "t").flag is False


def test_provisioning_log_and_job_status_for_the_run_report(live_server):
    d = org()
    profile = entra(live_server, d, flag=False)
    assert profile.job_status()["code"] == "NotRun" and profile.provisioning_log() == []
    profile.run_cycle()
    log = json.loads(json.dumps(profile.provisioning_log()))           # plain JSON, like a portal export
    creates = [e for e in log if e["provisioningAction"] == "create"]
    assert [(e["sourceIdentity"]["id"], e["sourceIdentity"]["identityType"]) for e in creates] == [
        (ANA, "User"), (BEN, "User"), (CAI, "User"), (ENG, "Group")]
    ana = creates[0]
    assert ana["targetIdentity"]["id"] == profile.links[ANA]
    assert ana["provisioningStatusInfo"] == {"status": "success", "errorInformation": None}
    assert [(s["provisioningStepType"], s["name"]) for s in ana["provisioningSteps"]] == [
        ("import", "EntryImportAdd"), ("scoping", "EntrySynchronizationScoping"),
        ("matching", "EntryImportByMatchingProperty"), ("export", "EntryExportAdd")]
    assert {"displayName": "userName", "oldValue": None, "newValue": "Ana.Garcia@Contoso.com"} in \
        ana["modifiedProperties"]
    assert {"displayName": "active", "oldValue": None, "newValue": "True"} in ana["modifiedProperties"]
    assert len({e["cycleId"] for e in log}) == 1 and all(e["jobId"] == log[0]["jobId"] for e in log)
    members = [e for e in log if e["sourceIdentity"]["id"] == ENG and e["provisioningAction"] == "update"]
    assert [p["newValue"] for p in members[0]["modifiedProperties"]] == [profile.links[BEN], profile.links[CAI]]
    status = profile.job_status()
    assert status["code"] == "Active" and status["quarantine"] is None and status["patchGeneration"] == "default"
    assert status["lastExecution"]["state"] == "Succeeded" and status["lastExecution"]["countEntitled"] == 4
