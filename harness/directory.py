"""The IdP side of a simulation: users, groups, app assignments and their attribute values, as the IdP holds them.
Every change is recorded as a numbered event, so a profile can consume exactly what changed since its last cycle."""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

ObjectType = Literal["user", "group"]


@dataclass
class DirectoryUser:
    """A user as an IdP stores it; attribute names follow Entra's (the richest of the three IdPs)."""
    object_id: str                      # immutable GUID, the IdP's anchor
    user_principal_name: str            # sign-in name, case as typed by the admin
    mail_nickname: str
    given_name: str
    surname: str
    display_name: str
    mail: str | None = None             # None: no mailbox; IdPs never send null attributes
    job_title: str | None = None
    department: str | None = None
    employee_id: str | None = None
    manager_id: str | None = None       # object_id of another DirectoryUser
    account_enabled: bool = True
    roles: list[str] = field(default_factory=list)   # OneLogin roles: its app rules turn them into groups
    soft_deleted_at: datetime | None = None   # Entra's recycle bin: IsSoftDeleted until restored or purged
    suspended: bool = False             # Okta's "suspend": the user cannot sign in but stays assigned


@dataclass
class DirectoryGroup:
    object_id: str
    display_name: str
    mail_nickname: str
    description: str | None = None
    member_ids: list[str] = field(default_factory=list)   # users and groups (nested groups)


@dataclass(frozen=True)
class DirectoryEvent:
    sequence: int
    kind: str                 # created, updated, disabled, enabled, hard_deleted, assigned, unassigned, member_added, ...
    object_type: ObjectType
    object_id: str
    changes: dict[str, tuple[Any, Any]] = field(default_factory=dict)   # attribute -> (old, new)


USER_ATTRIBUTES = frozenset(f.name for f in dataclasses.fields(DirectoryUser)) - {"object_id", "soft_deleted_at"}
GROUP_ATTRIBUTES = frozenset({"display_name", "mail_nickname", "description"})


class Directory:
    """Users, groups and app assignments. Mutate only through the methods so that every change becomes an event."""

    def __init__(self, tenant_domain: str = "Contoso.onmicrosoft.com") -> None:
        self.tenant_domain = tenant_domain
        self.users: dict[str, DirectoryUser] = {}
        self.groups: dict[str, DirectoryGroup] = {}
        self.assignments: set[str] = set()            # object ids (users or groups) assigned to the app
        self.deleted_users: dict[str, DirectoryUser] = {}   # hard-deleted (purged), kept for the record
        self.deleted_groups: dict[str, DirectoryGroup] = {}
        self.events: list[DirectoryEvent] = []

    # -- the event log ------------------------------------------------------------------------------------------
    @property
    def watermark(self) -> int:
        """Sequence number of the latest event; a profile stores it after a cycle (Entra's delta watermark)."""
        return self.events[-1].sequence if self.events else 0

    def events_since(self, watermark: int) -> list[DirectoryEvent]:
        return [e for e in self.events if e.sequence > watermark]

    def _record(self, kind: str, object_type: ObjectType, object_id: str,
                changes: dict[str, tuple[Any, Any]] | None = None) -> DirectoryEvent:
        event = DirectoryEvent(self.watermark + 1, kind, object_type, object_id, changes or {})
        self.events.append(event)
        return event

    # -- users --------------------------------------------------------------------------------------------------
    def add_user(self, user: DirectoryUser) -> DirectoryUser:
        if user.object_id in self.users or user.object_id in self.deleted_users:
            raise ValueError(f"duplicate object id {user.object_id}")
        self.users[user.object_id] = user
        self._record("created", "user", user.object_id)
        return user

    def update_user(self, object_id: str, **changes: Any) -> DirectoryEvent | None:
        """Change attributes of a user; returns the event, or None when nothing actually changed."""
        unknown = set(changes) - USER_ATTRIBUTES
        if unknown:
            raise ValueError(f"unknown user attributes: {sorted(unknown)}")
        user = self.users[object_id]
        diff = {k: (getattr(user, k), v) for k, v in changes.items() if getattr(user, k) != v}
        if not diff:
            return None
        for name, (_, new) in diff.items():
            setattr(user, name, new)
        kind = "updated"
        if set(diff) == {"account_enabled"}:
            kind = "enabled" if user.account_enabled else "disabled"
        elif set(diff) == {"suspended"}:
            kind = "suspended" if user.suspended else "unsuspended"
        return self._record(kind, "user", object_id, diff)

    def disable_user(self, object_id: str) -> DirectoryEvent | None:
        return self.update_user(object_id, account_enabled=False)

    def enable_user(self, object_id: str) -> DirectoryEvent | None:
        return self.update_user(object_id, account_enabled=True)

    def add_role(self, object_id: str, role: str) -> DirectoryEvent | None:
        roles = self.users[object_id].roles
        return None if role in roles else self.update_user(object_id, roles=[*roles, role])

    def remove_role(self, object_id: str, role: str) -> DirectoryEvent | None:
        return self.update_user(object_id, roles=[r for r in self.users[object_id].roles if r != role])

    def suspend_user(self, object_id: str) -> DirectoryEvent | None:
        return self.update_user(object_id, suspended=True)

    def unsuspend_user(self, object_id: str) -> DirectoryEvent | None:
        return self.update_user(object_id, suspended=False)

    def hard_delete_user(self, object_id: str) -> DirectoryEvent:
        """Purge a user (Entra: hard delete, 30 days after soft delete or purged by an admin)."""
        self.deleted_users[object_id] = self.users.pop(object_id)
        self._detach(object_id)
        return self._record("hard_deleted", "user", object_id)

    def soft_delete_user(self, object_id: str, at: datetime) -> DirectoryEvent | None:
        """Move a user to the recycle bin (Entra keeps it 30 days, then purges it: `purge_soft_deleted`)."""
        user = self.users[object_id]
        if user.soft_deleted_at is not None:
            return None
        user.soft_deleted_at = at
        return self._record("soft_deleted", "user", object_id)

    def restore_user(self, object_id: str) -> DirectoryEvent | None:
        user = self.users[object_id]
        if user.soft_deleted_at is None:
            return None
        user.soft_deleted_at = None
        return self._record("restored", "user", object_id)

    def purge_soft_deleted(self, deleted_before: datetime) -> list[DirectoryEvent]:
        """Hard-delete the users soft-deleted before `deleted_before` (the end of their retention)."""
        due = [uid for uid, user in self.users.items()
               if user.soft_deleted_at is not None and user.soft_deleted_at <= deleted_before]
        return [self.hard_delete_user(uid) for uid in due]

    def user(self, object_id: str) -> DirectoryUser | None:
        """A live or hard-deleted user."""
        return self.users.get(object_id) or self.deleted_users.get(object_id)

    # -- groups and assignments ---------------------------------------------------------------------------------
    def add_group(self, group: DirectoryGroup) -> DirectoryGroup:
        if group.object_id in self.groups:
            raise ValueError(f"duplicate object id {group.object_id}")
        self.groups[group.object_id] = group
        self._record("created", "group", group.object_id)
        return group

    def add_member(self, group_id: str, member_id: str) -> DirectoryEvent | None:
        group = self.groups[group_id]
        if member_id not in self.users and member_id not in self.groups:
            raise ValueError(f"unknown member {member_id}")
        if member_id == group_id or member_id in group.member_ids:
            return None
        group.member_ids.append(member_id)
        return self._record("member_added", "group", group_id, {"members": (None, member_id)})

    def remove_member(self, group_id: str, member_id: str) -> DirectoryEvent | None:
        group = self.groups[group_id]
        if member_id not in group.member_ids:
            return None
        group.member_ids.remove(member_id)
        return self._record("member_removed", "group", group_id, {"members": (member_id, None)})

    def update_group(self, group_id: str, **changes: Any) -> DirectoryEvent | None:
        """Change a group's attributes (a rename is `display_name=`); None when nothing actually changed."""
        unknown = set(changes) - GROUP_ATTRIBUTES
        if unknown:
            raise ValueError(f"unknown group attributes: {sorted(unknown)}")
        group = self.groups[group_id]
        diff = {k: (getattr(group, k), v) for k, v in changes.items() if getattr(group, k) != v}
        for name, (_, new) in diff.items():
            setattr(group, name, new)
        return self._record("updated", "group", group_id, diff) if diff else None

    def delete_group(self, group_id: str) -> DirectoryEvent:
        """Delete a group; its former members are in the event so their scope can be re-evaluated."""
        group = self.deleted_groups[group_id] = self.groups.pop(group_id)
        self._detach(group_id)
        return self._record("deleted", "group", group_id, {"members": (list(group.member_ids), None)})

    def _detach(self, object_id: str) -> None:
        """A deleted object leaves the app's assignments and every group it was a member of."""
        self.assignments.discard(object_id)
        for group in self.groups.values():
            if object_id in group.member_ids:
                group.member_ids.remove(object_id)

    def assign(self, object_id: str) -> DirectoryEvent | None:
        if object_id in self.assignments:
            return None
        object_type: ObjectType = "group" if object_id in self.groups else "user"
        if object_type == "user" and object_id not in self.users:
            raise ValueError(f"unknown object {object_id}")
        self.assignments.add(object_id)
        return self._record("assigned", object_type, object_id)

    def unassign(self, object_id: str) -> DirectoryEvent | None:
        if object_id not in self.assignments:
            return None
        self.assignments.discard(object_id)
        return self._record("unassigned", "group" if object_id in self.groups else "user", object_id)

    def in_scope(self, user_id: str) -> bool:
        """"Sync only assigned users and groups": assigned directly or a direct member of an assigned group.
        As in Entra, membership of a group nested inside an assigned group does not put a user in scope."""
        if user_id not in self.users:
            return False
        if user_id in self.assignments:
            return True
        return any(user_id in self.groups[g].member_ids for g in self.assignments if g in self.groups)

    def user_ids_affected_by(self, event: DirectoryEvent) -> list[str]:
        """Users whose provisioning state an event can change (a group assignment touches its direct members)."""
        if event.object_type == "user":
            return [event.object_id]
        if event.kind == "deleted":
            return [m for m in event.changes["members"][0] if m in self.users]
        if event.kind in ("member_added", "member_removed"):
            old, new = event.changes.get("members", (None, None))
            member = new if event.kind == "member_added" else old
            return [member] if member in self.users else []
        group = self.groups.get(event.object_id)
        if group is None or event.kind not in ("assigned", "unassigned"):
            return []
        return [m for m in group.member_ids if m in self.users]
