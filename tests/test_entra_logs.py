"""Entra provisioning-log exports → scenario in the scheduler's format, and `simulate` reproducing the logged failures
on a target (and not on one that matches correctly)."""
import json
import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.entra_logs import (LogFormatError, canonical_error, load_records, load_scenario_data,
                                scenario_from_records, shrink_scenario, to_toml)
from harness.expectations import reproduced_failures
from harness.scenario_files import ScenarioError, parse_scenario
from harness.simulate import Target, run_simulation
from tests.fake_scim import FakeScimTarget

FIXTURES = Path(__file__).parent / "fixtures"
ARRAY = FIXTURES / "entra_provisioning_logs.json"
PAGES = [FIXTURES / "entra_provisioning_page1.json", FIXTURES / "entra_provisioning_page2.json"]
DANA = "Dana.Kowalski@contoso.com"
CONFLICT = "create failure: SystemForCrossDomainIdentityManagementEntryConflict (HTTP 409)"


def imported(paths=(ARRAY,)):
    records, warnings = load_records(paths)
    return scenario_from_records(records), warnings


def simulated(scenario: dict, base_url: str, token: str | None):
    return run_simulation(parse_scenario(to_toml(scenario), "imported.toml"), Target(base_url, lambda _: token))


def test_the_array_export_becomes_a_scenario_of_source_changes_and_logged_outcomes():
    scenario, warnings = imported()
    assert warnings == []
    # the directory before the logged changes: users first seen in an update/disable/skip, with their old values
    before = {u["upn"]: u for u in scenario["directory"]["users"]}
    assert set(before) == {"Bjorn.Lindqvist@contoso.com", "Chidi.Okafor@contoso.com", "Evan.Murphy@contoso.com"}
    assert before["Bjorn.Lindqvist@contoso.com"]["family_name"] == "Lindqvist"
    assert before["Chidi.Okafor@contoso.com"].get("enabled", True) is True
    assert before["Evan.Murphy@contoso.com"]["assigned"] is False           # NotEffectivelyEntitled
    # core actions, each a minute before the Entra cycle (at 40m) that logged it
    assert [(e["at"], e["action"], e.get("user") or e.get("upn")) for e in scenario["events"]] == [
        ("39m", "hire", "Amelia.Watson@contoso.com"), ("39m", "rename", "Bjorn.Lindqvist@contoso.com"),
        ("39m", "disable", "Chidi.Okafor@contoso.com"), ("39m", "hire", DANA)]  # Dana's retry changes nothing
    rename = scenario["events"][1]
    assert (rename["given_name"], rename["family_name"], rename["keep_upn"]) == ("Björn", "Lindqvist-Ek", True)
    assert scenario["target"]["users"] == [{"userName": DANA}]               # what the 409 says the target held
    assert [(e["user"], e["action"], e["status"], e.get("http_status")) for e in scenario["expect"]] == [
        ("Amelia.Watson@contoso.com", "create", "success", None),
        ("Bjorn.Lindqvist@contoso.com", "update", "success", None),
        ("Chidi.Okafor@contoso.com", "disable", "success", None),
        (DANA, "create", "failure", 409), (DANA, "create", "failure", 409),
        ("Evan.Murphy@contoso.com", "other", "skipped", None)]
    assert [e["cycle"] for e in scenario["expect"]] == [1, 1, 1, 1, 2, 2]
    assert scenario["idp"] == [{"profile": "entra"}] and scenario["until"] == "80m"
    assert parse_scenario(to_toml(scenario), "imported.toml").expectations[3].http_status == 409


def test_graph_pages_with_deprecated_field_names_give_the_same_scenario():
    from_pages, warnings = imported(PAGES)
    assert from_pages == imported()[0] and warnings == []
    _, only_first = imported(PAGES[:1])
    assert "the last page links to more records" in only_first[0]


def test_a_file_that_is_no_export_is_refused(tmp_path):
    other = tmp_path / "x.json"
    other.write_text(json.dumps([{"userName": "x"}]))
    with pytest.raises(LogFormatError):
        load_records([other])


def test_error_codes_compare_without_the_app_prefix():
    assert canonical_error("SystemForCrossDomainIdentityManagementEntryConflict") == "EntryConflict"
    assert canonical_error("ContosoHRPortalEntryConflict") == "EntryConflict"
    assert canonical_error(None) is None


def test_the_loader_still_refuses_typos_in_the_imported_tables():
    scenario, _ = imported()
    for table, typo in (("expect", {"eror_code": "x"}), ("events", {"chnage_id": "x"})):
        broken = {**scenario, table: [{**scenario[table][0], **typo}]}
        with pytest.raises(ScenarioError, match=f"{table}\\[0\\].{next(iter(typo))}: unknown key"):
            parse_scenario(to_toml(broken), "imported.toml")
    with pytest.raises(ScenarioError, match=r"target.users\[0\].username: unknown key"):
        parse_scenario(to_toml({**scenario, "target": {"users": [{"username": DANA}]}}), "imported.toml")
    with pytest.raises(ScenarioError, match=r"expect\[0\].status: must be one of"):
        parse_scenario(to_toml({**scenario, "expect": [{**scenario["expect"][0], "status": "ok"}]}), "x.toml")


def test_simulate_reproduces_the_conflict_on_a_target_that_hides_users_from_filters(rsps):
    """The customer's target enforced userName uniqueness on POST but did not find the user by filter."""
    scenario, _ = imported()
    target = FakeScimTarget(hide_from_filter=True).install(rsps)
    run = simulated(scenario, target.base_url, target.token)
    assert [o.reproduced for o in run.outcomes] == [True] * 6, [o.observed for o in run.outcomes]
    assert [o.observed for o in run.outcomes if o.expectation.user == DANA] == [CONFLICT] * 2
    assert reproduced_failures(run.outcomes) == {(DANA.lower(), "create", "EntryConflict")}
    assert run.exit_code == 0 and [e.status for e in run.seeding] == [201]
    # the changes really reached the target: renamed, disabled and created users
    assert target.find("Bjorn.Lindqvist@contoso.com")["name"]["familyName"] == "Lindqvist-Ek"
    assert target.find("Chidi.Okafor@contoso.com")["active"] is False
    assert target.find("Amelia.Watson@contoso.com") is not None


def test_a_correct_target_does_not_reproduce_the_conflict(live_server):
    scenario, _ = imported()
    run = simulated(scenario, live_server.base_url, live_server.token)
    dana = [o for o in run.outcomes if o.expectation.user == DANA]
    assert dana[0].observed == "update success" and not dana[0].reproduced      # matched by filter, then patched
    assert reproduced_failures(run.outcomes) == frozenset() and run.exit_code == 1


def test_simulate_command_prints_each_outcome_and_the_verdict(tmp_path, rsps, capsys):
    out = tmp_path / "customer.toml"
    assert main(["import", "entra-logs", *map(str, PAGES), "--out", str(out)]) == 0
    assert f"simulate --scenario {out}" in capsys.readouterr().out
    with open(out, "rb") as source:
        assert tomllib.load(source) == load_scenario_data(out) == imported()[0]
    target = FakeScimTarget(hide_from_filter=True).install(rsps)
    report = tmp_path / "run.json"
    assert main(["simulate", "--scenario", str(out), "--target", target.base_url, "--token", target.token,
                 "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert f"reproduced      cycle 2 {DANA}: logged {CONFLICT}; simulated {CONFLICT}" in printed
    assert "Reproduced 6 of 6 logged outcomes" in printed
    outcomes = json.loads(report.read_text())["expectations"]
    assert [(o["user"], o["reproduced"]) for o in outcomes][3:5] == [(DANA, True)] * 2


def test_simulate_command_on_the_embedded_server_reports_what_did_not_reproduce(tmp_path, capsys):
    out = tmp_path / "customer.toml"
    assert main(["import", "entra-logs", str(ARRAY), "--out", str(out)]) == 0
    assert main(["simulate", "--scenario", str(out)]) == 1
    printed = capsys.readouterr().out
    assert f"NOT reproduced  cycle 1 {DANA}: logged {CONFLICT}; simulated update success" in printed
    assert "Reproduced 4 of 6 logged outcomes" in printed


def test_shrinking_the_scenario_keeps_only_the_conflicting_changes(rsps):
    scenario, _ = imported()
    runs = []

    def run(candidate):
        target = FakeScimTarget(base_url=f"https://t{len(runs)}.example.test/scim/v2", hide_from_filter=True)
        runs.append(target.install(rsps))
        return reproduced_failures(simulated(candidate, target.base_url, target.token).outcomes)

    kept, count = shrink_scenario(scenario, run)
    assert [(e["user"], e["cycle"]) for e in kept["expect"]] == [(DANA, 1)]
    assert kept["directory"]["users"] == [] and [e["action"] for e in kept["events"]] == ["hire"]
    assert count == len(runs) and count < 20
    assert run(kept) == {(DANA.lower(), "create", "EntryConflict")}


def test_shrink_command_on_a_shared_target_cleans_up_between_runs(tmp_path, rsps, capsys):
    scenario_file = tmp_path / "customer.toml"
    assert main(["import", "entra-logs", str(ARRAY), "--out", str(scenario_file)]) == 0
    target = FakeScimTarget(hide_from_filter=True).install(rsps)
    assert main(["shrink", str(scenario_file), "--target", target.base_url, "--token", target.token]) == 0
    assert "Shrunk 6 logged changes to 1 in" in capsys.readouterr().out
    minimal = load_scenario_data(tmp_path / "customer.min.toml")
    assert [(e["user"], e["action"], e["status"]) for e in minimal["expect"]] == [(DANA, "create", "failure")]
    assert target.users == {}                      # every run's users, seeded or created, were deleted again


def test_logged_attribute_changes_without_a_core_action_become_update_events(live_server):
    """A title/department change has no joiner-mover-leaver equivalent: it becomes `update`, and reaches the target."""
    records, _ = load_records([ARRAY])
    bjorn = next(r for r in records if r.action == "update")
    bjorn.modified = {"title": ("Analyst", "Senior Analyst"),
                      "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": ("Sales", "Finance")}
    scenario = scenario_from_records([bjorn])
    assert scenario["directory"]["users"][0]["job_title"] == "Analyst"
    assert [(e["action"], e.get("job_title"), e.get("department")) for e in scenario["events"]] == [
        ("update", "Senior Analyst", "Finance")]
    run = simulated(scenario, live_server.base_url, live_server.token)
    assert [(o.observed, o.reproduced) for o in run.outcomes] == [("update success", True)]
    assert run.directory.users[run.events[0].object_ids[0]].job_title == "Senior Analyst"
