"""Okta Group Push: link or create the app group, push memberships (AIW: GET then full PUT; OIN: PATCH remove/add,
follow-up GET, then the `{id, displayName}` rename), Push Now, unlink with or without delete (okta_onelogin.md §5)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

from harness.directory import DirectoryGroup
from idp_profiles.base import ExpectedGroup
from idp_profiles.okta import bodies
from idp_profiles.okta.admin_view import GroupRow, Task, TaskFailed

if TYPE_CHECKING:
    from idp_profiles.okta.profile import Batch, OktaProfile


@dataclass
class PushedGroup:
    """One row of the Push Groups tab: the Okta group, the app group it is linked to, what was last pushed."""
    group_id: str
    okta_id: str
    target_id: str | None = None
    name: str = ""                                          # the displayName last pushed
    members: dict[str, str] = field(default_factory=dict)  # target user id -> display, as last pushed
    status: str = "Active"                                  # Active or Unlinked
    deleted_in_app: bool = False
    task: Task | None = None


class GroupPush:
    """Okta's Push Groups for one app. Only users assigned to the app and provisioned appear as members."""

    def __init__(self, profile: "OktaProfile") -> None:
        self.profile = profile
        self.pushed: dict[str, PushedGroup] = {}            # directory group id -> push state

    # -- which groups, which members --------------------------------------------------------------------------
    def configured(self, group: DirectoryGroup) -> bool:
        names = self.profile.settings["pushed_groups"]
        return self.profile.settings["push_groups"] and ("*" in names or group.display_name in names)

    def members(self, group: DirectoryGroup) -> list[dict]:
        """Members as Okta pushes them: direct user members that are provisioned and active in the app."""
        members = []
        for member_id in group.member_ids:
            app_user = self.profile.app_users.get(member_id)
            if app_user and app_user.active and app_user.target_id and self.profile.wanted(member_id):
                members.append({"value": app_user.target_id, "display": app_user.pushed.get("userName", "")})
        return members

    def note_provisioned(self, user_id: str, batch: "Batch") -> None:
        """A user (re)provisioned joins the pushed groups it belongs to: those groups get a membership push."""
        for group_id, pushed in self.pushed.items():
            group = self.profile.directory.groups.get(group_id)
            if pushed.status == "Active" and group and user_id in group.member_ids:
                batch.touch_group(group_id, "members")

    # -- the batch --------------------------------------------------------------------------------------------
    def run(self, batch: "Batch") -> None:
        for group_id, changes in batch.groups.items():
            pushed = self.pushed.get(group_id)
            group = self.profile.directory.groups.get(group_id)
            if "deleted" in changes:
                if pushed and pushed.status == "Active":
                    self.unlink(group_id, self.profile.settings["unlink_deletes_app_group"])
            elif pushed is None:
                if group and "created" in changes and self.configured(group):
                    self._guarded(group_id, self._start)
            elif pushed.status == "Active" and group and changes & {"members", "rename"}:
                self._guarded(group_id, self._update)

    def push_now(self, group_id: str) -> None:
        """"Push Now": the whole member list (AIW: GET + PUT; OIN: replace members, GET, rename)."""
        if group_id not in self.pushed or self.pushed[group_id].status != "Active":
            self.pushed.pop(group_id, None)
            self._guarded(group_id, self._start)
        else:
            self._guarded(group_id, self._replace_members)

    def unlink(self, group_id: str, delete_in_app: bool) -> None:
        """Unlink the pushed group: "Delete the group in the target app" sends DELETE, "Leave" sends nothing."""
        pushed = self.pushed.get(group_id)
        if pushed is None or pushed.status != "Active":
            return
        pushed.status = "Unlinked"
        if delete_in_app and pushed.target_id:
            self._guarded(group_id, self._delete)

    # -- the requests -----------------------------------------------------------------------------------------
    def _delete(self, group_id: str) -> None:
        pushed = self.pushed[group_id]
        self._require(self._request("DELETE", pushed, group_id, "group-delete"), "group-delete")
        pushed.deleted_in_app = True

    def _start(self, group_id: str) -> None:
        """Link to the app group of the same name (from the cached app-group list, or asked by name when Okta has
        none) and push its members, or create it."""
        group = self.profile.directory.groups[group_id]
        pushed = self.pushed.setdefault(group_id, PushedGroup(group_id, bodies.okta_id("00g", group_id)))
        cache = self.profile.app_groups
        if cache is not None:
            existing = cache.get(group.display_name.lower())
        else:
            lookup = self._require(self.profile.request(
                "GET", "/Groups", params={"filter": f'displayName eq "{group.display_name}"', "startIndex": "1",
                                          "count": "100"}, subject=group_id, purpose="group-lookup"), "group-lookup")
            body = lookup.response_body if lookup.status == 200 and isinstance(lookup.response_body, dict) else {}
            found = [r for r in body.get("Resources") or [] if isinstance(r, dict) and r.get("id")]
            existing = found[0]["id"] if found else None
        if existing:
            pushed.target_id = existing
            self._replace_members(group_id)
            return
        members = self.members(group)
        created = self._require(self.profile.request(
            "POST", "/Groups", body=bodies.group_body(group.display_name, members), subject=group_id,
            purpose="group-create"), "group-create")
        pushed.target_id = created.response_body["id"]
        self._pushed(pushed, group, members)
        self._require(self._request("GET", pushed, group_id, "group-read"), "group-create")
        if self.profile.aiw:
            self._require(self._request("PUT", pushed, group_id, "group-update",
                                        bodies.group_body(group.display_name, members)), "group-create")

    def _update(self, group_id: str) -> None:
        """A membership change or rename. AIW: GET then PUT with the full list. OIN: PATCH remove/add, follow-up GET,
        then the `{id, displayName}` replace; a rename alone is just that replace."""
        pushed, group = self.pushed[group_id], self.profile.directory.groups[group_id]
        if self.profile.aiw:
            self._put_all(pushed, group)
            return
        members = self.members(group)
        wanted = {m["value"] for m in members}
        removed = [target_id for target_id in pushed.members if target_id not in wanted]
        added = [m for m in members if m["value"] not in pushed.members]
        if removed or added:
            self._require(self._request("PATCH", pushed, group_id, "group-members",
                                        bodies.membership_patch(removed, added)), "group-members")
            self._pushed(pushed, group, members)
            self._require(self._request("GET", pushed, group_id, "group-read"), "group-members")
            self._rename(pushed, group)
        elif pushed.name != group.display_name:
            self._rename(pushed, group)

    def _replace_members(self, group_id: str) -> None:
        pushed, group = self.pushed[group_id], self.profile.directory.groups[group_id]
        if self.profile.aiw:
            self._put_all(pushed, group)
            return
        members = self.members(group)
        self._require(self._request("PATCH", pushed, group_id, "group-members",
                                    bodies.members_replace_patch(members)), "group-members")
        self._pushed(pushed, group, members)
        self._require(self._request("GET", pushed, group_id, "group-read"), "group-members")
        self._rename(pushed, group)

    def _put_all(self, pushed: PushedGroup, group: DirectoryGroup) -> None:
        self._require(self._request("GET", pushed, group.object_id, "group-read"), "group-members")
        members = self.members(group)
        self._require(self._request("PUT", pushed, group.object_id, "group-update",
                                    bodies.group_body(group.display_name, members)), "group-members")
        self._pushed(pushed, group, members)
        pushed.name = group.display_name

    def _rename(self, pushed: PushedGroup, group: DirectoryGroup) -> None:
        self._require(self._request("PATCH", pushed, group.object_id, "group-rename",
                                    bodies.rename_patch(pushed.target_id or "", group.display_name)), "group-rename")
        pushed.name = group.display_name

    def _pushed(self, pushed: PushedGroup, group: DirectoryGroup, members: list[dict]) -> None:
        """Record what the app group now holds, and log Okta's membership events for the difference."""
        before, after = set(pushed.members), {m["value"] for m in members}
        for operation, changed in (("group-add", after - before), ("group-remove", before - after)):
            for target_id in sorted(changed):
                self.profile.log(operation, "SUCCESS", group.display_name, target_id)
        pushed.members = {m["value"]: m["display"] for m in members}
        pushed.name = pushed.name or group.display_name
        pushed.task = None

    def _request(self, method: str, pushed: PushedGroup, group_id: str, purpose: str, body: dict | None = None):
        return self.profile.request(method, f"/Groups/{pushed.target_id}", body=body, subject=group_id,
                                    purpose=purpose)

    def _require(self, exchange, operation: str):
        return self.profile.require(exchange, operation)

    def _guarded(self, group_id: str, step: Callable[[str], None]) -> None:
        """Run one Group Push step; a failure becomes the group's task (Okta stops pushing it until the next event)."""
        try:
            step(group_id)
        except TaskFailed as failure:
            group = self.profile.directory.groups.get(group_id) or self.profile.directory.deleted_groups[group_id]
            task = self.profile.record_group_failure(group_id, group.display_name, failure)
            if group_id in self.pushed:
                self.pushed[group_id].task = task

    # -- Okta's view and the expected end state ------------------------------------------------------------------
    def rows(self) -> list[GroupRow]:
        return [GroupRow(p.name or p.group_id, p.okta_id, "Error" if p.task else p.status, p.target_id, p.task)
                for p in self.pushed.values()]

    def expected(self) -> list[ExpectedGroup]:
        """Each linked group with the directory's wanted members; users no longer wanted may linger (Okta leaves
        them until the next push), so only wanted users are judged. Unlinked with delete: gone. Unlinked and
        left: not Okta's business any more."""
        directory = self.profile.directory
        wanted = frozenset(uid for uid in [*directory.users, *directory.deleted_users] if self.profile.wanted(uid))
        expected = []
        for group_id, pushed in self.pushed.items():
            group = directory.groups.get(group_id)
            if pushed.status == "Unlinked":
                if pushed.deleted_in_app:
                    expected.append(ExpectedGroup(group_id, pushed.name, "absent", "displayName", pushed.name))
                continue
            if group is None or pushed.target_id is None:
                continue
            required = frozenset(m for m in group.member_ids if m in wanted)
            expected.append(ExpectedGroup(group_id, group.display_name, "present", "displayName",
                                          group.display_name, {"displayName": group.display_name}, required,
                                          judged=wanted))
        return expected
