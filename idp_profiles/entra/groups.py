"""The group half of the Entra job: groups created empty after the users, renamed and deleted, then memberships
added and removed by PATCH in the shape of the job's generation; and the groups' expected end state."""
from __future__ import annotations

from typing import Any

from harness.directory import DirectoryGroup
from idp_profiles.base import ExpectedGroup
from idp_profiles.entra import shapes
from idp_profiles.entra.cycle import CycleState, read_value
from idp_profiles.entra.provisioning_log import ChangeRecord
from idp_profiles.entra.settings import DEFAULT_GROUP_MAPPINGS, GROUP_SOURCES


class GroupProvisioning:
    """Mixed into EntraProfile, whose links, settings, client and logging helpers it uses."""

    def group_in_scope(self, group_id: str) -> bool:
        if group_id not in self.directory.groups:
            return False
        return self.settings["scope"] == "all" or group_id in self.directory.assignments

    def group_values(self, group: DirectoryGroup) -> dict[str, Any]:
        values = {path: GROUP_SOURCES[source](group) for path, source in DEFAULT_GROUP_MAPPINGS.items()}
        return {path: value for path, value in values.items() if value is not None}

    def _sync_group(self, group_id: str, cycle: CycleState) -> None:
        group = self.directory.groups.get(group_id)
        linked = group_id in self.group_links
        if group is None or not self.group_in_scope(group_id):
            if linked:
                self._delete_group(group_id, group, cycle)
            return
        cycle.objects += 1
        record = self._begin(group_id, "Group", "Update" if linked else "Add", cycle, group)
        if linked:
            exchange = self.client.get(f"/Groups/{self.group_links[group_id]}",
                                       params={"excludedAttributes": "members"}, subject=group_id, purpose="read")
            if self._succeeded(exchange, record, "read", cycle):
                self._update_group(group_id, group, exchange.response_body, record, cycle)
            return
        found = self._lookup("/Groups", {"excludedAttributes": "members",
                                         "filter": f'displayName eq "{group.display_name}"'}, record, cycle)
        if found is None:
            return
        if found and isinstance(found[0], dict) and found[0].get("id"):
            self.group_links[group_id] = record.target_id = found[0]["id"]
            self.pushed_members[group_id] = {}
            cycle.report.matched.append(group_id)
            self._update_group(group_id, group, found[0], record, cycle)
            return
        values = self.group_values(group)
        body = shapes.create_group_body(values, self.settings["group_create_adscim_schema"])
        created = self._create("/Groups", body, values, record, cycle)
        if created:
            self.group_links[group_id] = record.target_id = created["id"]
            self.pushed_members[group_id] = {}
            self._succeed(record, "create", cycle)

    def _update_group(self, group_id: str, group: DirectoryGroup, target: Any, record: ChangeRecord,
                      cycle: CycleState) -> None:
        changes = shapes.attribute_changes(self.group_values(group), target if isinstance(target, dict) else {})
        if not changes:
            self._succeed(record, "other", cycle, status="skipped")
            return
        exchange = self.client.patch(f"/Groups/{self.group_links[group_id]}",
                                     shapes.patch_body(shapes.update_operations(changes, self.flag)),
                                     subject=group_id, purpose="update")
        if self._succeeded(exchange, record, "update", cycle):
            for _, path, value in changes:
                record.modify(path, read_value(target, path), value)
            cycle.report.updated.append(group_id)
            self._export_step(record, "Update", exchange)
            self._succeed(record, "update", cycle)

    def _delete_group(self, group_id: str, group: DirectoryGroup | None, cycle: CycleState) -> None:
        """A deleted or out-of-scope group is deleted in the target ([inferred]: groups have no `active`)."""
        cycle.objects += 1
        record = self._begin(group_id, "Group", "Delete", cycle, group)
        exchange = self.client.delete(f"/Groups/{self.group_links[group_id]}", subject=group_id, purpose="delete")
        if self._succeeded(exchange, record, "delete", cycle):
            del self.group_links[group_id]
            self.pushed_members.pop(group_id, None)
            cycle.report.deleted.append(group_id)
            self._export_step(record, "Delete", exchange)
            self._succeed(record, "delete", cycle)

    def _sync_memberships(self, cycle: CycleState) -> None:
        """After users and groups: add the members now linked, remove those that left, by PATCH (doc S1, S3)."""
        for group_id in list(self.group_links):
            group = self.directory.groups.get(group_id)
            if cycle.stopped or group is None:
                continue
            pushed = self.pushed_members.setdefault(group_id, {})
            wanted = {m: self.links.get(m) or self.group_links.get(m) for m in group.member_ids}
            wanted = {m: t for m, t in wanted.items() if t}
            added = [m for m in wanted if m not in pushed]
            removed = [m for m in pushed if m not in wanted]
            if added:
                self._patch_members(group_id, [shapes.add_members_operation([wanted[m] for m in added], self.flag)],
                                    added, wanted, cycle)
            if removed:
                ops = shapes.remove_members_operations([pushed[m] for m in removed], self.flag)
                self._patch_members(group_id, ops, removed, None, cycle)

    def _patch_members(self, group_id: str, operations: list[dict], members: list[str],
                       added: dict[str, str] | None, cycle: CycleState) -> None:
        record = self._begin(group_id, "Group", "Update", cycle, self.directory.groups[group_id])
        exchange = self.client.patch(f"/Groups/{self.group_links[group_id]}", shapes.patch_body(operations),
                                     subject=group_id, purpose="members")
        if not self._succeeded(exchange, record, "members", cycle):
            return
        pushed = self.pushed_members[group_id]
        for member in members:
            if added is None:
                record.modify("members", pushed.pop(member), None)
            else:
                pushed[member] = added[member]
                record.modify("members", None, added[member])
        self._export_step(record, "Update", exchange)
        self._succeed(record, "update", cycle)

    def expected_groups(self) -> list[ExpectedGroup]:
        """Groups in scope with their linked members (a member the IdP never got linked cannot be a member);
        groups deleted or out of scope must be gone."""
        if not self.settings["provision_groups"]:
            return []
        expected = []
        for group_id, group in self.directory.groups.items():
            if self.group_in_scope(group_id):
                members = frozenset(m for m in group.member_ids if m in self.links or m in self.group_links)
                expected.append(ExpectedGroup(group_id, group.display_name, "present", "displayName",
                                              group.display_name, self.group_values(group), members))
        seen = {e.object_id for e in expected}
        for exchange in self.trace:
            group_id = exchange.subject
            if (exchange.path.startswith("/Groups") and group_id and group_id not in seen
                    and exchange.method == "POST" and exchange.ok):
                seen.add(group_id)
                expected.append(ExpectedGroup(group_id, (exchange.request_body or {}).get("displayName", group_id),
                                              "absent", "displayName",
                                              (exchange.request_body or {}).get("displayName", "")))
        return expected
