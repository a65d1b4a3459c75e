"""Conflicting clients over real HTTP against one embedded server: racing creates have exactly one winner,
If-Match read-modify-write loses no update, concurrent member changes all land, nothing deadlocks or 5xxs."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.conftest import new_user, patch_body
from tests.reliability_support import TALLY, scale

SCIM = "application/scim+json"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
DEADLINE = 120  # seconds; a deadlock shows as a timeout here, not as a hung suite


class Client:
    """One IdP's connection: its own session, every answer checked for a 5xx."""

    def __init__(self, server):
        self.base = server.base_url
        self.session = requests.Session()
        self.session.headers.update({"Authorization": f"Bearer {server.token}", "Content-Type": SCIM})

    def call(self, method: str, path: str, **kw) -> requests.Response:
        response = self.session.request(method, self.base + path, timeout=30, **kw)
        TALLY["concurrent requests"] += 1
        assert response.status_code < 500, response.text
        return response


def run_together(*jobs) -> list:
    """Start every job at the same moment on its own thread; the results, in order."""
    barrier = threading.Barrier(len(jobs))

    def start(job):
        barrier.wait()
        return job()

    with ThreadPoolExecutor(len(jobs)) as pool:
        futures = [pool.submit(start, job) for job in jobs]
        return [future.result(timeout=DEADLINE) for future in futures]


@pytest.mark.parametrize("round_", range(scale(3, 30)))
def test_racing_creates_of_one_username_have_exactly_one_winner(live_server, round_):
    names = ["race@x.test", "RACE@x.test", "Race@X.test", "race@x.TEST"] * 2
    clients = [Client(live_server) for _ in names]
    jobs = [lambda c=c, n=n: c.call("POST", "/Users", json=new_user(n, email="race@x.test")) for c, n in
            zip(clients, names)]
    statuses = sorted(r.status_code for r in run_together(*jobs))
    TALLY["create races"] += 1
    assert statuses == [201] + [409] * (len(names) - 1)
    found = clients[0].call("GET", "/Users", params={"filter": 'userName eq "race@x.test"'}).json()
    assert found["totalResults"] == 1
    clients[0].call("DELETE", f"/Users/{found['Resources'][0]['id']}")


def test_if_match_read_modify_write_loses_no_update(live_server):
    """Two IdPs increment one counter (name.givenName) with If-Match; every acknowledged write counts."""
    setup = Client(live_server)
    user = setup.call("POST", "/Users", json=new_user("counter@x.test", name={"givenName": "0"})).json()
    increments = scale(15, 150)

    def incrementer():
        client, done, refused = Client(live_server), 0, 0
        while done < increments:
            current = client.call("GET", f"/Users/{user['id']}")
            value = int(current.json()["name"]["givenName"])
            answer = client.call("PATCH", f"/Users/{user['id']}", headers={"If-Match": current.headers["ETag"]},
                                 json=patch_body({"op": "replace", "path": "name.givenName", "value": str(value + 1)}))
            if answer.status_code == 412:
                refused += 1
                continue
            assert answer.status_code == 200, answer.text
            done += 1
        return refused

    refusals = run_together(incrementer, incrementer)
    TALLY["If-Match 412s retried"] += sum(refusals)
    final = setup.call("GET", f"/Users/{user['id']}").json()
    assert final["name"]["givenName"] == str(2 * increments), refusals
    assert final["meta"]["version"] == f'W/"{2 * increments + 1}"'


def test_two_idps_patching_different_attributes_of_one_user_both_land(live_server):
    setup = Client(live_server)
    user = setup.call("POST", "/Users", json=new_user("both@x.test")).json()
    rounds = scale(20, 200)

    def patcher(path: str, values):
        client = Client(live_server)
        for value in values:
            answer = client.call("PATCH", f"/Users/{user['id']}", json=patch_body(
                {"op": "replace", "path": path, "value": value}))
            assert answer.status_code == 200, answer.text

    run_together(lambda: patcher("name.familyName", [f"F{i}" for i in range(rounds)]),
                 lambda: patcher("active", [i % 2 == 1 for i in range(rounds)]))
    final = setup.call("GET", f"/Users/{user['id']}").json()
    assert (final["name"]["familyName"], final["active"]) == (f"F{rounds - 1}", (rounds - 1) % 2 == 1)


def test_members_added_and_removed_concurrently_all_land(live_server):
    setup = Client(live_server)
    count = scale(12, 80)
    users = [setup.call("POST", "/Users", json=new_user(f"m{i}@x.test")).json()["id"] for i in range(2 * count)]
    joining, leaving = users[:count], users[count:]
    group = setup.call("POST", "/Groups", json={"schemas": [GROUP], "displayName": "Busy",
                                                "members": [{"value": u} for u in leaving]}).json()

    def change(op: str, ids: list[str]):
        client = Client(live_server)
        for user_id in ids:
            operation = {"op": "add", "path": "members", "value": [{"value": user_id}]} if op == "add" else \
                {"op": "remove", "path": f'members[value eq "{user_id}"]'}
            answer = client.call("PATCH", f"/Groups/{group['id']}", json=patch_body(operation))
            assert answer.status_code in (200, 204), answer.text

    run_together(lambda: change("add", joining[::2]), lambda: change("add", joining[1::2]),
                 lambda: change("remove", leaving[::2]), lambda: change("remove", leaving[1::2]))
    members = setup.call("GET", f"/Groups/{group['id']}").json().get("members", [])
    assert sorted(m["value"] for m in members) == sorted(joining)
