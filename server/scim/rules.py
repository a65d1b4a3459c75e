"""Write rules that compare a resource before and after a change: PUT's full replace (RFC 7644 §3.5.1) and the
workspace policy that the primary email cannot be changed through SCIM."""
from __future__ import annotations

from typing import Any, Iterator

from server.scim.errors import mutability
from server.scim.normalise import Normalised, normalise_resource
from server.scim.schema import Attribute, ResourceType


def primary_email(data: dict) -> str | None:
    """The address the workspace treats as primary: the element flagged primary; when none is flagged, the first
    work email, else the first (OneLogin may send emails without `primary`)."""
    emails = [e for e in data.get("emails") or () if isinstance(e, dict) and e.get("value")]
    flagged = next((e for e in emails if e.get("primary") is True), None)
    work = next((e for e in emails if str(e.get("type", "")).lower() == "work"), None)
    chosen = flagged or work or (emails[0] if emails else None)
    return chosen["value"] if chosen else None


def check_primary_email_unchanged(old: dict, new: dict, policies: Any) -> None:
    """Raise 400 mutability when the policy is on and the change would alter, remove or move the primary email.
    Case-insensitive: an IdP re-sending the same address in another case is not a change."""
    if not policies.primary_email_immutable:
        return
    before, after = primary_email(old), primary_email(new)
    if before is None or (after is not None and after.lower() == before.lower()):
        return
    outcome = f"request would make it '{after}'" if after else "request would remove it"
    raise mutability(f"The primary email address cannot be changed through SCIM (was '{before}', {outcome}). "
                     "Change it in the workspace instead.")


def apply_put(old: dict, body: dict, resource_type: ResourceType) -> Normalised:
    """The resource a PUT leaves: the body, normalised, replaces every readWrite attribute (ones left out are
    cleared; for groups an absent `members` means no members). Decisions, per RFC 7644 §3.5.1:
    - `id` and other readOnly attributes in the body are ignored, even when they differ: Okta echoes its GET, OneLogin
      omits `id`, and the URL names the resource.
    - an immutable attribute that already has a value must come back equal (else 400 mutability); left out, it is
      kept, since an omitted attribute is "not asserted" rather than a request to clear what cannot be cleared."""
    out = normalise_resource(body, resource_type)
    for urn, attribute in _immutable_attributes(resource_type):
        before, after = _get(old, urn, attribute.name), _get(out.data, urn, attribute.name)
        if before is None:
            continue
        if after is None:
            (out.data.setdefault(urn, {}) if urn else out.data)[attribute.name] = before
        elif after != before:
            shown = f"{urn}:{attribute.name}" if urn else attribute.name
            raise mutability(f"'{shown}' is immutable: it is {before!r} and the request would make it {after!r}.")
    return out


def _immutable_attributes(resource_type: ResourceType) -> Iterator[tuple[str, Attribute]]:
    return ((urn, a) for urn, a in resource_type.attributes_by_schema() if a.mutability == "immutable")


def _get(data: dict, urn: str, name: str) -> Any:
    return (data.get(urn) or {}).get(name) if urn else data.get(name)
