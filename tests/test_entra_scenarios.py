"""The scenario pair entra-default / entra-aadopt, driven step by step on the embedded server: a week of 40-minute
cycles with the files' events applied in between, then the verifier over users and groups. Until the scenario loader
lands, `drive` below interprets exactly the actions these two files use."""
from __future__ import annotations

import re
import tomllib
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

from harness.clock import SimulatedClock
from harness.directory import Directory, DirectoryGroup, DirectoryUser
from harness.sample_org import generate_org, latin_form
from harness.transport import ScimClient
from harness.verifier import Verifier, verify_groups
from idp_profiles.entra import EntraProfile

SCENARIOS = Path(__file__).resolve().parent.parent / "harness" / "scenarios"
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def duration(text: str) -> timedelta:
    return timedelta(**{UNITS[unit]: int(n) for n, unit in re.findall(r"(\d+)([smhd])", text)})


class EventApplier:
    """Applies one scenario event to the directory (the subset of actions the Entra scenarios use)."""

    def __init__(self, directory: Directory, clock: SimulatedClock) -> None:
        self.d, self.clock = directory, clock

    def user(self, ref: str) -> str:
        if ref.startswith("pick:"):
            live = [u for u, user in self.d.users.items()
                    if self.d.in_scope(u) and user.account_enabled and user.soft_deleted_at is None]
            return live[(int(ref[5:]) - 1) % len(live)]
        return next(u for u, user in self.d.users.items() if user.user_principal_name == ref)

    def group(self, name: str) -> str:
        return next(g for g, group in self.d.groups.items() if group.display_name == name)

    def apply(self, event: dict) -> None:
        getattr(self, event["action"])(event)

    def assign(self, e):
        self.d.assign(self.group(e["group"]) if "group" in e else self.user(e["user"]))

    def unassign(self, e):
        self.d.unassign(self.user(e["user"]))

    def rename(self, e):
        uid = self.user(e["user"])
        user = self.d.users[uid]
        upn = f"{latin_form(user.given_name) or 'user'}.{latin_form(e['family_name'])}@{self.d.tenant_domain}"
        self.d.update_user(uid, surname=e["family_name"], display_name=f"{user.given_name} {e['family_name']}",
                           user_principal_name=upn)

    def hire(self, e):
        upn = e["user"]
        user = self.d.add_user(DirectoryUser(str(uuid.uuid5(uuid.NAMESPACE_URL, upn)), upn, upn.split("@")[0],
                                             e["given_name"], e["family_name"],
                                             f"{e['given_name']} {e['family_name']}", upn.lower(),
                                             department=e.get("department")))
        self.d.add_member(self.group(e["group"]), user.object_id)

    def disable(self, e):
        self.d.disable_user(self.user(e["user"]))

    def enable(self, e):
        self.d.enable_user(next(u for u, user in self.d.users.items() if not user.account_enabled))

    def change_manager(self, e):
        self.d.update_user(self.user(e["user"]), manager_id=self.user(e["manager"]))

    def move_group(self, e):
        uid, target = self.user(e["user"]), self.group(e["group"])
        for gid, group in list(self.d.groups.items()):
            if uid in group.member_ids and gid != target:
                self.d.remove_member(gid, uid)
        self.d.add_member(target, uid)

    def group_rename(self, e):
        self.d.update_group(self.group(e["group"]), display_name=e["new_name"])

    def soft_delete(self, e):
        self.d.soft_delete_user(self.user(e["user"]), at=self.clock.now())

    def hard_delete(self, e):
        self.d.hard_delete_user(self.user(e["user"]))

    def group_create(self, e):
        group = self.d.add_group(DirectoryGroup(str(uuid.uuid5(uuid.NAMESPACE_URL, e["group"])), e["group"],
                                                latin_form(e["group"])))
        for ref in e.get("members", []):
            self.d.add_member(group.object_id, self.user(ref))
        if e.get("assign"):
            self.d.assign(group.object_id)


def drive(scenario: dict, base_url: str, token: str) -> EntraProfile:
    """Cycles every 40 simulated minutes until `until`; events due before a cycle are applied first."""
    org = scenario["directory"]["sample_org"]
    directory = generate_org(seed=org["seed"], users=org["users"], groups=org["groups"])
    clock = SimulatedClock()
    [idp] = scenario["idp"]
    profile = EntraProfile.configure(directory, base_url, token, idp["settings"], clock=clock)
    applier = EventApplier(directory, clock)
    start, end = clock.now(), clock.now() + duration(scenario["until"])
    events = sorted(scenario["events"], key=lambda e: duration(e["at"]))
    while clock.now() <= end:
        while events and start + duration(events[0]["at"]) <= clock.now():
            applier.apply(events.pop(0))
        profile.run_cycle()
        clock.sleep(profile.cadence.interval.total_seconds())
    assert not events
    return profile


@pytest.mark.parametrize("name, flag", [("entra-default", False), ("entra-aadopt", True)])
def test_scenario_runs_green_on_the_embedded_server(live_server, name, flag):
    scenario = tomllib.loads((SCENARIOS / f"{name}.toml").read_text(encoding="utf-8"))
    assert scenario["name"] == name
    assert set(scenario["idp"][0]["settings"]) <= set(EntraProfile.default_settings)
    profile = drive(scenario, live_server.base_url, live_server.token)

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

    client = ScimClient(live_server.base_url, live_server.token)
    users = Verifier(client).verify_users(profile.expected_users(), profile.trace)
    groups = verify_groups(client, profile.expected_groups(), profile.trace)
    assert users.ok, [f.message for f in users.findings]
    assert groups.ok, [f.message for f in groups.findings]
    assert groups.checked_users == 3 and users.checked_users == 41
