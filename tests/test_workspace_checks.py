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


def test_simulate_ends_with_a_passing_check_line_for_each_seed_promise(capsys):
    from harness.cli import main

    assert main(["simulate", "--idp", "entra", "--users", "12"]) == 0
    out = capsys.readouterr().out
    promises = out[out.index("Seed promises (workspace admin API):"):].splitlines()[1:5]
    assert [line.split(":")[0].strip() for line in promises] == [
        "PASS  access revoked on deactivation", "PASS  access revoked on deletion", "PASS  history kept",
        "PASS  nobody else touched"]
