"""Entra's reactions on a simulated clock: 409 escrowed and retried with growing gaps, quarantine on a failing probe
(reduced frequency, lifting), escrow thresholds, TooManyDeletes staging, InvalidAnchor; what scim2-server refuses."""
from __future__ import annotations

from datetime import timedelta

import requests
import responses

from harness.clock import SimulatedClock
from harness.directory import Directory, DirectoryUser
from harness.sample_org import generate_org
from idp_profiles.entra import EntraProfile
from tests.fake_scim import FakeScimTarget
from tests.test_entra_generations import ANA, BEN, CAI, ENG, org

MINUTE = 60
USERS_ONLY = {"provision_groups": False}


def hidden_duplicates(rsps, d: Directory) -> FakeScimTarget:
    """A target that already holds every user but hides them from filters: every create answers 409."""
    target = FakeScimTarget(hide_from_filter=True).install(rsps)
    for user in d.users.values():
        target.add_user({"userName": user.user_principal_name})
    return target


def attempts(profile: EntraProfile, object_id: str) -> list[int]:
    return [e.status for e in profile.trace if e.subject == object_id and e.method == "POST"]


def test_409_is_an_entry_conflict_escrowed_and_retried_with_growing_gaps():
    d = Directory()
    d.add_user(DirectoryUser(ANA, "Ana.Garcia@Contoso.com", "Ana.Garcia", "Ana", "García", "Ana García"))
    d.assign(ANA)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        target = hidden_duplicates(rsps, d)
        profile = EntraProfile.configure(d, target.base_url, target.token, USERS_ONLY, clock=SimulatedClock())
        start = profile.clock.now()
        profile.run_cycle()
        assert attempts(profile, ANA) == [409] and ANA not in profile.links
        [entry] = profile.provisioning_log()
        assert entry["provisioningAction"] == "create"
        assert entry["provisioningStatusInfo"]["status"] == "failure"
        info = entry["provisioningStatusInfo"]["errorInformation"]
        assert info["errorCode"] == "SystemForCrossDomainIdentityManagementEntryConflict"
        assert info["reason"].startswith("StatusCode: 409. Web Response: userName already exists")
        assert info["reason"].endswith("This operation was retried 0 times. It will be retried again after this "
                                       "date: 2026-01-05T09:40:00Z UTC")
        assert [s["provisioningStepType"] for s in entry["provisioningSteps"]] == [
            "import", "scoping", "matching", "export"]
        # every 40 minutes a cycle runs; the escrow retries at +40, +120 (gap 80), +280 (gap 160) minutes
        for minutes in range(40, 300, 40):
            profile.clock.advance_to(start + timedelta(minutes=minutes))
            profile.run_cycle()
    failed_at = [e["activityDateTime"][11:16] for e in profile.provisioning_log()]
    assert failed_at == ["09:00", "09:40", "11:00", "13:40"]          # +0, +40, +120, +280 minutes
    assert attempts(profile, ANA) == [409] * 4


def test_probe_404_quarantines_retries_at_6_12_24_hours_and_a_good_cycle_lifts_it():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        target = FakeScimTarget(probe_status=404).install(rsps)
        profile = EntraProfile.configure(org(), target.base_url, target.token, clock=SimulatedClock())
        start = profile.clock.now()
        report = profile.run_cycle()
        assert report.aborted.startswith("quarantined: SystemForCrossDomainIdentityManagementServiceIncompatible")
        status = profile.job_status()
        assert status["code"] == "Quarantine"
        assert status["quarantine"]["reason"] == "EncounteredQuarantineException"
        assert status["quarantine"]["nextAttempt"] == "2026-01-05T15:00:00Z"          # 6 h later
        assert status["quarantine"]["error"]["message"].startswith("An HTTP/404 Not Found response was returned")
        # reduced frequency: the 40-minute runs before the next attempt send nothing at all
        sent = len(profile.trace)
        for minutes in (40, 80, 359):
            profile.clock.advance_to(start + timedelta(minutes=minutes))
            assert "next attempt 2026-01-05T15:00:00Z" in profile.run_cycle().aborted
        assert len(profile.trace) == sent == 1
        profile.clock.advance_to(start + timedelta(hours=6))
        profile.run_cycle()                                            # still 404: next gap 12 h
        assert len(profile.trace) == 2
        assert profile.job_status()["quarantine"]["nextAttempt"] == "2026-01-06T03:00:00Z"
        assert profile.job_status()["quarantine"]["seriesCount"] == 2
        target.probe_status = None                                     # the admin fixed the tenant URL
        profile.clock.advance_to(start + timedelta(hours=18))
        report = profile.run_cycle()
        assert report.aborted is None and report.created == [ANA, BEN, CAI, ENG]
        assert profile.job_status()["code"] == "Active" and profile.job_status()["quarantine"] is None


def test_quarantine_lasting_four_weeks_disables_the_job():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        target = FakeScimTarget(probe_status=404).install(rsps)
        profile = EntraProfile.configure(org(), target.base_url, target.token, clock=SimulatedClock())
        for _ in range(40):
            profile.run_cycle()
            profile.clock.sleep(24 * 3600)
    assert profile.job_disabled and profile.job_status()["code"] == "Paused"
    assert profile.cycles[-1].aborted == "job disabled after 4 weeks in quarantine"


def test_401_at_start_is_a_credentials_quarantine(fake):
    profile = EntraProfile.configure(org(), fake.base_url, "wrong", clock=SimulatedClock())
    report = profile.run_cycle()
    assert report.probe.credentials_rejected and len(profile.trace) == 1
    assert profile.job_status()["quarantine"]["reason"] == "EncounteredQuarantineException"
    assert "invalid credentials" in profile.job_status()["quarantine"]["error"]["message"]


def test_escrow_thresholds_quarantine_a_200_user_org_when_lowered():
    """The documented thresholds (5,000 / 40 % / 40,000 / 60,000) scaled down so a 200-user org reaches them."""
    d = generate_org(seed=1, users=200)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        target = hidden_duplicates(rsps, d)
        settings = {**USERS_ONLY, "escrow_evaluation_start": 50, "escrow_base_threshold": 400,
                    "escrow_total_threshold": 600}
        profile = EntraProfile.configure(d, target.base_url, target.token, settings, clock=SimulatedClock())
        report = profile.run_cycle()
    assert len(report.failures) > 150 and report.aborted == "quarantined: EncounteredEscrowProportionThreshold"
    assert profile.job_status()["quarantine"]["reason"] == "EncounteredEscrowProportionThreshold"
    assert profile.job_status()["lastExecution"]["state"] == "Failed"


def test_escrow_base_and_total_thresholds():
    for settings, reason in (({"escrow_evaluation_start": 1, "escrow_base_threshold": 2,
                               "escrow_proportion_threshold": 1.0}, "EncounteredBaseEscrowThreshold"),
                             ({"escrow_total_threshold": 2}, "EncounteredTotalEscrowThreshold")):
        d = org()
        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            target = hidden_duplicates(rsps, d)
            profile = EntraProfile.configure(d, target.base_url, target.token, {**USERS_ONLY, **settings})
            profile.run_cycle()
        assert profile.job_status()["quarantine"]["reason"] == reason


def test_too_many_deletes_stages_them_until_the_admin_allows_deletes(fake):
    d = org()
    profile = EntraProfile.configure(d, fake.base_url, fake.token, {"accidental_deletions_threshold": 1},
                                     clock=SimulatedClock())
    profile.run_cycle()
    d.disable_user(ANA)
    d.unassign(ENG)                                  # BEN and CAI leave scope, the group goes too
    profile.clock.sleep(40 * MINUTE)
    sent = len(profile.trace)
    report = profile.run_cycle()
    assert report.aborted.startswith("quarantined: TooManyDeletes: 4 deletions exceed")
    assert [e.purpose for e in profile.trace[sent:]] == ["test-connection", "test-connection"]
    staged = [e for e in profile.provisioning_log() if e["provisioningAction"] == "stageddelete"]
    assert sorted(e["sourceIdentity"]["id"] for e in staged) == sorted([ANA, BEN, CAI, ENG])
    assert {e["provisioningStatusInfo"]["errorInformation"]["errorCode"] for e in staged} == {"TooManyDeletes"}
    status = profile.job_status()["quarantine"]
    assert status["reason"] == "TooManyDeletes" and status["nextAttempt"] is None
    profile.clock.sleep(3 * 24 * 3600)
    assert profile.run_cycle().aborted == "quarantined (TooManyDeletes): waiting for the admin"
    profile.allow_deletes()
    report = profile.run_cycle()
    assert sorted(report.disabled) == sorted([ANA, BEN, CAI]) and report.deleted == [ENG]
    assert profile.job_status()["code"] == "Active"
    assert all(u["active"] is False for u in fake.users.values()) and fake.groups == {}


def test_a_user_deleted_behind_entras_back_is_an_invalid_anchor(fake):
    d = org()
    profile = EntraProfile.configure(d, fake.base_url, fake.token, USERS_ONLY, clock=SimulatedClock())
    profile.run_cycle()
    del fake.users[profile.links[ANA]]
    d.update_user(ANA, job_title="Buyer")
    profile.clock.sleep(40 * MINUTE)
    report = profile.run_cycle()
    [failure] = report.failures
    assert (failure.error_code, failure.action, failure.exchange.status) == ("InvalidAnchor", "read", 404)
    assert "no longer exists" in failure.message and ANA in profile.escrow


def test_scim2_server_rejects_entras_group_create_and_default_remove_member(scim2_target):
    """What scim2-server answers to Entra's group traffic: the ADSCIM schema on POST /Groups, and the default
    generation's `Remove` + `members` + value array; the flag's `members[value eq "…"]` form is accepted."""
    base, token = scim2_target
    auth = {"Authorization": f"Bearer {token}"}
    d = org()
    profile = EntraProfile.configure(d, base, token, clock=SimulatedClock())
    report = profile.run_cycle()
    [create] = [f for f in report.failures if f.object_id == ENG]
    assert (create.action, create.exchange.status) == ("create", 400)
    assert create.exchange.response_body["detail"] == ("Unknown extension schemas: "
                                                       "http://schemas.microsoft.com/2006/11/ResourceManagement/"
                                                       "ADSCIM/2.0/Group")

    for flag, status in ((False, 400), (True, 204)):
        d = org()
        url = base.replace("/v2", f"{int(flag)}/v2")            # a fresh tenant each
        profile = EntraProfile.configure(d, url + ("?aadOptscim062020" if flag else ""), token,
                                         {"group_create_adscim_schema": False}, clock=SimulatedClock())
        profile.run_cycle()
        cai = profile.links[CAI]
        d.remove_member(ENG, CAI)
        profile.clock.sleep(40 * MINUTE)
        report = profile.run_cycle()
        [remove] = [e for e in profile.trace if e.purpose == "members" and e.request_body["Operations"][0]["op"]
                    .lower() == "remove"]
        assert remove.status == status
        group = requests.get(f"{profile.client.base_url}/Groups/{profile.group_links[ENG]}", headers=auth).json()
        members = [m["value"] for m in group["members"]]
        if flag:
            assert remove.request_body["Operations"] == [{"op": "remove", "path": f'members[value eq "{cai}"]'}]
            assert members == [profile.links[BEN]]
        else:
            assert remove.request_body["Operations"] == [
                {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": cai}]}]
            assert remove.response_body == {
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"], "status": "400",
                "scimType": "invalidValue",
                "detail": "a remove operation carries no value, a filter in the path selects what to remove"}
            [failure] = [f for f in report.failures if f.action == "members"]
            assert failure.error_code == "SystemForCrossDomainIdentityManagementServiceIncompatible"
            assert sorted(members) == sorted([cai, profile.links[BEN]])      # CAI is still a member
