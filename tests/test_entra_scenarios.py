"""The scenario pair entra-default / entra-aadopt run by the scheduler on the embedded server: a week of 40-minute
cycles with the files' events applied in between, then the verifier over users and groups."""
from __future__ import annotations

import pytest

from harness.scenario_files import load_scenario
from harness.simulate import Target, run_simulation
from idp_profiles.entra import EntraProfile


@pytest.mark.parametrize("name, flag", [("entra-default", False), ("entra-aadopt", True)])
def test_scenario_runs_green_on_the_embedded_server(live_server, name, flag):
    scenario = load_scenario(name)
    assert set(scenario.idps[0].settings) <= set(EntraProfile.default_settings)
    run = run_simulation(scenario, Target(live_server.base_url, lambda workspace: live_server.token))
    [idp] = run.idps
    profile = idp.profile

    assert len(profile.cycles) == 7 * 36 + 1
    assert [f for c in profile.cycles for f in c.failures] == [] and profile.job_status()["code"] == "Active"
    ops = [op for e in profile.trace if e.method == "PATCH" for op in e.request_body["Operations"]]
    kinds = {(op["op"], op.get("path", "<no path>").split("[")[0]) for op in ops}
    if flag:
        assert {("replace", "<no path>"), ("replace", "active"), ("add", "members"), ("remove", "members")} <= kinds
        assert {"Replace", "Add", "Remove"}.isdisjoint(op["op"] for op in ops)
    else:
        assert {("Replace", "userName"), ("Replace", "active"), ("Add", "members"), ("Remove", "members")} <= kinds
        assert all(op["op"] in ("Add", "Replace", "Remove") and "path" in op for op in ops)
    assert {e.method for e in profile.trace} == {"GET", "POST", "PATCH", "DELETE"}
    assert run.passed and idp.verification.ok, [f.message for f in idp.verification.findings]
    assert (idp.verification.checked_users, idp.verification.checked_groups) == (41, 3)
