"""Groups from roles, as OneLogin's app Rules and Groups parameter produce them, and the bodies of its group calls.
Rules: "Set Groups in <app>" for each role matching a pattern, or a fixed group; a single-value parameter joins them."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# A Groups parameter not flagged multi-value collapses the values into one comma-joined string [KORTIX][BOXY].
JOINED_SEPARATOR = ","


@dataclass(frozen=True)
class GroupRule:
    """One app rule: "Set Groups in <app>" → "Map from OneLogin" → "For each role with value that matches
    <roles_matching>", or "Set Groups in <app>" to one fixed `group`."""
    roles_matching: str | None = None
    group: str | None = None

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> "GroupRule":
        unknown = set(raw) - {"roles_matching", "group"}
        if unknown or len(raw) != 1:
            raise ValueError(f"a rule is {{roles_matching = \"<regex>\"}} or {{group = \"<name>\"}}, not {dict(raw)}")
        if "roles_matching" in raw:
            try:
                re.compile(raw["roles_matching"])
            except re.error as exc:
                raise ValueError(f"rule pattern {raw['roles_matching']!r} is not a valid regex: {exc}") from exc
        return cls(**raw)

    def groups_for(self, roles: Iterable[str]) -> list[str]:
        if self.group is not None:
            return [self.group]
        return [role for role in roles if re.fullmatch(self.roles_matching or "", role)]


def group_values(roles: Iterable[str], rules: Iterable[GroupRule], multi_value: bool) -> list[str]:
    """The Groups parameter of one user: every rule's groups in order, without repeats; one joined string when
    the parameter is not multi-value (OneLogin's misconfiguration: "Engineering,Sales" arrives as one group)."""
    roles = list(roles)
    values: list[str] = []
    for rule in rules:
        values += [g for g in rule.groups_for(roles) if g not in values]
    if not multi_value and len(values) > 1:
        return [JOINED_SEPARATOR.join(values)]
    return values


def create_group_body(display_name: str) -> dict:
    """POST /Groups: displayName and schemas only, never members [LINKYARD]."""
    return {"displayName": display_name, "schemas": [CORE_GROUP]}


def membership_patch(op: str, user_id: str) -> dict:
    """PATCH /Groups/{id}: `add` or `remove` with a value array of {value}, never a members[value eq …] path."""
    return {"schemas": [PATCH_OP], "Operations": [{"value": [{"value": user_id}], "op": op, "path": "members"}]}
