"""Judges each verification finding: a server bug (the target is wrong), an expected refusal under the target's
contract (e.g. a primary email change refused with 400 mutability), or a harness limitation (an injected fault...)."""
from __future__ import annotations

from harness.faults import INJECTED_ERROR, INJECTED_HEADER, FaultPlan
from harness.transport import Exchange
from harness.verifier import Finding

SERVER_BUG = "server-bug"
EXPECTED_REFUSAL = "expected-refusal"
HARNESS_LIMITATION = "harness-limitation"
CATEGORIES = (SERVER_BUG, EXPECTED_REFUSAL, HARNESS_LIMITATION)


def injected(exchange: Exchange) -> bool:
    return INJECTED_HEADER in exchange.response_headers or INJECTED_ERROR in (exchange.error or "")


def judge(finding: Finding, idp: str, faults: FaultPlan, unsynced: frozenset[str] = frozenset()) -> Finding:
    """Sets `finding.category` and `finding.reason` from the request that caused it; returns the finding.
    `unsynced`: objects the directory changed after the IdP's last cycle began (the run ended first)."""
    if finding.object_id in unsynced:
        finding.category, finding.reason = HARNESS_LIMITATION, ("changed in the directory after the IdP's last "
                                                                "cycle: the run ended before it was synced")
    else:
        finding.category, finding.reason = _verdict(finding.cause, idp, faults)
    return finding


def _verdict(cause: Exchange | None, idp: str, faults: FaultPlan) -> tuple[str, str]:
    if cause is None:
        return HARNESS_LIMITATION, "the simulated IdP sent no request for this object before the run ended"
    if injected(cause) or (not cause.ok and faults.covered(cause.at, idp)):
        return HARNESS_LIMITATION, ("its last request hit a fault the scenario injected, and the run ended "
                                    "before the IdP retried")
    body = cause.response_body if isinstance(cause.response_body, dict) else {}
    if cause.status == 400 and str(body.get("scimType", "")).lower() == "mutability":
        return EXPECTED_REFUSAL, ("the target's contract refuses this change (400 mutability: "
                                  f"{body.get('detail', 'immutable attribute')}); the IdP shows the object as failed")
    if cause.status == 401:
        return EXPECTED_REFUSAL, "the workspace token was rotated and the IdP still presents the old one"
    return SERVER_BUG, ("the target accepted the request but holds something else" if cause.ok
                        else f"the target answered {cause.status or 'nothing'} to a valid request")
