"""The okta-aiw and okta-oin scenario files run by the scheduler against the embedded server (must verify clean)
and scim2-server (what it gets wrong is pinned here)."""
from __future__ import annotations

import pytest

from harness.scenario_files import load_scenario
from harness.simulate import Target, run_simulation
from harness.verifier import Verification
from idp_profiles.okta import OktaProfile


def run_scenario(name: str, base_url: str, token: str) -> tuple[OktaProfile, Verification]:
    run = run_simulation(load_scenario(name), Target(base_url, lambda workspace: token))
    [idp] = run.idps
    return idp.profile, idp.verification


def findings(verification: Verification) -> list[str]:
    return [f"{f.label}: {f.message}" for f in verification.findings]


def test_okta_aiw_runs_green_on_the_embedded_server(live_server):
    profile, verification = run_scenario("okta-aiw", live_server.base_url, live_server.token)
    assert findings(verification) == []
    assert verification.checked_users == 40 and verification.checked_groups == 2
    methods = {e.method for e in profile.trace}
    assert methods == {"GET", "POST", "PUT"}                  # AIW: no PATCH, never DELETE
    assert all(e.ok for e in profile.trace)
    statuses = [r.status for r in profile.admin_view().users]
    assert (statuses.count("Provisioned"), statuses.count("Deprovisioned")) == (38, 2)
    assert not profile.admin_view().tasks


def test_okta_oin_runs_green_on_the_embedded_server(live_server):
    profile, verification = run_scenario("okta-oin", live_server.base_url, live_server.token)
    assert findings(verification) == []
    assert verification.checked_groups == 3
    assert all(e.ok for e in profile.trace)
    assert not any(e.method == "PUT" and e.path.startswith("/Groups") for e in profile.trace)
    assert [e.method for e in profile.trace if e.purpose == "deactivate"] == ["PATCH"] * 3
    assert [e.path.split("/")[1] for e in profile.trace if e.method == "DELETE"] == ["Groups"]
    assert any(e.path.startswith("/Groups?filter=displayName+eq+%22Dept+%E2%80%93+Sales%22&startIndex=1&count=100")
               for e in profile.trace)


@pytest.mark.parametrize("name, groups", [("okta-aiw", 2), ("okta-oin", 3)])
def test_scenarios_against_scim2_server(scim2_target, name, groups):
    """scim2-server takes both flavours' traffic without a complaint: echoed PUTs with meta and read-only fields,
    path-less PATCH on users and groups (answered 204), member value-filter removals, the {id, displayName}
    replace, and reads back exactly what Okta pushed (displayName and locale kept, unlike the seed contract)."""
    profile, verification = run_scenario(name, *scim2_target)
    assert findings(verification) == [] and verification.unsupported == {}
    assert (verification.checked_users, verification.checked_groups) == (40, groups)
    assert all(e.ok for e in profile.trace) and not profile.admin_view().tasks
    assert {e.status for e in profile.trace if e.method == "PATCH"} <= {204}
