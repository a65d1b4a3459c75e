"""SCIM attribute paths (`userName`, `name.givenName`, `emails[type eq "work"].value`, `urn:…:User:department`):
parsing them and reading their value out of a resource, with SCIM's case-insensitive attribute names."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

_ATTR = re.compile(r'^(?P<attr>[A-Za-z$][\w$-]*)(?:\[(?P<key>\w+)\s+eq\s+"(?P<val>[^"]*)"\])?(?:\.(?P<sub>[\w$]+))?$')


@dataclass(frozen=True)
class AttributePath:
    schema: str | None          # extension schema URN, or None for the resource's core schema
    attribute: str
    value_filter: tuple[str, str] | None = None    # ("type", "work")
    sub_attribute: str | None = None

    def __str__(self) -> str:
        text = self.attribute
        if self.value_filter:
            text += f'[{self.value_filter[0]} eq "{self.value_filter[1]}"]'
        if self.sub_attribute:
            text += f".{self.sub_attribute}"
        return f"{self.schema}:{text}" if self.schema else text


def parse_path(path: str) -> AttributePath:
    schema = None
    rest = path
    if path.lower().startswith("urn:"):
        schema, _, rest = path.rpartition(":")
    match = _ATTR.match(rest)
    if not match:
        raise ValueError(f"unsupported attribute path: {path!r}")
    key, val = match.group("key"), match.group("val")
    return AttributePath(schema, match.group("attr"), (key, val) if key else None, match.group("sub"))


def get_ci(mapping: Any, key: str) -> Any:
    """dict lookup ignoring case, as SCIM attribute names are case-insensitive."""
    if not isinstance(mapping, dict):
        return None
    if key in mapping:
        return mapping[key]
    lowered = key.lower()
    return next((v for k, v in mapping.items() if isinstance(k, str) and k.lower() == lowered), None)


def read_path(resource: dict, path: str | AttributePath) -> Any:
    """The value at `path` in a SCIM resource, or None when it is absent."""
    parsed = parse_path(path) if isinstance(path, str) else path
    container = get_ci(resource, parsed.schema) if parsed.schema else resource
    value = get_ci(container, parsed.attribute)
    if parsed.value_filter:
        key, wanted = parsed.value_filter
        if not isinstance(value, list):
            return None
        value = next((item for item in value if isinstance(item, dict)
                      and str(get_ci(item, key)).lower() == wanted.lower()), None)
    if parsed.sub_attribute:
        value = get_ci(value, parsed.sub_attribute)
    return value
