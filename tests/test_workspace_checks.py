"""The harness's seed-promise checks, run over HTTP against the real embedded server: they pass after a correct
deprovisioning and name the broken promise when the server (or the expectation) is wrong."""
import pytest
import requests

from harness.workspace_checks import check_seed_promises, seed_activity
from tests.conftest import new_user, patch_body


class Scim:
    def __init__(self, server):
        self.base_url = server.base_url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {server.token}", "User-Agent": "Okta SCIM Client 1.0.0"})

    def create(self, user_name: str) -> str:
        response = self.session.post(f"{self.base_url}/Users", json=new_user(user_name))
        assert response.status_code == 201
        return response.json()["id"]

    def deactivate(self, user_id: str) -> None:
        body = patch_body({"op": "replace", "path": "active", "value": False})
        assert self.session.patch(f"{self.base_url}/Users/{user_id}", json=body).status_code in (200, 204)

    def delete(self, user_id: str) -> None:
        assert self.session.delete(f"{self.base_url}/Users/{user_id}").status_code == 204


@pytest.fixture
def synced(live_server):
    """A finished sync: four users with history, one deactivated and one deleted."""
    scim = Scim(live_server)
    ids = {name: scim.create(f"{name}@acme.test") for name in ("ann", "bob", "cat", "dan")}
    history = seed_activity(live_server.admin_base_url, live_server.admin_key, list(ids.values()))
    scim.deactivate(ids["bob"])
    scim.delete(ids["cat"])
    expected = {"deprovisioned_user_ids": [ids["bob"]], "deleted_user_ids": [ids["cat"]],
                "active_user_ids": [ids["ann"], ids["dan"]]}
    return live_server, ids, expected, history


def test_every_promise_passes_after_a_correct_sync(synced):
    server, _, expected, history = synced
    lines = check_seed_promises(server.admin_base_url, server.admin_key, expected, history)
    assert [line.name for line in lines] == ["access revoked on deactivation", "access revoked on deletion",
                                             "history kept", "nobody else touched"]
    assert all(line.passed for line in lines), [str(line) for line in lines]
    assert str(lines[2]).startswith("PASS  history kept: 4 activity record(s)")


def test_a_user_that_kept_access_fails_revocation_and_an_unexpected_revocation_is_caught(synced):
    server, ids, _, history = synced
    wrong = {"deprovisioned_user_ids": [ids["ann"]], "deleted_user_ids": [ids["cat"]],
             "active_user_ids": [ids["dan"]]}
    lines = {line.name: line for line in check_seed_promises(server.admin_base_url, server.admin_key, wrong, history)}
    assert not lines["access revoked on deactivation"].passed
    assert "ann@acme.test has access active" in lines["access revoked on deactivation"].detail
    assert "answered 201, not 403" in lines["access revoked on deactivation"].detail
    assert not lines["nobody else touched"].passed and "bob@acme.test" in lines["nobody else touched"].detail


def test_lost_history_fails(synced):
    server, ids, expected, history = synced
    lines = check_seed_promises(server.admin_base_url, server.admin_key, expected, {**history, ids["bob"]: 5})
    history_line = next(line for line in lines if line.name == "history kept")
    assert not history_line.passed and "expected at least 5" in history_line.detail


def test_promises_a_run_did_not_exercise_say_so(live_server):
    lines = check_seed_promises(live_server.admin_base_url, live_server.admin_key, {})
    assert all(line.passed and line.detail.startswith(("not exercised", "0 other")) for line in lines)


def test_a_wrong_admin_key_is_one_clear_failure(live_server):
    [line] = check_seed_promises(live_server.admin_base_url, "scimha_wrong", {"deleted_user_ids": ["x"]})
    assert line.name == "admin API" and not line.passed and "401" in line.detail


def test_an_entra_simulation_against_the_embedded_server_keeps_every_seed_promise(live_server):
    """The wiring `simulate` needs: seed activity after the initial cycle, then check after the changes' cycle."""
    from harness.sample_org import generate_org
    from harness.scenarios import walking_skeleton_changes
    from harness.workspace_checks import expected_after_changes
    from idp_profiles import load_profile

    directory = generate_org(seed=0, users=12, groups=2)
    profile = load_profile("entra").configure(directory, live_server.base_url, live_server.token)
    assert profile.test_connection().ok
    profile.run_cycle()
    links = {oid: sid for oid, sid in profile.links.items() if oid in directory.users}
    history = seed_activity(live_server.admin_base_url, live_server.admin_key, links.values())
    changes = walking_skeleton_changes(directory, 0)
    profile.run_cycle()
    expected = expected_after_changes(links, changes)
    assert len(expected["deprovisioned_user_ids"]) == len(expected["deleted_user_ids"]) == 1
    lines = check_seed_promises(live_server.admin_base_url, live_server.admin_key, expected, history)
    assert len(lines) == 4 and all(line.passed for line in lines), [str(line) for line in lines]
