"""Carries out a scenario's timed events when the scheduler fires them: directory changes (joiners, movers, leavers,
groups), token rotation on the embedded server, fault windows, and actions a profile declares itself."""
from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterable

from harness.clock import Clock
from harness.directory import Directory, DirectoryGroup, DirectoryUser
from harness.faults import FaultPlan, FaultWindow
from harness.sample_org import PersonFactory, latin_form
from harness.scenario_files import ACTIONS, EventSpec, ScenarioError, format_duration
from idp_profiles.base import IdpProfile

RENAMED_SURNAME = "Ó Súilleabháin"       # a rename with an accent and a space, folded for the new UPN


@dataclass
class AppliedEvent:
    at: datetime
    spec: EventSpec
    description: str
    object_ids: tuple[str, ...] = ()
    changed_directory: bool = False
    skipped: str | None = None           # why the event did nothing (reported as a harness limitation)


@dataclass
class IdpBinding:
    """One IdP of the simulation as the event applier needs it: its profile and its workspace on the target."""
    name: str
    profile: IdpProfile
    workspace: str


class EventApplier:
    """`rotate_token(workspace) -> new token` is given only when the target is the embedded server."""

    def __init__(self, directory: Directory, idps: list[IdpBinding], faults: FaultPlan, clock: Clock,
                 source: str, seed: int = 0, rotate_token: Callable[[str], str] | None = None,
                 tokens: dict[str, str | None] | None = None) -> None:
        self.directory = directory
        self.idps = idps
        self.faults = faults
        self.clock = clock
        self.source = source
        self.rng = random.Random(f"events-{seed}")
        self.rotate_token = rotate_token
        self.tokens = tokens if tokens is not None else {}   # workspace -> the service provider's current token
        self.picked: set[str] = set()                        # users already chosen by `random`
        self.applied: list[AppliedEvent] = []
        mails = (u.mail for u in directory.users.values() if u.mail)
        self.mail_domain = next((m.rpartition("@")[2] for m in mails), directory.tenant_domain.lower())

    def apply(self, spec: EventSpec) -> AppliedEvent:
        before = self.directory.watermark
        handler = getattr(self, f"_{spec.action}", None) if spec.action in ACTIONS else self._profile_action
        description, object_ids, skipped = handler(spec)
        event = AppliedEvent(self.clock.now(), spec, description, tuple(object_ids),
                             self.directory.watermark != before, skipped)
        self.applied.append(event)
        return event

    def error(self, spec: EventSpec, key: str, message: str) -> ScenarioError:
        return ScenarioError(self.source, spec.line, f"events[{spec.index - 1}].{key}", message)

    # -- references -------------------------------------------------------------------------------------------
    def user_ref(self, spec: EventSpec, key: str = "user", ref: str | None = None) -> str:
        """A UPN (any case), `pick:N` (the N-th in-scope user, from 0) or `random` (an in-scope, enabled user with a
        manager, i.e. not the head of the org, that no earlier event picked; deterministic for the scenario's
        seed). `ref` defaults to the event's `key`."""
        ref = str(spec.params.get(key, "")) if ref is None else str(ref)
        users = self.directory.users
        if ref == "random":
            candidates = [i for i, u in users.items() if self.directory.in_scope(i) and u.account_enabled
                          and u.manager_id and i not in self.picked]
            if not candidates:
                raise self.error(spec, key, "no in-scope, enabled user left to pick")
            chosen = self.rng.choice(candidates)
            self.picked.add(chosen)
            return chosen
        if ref.startswith("pick:"):
            in_scope = [i for i in users if self.directory.in_scope(i)]
            try:
                return in_scope[int(ref[5:])]
            except (ValueError, IndexError):
                raise self.error(spec, key, f"{ref!r}: there are {len(in_scope)} in-scope users "
                                            f"(pick:0 … pick:{len(in_scope) - 1})") from None
        found = next((i for i, u in users.items() if u.user_principal_name.lower() == ref.lower()), None)
        if found is None:
            raise self.error(spec, key, f"no user {ref!r} in the directory at +{format_duration(spec.at)} (a UPN, pick:N or random)")
        return found

    def group_ref(self, spec: EventSpec, name: Any, key: str = "group") -> str:
        found = next((g.object_id for g in self.directory.groups.values()
                      if g.display_name.lower() == str(name).lower()), None)
        if found is None:
            known = ", ".join(sorted(g.display_name for g in self.directory.groups.values()))
            raise self.error(spec, key, f"no group {name!r}; the directory has: {known or 'none'}")
        return found

    def label(self, object_id: str) -> str:
        user = self.directory.user(object_id)
        return user.user_principal_name if user else self.directory.groups[object_id].display_name

    # -- joiners, movers, leavers -----------------------------------------------------------------------------
    def _hire(self, spec: EventSpec):
        p = spec.params
        taken = {u.mail_nickname.lower() for u in [*self.directory.users.values(),
                                                    *self.directory.deleted_users.values()]}
        factory = PersonFactory(self.rng, self.directory.tenant_domain, self.mail_domain, taken)
        department = p.get("department") or self.rng.choice(
            sorted({u.department for u in self.directory.users.values() if u.department}) or ["Engineering"])
        colleagues = [u for u in self.directory.users.values() if u.department == department and u.manager_id]
        manager = self.user_ref(spec, "manager") if "manager" in p else (
            self.rng.choice(colleagues).manager_id if colleagues else None)
        person = factory.person(department, p.get("job_title", "New Starter"), manager,
                                str(self.rng.randrange(100000, 999999)))
        self._name_person(person, p)
        self.directory.add_user(person)
        for group in p.get("groups", []):
            self.directory.add_member(self.group_ref(spec, group, "groups"), person.object_id)
        if p.get("assign", True):
            self.directory.assign(person.object_id)
        return f"hired {person.user_principal_name} ({department})", [person.object_id], None

    def _name_person(self, person: DirectoryUser, p: dict) -> None:
        person.given_name = p.get("given_name", person.given_name)
        person.surname = p.get("family_name", person.surname)
        if "given_name" in p or "family_name" in p:
            person.display_name = f"{person.given_name} {person.surname}"
        if "upn" in p:
            person.user_principal_name = p["upn"]
            person.mail_nickname = p["upn"].partition("@")[0]
        person.mail = p.get("email", person.mail)

    def _rename(self, spec: EventSpec):
        object_id, p = self.user_ref(spec), spec.params
        user = self.directory.users[object_id]
        old_upn = user.user_principal_name
        given = p.get("given_name", user.given_name)
        family = p.get("family_name", RENAMED_SURNAME if "given_name" not in p else user.surname)
        changes: dict[str, Any] = {"given_name": given, "surname": family, "display_name": f"{given} {family}"}
        if "upn" in p:
            changes["user_principal_name"] = p["upn"]
        elif not p.get("keep_upn"):
            local, _, domain = old_upn.partition("@")
            first = latin_form(given) or local.split(".")[0]
            changes["user_principal_name"] = self._free_upn(f"{first}.{latin_form(family) or 'Renamed'}", domain)
        self.directory.update_user(object_id, **changes)
        return (f"renamed {old_upn} → {user.user_principal_name} (name → {given} {family})", [object_id], None)

    def _free_upn(self, local: str, domain: str) -> str:
        taken = {u.user_principal_name.lower() for u in self.directory.users.values()}
        candidate, n = local, 2
        while f"{candidate}@{domain}".lower() in taken:
            candidate, n = f"{local}{n}", n + 1
        return f"{candidate}@{domain}"

    def _change_email(self, spec: EventSpec):
        object_id = self.user_ref(spec)
        user = self.directory.users[object_id]
        old = user.mail
        new = spec.params.get("email") or f"{user.mail_nickname.lower()}.new@{self.mail_domain}"
        self.directory.update_user(object_id, mail=new)
        return f"changed the email of {user.user_principal_name}: {old} → {new}", [object_id], None

    def _update(self, spec: EventSpec):
        """Plain attribute changes (an imported log's job title, department, employee id or display name)."""
        object_id = self.user_ref(spec)
        changes = {k: v for k, v in spec.params.items() if k != "user"}
        self.directory.update_user(object_id, **changes)
        return (f"updated {self.label(object_id)}: " + ", ".join(f"{k} → {v}" for k, v in changes.items()),
                [object_id], None)

    def _change_manager(self, spec: EventSpec):
        object_id, manager_id = self.user_ref(spec), self.user_ref(spec, "manager")
        self.directory.update_user(object_id, manager_id=manager_id)
        return f"{self.label(object_id)} now reports to {self.label(manager_id)}", [object_id], None

    def _move_group(self, spec: EventSpec):
        object_id, p = self.user_ref(spec), spec.params
        target = self.group_ref(spec, p["group"])
        sources = [self.group_ref(spec, p["from_group"], "from_group")] if "from_group" in p else [
            g.object_id for g in self.directory.groups.values() if object_id in g.member_ids]
        for group_id in sources:
            if group_id != target:
                self.directory.remove_member(group_id, object_id)
        self.directory.add_member(target, object_id)
        if "department" in p:
            self.directory.update_user(object_id, department=p["department"])
        names = ", ".join(self.directory.groups[g].display_name for g in sources if g != target) or "no group"
        return (f"moved {self.label(object_id)} from {names} to {self.directory.groups[target].display_name}",
                [object_id], None)

    def _user_change(self, spec: EventSpec, change: Callable[[str], object], verb: str):
        object_id = self.user_ref(spec)
        label = self.label(object_id)
        change(object_id)
        return f"{verb} {label}", [object_id], None

    def _add_role(self, spec: EventSpec):
        role = spec.params["role"]
        return self._user_change(spec, lambda user: self.directory.add_role(user, role), f"gave role {role} to")

    def _remove_role(self, spec: EventSpec):
        role = spec.params["role"]
        return self._user_change(spec, lambda user: self.directory.remove_role(user, role),
                                 f"took role {role} from")

    def _suspend(self, spec: EventSpec):
        return self._user_change(spec, self.directory.suspend_user, "suspended")

    def _unsuspend(self, spec: EventSpec):
        return self._user_change(spec, self.directory.unsuspend_user, "unsuspended")

    def _disable(self, spec: EventSpec):
        return self._user_change(spec, self.directory.disable_user, "disabled")

    def _enable(self, spec: EventSpec):
        return self._user_change(spec, self.directory.enable_user, "re-enabled")

    def _soft_delete(self, spec: EventSpec):
        return self._user_change(spec, lambda user: self.directory.soft_delete_user(user, self.clock.now()),
                                 "soft-deleted")

    def _hard_delete(self, spec: EventSpec):
        return self._user_change(spec, self.directory.hard_delete_user, "hard-deleted")

    def _assign(self, spec: EventSpec):
        object_id = self._user_or_group(spec)
        self.directory.assign(object_id)
        return f"assigned {self.label(object_id)} to the app", self._users_of(object_id), None

    def _unassign(self, spec: EventSpec):
        object_id = self._user_or_group(spec)
        users = self._users_of(object_id)
        self.directory.unassign(object_id)
        return f"unassigned {self.label(object_id)} from the app", users, None

    def _user_or_group(self, spec: EventSpec) -> str:
        return self.user_ref(spec) if "user" in spec.params else self.group_ref(spec, spec.params["group"])

    def _users_of(self, object_id: str) -> list[str]:
        group = self.directory.groups.get(object_id)
        return [m for m in group.member_ids if m in self.directory.users] if group else [object_id]

    # -- groups -----------------------------------------------------------------------------------------------
    def _group_create(self, spec: EventSpec):
        p = spec.params
        name = str(p["group"])
        group = self.directory.add_group(DirectoryGroup(
            object_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), display_name=name,
            mail_nickname=latin_form(name).lower() or f"group{len(self.directory.groups)}",
            description=p.get("description")))
        members = [self.user_ref(spec, "members", member) for member in p.get("members", [])]
        for member in members:
            self.directory.add_member(group.object_id, member)
        if p.get("assign", True):
            self.directory.assign(group.object_id)
        return f"created group {name} with {len(members)} members", members, None

    def _group_rename(self, spec: EventSpec):
        group_id = self.group_ref(spec, spec.params["group"])
        self.directory.update_group(group_id, display_name=str(spec.params["new_name"]))
        return f"renamed group {spec.params['group']} → {spec.params['new_name']}", self._users_of(group_id), None

    def _group_delete(self, spec: EventSpec):
        group_id = self.group_ref(spec, spec.params["group"])
        users = self._users_of(group_id)
        self.directory.delete_group(group_id)
        return f"deleted group {spec.params['group']}", users, None

    # -- the service provider's side --------------------------------------------------------------------------
    def _workspaces(self, spec: EventSpec) -> list[str]:
        if spec.idp:
            return [b.workspace for b in self.idps if b.name == spec.idp]
        if "workspace" in spec.params:
            return [str(spec.params["workspace"])]
        return sorted({b.workspace for b in self.idps})

    def _rotate_token(self, spec: EventSpec):
        if self.rotate_token is None:
            return "token rotation skipped", [], "rotate_token needs the embedded server (the harness cannot " \
                                                  "rotate another service's token)"
        workspaces = self._workspaces(spec)
        for workspace in workspaces:
            self.tokens[workspace] = self.rotate_token(workspace)
        return (f"rotated the SCIM token of workspace {', '.join(workspaces)}; the IdP still holds the old one",
                [], None)

    def _update_token(self, spec: EventSpec):
        workspaces = self._workspaces(spec)
        updated = [b.name for b in self.idps if b.workspace in workspaces and b.workspace in self.tokens]
        for binding in self.idps:
            if binding.name in updated:
                binding.profile.client.set_token(self.tokens[binding.workspace])
        return f"pasted the current token into {', '.join(updated) or 'no IdP'}", [], None

    def _fault(self, spec: EventSpec):
        p = spec.params
        now = self.clock.now()
        window = self.faults.open(FaultWindow(
            p["kind"], now, now + p["duration"], status=p.get("status", 503), retry_after=p.get("retry_after"),
            delay=float(p.get("delay", 0)), rate=float(p.get("rate", 1)), idp=spec.idp))
        return f"fault for {format_duration(p['duration'])}: {window.describe()}", [], None

    # -- profile-specific -------------------------------------------------------------------------------------
    def _profile_action(self, spec: EventSpec):
        handlers = [b for b in self.idps if spec.action in b.profile.scenario_actions
                    and spec.idp in (None, b.name)]
        if not handlers:
            return f"{spec.action} skipped", [], f"no IdP in this run handles {spec.action!r}"
        params = {**spec.params, "user": self.user_ref(spec)} if "user" in spec.params else spec.params
        descriptions = [f"{b.name}: {b.profile.apply_scenario_action(spec.action, params)}" for b in handlers]
        return "; ".join(descriptions), [], None


def declared_actions(profiles: Iterable[type[IdpProfile]]) -> set[str]:
    return {action for profile in profiles for action in profile.scenario_actions}
