import re

import pytest
import requests

from harness.cli import build_parser, main
from harness.sample_org import generate_org
from tests.fake_scim import FakeScimTarget


def test_against_scim2_server(scim2_target, capsys):
    """Users, the rename, the disable and the delete land; scim2-server refuses Entra's raw-string manager."""
    base, token = scim2_target
    code = main(["simulate", "--idp", "entra", "--target", base, "--token", token, "--users", "40", "--seed", "4"])
    out = capsys.readouterr().out
    assert code == 1, out
    created = int(re.search(r"Cycle 1 \(initial\): created (\d+), matched 0", out).group(1))
    assert re.search(r"Cycle 2 \(incremental\): created 0, matched 0, updated 1, disabled 1, deleted 1", out)
    assert re.search(rf"^  POST    201  × {created}$", out, re.M)
    assert re.search(r"^  PATCH   204  × 2$", out, re.M) and re.search(r"^  DELETE  204  × 1$", out, re.M)
    rejected = int(re.search(r"^  PATCH   400  × (\d+)$", out, re.M).group(1))
    # every initial manager PATCH is refused, then retried from escrow in the next cycle
    assert rejected >= out.count("manager failed: SystemForCrossDomainIdentityManagementServiceIncompatible") > 0
    assert '"path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "' in out
    assert "Input should be a valid dictionary or instance of Manager" in out
    findings = re.findall(r"^  \d+\. [^:]+: (\S+) is null", out, re.M)
    assert findings and set(findings) == {"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"}
    # the target really holds what the summary claims: created minus the hard-deleted one, one inactive
    listing = requests.get(f"{base}/Users", params={"count": 100},
                           headers={"Authorization": f"Bearer {token}"}).json()
    assert listing["totalResults"] == created - 1
    assert sum(u["active"] is False for u in listing["Resources"]) == 1


def test_wrong_token_exits_2(scim2_target, capsys):
    base, _ = scim2_target
    assert main(["simulate", "--idp", "entra", "--target", base, "--token", "nope", "--users", "3"]) == 2
    captured = capsys.readouterr()
    assert "invalid credentials" in captured.err and "(HTTP 401)" in captured.err
    assert captured.out == ""


def test_connection_refused_exits_2(capsys):
    assert main(["simulate", "--idp", "entra", "--target", "http://127.0.0.1:9/scim/v2", "--token", "t",
                 "--users", "3", "--timeout", "2"]) == 2
    assert "cannot reach the target at http://127.0.0.1:9/scim/v2" in capsys.readouterr().err


def test_target_dropping_updates_exits_1_with_causes(rsps, capsys):
    target = FakeScimTarget(drop_patches=True).install(rsps)
    code = main(["simulate", "--idp", "entra", "--target", target.base_url, "--token", target.token,
                 "--users", "30"])
    out = capsys.readouterr().out
    assert code == 1
    assert re.search(r"FAILED \(\d+ findings\)", out)
    assert re.search(r'userName is "[^"]+", expected "[^"]+\.OSuilleabhain@', out)
    assert re.search(r"caused by:\n\s+PATCH /Users/\w+\n\s+\{.*\"op\": \"Replace\", \"path\": \"userName\"", out)
    assert 'active is true, expected false' in out
    assert re.search(r'"path": "active", "value": "False"', out)


def test_target_answering_404_to_the_probe_exits_1(rsps, capsys):
    target = FakeScimTarget(probe_status=404).install(rsps)
    code = main(["simulate", "--idp", "entra", "--target", target.base_url, "--token", target.token])
    out = capsys.readouterr().out
    assert code == 1
    assert "Test Connection: FAILED (SystemForCrossDomainIdentityManagementServiceIncompatible)" in out
    assert "An HTTP/404 Not Found response was returned" in out
    assert len(rsps.calls) == 1                          # quarantined: nothing else is sent
    assert re.search(r"^  GET\s+404  × 1$", out, re.M)


def test_entry_conflicts_are_reported_as_entra_logs_them(rsps, capsys):
    first = next(iter(generate_org(seed=0, users=10).users.values())).user_principal_name
    target = FakeScimTarget(hide_from_filter=True).install(rsps)
    target.add_user({"userName": first})            # already there, but the filter does not find it
    code = main(["simulate", "--idp", "entra", "--target", target.base_url, "--token", target.token,
                 "--users", "10"])
    out = capsys.readouterr().out
    assert code == 1
    assert f"{first}: create failed: SystemForCrossDomainIdentityManagementEntryConflict" in out
    assert re.search(rf"{re.escape(first)}: not found in the target\n     caused by:\n\s+POST /Users", out)
    assert "→ 409" in out


def test_help_documents_every_flag():
    parser = build_parser()
    simulate = parser._subparsers._group_actions[0].choices["simulate"]
    help_text = simulate.format_help()
    for action in simulate._actions:
        for flag in action.option_strings:
            assert flag in help_text
        if action.option_strings and action.dest != "help":
            assert action.help, action.dest
    for flag in ("--idp", "--target", "--token", "--users", "--seed"):
        assert flag in help_text
    assert re.search(r"Exit\s+status:\s+0", help_text)


@pytest.mark.parametrize("argv", [["simulate", "--idp", "okta-nope"],
                                  ["simulate", "--idp", "entra", "--users", "many"]])
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as caught:
        main(argv)
    assert caught.value.code == 2


def test_bad_values_exit_2(capsys):
    assert main(["simulate"]) == 2
    assert "choose an IdP with --idp" in capsys.readouterr().err
    assert main(["simulate", "--idp", "entra", "--target", "http://x.test/v2", "--users", "0"]) == 2
    assert main(["simulate", "--idp", "entra", "--token", "t"]) == 2
    assert "--token only makes sense with --target" in capsys.readouterr().err


def test_without_target_uses_a_fresh_embedded_server(capsys):
    assert main(["simulate", "--idp", "entra", "--users", "8"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"→ http://127\.0\.0\.1:\d+/scim/v2", out) and "Result: PASSED" in out
