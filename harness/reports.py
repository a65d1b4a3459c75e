"""Reports of a simulation run; for now the console summary a human reads after `scimharness simulate`.
Requests by method and status, objects per action, provisioning failures and verification findings with causes."""
from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from harness.transport import Exchange

if TYPE_CHECKING:
    from harness.simulate import SimulationRun

BODY_LIMIT = 600


def _body(body: Any) -> str:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + f"… ({len(text)} chars)"


def describe_exchange(exchange: Exchange, indent: str) -> list[str]:
    lines = [f"{indent}{exchange.method} {exchange.path}"]
    if exchange.request_body is not None:
        lines.append(f"{indent}  {_body(exchange.request_body)}")
    if exchange.status is None:
        lines.append(f"{indent}→ no response: {exchange.error}")
    else:
        response = "" if exchange.response_body in (None, "") else " " + _body(exchange.response_body)
        lines.append(f"{indent}→ {exchange.status}{response}")
    return lines


def requests_by_method_and_status(trace: list[Exchange]) -> list[tuple[str, str, int]]:
    order = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
    counts = Counter((e.method, "—" if e.status is None else str(e.status)) for e in trace)
    return [(m, s, n) for (m, s), n in sorted(counts.items(), key=lambda kv: (order.get(kv[0][0], 9), kv[0][1]))]


def console_summary(run: "SimulationRun") -> str:
    d = run.directory
    users = list(d.users.values())
    in_scope = sum(d.in_scope(u.object_id) for u in users)
    lines = [f"scimharness simulate: {run.profile.title} → {run.target}",
             f"Directory (seed {run.seed}): {len(users) + len(d.deleted_users)} users "
             f"({in_scope} assigned, {sum(not u.account_enabled for u in users)} disabled, "
             f"{len(d.deleted_users)} hard-deleted), {len(d.groups)} groups",
             ""]
    probe = run.test_connection
    if probe is not None:
        state = "OK" if probe.ok else f"FAILED ({probe.error_code})"
        lines.append(f"Test Connection: {state}: {probe.message}")
        if probe.exchange is not None:
            lines += describe_exchange(probe.exchange, "  ")
    for number, cycle in enumerate(run.cycles, 1):
        if number == 2 and run.changes:
            lines.append("Directory changes: " + "; ".join(c.description for c in run.changes))
        lines.append(f"Cycle {number} ({cycle.kind}): created {len(cycle.created)}, matched {len(cycle.matched)}, "
                     f"updated {len(cycle.updated)}, disabled {len(cycle.disabled)}, deleted {len(cycle.deleted)}, "
                     f"skipped {len(cycle.skipped)}, failed {len(cycle.failures)}"
                     + (f"; ABORTED: {cycle.aborted}" if cycle.aborted else ""))

    trace = run.profile.trace
    lines += ["", f"Requests sent by the IdP: {len(trace)}"]
    for method, status, count in requests_by_method_and_status(trace):
        lines.append(f"  {method:<7}{status:>4}  × {count}")
    totals = {k: sum(len(getattr(c, k)) for c in run.cycles)
              for k in ("created", "matched", "updated", "disabled", "deleted")}
    lines.append("Objects: " + ", ".join(f"{k} {v}" for k, v in totals.items()))

    failures = [f for c in run.cycles for f in c.failures]
    if failures:
        lines += ["", f"Provisioning failures ({len(failures)}), as {run.profile.title} logs them:"]
        for number, failure in enumerate(failures, 1):
            lines.append(f"  {number}. {failure.label}: {failure.action} failed: {failure.error_code}: "
                         f"{failure.message}")
            lines += describe_exchange(failure.exchange, "       ")

    v = run.verification
    lines += ["", f"Verification: {v.checked_users} users, {v.checked_attributes} attribute values compared "
                  f"with the target ({v.reads} reads): "
                  + ("PASSED" if v.ok else f"FAILED ({len(v.findings)} findings)")]
    if v.schemas_note:
        lines.append(f"  note: {v.schemas_note}")
    if v.unsupported:
        lines.append("  not supported by target (not compared): " + ", ".join(sorted(v.unsupported)))
    groups: dict[tuple[str, str], list] = {}
    for finding in v.findings:                       # one block per object: its findings, causes, current state
        groups.setdefault((finding.object_id, finding.label), []).append(finding)
    for number, ((_, label), findings) in enumerate(groups.items(), 1):
        if len(findings) == 1:
            lines.append(f"  {number}. {label}: {findings[0].message}")
        else:
            lines.append(f"  {number}. {label}:")
            lines += [f"     - {f.message}" for f in findings]
        causes = _unique(f.cause for f in findings)
        if causes:
            lines.append("     caused by:")
            for cause in causes:
                lines += describe_exchange(cause, "       ")
        else:
            lines.append("     caused by: no request was sent for this object")
        evidence = [e for e in _unique(f.evidence for f in findings) if e not in causes]
        if evidence:
            lines.append("     target now:")
            for exchange in evidence:
                lines += describe_exchange(exchange, "       ")
    lines.append("")
    return "\n".join(lines)


def _unique(exchanges) -> list[Exchange]:
    seen: list[Exchange] = []
    for exchange in exchanges:
        if exchange is not None and all(exchange is not other for other in seen):
            seen.append(exchange)
    return seen
