"""Checks the seed's workspace promises through a scimharness server's admin API after a simulated sync:
deprovisioned users lose access, deleted users lose access but stay members, history is kept, nobody else moved."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import requests

TIMEOUT_SECONDS = 10
PROBE_KIND = "scimharness-access-probe"


@dataclass(frozen=True)
class CheckLine:
    name: str
    passed: bool
    detail: str

    def __str__(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.detail}"


class AdminApiError(Exception):
    pass


class AdminClient:
    """A thin client for the /api admin API of one workspace."""

    def __init__(self, admin_base_url: str, admin_key: str, session: requests.Session | None = None):
        self.base_url = admin_base_url.rstrip("/")
        self.session = session or requests.Session()
        self.session.headers["Authorization"] = f"Bearer {admin_key}"

    def call(self, method: str, path: str, json: dict | None = None) -> requests.Response:
        try:
            return self.session.request(method, self.base_url + path, json=json, timeout=TIMEOUT_SECONDS)
        except requests.RequestException as error:
            raise AdminApiError(f"{method} {path}: {error}") from None

    def data(self, path: str) -> dict:
        response = self.call("GET", path)
        if response.status_code != 200:
            raise AdminApiError(f"GET {path} answered {response.status_code}: {response.text[:200]}")
        return response.json()

    def members(self) -> dict[str, dict]:
        return {m["id"]: m for m in self.data("/members")["members"]}

    def record_activity(self, user_id: str, kind: str) -> requests.Response:
        return self.call("POST", f"/members/{user_id}/activity", {"kind": kind})


def seed_activity(admin_base_url: str, admin_key: str, user_ids: Iterable[str],
                  kinds: tuple[str, ...] = ("login", "generation"),
                  session: requests.Session | None = None) -> dict[str, int]:
    """Give each member some history before deprovisioning; returns each member's activity count afterwards,
    to pass to check_seed_promises as `history`."""
    client = AdminClient(admin_base_url, admin_key, session)
    for user_id in user_ids:
        for kind in kinds:
            response = client.record_activity(user_id, kind)
            if response.status_code != 201:
                raise AdminApiError(f"recording {kind} for {user_id} answered {response.status_code}: "
                                    f"{response.text[:200]}")
    members = client.members()
    return {user_id: members[user_id]["activity_count"] for user_id in user_ids}


def check_seed_promises(admin_base_url: str, admin_key: str, expected: dict,
                        history: dict[str, int] | None = None,
                        session: requests.Session | None = None) -> list[CheckLine]:
    """One line per promise. `expected` holds deprovisioned_user_ids (deactivated), deleted_user_ids and
    active_user_ids; `history` (from seed_activity) is each member's activity count before deprovisioning."""
    deactivated = list(expected.get("deprovisioned_user_ids", ()))
    deleted = list(expected.get("deleted_user_ids", ()))
    active = list(expected.get("active_user_ids", ()))
    client = AdminClient(admin_base_url, admin_key, session)
    try:
        members = client.members()
        return [
            _check_revoked(client, members, deactivated, "deactivated", "access revoked on deactivation"),
            _check_revoked(client, members, deleted, "deleted", "access revoked on deletion"),
            _check_history(client, members, deactivated + deleted, history or {}),
            _check_untouched(members, active, set(deactivated) | set(deleted)),
        ]
    except AdminApiError as error:
        return [CheckLine("admin API", False, str(error))]


def _check_revoked(client: AdminClient, members: dict, user_ids: list[str], because: str, name: str) -> CheckLine:
    if not user_ids:
        return CheckLine(name, True, f"not exercised: no user was {because} in this run")
    problems = [p for user_id in user_ids for p in _revocation_problems(client, members.get(user_id), user_id, because)]
    if problems:
        return CheckLine(name, False, "; ".join(problems))
    return CheckLine(name, True, f"{len(user_ids)} {because} user(s) still members, access revoked, "
                                 "new activity refused")


def _revocation_problems(client: AdminClient, member: dict | None, user_id: str, because: str) -> list[str]:
    if member is None:
        return [f"{user_id} is no longer a workspace member"]
    problems = []
    if member["access"] != "revoked" or member["revoked_because"] != because:
        problems.append(f"{member['user_name']} has access {member['access']} "
                        f"(revoked because: {member['revoked_because']}), expected revoked because {because}")
    probe = client.record_activity(user_id, PROBE_KIND)
    if probe.status_code != 403:
        problems.append(f"recording activity for {member['user_name']} answered {probe.status_code}, not 403")
    return problems


def _check_history(client: AdminClient, members: dict, user_ids: list[str], history: dict[str, int]) -> CheckLine:
    name = "history kept"
    if not user_ids:
        return CheckLine(name, True, "not exercised: no user was deprovisioned in this run")
    problems, total = [], 0
    for user_id in user_ids:
        listed = len(client.data(f"/members/{user_id}/activity")["activity"]) if user_id in members else 0
        wanted = history.get(user_id, 1)
        total += listed
        if listed < wanted:
            problems.append(f"{user_id} lists {listed} activity record(s), expected at least {wanted}")
    if problems:
        return CheckLine(name, False, "; ".join(problems))
    return CheckLine(name, True, f"{total} activity record(s) of {len(user_ids)} deprovisioned member(s) still "
                                 "listed in the workspace")


def _check_untouched(members: dict, active_ids: list[str], deprovisioned: set[str]) -> CheckLine:
    name = "nobody else touched"
    problems = [f"{user_id} is missing or not active" for user_id in active_ids
                if members.get(user_id, {}).get("access") != "active"]
    problems += [f"{m['user_name']} ({m['id']}) was revoked without being deprovisioned"
                 for m in members.values() if m["access"] == "revoked" and m["id"] not in deprovisioned]
    if problems:
        return CheckLine(name, False, "; ".join(problems))
    return CheckLine(name, True, f"{len(active_ids)} other user(s) still active, no unexpected revocation")


def expected_from_target(links: dict[str, str], active_by_id: dict[str, bool]) -> dict:
    """The `expected` for check_seed_promises from what the target holds over SCIM (`active` of every user it
    lists) for every user an IdP ever linked: the seed promises follow SCIM's state, whatever the IdP meant to do
    (a deactivation lost in an outage is the verifier's finding, not a broken promise)."""
    expected: dict[str, list[str]] = {"deprovisioned_user_ids": [], "deleted_user_ids": [], "active_user_ids": []}
    for target_id in dict.fromkeys(links.values()):
        key = ("deleted_user_ids" if target_id not in active_by_id else
               "active_user_ids" if active_by_id[target_id] else "deprovisioned_user_ids")
        expected[key].append(target_id)
    return expected
