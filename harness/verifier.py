"""Compares the target's actual state, read over SCIM, with what the directory and the IdP's mappings imply.
Each finding names the exchange in the IdP's trace that caused it; attributes the target does not advertise are noted."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Iterable

from harness.attribute_paths import AttributePath, parse_path, read_path
from harness.transport import Exchange, ScimClient
from idp_profiles.base import ExpectedGroup, ExpectedUser

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
# RFC 7643 §3.1: part of every resource, and many servers (scim2-server among them) leave them out of /Schemas.
COMMON_ATTRIBUTES = frozenset({"id", "externalid", "meta"})
WRITES = ("POST", "PATCH", "PUT", "DELETE")


@dataclass
class Finding:
    object_id: str
    label: str
    kind: str                    # missing, unexpected, mismatch, still-active, test-connection
    message: str
    attribute: str | None = None
    expected: Any = None
    actual: Any = None
    cause: Exchange | None = None          # from the IdP's trace
    evidence: Exchange | None = None       # the verifier's own read of the target
    category: str | None = None            # server-bug, expected-refusal, harness-limitation (harness.verdicts)
    reason: str = ""                       # why it got that category


@dataclass
class Verification:
    findings: list[Finding] = field(default_factory=list)
    checked_users: int = 0
    checked_groups: int = 0
    checked_attributes: int = 0
    unsupported: dict[str, str] = field(default_factory=dict)    # attribute path -> why it was not compared
    schemas_note: str | None = None
    reads: int = 0                         # requests the verifier itself sent (not part of the IdP's trace)

    @property
    def ok(self) -> bool:
        return not self.findings

    def absorb(self, other: "Verification") -> None:
        """Add another verification's findings and counts (users and groups checked in one pass)."""
        self.findings += other.findings
        self.checked_users += other.checked_users
        self.checked_groups += other.checked_groups
        self.checked_attributes += other.checked_attributes
        self.unsupported.update(other.unsupported)
        self.reads += other.reads


class TargetSchemas:
    """Which attributes the target advertises in `/Schemas`, read once."""

    def __init__(self, resources: list[dict] | None) -> None:
        self.known = resources is not None
        self._schemas = {str(s.get("id", "")).lower(): s for s in resources or [] if isinstance(s, dict)}

    @classmethod
    def read(cls, client: ScimClient) -> tuple["TargetSchemas", str | None]:
        exchange = client.get("/Schemas", purpose="verify-schemas")
        body = exchange.response_body
        if exchange.status == 200 and isinstance(body, dict) and isinstance(body.get("Resources"), list):
            return cls(body["Resources"]), None
        if exchange.status == 200 and isinstance(body, list):
            return cls(body), None
        return cls(None), (f"GET /Schemas answered {exchange.status}; comparing every mapped attribute")

    def supports(self, path: str | AttributePath, default_schema: str = CORE_USER) -> bool:
        if not self.known:
            return True
        parsed = parse_path(path) if isinstance(path, str) else path
        if parsed.schema is None and parsed.attribute.lower() in COMMON_ATTRIBUTES:
            return True
        schema = self._schemas.get((parsed.schema or default_schema).lower())
        if schema is None:
            return False
        attribute = _named(schema.get("attributes"), parsed.attribute)
        if attribute is None:
            return False
        if parsed.value_filter and _named(attribute.get("subAttributes"), parsed.value_filter[0]) is None:
            return False
        if parsed.sub_attribute:
            return _named(attribute.get("subAttributes"), parsed.sub_attribute) is not None
        return True


def _named(attributes: Any, name: str) -> dict | None:
    if not isinstance(attributes, list):
        return None
    return next((a for a in attributes if isinstance(a, dict) and str(a.get("name", "")).lower() == name.lower()),
                None)


class Verifier:
    """Reads the target with its own client (its requests are not part of the IdP's trace) and judges it."""

    def __init__(self, client: ScimClient) -> None:
        self.client = client

    def verify_users(self, expected: Iterable[ExpectedUser], idp_trace: list[Exchange]) -> Verification:
        result = Verification()
        schemas, result.schemas_note = TargetSchemas.read(self.client)
        for want in expected:
            result.checked_users += 1
            self._verify_user(want, idp_trace, schemas, result)
        result.reads = len(self.client.trace)
        return result

    # -- one user -----------------------------------------------------------------------------------------------
    def _verify_user(self, want: ExpectedUser, trace: list[Exchange], schemas: TargetSchemas,
                     result: Verification) -> None:
        actual, evidence = self._find(want, trace)
        acknowledged = _target_ids(want.object_id, trace)
        if want.presence == "absent":
            if actual is not None:
                result.findings.append(Finding(
                    want.object_id, want.label, "unexpected",
                    "deleted in the directory but still present in the target",
                    cause=_last(trace, want.object_id, methods=("DELETE",)) or _last(trace, want.object_id),
                    evidence=evidence))
            return
        if want.presence == "inactive":
            if actual is None:
                if acknowledged:
                    result.findings.append(Finding(
                        want.object_id, want.label, "missing",
                        "disabled or unassigned in the directory: the target should keep the user with active "
                        "false, but the user is gone", cause=_last(trace, want.object_id, WRITES), evidence=evidence))
                return
            self._compare(want, actual, evidence, trace, schemas, result)
            return
        if actual is None:
            cause = _last(trace, want.object_id, WRITES) or _last(trace, want.object_id)
            message = "not found in the target" if cause else "not found in the target, and no request was sent for it"
            result.findings.append(Finding(want.object_id, want.label, "missing", message,
                                           attribute=want.match_attribute, expected=want.match_value,
                                           cause=cause, evidence=evidence))
            return
        self._compare(want, actual, evidence, trace, schemas, result)

    def _compare(self, want: ExpectedUser, actual: dict, evidence: Exchange | None, trace: list[Exchange],
                 schemas: TargetSchemas, result: Verification) -> None:
        for path, expected_value in want.attributes.items():
            if not schemas.supports(path):
                result.unsupported.setdefault(path, "not supported by target (absent from /Schemas)")
                continue
            result.checked_attributes += 1
            value = read_path(actual, path)
            if value == expected_value and type(value) is type(expected_value):
                continue
            kind = "still-active" if path == "active" and expected_value is False else "mismatch"
            result.findings.append(Finding(
                want.object_id, want.label, kind,
                f"{path} is {json.dumps(value, ensure_ascii=False)}, expected "
                f"{json.dumps(expected_value, ensure_ascii=False)}",
                attribute=path, expected=expected_value, actual=value,
                cause=_last_writing(trace, want.object_id, path) or _last(trace, want.object_id, WRITES)
                or _last(trace, want.object_id),
                evidence=evidence))

    def _find(self, want: ExpectedUser, trace: list[Exchange]) -> tuple[dict | None, Exchange | None]:
        """The target object that is this user: first by the ids the target itself returned for it (latest
        first, so a dropped rename or a rename refused with 409 shows up as a wrong userName), then by the
        IdP's matching attribute (users the IdP never reached, or a target that lost the object)."""
        for target_id in reversed(_target_ids(want.object_id, trace)):
            by_id = self.client.get(f"/Users/{target_id}", subject=want.object_id, purpose="verify")
            if by_id.status == 200 and isinstance(by_id.response_body, dict):
                return by_id.response_body, by_id
        exchange = self.client.get("/Users", params={"filter": f'{want.match_attribute} eq "{want.match_value}"'},
                                   subject=want.object_id, purpose="verify")
        body = exchange.response_body
        if exchange.status == 200 and isinstance(body, dict):
            for resource in body.get("Resources") or []:
                if isinstance(resource, dict) and read_path(resource, want.match_attribute) == want.match_value:
                    return resource, exchange
        return None, exchange


# -- groups: any IdP that pushes groups ---------------------------------------------------------------------------
def verify_groups(client: ScimClient, expected: Iterable[ExpectedGroup], idp_trace: list[Exchange],
                  labels: dict[str, str] | None = None) -> Verification:
    """Read each group the IdP should have left in the target (by the ids the target gave it, else by its match
    attribute) and compare its attributes and its exact member list; members are mapped to target ids through
    the ids the target returned for them in the IdP's trace."""
    result = Verification()
    for want in expected:
        result.checked_groups += 1
        actual, evidence = _find_group(client, want, idp_trace)
        if want.presence == "absent":
            if actual is not None:
                result.findings.append(Finding(want.object_id, want.label, "unexpected",
                                               "deleted or out of scope in the directory but still in the target",
                                               cause=_last(idp_trace, want.object_id), evidence=evidence))
            continue
        if actual is None:
            result.findings.append(Finding(want.object_id, want.label, "missing", "group not found in the target",
                                           attribute=want.match_attribute, expected=want.match_value,
                                           cause=_last(idp_trace, want.object_id, WRITES)
                                           or _last(idp_trace, want.object_id), evidence=evidence))
            continue
        for path, value in want.attributes.items():
            result.checked_attributes += 1
            if read_path(actual, path) != value:
                result.findings.append(Finding(
                    want.object_id, want.label, "mismatch",
                    f"{path} is {json.dumps(read_path(actual, path), ensure_ascii=False)}, expected "
                    f"{json.dumps(value, ensure_ascii=False)}", attribute=path, expected=value,
                    actual=read_path(actual, path), cause=_last(idp_trace, want.object_id, WRITES), evidence=evidence))
        _compare_members(want, actual, evidence, idp_trace, result, labels or {})
    result.reads = len(client.trace)
    return result


def _find_group(client: ScimClient, want: ExpectedGroup, trace: list[Exchange]) -> tuple[dict | None, Exchange]:
    for target_id in reversed(_target_ids(want.object_id, trace, "/Groups")):
        by_id = client.get(f"/Groups/{target_id}", subject=want.object_id, purpose="verify")
        if by_id.status == 200 and isinstance(by_id.response_body, dict):
            return by_id.response_body, by_id
    exchange = client.get("/Groups", params={"filter": f'{want.match_attribute} eq "{want.match_value}"'},
                          subject=want.object_id, purpose="verify")
    found = exchange.response_body.get("Resources") if isinstance(exchange.response_body, dict) else None
    if exchange.status != 200 or not found or not isinstance(found[0], dict):
        return None, exchange
    by_id = client.get(f"/Groups/{found[0].get('id')}", subject=want.object_id, purpose="verify")
    return (by_id.response_body if by_id.status == 200 and isinstance(by_id.response_body, dict) else found[0],
            by_id)


def _compare_members(want: ExpectedGroup, actual: dict, evidence: Exchange, trace: list[Exchange],
                     result: Verification, labels: dict[str, str]) -> None:
    actual_ids = {m.get("value") for m in actual.get("members") or [] if isinstance(m, dict)}
    if want.judged is not None:
        _compare_judged_members(want, actual, actual_ids, evidence, trace, result, labels)
        return
    result.checked_attributes += 1
    expected_ids = {ids[-1]: member for member in want.member_ids    # a member is a user or a nested group
                    if (ids := _target_ids(member, trace) or _target_ids(member, trace, "/Groups"))}
    missing = sorted(set(expected_ids) - actual_ids)
    extra = sorted(actual_ids - set(expected_ids))
    if missing or extra:
        result.findings.append(Finding(
            want.object_id, want.label, "members",
            f"members differ: missing {missing or 'none'}, unexpected {extra or 'none'}",
            attribute="members", expected=sorted(expected_ids), actual=sorted(i for i in actual_ids if i),
            cause=_last(trace, want.object_id, ("PATCH",)) or _last(trace, want.object_id), evidence=evidence))


def _compare_judged_members(want: ExpectedGroup, actual: dict, actual_ids: set, evidence: Exchange,
                            trace: list[Exchange], result: Verification, labels: dict[str, str]) -> None:
    """One finding per judged user whose membership is wrong, naming the user."""
    for object_id in sorted(want.judged):
        target_ids = set(_target_ids(object_id, trace))
        if not target_ids:
            continue                   # the target never acknowledged the user: the user check reports it
        result.checked_attributes += 1
        should = object_id in want.member_ids
        if bool(target_ids & actual_ids) == should:
            continue
        result.findings.append(Finding(
            object_id, labels.get(object_id, object_id), "membership",
            f"{'not a member' if should else 'still a member'} of group {want.label!r}",
            attribute="members", expected=should, actual=not should,
            cause=next((e for e in reversed(trace) if e.subject == object_id and e.method == "PATCH"
                        and e.path == f"/Groups/{actual.get('id')}"), None) or _last(trace, object_id),
            evidence=evidence))


def _target_ids(object_id: str, trace: list[Exchange], endpoint: str = "/Users") -> list[str]:
    """Ids the target itself gave this object: in a 201 to its POST or in a match/read answer."""
    ids: list[str] = []
    for exchange in trace:
        if exchange.subject != object_id or not exchange.ok or not isinstance(exchange.response_body, dict) \
                or not exchange.path.startswith(endpoint):
            continue
        body = exchange.response_body
        found = [r.get("id") for r in body.get("Resources") or [] if isinstance(r, dict)] \
            if "Resources" in body else [body.get("id")]
        ids += [i for i in found if isinstance(i, str) and i and i not in ids]
    return ids


def _last(trace: list[Exchange], object_id: str, methods: tuple[str, ...] | None = None) -> Exchange | None:
    return next((e for e in reversed(trace)
                 if e.subject == object_id and (methods is None or e.method in methods)), None)


def _last_writing(trace: list[Exchange], object_id: str, path: str) -> Exchange | None:
    """The latest write of this object whose body carried `path` (a PATCH op on it, or the create body)."""
    for exchange in reversed(trace):
        if exchange.subject != object_id or exchange.method not in ("POST", "PATCH", "PUT"):
            continue
        body = exchange.request_body if isinstance(exchange.request_body, dict) else {}
        if exchange.method == "PATCH":
            ops = body.get("Operations") or []
            if any(isinstance(op, dict) and str(op.get("path", "")).lower() == path.lower() for op in ops):
                return exchange
        elif read_path(body, path) is not None:
            return exchange
    return None
