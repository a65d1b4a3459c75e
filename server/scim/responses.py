"""SCIM message shapes that every route shares: ListResponse, paging arguments, resource meta and ETags.
Pure functions over plain dicts."""
from __future__ import annotations

from typing import Callable

from server.contract import Limits
from server.scim.errors import ScimError
from server.scim.normalise import is_reference
from server.scim.schema import ResourceType

LIST_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_START_INDEX = 2**62  # past any page there is; keeps OFFSET within SQLite's 64-bit integers


def list_response(resources: list[dict], total: int, start_index: int) -> dict:
    return {"schemas": [LIST_RESPONSE], "totalResults": total, "startIndex": start_index,
            "itemsPerPage": len(resources), "Resources": resources}


def paging(start_index, count, limits: Limits) -> tuple[int, int]:
    """RFC 7644 §3.4.2.4: startIndex below 1 counts as 1; negative count as 0; count capped at maxResults."""
    start = _integer("startIndex", start_index, 1)
    wanted = _integer("count", count, limits.default_count)
    return min(max(start, 1), MAX_START_INDEX), min(max(wanted, 0), limits.max_results)


def _integer(name: str, value, default: int) -> int:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ScimError(400, f"'{name}' must be an integer, got {value!r}.", "invalidValue")
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ScimError(400, f"'{name}' must be an integer, got {value!r}.", "invalidValue") from None


def etag(version: int) -> str:
    return f'W/"{version}"'


def precondition_holds(if_match: str | None, version: int) -> bool:
    """If-Match per RFC 7232: '*' or any listed tag (weak comparison) that equals the current version."""
    if not if_match:
        return True
    tags = [t.strip() for t in if_match.split(",")]
    current = etag(version)
    return any(t == "*" or t == current or t == current[2:] for t in tags)


def with_reference_urls(data: dict, resource_type: ResourceType, url_for: Callable[[str, str], str | None]) -> dict:
    """`data` with `$ref` added to each single-valued reference it holds (the enterprise manager): stored by id
    alone, the URL is derived here. `url_for(resource type name, id)` is None for a type the server lacks;
    `data` itself is not changed."""
    out = dict(data)
    for urn, attribute in resource_type.attributes_by_schema():
        container = out.get(urn) if urn else out
        value = container.get(attribute.name) if isinstance(container, dict) else None
        if attribute.multi_valued or not is_reference(attribute) or not isinstance(value, dict) \
                or "value" not in value:
            continue
        url = url_for((attribute.sub("$ref").reference_types or ("User",))[0], value["value"])
        if url is None:
            continue
        container = out[urn] = dict(container) if urn else out
        container[attribute.name] = {**value, "$ref": url}
    return out
