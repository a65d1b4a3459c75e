"""Entra's request bodies, byte for byte as entra.md §3–4 shows them, for both PATCH generations: the default one
(capitalised ops, one op per path, "True"/"False") and aadOptscim062020 (lower-case ops, booleans, merged replace)."""
from __future__ import annotations

from typing import Any, Mapping

from harness.attribute_paths import parse_path, read_path
from idp_profiles.entra.settings import ENTERPRISE_USER, MANAGER_PATH

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
CORE_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Top-level key order of the create bodies in the tutorial's examples (entra.md §3.3, §3.7).
_BODY_ORDER = ("schemas", "externalId", "userName", "active", "displayName", "title", "emails", "phoneNumbers",
               "addresses", "meta", "name")


def patch_body(operations: list[dict]) -> dict:
    return {"schemas": [PATCH_OP], "Operations": operations}


def op_name(name: str, flag: bool) -> str:
    """`Add`/`Replace`/`Remove` by default, `add`/`replace`/`remove` with the flag."""
    return name.lower() if flag else name.capitalize()


def wire_value(value: Any, flag: bool) -> Any:
    """Without the flag the `active` mapping is a Switch() expression, so booleans travel as "True"/"False"."""
    if isinstance(value, bool) and not flag:
        return "True" if value else "False"
    return value


def _is_absent(value: Any) -> bool:
    return value is None or value == "" or value == []


def _same(actual: Any, expected: Any) -> bool:
    return actual == expected and type(actual) is type(expected)


# -- users ---------------------------------------------------------------------------------------------------------
def create_user_body(values: Mapping[str, Any]) -> dict:
    """POST /Users: every mapped non-null value placed at its path, `active` a JSON boolean, the enterprise schema
    always listed, custom extension URNs never listed (doc S5), `roles: []` as in the tutorial."""
    body: dict[str, Any] = {"schemas": [CORE_USER, ENTERPRISE_USER], "meta": {"resourceType": "User"}}
    for path, value in values.items():
        _place(body, path, value)
    body["active"] = True                       # disabled users are never created
    ordered = {key: body.pop(key) for key in _BODY_ORDER if key in body}
    return {**ordered, **body, "roles": []}


def _place(body: dict, path: str, value: Any) -> None:
    parsed = parse_path(path)
    container = body.setdefault(parsed.schema, {}) if parsed.schema else body
    if parsed.value_filter:
        key, wanted = parsed.value_filter
        element = {"primary": True} if parsed.attribute == "emails" and wanted == "work" else {}
        element.update({key: wanted, parsed.sub_attribute or "value": value})
        container.setdefault(parsed.attribute, []).append(element)
    elif parsed.sub_attribute:
        container.setdefault(parsed.attribute, {})[parsed.sub_attribute] = value
    else:
        container[parsed.attribute] = value


def attribute_changes(values: Mapping[str, Any], target: dict) -> list[tuple[str, str, Any]]:
    """(op, path, value) for each mapped value that differs from what the target returned: `Replace` where the
    target has a value, `Add` where it has none (the rule inferred from a real capture, entra.md §3.4)."""
    changes = []
    for path, expected in values.items():
        actual = read_path(target, path)
        if not _same(actual, expected):
            changes.append(("Add" if _is_absent(actual) else "Replace", path, expected))
    return changes


def update_operations(changes: list[tuple[str, str, Any]], flag: bool) -> list[dict]:
    """Default: one op per attribute, each with a path. Flag: value-path attributes (`emails[type eq "work"].value`)
    and adds keep their own op with a path; every other replace is merged into ONE path-less `replace` whose
    value object has dotted and URN keys (entra.md §4), placed where the first of them would have been."""
    if not flag:
        return [{"op": op, "path": path, "value": wire_value(value, flag)} for op, path, value in changes]
    operations: list[dict] = []
    merged: dict[str, Any] = {}
    for op, path, value in changes:
        if op == "Replace" and parse_path(path).value_filter is None:
            if not merged:
                operations.append({"op": "replace", "value": merged})
            merged[path] = value
        else:
            operations.append({"op": op.lower(), "path": path, "value": value})
    return operations


def active_operation(active: bool, flag: bool) -> dict:
    """The disable PATCH: `Replace active "False"` / with the flag `replace active false` (entra.md §3.5)."""
    return {"op": op_name("Replace", flag), "path": "active", "value": wire_value(active, flag)}


def manager_operation(manager_id: str | None, current: Any, shape: str, flag: bool) -> dict:
    """The separate manager PATCH op: `Add` when the target has no manager, `Replace` otherwise; removal is
    `Replace` with "" (gallery validation, MS S21). Shape per the `manager_shape` setting (entra.md §3.4)."""
    op = op_name("Add" if _is_absent(current) else "Replace", flag)
    if manager_id is None:
        return {"op": op_name("Replace", flag), "path": MANAGER_PATH, "value": ""}
    if shape == "ref_list":                 # the historic tutorial example: path "manager", $ref list
        return {"op": op, "path": "manager", "value": [{"$ref": None, "value": manager_id}]}
    value: Any = {"value": manager_id} if shape == "object" else manager_id
    return {"op": op, "path": MANAGER_PATH, "value": value}


def current_manager(target: dict) -> Any:
    """The manager id the target returned, whatever shape it used (object, string or the historic list)."""
    value = read_path(target, MANAGER_PATH)
    if isinstance(value, list):
        value = value[0] if value else None
    if isinstance(value, dict):
        value = value.get("value")
    return value or None


# -- groups --------------------------------------------------------------------------------------------------------
def create_group_body(values: Mapping[str, Any], adscim_schema: bool) -> dict:
    """POST /Groups with no members (entra.md §3.7); members follow by PATCH."""
    schemas = [CORE_GROUP, ADSCIM_GROUP] if adscim_schema else [CORE_GROUP]
    body: dict[str, Any] = {"schemas": schemas}
    for key in ("externalId", "displayName"):
        if values.get(key) is not None:
            body[key] = values[key]
    for path, value in values.items():
        if path not in body and value is not None:
            _place(body, path, value)
    body["meta"] = {"resourceType": "Group"}
    return body


def add_members_operation(target_ids: list[str], flag: bool) -> dict:
    """One op carrying every new member (multi-member PATCH is a gallery requirement)."""
    members = [{"value": i} if flag else {"$ref": None, "value": i} for i in target_ids]
    return {"op": op_name("Add", flag), "path": "members", "value": members}


def remove_members_operations(target_ids: list[str], flag: bool) -> list[dict]:
    """Default: `Remove` + `members` + the ids as a value array ("remove these", never "remove all").
    Flag: one `remove` per member addressed by `members[value eq "…"]`, without a value."""
    if flag:
        return [{"op": "remove", "path": f'members[value eq "{i}"]'} for i in target_ids]
    return [{"op": "Remove", "path": "members", "value": [{"$ref": None, "value": i} for i in target_ids]}]
