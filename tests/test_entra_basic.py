import random
import re

import requests
import responses

from harness.directory import Directory, DirectoryUser
from harness.transport import ScimClient
from harness.verifier import Verifier
from idp_profiles.entra import EntraProfile
from tests.fake_scim import FakeScimTarget

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PROBE = re.compile(r"^/Users\?filter=userName\+eq\+%22([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})%22$")

ZOE = "10000000-0000-4000-8000-000000000001"
LI = "10000000-0000-4000-8000-000000000002"
OFF = "10000000-0000-4000-8000-000000000003"
OUT = "10000000-0000-4000-8000-000000000004"


def directory() -> Directory:
    d = Directory()
    d.add_user(DirectoryUser(ZOE, "Zoe.OBrien@Contoso.onmicrosoft.com", "Zoe.OBrien", "Zoë", "O'Brien",
                             "Zoë O'Brien", "zoe.obrien+scim@contoso.com", "Software Engineer", "Engineering",
                             "40123"))
    d.add_user(DirectoryUser(LI, "Wei.Li@Contoso.com", "Wei.Li", "伟", "李", "李伟", department="Research"))
    d.add_user(DirectoryUser(OFF, "Anna.Smirnova@Contoso.com", "Anna.Smirnova", "Анна", "Смирнова",
                             "Анна Смирнова", "anna.smirnova@contoso.com"))
    d.add_user(DirectoryUser(OUT, "Priya.Patel@Contoso.com", "Priya.Patel", "Priya", "Patel", "Priya Patel",
                             "priya.patel@contoso.com"))
    for object_id in (ZOE, LI, OFF):
        d.assign(object_id)
    d.disable_user(OFF)                          # disabled: never provisioned
    return d                                     # OUT is not assigned: out of scope


USERS_ONLY = {"provision_groups": False}     # these tests cover users; groups have tests of their own


def profile_for(base_url, token, d=None):
    return EntraProfile.configure(d or directory(), base_url, token, USERS_ONLY)


def test_probe_is_a_random_guid_username_filter(fake):
    profile = profile_for(fake.base_url, fake.token)
    first, second = profile.test_connection(), profile.test_connection()
    assert first.ok and second.ok
    guids = [PROBE.match(e.path).group(1) for e in profile.trace]
    assert guids[0] != guids[1]
    assert [(e.method, e.request_body, e.purpose) for e in profile.trace] == [("GET", None, "test-connection")] * 2


def test_probe_sends_no_user_agent_by_default(fake, rsps):
    profile_for(fake.base_url, fake.token).test_connection()
    assert rsps.calls[0].request.headers.get("User-Agent") == "@@@SKIP_HEADER@@@"   # urllib3 drops the header


def test_probe_404_fails_as_entra_reports_it():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        target = FakeScimTarget(probe_status=404).install(rsps)
        result = profile_for(target.base_url, target.token).test_connection()
    assert not result.ok and not result.credentials_rejected
    assert result.error_code == "SystemForCrossDomainIdentityManagementServiceIncompatible"
    assert result.message.startswith("An HTTP/404 Not Found response was returned rather than the expected HTTP/200")


def test_probe_with_results_fails(rsps):
    rsps.add(responses.GET, re.compile(r"https://t\.test/v2/Users\?.*"), status=200, json={
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 1,
        "Resources": [{"id": "1", "userName": "someone"}]})
    result = profile_for("https://t.test/v2", "x").test_connection()
    assert not result.ok and "returned results" in result.message


def test_probe_401_is_rejected_credentials(fake):
    result = profile_for(fake.base_url, "wrong").test_connection()
    assert not result.ok and result.credentials_rejected and result.error_code == "Unauthorized"
    assert "invalid credentials" in result.message


def test_initial_cycle_requests_and_create_body(fake):
    profile = profile_for(fake.base_url, fake.token)
    report = profile.run_cycle()
    trace = profile.trace
    assert [(e.method, e.purpose, e.subject) for e in trace] == [
        ("GET", "test-connection", None),
        ("GET", "match", ZOE), ("GET", "match", ZOE), ("POST", "create", ZOE),
        ("GET", "match", LI), ("GET", "match", LI), ("POST", "create", LI),
    ]
    # matching precedence: userName first, then externalId, each only when the previous found nothing
    assert trace[1].path == "/Users?filter=userName+eq+%22Zoe.OBrien%40Contoso.onmicrosoft.com%22"
    assert trace[2].path == "/Users?filter=externalId+eq+%22Zoe.OBrien%22"
    trace = [e for e in trace if e.purpose != "match" or e.path.startswith("/Users?filter=userName")]
    assert trace[2].path == "/Users"
    assert trace[2].request_headers["Content-Type"] == "application/scim+json"
    assert trace[2].request_body == {
        "schemas": [CORE, ENT],
        "externalId": "Zoe.OBrien",
        "userName": "Zoe.OBrien@Contoso.onmicrosoft.com",
        "active": True,
        "displayName": "Zoë O'Brien",
        "title": "Software Engineer",
        "emails": [{"primary": True, "type": "work", "value": "zoe.obrien+scim@contoso.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Zoë O'Brien", "familyName": "O'Brien", "givenName": "Zoë"},
        ENT: {"employeeNumber": "40123", "department": "Engineering"},
        "roles": [],
    }
    assert trace[2].request_body["active"] is True
    # Null source attributes are never sent: no mail, no title, no employee id.
    assert trace[4].request_body == {
        "schemas": [CORE, ENT], "externalId": "Wei.Li", "userName": "Wei.Li@Contoso.com", "active": True,
        "displayName": "李伟", "meta": {"resourceType": "User"},
        "name": {"formatted": "伟 李", "familyName": "李", "givenName": "伟"},
        ENT: {"department": "Research"}, "roles": []}
    assert (report.created, report.skipped, report.failures) == ([ZOE, LI], [OFF, OUT], [])
    assert sorted(u["userName"] for u in fake.users.values()) == ["Wei.Li@Contoso.com",
                                                                  "Zoe.OBrien@Contoso.onmicrosoft.com"]


def test_match_then_patch_only_what_differs(scim2_target):
    base, token = scim2_target
    existing = requests.post(f"{base}/Users", headers={"Authorization": f"Bearer {token}"}, json={
        "schemas": [CORE], "userName": "zoe.obrien@contoso.onmicrosoft.com", "externalId": "Zoe.OBrien",
        "displayName": "Zoë O'Brien", "active": True,
        "name": {"givenName": "Zoë", "familyName": "OBrien", "formatted": "Zoë OBrien"},
        "emails": [{"value": "zoe.obrien+scim@contoso.com", "type": "work", "primary": True}]}).json()
    d = directory()
    d.hard_delete_user(LI)
    profile = profile_for(base, token, d)
    report = profile.run_cycle()
    assert report.matched == [ZOE] and report.updated == [ZOE] and report.created == []
    patch = profile.trace[2]
    assert (patch.method, patch.path, patch.purpose) == ("PATCH", f"/Users/{existing['id']}", "update")
    assert patch.request_body == {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "userName", "value": "Zoe.OBrien@Contoso.onmicrosoft.com"},
        {"op": "Add", "path": "title", "value": "Software Engineer"},
        {"op": "Replace", "path": "name.familyName", "value": "O'Brien"},
        {"op": "Replace", "path": "name.formatted", "value": "Zoë O'Brien"},
        {"op": "Add", "path": f"{ENT}:employeeNumber", "value": "40123"},
        {"op": "Add", "path": f"{ENT}:department", "value": "Engineering"},
    ]}
    assert len(profile.trace) == 3                       # probe, match, patch: no POST
    now = requests.get(f"{base}/Users/{existing['id']}", headers={"Authorization": f"Bearer {token}"}).json()
    assert now["userName"] == "Zoe.OBrien@Contoso.onmicrosoft.com" and now["name"]["familyName"] == "O'Brien"
    assert now[ENT] == {"employeeNumber": "40123", "department": "Engineering"}


def test_incremental_rename_disable_delete(scim2_target):
    base, token = scim2_target
    d = directory()
    profile = profile_for(base, token, d)
    profile.run_cycle()
    zoe_id, li_id = profile.links[ZOE], profile.links[LI]
    first_cycle_end = len(profile.trace)
    # nothing changed: the incremental cycle sends only the probe
    assert profile.run_cycle().updated == [] and len(profile.trace) == first_cycle_end + 1

    d.update_user(ZOE, surname="Ó Súilleabháin", display_name="Zoë Ó Súilleabháin",
                  user_principal_name="Zoe.OSuilleabhain@Contoso.onmicrosoft.com")
    d.disable_user(LI)
    report = profile.run_cycle()
    sent = [(e.method, e.path, e.request_body) for e in profile.trace[first_cycle_end + 2:]]
    assert sent == [
        ("GET", f"/Users/{zoe_id}", None),
        ("PATCH", f"/Users/{zoe_id}", {"schemas": [PATCH], "Operations": [
            {"op": "Replace", "path": "userName", "value": "Zoe.OSuilleabhain@Contoso.onmicrosoft.com"},
            {"op": "Replace", "path": "displayName", "value": "Zoë Ó Súilleabháin"},
            {"op": "Replace", "path": "name.familyName", "value": "Ó Súilleabháin"},
            {"op": "Replace", "path": "name.formatted", "value": "Zoë Ó Súilleabháin"}]}),
        ("GET", f"/Users/{li_id}", None),
        ("PATCH", f"/Users/{li_id}", {"schemas": [PATCH],
                                      "Operations": [{"op": "Replace", "path": "active", "value": "False"}]}),
    ]
    assert (report.updated, report.disabled) == ([ZOE], [LI])
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{base}/Users/{li_id}", headers=auth).json()["active"] is False
    assert requests.get(f"{base}/Users/{zoe_id}", headers=auth).json()["name"]["familyName"] == "Ó Súilleabháin"

    before = len(profile.trace)
    d.hard_delete_user(ZOE)
    report = profile.run_cycle()
    assert [(e.method, e.path) for e in profile.trace[before + 1:]] == [("DELETE", f"/Users/{zoe_id}")]
    assert profile.trace[-1].status == 204 and report.deleted == [ZOE] and ZOE not in profile.links
    assert requests.get(f"{base}/Users/{zoe_id}", headers=auth).status_code == 404


def test_reenable_sends_string_true(fake):
    d = directory()
    profile = profile_for(fake.base_url, fake.token, d)
    profile.run_cycle()
    d.disable_user(LI)
    profile.run_cycle()
    d.enable_user(LI)
    report = profile.run_cycle()
    assert profile.trace[-1].request_body == {"schemas": [PATCH], "Operations": [
        {"op": "Replace", "path": "active", "value": "True"}]}
    assert report.updated == [LI] and fake.users[profile.links[LI]]["active"] is True


def test_unassigned_user_is_disabled_then_no_longer_managed(fake):
    d = directory()
    profile = profile_for(fake.base_url, fake.token, d)
    profile.run_cycle()
    d.unassign(LI)
    assert profile.run_cycle().disabled == [LI]
    before = len(profile.trace)
    d.hard_delete_user(LI)
    profile.run_cycle()
    assert [e.method for e in profile.trace[before:]] == ["GET"]     # only the probe: no DELETE


def test_409_on_create_is_entry_conflict_not_a_match():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        # a server that hides a user from filters but still enforces uniqueness (entra.md §6)
        target = FakeScimTarget(hide_from_filter=True).install(rsps)
        target.add_user({"userName": "Zoe.OBrien@Contoso.onmicrosoft.com"})
        d = directory()
        profile = profile_for(target.base_url, target.token, d)
        report = profile.run_cycle()
        zoe_requests = [(e.method, e.status) for e in profile.trace if e.subject == ZOE]
        assert zoe_requests == [("GET", 200), ("GET", 200), ("POST", 409)]
        [failure] = report.failures
        assert (failure.object_id, failure.action) == (ZOE, "create")
        assert failure.error_code == "SystemForCrossDomainIdentityManagementEntryConflict"
        assert failure.exchange is profile.trace[3] and ZOE in profile.escrow and ZOE not in profile.links
        # escrowed: retried once the retry is due although nothing changed in the directory
        profile.clock.sleep(40 * 60)
        profile.run_cycle()
        assert [(e.method, e.status) for e in profile.trace if e.subject == ZOE][3:] == [
            ("GET", 200), ("GET", 200), ("POST", 409)]


def test_probe_failure_quarantines_the_cycle():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        target = FakeScimTarget(probe_status=404).install(rsps)
        profile = profile_for(target.base_url, target.token)
        report = profile.run_cycle()
    assert report.aborted.startswith("quarantined: SystemForCrossDomainIdentityManagementServiceIncompatible")
    assert len(profile.trace) == 1 and profile.quarantined and report.created == []


def test_probe_guid_is_reproducible_with_a_seeded_rng(fake):
    d = directory()
    a = EntraProfile(d, profile_for(fake.base_url, fake.token).client, USERS_ONLY, rng=random.Random(5))
    b = EntraProfile(d, profile_for(fake.base_url, fake.token).client, USERS_ONLY, rng=random.Random(5))
    a.test_connection()
    b.test_connection()
    assert a.trace[0].path == b.trace[0].path and PROBE.match(a.trace[0].path)


def test_a_matched_user_is_not_expected_to_have_a_primary_flag_only_a_create_sets(live_server):
    """Entra PATCHes a matched user's work email value but never its `primary` flag; only its POST body sets it."""
    client = ScimClient(live_server.base_url, live_server.token)
    client.post("/Users", {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                           "userName": "Zoe.OBrien@Contoso.onmicrosoft.com"})
    profile = profile_for(live_server.base_url, live_server.token)
    report = profile.run_cycle()
    assert report.matched == [ZOE] and report.created == [LI]
    expected = {e.object_id: e.attributes for e in profile.expected_users()}
    assert 'emails[type eq "work"].primary' not in expected[ZOE]
    assert expected[LI].get('emails[type eq "work"].primary', True) is True
    verification = Verifier(ScimClient(live_server.base_url, live_server.token)).verify_users(
        profile.expected_users(), profile.trace)
    assert verification.ok, [f.message for f in verification.findings]
