"""Scenario files: the shipped library loads; TOML and JSON give the same scenario; every error names file, line
and key; durations and repeats."""
import json
from datetime import timedelta

import pytest

from harness.cli import main
from harness.scenario_files import (ScenarioError, format_duration, library, load_scenario, parse_duration,
                                    parse_scenario)

GOOD = '''name = "t"
until = "2d"

[directory]
sample_org = { users = 12, groups = 3, seed = 3 }

[[idp]]
profile = "entra"

[[events]]
at = "1h"
action = "rename"
user = "pick:2"

[[events]]
at = "2h"
every = "12h"
action = "hire"
'''


def test_every_shipped_scenario_loads():
    names = library()
    assert {"walking-skeleton", "joiner-mover-leaver", "email-change", "group-push", "token-rotation",
            "outage-and-recovery", "large-initial-sync"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.idps and scenario.description and scenario.until > timedelta(0), name


def test_toml_and_json_give_the_same_scenario():
    toml = parse_scenario(GOOD, "t.toml")
    as_json = json.dumps({"name": "t", "until": "2d", "directory": {"sample_org": {"users": 12, "groups": 3,
                                                                                  "seed": 3}},
                          "idp": [{"profile": "entra"}],
                          "events": [{"at": "1h", "action": "rename", "user": "pick:2"},
                                     {"at": "2h", "every": "12h", "action": "hire"}]}, indent=1)
    from_json = parse_scenario(as_json, "t.json", json_format=True)
    assert (toml.until, toml.directory, toml.idps) == (from_json.until, from_json.directory, from_json.idps)
    assert [(e.at, e.action, e.params, e.times) for e in toml.events] == \
        [(e.at, e.action, e.params, e.times) for e in from_json.events]
    hire = toml.events[1]
    assert hire.times == 4 and hire.occurrences()[-1] == timedelta(hours=38)   # 2h, 14h, 26h, 38h ≤ 2d
    assert toml.events[0].line == 12                # its action


@pytest.mark.parametrize("edit, line, key, words", [
    (("user = \"pick:2\"", "usr = \"pick:2\""), 13, "events[0].usr", "unknown key"),
    (("action = \"hire\"", "action = 7"), 18, "events[1].action", "is required"),
    (("at = \"2h\"", "at = \"2 hours\""), 16, "events[1].at", "not a duration"),
    (("profile = \"entra\"", "profil = \"entra\""), 8, "idp[0].profil", "unknown key"),
    (("groups = 3,", "groups = -3,"), 5, "directory.sample_org.groups", "whole number"),
    (("action = \"rename\"\nuser = \"pick:2\"", "action = \"fault\"\nkind = \"meltdown\"\nduration = \"1h\""),
     13, "events[0].kind", "must be one of"),
    (("until = \"2d\"", "until = 2d"), 2, "syntax", "Expected newline"),
])
def test_errors_name_file_line_and_key(edit, line, key, words):
    text = GOOD.replace(*edit)
    assert text != GOOD
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "bad.toml")
    assert caught.value.key == key and caught.value.line == line, str(caught.value)
    assert str(caught.value).startswith(f"bad.toml:{line}: {key}: ") and words in str(caught.value)


def test_json_errors_carry_the_line():
    with pytest.raises(ScenarioError) as caught:
        parse_scenario('{\n "until": "1d",\n "events": [\n  {"at": "1h", "action": "disable"}\n ]\n}', "x.json",
                       json_format=True)
    assert caught.value.key == "events[0].user" and caught.value.line == 4


def test_durations():
    assert parse_duration("1h30m") == timedelta(minutes=90) and parse_duration(90) == timedelta(seconds=90)
    assert parse_duration("7d") == timedelta(days=7) and format_duration(timedelta(days=1, minutes=40)) == "1d40m"
    for bad in ("", "5 parsecs", "h", "-1h"):
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_rotate_token_with_reconfigure_after_adds_the_admin_update():
    scenario = load_scenario("token-rotation")
    rotate, update = (e for e in scenario.events if e.action in ("rotate_token", "update_token"))
    assert update.at - rotate.at == rotate.params["reconfigure_after"]


def test_unknown_scenario_names_the_shipped_ones(capsys):
    with pytest.raises(ScenarioError, match="shipped: .*walking-skeleton"):
        load_scenario("no-such-scenario")
    assert main(["simulate", "--scenario", "no-such-scenario"]) == 2
    assert "no such file and no shipped scenario" in capsys.readouterr().err


def test_scenarios_command_lists_and_shows(capsys):
    assert main(["scenarios", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in library())
    assert main(["scenarios", "show", "outage-and-recovery"]) == 0
    shown = capsys.readouterr().out
    assert "+30m      fault: kind=status, status=503, duration=1h30m" in shown
    assert "idps: entra (workspace default)" in shown
    assert main(["scenarios", "show", "nope"]) == 2
