"""Applies a SCIM PatchOp (RFC 7644 §3.5.2) to a stored resource, accepting the shapes Entra, Okta and OneLogin send.
Pure: the path parser and filter matcher are injected; group membership comes back as ordered deltas for storage."""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from server.scim import filter as scim_filter
from server.scim.errors import ScimError, invalid_path, invalid_syntax, invalid_value, mutability
from server.scim.normalise import (
    AttributeKey, canonical_path, coerce_simple, coerce_value, complex_fields, is_reference, is_unassigned,
    record_dropped, resolve_key, split_key,
)
from server.scim.schema import Attribute, Resolved, ResourceType

PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
OPS = ("add", "replace", "remove")
MEMBERS = "members"  # stored and changed by storage as deltas: groups can have tens of thousands


@dataclass(frozen=True)
class PatchPath:
    """A parsed PATCH path `[urn:]name[[value_filter]][.sub]`; `value_filter` is a filter.py AST node."""
    urn: str | None
    name: str
    value_filter: object | None = None
    sub: str | None = None


def parse_patch_path(text: str) -> PatchPath:
    parsed = scim_filter.parse_path(text)
    return PatchPath(parsed.path.urn, parsed.path.name, parsed.filter, parsed.path.sub)


matches_element = scim_filter.matches_element


def equalities(value_filter) -> dict:
    """The `sub eq value` pairs of an eq/and-only value filter ({} otherwise): what an upsert of
    `emails[type eq "work"].value` seeds the new element with, as Entra expects."""
    terms = value_filter.operands if isinstance(value_filter, scim_filter.And) else (value_filter,)
    if all(isinstance(t, scim_filter.Compare) and t.op == "eq" and not t.path.urn and not t.path.sub for t in terms):
        return {t.path.name: t.value for t in terms}
    return {}


# Group membership changes, applied by storage in order.
@dataclass(frozen=True)
class AddMembers:
    members: tuple[dict, ...]  # {"value": id} plus "type" ("User"/"Group") when the IdP said


@dataclass(frozen=True)
class RemoveMembers:
    ids: tuple[str, ...]  # ids that are not members are ignored


@dataclass(frozen=True)
class RemoveAllMembers:
    pass


@dataclass(frozen=True)
class RemoveMatchingMembers:
    value_filter: object  # evaluate with element_matches(value_filter, {"value": id, "type": …}, members attribute)


MemberOp = AddMembers | RemoveMembers | RemoveAllMembers | RemoveMatchingMembers


@dataclass
class PatchResult:
    data: dict
    member_ops: list[MemberOp] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)
    changed: bool = False


def apply_patch(resource: dict, body: dict, resource_type: ResourceType) -> PatchResult:
    """Apply every operation or none: work happens on a deep copy and any ScimError leaves `resource` untouched."""
    operations = read_operations(body)
    patch = _Patch(resource, resource_type)
    for index, operation in enumerate(operations):
        try:
            patch.apply(operation)
        except ScimError as error:
            raise ScimError(error.status, f"Operations[{index}]: {error.detail}", error.scim_type,
                            error.headers) from None
    return patch.result()


def member_ids_referenced(member_ops: list[MemberOp]) -> list[str]:
    """Ids the PATCH would add, once each, so storage can check they exist in one query before applying anything."""
    ids: list[str] = []
    for op in member_ops:
        if isinstance(op, AddMembers):
            ids.extend(m["value"] for m in op.members if m["value"] not in ids)
    return ids


def read_operations(body: Any) -> list:
    """The Operations list. `schemas` is checked when present but tolerated when absent: OneLogin's group PATCH
    omits it, and nothing else could be meant by a body carrying `Operations`."""
    if not isinstance(body, dict):
        raise invalid_syntax("The PATCH body must be a JSON object.")
    fields = _lower_keys(body)
    schemas = fields.get("schemas")
    if schemas is not None and (not isinstance(schemas, list)
                                or PATCH_OP.lower() not in (str(s).lower() for s in schemas)):
        raise invalid_syntax(f"A PATCH body's 'schemas' must contain '{PATCH_OP}'.")
    operations = fields.get("operations")
    if not isinstance(operations, list):
        raise invalid_syntax("A PATCH body needs an 'Operations' list.")
    return operations


def _lower_keys(obj: dict) -> dict:
    return {str(k).lower(): v for k, v in obj.items()}


class _Patch:
    def __init__(self, resource, resource_type):
        self.original = resource
        self.data = copy.deepcopy(resource)
        self.rt = resource_type
        self.member_ops: list[MemberOp] = []
        self.dropped: list[str] = []

    def result(self) -> PatchResult:
        for attribute in self.rt.core.attributes:
            # RFC 7644 §3.5.2.2: a required attribute removed or left unassigned is a mutability error
            if attribute.required and self.data.get(attribute.name) is None and attribute.name != MEMBERS:
                raise mutability(f"'{attribute.name}' is required and cannot be removed or emptied.")
        changed = self.data != self.original or bool(self.member_ops)
        return PatchResult(self.data, self.member_ops, self.dropped, changed)

    # ---- one operation -------------------------------------------------------------------------------------

    def apply(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            raise invalid_syntax("Each operation must be a JSON object.")
        fields = _lower_keys(raw)
        op = fields.get("op")
        if not isinstance(op, str) or op.lower() not in OPS:
            raise invalid_syntax(f"Unknown op {op!r}; expected add, replace or remove.")
        op, path, value, has_value = op.lower(), fields.get("path"), fields.get("value"), "value" in fields
        if path is None or (isinstance(path, str) and not path.strip()):
            self._without_path(op, value)
        elif not isinstance(path, str):
            raise invalid_path(f"'path' must be a string, got {path!r}.")
        elif op != "remove" and not has_value:
            raise invalid_value(f"The {op} operation on '{path}' has no value.")
        else:
            self._at_path(op, path.strip(), value, has_value)

    def _without_path(self, op: str, value: Any) -> None:
        """RFC 7644 §3.5.2.1/3: the value object's keys are the targets. Entra (aadOptscim062020) uses dotted and
        URN-qualified keys here; Okta sends {"active": false} and, for groups, {"id", "displayName"}."""
        if op == "remove":
            raise ScimError(400, "A remove operation needs a path (RFC 7644 §3.5.2.2).", "noTarget")
        if not isinstance(value, dict):
            raise invalid_value(f"An {op} operation without a path needs an object value.")
        for key, item in value.items():
            if key.lower() == "schemas":
                continue
            if key.lower() == "id":
                self._check_same_id(item)
                continue
            if "[" in key:  # a value path used as a key: treat it as the operation's path
                self._at_path(op, key.strip(), item, True)
                continue
            for keyed in split_key(key, item, self.rt):
                path = PatchPath(keyed.key.urn, keyed.key.name, None, keyed.key.sub) if keyed.key else None
                self._apply(op, path, keyed.value, True, keyed.shown)

    def _check_same_id(self, sent: Any) -> None:
        # Okta echoes the group's own id; only a different id would be an attempt to change it.
        own = self.original.get("id")
        if own is not None and not is_unassigned(sent) and sent != own:
            raise mutability(f"'id' is readOnly: the request sent {sent!r} for resource {own!r}.")

    def _at_path(self, op: str, text: str, value: Any, has_value: bool) -> None:
        schema_id = next((s for s in self.rt.schema_ids if s.lower() == text.lower()), None)
        if schema_id is None:
            self._apply(op, parse_patch_path(text), value, has_value, text)
        elif op != "remove":
            self._without_path(op, {schema_id: value})  # a whole schema: its attributes are the value's keys
        elif schema_id != self.rt.core.id:
            self.data.pop(schema_id, None)
        else:
            raise invalid_path("The core schema cannot be removed.")

    def _apply(self, op: str, path: PatchPath | None, value: Any, has_value: bool, shown: str) -> None:
        resolved = resolve_key(self.rt, AttributeKey(path.urn, path.name, path.sub) if path else None)
        if resolved is None:
            record_dropped(self.dropped, shown, value if op != "remove" else shown)
            return
        self._check_writable(resolved, shown)
        canonical = canonical_path(resolved)
        if not resolved.urn and resolved.attribute.name == MEMBERS:
            self._members(op, resolved.attribute, path.value_filter, value, has_value, canonical)
        elif path.value_filter is not None or (resolved.sub and resolved.attribute.multi_valued):
            self._elements(op, resolved, path.value_filter, value, canonical)
        elif resolved.sub is not None:
            self._sub_attribute(op, resolved, value, canonical)
        else:
            self._attribute(op, resolved, value, canonical)
        if resolved.urn and not self.data.get(resolved.urn):
            self.data.pop(resolved.urn, None)

    def _check_writable(self, resolved: Resolved, shown: str) -> None:
        if resolved.target.mutability == "readOnly":
            raise mutability(f"'{shown}' is readOnly and cannot be modified.")
        if resolved.sub is not None and resolved.sub.mutability == "immutable":
            raise mutability(f"'{shown}' is immutable; replace the whole element instead.")

    def _container(self, urn: str) -> dict:
        return self.data.setdefault(urn, {}) if urn else self.data

    # ---- targets -------------------------------------------------------------------------------------------

    def _attribute(self, op: str, resolved: Resolved, value: Any, shown: str) -> None:
        attribute, container = resolved.attribute, self._container(resolved.urn)
        current = container.get(attribute.name)
        if op == "remove":
            new = None
        elif attribute.multi_valued:
            incoming = coerce_value(attribute, value, shown, self.dropped)
            new = _append(current or [], incoming or []) if op == "add" else incoming  # add appends, replace swaps
        elif attribute.type == "complex" and not is_unassigned(value):
            # RFC 7644 §3.5.2.1/3: sub-attributes given replace, those not given stay
            merged = {**(current or {}), **complex_fields(attribute, value, shown, self.dropped)}
            new = {k: v for k, v in merged.items() if v is not None} or None
        else:
            new = coerce_value(attribute, value, shown, self.dropped)  # "" or null unassigns (Entra's manager)
        if attribute.mutability == "immutable" and current is not None and new != current:
            raise mutability(f"'{shown}' is immutable and already has a value.")
        _put(container, attribute.name, new)

    def _sub_attribute(self, op: str, resolved: Resolved, value: Any, shown: str) -> None:
        attribute, sub, container = resolved.attribute, resolved.sub, self._container(resolved.urn)
        if is_reference(attribute) and sub.name == "$ref":
            return  # derived from the value when rendering
        new = None if op == "remove" else coerce_value(sub, value, shown, self.dropped)
        parent = dict(container.get(attribute.name) or {})
        _put(parent, sub.name, new)
        _put(container, attribute.name, parent or None)

    def _elements(self, op: str, resolved: Resolved, value_filter: object | None, value: Any, shown: str) -> None:
        """Elements of a multi-valued complex attribute chosen by a filter (all of them without one). add/replace
        upsert: Entra sends either op for `emails[type eq "work"].value` whether or not that email exists."""
        attribute, sub = resolved.attribute, resolved.sub
        if not (attribute.multi_valued and attribute.type == "complex"):
            raise invalid_path(f"'{shown}' is not multi-valued; a [filter] cannot select from it.")
        container = self._container(resolved.urn)
        elements = container.get(attribute.name) or []
        hits = [e for e in elements if value_filter is None or matches_element(value_filter, e, attribute)]
        if op == "remove" and sub is None:
            elements = [e for e in elements if not any(e is hit for hit in hits)]
        elif op == "remove":
            for hit in hits:
                hit.pop(sub.name, None)
        else:
            fields = ({sub.name: coerce_value(sub, value, shown, self.dropped)} if sub
                      else complex_fields(attribute, value, shown, self.dropped))
            if not hits:
                hits = [self._seed(attribute, value_filter, shown)]
                elements = [*elements, hits[0]]
            for hit in hits:
                for key, new in fields.items():
                    _put(hit, key, new)
            if fields.get("primary") is True:
                _single_primary(elements, hits[0])
        if attribute.sub("value") is not None:  # an element that lost its value means nothing; drop it
            elements = [e for e in elements if not any(e is hit for hit in hits) or e.get("value") is not None]
        _put(container, attribute.name, elements or None)

    def _seed(self, attribute: Attribute, value_filter: object | None, shown: str) -> dict:
        """The new element an upsert creates: the filter's `sub eq value` pairs, so the filter then selects it."""
        if value_filter is None:
            return {}
        pairs = equalities(value_filter)
        seed = {}
        for name, wanted in pairs.items():
            sub = attribute.sub(name)
            if sub is not None:
                seed[sub.name] = coerce_simple(sub, wanted, f"{shown}.{sub.name}")
        if not seed or not matches_element(value_filter, seed, attribute):
            raise ScimError(400, f"No element of '{shown}' matches the filter, and the filter does not say how "
                                 "to create one (only `sub eq value` filters can).", "noTarget")
        return seed

    def _members(self, op: str, attribute: Attribute, value_filter: object | None, value: Any, has_value: bool,
                 shown: str) -> None:
        if value_filter is not None:
            if op != "remove":
                raise invalid_path("Members are added or replaced with a value list on path 'members', "
                                   "not through a filter.")
            by_id = {k.lower(): v for k, v in equalities(value_filter).items()}
            if set(by_id) == {"value"}:  # members[value eq "id"], the common case: a plain id removal
                self.member_ops.append(RemoveMembers((by_id["value"],)))
            else:
                self.member_ops.append(RemoveMatchingMembers(value_filter))
            return
        if op == "remove" and (not has_value or value is None):
            self.member_ops.append(RemoveAllMembers())  # RFC 7644 §3.5.2.2: no value, no filter = all
            return
        if _lacks_id(value):
            raise invalid_value("Every member needs a 'value' (the member's id).")
        members = coerce_value(attribute, value, shown, self.dropped) or []
        if op == "remove":
            # Entra's default job: Remove + path "members" + value list means these ids only, never everyone
            if members:
                self.member_ops.append(RemoveMembers(tuple(m["value"] for m in members)))
            return
        if op == "replace":
            self.member_ops.append(RemoveAllMembers())
        if members:
            self.member_ops.append(AddMembers(tuple(members)))


def _lacks_id(entries: Any) -> bool:
    entries = entries if isinstance(entries, list) else [entries]
    return any(isinstance(e, dict) and is_unassigned(next((v for k, v in e.items() if k.lower() == "value"), None))
               for e in entries)


def _put(container: dict, name: str, value: Any) -> None:
    if value is None:
        container.pop(name, None)
    else:
        container[name] = value


def _append(current: list, incoming: list) -> list:
    """add on a multi-valued attribute: new elements appended, equal ones not repeated; a new primary wins."""
    merged = list(current) + [e for e in incoming if e not in current]
    winner = next((e for e in reversed(incoming) if isinstance(e, dict) and e.get("primary") is True), None)
    if winner is not None:
        _single_primary(merged, next(e for e in merged if e == winner))
    return merged


def _single_primary(elements: list, winner: dict) -> None:
    # RFC 7644 §3.5.2: setting primary true on one value sets it false on the others.
    for element in elements:
        if element is not winner and isinstance(element, dict) and element.get("primary") is True:
            element["primary"] = False
