"""Scenario runs end to end: every shipped scenario is green against the embedded server; a target that drops a
change fails verification naming it; --report/--junit/--trace are complete; several IdPs; --realtime."""
import json
import re
from contextlib import ExitStack
from dataclasses import replace
from datetime import timedelta
from xml.etree import ElementTree as ET

import pytest

from harness.cli import main
from harness.scenario_files import library, load_scenario, parse_scenario
from harness.simulate import Target, embedded_target, run_simulation
from harness.verdicts import EXPECTED_REFUSAL, HARNESS_LIMITATION, SERVER_BUG
from idp_profiles import PROFILES
from idp_profiles.base import Cadence
from idp_profiles.entra import EntraProfile
from tests.fake_scim import FakeScimTarget

SMALL = 25          # users: shipped scenarios are run small here; their full size runs from the CLI


def _embedded(server):
    return Target(server.base_url, lambda workspace: server.token)


@pytest.mark.parametrize("name", sorted(library()))
def test_shipped_scenario_runs_green_on_the_embedded_server(name):
    scenario = load_scenario(name)
    missing = [s.profile for s in scenario.idps if s.profile not in PROFILES]
    if missing:
        pytest.skip(f"needs the {', '.join(missing)} profile, not registered on this branch")
    if scenario.directory.users and scenario.directory.users > SMALL:
        scenario = replace(scenario, directory=replace(scenario.directory, users=SMALL))
    with ExitStack() as stack:
        run = run_simulation(scenario, embedded_target(stack))
    bugs = [f"{f.label}: {f.message}" for f in run.findings() if f.category == SERVER_BUG]
    assert run.passed and not bugs, bugs
    assert run.events or not scenario.events
    cycles = run.idps[0].cycles
    assert cycles and cycles[0].report.created
    if name == "email-change":
        refused = [f for f in run.findings() if f.category == EXPECTED_REFUSAL]
        assert refused and refused[0].attribute == 'emails[type eq "work"].value'
        assert any(f.error_code.endswith("ServiceIncompatible") for c in cycles for f in c.report.failures)
    if name == "token-rotation":
        assert any(c.report.aborted and "HTTP 401" in c.report.aborted for c in cycles)
        assert not cycles[-1].report.aborted                   # the admin pasted the new token
    if name == "outage-and-recovery":
        seen = {e.status for e in run.idps[0].profile.trace} | {
            "drop" for e in run.idps[0].profile.trace if e.status is None}
        assert {503, 429, "drop"} <= seen


RENAME = '''
until = "40m"
[directory]
sample_org = { users = 8, groups = 2, seed = 2 }
[[idp]]
profile = "entra"
[[events]]
at = "10m"
action = "rename"
user = "pick:3"
family_name = "Ó Súilleabháin"
[[events]]
at = "10m"
action = "change_email"
user = "pick:4"
'''


def _fake(rsps, **faults):
    target = FakeScimTarget(**faults).install(rsps)
    return target, Target(target.base_url, lambda workspace: target.token)


def test_verifier_fails_on_a_target_that_drops_a_change_and_names_it(rsps):
    _, target = _fake(rsps, drop_patches=True)
    run = run_simulation(parse_scenario(RENAME, "rename.toml"), target)
    renamed = run.events[0]
    label = run.directory.users[renamed.object_ids[0]].user_principal_name
    assert label.endswith(".OSuilleabhain@Contoso.onmicrosoft.com") or "OSuilleabhain" in label
    check = run.idps[0].cycles[1].checks                  # caught right after the cycle that sent the PATCH
    bugs = [f for f in check.findings if f.category == SERVER_BUG]
    assert {f.label for f in bugs} >= {label}
    user_name = next(f for f in bugs if f.label == label and f.attribute == "userName")
    assert user_name.cause.method == "PATCH" and user_name.cause.status == 204
    assert not run.passed and run.exit_code == 1


def test_report_junit_and_trace_files_hold_every_failure(rsps, tmp_path, capsys):
    fake, _ = _fake(rsps, drop_patches=True)
    scenario = tmp_path / "rename.toml"
    scenario.write_text(RENAME, encoding="utf-8")
    paths = {k: tmp_path / f"run.{k}" for k in ("json", "xml", "jsonl")}
    code = main(["simulate", "--scenario", str(scenario), "--target", fake.base_url, "--token", fake.token,
                 "--report", str(paths["json"]), "--junit", str(paths["xml"]), "--trace", str(paths["jsonl"])])
    out = capsys.readouterr().out
    assert code == 1 and "Result: FAILED" in out
    report = json.loads(paths["json"].read_text(encoding="utf-8"))
    idp = report["idps"][0]
    assert report["passed"] is False and report["exit_code"] == 1 and report["scenario"]["until"] == "40m"
    assert [c["kind"] for c in idp["cycles"]] == ["initial", "incremental"]
    assert len(idp["requests"]) == sum(1 for _ in paths["jsonl"].open()) - 1 > 10      # a header line, then each
    findings = [f for c in idp["cycles"] if c["checks"] for f in c["checks"]["findings"]] + \
        idp["verification"]["findings"]
    bugs = [f for f in findings if f["category"] == SERVER_BUG]
    assert bugs and all(f["cause"]["method"] == "PATCH" for f in bugs)
    # the dropped rename and email change name their scenario event; the dropped manager PATCHes of the
    # initial cycle have none
    assert {f["event"]["action"] for f in bugs if f["event"]} == {"rename", "change_email"}
    suites = ET.parse(paths["xml"]).getroot()
    failures = [(case.get("name"), failure.get("message")) for suite in suites for case in suite
                for failure in case.findall("failure")]
    for bug in bugs:
        assert any(f"{bug['label']}: {bug['message']}" in message for _, message in failures), bug
    assert int(suites[0].get("failures")) == len(failures) and suites[0].get("tests") == str(len(suites[0]))
    header, first = [json.loads(line) for line in paths["jsonl"].open().readlines()[:2]]
    assert (header["format"], header["version"]) == ("scimharness-trace", 1)
    assert first["idp"] == "entra" and first["purpose"] == "test-connection" and first["time"].startswith("2026-")


def test_an_unknown_user_in_an_event_is_a_scenario_error_with_its_line(live_server, capsys):
    text = RENAME.replace('user = "pick:3"', 'user = "Nobody@Contoso.onmicrosoft.com"')
    with pytest.raises(Exception, match=r"x.toml:9: events\[0\].user: no user 'Nobody@"):
        run_simulation(parse_scenario(text, "x.toml"), _embedded(live_server))


class PushyProfile(EntraProfile):
    """Entra's wire behaviour on Okta's timing: a push two minutes after each directory change."""
    name = "pushy"
    title = "Pushy IdP"
    cadence = Cadence(delay=timedelta(minutes=2))


def test_idp_all_runs_each_registered_profile_in_its_own_workspace(monkeypatch, capsys):
    monkeypatch.setitem(PROFILES, "pushy", "tests.test_simulation:PushyProfile")
    assert main(["simulate", "--idp", "all", "--users", "10", "--until", "2h", "--report", "/dev/null"]) == 0
    out = capsys.readouterr().out
    assert "== Microsoft Entra ID (workspace entra)" in out and "== Pushy IdP (workspace pushy)" in out
    # the push IdP ran at +0 and two minutes after the changes at +20m; Entra every 40 minutes
    assert re.search(r"\+22m  Cycle 2 \(incremental\): created 0, matched 0, updated 1, disabled 1, deleted 1", out)
    assert re.search(r"\+40m  Cycle 2 \(incremental\): created 0, matched 0, updated 1, disabled 1, deleted 1", out)
    assert out.count("Verification: 10 users") == len(PROFILES) and "Result: PASSED" in out


def test_realtime_run_on_a_sped_up_wall_clock(capsys):
    assert main(["simulate", "--idp", "entra", "--users", "6", "--realtime", "--speed", "3000"]) == 0
    out = capsys.readouterr().out
    assert "40m simulated in real time" in out and "Cycle 2 (incremental)" in out


def test_speed_needs_realtime(capsys):
    assert main(["simulate", "--idp", "entra", "--speed", "10"]) == 2
    assert "--speed only applies to --realtime" in capsys.readouterr().err


def test_changes_after_the_last_cycle_are_a_harness_limitation_not_a_bug(live_server):
    scenario = parse_scenario(RENAME.replace('until = "40m"', 'until = "30m"'), "early-end.toml")
    run = run_simulation(scenario, _embedded(live_server))
    assert len(run.idps[0].cycles) == 1 and run.passed
    limited = {f.label for f in run.findings() if f.category == HARNESS_LIMITATION}
    assert limited == {run.directory.users[e.object_ids[0]].user_principal_name for e in run.events}
    assert all("run ended before it was synced" in f.reason for f in run.findings())


def test_each_idp_shows_its_own_view_in_the_report(tmp_path, capsys):
    """Entra's job status and provisioning log, Okta's admin console, OneLogin's Users tab: on screen and in JSON."""
    report = tmp_path / "run.json"
    assert main(["simulate", "--idp", "all", "--users", "10", "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "Entra provisioning job: Active" in out and re.search(r"Provisioning log: success \d+", out)
    assert "Okta admin console" in out and "OneLogin Users tab:" in out
    views = {idp["name"]: idp["idp_view"] for idp in json.loads(report.read_text(encoding="utf-8"))["idps"]}
    assert views["entra"]["jobStatus"]["code"] == "Active"
    assert all(entry["provisioningStatusInfo"]["status"] == "success" for entry in views["entra"]["provisioningLog"])
    assert {row["status"] for row in views["onelogin"]} >= {"Provisioned"}
    assert {row["status"] for row in views["okta"]["users"]} >= {"Provisioned"}
