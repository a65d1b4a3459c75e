"""Okta's traffic request by request against a pretend target: connector test, To App save, import paging,
assignment push, profile push, deactivation and reactivation per flavour, what sends nothing, and task errors."""
from __future__ import annotations

import pytest

from harness.directory import Directory, DirectoryGroup, DirectoryUser
from idp_profiles.okta import OktaProfile
from idp_profiles.okta.bodies import okta_id
from tests.okta_target import OktaFakeTarget

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def person(key: str, given: str, family: str, mail: str | None = "") -> DirectoryUser:
    upn = f"{given}.{family}@Contoso.com"
    return DirectoryUser(object_id=f"id-{key}", user_principal_name=upn, mail_nickname=key, given_name=given,
                         surname=family, display_name=f"{given} {family}",
                         mail=upn.lower() if mail == "" else mail, job_title="Engineer", department="R&D")


def small_org() -> Directory:
    directory = Directory()
    for user in (person("zoe", "Zoë", "OBrien"), person("sean", "Seán", "Walsh", mail=None),
                 person("ana", "Ana", "Núñez")):
        directory.add_user(user)
        directory.assign(user.object_id)
    directory.add_group(DirectoryGroup("grp-eng", "Engineering", "eng", member_ids=["id-zoe", "id-sean"]))
    return directory


@pytest.fixture
def target(rsps) -> OktaFakeTarget:
    return OktaFakeTarget().install(rsps)


def okta(target: OktaFakeTarget, directory: Directory | None = None, **settings) -> OktaProfile:
    return OktaProfile.configure(directory or small_org(), target.base_url, target.token, settings=settings)


def lines(profile: OktaProfile, start: int = 0) -> list[str]:
    return [e.request_line() for e in profile.trace[start:]]


ZOE_LOOKUP = "GET /Users?filter=userName%20eq%20%22Zo%C3%AB.OBrien%40Contoso.com%22&startIndex=1&count=100"


def provisioned(target, directory=None, **settings) -> OktaProfile:
    profile = okta(target, directory, **settings)
    profile.run_cycle()
    return profile


# -- connector test and To App save -------------------------------------------------------------------------------
def test_connector_test_is_one_get_with_okta_headers(target, rsps):
    profile = okta(target)
    probe = profile.test_connection()
    assert probe.ok and probe.message == "Connector configured successfully"
    assert lines(profile) == ["GET /Users?startIndex=1&count=2"]
    headers = rsps.calls[0].request.headers
    assert headers["User-Agent"] == "Okta SCIM Client 1.0.0"
    assert headers["Accept"] == "application/scim+json"
    assert headers["Authorization"] == "Bearer secret"
    assert "Content-Type" not in headers


@pytest.mark.parametrize("auth_mode, token_field, sent, accepted", [
    ("header_bearer", "token", "Bearer secret", True),
    ("header_bearer", "bearer_token", "Bearer Bearer secret", False),
    ("header_verbatim", "token", "secret", False),            # a doc saying "paste your token" fails here
    ("header_verbatim", "bearer_token", "Bearer secret", True),
])
def test_http_header_auth_forms(target, rsps, auth_mode, token_field, sent, accepted):
    probe = okta(target, auth_mode=auth_mode, token_field=token_field).test_connection()
    assert rsps.calls[0].request.headers["Authorization"] == sent
    assert probe.ok is accepted
    if not accepted:
        assert probe.credentials_rejected
        assert probe.message == "Error authenticating: Unauthorized. Errors reported by remote server: bad token"


@pytest.mark.parametrize("import_groups, expected", [
    (True, ["GET /Users?startIndex=1&count=2", "GET /Groups?startIndex=1&count=100"]),
    (False, ["GET /Users?startIndex=1&count=2"]),
])
def test_saving_to_app_fetches_groups_only_with_import_groups(target, import_groups, expected):
    target.add_group("Existing")
    profile = okta(target, import_groups=import_groups, push_new_users=False)
    assert profile.save_to_app().ok
    assert lines(profile) == expected
    assert profile.app_groups == ({"existing": next(iter(target.groups))} if import_groups else None)


def test_connector_test_rejects_string_total_results(target):
    target.script(200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": "0",
                        "Resources": []})
    probe = okta(target).test_connection()
    assert not probe.ok and "integer totalResults" in probe.message


# -- import -------------------------------------------------------------------------------------------------------
def seed_app_users(target: OktaFakeTarget, count: int) -> None:
    for n in range(count):
        target.add_user({"userName": f"app.user{n:03}@contoso.com", "active": n % 10 != 0})


def test_import_pages_by_100_and_skips_inactive(target):
    directory = small_org()
    seed_app_users(target, 230)
    zoe = target.add_user({"userName": "zoë.obrien@contoso.com", "active": True})  # case differs from the UPN
    target.add_user({"userName": "Ana.Núñez@Contoso.com", "active": True})
    directory.unassign("id-ana")
    profile = okta(target, directory)
    result = profile.import_now()
    assert lines(profile) == ["GET /Users?startIndex=1&count=100", "GET /Users?startIndex=101&count=100",
                              "GET /Users?startIndex=201&count=100", "GET /Groups?startIndex=1&count=100"]
    assert result.scanned == 232
    assert len(result.removed) == 23                          # every tenth app user is inactive: not imported
    assert result.unmatched == ["ana.núñez@contoso.com"]       # an Okta user, but not assigned to the app
    assert len(result.new) == 230 - 23
    assert result.matched == ["zoë.obrien@contoso.com"]        # matched case-insensitively, linked silently
    assert profile.app_users["id-zoe"].target_id == zoe["id"] and len(profile.trace) == 4


@pytest.mark.parametrize("paging, scanned", [("count", 150), ("itemsPerPage", 250)])
def test_import_against_a_server_capping_pages(rsps, paging, scanned):
    """Okta's docs advance startIndex by 100 (unconfirmed whether it honours itemsPerPage): a server serving 50 per
    page loses half its users under the documented behaviour."""
    target = OktaFakeTarget(page_cap=50).install(rsps)
    seed_app_users(target, 250)
    profile = okta(target, import_paging=paging, import_groups=False)
    result = profile.import_now()
    assert result.scanned == scanned
    assert lines(profile)[1] == ("GET /Users?startIndex=101&count=100" if paging == "count"
                                 else "GET /Users?startIndex=51&count=100")


# -- push new user --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flavour", ["aiw", "oin"])
def test_push_new_user_is_lookup_then_okta_post(target, rsps, flavour):
    profile = okta(target, flavour=flavour, import_groups=False)
    report = profile.run_cycle()
    assert lines(profile) == [
        "GET /Users?startIndex=1&count=2",
        ZOE_LOOKUP, "POST /Users",
        "GET /Users?filter=userName%20eq%20%22Se%C3%A1n.Walsh%40Contoso.com%22&startIndex=1&count=100", "POST /Users",
        "GET /Users?filter=userName%20eq%20%22Ana.N%C3%BA%C3%B1ez%40Contoso.com%22&startIndex=1&count=100",
        "POST /Users"]
    assert report.created == ["id-zoe", "id-sean", "id-ana"]
    post = profile.trace[2].request_body
    password = post.pop("password")
    assert len(password) == 8 and password.isalnum()
    assert post == {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "Zoë.OBrien@Contoso.com",
        "name": {"givenName": "Zoë", "familyName": "OBrien"},
        "emails": [{"primary": True, "value": "zoë.obrien@contoso.com", "type": "work"}],
        "displayName": "Zoë OBrien", "locale": "en-US", "externalId": okta_id("00u", "id-zoe"), "groups": [],
        "active": True}
    assert post["externalId"].startswith("00u") and len(post["externalId"]) == 20
    assert "emails" not in profile.trace[4].request_body                  # Seán has no email: left out
    assert rsps.calls[2].request.headers["Content-Type"] == "application/scim+json; charset=utf-8"


def test_lookup_can_encode_spaces_as_plus(target):
    profile = okta(target, filter_space="+", import_groups=False)
    profile.run_cycle()
    assert profile.trace[1].path == ("/Users?filter=userName+eq+%22Zo%C3%AB.OBrien%40Contoso.com%22"
                                     "&startIndex=1&count=100")


def test_enterprise_mapping_adds_title_and_department(target):
    profile = okta(target, enterprise_mapping=True, locale=None, import_groups=False)
    profile.run_cycle()
    post = profile.trace[2].request_body
    assert post["schemas"][1] == "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    assert post["title"] == "Engineer" and "locale" not in post
    assert post["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"] == {"department": "R&D"}


@pytest.mark.parametrize("flavour", ["aiw", "oin"])
def test_lookup_hit_links_and_pushes_profile_over_the_server_body(target, flavour):
    existing = target.add_user({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                                "userName": "zoë.obrien@contoso.com", "nickName": "Zo", "active": True,
                                "name": {"givenName": "Z", "familyName": "O'Brien", "formatted": "Z O'Brien"}})
    profile = okta(target, flavour=flavour, import_groups=False)
    report = profile.run_cycle()
    path = f"/Users/{existing['id']}"
    assert lines(profile)[1:4] == [ZOE_LOOKUP, f"GET {path}", f"PUT {path}"]
    assert report.matched == ["id-zoe"] and "id-zoe" not in report.created
    put = profile.trace[3].request_body
    assert put["id"] == existing["id"] and put["meta"] == {"resourceType": "User"} and put["nickName"] == "Zo"
    assert put["name"] == {"givenName": "Zoë", "familyName": "OBrien", "formatted": "Z O'Brien"}
    assert put["userName"] == "Zoë.OBrien@Contoso.com" and put["active"] is True
    assert "externalId" not in put and "password" not in put


@pytest.mark.parametrize("flavour, middle", [
    ("aiw", []),
    ("oin", ["PATCH"]),
])
def test_lookup_hit_on_inactive_user_reactivates_it(target, flavour, middle):
    existing = target.add_user({"userName": "zoë.obrien@contoso.com", "active": False})
    profile = okta(target, flavour=flavour, import_groups=False)
    report = profile.run_cycle()
    methods = [e.method for e in profile.trace[1:] if e.subject == "id-zoe"]
    assert methods == ["GET", *middle, "GET", "PUT"]
    if flavour == "oin":
        assert profile.trace[2].request_body == {"schemas": [PATCH_OP], "Operations": [
            {"op": "replace", "value": {"active": True}}]}
    assert target.users[existing["id"]]["active"] is True
    assert report.matched == ["id-zoe"] and report.created == ["id-sean", "id-ana"]


# -- profile updates, deactivation, reactivation -------------------------------------------------------------------
@pytest.mark.parametrize("flavour", ["aiw", "oin"])
def test_profile_update_is_get_then_put_echoing_the_get(rsps, flavour):
    target = OktaFakeTarget(leak_password=True).install(rsps)
    directory = small_org()
    profile = provisioned(target, directory, flavour=flavour, import_groups=False)
    zoe = target.find("Zoë.OBrien@Contoso.com")
    zoe["title"] = "kept by the server"
    start = len(profile.trace)
    directory.update_user("id-zoe", surname="Ó Súilleabháin", display_name="Zoë Ó Súilleabháin")
    directory.update_user("id-ana", manager_id="id-zoe")              # not mapped: nothing to push
    report = profile.run_cycle()
    assert lines(profile, start) == [f"GET /Users/{zoe['id']}", f"PUT /Users/{zoe['id']}"]
    got, put = profile.trace[start].response_body, profile.trace[start + 1].request_body
    assert put == {**got, "name": {**got["name"], "familyName": "Ó Súilleabháin"},
                   "displayName": "Zoë Ó Súilleabháin"}
    assert put["password"] == got["password"]               # a leaked password comes straight back
    assert report.updated == ["id-zoe"]


def test_aiw_deactivation_flips_only_active_in_the_get_body(target):
    directory = small_org()
    profile = provisioned(target, directory, import_groups=False)
    zoe = target.find("Zoë.OBrien@Contoso.com")
    start = len(profile.trace)
    directory.disable_user("id-zoe")
    report = profile.run_cycle()
    assert lines(profile, start) == [f"GET /Users/{zoe['id']}", f"PUT /Users/{zoe['id']}"]
    assert profile.trace[start + 1].request_body == {**profile.trace[start].response_body, "active": False}
    assert report.disabled == ["id-zoe"] and target.users[zoe["id"]]["active"] is False


def test_oin_deactivation_is_one_pathless_patch(target):
    directory = small_org()
    profile = provisioned(target, directory, flavour="oin", import_groups=False)
    zoe = target.find("Zoë.OBrien@Contoso.com")
    start = len(profile.trace)
    directory.unassign("id-zoe")
    profile.run_cycle()
    assert lines(profile, start) == [f"PATCH /Users/{zoe['id']}"]
    assert profile.trace[start].request_body == {"schemas": [PATCH_OP], "Operations": [
        {"op": "replace", "value": {"active": False}}]}


@pytest.mark.parametrize("flavour, expected", [
    ("aiw", ["lookup", "GET", "PUT"]),
    ("oin", ["lookup", "PATCH", "GET", "PUT"]),
])
def test_reactivation_after_disable_and_enable(target, flavour, expected):
    directory = small_org()
    profile = provisioned(target, directory, flavour=flavour, import_groups=False)
    directory.disable_user("id-ana")
    profile.run_cycle()
    start = len(profile.trace)
    directory.enable_user("id-ana")
    profile.run_cycle()
    sent = ["lookup" if e.purpose == "lookup" else e.method for e in profile.trace[start:]]
    assert sent == expected
    assert profile.trace[-1].request_body["active"] is True
    assert target.find("Ana.Núñez@Contoso.com")["active"] is True


def test_suspend_and_deleting_a_deactivated_user_send_nothing(target):
    directory = small_org()
    profile = provisioned(target, directory, import_groups=False)
    start = len(profile.trace)
    directory.suspend_user("id-zoe")
    directory.unsuspend_user("id-zoe")
    profile.run_cycle()
    directory.disable_user("id-ana")
    profile.run_cycle()
    deactivation = lines(profile, start)
    directory.hard_delete_user("id-ana")
    profile.run_cycle()
    assert lines(profile, start) == deactivation and [m.split()[0] for m in deactivation] == ["GET", "PUT"]
    assert not any(e.method == "DELETE" for e in profile.trace)


def test_deleting_an_active_user_deactivates_never_deletes(target):
    directory = small_org()
    profile = provisioned(target, directory, flavour="oin", import_groups=False)
    start = len(profile.trace)
    directory.hard_delete_user("id-zoe")
    profile.run_cycle()
    assert [e.method for e in profile.trace[start:]] == ["PATCH"]
    assert {e.presence for e in profile.expected_users() if e.object_id == "id-zoe"} == {"inactive"}


# -- reactions ----------------------------------------------------------------------------------------------------
def test_conflict_stops_the_create_and_becomes_a_task(rsps):
    target = OktaFakeTarget(hide_from_filter=True).install(rsps)
    target.add_user({"userName": "zoë.obrien@contoso.com", "active": True})
    directory = small_org()
    profile = provisioned(target, directory, import_groups=False)
    zoe_requests = [e.request_line().split("?")[0] for e in profile.trace if e.subject == "id-zoe"]
    assert zoe_requests == ["GET /Users", "POST /Users"]
    failure = profile.cycles[-1].failures[0]
    assert failure.error_code == "Conflict" and failure.exchange.status == 409
    expected = ("Automatic provisioning of user Zoë OBrien to app SCIM 2.0 app failed: Error while creating user "
                "Zoë.OBrien@Contoso.com: Conflict. Errors reported by remote server: userName already exists")
    assert failure.message == expected
    row = next(r for r in profile.admin_view().users if r.login == "Zoë.OBrien@Contoso.com")
    assert row.status == "Error" and row.task.message == expected
    assert profile.admin_view().lines()[-2:] == ["Tasks (1):", f"  Application assignments in error: {expected}"]
    start = len(profile.trace)
    directory.update_user("id-zoe", given_name="Zoe")          # a profile change does not retry the create
    profile.run_cycle()
    assert lines(profile, start) == []
    directory.unassign("id-zoe")
    directory.assign("id-zoe")                                  # reassigning does
    profile.run_cycle()
    assert [e.method for e in profile.trace[start:]] == ["GET", "POST"]


@pytest.mark.parametrize("flavour", ["aiw", "oin"])
def test_not_found_during_update_halts_the_user(target, flavour):
    directory = small_org()
    profile = provisioned(target, directory, flavour=flavour, import_groups=False)
    zoe = target.find("Zoë.OBrien@Contoso.com")
    del target.users[zoe["id"]]                                 # removed behind Okta's back
    start = len(profile.trace)
    directory.update_user("id-zoe", given_name="Zoe")
    report = profile.run_cycle()
    assert lines(profile, start) == [f"GET /Users/{zoe['id']}"]   # no search, no POST, no retry
    assert report.failures[0].message.startswith(
        "Automatic profile push of user Zoë OBrien to app SCIM 2.0 app failed: Error while trying to push profile "
        "update for Zoë.OBrien@Contoso.com: Not Found. Errors reported by remote server: Resource not found")


def test_non_json_error_page_reads_as_invalid_json(target):
    target.script(200, {"schemas": ["urn:ietf:params:scim:api:messages:2.0:ListResponse"], "totalResults": 0,
                        "Resources": []})
    target.script(502, "error code: 502", {"Content-Type": "text/plain"})
    profile = okta(target, import_groups=False)
    profile.run_cycle()
    assert profile.cycles[-1].failures[0].message.endswith(
        "Error while verifying if user Zoë.OBrien@Contoso.com exists: Bad Gateway. Errors reported by remote server: "
        "Invalid JSON: Unrecognized token 'error': was expecting (JSON String, Number, Array, Object or token "
        "'null', 'true' or 'false')")


def test_throttling_waits_retry_after_then_doubles_on_the_clock(target):
    profile = okta(target, import_groups=False)
    started = profile.clock.now()
    target.script(429, {"detail": "slow down"}, {"Retry-After": "120"})
    target.script(429, {"detail": "slow down"})                       # no Retry-After: doubling goes on
    target.script(429, {"detail": "slow down"}, {"Retry-After": "Wed, 21 Oct 2026 07:28:00 GMT"})
    assert profile.test_connection().ok
    assert lines(profile) == ["GET /Users?startIndex=1&count=2"] * 4
    assert (profile.clock.now() - started).total_seconds() == 120 + 240 + 480
    assert [e.event_type for e in profile.system_log] == ["application.integration.rate_limit_exceeded"] * 3
    assert [e.message.rsplit(" ", 2)[1] for e in profile.system_log] == ["120", "240", "480"]


def test_throttling_without_retry_after_starts_at_five_minutes_and_gives_up_after_ten(target):
    directory = small_org()
    profile = okta(target, directory, import_groups=False)
    profile.run_cycle()
    started, start = profile.clock.now(), len(profile.trace)
    target.script(429, {"detail": "rate limited"}, times=10)
    directory.update_user("id-zoe", given_name="Zoe")
    report = profile.run_cycle()
    assert lines(profile, start) == [f"GET /Users/{target.find('Zoë.OBrien@Contoso.com')['id']}"] * 10
    assert (profile.clock.now() - started).total_seconds() == 300 * (2 ** 9 - 1)
    assert report.failures[0].message.endswith("Too Many Requests. Errors reported by remote server: rate limited")


def test_settings_are_checked(target):
    with pytest.raises(ValueError, match="flavour must be one of aiw, oin"):
        okta(target, flavour="classic")
    with pytest.raises(ValueError, match="no setting"):
        okta(target, flavor="aiw")
    with pytest.raises(ValueError, match="Okta has no action 'approve'"):
        okta(target).apply_scenario_action("approve", {})
