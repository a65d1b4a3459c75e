"""`attributes` / `excludedAttributes` (RFC 7644 §3.4.2.5) and the `returned` characteristic, applied to a
resource in wire shape. Pure: the same projection serves reads, searches, writes and bulk."""
from __future__ import annotations

from dataclasses import dataclass

from server.scim.errors import ScimError
from server.scim.schema import ResourceType

ALWAYS_RETURNED = {"id", "schemas"}


@dataclass(frozen=True)
class Selection:
    """A parsed `attributes`/`excludedAttributes` pair: each entry is (schema key or '', attribute, sub or None),
    with the schema key '' for core and common attributes and the extension URN otherwise."""
    attributes: tuple[tuple[str, str, str | None], ...] = ()
    excluded: tuple[tuple[str, str, str | None], ...] = ()

    def wants(self, urn: str, name: str) -> bool:
        """Whether attribute `name` of schema `urn` appears in the response at all (lets storage skip loading
        group members when they are excluded)."""
        key = (urn.lower(), name.lower())
        if self.attributes:
            return any((u.lower(), n.lower()) == key for u, n, _ in self.attributes)
        return not any((u.lower(), n.lower()) == key and s is None for u, n, s in self.excluded)


def parse_selection(resource_type: ResourceType, attributes: str | None, excluded: str | None) -> Selection:
    return Selection(_parse_list(resource_type, attributes), _parse_list(resource_type, excluded))


def _parse_list(resource_type: ResourceType, text: str | None) -> tuple:
    if not text:
        return ()
    return tuple(_parse_one(resource_type, part.strip()) for part in text.split(",") if part.strip())


def _parse_one(resource_type: ResourceType, path: str) -> tuple[str, str, str | None]:
    urn = ""
    for schema_id in resource_type.schema_ids:
        if path.lower().startswith(schema_id.lower() + ":"):
            urn, path = schema_id, path[len(schema_id) + 1:]
            break
    if urn.lower() == resource_type.core.id.lower():
        urn = ""
    name, _, sub = path.partition(".")
    if not name:
        raise ScimError(400, f"Attribute list entry '{path}' names no attribute.", "invalidValue")
    # Unknown names are tolerated: RFC 7644 asks servers to ignore attributes they do not support.
    return urn, name, sub or None


def project(resource: dict, resource_type: ResourceType, selection: Selection) -> dict:
    """Return the resource with only what the selection and each attribute's `returned` allow."""
    out = {}
    for key, value in resource.items():
        extension = resource_type.extension(key) if key.startswith("urn:") else None
        if extension is not None:
            kept = _project_extension(value, extension.id, resource_type, selection)
            if kept:
                out[key] = kept
        elif _keep(resource_type, selection, "", key):
            out[key] = _project_sub(value, resource_type, selection, "", key)
    return out


def _project_extension(values: dict, urn: str, resource_type: ResourceType, selection: Selection) -> dict:
    return {name: _project_sub(v, resource_type, selection, urn, name)
            for name, v in values.items() if _keep(resource_type, selection, urn, name)}


def _keep(resource_type: ResourceType, selection: Selection, urn: str, name: str) -> bool:
    if name in ALWAYS_RETURNED:
        return True
    returned = resource_type.returned.get((urn.lower(), name.lower()), "default")
    if returned == "always":
        return True
    if returned == "never":
        return False
    key = (urn.lower(), name.lower())
    named = [(u.lower(), n.lower(), s) for u, n, s in selection.attributes]
    if selection.attributes:
        return any((u, n) == key for u, n, _ in named)
    if returned == "request":
        return False
    return not any((u.lower(), n.lower()) == key and s is None for u, n, s in selection.excluded)


def _project_sub(value, resource_type: ResourceType, selection: Selection, urn: str, name: str):
    """Narrow a complex value to the sub-attributes asked for (or drop the excluded ones)."""
    key = (urn.lower(), name.lower())
    wanted = {s.lower() for u, n, s in selection.attributes if (u.lower(), n.lower()) == key and s}
    dropped = {s.lower() for u, n, s in selection.excluded if (u.lower(), n.lower()) == key and s}
    whole_asked = any((u.lower(), n.lower()) == key and s is None for u, n, s in selection.attributes)
    if not (wanted or dropped) or whole_asked:
        return value

    def narrow(item):
        if not isinstance(item, dict):
            return item
        if wanted:
            return {k: v for k, v in item.items() if k.lower() in wanted}
        return {k: v for k, v in item.items() if k.lower() not in dropped}

    return [narrow(v) for v in value] if isinstance(value, list) else narrow(value)
