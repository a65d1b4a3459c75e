"""Concurrent writers over real HTTP (waitress, 8 threads, SQLite WAL, one transaction per request): PATCHes
adding members to one group from several clients lose nothing (conflicting work: test_concurrency_conflicts)."""
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.conftest import new_user, patch_body

THREADS, PER_THREAD = 8, 50


def session_for(server) -> requests.Session:
    session = requests.Session()
    session.headers.update({"Authorization": f"Bearer {server.token}", "Content-Type": "application/scim+json"})
    return session


def create_users(session, base_url, count) -> list[str]:
    ids = []
    for start in range(0, count, 100):
        operations = [{"method": "POST", "path": "/Users", "bulkId": f"u{i}",
                       "data": new_user(f"concurrent{i}@example.com")} for i in range(start, start + 100)]
        results = session.post(f"{base_url}/Bulk", json={"Operations": operations}, timeout=60).json()["Operations"]
        assert {r["status"] for r in results} == {"201"}
        ids += [r["location"].rsplit("/", 1)[1] for r in results]
    return ids


def test_concurrent_member_additions_to_one_group_lose_nothing(live_server):
    base = live_server.base_url
    setup = session_for(live_server)
    user_ids = create_users(setup, base, THREADS * PER_THREAD)
    group_id = setup.post(f"{base}/Groups", json={"displayName": "Everyone"}, timeout=10).json()["id"]

    def add_members(batch: list[str]) -> list[int]:
        session = session_for(live_server)
        return [session.patch(f"{base}/Groups/{group_id}?excludedAttributes=members", timeout=60, json=patch_body(
            {"op": "Add", "path": "members", "value": [{"value": user_id}]})).status_code for user_id in batch]

    batches = [user_ids[i::THREADS] for i in range(THREADS)]
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = [s for batch in pool.map(add_members, batches) for s in batch]
    assert statuses == [200] * (THREADS * PER_THREAD)
    group = setup.get(f"{base}/Groups/{group_id}", timeout=30).json()
    assert sorted(m["value"] for m in group["members"]) == sorted(user_ids)
    assert group["meta"]["version"] == f'W/"{1 + THREADS * PER_THREAD}"'
