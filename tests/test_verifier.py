import responses

from harness.transport import ScimClient
from harness.verifier import TargetSchemas, Verifier
from idp_profiles.entra import EntraProfile
from tests.fake_scim import ENTERPRISE, SEED_SCHEMAS, FakeScimTarget
from tests.test_entra_basic import LI, ZOE, directory


def simulate(target: FakeScimTarget, rsps, changes=True):
    """Initial cycle, rename Zoë + disable Li (+ nothing else), incremental cycle, verify."""
    target.install(rsps)
    d = directory()
    profile = EntraProfile.configure(d, target.base_url, target.token)
    profile.run_cycle()
    if changes:
        d.update_user(ZOE, surname="Ó Súilleabháin", display_name="Zoë Ó Súilleabháin",
                      user_principal_name="Zoe.OSuilleabhain@Contoso.onmicrosoft.com")
        d.disable_user(LI)
        profile.run_cycle()
    verification = Verifier(ScimClient(target.base_url, target.token)).verify_users(profile.expected_users(),
                                                                                   profile.trace)
    return profile, verification


def test_a_correct_target_passes(rsps):
    profile, result = simulate(FakeScimTarget(), rsps)
    assert result.ok, result.findings
    assert result.checked_users == 4
    # Zoë: 11 mapped values + emails primary; Li inactive: active only
    assert result.checked_attributes == 12 + 1
    assert result.unsupported == {}


def test_a_target_that_drops_updates_fails_with_the_patch_as_cause(rsps):
    profile, result = simulate(FakeScimTarget(drop_patches=True), rsps)
    by_attribute = {(f.object_id, f.attribute): f for f in result.findings}
    rename = profile.trace[[e.purpose for e in profile.trace].index("update")]
    disable = profile.trace[[e.purpose for e in profile.trace].index("disable")]
    assert set(by_attribute) == {(ZOE, "userName"), (ZOE, "displayName"), (ZOE, "name.familyName"),
                                 (ZOE, "name.formatted"), (LI, "active")}
    user_name = by_attribute[(ZOE, "userName")]
    assert user_name.kind == "mismatch" and user_name.cause is rename
    assert (user_name.expected, user_name.actual) == ("Zoe.OSuilleabhain@Contoso.onmicrosoft.com",
                                                      "Zoe.OBrien@Contoso.onmicrosoft.com")
    # found by the id the target returned on create, since the userName lookup finds nothing
    assert user_name.evidence.path == f"/Users/{profile.links[ZOE]}"
    active = by_attribute[(LI, "active")]
    assert active.kind == "still-active" and active.cause is disable and active.actual is True


def test_a_target_that_ignores_deletes_fails(rsps):
    target = FakeScimTarget(ignore_deletes=True).install(rsps)
    d = directory()
    profile = EntraProfile.configure(d, target.base_url, target.token)
    profile.run_cycle()
    d.hard_delete_user(LI)
    profile.run_cycle()
    result = Verifier(ScimClient(target.base_url, target.token)).verify_users(profile.expected_users(),
                                                                             profile.trace)
    [finding] = result.findings
    assert (finding.object_id, finding.kind) == (LI, "unexpected")
    assert finding.cause.method == "DELETE" and finding.cause.status == 204


def test_a_target_that_keeps_string_booleans_fails(rsps):
    profile, result = simulate(FakeScimTarget(booleans_verbatim=True), rsps)
    [finding] = result.findings
    assert (finding.object_id, finding.attribute, finding.actual, finding.expected) == (LI, "active", "False", False)
    assert finding.message == 'active is "False", expected false'


def test_attributes_the_target_does_not_advertise_are_noted_not_failed(rsps):
    # seed-like contract: drops displayName, title and the enterprise extension silently
    target = FakeScimTarget(schemas=SEED_SCHEMAS, drop_attributes=("displayName", "title", ENTERPRISE))
    profile, result = simulate(target, rsps, changes=False)
    assert result.ok, result.findings
    assert set(result.unsupported) == {"displayName", "title", f"{ENTERPRISE}:employeeNumber",
                                       f"{ENTERPRISE}:department"}
    assert all(v.startswith("not supported by target") for v in result.unsupported.values())


def test_a_dropped_advertised_attribute_fails(rsps):
    # advertises title (FULL_SCHEMAS) but does not store it
    profile, result = simulate(FakeScimTarget(drop_attributes=("title",)), rsps, changes=False)
    [finding] = result.findings
    assert (finding.object_id, finding.attribute, finding.actual) == (ZOE, "title", None)
    assert finding.cause.method == "POST"


def test_missing_user_without_any_request(rsps):
    target = FakeScimTarget().install(rsps)
    profile = EntraProfile.configure(directory(), target.base_url, target.token)   # never runs a cycle
    result = Verifier(ScimClient(target.base_url, target.token)).verify_users(profile.expected_users(), [])
    missing = {f.object_id: f for f in result.findings}
    assert set(missing) == {ZOE, LI}                 # OFF (disabled) and OUT (unassigned) may be absent
    assert missing[ZOE].cause is None and "no request was sent" in missing[ZOE].message


def test_disabled_user_removed_by_the_target_is_missing(rsps):
    target = FakeScimTarget().install(rsps)
    d = directory()
    profile = EntraProfile.configure(d, target.base_url, target.token)
    profile.run_cycle()
    d.disable_user(LI)
    profile.run_cycle()
    del target.users[profile.links[LI]]              # a server that deletes on deactivation
    result = Verifier(ScimClient(target.base_url, target.token)).verify_users(profile.expected_users(),
                                                                             profile.trace)
    [finding] = result.findings
    assert (finding.object_id, finding.kind) == (LI, "missing")


def test_unreadable_schemas_means_compare_everything(rsps):
    rsps.add(responses.GET, "https://t.test/v2/Schemas", status=404)
    schemas, note = TargetSchemas.read(ScimClient("https://t.test/v2", "x"))
    assert note.startswith("GET /Schemas answered 404")
    assert schemas.supports("title") and schemas.supports(f"{ENTERPRISE}:department")


def test_schema_support_resolution():
    schemas = TargetSchemas(SEED_SCHEMAS)
    assert schemas.supports('emails[type eq "work"].value') and schemas.supports("name.givenName")
    assert schemas.supports("externalId") and schemas.supports("USERNAME")
    assert not schemas.supports("title") and not schemas.supports("name.honorificPrefix")
    assert not schemas.supports(f"{ENTERPRISE}:department")


def test_rename_refused_because_another_object_holds_the_name(scim2_target):
    """The verifier judges the object the target said is this user, not any object with the right userName."""
    import requests
    base, token = scim2_target
    d = directory()
    profile = EntraProfile.configure(d, base, token)
    profile.run_cycle()
    squatter = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "Zoe.OSuilleabhain@Contoso.onmicrosoft.com", "displayName": "Zoë Ó Súilleabháin",
                "name": {"givenName": "Zoë", "familyName": "Ó Súilleabháin", "formatted": "Zoë Ó Súilleabháin"}}
    assert requests.post(f"{base}/Users", json=squatter, headers={"Authorization": f"Bearer {token}"}).ok
    d.update_user(ZOE, surname="Ó Súilleabháin", display_name="Zoë Ó Súilleabháin",
                  user_principal_name="Zoe.OSuilleabhain@Contoso.onmicrosoft.com")
    report = profile.run_cycle()
    assert [f.error_code for f in report.failures] == ["SystemForCrossDomainIdentityManagementEntryConflict"]
    result = Verifier(ScimClient(base, token)).verify_users(profile.expected_users(), profile.trace)
    user_name = next(f for f in result.findings if f.attribute == "userName")
    assert user_name.object_id == ZOE and user_name.actual == "Zoe.OBrien@Contoso.onmicrosoft.com"
    assert (user_name.cause.method, user_name.cause.status) == ("PATCH", 409)
