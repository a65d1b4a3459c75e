"""Entra provisioning-log exports → scenario, and the scenario reproducing the logged failures on a target."""
import json
import tomllib
from pathlib import Path

import pytest

from harness.cli import main
from harness.entra_logs import (LogFormatError, canonical_error, load_records, load_scenario, reproduce,
                                scenario_from_records, shrink_scenario)
from tests.fake_scim import FakeScimTarget

FIXTURES = Path(__file__).parent / "fixtures"
ARRAY = FIXTURES / "entra_provisioning_logs.json"
PAGES = [FIXTURES / "entra_provisioning_page1.json", FIXTURES / "entra_provisioning_page2.json"]
DANA = "Dana.Kowalski@contoso.com"


def imported(paths=(ARRAY,)):
    records, warnings = load_records(paths)
    return scenario_from_records(records), warnings


def test_the_array_export_becomes_a_scenario_of_source_changes_and_logged_outcomes():
    scenario, warnings = imported()
    assert warnings == []
    # the directory before the logged changes: users first seen in an update/disable/skip, with their old values
    before = {u["user_principal_name"]: u for u in scenario["directory"]["users"]}
    assert set(before) == {"Bjorn.Lindqvist@contoso.com", "Chidi.Okafor@contoso.com", "Evan.Murphy@contoso.com"}
    assert before["Bjorn.Lindqvist@contoso.com"]["surname"] == "Lindqvist"
    assert before["Chidi.Okafor@contoso.com"]["account_enabled"] is True
    assert before["Evan.Murphy@contoso.com"]["assigned"] is False           # NotEffectivelyEntitled
    assert [(e["action"], e["user"]) for e in scenario["events"]] == [
        ("hire", "Amelia.Watson@contoso.com"), ("rename", "Bjorn.Lindqvist@contoso.com"),
        ("disable", "Chidi.Okafor@contoso.com"), ("hire", DANA)]            # Dana's retry in cycle 2 changes nothing
    rename = scenario["events"][1]
    assert (rename["family_name"], rename["display_name"]) == ("Lindqvist-Ek", "Björn Lindqvist-Ek")
    assert scenario["target"]["users"] == [{"userName": DANA}]               # what the 409 says the target held
    assert [(e["user"], e["action"], e["status"], e.get("http_status")) for e in scenario["expect"]] == [
        ("Amelia.Watson@contoso.com", "create", "success", None),
        ("Bjorn.Lindqvist@contoso.com", "update", "success", None),
        ("Chidi.Okafor@contoso.com", "disable", "success", None),
        (DANA, "create", "failure", 409), (DANA, "create", "failure", 409),
        ("Evan.Murphy@contoso.com", "other", "skipped", None)]
    assert len({e["cycle"] for e in scenario["expect"]}) == 2
    assert scenario["idp"] == [{"profile": "entra"}] and scenario["until"] == "81m"


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


def test_the_scenario_reproduces_the_conflict_on_a_target_that_hides_users_from_filters(rsps):
    """The customer's target enforced userName uniqueness on POST but did not find the user by filter."""
    scenario, _ = imported()
    target = FakeScimTarget(hide_from_filter=True).install(rsps)
    reproduction = reproduce(scenario, target.base_url, target.token)
    assert [o.reproduced for o in reproduction.outcomes] == [True] * 6, [o.observed for o in reproduction.outcomes]
    assert [o.observed for o in reproduction.outcomes if o.expectation["user"] == DANA] == [
        "create failure: SystemForCrossDomainIdentityManagementEntryConflict (HTTP 409)"] * 2
    assert reproduction.reproduced_failures == {(DANA.lower(), "create", "EntryConflict")}
    # the changes really reached the target: renamed, disabled and created users
    assert target.find("Bjorn.Lindqvist@contoso.com")["name"]["familyName"] == "Lindqvist-Ek"
    assert target.find("Chidi.Okafor@contoso.com")["active"] is False
    assert target.find("Amelia.Watson@contoso.com") is not None


def test_a_correct_target_does_not_reproduce_the_conflict(live_server):
    scenario, _ = imported()
    reproduction = reproduce(scenario, live_server.base_url, live_server.token)
    dana = [o for o in reproduction.outcomes if o.expectation["user"] == DANA]
    assert dana[0].observed == "match + update success" and not dana[0].reproduced
    assert reproduction.reproduced_failures == frozenset()


def test_import_command_writes_toml_and_reports_reproduction(tmp_path, capsys):
    out = tmp_path / "customer.toml"
    assert main(["import", "entra-logs", *map(str, PAGES), "--out", str(out), "--reproduce"]) == 1
    printed = capsys.readouterr().out
    assert "0 of 2 logged failures reproduced" in printed
    assert "reproduced  Bjorn.Lindqvist@contoso.com: logged update success; simulated update success" in printed
    with open(out, "rb") as source:
        assert tomllib.load(source) == load_scenario(out) == imported()[0]


def test_shrinking_the_scenario_keeps_only_the_conflicting_changes(rsps):
    scenario, _ = imported()
    runs = []

    def run(candidate):
        target = FakeScimTarget(base_url=f"https://t{len(runs)}.example.test/scim/v2", hide_from_filter=True)
        runs.append(target.install(rsps))
        return reproduce(candidate, target.base_url, target.token)

    kept, count = shrink_scenario(scenario, run)
    assert [(e["user"], e["cycle"]) for e in kept["expect"]] == [(DANA, scenario["expect"][3]["cycle"])]
    assert kept["directory"]["users"] == [] and [e["action"] for e in kept["events"]] == ["hire"]
    assert count == len(runs) and count < 20
    assert run(kept).reproduced_failures == {(DANA.lower(), "create", "EntryConflict")}


def test_shrink_command_on_a_shared_target_cleans_up_between_runs(tmp_path, rsps, capsys):
    scenario_file = tmp_path / "customer.toml"
    assert main(["import", "entra-logs", str(ARRAY), "--out", str(scenario_file)]) == 0
    target = FakeScimTarget(hide_from_filter=True).install(rsps)
    assert main(["shrink", str(scenario_file), "--target", target.base_url, "--token", target.token]) == 0
    assert "Shrunk 6 logged changes to 1 in" in capsys.readouterr().out
    minimal = load_scenario(tmp_path / "customer.min.toml")
    assert [(e["user"], e["action"], e["status"]) for e in minimal["expect"]] == [(DANA, "create", "failure")]
    assert target.users == {}                      # every run's users, seeded or created, were deleted again
