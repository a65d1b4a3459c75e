"""Turns what an IdP sends into the canonical stored shape: canonical attribute names, extension attributes nested
under their URN, values coerced to the schema's types, unknown attributes dropped and listed (never an error)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterator, NamedTuple

from server.scim.errors import invalid_syntax, invalid_value
from server.scim.schema import Attribute, Resolved, ResourceType

# Message envelope and server-owned attributes: never stored from input, never reported as dropped.
IGNORED_KEYS = frozenset({"schemas", "id", "meta"})


@dataclass
class Normalised:
    data: dict
    dropped: list[str] = field(default_factory=list)


class AttributeKey(NamedTuple):
    """One input key split into `[urn:]name[.sub]`; `urn` is None for the core schema."""
    urn: str | None
    name: str
    sub: str | None


class KeyedValue(NamedTuple):
    key: AttributeKey | None  # None: the key names a schema this resource type does not have
    value: Any
    shown: str  # the path as a report should show it


def normalise_resource(body: dict, resource_type: ResourceType, *, for_write: bool = True) -> Normalised:
    """The stored shape of a POST/PUT body (no `id`, `meta` or `schemas`) and the paths of what was dropped.
    `for_write` also demands the required attributes (userName, displayName); ScimError 400 on bad input."""
    if not isinstance(body, dict):
        raise invalid_syntax("The request body must be a JSON object.")
    out = Normalised({})
    for key, value in body.items():
        if key.lower() in IGNORED_KEYS:
            continue
        for item in split_key(key, value, resource_type):
            _assign(out, item, resource_type)
    if for_write:
        check_required(out.data, resource_type)
    return out


def check_required(data: dict, resource_type: ResourceType) -> None:
    for attribute in resource_type.core.attributes:
        if attribute.required and data.get(attribute.name) is None:
            raise invalid_value(f"Attribute '{attribute.name}' is required and was missing or empty.")


# ---- keys ---------------------------------------------------------------------------------------------------

def split_key(key: str, value: Any, resource_type: ResourceType) -> Iterator[KeyedValue]:
    """Yield the attribute(s) one input key addresses: `name`, `name.sub`, `urn:…:name[.sub]`, or a schema URN whose
    object value holds that schema's attributes (how extensions normally arrive)."""
    lowered = key.lower()
    for schema_id in resource_type.schema_ids:
        urn = None if schema_id == resource_type.core.id else schema_id
        if lowered == schema_id.lower():
            yield from _nested(urn, schema_id, value)
            return
        if lowered.startswith(schema_id.lower() + ":"):
            yield _keyed(urn, key[len(schema_id) + 1:], value)
            return
    if lowered.startswith("urn:"):
        # A schema the contract lacks: list each attribute it carried so a report says what did not land.
        if isinstance(value, dict):
            for inner, inner_value in value.items():
                yield KeyedValue(None, inner_value, f"{key}:{inner}")
        else:
            yield KeyedValue(None, value, key)
        return
    yield _keyed(None, key, value)


def _nested(urn: str | None, schema_id: str, value: Any) -> Iterator[KeyedValue]:
    if value is None:
        return
    if not isinstance(value, dict):
        raise invalid_value(f"'{schema_id}' must be an object holding that schema's attributes.")
    for inner, inner_value in value.items():
        yield _keyed(urn, inner, inner_value)


def _keyed(urn: str | None, text: str, value: Any) -> KeyedValue:
    name, _, sub = text.partition(".")
    return KeyedValue(AttributeKey(urn, name, sub or None), value, f"{urn}:{text}" if urn else text)


def resolve_key(resource_type: ResourceType, key: AttributeKey | None) -> Resolved | None:
    """Where a key lands; a bare name the core schema lacks may belong to an extension (Entra's historic
    `path: "manager"`), so it resolves there when exactly one extension defines it."""
    if key is None:
        return None
    resolved = resource_type.resolve(*key)
    if resolved is None and key.urn is None:
        found = [r for e in resource_type.extensions if (r := resource_type.resolve(e.id, key.name, key.sub))]
        resolved = found[0] if len(found) == 1 else None
    return resolved


def _assign(out: Normalised, item: KeyedValue, resource_type: ResourceType) -> None:
    resolved = resolve_key(resource_type, item.key)
    if resolved is None:
        record_dropped(out.dropped, item.shown, item.value)
        return
    if resolved.target.mutability == "readOnly":
        return  # server-computed; RFC 7644 §3.5.1 says such input is ignored
    container = out.data if not resolved.urn else out.data.setdefault(resolved.urn, {})
    name, shown = resolved.attribute.name, canonical_path(resolved)
    attribute = resolved.attribute
    if resolved.sub is not None:
        _merge(container, name, {resolved.sub.name: coerce_value(resolved.sub, item.value, shown, out.dropped)})
    elif attribute.type == "complex" and not attribute.multi_valued and not is_unassigned(item.value):
        # merged, so `name` and `name.givenName` keys in one body both land
        _merge(container, name, complex_fields(attribute, item.value, shown, out.dropped))
    else:
        _put(container, name, coerce_value(attribute, item.value, shown, out.dropped))
    if resolved.urn and not container:
        out.data.pop(resolved.urn)


def canonical_path(resolved: Resolved) -> str:
    path = f"{resolved.urn}:{resolved.attribute.name}" if resolved.urn else resolved.attribute.name
    return f"{path}.{resolved.sub.name}" if resolved.sub else path


def _merge(container: dict, name: str, fields: dict) -> None:
    parent = container.setdefault(name, {})
    for key, value in fields.items():
        _put(parent, key, value)
    if not parent:
        container.pop(name)


def _put(container: dict, name: str, value: Any) -> None:
    if value is None:
        container.pop(name, None)  # null / "" means unassigned
    else:
        container[name] = value


def record_dropped(dropped: list[str], shown: str, value: Any) -> None:
    if not is_unassigned(value) and shown not in dropped:
        dropped.append(shown)


# ---- values -------------------------------------------------------------------------------------------------

def is_unassigned(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def is_reference(attribute: Attribute) -> bool:
    """Complex attributes that point at another resource (manager, members): stored by id alone."""
    return attribute.type == "complex" and attribute.sub("value") is not None and attribute.sub("$ref") is not None


def coerce_value(attribute: Attribute, value: Any, shown: str, dropped: list[str]) -> Any:
    """The stored form of `value` for `attribute`, or None when it is unassigned; ScimError 400 on a type mismatch."""
    if is_unassigned(value):
        return None
    if attribute.multi_valued:
        return _coerce_list(attribute, value, shown, dropped)
    if attribute.type == "complex":
        fields = complex_fields(attribute, value, shown, dropped)
        kept = {k: v for k, v in fields.items() if v is not None} if fields else {}
        return kept or None
    return coerce_simple(attribute, value, shown)


def _coerce_list(attribute: Attribute, value: Any, shown: str, dropped: list[str]) -> list | None:
    if isinstance(value, dict) and attribute.type == "complex":
        value = [value]  # OneLogin's v1.1 template sends one object where SCIM wants a list
    elif isinstance(value, str) and is_reference(attribute):
        value = [value]  # a bare id
    elif not isinstance(value, list):
        raise invalid_value(f"Attribute '{shown}' is multi-valued and must be a list, got {_brief(value)}.")
    single = replace(attribute, multi_valued=False)
    elements = [coerce_value(single, element, shown, dropped) for element in value]
    elements = _unique([e for e in elements if e is not None], by_value=is_reference(attribute))
    if sum(1 for e in elements if isinstance(e, dict) and e.get("primary") is True) > 1:
        raise invalid_value(f"Only one element of '{shown}' may have primary true.")
    return elements or None


def _unique(elements: list, *, by_value: bool) -> list:
    seen, out = [], []
    for element in elements:
        identity = element.get("value") if by_value else element
        if identity not in seen:
            seen.append(identity)
            out.append(element)
    return out


def complex_fields(attribute: Attribute, value: Any, shown: str, dropped: list[str]) -> dict:
    """Sub-attributes of one complex value under canonical names; None marks a sub-attribute sent as unassigned
    (a PATCH merge removes it). Reference attributes also take a bare id or a one-element list (Entra's manager)."""
    reference = is_reference(attribute)
    if reference and isinstance(value, list):
        if len(value) > 1:
            raise invalid_value(f"Attribute '{shown}' takes one value, got {len(value)}.")
        value = value[0] if value else None
    if reference and isinstance(value, str):
        value = {"value": value}
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid_value(f"Attribute '{shown}' must be an object, got {_brief(value)}.")
    fields = {}
    for key, sub_value in value.items():
        sub = attribute.sub(key)
        if sub is None:
            record_dropped(dropped, f"{shown}.{key}", sub_value)
        elif sub.mutability == "readOnly" or (reference and sub.name == "$ref"):
            continue  # derived when rendering (display names, $ref URLs)
        else:
            coerced = coerce_simple(sub, sub_value, f"{shown}.{sub.name}") if not is_unassigned(sub_value) else None
            fields[sub.name] = _canonical_choice(sub, coerced) if reference else coerced
    return fields


def _canonical_choice(attribute: Attribute, value: Any) -> Any:
    # Member `type` is matched by storage, so "user" is stored as the canonical "User".
    if isinstance(value, str):
        return next((c for c in attribute.canonical_values if c.lower() == value.lower()), value)
    return value


def coerce_simple(attribute: Attribute, value: Any, shown: str) -> Any:
    if attribute.type == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in ("true", "false"):
            return value.strip().lower() == "true"  # Entra's default job sends "True"/"False"
        raise invalid_value(f"Attribute '{shown}' must be a boolean, got {_brief(value)}.")
    if attribute.type == "integer":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise invalid_value(f"Attribute '{shown}' must be an integer, got {_brief(value)}.")
    if attribute.type == "decimal":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        raise invalid_value(f"Attribute '{shown}' must be a number, got {_brief(value)}.")
    if attribute.type == "complex":
        raise invalid_value(f"Attribute '{shown}' must be an object, got {_brief(value)}.")
    if isinstance(value, str):
        return value  # stored exactly as sent: Entra re-PATCHes forever if we echo something else
    raise invalid_value(f"Attribute '{shown}' must be a string, got {_brief(value)}.")


def _brief(value: Any) -> str:
    kind = {dict: "an object", list: "a list", bool: "a boolean", int: "a number", float: "a number",
            str: "a string"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} {text if len(text) <= 40 else text[:37] + '...'}"
